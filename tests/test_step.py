"""Steps: where each kind of callable runs, and what it takes to call one.

``async`` functions and objects with an ``async __call__`` run on the event
loop; a sync function that might wait runs in a worker thread, so it cannot
stall the requests beside it (which sync functions stay on the loop is
tests/test_inline.py's).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.step import Step


def test_a_step_refuses_what_cannot_be_called_naming_it() -> None:
    with pytest.raises(TypeError, match=r"callable as fn\(ctx\); got 'home' \(str\)"):
        Step("home")  # type: ignore[arg-type]


def test_only_a_handler_proven_not_to_wait_is_called_directly() -> None:
    def plain(ctx: Context) -> str:
        return "hi"

    async def waits(ctx: Context) -> str:
        return "hi"

    def sleeps(ctx: Context) -> str:
        time.sleep(0)
        return "hi"

    assert (Step(plain).direct, Step(plain).inline, Step(plain).is_async) == (True, True, False)
    assert (Step(waits).direct, Step(waits).inline, Step(waits).is_async) == (False, False, True)
    assert (Step(sleeps).direct, Step(sleeps).inline) == (False, False)


async def test_an_object_with_an_async_call_method_is_awaited_on_the_loop() -> None:
    class Counter:
        def __init__(self) -> None:
            self.count = 0

        async def __call__(self, ctx: Context) -> dict[str, Any]:
            self.count += 1
            return {
                "count": self.count,
                "on loop": threading.current_thread() is threading.main_thread(),
            }

    async with run(Counter()) as api:
        first = await api.get("/")
        second = await api.get("/anything")
    assert first.body == {"count": 1, "on loop": True}
    assert second.body == {"count": 2, "on loop": True}


async def test_a_sleeping_sync_handler_does_not_stall_other_requests() -> None:
    slow_started = threading.Event()
    finished: list[str] = []

    def slow(ctx: Context) -> str:
        slow_started.set()
        time.sleep(0.5)
        finished.append("slow")
        return "slow"

    async def fast(ctx: Context) -> str:
        finished.append("fast")
        return "fast"

    async with run(get("/slow", slow), get("/fast", fast)) as api:
        slow_request = asyncio.create_task(api.get("/slow"))
        assert await asyncio.to_thread(slow_started.wait, 10)
        fast_response = await api.get("/fast")
        slow_response = await slow_request
    assert (fast_response.body, slow_response.body) == ("fast", "slow")
    assert finished == ["fast", "slow"]


async def test_a_blocked_sync_handler_lets_the_loop_serve_the_request_that_unblocks_it() -> None:
    release = threading.Event()

    def waits(ctx: Context) -> dict[str, bool]:
        return {"released": release.wait(timeout=10)}

    async def releases(ctx: Context) -> str:
        release.set()
        return "released"

    async with run(get("/wait", waits), get("/release", releases)) as api:
        waiting = asyncio.create_task(api.get("/wait"))
        releasing = await api.get("/release")
        response = await waiting
    assert releasing.body == "released"
    assert response.body == {"released": True}


async def test_async_handlers_run_on_the_event_loop_and_sync_ones_in_a_worker_thread() -> None:
    test_loop = asyncio.get_running_loop()
    seen: dict[str, Any] = {}

    async def on_loop(ctx: Context) -> str:
        seen["async loop"] = asyncio.get_running_loop()
        seen["async thread"] = threading.current_thread()
        return "ok"

    def in_thread(ctx: Context) -> str:
        seen["sync thread"] = threading.current_thread()
        return "ok"

    async with run(get("/async", on_loop), get("/sync", in_thread)) as api:
        await api.get("/async")
        await api.get("/sync")
    assert seen["async loop"] is test_loop
    assert seen["async thread"] is threading.main_thread()
    assert seen["sync thread"] is not threading.main_thread()
