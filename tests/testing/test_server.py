"""run(): every form of DESIGN §1.5, against the real server, leaving nothing behind."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest

from porch import get, run, server
from porch.context import Context
from porch.session.stores import MemoryStore
from porch.testing import AsyncApi, SyncApi

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/text")
def text(ctx: Context) -> str:
    return "plain"


async def test_async_form_serves_and_keeps_cookies() -> None:
    async with run(counter) as api:
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
        assert api.url.startswith("http://127.0.0.1:")


def test_sync_form_with_options() -> None:
    with run(counter, session={"store": "memory://"}) as api:
        assert api.get("/").status == 200
        assert api.get("/").body == {"views": 2}


async def test_alive_runs_the_check_then_stops() -> None:
    seen: list[int] = []

    async def check(api: AsyncApi) -> str:
        seen.append((await api.get("/")).body["views"])
        seen.append((await api.get("/")).body["views"])
        return "checked"

    assert await run(counter).alive(check) == "checked"
    assert seen == [1, 2]


async def test_one_shot_request() -> None:
    response = await run(counter).get("/")
    assert response.status == 200
    assert response.body == {"views": 1}


async def test_run_accepts_an_app_that_server_built() -> None:
    app = server(counter, text, env="test")
    async with run(app) as api:
        assert (await api.get("/text")).body == "plain"
        assert (await api.get("/")).body == {"views": 1}


async def test_response_exposes_status_body_headers_and_cookies() -> None:
    async with run(counter, text) as api:
        response = await api.get("/")
        assert response.status == 200
        assert response.headers["content-type"] == "application/json"
        assert "session" in response.cookies
        text_response = await api.get("/text")
        assert text_response.body == "plain"
        assert text_response.cookies == {}


async def test_middleware_lists_nest() -> None:
    async with run([[text], [counter]]) as api:
        assert (await api.get("/text")).body == "plain"


async def test_a_failing_start_raises_instead_of_hanging() -> None:
    class BrokenStore(MemoryStore):
        async def open(self) -> None:
            raise OSError("disk on fire")

    with pytest.raises(RuntimeError, match="did not start"):
        async with run(counter, session={"store": BrokenStore()}):
            pass


BATCH = 5  # runs of each kind (async and sync) per batch


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def leftover_threads(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before`` and still alive, once idle pool workers have exited."""
    deadline = time.monotonic() + 20  # polling, never a judgement of speed
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return sorted(thread.name for thread in set(threading.enumerate()) - before)


async def a_batch_of_runs(count: int) -> None:
    for number in range(count):
        async with run(text) as api:
            assert (await api.get("/text")).status == 200
        with run(text) as sync_api:
            assert sync_api.get("/text").status == 200, number


async def test_runs_leak_no_threads_sockets_or_ports() -> None:
    """Two equal batches of runs: whatever one run leaked, the second batch would add again.

    The first batch may open what is opened once and kept (a lazily created
    pool); the second must add nothing, so a leak of even one descriptor
    (a socket, a port's listener) per run shows as at least BATCH of them.
    """
    async with run(text) as api:  # warm up lazily created pools before counting
        await api.get("/text")
    with run(text) as sync_api:
        sync_api.get("/text")
    threads, descriptors = set(threading.enumerate()), open_descriptors()
    await a_batch_of_runs(BATCH)
    assert await leftover_threads(threads) == []
    after_one = open_descriptors()
    assert after_one <= descriptors + 2  # allow the odd lazily opened file
    await a_batch_of_runs(BATCH)
    assert await leftover_threads(threads) == []
    assert open_descriptors() <= after_one  # no growth per run


def test_sync_api_type() -> None:
    with run(text) as api:
        assert isinstance(api, SyncApi)


async def test_following_a_redirect_carries_the_cookie_it_set() -> None:
    from porch import post, redirect

    @post("/login")
    def login(ctx: Context) -> Any:
        ctx.session["user"] = "ada"
        return redirect(303, "/me")

    @get("/me")
    def me(ctx: Context) -> Any:
        return {"user": ctx.session.get("user")}

    async with run(login, me, security={"csrf": False}) as api:
        response = await api.post("/login", follow_redirects=True)
        assert response.body == {"user": "ada"}
        assert str(response.raw.request.url).endswith("/me")
    with run(login, me, security={"csrf": False}) as sync_api:
        assert sync_api.post("/login", follow_redirects=True).body == {"user": "ada"}
