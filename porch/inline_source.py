"""The syntax tree of a handler, proven to be the code that runs.

porch/inline.py decides from a handler's syntax tree whether it may run on the
event loop. Reading the tree rather than the bytecode keeps the decision the
same on every supported Python: bytecode changes its instructions from one
version to the next (3.13 fuses loads, splits calls), the tree of these
constructs does not.

Source text can disagree with the running code (a file edited after import, a
function built by ``exec``), so the tree is only used once it is proven to be
the code: it is compiled again, on this Python, and the result must equal the
function's code object (instructions, names, constants, exception table). A
function whose source cannot be found, parsed or matched gets None: the caller
then runs it in a worker thread.
"""

from __future__ import annotations
import __future__

import ast
import copy
import linecache
import textwrap
from collections.abc import Iterator
from types import CodeType, FunctionType

# The compiler flags a function's code carries from its module's __future__ imports.
FUTURE_FLAGS = (
    __future__.annotations.compiler_flag
    | __future__.generator_stop.compiler_flag
    | __future__.barry_as_FLUFL.compiler_flag
)

Handler = ast.FunctionDef | ast.Lambda


def handler_trees(function: FunctionType) -> list[Handler]:
    """The ``def`` node, or the lambdas, on the lines that ``function``'s code comes from."""
    code = function.__code__
    lines = linecache.getlines(code.co_filename, function.__globals__)
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=None)
    if not lines or last is None or last < code.co_firstlineno:
        return []
    return list(candidates(code, lines, last))


def candidates(code: CodeType, lines: list[str], last: int) -> Iterator[Handler]:
    """Nodes that may be the function: a def spanning its lines, or each lambda on them."""
    text = "".join(lines[code.co_firstlineno - 1 : last])
    if code.co_name == "<lambda>":
        yield from lambdas(text)
        return
    try:
        module = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return
    first = module.body[0] if module.body else None
    if isinstance(first, ast.FunctionDef) and first.name == code.co_name:
        yield first


def lambdas(text: str) -> Iterator[ast.Lambda]:
    """Every lambda in ``text``, which may start or end inside a larger expression.

    The lines are tried as they are, then wrapped in parentheses (a lambda on
    the continuation lines of a call), then cut short line by line.
    """
    stripped = text.strip()
    attempts = [stripped, f"(\n{stripped}\n)"]
    for cut in range(1, len(stripped)):
        if stripped[-cut] in ",)]}":
            attempts.append(f"(\n{stripped[:-cut]}\n)")
    for attempt in attempts:
        try:
            tree = ast.parse(attempt)
        except SyntaxError:
            continue
        found = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)]
        if found:
            yield from found
            return


def compiles_to(node: Handler, code: CodeType) -> bool:
    """Whether compiling ``node`` on this Python gives ``code`` (line numbers aside)."""
    tree: ast.Module | ast.Expression
    if isinstance(node, ast.FunctionDef):
        # Decorators and annotations run in the enclosing scope, not in the code compared.
        bare = copy.copy(node)
        bare.decorator_list = []
        bare.returns = None
        tree = ast.Module(body=[bare], type_ignores=[])
        mode = "exec"
    else:
        tree = ast.Expression(body=node)
        mode = "eval"
    ast.fix_missing_locations(tree)
    flags = code.co_flags & FUTURE_FLAGS
    try:
        outer = compile(tree, code.co_filename, mode, flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return False
    inner = next((c for c in outer.co_consts if isinstance(c, CodeType)), None)
    return inner is not None and same_code(inner, code)


def same_code(one: CodeType, other: CodeType) -> bool:
    def shape(code: CodeType) -> tuple[object, ...]:
        constants = tuple((type(value), value) for value in code.co_consts)
        return (
            code.co_code,
            code.co_names,
            code.co_varnames,
            code.co_argcount,
            code.co_exceptiontable,
            constants,
        )

    return shape(one) == shape(other)
