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
function whose source cannot be found, parsed or matched is never proven, and
porch/inline.py runs it in a worker thread.
"""

from __future__ import annotations
import __future__

import ast
import copy
import io
import linecache
import re
import textwrap
import tokenize
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
    """The ``def`` node, or the candidate lambdas, on the lines ``function``'s code comes from."""
    code = function.__code__
    if code.co_filename.startswith("<"):
        # Code typed at the REPL or given to ``python -c``: 3.13 keeps its source in
        # linecache, 3.11 and 3.12 do not. Never reading it keeps every version alike.
        return []
    lines = linecache.getlines(code.co_filename, function.__globals__)
    ends = [(line, column or 0) for _, line, _, column in code.co_positions() if line is not None]
    if not lines or not ends or max(ends)[0] < code.co_firstlineno:
        return []
    if code.co_name == "<lambda>":
        return list(lambdas(lines, code.co_firstlineno, max(ends)))
    text = "".join(lines[code.co_firstlineno - 1 : max(ends)[0]])
    try:
        module = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return []
    first = module.body[0] if module.body else None
    if isinstance(first, ast.FunctionDef) and first.name == code.co_name:
        return [first]
    return []


def lambdas(lines: list[str], first: int, end: tuple[int, int]) -> Iterator[ast.Lambda]:
    """Each ``lambda`` that starts on line ``first``, read up to where its body ends.

    A lambda usually sits inside a larger expression (``get('/', lambda ctx: ...)``),
    so its text is cut out by columns (the code's positions count UTF-8 bytes) and
    the brackets it leaves open are closed before it is parsed.
    """
    start_line = lines[first - 1].encode()
    last_line, last_column = end
    if last_column == 0:  # no column known (3.12 gives none for a constant body)
        last_column = len(lines[last_line - 1].encode())
    for match in re.finditer(rb"\blambda\b", start_line):
        try:
            if last_line == first:
                text = start_line[match.start() : last_column].decode()
            else:
                text = (
                    start_line[match.start() :].decode()
                    + "".join(lines[first : last_line - 1])
                    + lines[last_line - 1].encode()[:last_column].decode()
                )
            text = up_to_its_end(text)
            tree = ast.parse(f"({text}{closers(text)})", mode="eval")
        except (SyntaxError, UnicodeDecodeError):
            continue
        if isinstance(tree.body, ast.Lambda):
            yield tree.body


def up_to_its_end(text: str) -> str:
    """``text`` cut where the lambda it starts with must end: at the first ``,``, ``;``
    or closing bracket outside the brackets it opens (a lambda's body holds none)."""
    depth = 0
    lines = text.splitlines(keepends=True)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.OP:
                continue
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            if depth < 0 or (depth == 0 and token.string in (",", ";")):
                row, column = token.start
                return "".join(lines[: row - 1]) + lines[row - 1][:column]
    except (tokenize.TokenError, SyntaxError):
        pass
    return text


def closers(text: str) -> str:
    """The brackets that close those ``text`` leaves open, innermost first."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.OP and token.string in pairs:
                stack.append(pairs[token.string])
            elif token.type == tokenize.OP and stack and token.string == stack[-1]:
                stack.pop()
    except (tokenize.TokenError, SyntaxError):
        pass  # text ends inside open brackets: the stack holds them
    return "".join(reversed(stack))


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
