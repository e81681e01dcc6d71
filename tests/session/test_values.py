"""Session values are JSON exactly, over the real server on every built-in store.

What a handler puts in comes back on the next request equal and of the same
type, or the request fails with a 500 naming the key, the place inside the
value and its type, and nothing of that request is written. The same holds for
flash messages, ``ctx.session.user`` and sessions written over a socket.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import socketio

from porch import get, run, socket
from porch.context import Context
from porch.errors import UnserializableValue
from porch.session.stores import Store
from porch.session.values import INT_MAX, INT_MIN, MAX_DEPTH, check_value, is_json, json_problem
from porch.socket import SocketContext

TIMEOUT = 10.0


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Shade(enum.StrEnum):
    DARK = "dark"


class Name(str):
    """A str subclass, as ORMs and validation libraries hand out."""


class Count(int):
    pass


@dataclasses.dataclass
class Point:
    x: int
    y: int


def itself() -> list[Any]:
    looped: list[Any] = []
    looped.append(looped)
    return looped


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# Each: what a handler stores, and words the error must contain (the type, in English).
REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "datetime": (lambda: datetime.datetime(2026, 1, 2, 3, 4, 5), "holds a datetime"),
    "aware datetime": (lambda: datetime.datetime.now(datetime.UTC), "holds a datetime"),
    "date": (lambda: datetime.date(2026, 1, 2), "holds a date"),
    "time": (lambda: datetime.time(3, 4), "holds a time"),
    "uuid": (uuid.uuid4, "holds a UUID"),
    "dataclass": (lambda: Point(1, 2), "holds a Point (a dataclass)"),
    "decimal": (lambda: decimal.Decimal("1.10"), "holds a Decimal"),
    "enum": (lambda: Colour.RED, "holds a Colour"),
    "int enum": (lambda: Level.HIGH, "holds a Level"),
    "str enum": (lambda: Shade.DARK, "holds a Shade"),
    "str subclass": (lambda: Name("ada"), "a subclass of str"),
    "int subclass": (lambda: Count(3), "a subclass of int"),
    "ordered dict": (lambda: collections.OrderedDict(a=1), "a subclass of dict"),
    "tuple": (lambda: (1, 2), "holds a tuple"),
    "set": (lambda: {1, 2}, "holds a set"),
    "frozenset": (lambda: frozenset({1}), "holds a frozenset"),
    "bytes": (lambda: b"raw", "holds a bytes object"),
    "nan": (lambda: float("nan"), "the float nan"),
    "infinity": (lambda: float("inf"), "the float inf"),
    "minus infinity": (lambda: float("-inf"), "the float -inf"),
    "int over 64 bits": (lambda: 2**70, "the int 1180591620717411303424"),
    "int just over 64 bits": (lambda: INT_MAX + 1, "outside the 64-bit range"),
    "int just under 64 bits": (lambda: INT_MIN - 1, "outside the 64-bit range"),
    "int dict key": (lambda: {1: "one"}, "with the key 1 (an int)"),
    "none dict key": (lambda: {None: "x"}, "with the key None (a NoneType)"),
    "lone surrogate": (lambda: "caf\ud800", "not valid Unicode text"),
    "object": (object, "holds an object"),
    "contains itself": (itself, "nested more than"),
    "too deep": (lambda: nested(300), "nested more than"),
}

# Each comes back equal and of exactly the same type, nested too.
KEPT: dict[str, Any] = {
    "int max": INT_MAX,
    "int min": INT_MIN,
    "zero": 0,
    "true": True,
    "false": False,
    "none": None,
    "float": 0.1,
    "float that looks whole": 2.0,
    "tiny float": 5e-324,
    "huge float": 1.7976931348623157e308,
    "negative zero": -0.0,
    "text": "héllo 世界 🎉\u2028",
    "list": [1, 2.0, "3", [True, None], {"k": [{}]}],
    "dict": {"a": {"b": {"c": [1, 1.0, False]}}, "": "empty key"},
    "deep": nested(100),  # read() doubles it; the deepest allowed is in test_the_limits...
}


def shape(value: Any) -> Any:
    """``value`` with the exact type of every part spelled out: 1, 1.0 and True differ."""
    if type(value) is list:
        return ["list", [shape(item) for item in value]]
    if type(value) is dict:
        return ["dict", {key: shape(item) for key, item in value.items()}]
    return [type(value).__name__, repr(value)]


@get("/set/:case")
def set_value(ctx: Context) -> dict[str, Any]:
    ctx.session["views"] = 2  # changed in the same request: must not be written either
    ctx.session[ctx.params["case"]] = REFUSED[ctx.params["case"]][0]()
    return {"ok": True}


@get("/start")
def start(ctx: Context) -> dict[str, Any]:
    ctx.session["views"] = 1
    ctx.session["cart"] = ["apple"]
    return {"ok": True}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return {name: shape(ctx.session[name]) for name in ctx.session}


async def test_every_value_that_would_change_type_fails_the_request_naming_key_and_type(
    each_store: Store,
) -> None:
    async with run(start, set_value, read, session={"store": each_store}) as api:
        await api.get("/start")
        before = (await api.get("/read")).body
        for case, (_, words) in REFUSED.items():
            response = await api.get(f"/set/{case}")
            assert response.status == 500, case
            assert f"ctx.session[{case!r}]" in response.text, (case, response.text)
            assert words in response.text, (case, response.text)
            assert (await api.get("/read")).body == before, case  # nothing half-written


@get("/keep")
def keep(ctx: Context) -> dict[str, Any]:
    for name, value in KEPT.items():
        ctx.session[name] = value
    return {"ok": True}


async def test_every_json_value_comes_back_equal_and_of_the_same_type(each_store: Store) -> None:
    async with run(keep, read, session={"store": each_store}) as api:
        assert (await api.get("/keep")).status == 200
        assert (await api.get("/read")).body == {name: shape(value) for name, value in KEPT.items()}


@get("/append-when")
def append_when(ctx: Context) -> dict[str, Any]:
    ctx.session["cart"].append({"added": datetime.date(2026, 1, 2)})
    return {"ok": True}


@get("/append-object")
def append_object(ctx: Context) -> dict[str, Any]:
    ctx.session["cart"].append(object())
    return {"ok": True}


async def test_a_value_changed_in_place_is_checked_too_and_the_error_says_where(
    each_store: Store,
) -> None:
    async with run(start, append_when, append_object, read, session={"store": each_store}) as api:
        await api.get("/start")
        before = (await api.get("/read")).body
        response = await api.get("/append-when")
        assert response.status == 500
        assert "ctx.session['cart'][1]['added'] holds a date" in response.text
        response = await api.get("/append-object")
        assert response.status == 500
        assert "ctx.session['cart'][1] holds an object" in response.text
        assert (await api.get("/read")).body == before


@get("/flash-when")
def flash_when(ctx: Context) -> dict[str, Any]:
    ctx.session.flash(datetime.date(2026, 1, 2))
    return {"ok": True}


@get("/flash-kind")
def flash_kind(ctx: Context) -> dict[str, Any]:
    ctx.session.flash("saved", kind=Shade.DARK)
    return {"ok": True}


@get("/flash-ok")
def flash_ok(ctx: Context) -> dict[str, Any]:
    ctx.session.flash({"text": "saved", "count": 2})
    return {"ok": True}


@get("/flashes")
def flashes(ctx: Context) -> list[Any]:
    return [shape(flash) for flash in ctx.session.flashes()]


async def test_flash_messages_are_json_exactly_too(each_store: Store) -> None:
    app = [start, flash_when, flash_kind, flash_ok, flashes]
    async with run(app, session={"store": each_store}) as api:
        await api.get("/start")
        response = await api.get("/flash-when")
        assert response.status == 500
        assert "ctx.session.flash(message=...) holds a date" in response.text
        response = await api.get("/flash-kind")
        assert response.status == 500
        assert "ctx.session.flash(kind=...) holds a Shade" in response.text
        assert (await api.get("/flashes")).body == []
        await api.get("/flash-ok")
        message = {"text": "saved", "count": 2}
        expected = ["dict", {"message": shape(message), "kind": shape("info")}]
        assert (await api.get("/flashes")).body == [expected]


@get("/user/:case")
def bind_user(ctx: Context) -> dict[str, Any]:
    users: dict[str, Any] = {
        "bool": True,
        "big": 2**64,
        "int enum": Level.HIGH,
        "str subclass": Name("ada"),
        "float": 7.0,
        "surrogate": "ad\udca0",
    }
    ctx.session.user = users[ctx.params["case"]]
    return {"ok": True}


@get("/user-ok")
def user_ok(ctx: Context) -> dict[str, Any]:
    ctx.session.user = INT_MAX
    return {"ok": True}


@get("/whoami")
def whoami(ctx: Context) -> list[str]:
    return shape(ctx.session.user)  # type: ignore[no-any-return]


async def test_the_user_id_is_a_plain_str_or_a_64_bit_int(each_store: Store) -> None:
    async with run(start, bind_user, user_ok, whoami, session={"store": each_store}) as api:
        await api.get("/start")
        for case in ("bool", "big", "int enum", "str subclass", "float", "surrogate"):
            response = await api.get(f"/user/{case}")
            assert response.status == 500, case
            assert "ctx.session.user must be a str or a 64-bit int" in response.text, case
        assert (await api.get("/whoami")).body == ["NoneType", "None"]
        await api.get("/user-ok")
        assert (await api.get("/whoami")).body == ["int", repr(INT_MAX)]
        assert await each_store.destroy_user(INT_MAX) == 1


@get("/key/:case")
def odd_key(ctx: Context) -> dict[str, Any]:
    keys: dict[str, Any] = {"str subclass": Name("name"), "surrogate": "na\ud800me"}
    ctx.session[keys[ctx.params["case"]]] = 1
    return {"ok": True}


async def test_a_session_key_is_a_plain_str(each_store: Store) -> None:
    async with run(start, odd_key, read, session={"store": each_store}) as api:
        await api.get("/start")
        before = (await api.get("/read")).body
        for case in ("str subclass", "surrogate"):
            response = await api.get(f"/key/{case}")
            assert response.status == 500, case
            assert "session keys must be plain str" in response.text, case
        assert (await api.get("/read")).body == before


async def test_production_still_hides_the_message_but_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with run(start, set_value, read, env="production", secret="s" * 40) as api:
        await api.get("/start")
        with caplog.at_level(logging.ERROR):
            response = await api.get("/set/datetime")
        assert response.status == 500 and response.text == "Internal Server Error"
        assert "ctx.session['datetime'] holds a datetime" in caplog.text


# --- sockets: the same session, the same rule ---


@socket("remember-tuple")
async def remember_tuple(ctx: SocketContext) -> str:
    ctx.session["said"] = tuple(ctx.data)
    return "saved"


@socket("append-uuid")
async def append_uuid(ctx: SocketContext) -> str:
    ctx.session["cart"].append(uuid.uuid4())
    return "saved"


@socket("remember")
async def remember(ctx: SocketContext) -> str:
    ctx.session["said"] = ctx.data
    return "saved"


async def test_a_socket_event_cannot_store_what_http_could_not(
    each_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    app = [start, read, remember_tuple, append_uuid, remember]
    async with run(app, session={"store": each_store}, security={"csrf": False}) as api:
        await api.get("/start")
        before = (await api.get("/read")).body
        client = socketio.AsyncClient()
        cookie = f"session={api.cookies['session']}"
        await client.connect(api.url, headers={"Cookie": cookie}, wait_timeout=TIMEOUT)
        try:
            with caplog.at_level(logging.ERROR, logger="porch.socket"):
                assert await client.call("remember-tuple", [1, 2], timeout=TIMEOUT) is None
                assert await client.call("append-uuid", timeout=TIMEOUT) is None
            assert "ctx.session['said'] holds a tuple" in caplog.text
            assert "ctx.session['cart'][1] holds a UUID" in caplog.text
            assert (await api.get("/read")).body == before
            assert await client.call("remember", [1, 2], timeout=TIMEOUT) == "saved"
        finally:
            await client.disconnect()
            await client.shutdown()
        assert (await api.get("/read")).body["said"] == shape([1, 2])


# --- the check itself: where it looks, and how it words what it finds ---


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_error_names_the_key_and_reads_as_english(case: str) -> None:
    make, words = REFUSED[case]
    with pytest.raises(UnserializableValue) as raised:
        check_value("thing", {"inner": [make()]})
    error = raised.value
    assert error.key == "thing"
    message = str(error)
    assert message.startswith("ctx.session['thing']")
    assert words in message
    assert " a int" not in message and " a Enum" not in message and " an UUID" not in message
    if case not in ("int dict key", "none dict key", "contains itself", "too deep"):
        assert error.path == "['inner'][0]"
        assert message.startswith("ctx.session['thing']['inner'][0] ")


def test_a_very_long_path_is_cut_short_in_the_message_but_kept_whole_on_the_error() -> None:
    with pytest.raises(UnserializableValue) as raised:
        check_value("deep", nested(300))
    assert raised.value.path.count("[0]") >= 250
    assert len(str(raised.value)) < 600


def test_the_deepest_value_allowed_is_the_deepest_every_store_can_encode() -> None:
    check_value("deep", nested(MAX_DEPTH))  # MAX_DEPTH + 1 lists, inside the entry's dict
    orjson.dumps({"deep": nested(MAX_DEPTH)})  # as the memory store and entry_size encode it
    with pytest.raises(UnserializableValue):
        check_value("deep", nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("case", sorted(REFUSED) + sorted(KEPT))
def test_the_fast_check_and_the_explaining_one_always_agree(case: str) -> None:
    value = REFUSED[case][0]() if case in REFUSED else KEPT[case]
    for placed in (value, [1, value], {"a": "b", "inner": value}, [{"x": [value]}]):
        assert is_json(placed, 0) is (json_problem(placed, 0) is None) is (case in KEPT), placed
