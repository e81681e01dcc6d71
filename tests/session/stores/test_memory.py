"""MemoryStore: the conformance suite, then what only the memory store promises.

Eviction keeps logged-in sessions ahead of anonymous ones, and production on the
memory store says loudly at start-up that sessions will be lost.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from porch import get, post, run
from porch.context import Context
from porch.errors import ConfigError
from porch.option_types import SessionSettings
from porch.session.stores import CREATED, USER, MemoryStore, store_from_url
from porch.session.stores.sqlite import SQLiteStore
from porch.testing import AsyncApi, OptionalStoreSuite, StoreSuite
from porch.testing.suite import MINUTE, new_key, wait_until_expired


class TestMemoryStore(StoreSuite, OptionalStoreSuite):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


async def test_the_least_recently_used_session_is_evicted_beyond_max_entries() -> None:
    store = MemoryStore(max_entries=2)
    first, second, third = new_key(), new_key(), new_key()
    await store.save(first, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    await store.save(second, {CREATED: 2.0}, deleted=(), ttl=MINUTE)
    assert await store.load(first) is not None  # first is now the most recently used
    await store.save(third, {CREATED: 3.0}, deleted=(), ttl=MINUTE)
    assert await store.load(second) is None
    assert await store.load(first) is not None
    assert await store.load(third) is not None


async def test_a_flood_of_new_sessions_never_exceeds_max_entries() -> None:
    store = MemoryStore(max_entries=1_000)
    for n in range(100_000):
        await store.save(f"{n:064x}", {CREATED: float(n)}, deleted=(), ttl=MINUTE)
    assert len(store) == store.max_entries
    assert await store.count() == store.max_entries
    assert await store.load(f"{99_999:064x}") == {CREATED: 99_999.0}


async def test_moved_session_markers_are_bounded_and_purged() -> None:
    """What regenerate leaves behind (old key -> new key) is capped like the sessions, the
    oldest dropped first, and expired ones go with purge(); they are never counted."""
    store = MemoryStore(max_entries=2)
    olds = [new_key() for _ in range(3)]
    for old in olds:
        new = new_key()
        await store.save(old, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
        assert await store.regenerate(old, new, {CREATED: 1.0}, 1) is True
        await store.destroy(new)  # logged out with the new id: the marker stays
    assert list(store._moved) == olds[1:]  # the oldest went
    probe = new_key()
    await store.save(probe, {CREATED: 1.0}, deleted=(), ttl=1)  # expires after the markers
    await wait_until_expired(store, probe)
    assert await store.purge() == 0  # the probe is gone already; markers are not counted
    assert not store._moved


def test_max_entries_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_entries"):
        MemoryStore(max_entries=0)


def test_memory_url_builds_a_memory_store() -> None:
    store = store_from_url("memory://", max_entries=5)
    assert isinstance(store, MemoryStore)
    assert store.max_entries == 5


# --- logged-in sessions outlast a flood of anonymous ones ---


async def test_anonymous_sessions_are_evicted_before_logged_in_and_regenerated_ones() -> None:
    store = MemoryStore(max_entries=3)
    bound, regenerated, anonymous = new_key(), new_key(), new_key()
    await store.save(bound, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=MINUTE)
    before_login = new_key()  # regenerate moves only a live session (logout is final)
    await store.save(before_login, {CREATED: 2.0}, deleted=(), ttl=MINUTE)
    assert await store.regenerate(before_login, regenerated, {CREATED: 2.0}, ttl=MINUTE)
    await store.save(anonymous, {CREATED: 3.0}, deleted=(), ttl=MINUTE)
    for n in range(1_000):  # the flood: each new one pushes the oldest anonymous out
        await store.save(new_key(), {CREATED: 4.0 + n}, deleted=(), ttl=MINUTE)
    assert len(store) == 3
    assert await store.load(bound) is not None
    assert await store.load(regenerated) is not None
    assert await store.load(anonymous) is None


async def test_a_session_that_logs_in_later_is_kept_from_then_on() -> None:
    store = MemoryStore(max_entries=2)
    visitor = new_key()
    await store.save(visitor, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    await store.save(visitor, {USER: 7}, deleted=(), ttl=MINUTE)  # ctx.session.user = 7
    for _ in range(10):
        await store.save(new_key(), {CREATED: 2.0}, deleted=(), ttl=MINUTE)
    assert await store.load(visitor) == {CREATED: 1.0, USER: 7}


async def test_when_every_session_is_logged_in_the_least_recently_used_goes() -> None:
    store = MemoryStore(max_entries=2)
    first, second, third = new_key(), new_key(), new_key()
    await store.save(first, {CREATED: 1.0, USER: "a"}, deleted=(), ttl=MINUTE)
    await store.save(second, {CREATED: 2.0, USER: "b"}, deleted=(), ttl=MINUTE)
    assert await store.load(first) is not None  # first is now the most recently used
    await store.save(third, {CREATED: 3.0, USER: "c"}, deleted=(), ttl=MINUTE)
    assert len(store) == 2
    assert await store.load(second) is None
    assert await store.sessions_of("b") == []  # its index entry went with it


@get("/visit")
def visit(ctx: Context) -> dict[str, Any]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"], "user": ctx.session.user}


@post("/login")
def login(ctx: Context) -> str:
    ctx.session.regenerate()
    ctx.session.user = "ada"
    return "welcome"


@post("/regenerate")
def regenerate_only(ctx: Context) -> str:
    ctx.session.regenerate()
    return "regenerated"


async def test_an_anonymous_flood_over_http_logs_nobody_out() -> None:
    app = [visit, login, regenerate_only]
    async with run(app, session={"max_entries": 20}, security={"csrf": False}) as user:
        other, early = browser(user), browser(user)
        try:
            await user.get("/visit")
            assert (await user.post("/login")).status == 200
            await other.get("/visit")
            await other.post("/regenerate")  # a login flow's first step, no user bound yet
            await early.get("/visit")  # anonymous, before the flood
            async with httpx.AsyncClient(base_url=user.url) as flood:
                for _ in range(200):  # each a new visitor: no cookie
                    flood.cookies.clear()
                    assert (await flood.get("/visit")).status_code == 200
            assert (await user.get("/visit")).body == {"views": 2, "user": "ada"}
            assert (await other.get("/visit")).body == {"views": 2, "user": None}
            assert (await early.get("/visit")).body["views"] == 1  # evicted: a new session
        finally:
            await other.client.aclose()
            await early.client.aclose()


def browser(api: AsyncApi) -> AsyncApi:
    """Another browser on the same server, with a cookie jar of its own."""
    return AsyncApi(httpx.AsyncClient(base_url=api.url), api.url)


async def test_production_on_the_memory_store_says_at_start_up_that_sessions_will_be_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="porch"):
        async with run(visit, env="production", secret="s" * 40):
            pass  # no request: start-up alone says it
    warnings = [record for record in caplog.records if "SESSIONS WILL BE LOST" in record.message]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "max_entries=10000" in warnings[0].message and "REDIS_URL" in warnings[0].message


async def test_the_warning_holds_for_an_encrypted_memory_store_and_only_in_production(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING, logger="porch"):
        async with run(visit, env="production", secret="s" * 40, session={"encrypt": True}):
            pass
    assert "SESSIONS WILL BE LOST" in caplog.text
    wrapped: tuple[SessionSettings, ...] = ({}, {"encrypt": True})
    for session in wrapped:  # under the metrics wrapper too, however deep
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="porch"):
            async with run(visit, env="production", secret="s" * 40, metrics=True, session=session):
                pass
        assert "SESSIONS WILL BE LOST" in caplog.text, session
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="porch"):
        async with run(visit):
            pass
        store = SQLiteStore(tmp_path / "sessions.db")
        async with run(visit, env="production", secret="s" * 40, session={"store": store}):
            pass
    assert "SESSIONS WILL BE LOST" not in caplog.text
