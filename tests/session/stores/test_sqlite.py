"""SQLiteStore: the conformance suite on a file in tmp_path, then what only SQLite promises."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from porch.errors import ConfigError, CorruptSession, StoreUnavailable
from porch.session.stores import CREATED, USER, store_from_url
from porch.session.stores.sqlite import SWEEP_EVERY, SQLiteStore, path_of
from porch.testing import OptionalStoreSuite, StoreSuite
from porch.testing.suite import MINUTE, new_key


class TestSQLiteStore(StoreSuite, OptionalStoreSuite):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "sessions.db")
        await store.open()
        yield store
        await store.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "sessions.db")
    await store.open()
    yield store
    await store.close()


async def test_two_stores_on_one_file_keep_every_concurrent_write(tmp_path: Path) -> None:
    """Two store objects stand for two worker processes: separate threads and connections."""
    first, second = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    try:
        shared, mine, theirs = new_key(), new_key(), new_key()
        await first.save(shared, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
        writes = [
            *(first.save(shared, {f"a{n}": n}, deleted=(), ttl=MINUTE) for n in range(30)),
            *(second.save(shared, {f"b{n}": n}, deleted=(), ttl=MINUTE) for n in range(30)),
            first.save(mine, {CREATED: 2.0}, deleted=(), ttl=MINUTE),
            second.save(theirs, {CREATED: 3.0}, deleted=(), ttl=MINUTE),
        ]
        await asyncio.gather(*writes)
        expected = {CREATED: 1.0, **{f"{side}{n}": n for side in "ab" for n in range(30)}}
        assert await first.load(shared) == expected
        assert await second.load(shared) == expected
        assert await first.load(theirs) == {CREATED: 3.0}
        assert await second.load(mine) == {CREATED: 2.0}
    finally:
        await first.close()
        await second.close()


async def test_sessions_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    key = new_key()
    before = SQLiteStore(tmp_path / "sessions.db")
    await before.save(key, {CREATED: 1.0, USER: "ada", "cart": [1]}, deleted=(), ttl=MINUTE)
    await before.close()
    after = SQLiteStore(tmp_path / "sessions.db")
    try:
        assert await after.load(key) == {CREATED: 1.0, USER: "ada", "cart": [1]}
        assert [info.key for info in await after.sessions_of("ada")] == [key]
    finally:
        await after.close()


async def test_the_file_is_in_wal_mode(store: SQLiteStore) -> None:
    await store.save(new_key(), {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


async def test_a_row_that_is_not_porchs_json_is_a_corrupt_session(store: SQLiteStore) -> None:
    key = new_key()
    with sqlite3.connect(store.path) as connection:
        connection.execute(
            "INSERT INTO sessions (key, fields, user, expires_at) VALUES (?, ?, NULL, 1e12)",
            (key, "\x80not json"),
        )
    connection.close()
    with pytest.raises(CorruptSession):
        await store.load(key)


async def test_a_locked_file_is_store_unavailable_until_the_lock_goes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "sessions.db", timeout=0.1)
    key = new_key()
    await store.save(key, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match=r"sessions\.db"):
            await store.save(key, {"a": 1}, deleted=(), ttl=MINUTE)
        blocker.execute("ROLLBACK")
        await store.save(key, {"a": 2}, deleted=(), ttl=MINUTE)
        assert await store.load(key) == {CREATED: 1.0, "a": 2}
    finally:
        blocker.close()
        await store.close()


async def test_a_file_that_cannot_be_opened_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-directory" / "sessions.db")
    with pytest.raises(StoreUnavailable, match="missing-directory"):
        await store.open()
    await store.close()


async def test_expired_rows_are_deleted_by_purge(store: SQLiteStore) -> None:
    live, expired = new_key(), new_key()
    await store.save(live, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    await store.save(expired, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    with sqlite3.connect(store.path) as connection:  # as if its ttl had passed
        connection.execute("UPDATE sessions SET expires_at = 0 WHERE key = ?", (expired,))
    connection.close()
    assert await store.load(expired) is None
    assert await store.purge() == 1
    assert await store.purge() == 0
    assert await store.count() == 1


async def test_writes_delete_expired_rows_every_sweep_every_writes(store: SQLiteStore) -> None:
    expired = new_key()
    await store.save(expired, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE sessions SET expires_at = 0 WHERE key = ?", (expired,))
    connection.close()

    def keys() -> list[str]:
        with sqlite3.connect(store.path) as connection:
            rows = connection.execute("SELECT key FROM sessions").fetchall()
        connection.close()
        return [key for (key,) in rows]

    live = new_key()
    for _ in range(SWEEP_EVERY - 2):  # the first save above was write 1
        await store.save(live, {CREATED: 2.0}, deleted=(), ttl=MINUTE)
    assert expired in keys()  # not yet: sweeping is amortised over SWEEP_EVERY writes
    await store.save(live, {"n": 1}, deleted=(), ttl=MINUTE)
    assert keys() == [live]


def test_three_slashes_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    assert path_of("sqlite:///sessions.db") == Path.cwd() / "sessions.db"
    assert path_of("sqlite:///data/sessions.db") == Path.cwd() / "data" / "sessions.db"


def test_four_slashes_are_absolute() -> None:
    assert path_of("sqlite:////var/lib/app/sessions.db") == Path("/var/lib/app/sessions.db")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://relative.db", "redis://x"])
def test_malformed_sqlite_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match=r"sqlite:///sessions\.db"):
        path_of(url)


async def test_a_store_url_builds_a_sqlite_store_with_the_timeout(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/via-url.db", max_entries=10, timeout=0.5)
    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "via-url.db"
    assert store.timeout == 0.5
    await store.open()
    await store.close()
    assert store.path.exists()
