"""Logout is final against requests already in flight, on every built-in store, over HTTP.

A slow request of a logged-in browser that calls ``regenerate()`` after a
logout (``destroy()`` or ``destroy_user()``) landed must not hand the browser a
cookie for a live, logged-in session.
"""

from __future__ import annotations

import asyncio
from typing import Any

from porch import get, run
from porch.context import Context
from porch.session.stores import Store

SECRET = "s" * 40


@get("/login/:user")
def login(ctx: Context) -> str:
    ctx.session.regenerate()
    ctx.session.user = ctx.params["user"]
    return "in"


@get("/whoami")
def whoami(ctx: Context) -> dict[str, Any]:
    return {"user": ctx.session.user}


@get("/logout")
def logout(ctx: Context) -> str:
    ctx.session.destroy()
    return "out"


@get("/everywhere")
async def everywhere(ctx: Context) -> dict[str, int]:
    assert ctx.store is not None
    return {"ended": await ctx.store.destroy_user(ctx.session.user)}


def slow_regenerate(started: asyncio.Event, go_on: asyncio.Event) -> Any:
    """A page that, once the session is loaded, waits, then regenerates (e.g. step-up login)."""

    @get("/slow")
    async def slow(ctx: Context) -> str:
        ctx.session.get("anything")
        started.set()
        await go_on.wait()
        ctx.session.regenerate()
        ctx.session["elevated"] = True
        return "late"

    return slow


def options(each_store: Store) -> dict[str, Any]:
    return {"session": {"store": each_store}, "security": {"csrf": False}, "secret": SECRET}


async def test_a_slow_regenerate_after_logout_does_not_log_the_browser_back_in(
    each_store: Store,
) -> None:
    started, go_on = asyncio.Event(), asyncio.Event()
    slow = slow_regenerate(started, go_on)
    async with run(login, whoami, logout, slow, **options(each_store)) as api:
        await api.get("/login/ada")
        assert (await api.get("/whoami")).body == {"user": "ada"}
        slow_request = asyncio.create_task(api.get("/slow"))
        await started.wait()
        await api.get("/logout")
        go_on.set()
        late = await slow_request
        assert late.status == 200
        assert late.cookies.get("session", "") == ""  # no live cookie: the old one expires
        assert (await api.get("/whoami")).body == {"user": None}
        assert await each_store.sessions_of("ada") == []


async def test_a_slow_regenerate_after_log_out_everywhere_does_not_survive_it(
    each_store: Store,
) -> None:
    started, go_on = asyncio.Event(), asyncio.Event()
    slow = slow_regenerate(started, go_on)
    async with run(login, whoami, everywhere, slow, **options(each_store)) as laptop:
        await laptop.get("/login/bob")
        slow_request = asyncio.create_task(laptop.get("/slow"))
        await started.wait()
        assert (await laptop.get("/everywhere")).body == {"ended": 1}
        go_on.set()
        late = await slow_request
        assert late.status == 200
        assert (await laptop.get("/whoami")).body == {"user": None}
        assert await each_store.sessions_of("bob") == []
