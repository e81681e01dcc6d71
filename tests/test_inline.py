"""Which sync handlers run on the event loop: only those porch proves cannot wait."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from porch import get, json, redirect, run, status
from porch.context import Context
from porch.inline import why_threaded
from porch.router import Step

DATABASE: dict[str, Any] = {}


def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


def login(ctx: Context) -> Any:
    if ctx.data and ctx.data.get("user") == "ada":
        ctx.session.user = "ada"
        ctx.session.regenerate()
        return redirect("/")
    return status(401).send("Who are you?")


def parses(ctx: Context) -> Any:
    try:
        number = int(ctx.query["n"])
    except (KeyError, ValueError):
        return 400
    return json({"double": number * 2, "path": ctx.path, "method": ctx.method})


def sleeps(ctx: Context) -> str:
    time.sleep(0.01)
    return "slept"


def reads_a_global(ctx: Context) -> Any:
    return DATABASE.get("x")


def loops(ctx: Context) -> int:
    total = 0
    for value in ctx.query.values():
        total += len(value)
    return total


def spins(ctx: Context) -> None:
    while ctx.method:
        pass


def uses_the_store(ctx: Context) -> Any:
    return ctx.store


def uses_the_app(ctx: Context) -> Any:
    return ctx.app.options


def hands_ctx_on(ctx: Context) -> Any:
    other = ctx
    return other.app


def prints(ctx: Context) -> str:
    print("hello")
    return "printed"


def imports(ctx: Context) -> str:
    import os

    return os.getcwd()


def extra_argument(ctx: Context, database: Any = DATABASE) -> Any:
    return database


def generator(ctx: Context) -> Any:
    yield "x"


def closure_over(value: str) -> Any:
    def handler(ctx: Context) -> str:
        return value

    return handler


class Callable:
    def __call__(self, ctx: Context) -> str:
        return "object"


@pytest.mark.parametrize(
    "handler",
    [counter, login, parses, lambda ctx: "Hello 世界", lambda ctx: ctx.params["id"]],
)
def test_handlers_that_only_read_the_request_and_session_run_on_the_loop(handler: Any) -> None:
    assert why_threaded(handler) is None
    assert Step(handler).inline


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (sleeps, "'time'"),
        (reads_a_global, "'DATABASE'"),
        (loops, "GET_ITER"),
        (spins, "loop"),
        (uses_the_store, "ctx.store"),
        (uses_the_app, "ctx.app"),
        (hands_ctx_on, "hands ctx itself on"),
        (prints, "'print'"),
        (imports, "IMPORT_NAME"),
        (extra_argument, "more than ctx"),
        (generator, "generator"),
        (closure_over("x"), "closure"),
        (Callable(), "not a plain function"),
        (print, "not a plain function"),
    ],
)
def test_anything_that_might_wait_runs_in_a_worker_thread(handler: Any, reason: str) -> None:
    found = why_threaded(handler)
    assert found is not None and reason in found, found
    assert not Step(handler).inline


def test_async_handlers_are_awaited_not_classified() -> None:
    async def handler(ctx: Context) -> str:
        return "async"

    step = Step(handler)
    assert step.is_async and not step.inline


async def test_an_inline_handler_runs_on_the_loop_thread_and_answers_over_http() -> None:
    """The loop's thread is recorded by an async middleware; the inline handler's result
    proves it ran in the same request, and a sleeping sync handler still runs elsewhere."""
    threads: dict[str, int] = {}

    async def loop_thread(ctx: Context) -> None:
        threads["loop"] = threading.get_ident()

    def record_sleeper_thread(ctx: Context) -> str:
        threads["sleeper"] = threading.get_ident()
        time.sleep(0.01)
        return "slept"

    assert Step(counter).inline and not Step(record_sleeper_thread).inline
    async with run(loop_thread, get("/", counter), get("/sleep", record_sleeper_thread)) as api:
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
        assert (await api.get("/sleep")).body == "slept"
    assert threads["sleeper"] != threads["loop"]


async def test_an_inline_handler_sees_the_same_errors_and_replies_as_a_threaded_one() -> None:
    async with run(get("/double", parses), get("/login", login)) as api:
        assert (await api.get("/double?n=21")).body == {
            "double": 42,
            "path": "/double",
            "method": "GET",
        }
        assert (await api.get("/double?n=x")).status == 400
        refused = await api.get("/login")
        assert (refused.status, refused.body) == (401, "Who are you?")


async def test_a_slow_handler_still_does_not_stall_a_fast_inline_one() -> None:
    started = threading.Event()

    def slow(ctx: Context) -> str:
        started.set()
        time.sleep(0.5)
        return "slow"

    async with run(get("/slow", slow), get("/fast", lambda ctx: "fast")) as api:
        slow_request = asyncio.create_task(api.get("/slow"))
        assert await asyncio.to_thread(started.wait, 10)
        fast = await api.get("/fast")
        assert not slow_request.done()
        assert (await slow_request).body == "slow"
    assert fast.body == "fast"
