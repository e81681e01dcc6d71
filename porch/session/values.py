"""What a session value may be: JSON, exactly.

A session value is stored as JSON and read back on a later request, so porch
promises that what goes in comes back equal and of the same type, or the
request fails with ``UnserializableValue`` naming the key. orjson alone does
not keep that promise: it also encodes datetimes, dates, UUIDs, enums,
dataclasses, tuples, NaN (as ``null``) and subclasses of ``str``, ``int``,
``dict`` and ``list``, and each of those comes back as something else on the
next request. So every value is checked here first, by its exact type:

- ``str`` (valid Unicode text: no lone surrogates), ``bool``, ``None``;
- ``int`` within 64 bits, signed (``-2**63`` to ``2**63 - 1``). orjson refuses
  larger ones and Python's ``json`` accepts any size, but the stores' other
  readers (SQLite's JSON functions, Redis scripts, most JSON libraries outside
  Python) hold exactly no more than 64 bits; a larger number belongs in a ``str``;
- ``float`` that is finite: JSON has no NaN or infinity;
- ``list`` and ``dict`` with ``str`` keys, nested at most ``MAX_DEPTH`` deep
  (orjson's own limit, less one; a value that contains itself reaches it too).

The check costs a type comparison per scalar, so it runs on every write.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Mapping
from typing import Any

from ..errors import UnserializableValue

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# The deepest a container may sit in a value (the value itself is at depth 0):
# orjson encodes at most 254 nested containers, and the memory store and the
# size check encode each value inside its entry's dict.
MAX_DEPTH = 252

# The reason a value is refused, relative to where it sits: (path below the key, value, why).
Problem = tuple[str, Any, str]

PLAIN = (dict, list, str, int, float)  # whose subclasses orjson encodes as the base type
ISO_TEXT = "Store value.isoformat() instead, and parse it back when you read it."
SUGGESTIONS: tuple[tuple[type, str, str], ...] = (
    # (type, what orjson would give back, what to store instead)
    (datetime.datetime, "a str", ISO_TEXT),
    (datetime.date, "a str", ISO_TEXT),
    (datetime.time, "a str", ISO_TEXT),
    (uuid.UUID, "a str", "Store str(value) instead."),
    (enum.Enum, "its value", "Store value.value or value.name instead."),
    (tuple, "a list", "Store a list instead."),
)
NOT_ENCODABLE: tuple[tuple[type | tuple[type, ...], str], ...] = (
    ((set, frozenset), "Store a list instead, e.g. sorted(value)."),
    ((bytes, bytearray, memoryview), "Store text instead: value.decode(), or base64 of it."),
    (decimal.Decimal, "Store str(value) instead (exact), or float(value)."),
)
NAMES = {"bytes": "a bytes object", "bytearray": "a bytearray", "memoryview": "a memoryview"}
LONGEST_PATH = 80  # characters of the path shown in a message; .path has all of it


def check_value(name: str, value: Any) -> None:
    """Raise ``UnserializableValue`` unless ``value`` is JSON exactly (see the module docstring)."""
    if not is_json(value, 0):
        problem = json_problem(value, 0)
        if problem is not None:
            raise refusal(name, f"ctx.session[{name!r}]", problem)


def is_json(value: Any, depth: int) -> bool:
    """Whether ``value`` is JSON exactly: the fast yes/no, run on every write.

    ``json_problem`` gives the same answer with the reason and the place; this
    one checks the scalars of a container inline, without a call each, so a
    session of a few hundred values costs microseconds.
    """
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or is_text(key)):
                return False
            kind = type(item)
            if kind is str:
                if item.isascii() or is_text(item):
                    continue
            elif kind is int:
                if INT_MIN <= item <= INT_MAX:
                    continue
            elif kind is float:
                if item - item == 0.0:  # finite: inf - inf and nan - nan are nan
                    continue
            elif kind is bool or item is None:
                continue
            if not is_json(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth > MAX_DEPTH:
            return False
        for item in value:
            kind = type(item)
            if kind is str:
                if item.isascii() or is_text(item):
                    continue
            elif kind is int:
                if INT_MIN <= item <= INT_MAX:
                    continue
            elif kind is float:
                if item - item == 0.0:
                    continue
            elif kind is bool or item is None:
                continue
            if not is_json(item, depth + 1):
                return False
        return True
    return json_problem(value, depth) is None


def check_changes(changes: Mapping[str, Any]) -> None:
    """``check_value`` for every change: called before any write, so a refusal writes nothing."""
    if type(changes) is dict and is_json(changes, -1):  # the values at depth 0, as values
        return
    for name, value in changes.items():
        check_value(name, value)


def refusal(name: str, where: str, problem: Problem) -> UnserializableValue:
    """The error for ``problem``, found in the value at ``where`` (session key ``name``)."""
    path, value, why = problem
    shown = path if len(path) <= LONGEST_PATH else path[: LONGEST_PATH - 3] + "..."
    return UnserializableValue(name, value, path=path, problem=f"{where}{shown} {why}")


def json_problem(value: Any, depth: int) -> Problem | None:
    """Why ``value`` is not JSON exactly, or None when it is. Exact types: no subclasses."""
    kind = type(value)
    if kind is str:
        return None if is_text(value) else ("", value, NOT_TEXT)
    if kind is int:
        return None if INT_MIN <= value <= INT_MAX else ("", value, big_int(value))
    if kind is float:
        return None if math.isfinite(value) else ("", value, not_finite(value))
    if value is None or kind is bool:
        return None
    if kind is list or kind is dict:
        if depth > MAX_DEPTH:
            return ("", value, TOO_DEEP)
        if kind is list:
            return list_problem(value, depth)
        return dict_problem(value, depth)
    return ("", value, not_json(value))


def list_problem(items: list[Any], depth: int) -> Problem | None:
    for index, item in enumerate(items):
        problem = json_problem(item, depth + 1)
        if problem is not None:
            return (f"[{index}]{problem[0]}", problem[1], problem[2])
    return None


def dict_problem(mapping: dict[Any, Any], depth: int) -> Problem | None:
    for key, item in mapping.items():
        if type(key) is not str or not is_text(key):
            return ("", mapping, bad_key(key))
        problem = json_problem(item, depth + 1)
        if problem is not None:
            return (f"[{key!r}]{problem[0]}", problem[1], problem[2])
    return None


def is_user_id(user: Any) -> bool:
    """A plain str, or an int within 64 bits: what ``ctx.session.user`` may be bound to."""
    kind = type(user)
    return (kind is str and is_text(user)) or (kind is int and INT_MIN <= user <= INT_MAX)


def is_text(text: str) -> bool:
    """Encodable as UTF-8: JSON text cannot carry a lone surrogate such as ``'\\ud800'``."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def a(kind: type) -> str:
    """``a datetime``, ``an int``, ``an OrderedDict``, ``a UUID``: the article, then the name."""
    name = kind.__name__
    if name in NAMES:
        return NAMES[name]
    return f"{'an' if name[:1].lower() in 'aeio' else 'a'} {name}"


# --- the reasons, in words ---

NOT_TEXT = (
    "holds a str that is not valid Unicode text (it has a lone surrogate, such as '\\ud800'), "
    "which JSON cannot carry. Decode bytes with errors='replace', or store only the text you need."
)
TOO_DEEP = (
    f"holds containers nested more than {MAX_DEPTH + 1} levels deep (or a list or dict that "
    "contains itself), which JSON encoding refuses. Store a flatter value."
)


def big_int(value: int) -> str:
    return (
        f"holds the int {value}, which is outside the 64-bit range (-2**63 to 2**63-1) that "
        "session values keep exactly: most JSON readers, and the stores' own, round it or "
        "refuse it. Store str(value) instead, and int() it when you read it."
    )


def not_finite(value: float) -> str:
    return (
        f"holds the float {value!r}, which JSON has no number for (it would come back as "
        "None). Store None, or a string, instead."
    )


def bad_key(key: Any) -> str:
    if isinstance(key, str) and type(key) is str:
        return (
            f"is a dict with the key {key!r}, which is not valid Unicode text (a lone "
            "surrogate), so JSON cannot carry it."
        )
    return (
        f"is a dict with the key {key!r} ({a(type(key))}): JSON object keys are plain "
        f"strings, so it would come back as {str(key)!r}. Use str keys."
    )


def not_json(value: Any) -> str:
    kind = type(value)
    for base in PLAIN:
        if isinstance(value, base) and not isinstance(value, enum.Enum | bool):
            return (
                f"holds {a(kind)}, a subclass of {base.__name__}, which JSON would give back "
                f"as a plain {base.__name__} on the next request. Store {base.__name__}(value) "
                "instead."
            )
    if dataclasses.is_dataclass(value):
        return (
            f"holds {a(kind)} (a dataclass), which JSON would give back as a dict on the "
            "next request. Store dataclasses.asdict(value), or better its id."
        )
    for suggested, comes_back_as, instead in SUGGESTIONS:
        if isinstance(value, suggested):
            return (
                f"holds {a(kind)}, which is not JSON: it would come back as {comes_back_as} "
                f"on the next request. {instead}"
            )
    for refused, instead in NOT_ENCODABLE:
        if isinstance(value, refused):
            return f"holds {a(kind)}, which is not JSON. {instead}"
    return (
        f"holds {a(kind)}, which is not JSON. Store plain dicts, lists, strings, numbers, "
        "booleans or None: an id, for example, instead of an object."
    )
