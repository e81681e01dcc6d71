"""The rule of porch/inline.py as data: what a handler on the loop may reach and call.

Each table below is one clause of the rule stated in porch/inline.py; the
walker in porch/inline_check.py applies them. A name listed here is one whose
code porch knows: Python's own or porch's, in memory, and bounded by the size
of the values it is given.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TypeAlias

Kinds: TypeAlias = frozenset[str]
# What porch knows of a value: "num" (int, float, bool), "data" (any value of the
# request or session: str, int, float, bool, None, list, dict, bytes; also tuples
# and sets a handler builds), or one of porch's objects.
NUM: Kinds = frozenset({"num"})
DATA: Kinds = frozenset({"data"})
SESSION: Kinds = frozenset({"session"})
HEADERS: Kinds = frozenset({"headers"})
REPLY: Kinds = frozenset({"reply"})
EXCEPTION: Kinds = frozenset({"exception"})
# Values that may be stored in a container or the session, or passed to a call:
# any of their methods that porch allows is in memory and bounded. A reply is
# not (it can render), nor an exception (porch does not list its methods).
STORABLE = frozenset({"num", "data", "session", "headers"})

# What ctx.<name> holds, for the names a handler on the loop may read.
READS: Mapping[str, Kinds] = {
    "session": SESSION,
    "params": DATA,
    "query": DATA,
    "cookies": DATA,
    "data": DATA,
    "headers": HEADERS,
    "method": DATA,
    "path": DATA,
    "url": DATA,
    "ip": DATA,
    "secure": NUM,
    "csrf": DATA,
}
CTX_METHODS: Mapping[str, Kinds] = {"has_form": NUM}

DATA_TYPES: tuple[type, ...] = (
    str, bytes, int, float, bool, type(None), list, dict, tuple, set, frozenset,
)  # fmt: skip
STRING_METHODS = frozenset(
    {
        "lower", "upper", "casefold", "title", "capitalize", "swapcase",
        "strip", "lstrip", "rstrip", "startswith", "endswith", "removeprefix",
        "removesuffix", "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum",
        "isspace", "islower", "isupper", "split", "rsplit", "splitlines",
        "partition", "rpartition", "find", "rfind", "index", "rindex", "count",
        "encode", "decode",
    }
)  # fmt: skip
# Methods whose arguments must be literals: a stripped set of characters from the
# request costs len(value) * len(chars); an encoding name from it imports a codec.
LITERAL_ARGUMENTS = frozenset({"strip", "lstrip", "rstrip", "encode", "decode"})
METHODS: Mapping[type | str, frozenset[str]] = {
    str: STRING_METHODS,
    bytes: STRING_METHODS,
    dict: frozenset(
        {"get", "keys", "values", "items", "copy", "pop", "setdefault", "update", "clear"}
    ),
    list: frozenset(
        {"append", "extend", "insert", "pop", "remove", "index", "count", "copy", "clear"}
    ),
    tuple: frozenset({"index", "count"}),
    set: frozenset({"add", "discard", "remove", "pop", "copy", "clear", "update"}),
    frozenset: frozenset({"copy"}),
    "session": frozenset(
        {
            "get",
            "pop",
            "setdefault",
            "keys",
            "values",
            "items",
            "regenerate",
            "destroy",
            "flash",
            "flashes",
        }
    ),
    "headers": frozenset({"get", "getlist", "keys", "values", "items"}),
    "reply": frozenset({"status", "send", "json", "redirect", "cookie", "header", "content_type"}),
}
SESSION_ATTRIBUTES = frozenset({"user", "is_new"})

SAFE_BUILTINS = frozenset(
    {
        "len", "int", "float", "bool", "str", "repr", "abs", "min", "max", "isinstance",
        "dict", "list", "tuple", "set", "frozenset", "round",
    }
)  # fmt: skip
# Builtins whose arguments from this position on must be literals: round's
# ndigits (round(5, -10**8) computes a huge power of ten) and str's encoding
# (str(value, name) imports the codec the name says).
LITERAL_FROM: Mapping[str, int] = {"round": 1, "str": 1}
NUMBER_BUILTINS = frozenset({"len", "int", "float", "bool", "abs", "round", "isinstance"})
REPLY_HELPERS = ("status", "send", "json", "redirect", "cookie", "header", "content_type")


def callables() -> Mapping[int, tuple[str, Kinds]]:
    """id -> (what it is, what calling it gives) for every global a handler may call."""
    from . import errors, reply

    found: dict[int, tuple[str, Kinds]] = {}
    for name in SAFE_BUILTINS:
        kinds = NUM if name in NUMBER_BUILTINS else DATA
        found[id(getattr(builtins, name))] = (name, kinds)
    for value in vars(builtins).values():
        if isinstance(value, type) and issubclass(value, BaseException):
            found[id(value)] = ("exception", EXCEPTION)
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.HTTPError):
            found[id(value)] = ("exception", EXCEPTION)
    for name in REPLY_HELPERS:
        found[id(getattr(reply, name))] = ("reply", REPLY)
    return found


def method_allowed(kinds: Kinds, method: str) -> bool:
    """Whether ``value.method()`` runs only listed, bounded code, whatever kind the value is."""
    for kind in kinds:
        if kind in ("num", "data"):
            for data_type in DATA_TYPES:
                if hasattr(data_type, method) and method not in METHODS.get(data_type, ()):
                    return False
        elif method not in METHODS.get(kind, ()):
            return False
    return True
