"""A concurrent regenerate is not a logout: every store, both servers, over HTTP.

Two requests of one browser that both hold the old id, where one of them
changes the session's id (``regenerate()``) or ends it (``destroy()``,
``destroy_user()``): what each response does to the cookie, what the browser
ends up holding, and whose writes the session keeps. The races are made
deterministic with gates in the handlers: each request loads the session, says
so, and finishes only when the test lets it.

The double-submitted login form is the case that matters most: the first
request to finish moves the session and sends the new cookie; the second
finds the session moved (``Store.tells_already_moved``) and must neither log
the browser out (expire the cookie) nor learn the new id, nor write into the
moved session (the old id may be one an attacker planted).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.stores import Store
from porch.testing import AsyncApi, Response

pytestmark = pytest.mark.usefixtures("each_server")

SECRET = "s" * 40
LOST_RACE = "regenerate lost a race"


class Gates:
    """Per request tag: ``loaded`` (it has its session) and ``go`` (it may finish)."""

    def __init__(self) -> None:
        self.loaded: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.go: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def hold(self, ctx: Context, tag: str) -> None:
        ctx.session.get("anything")  # the session is loaded now, with the id of this moment
        self.loaded[tag].set()
        await self.go[tag].wait()

    async def start(self, api: AsyncApi, url: str, tag: str, **kwargs: Any) -> asyncio.Task[Any]:
        """Send a request and wait until it has loaded its session."""
        task = asyncio.create_task(api.get(url, **kwargs))
        await self.loaded[tag].wait()
        return task

    async def finish(self, task: asyncio.Task[Any], tag: str) -> Response:
        self.go[tag].set()
        response: Response = await task
        return response


def app(gates: Gates) -> list[Any]:
    @get("/visit")
    def visit(ctx: Context) -> str:
        ctx.session["visited"] = True  # the pre-login session a login form page makes
        return "hi"

    @get("/login/:user/:tag")
    async def login(ctx: Context) -> str:
        tag = ctx.params["tag"]
        await gates.hold(ctx, tag)
        ctx.session.regenerate()
        ctx.session.user = ctx.params["user"]
        ctx.session["by"] = tag
        return "in"

    @get("/save/:tag")
    async def save(ctx: Context) -> str:
        tag = ctx.params["tag"]
        await gates.hold(ctx, tag)
        ctx.session["cart"] = tag
        return "saved"

    @get("/whoami")
    def whoami(ctx: Context) -> dict[str, Any]:
        session = ctx.session
        return {"user": session.user, "by": session.get("by"), "cart": session.get("cart")}

    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        return "out"

    @get("/everywhere")
    async def everywhere(ctx: Context) -> dict[str, int]:
        assert ctx.store is not None
        return {"ended": await ctx.store.destroy_user(ctx.session.user)}

    return [visit, login, save, whoami, logout, everywhere]


def options(store: Store) -> dict[str, Any]:
    return {"session": {"store": store}, "security": {"csrf": False}, "secret": SECRET}


def with_cookie(cookie: str) -> dict[str, Any]:
    """Request arguments that send this session cookie, whatever the client's jar holds."""
    return {"headers": {"cookie": f"session={cookie}"}}


def sets_no_cookie(response: Response) -> bool:
    return "set-cookie" not in response.headers


def expires_the_cookie(response: Response) -> bool:
    cookies = response.headers.get_list("set-cookie")
    return len(cookies) == 1 and cookies[0].startswith("session=;") and "Max-Age=0" in cookies[0]


async def test_a_double_submitted_login_leaves_the_browser_logged_in(
    each_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The browser gets the winner's response first; the loser's must not log it out."""
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        first = await gates.start(browser, "/login/ada/first", "first")
        second = await gates.start(browser, "/login/ada/second", "second")
        with caplog.at_level(logging.WARNING, logger="porch.session"):
            winner = await gates.finish(first, "first")
            new_cookie = winner.cookies["session"]
            loser = await gates.finish(second, "second")
        assert loser.status == 200
        assert sets_no_cookie(loser)  # neither expired nor a cookie of its own
        assert browser.cookies["session"] == new_cookie
        assert (await browser.get("/whoami")).body == {"user": "ada", "by": "first", "cart": None}
        assert len(await each_store.sessions_of("ada")) == 1
        assert LOST_RACE in caplog.text  # the loser's writes were not saved, and it says so


async def test_three_submits_leave_the_browser_with_the_first_to_finish(
    each_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        tasks = {tag: await gates.start(browser, f"/login/ada/{tag}", tag) for tag in "abc"}
        with caplog.at_level(logging.WARNING, logger="porch.session"):
            winner = await gates.finish(tasks["b"], "b")
            losers = [await gates.finish(tasks[tag], tag) for tag in "ac"]
        assert [sets_no_cookie(loser) for loser in losers] == [True, True]
        assert browser.cookies["session"] == winner.cookies["session"]
        assert (await browser.get("/whoami")).body == {"user": "ada", "by": "b", "cart": None}
        assert len(await each_store.sessions_of("ada")) == 1
        assert caplog.text.count(LOST_RACE) == 2


async def test_a_request_with_a_planted_id_neither_learns_nor_writes_the_moved_session(
    each_store: Store,
) -> None:
    """An attacker planted their own pre-login id in the victim's browser and races the
    victim's login with a request of their own that carries it (and regenerates): the
    victim's login wins; the attacker's response says nothing of the new id, and the
    victim's session holds nothing the attacker's request wrote."""
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as api:
        await api.get("/visit")  # the attacker's own pre-login session
        planted = with_cookie(api.cookies["session"])
        logging_in = await gates.start(api, "/login/ada/victim", "victim", **planted)
        racing = await gates.start(api, "/login/mallory/attacker", "attacker", **planted)
        victims_cookie = (await gates.finish(logging_in, "victim")).cookies["session"]
        raced = await gates.finish(racing, "attacker")
        assert sets_no_cookie(raced)
        assert victims_cookie not in str(raced.raw.headers) + raced.raw.text
        mine = await api.get("/whoami", **with_cookie(victims_cookie))
        assert mine.body == {"user": "ada", "by": "victim", "cart": None}
        assert (await api.get("/whoami", **planted)).body == {
            "user": None,
            "by": None,
            "cart": None,
        }
        assert await each_store.sessions_of("mallory") == []


async def test_a_save_with_the_old_id_that_lands_after_the_move_is_not_merged(
    each_store: Store,
) -> None:
    """Another tab saved with the old id, which a login moved meanwhile: that save is
    dropped (never written into the moved session), and its response keeps the cookie."""
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        saving = await gates.start(browser, "/save/tab", "tab")
        logging_in = await gates.start(browser, "/login/ada/login", "login")
        new_cookie = (await gates.finish(logging_in, "login")).cookies["session"]
        saved = await gates.finish(saving, "tab")
        assert saved.status == 200
        assert sets_no_cookie(saved)
        assert browser.cookies["session"] == new_cookie
        assert (await browser.get("/whoami")).body == {"user": "ada", "by": "login", "cart": None}


async def test_a_logout_between_the_winner_and_the_loser_stays_a_logout(
    each_store: Store,
) -> None:
    """The logout carries the old id and follows the move; the losing login then finds the
    session ended, not moved, and its response expires the cookie."""
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        old_cookie = browser.cookies["session"]
        first = await gates.start(browser, "/login/ada/first", "first")
        second = await gates.start(browser, "/login/ada/second", "second")
        new_cookie = (await gates.finish(first, "first")).cookies["session"]
        assert expires_the_cookie(await browser.get("/logout", **with_cookie(old_cookie)))
        loser = await gates.finish(second, "second")
        assert expires_the_cookie(loser)
        assert (await browser.get("/whoami", **with_cookie(new_cookie))).body["user"] is None
        assert await each_store.sessions_of("ada") == []


async def test_a_losing_login_after_log_out_everywhere_revives_nothing(
    each_store: Store,
) -> None:
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        first = await gates.start(browser, "/login/ada/first", "first")
        second = await gates.start(browser, "/login/ada/second", "second")
        await gates.finish(first, "first")
        assert (await browser.get("/everywhere")).body == {"ended": 1}
        loser = await gates.finish(second, "second")
        assert loser.cookies.get("session", "") == ""  # no live cookie of any session
        assert (await browser.get("/whoami")).body["user"] is None
        assert await each_store.sessions_of("ada") == []


async def test_a_save_that_lands_after_a_logout_is_dropped(each_store: Store) -> None:
    """Destroy vs save: the logout's response expires the cookie; the slower save brings
    nothing back and sets no cookie."""
    gates = Gates()
    async with run(*app(gates), **options(each_store)) as browser:
        await browser.get("/visit")
        saving = await gates.start(browser, "/save/tab", "tab")
        assert expires_the_cookie(await browser.get("/logout"))
        saved = await gates.finish(saving, "tab")
        assert sets_no_cookie(saved)
        assert "session" not in browser.cookies
        assert await each_store.count() == 0
