"""Store capabilities: what a store declares about itself, and the session layer trusts.

The layer asks the store (``times_out_by_itself``, ``immediate``,
``destroy_follows_moves``), never its class, so a new backend that can skip the
timeout scope or the coroutine says so in its own module. Only the exact
built-in classes claim the speed ones: a subclass may override a method with
I/O of its own. ``destroy_follows_moves`` is what the methods do, so subclasses
and wrappers keep it. ``per_process`` (the sessions live in this process only)
decides porch's refusals and warnings, for any store that declares it as for
the memory store, and wrappers forward it too.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pytest

from porch import ConfigError, PorchError, get, run, server
from porch.cli import check_workers, count_sessions
from porch.context import Context
from porch.health import report_store
from porch.metrics import MeasuredStore, Metrics
from porch.option_types import SessionSettings
from porch.session.encryption import EncryptedStore
from porch.session.stores import MemoryStore, Store
from porch.session.stores.redis import RedisStore
from porch.session.stores.sqlite import SQLiteStore


class Plain(Store):
    """A store that declares nothing: the defaults of the contract."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def load(self, key: str) -> dict[str, Any] | None:
        self.calls.append("load")
        return self.load_now(key)

    def load_now(self, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        return None if entry is None else dict(entry)

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        self.calls.append("save")
        self.save_now(key, changes, deleted, ttl)

    def save_now(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        entry = self.entries.setdefault(key, {})
        entry.update(changes)
        for name in deleted:
            entry.pop(name, None)

    async def touch(self, key: str, ttl: int) -> None:
        self.calls.append("touch")

    async def destroy(self, key: str) -> None:
        self.calls.append("destroy")
        self.entries.pop(key, None)


class Immediate(Plain):
    """A new backend that never waits, and says so in its own class."""

    @property
    def times_out_by_itself(self) -> bool:
        return True

    @property
    def immediate(self) -> Immediate:
        return self


class InProcess(Plain):
    """A new backend whose sessions live in this process's memory, as it says."""

    def __repr__(self) -> str:
        return "InProcess()"

    @property
    def per_process(self) -> bool:
        return True


class MemorySubclass(MemoryStore):
    pass


class FollowsMoves(Plain):
    """A store of the newer contract (its markers are beside the point here)."""

    @property
    def destroy_follows_moves(self) -> bool:
        return True


@get("/logout")
def logout(ctx: Context) -> str:
    ctx.session.destroy()
    return "out"


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


def test_a_store_declares_nothing_unless_it_says_so() -> None:
    store = Plain()
    assert store.times_out_by_itself is False
    assert store.immediate is None
    assert store.per_process is False
    assert store.destroy_follows_moves is False
    assert store.tells_already_moved is False


def test_every_built_in_store_follows_moves_and_so_do_its_wrappers(tmp_path: Path) -> None:
    built_in = [MemoryStore(), SQLiteStore(tmp_path / "s.db"), RedisStore("redis://127.0.0.1/0")]
    assert [store.destroy_follows_moves for store in built_in] == [True, True, True]
    assert MemorySubclass().destroy_follows_moves is True
    assert EncryptedStore(MemoryStore(), ("k" * 40,)).destroy_follows_moves is True
    assert EncryptedStore(Plain(), ("k" * 40,)).destroy_follows_moves is False


def test_every_built_in_store_tells_a_move_from_an_end_and_so_do_its_wrappers(
    tmp_path: Path,
) -> None:
    """``tells_already_moved`` is what regenerate answers, so subclasses and wrappers keep
    it; a wrapper around a store of the older contract does not claim it."""
    built_in = [MemoryStore(), SQLiteStore(tmp_path / "s.db"), RedisStore("redis://127.0.0.1/0")]
    assert [store.tells_already_moved for store in built_in] == [True, True, True]
    assert MemorySubclass().tells_already_moved is True
    for inner, tells in ((MemoryStore(), True), (Plain(), False)):
        encrypted = EncryptedStore(inner, ("k" * 40,))
        assert encrypted.tells_already_moved is tells
        assert MeasuredStore(encrypted, Metrics("/metrics")).tells_already_moved is tells


async def test_a_logout_with_a_lost_cookie_destroys_it_only_where_that_can_matter() -> None:
    """A store that follows moves may find the session a concurrent regenerate moved; one
    that does not would only pay a round trip for nothing."""
    for store, destroyed in ((Plain(), False), (FollowsMoves(), True)):
        async with run(counter, logout, session={"store": store}) as api:
            await api.get("/")
            store.entries.clear()  # as if a concurrent request had moved it away
            store.calls.clear()
            assert (await api.get("/logout")).status == 200
            assert api.cookies.get("session") is None
        assert ("destroy" in store.calls) is destroyed


def test_the_memory_store_never_waits_but_a_subclass_is_not_trusted() -> None:
    memory = MemoryStore()
    assert memory.times_out_by_itself is True
    assert memory.immediate is memory
    subclass = MemorySubclass()
    assert subclass.times_out_by_itself is False
    assert subclass.immediate is None
    assert memory.per_process is subclass.per_process is True  # its sessions are still here


def test_the_sqlite_store_bounds_its_calls_but_a_subclass_is_not_trusted(tmp_path: Path) -> None:
    assert SQLiteStore(tmp_path / "s.db").times_out_by_itself is True
    assert SQLiteStore(tmp_path / "s.db").immediate is None

    class Sub(SQLiteStore):
        pass

    assert Sub(tmp_path / "t.db").times_out_by_itself is False


def test_a_wrapper_forwards_where_the_sessions_live_and_claims_nothing_of_its_calls() -> None:
    """Encryption and metrics do work of their own in every call, but the data stays where the
    inner store keeps it."""
    for inner in (MemoryStore(), InProcess(), Plain()):
        encrypted = EncryptedStore(inner, ("k" * 40,))
        measured = MeasuredStore(encrypted, Metrics("/metrics"))
        for wrapped in (encrypted, measured):
            assert wrapped.times_out_by_itself is False
            assert wrapped.immediate is None
            assert wrapped.per_process is inner.per_process


async def test_the_layer_uses_what_a_new_backend_declares() -> None:
    immediate = Immediate()
    async with run(counter, session={"store": immediate}) as api:
        immediate.calls.clear()  # the start-up check's load is not a request's
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
    assert "load" not in immediate.calls and "save" not in immediate.calls
    plain = Plain()
    async with run(counter, session={"store": plain}) as api:
        plain.calls.clear()
        assert (await api.get("/")).body == {"views": 1}
        assert (await api.get("/")).body == {"views": 2}
    assert plain.calls == ["save", "load", "save"]


async def test_a_store_that_declares_per_process_gets_the_memory_stores_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused under several workers and by ``porch sessions``, warned of in production, not
    probed at start-up: what porch says of the memory store, said from the declaration."""
    store = InProcess()
    with caplog.at_level(logging.WARNING, logger="porch"):
        async with run(counter, env="production", secret="s" * 40, session={"store": store}):
            pass
    lost = [record for record in caplog.records if "SESSIONS WILL BE LOST" in record.message]
    assert [record.levelno for record in lost] == [logging.WARNING]
    assert "the session store InProcess()" in lost[0].message
    assert store.calls == []  # no start-up probe: there is nothing to reach
    wrapped: tuple[SessionSettings, ...] = ({"store": store}, {"store": store, "encrypt": True})
    for session in wrapped:
        app = server(counter, secret="s" * 40, session=session)
        with pytest.raises(ConfigError, match=r"--workers 2 with the session store .*InProcess"):
            check_workers(app, 2)
        check_workers(app, 1)
        with pytest.raises(PorchError, match="lives inside the server's process"):
            await count_sessions(app)
    assert await report_store(store, logging.getLogger("porch")) is None


async def test_a_shared_store_is_probed_and_allowed_several_workers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Plain()
    with caplog.at_level(logging.WARNING, logger="porch"):
        async with run(counter, env="production", secret="s" * 40, session={"store": store}):
            pass
    assert "SESSIONS WILL BE LOST" not in caplog.text
    assert store.calls == ["load"]  # the start-up probe
    check_workers(server(counter, secret="s" * 40, session={"store": store}), 2)
