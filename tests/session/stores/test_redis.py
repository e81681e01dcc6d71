"""RedisStore: the conformance suite against a real redis-server, then Redis-only promises.

Every server here is started by these tests on a free loopback port; the store
of each test gets its own key prefix, so tests share a server without sharing data.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from porch.errors import ConfigError, CorruptSession, StoreUnavailable
from porch.session.stores import CREATED, USER, store_from_url
from porch.session.stores.redis import RedisStore, redact
from porch.testing import OptionalStoreSuite, StoreSuite
from porch.testing.suite import MINUTE, new_key

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

HANG_GUARD = 30.0  # seconds; only stops a hung test, never judges speed


def unique_prefix() -> str:
    return f"test:{secrets.token_hex(4)}:session:"


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client on the same server, to look at the keyspace the store leaves."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, prefix=unique_prefix())
    await store.open()
    yield store
    await store.close()


class TestRedisStore(StoreSuite, OptionalStoreSuite):
    @pytest.fixture
    async def store(self, redis_url: str) -> AsyncIterator[RedisStore]:
        store = RedisStore(redis_url, prefix=unique_prefix())
        await store.open()
        yield store
        await store.close()


# -- the key layout -----------------------------------------------------------


async def test_a_session_is_one_hash_with_a_json_field_per_key(
    store: RedisStore, raw: Redis
) -> None:
    session_id = secrets.token_urlsafe(32)
    key = hashlib.sha256(session_id.encode()).hexdigest()
    await store.save(key, {CREATED: 1000.5, "cart": [1, "two"]}, deleted=(), ttl=MINUTE)
    names = [name async for name in raw.scan_iter(match=store.prefix + "*")]
    assert names == [(store.prefix + key).encode()]
    assert await raw.type(names[0]) == b"hash"
    assert await raw.hgetall(names[0]) == {b"$created": b"1000.5", b"cart": b'[1,"two"]'}
    assert 0 < await raw.ttl(names[0]) <= MINUTE


async def test_the_raw_session_id_never_reaches_redis(store: RedisStore, raw: Redis) -> None:
    session_id = secrets.token_urlsafe(32)
    key = hashlib.sha256(session_id.encode()).hexdigest()
    await store.save(key, {CREATED: 1.0, USER: "ada", "x": 1}, deleted=(), ttl=MINUTE)
    names = [name async for name in raw.scan_iter(match=store.prefix + "*")]
    contents = [await raw.dump(name) or b"" for name in names]
    assert not any(session_id.encode() in blob for blob in [*names, *contents])


async def test_a_users_index_is_a_set_of_hashed_keys(store: RedisStore, raw: Redis) -> None:
    first, second = new_key(), new_key()
    for key in (first, second):
        await store.save(key, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=MINUTE)
    index = store.prefix + "user:ada"
    assert await raw.smembers(index) == {first.encode(), second.encode()}
    assert await store.count() == 2  # the index is not a session


async def test_the_user_index_expires_no_sooner_than_its_longest_session(
    store: RedisStore, raw: Redis
) -> None:
    short, long = new_key(), new_key()
    await store.save(long, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=10 * MINUTE)
    await store.save(short, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=MINUTE)
    index = store.prefix + "user:ada"
    assert await raw.pttl(index) >= await raw.pttl(store.prefix + long)
    await store.touch(short, 100 * MINUTE)
    assert await raw.pttl(index) >= await raw.pttl(store.prefix + short)
    await store.save(long, {"x": 1}, deleted=(), ttl=1000 * MINUTE)
    assert await raw.pttl(index) >= await raw.pttl(store.prefix + long)


async def test_regenerate_leaves_a_marker_that_expires_with_the_session_and_destroy_takes(
    store: RedisStore, raw: Redis
) -> None:
    """The layout the module docstring gives: ``<prefix>moved:<old key>`` -> new key."""
    old, new = new_key(), new_key()
    await store.save(old, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    assert await store.regenerate(old, new, {CREATED: 1.0}, 30) is True
    marker = store.prefix + "moved:" + old
    assert await raw.get(marker) == new.encode()
    assert 0 < await raw.ttl(marker) <= 30
    await store.destroy(old)
    assert await raw.exists(marker, store.prefix + new, store.prefix + old) == 0


async def test_a_value_that_is_not_json_is_a_corrupt_session(store: RedisStore, raw: Redis) -> None:
    key = new_key()
    await raw.hset(store.prefix + key, "pickled", b"\x80\x04\x95")
    with pytest.raises(CorruptSession):
        await store.load(key)


async def test_purge_prunes_index_members_whose_sessions_are_gone(
    store: RedisStore, raw: Redis
) -> None:
    key = new_key()
    await store.save(key, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=MINUTE)
    await raw.delete(store.prefix + key)  # as if Redis had expired it
    assert await store.purge() == 0
    assert await raw.exists(store.prefix + "user:ada") == 0


# -- round trips and writes, as Redis sees them -------------------------------


async def commands_sent(url: str, action: Callable[[], Awaitable[object]]) -> list[str]:
    """What clients sent while ``action`` ran (not commands run by scripts), seen by MONITOR."""
    marker = f"porch-test-marker-{secrets.token_hex(4)}"
    watcher, signaller = Redis.from_url(url), Redis.from_url(url)
    try:
        await signaller.ping()
        async with watcher.monitor() as monitor:
            await action()
            await signaller.echo(marker)
            sent: list[str] = []
            while True:
                info = await monitor.next_command()
                if marker in info["command"]:
                    return sent
                if info["client_type"] != "lua":
                    sent.append(info["command"].split(" ", 1)[0].upper())
    finally:
        await watcher.aclose()
        await signaller.aclose()


async def test_load_is_one_read_and_writes_nothing(store: RedisStore, redis_url: str) -> None:
    key = new_key()
    await store.save(key, {CREATED: 1.0, "a": 1}, deleted=(), ttl=MINUTE)
    assert await commands_sent(redis_url, lambda: store.load(key)) == ["HGETALL"]
    assert await commands_sent(redis_url, lambda: store.load(new_key())) == ["HGETALL"]


async def test_save_touch_and_destroy_are_one_round_trip_each(
    store: RedisStore, redis_url: str
) -> None:
    key = new_key()
    await store.save(key, {CREATED: 1.0, USER: "ada"}, deleted=(), ttl=MINUTE)
    await store.touch(key, MINUTE)  # the first call of each script loads it once

    async def save() -> None:
        await store.save(key, {"a": 1, USER: "bob"}, deleted=("b",), ttl=MINUTE)

    assert await commands_sent(redis_url, save) == ["EVALSHA"]
    assert await commands_sent(redis_url, lambda: store.touch(key, MINUTE)) == ["EVALSHA"]
    assert await commands_sent(redis_url, lambda: store.destroy(key)) == ["EVALSHA"]


async def test_a_dropped_save_writes_nothing(store: RedisStore, raw: Redis) -> None:
    key = new_key()
    await store.save(key, {"a": 1, USER: "ada"}, deleted=(), ttl=MINUTE)
    assert [name async for name in raw.scan_iter(match=store.prefix + "*")] == []


# -- an unreachable Redis ------------------------------------------------------


async def test_an_unreachable_redis_is_store_unavailable_until_it_returns(
    own_redis: RedisServer,
) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{own_redis.port}/0"
    store = RedisStore(url, timeout=0.5)
    await store.open()
    try:
        key = new_key()
        await store.save(key, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
        own_redis.stop()
        for call in (store.load(key), store.save(key, {"a": 1}, (), MINUTE), store.touch(key, 1)):
            with pytest.raises(StoreUnavailable) as raised:
                await asyncio.wait_for(call, HANG_GUARD)
            message = str(raised.value)
            assert f"127.0.0.1:{own_redis.port}" in message
            assert "hunter2" not in message
        own_redis.start()  # empty again: it keeps nothing on disk
        assert await store.load(key) is None
        await store.save(key, {CREATED: 2.0}, deleted=(), ttl=MINUTE)
        assert await store.load(key) == {CREATED: 2.0}
    finally:
        await store.close()


# -- URLs and clients ----------------------------------------------------------


def test_passwords_are_redacted_from_urls() -> None:
    assert redact("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("rediss://user:pw@h:6379/0") == "rediss://user:***@h:6379/0"
    assert redact("redis+sentinel://:pw@a:1,b:2/svc/0") == "redis+sentinel://:***@a:1,b:2/svc/0"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"


def test_every_form_of_password_is_redacted() -> None:
    """A password alone (``secret@host``, which redis-py reads as the password) and one
    holding '@' are hidden too; the store names itself by this in logs and errors."""
    for url in ("redis://secret@h:6379/0", "rediss://:se@cret@h:6379/0", "redis://u:p@ss@h/0"):
        shown = redact(url)
        assert "secret" not in shown and "cret" not in shown and "ss@" not in shown
        assert shown.endswith("@h:6379/0") or shown.endswith("@h/0")
    assert "secret" not in repr(RedisStore("redis://secret@127.0.0.1:1/0"))


def test_store_urls_build_a_redis_store_with_the_timeout() -> None:
    store = store_from_url("rediss://:pw@127.0.0.1:1/0", max_entries=10, timeout=0.25)
    assert isinstance(store, RedisStore)
    assert store.timeout == 0.25
    assert "pw" not in repr(store)


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://127.0.0.1:1", "redis+sentinel://127.0.0.1:1/svc/notadb",
     "redis+sentinel://127.0.0.1/svc", "redis+cluster://127.0.0.1:x"],
)  # fmt: skip
async def test_malformed_sentinel_and_cluster_urls_are_config_errors(url: str) -> None:
    store = RedisStore(url)
    with pytest.raises(ConfigError, match="session store URL"):
        await store.open()
    await store.close()


async def test_a_unix_socket_url_works(unix_socket_url: str) -> None:
    store = RedisStore(unix_socket_url)
    try:
        key = new_key()
        await store.save(key, {CREATED: 1.0, "a": "b"}, deleted=(), ttl=MINUTE)
        assert await store.load(key) == {CREATED: 1.0, "a": "b"}
    finally:
        await store.close()


async def test_a_client_passed_in_stays_open_after_close(store: RedisStore, raw: Redis) -> None:
    borrowed = RedisStore(raw, prefix=store.prefix)
    await borrowed.open()
    key = new_key()
    await borrowed.save(key, {CREATED: 1.0}, deleted=(), ttl=MINUTE)
    await borrowed.close()
    assert await raw.ping()
    assert await store.load(key) == {CREATED: 1.0}


# -- sentinel and cluster -------------------------------------------------------------------


class TestRedisSentinelStore(StoreSuite, OptionalStoreSuite):
    @pytest.fixture
    async def store(self, sentinel_url: str) -> AsyncIterator[RedisStore]:
        store = store_from_url(sentinel_url, timeout=2.0)
        assert isinstance(store, RedisStore)
        store.prefix = unique_prefix()
        await store.open()
        yield store
        await store.close()


class TestRedisClusterStore(StoreSuite, OptionalStoreSuite):
    """The same suite through ``redis+cluster://``, where the user index lives in other slots."""

    @pytest.fixture
    async def store(self, cluster_url: str) -> AsyncIterator[RedisStore]:
        store = RedisStore(cluster_url, prefix=unique_prefix())
        await store.open()
        yield store
        await store.close()


async def test_a_burst_of_more_than_a_hundred_calls_is_served_through_a_sentinel(
    sentinel_url: str,
) -> None:
    """redis-py 8 caps a pool at 100 connections and fails the next call at once."""
    store = store_from_url(sentinel_url, timeout=2.0)
    assert isinstance(store, RedisStore)
    store.prefix = unique_prefix()
    await store.open()
    try:
        keys = [new_key() for _ in range(300)]
        await asyncio.gather(*(store.save(key, {CREATED: 1.0}, (), MINUTE) for key in keys))
        loaded = await asyncio.gather(*(store.load(key) for key in keys))
        assert loaded == [{CREATED: 1.0}] * len(keys)
    finally:
        await store.close()
