"""Logout is final against requests already in flight, on every built-in store, over HTTP.

A slow request of a logged-in browser that calls ``regenerate()`` after a
logout (``destroy()`` or ``destroy_user()``) landed must not hand the browser a
cookie for a live, logged-in session. Nor may a logout that lands just after a
concurrent request of the same browser regenerated: it carries the old id, and
the store follows the move (``Store.destroy_follows_moves``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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


@get("/step-up")
def step_up(ctx: Context) -> str:
    """A privilege change: the session moves to a new id (and a new cookie)."""
    ctx.session.regenerate()
    ctx.session["elevated"] = True
    return "up"


def slow_logout(loaded: asyncio.Event, go_on: asyncio.Event) -> Any:
    """A logout that, once the session is loaded, waits (a slow network, a busy worker)."""

    @get("/slow-logout")
    async def logout_slowly(ctx: Context) -> str:
        ctx.session.get("anything")
        loaded.set()
        await go_on.wait()
        ctx.session.destroy()
        return "out"

    return logout_slowly


def with_cookie(cookie: str) -> dict[str, Any]:
    """Request arguments that send this session cookie, whatever the client's jar holds."""
    return {"headers": {"cookie": f"session={cookie}"}}


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


@pytest.mark.usefixtures("each_server")
async def test_a_logout_that_loaded_before_a_concurrent_regenerate_still_ends_the_session(
    each_store: Store,
) -> None:
    """The logout loads the session, a concurrent step-up moves it to a new id and hands
    the browser the new cookie, then the logout's destroy of the old id lands."""
    loaded, go_on = asyncio.Event(), asyncio.Event()
    async with run(
        login, whoami, step_up, slow_logout(loaded, go_on), **options(each_store)
    ) as api:
        await api.get("/login/ada")
        logging_out = asyncio.create_task(api.get("/slow-logout"))
        await loaded.wait()
        stepped_up = await api.get("/step-up")
        new_cookie = stepped_up.cookies["session"]
        assert (await api.get("/whoami", **with_cookie(new_cookie))).body == {"user": "ada"}
        go_on.set()
        assert (await logging_out).status == 200
        assert (await api.get("/whoami", **with_cookie(new_cookie))).body == {"user": None}
        assert await each_store.sessions_of("ada") == []


@pytest.mark.usefixtures("each_server")
async def test_a_logout_sent_before_a_regenerate_answered_still_ends_the_session(
    each_store: Store,
) -> None:
    """The browser sent the logout with its old cookie before the step-up's response (and
    its new cookie) arrived; the server ran the step-up first. The session the new
    cookie names ends anyway."""
    async with run(login, whoami, logout, step_up, **options(each_store)) as api:
        await api.get("/login/ada")
        old_cookie = api.cookies["session"]
        new_cookie = (await api.get("/step-up")).cookies["session"]
        assert new_cookie != old_cookie
        out = await api.get("/logout", **with_cookie(old_cookie))
        assert out.status == 200
        assert (await api.get("/whoami", **with_cookie(new_cookie))).body == {"user": None}
        assert await each_store.sessions_of("ada") == []
