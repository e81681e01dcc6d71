"""Which sync handlers may run on the event loop: those porch can prove cannot wait.

Where each handler runs:

- ``async def``: on the event loop; its reply is built there too.
- ``def`` inside the rule below: on the event loop, called directly (no thread
  hop); its reply, which the rule keeps to plain values, is built there too.
- any other ``def``: in a worker thread, and its reply is built in that thread
  as well (porch/step.py, ``Step.respond``), so a template it renders or a
  file it sends never touches the loop.

A thread hop costs a hand-off and a GIL hand-back on every request, which for
a handler like the README counter is most of the time it takes. So when the
app is built, once per handler, porch reads the function's syntax tree
(proven to be the running code: porch/inline_source.py) and runs it on the
loop only when every step of it is in the small language below (applied by
porch/inline_check.py, with its tables in porch/inline_rule.py). Two things
make a step safe: it runs only porch's or Python's own code, in memory (never
an object of the app's, whose methods may do I/O), and its cost is bounded by
the size of the request and the session times constants written in the
handler (never by a number the request chooses, as ``'x' * n`` would be).

What may be reached:

- ``ctx.session``, ``ctx.params``, ``ctx.query``, ``ctx.cookies``,
  ``ctx.data``, ``ctx.headers``, ``ctx.method``, ``ctx.path``, ``ctx.url``,
  ``ctx.ip``, ``ctx.secure``, ``ctx.csrf`` and ``ctx.has_form()``;
  ``ctx.session.user`` and ``ctx.session.is_new``. These hold porch's own
  objects and the request's and session's values: str, int, float, bool,
  None, list, dict (bytes for a body that is not UTF-8).
- never ``ctx.scope``, ``ctx.options``, ``ctx.error``, ``ctx.app``,
  ``ctx.store``, ``ctx.log``, ``ctx.files``, ``ctx.request``, an attribute the
  app set on ``ctx``, nor ``ctx`` itself as a value: they lead to the app's
  objects (a database in the scope, the app's store in the options, the app's
  exception in the error).
- the handler's own local variables, and literals.

What may be called (global names are resolved when the app is built):

- the builtins ``len``, ``int``, ``float``, ``bool``, ``str`` (with a literal
  encoding, if any), ``repr``,
  ``abs``, ``min``, ``max``, ``isinstance`` (against built-in classes),
  ``dict``, ``list``, ``tuple``, ``set``, ``frozenset``, ``round`` (with a
  literal ``ndigits``), and the built-in exception classes;
- porch's reply helpers that only build a value (``status``, ``send``,
  ``json``, ``redirect``, ``cookie``, ``header``, ``content_type``, and the
  same methods on a reply) and porch's ``HTTPError`` classes. Not ``render``,
  ``file`` or ``download``: they read files and run templates;
- the session's ``get``, ``pop``, ``setdefault``, ``keys``, ``values``,
  ``items``, ``regenerate``, ``destroy``, ``flash``, ``flashes``; the
  headers' ``get``, ``getlist``, ``keys``, ``values``, ``items``;
- on a value of the request or session, a method that, on every built-in
  value type, is either listed in ``METHODS`` or absent (then the call is an
  ``AttributeError``, raised at once): the in-memory methods of dict, list and
  set, and str's ``lower``, ``strip``, ``split``, ``startswith``, ``find``...
  The strip methods, ``encode`` and ``decode`` take literal arguments only (a
  set of characters from the request costs ``len(value) * len(chars)``; an
  encoding name from it imports a codec).

Values: a reply or an exception may be returned, raised or called a listed
method on, but not put in a container, the session or a call's arguments
(where porch would lose track of what it is). Calls take no ``*args`` or
``**kwargs``.

Operators: ``*`` only between numbers or with an integer literal on one side;
``**`` and ``<<`` only with an integer literal on the right; ``%`` only with
a number or a str literal without ``*`` on the left (``'%*d'`` takes its
width from the request); ``@`` never; the others always (comparisons, ``+``,
``-``, ``/``, ``//``, ``&``, ``|``, ``^``, ``>>``, ``not``, ``and``, ``or``,
indexing, slicing: their cost is linear in their operands). f-strings with
literal format specs.

Statements: assignments, ``if``, ``try``/``except`` (of built-in or porch
exception classes), ``raise``, ``return``, ``assert``, ``del``, ``pass``. No
loop or comprehension, so the handler's length bounds how many steps run; no
``import``, ``with``, ``global``, nested function or lambda, ``await``-like
step.

Anything else runs in a worker thread: the check errs one way only, and a
function it cannot read (no source, or source that is not the running code)
runs in a thread too. The rule trusts what porch put in its own views: a
middleware that replaces ``ctx.data`` or stores its objects in
``ctx.session`` or ``ctx.query`` breaks it; such objects belong in
``ctx.scope`` or an attribute of the app's own on ``ctx``, and a handler that
reads those always runs in a thread.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from collections.abc import Callable, Mapping
from types import FunctionType, ModuleType
from typing import Any

from .inline_check import Check, Threaded
from .inline_source import compiles_to, handler_trees

# A generator, coroutine or *args/**kwargs function is never run on the loop.
UNSUPPORTED_FLAGS = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_VARARGS
    | inspect.CO_VARKEYWORDS
)


def why_threaded(function: Callable[..., Any]) -> str | None:
    """None when ``function`` provably never waits (so it may run on the loop), else why not."""
    if not inspect.isfunction(function):
        return f"{type(function).__name__} is not a plain function"
    code = function.__code__
    if code.co_flags & UNSUPPORTED_FLAGS:
        return "it is a generator or coroutine function, or takes *args or **kwargs"
    if code.co_argcount != 1 or code.co_kwonlyargcount or code.co_posonlyargcount:
        return "it takes more than ctx"
    if code.co_freevars or code.co_cellvars:
        return "it is a closure"
    trees = handler_trees(function)
    proven = [tree for tree in trees if compiles_to(tree, code)]
    if proven:
        return why_tree_threaded(proven[0], function)
    # The source may compile differently alone: a call on an imported module is
    # compiled knowing the import. Such a call is refused anyway, so a def whose
    # tree is refused is threaded for the tree's reason; one it accepts is not
    # proven to be the code, and is threaded too.
    if len(trees) == 1:
        reason = why_tree_threaded(trees[0], function)
        if reason is not None:
            return reason
    return "porch cannot find its source, or the source is not the code that runs"


def why_tree_threaded(tree: ast.FunctionDef | ast.Lambda, function: FunctionType) -> str | None:
    code = function.__code__
    ctx = code.co_varnames[0]
    local_names = set(code.co_varnames[1:])
    check = Check(ctx, local_names, function.__globals__, builtins_of(function))
    try:
        if isinstance(tree, ast.Lambda):
            check.expr(tree.body)
        else:
            check.statements(tree.body)
    except Threaded as reason:
        return str(reason)
    return None


def builtins_of(function: FunctionType) -> Mapping[str, Any]:
    """The builtins ``function`` resolves names in (its globals' ``__builtins__``)."""
    found = getattr(function, "__builtins__", None)
    if isinstance(found, ModuleType):
        return vars(found)
    return found if isinstance(found, Mapping) else vars(builtins)


def runs_inline(function: Callable[..., Any]) -> bool:
    """Whether a sync handler may run on the event loop (see the module docstring)."""
    return why_threaded(function) is None
