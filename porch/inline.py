"""Which sync handlers may run on the event loop: those porch can prove cannot wait.

A ``def`` handler normally runs in a worker thread, so a blocking call in it (a
database driver, ``time.sleep``, a file read) cannot stall other requests. The
hop costs a thread hand-off and a GIL hand-back on every request, which for a
handler like the README counter is most of the time it takes.

So at start-up, once per handler, porch reads the function's bytecode and runs
it on the loop only when it can prove the function never waits on anything:

- it is a plain function (or lambda) of one argument, ``ctx``, not a generator
  and not a closure;
- its code only goes forward: no loop, so its length bounds its running time;
- the only names it loads from outside are a fixed list of builtins (``len``,
  ``int``, ``dict``, the built-in exceptions...) and porch's reply helpers
  (``status``, ``json``, ``redirect``...), which only build a value;
- ``ctx`` is only used to read the request and the session: its next step is
  always one of ``READS`` below, never ``ctx.app``, ``ctx.store``, ``ctx.log``,
  ``ctx.files`` or ``ctx`` handed to another function;
- no ``import``, ``with``, ``global``, ``await``-like or unknown instruction.

Anything else (a call to a module, a global object, a helper function, a loop)
runs in a worker thread, as before. The check errs one way only: a function it
cannot read is treated as one that may block. Values reached through ``ctx``
are porch's own objects and plain JSON values, whose methods do not wait.
"""

from __future__ import annotations

import builtins
import dis
import inspect
from collections.abc import Callable
from typing import Any

# What a handler may read off ctx and still run on the loop: the request and the
# session, all held in memory by then (the body is received before the chain runs).
READS = frozenset(
    {
        "session",
        "params",
        "query",
        "data",
        "headers",
        "cookies",
        "method",
        "path",
        "url",
        "ip",
        "secure",
        "csrf",
        "options",
        "error",
        "has_form",
        "scope",
    }
)

# Builtins that build or inspect values and never wait.
SAFE_BUILTINS = frozenset(
    {
        "abs",
        "bool",
        "bytes",
        "dict",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "repr",
        "round",
        "set",
        "str",
        "tuple",
        "None",
        "True",
        "False",
    }
)

# Instructions that compute on values already at hand (3.11 to 3.13 spellings).
# Jumps are allowed only forward (checked separately); anything not listed
# sends the function to a worker thread.
SAFE_OPS = frozenset(
    {
        "RESUME",
        "NOP",
        "CACHE",
        "EXTENDED_ARG",
        "NOT_TAKEN",
        "LOAD_CONST",
        "LOAD_SMALL_INT",
        "RETURN_VALUE",
        "RETURN_CONST",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_BORROW",
        "STORE_FAST",
        "DELETE_FAST",
        "LOAD_ATTR",
        "LOAD_METHOD",
        "STORE_ATTR",
        "LOAD_GLOBAL",
        "BINARY_OP",
        "BINARY_SUBSCR",
        "BINARY_SLICE",
        "STORE_SUBSCR",
        "STORE_SLICE",
        "DELETE_SUBSCR",
        "BUILD_SLICE",
        "COMPARE_OP",
        "IS_OP",
        "CONTAINS_OP",
        "UNARY_NEGATIVE",
        "UNARY_NOT",
        "UNARY_INVERT",
        "TO_BOOL",
        "BUILD_MAP",
        "BUILD_CONST_KEY_MAP",
        "BUILD_LIST",
        "BUILD_TUPLE",
        "BUILD_SET",
        "BUILD_STRING",
        "LIST_EXTEND",
        "LIST_TO_TUPLE",
        "SET_UPDATE",
        "DICT_UPDATE",
        "DICT_MERGE",
        "FORMAT_VALUE",
        "FORMAT_SIMPLE",
        "FORMAT_WITH_SPEC",
        "CONVERT_VALUE",
        "UNPACK_SEQUENCE",
        "PRECALL",
        "CALL",
        "CALL_KW",
        "CALL_FUNCTION_EX",
        "KW_NAMES",
        "PUSH_NULL",
        "POP_TOP",
        "COPY",
        "SWAP",
        "JUMP_FORWARD",
        "POP_JUMP_IF_FALSE",
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_FORWARD_IF_FALSE",
        "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        "JUMP_IF_FALSE_OR_POP",
        "JUMP_IF_TRUE_OR_POP",
        "PUSH_EXC_INFO",
        "POP_EXCEPT",
        "CHECK_EXC_MATCH",
        "RERAISE",
        "RAISE_VARARGS",
    }
)

ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
# A generator, coroutine or *args/**kwargs function is never run on the loop.
UNSUPPORTED_FLAGS = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_VARARGS
    | inspect.CO_VARKEYWORDS
)


def _reply_helpers() -> frozenset[int]:
    from . import reply
    from .errors import HTTPError

    helpers: list[Any] = [
        reply.status,
        reply.send,
        reply.json,
        reply.redirect,
        reply.file,
        reply.download,
        reply.cookie,
        reply.header,
        reply.content_type,
        reply.render,
    ]
    from . import errors

    helpers += [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, HTTPError)
    ]
    return frozenset(id(helper) for helper in helpers)


def _safe_builtins() -> frozenset[int]:
    values = [getattr(builtins, name) for name in SAFE_BUILTINS]
    values += [
        value
        for value in vars(builtins).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    return frozenset(id(value) for value in values)


_SAFE_GLOBALS: frozenset[int] | None = None


def _safe_globals() -> frozenset[int]:
    global _SAFE_GLOBALS
    if _SAFE_GLOBALS is None:
        _SAFE_GLOBALS = _safe_builtins() | _reply_helpers()
    return _SAFE_GLOBALS


def is_jump(instruction: dis.Instruction) -> bool:
    return instruction.opcode in dis.hasjrel or instruction.opcode in dis.hasjabs


def jumps_forward(instruction: dis.Instruction) -> bool:
    target = instruction.argval
    return isinstance(target, int) and target > instruction.offset


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
    ctx = code.co_varnames[0]
    namespace = function.__globals__
    safe = _safe_globals()
    instructions = list(dis.get_instructions(code))
    for index, instruction in enumerate(instructions):
        name = instruction.opname
        if is_jump(instruction) and not jumps_forward(instruction):
            return "it loops"
        if name not in SAFE_OPS:
            return f"it uses {name}"
        if name == "LOAD_GLOBAL":
            global_name = str(instruction.argval)
            value = namespace.get(global_name, getattr(builtins, global_name, None))
            if id(value) not in safe:
                return f"it calls or reads {global_name!r}, which porch cannot vouch for"
        elif name.startswith("LOAD_FAST") and instruction.argval == ctx:
            following = instructions[index + 1] if index + 1 < len(instructions) else None
            if (
                following is None
                or following.opname not in ATTRIBUTE_OPS
                or following.argval not in READS
            ):
                if following is not None and following.opname in ATTRIBUTE_OPS:
                    return f"it uses ctx.{following.argval}, beyond reading the request and session"
                return "it hands ctx itself on"
    return None


def runs_inline(function: Callable[..., Any]) -> bool:
    """Whether a sync handler may run on the event loop (see the module docstring)."""
    return why_threaded(function) is None
