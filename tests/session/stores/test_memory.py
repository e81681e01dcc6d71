"""MemoryStore: the conformance suite, then what only the memory store promises."""

from __future__ import annotations

import pytest

from porch.errors import ConfigError
from porch.session.stores import CREATED, MemoryStore, store_from_url
from porch.testing import OptionalStoreSuite, StoreSuite
from porch.testing.suite import MINUTE, new_key


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


def test_max_entries_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_entries"):
        MemoryStore(max_entries=0)


def test_memory_url_builds_a_memory_store() -> None:
    store = store_from_url("memory://", max_entries=5)
    assert isinstance(store, MemoryStore)
    assert store.max_entries == 5
