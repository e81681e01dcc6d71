"""Messages that point at the user's code: the handler behind an unsendable reply (routes a
module made but never passed to ``server()``: tests/test_unpassed.py)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest

from porch import error, get, run
from porch.context import Context

if TYPE_CHECKING:
    pass
else:  # pytest puts tests/ on sys.path
    pass


# --- a reply porch cannot send names the handler ---


class Point:
    """An object of the user's own, which porch does not know how to send."""


UNSENDABLE: list[tuple[Any, str]] = [
    ({1, 2}, "a set"),
    (datetime.datetime(2024, 1, 2), "a datetime"),
    (("Created", 201), "Flask's (body, status)"),
    (Point(), "a Point"),
    (True, "returned True"),
    ({"tags": {"a"}}, "not JSON serializable: set"),
    ([Point()], "not JSON serializable: Point"),
]


@pytest.mark.parametrize(("value", "says"), UNSENDABLE)
async def test_an_unsendable_reply_names_the_handler_its_module_line_and_route(
    value: Any, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    def profile(ctx: Context) -> Any:
        return value

    line = profile.__code__.co_firstlineno
    async with run(get("/users/:id", profile)) as api:
        response = await api.get("/users/7")
    assert response.status == 500
    named = f"the handler {__name__}.{profile.__qualname__} ("
    for text in (response.text, caplog.text):
        assert named in text
        assert f"test_origin.py:{line}) of GET /users/:id returned a value porch cannot send" in (
            text
        )
        assert says in text


async def test_an_async_handler_a_middleware_and_an_error_handler_are_named_too() -> None:
    async def listing(ctx: Context) -> Any:
        return {1, 2}

    def stamp(ctx: Context) -> Any:
        return datetime.date(2024, 1, 2)

    def boom(ctx: Context) -> Any:
        raise KeyError("x")

    def on_error(ctx: Context) -> Any:
        return ("oops", 500)

    async with run(get("/list", listing)) as api:
        assert "the handler" in (await api.get("/list")).text
        assert "listing" in (await api.get("/list")).text
    async with run(stamp) as api:
        text = (await api.get("/")).text
        assert "the middleware" in text and "stamp" in text and "a date" in text
    async with run(get("/", boom), error(on_error)) as api:
        text = (await api.get("/")).text
        assert "the error handler" in text and "on_error" in text


async def test_a_handler_that_raises_type_error_itself_is_not_restated() -> None:
    """Only what porch could not send is restated; the user's own TypeError stays as it was."""

    def broken(ctx: Context) -> str:
        return "a" + 1  # type: ignore[operator,no-any-return]

    async with run(get("/", broken)) as api:
        text = (await api.get("/")).text
    assert "porch cannot send" not in text
    assert "can only concatenate str" in text
