"""SQLiteStore's group commit: the saves of one event-loop turn share a transaction,
and each still lands, fails, waits or gives up as a save of its own would."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from porch.errors import StoreUnavailable
from porch.session.stores import CREATED
from porch.session.stores.sqlite import CHECKPOINT_EVERY, SQLiteStore
from porch.testing.suite import MINUTE, new_key


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "sessions.db", timeout=5.0)
    await store.open()
    yield store
    await store.close()


async def created(store: SQLiteStore, count: int) -> list[str]:
    keys = [new_key() for _ in range(count)]
    await asyncio.gather(*(store.save(key, {CREATED: 1.0}, (), MINUTE) for key in keys))
    return keys


def wal_frames(store: SQLiteStore) -> int:
    """Pages appended to the write-ahead log so far (no checkpoint runs in these tests:
    the store checkpoints every CHECKPOINT_EVERY writes), read from its size."""
    page_size = 4096  # SQLite's default, which the store keeps
    size = Path(f"{store.path}-wal").stat().st_size
    return (size - 32) // (24 + page_size)  # a 32-byte header, then a header per frame


async def test_saves_of_one_turn_are_one_transaction(store: SQLiteStore) -> None:
    """Forty rows on a page or two: written one by one they would append forty
    pages to the WAL at least; in one transaction each page is written once."""
    assert CHECKPOINT_EVERY > 100
    keys = await created(store, 40)
    before = wal_frames(store)
    await asyncio.gather(*(store.save(key, {"n": n}, (), MINUTE) for n, key in enumerate(keys)))
    assert wal_frames(store) - before < 10
    loaded = await asyncio.gather(*(store.load(key) for key in keys))
    assert loaded == [{CREATED: 1.0, "n": n} for n in range(40)]


async def test_a_save_that_fails_on_its_own_fails_alone(store: SQLiteStore) -> None:
    """A row whose fields are not JSON makes its own merge fail; SQLite undoes that
    statement only, and the other saves of the transaction commit."""
    keys = await created(store, 10)
    connection = sqlite3.connect(store.path)
    with connection:
        connection.execute("UPDATE sessions SET fields = 'not json' WHERE key = ?", (keys[3],))
    connection.close()
    outcomes = await asyncio.gather(
        *(store.save(key, {"n": n}, (), MINUTE) for n, key in enumerate(keys)),
        return_exceptions=True,
    )
    assert [type(outcome) for outcome in outcomes] == [
        StoreUnavailable if n == 3 else type(None) for n in range(10)
    ]
    for n, key in enumerate(keys):
        if n != 3:
            assert await store.load(key) == {CREATED: 1.0, "n": n}


async def test_a_cancelled_save_leaves_the_others_of_its_turn_alone(store: SQLiteStore) -> None:
    keys = await created(store, 5)
    saves = [
        asyncio.ensure_future(store.save(key, {"n": n}, (), MINUTE)) for n, key in enumerate(keys)
    ]
    await asyncio.sleep(0)  # every save queued: the batch is written on the next turn
    saves[0].cancel()
    await asyncio.gather(*saves[1:])
    assert saves[0].cancelled()
    for n, key in enumerate(keys[1:], start=1):
        assert await store.load(key) == {CREATED: 1.0, "n": n}


async def test_a_locked_file_holds_a_whole_turn_without_blocking_the_loop(
    store: SQLiteStore,
) -> None:
    """The batch waits for another process's lock as one save does: retried after
    asyncio.sleep, so the coroutine that releases the lock runs meanwhile."""
    keys = await created(store, 8)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    events: list[str] = []

    async def release_later() -> None:
        for _ in range(20):
            await asyncio.sleep(0.005)
            events.append("tick")
        blocker.execute("ROLLBACK")
        events.append("released")

    async def save(n: int, key: str) -> None:
        await store.save(key, {"n": n}, (), MINUTE)
        events.append("saved")

    try:
        blocker.execute("BEGIN EXCLUSIVE")
        await asyncio.gather(*(save(n, key) for n, key in enumerate(keys)), release_later())
        assert events == ["tick"] * 20 + ["released"] + ["saved"] * 8
        loaded = await asyncio.gather(*(store.load(key) for key in keys))
        assert loaded == [{CREATED: 1.0, "n": n} for n in range(8)]
    finally:
        blocker.close()


async def test_a_turn_that_outlasts_the_timeout_is_unavailable_then_recovers(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "sessions.db", timeout=0.1)
    keys = await created(store, 6)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        outcomes = await asyncio.gather(
            *(store.save(key, {"a": 1}, (), MINUTE) for key in keys), return_exceptions=True
        )
        assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
        blocker.execute("ROLLBACK")
        await asyncio.gather(*(store.save(key, {"a": 2}, (), MINUTE) for key in keys))
        loaded = await asyncio.gather(*(store.load(key) for key in keys))
        assert loaded == [{CREATED: 1.0, "a": 2}] * 6
    finally:
        blocker.close()
        await store.close()


async def test_closing_the_store_writes_the_saves_already_queued(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    store = SQLiteStore(path)
    keys = await created(store, 4)
    saves = [
        asyncio.ensure_future(store.save(key, {"n": n}, (), MINUTE)) for n, key in enumerate(keys)
    ]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*saves)
    reopened = SQLiteStore(path)
    try:
        loaded = await asyncio.gather(*(reopened.load(key) for key in keys))
        assert loaded == [{CREATED: 1.0, "n": n} for n in range(4)]
    finally:
        await reopened.close()
