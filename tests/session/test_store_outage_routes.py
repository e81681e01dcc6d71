"""DESIGN §2: a session load that fails is not an error until a handler touches
``ctx.session``. Routes that never use the session keep answering through a store
outage; routes that do answer 503; nothing is lost when the store comes back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from porch import get, run
from porch.context import Context
from porch.errors import StoreUnavailable

if TYPE_CHECKING:
    from tests.redis_server import RedisServer
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from redis_server import RedisServer

SECRET = "s" * 40


@get("/health")
def health(ctx: Context) -> str:
    return "ok"


@get("/count")
def count(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/who")
def who(ctx: Context) -> dict[str, Any]:
    try:
        return {"user": ctx.session.user}
    except StoreUnavailable:  # this page chooses to degrade to logged-out
        return {"user": None, "degraded": True}


TOUCHES: dict[str, Any] = {
    "read": lambda ctx: ctx.session.get("views"),
    "write": lambda ctx: ctx.session.__setitem__("views", 0),
    "contains": lambda ctx: "views" in ctx.session,
    "length": lambda ctx: len(ctx.session),
    "id": lambda ctx: ctx.session.id,
    "user": lambda ctx: ctx.session.user,
    "regenerate": lambda ctx: ctx.session.regenerate(),
    "destroy": lambda ctx: ctx.session.destroy(),
    "flash": lambda ctx: ctx.session.flash("hi"),
    "csrf": lambda ctx: ctx.csrf,
    "as_dict": lambda ctx: dict(ctx.session),
}


def touching() -> list[Any]:
    routes = []
    for name, touch in TOUCHES.items():

        def handler(ctx: Context, touch: Any = touch) -> str:
            touch(ctx)
            return "touched"

        routes.append(get(f"/touch/{name}", handler))
    return routes


def options(url: str) -> dict[str, Any]:
    return {"session": {"store": url}, "security": {"csrf": False}, "secret": SECRET}


async def test_routes_without_the_session_answer_through_a_redis_outage(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(health, count, who, touching(), **options(redis.url)) as api:
        assert (await api.get("/count")).body == {"views": 1}
        redis.stop()
        with caplog.at_level(logging.ERROR, logger="porch"):
            healthy = await api.get("/health")  # the browser's valid cookie rides along
            assert healthy.status == 200 and healthy.body == "ok"
            assert "set-cookie" not in healthy.headers  # the cookie is kept for later
            assert "vary" not in healthy.headers
            assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
            refused = await api.get("/count")
        assert refused.status == 503
        assert "unreachable" in caplog.text
        redis.start()  # the same port; the session was in memory only, so it starts over
        assert (await api.get("/count")).status == 200


async def test_every_way_of_touching_the_session_is_a_503(redis: RedisServer) -> None:
    async with run(health, count, touching(), **options(redis.url)) as api:
        await api.get("/count")
        redis.stop()
        for name in TOUCHES:
            assert (await api.get(f"/touch/{name}")).status == 503, name
        assert (await api.get("/health")).status == 200


async def test_a_handler_may_catch_the_outage_and_answer(redis: RedisServer) -> None:
    async with run(count, who, **options(redis.url)) as api:
        await api.get("/count")
        redis.stop()
        degraded = await api.get("/who")
        assert degraded.body == {"user": None, "degraded": True}
        assert "set-cookie" not in degraded.headers  # logged-out for now, not logged out
        assert "cookie" in degraded.headers["vary"].lower()


async def test_routes_without_the_session_answer_while_the_sqlite_file_is_damaged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.db"
    async with run(health, count, **options(f"sqlite:///{path}")) as api:
        await api.get("/count")
        junk = tmp_path / "junk"
        junk.write_bytes(b"not a database, " * 512)
        os.replace(junk, path)
        deadline = time.monotonic() + 10
        while (await api.get("/count")).status == 200:  # until the store notices the swap
            assert time.monotonic() < deadline, "the replaced file was never noticed"
            await asyncio.sleep(0.02)
        healthy = await api.get("/health")
        assert (healthy.status, healthy.body) == (200, "ok")
        assert "set-cookie" not in healthy.headers
