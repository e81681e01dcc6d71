"""The shared Redis connection: many callers, one connection, every reply to its own caller.

Against real redis-servers of our own (free loopback ports, stopped by PID).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from porch.errors import StoreUnavailable
from porch.session.stores import CREATED, SEEN
from porch.session.stores.multiplex import Multiplexer
from porch.session.stores.redis import RedisStore

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, start_redis
else:  # see stores/conftest.py for why the helper is imported by its own name
    from redis_server import RedisServer, start_redis

HANG_GUARD = 30.0  # seconds; only stops a hung test, never judges speed


def unavailable(reason: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"test Redis unreachable ({reason})")


@pytest.fixture
async def mux(redis_url: str) -> AsyncIterator[Multiplexer]:
    client = Redis.from_url(redis_url)
    multiplexer = Multiplexer(client, timeout=2.0, unavailable=unavailable)
    yield multiplexer
    await multiplexer.close()
    await client.aclose()


async def client_count(redis_url: str, name: str) -> int:
    async with Redis.from_url(redis_url) as probe:
        clients = await probe.client_list()
    return sum(1 for client in clients if client.get("name") == name)


async def test_a_thousand_concurrent_callers_each_get_their_own_reply(
    mux: Multiplexer, redis_url: str
) -> None:
    prefix = f"mux:{time.monotonic_ns()}:"
    await asyncio.gather(*(mux.execute("SET", f"{prefix}{n}", n) for n in range(1000)))
    replies = await asyncio.wait_for(
        asyncio.gather(*(mux.execute("GET", f"{prefix}{n}") for n in range(1000))),
        HANG_GUARD,
    )
    assert replies == [str(n).encode() for n in range(1000)]
    await mux.execute("CLIENT", "SETNAME", "porch-mux-test")
    assert await client_count(redis_url, "porch-mux-test") == 1  # all over one connection


async def test_an_error_reply_reaches_only_its_caller(mux: Multiplexer) -> None:
    key = f"mux:string:{time.monotonic_ns()}"
    await mux.execute("SET", key, "not a hash")
    results = await asyncio.gather(
        mux.execute("PING"),
        mux.execute("HGETALL", key),  # WRONGTYPE
        mux.execute("EVALSHA", "0" * 40, 0),  # NOSCRIPT
        mux.execute("GET", key),
        return_exceptions=True,
    )
    assert results[0] in (b"PONG", True)
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert isinstance(results[2], NoScriptError)
    assert results[3] == b"not a hash"


async def test_a_caller_that_gives_up_does_not_shift_the_replies_of_others(
    mux: Multiplexer,
) -> None:
    key = f"mux:list:{time.monotonic_ns()}"
    blocked = asyncio.create_task(mux.execute("BLPOP", key, 1))  # Redis holds it a second
    await asyncio.sleep(0.05)
    blocked.cancel()
    after = asyncio.create_task(mux.execute("ECHO", "mine"))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(after, HANG_GUARD) == b"mine"  # not BLPOP's nil
    assert await mux.execute("ECHO", "still mine") == b"still mine"


async def test_a_hung_redis_fails_every_pending_call_within_the_timeout_then_recovers() -> None:
    server = start_redis()
    client = Redis.from_url(server.url)
    multiplexer = Multiplexer(client, timeout=0.4, unavailable=unavailable)
    try:
        assert await multiplexer.execute("PING") in (b"PONG", True)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(multiplexer.execute("ECHO", str(n)) for n in range(20)),
                    return_exceptions=True,
                ),
                HANG_GUARD,
            )
            waited = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert all(isinstance(result, StoreUnavailable) for result in results), results
        assert 0.4 <= waited < 0.4 * 1.25 + 0.5, waited
        assert await asyncio.wait_for(multiplexer.execute("ECHO", "back"), HANG_GUARD) == b"back"
    finally:
        await multiplexer.close()
        await client.aclose()
        server.remove()


async def test_a_restarted_redis_fails_what_was_pending_and_the_next_call_reconnects() -> None:
    server = start_redis()
    client = Redis.from_url(server.url)
    multiplexer = Multiplexer(client, timeout=2.0, unavailable=unavailable)
    try:
        assert await multiplexer.execute("ECHO", "before") == b"before"
        server.stop()
        with pytest.raises((StoreUnavailable, ConnectionError, OSError)):
            await asyncio.wait_for(multiplexer.execute("ECHO", "down"), HANG_GUARD)
        server.start()
        assert await asyncio.wait_for(multiplexer.execute("ECHO", "after"), HANG_GUARD) == b"after"
    finally:
        await multiplexer.close()
        await client.aclose()
        server.remove()


async def test_the_store_reloads_its_scripts_when_redis_forgot_them(redis_url: str) -> None:
    store = RedisStore(redis_url, prefix=f"mux:{time.monotonic_ns()}:")
    await store.open()
    try:
        key = "k" * 64
        await store.save(key, {CREATED: 1.0, SEEN: 1.0, "n": 1}, (), 60)
        async with Redis.from_url(redis_url) as admin:
            await admin.script_flush()
        await store.save(key, {"n": 2}, (), 60)
        loaded = await store.load(key)
        assert loaded is not None and loaded["n"] == 2
        assert store.multiplexed
    finally:
        await store.close()


async def test_only_plain_urls_that_porch_connects_share_one_connection(redis_url: str) -> None:
    own_client = Redis.from_url(redis_url)
    plain = RedisStore(redis_url)
    passed_in = RedisStore(own_client)
    for store in (plain, passed_in):
        await store.open()
    try:
        assert plain.multiplexed
        assert not passed_in.multiplexed  # the caller's client, with the caller's options
        await passed_in.save("b" * 64, {CREATED: 1.0, "via": "pool"}, (), 60)
        assert await plain.load("b" * 64) == {CREATED: 1.0, "via": "pool"}
    finally:
        for store in (plain, passed_in):
            await store.close()
        await own_client.aclose()  # the store leaves a client passed in code to its owner


async def test_a_password_and_database_in_the_url_apply_to_the_shared_connection(
    own_redis: RedisServer,
) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{own_redis.port}/3"
    store = RedisStore(url, prefix="mux:auth:")
    await store.open()
    try:
        await store.save("a" * 64, {CREATED: 1.0, "x": "y"}, (), 60)
        loaded = await store.load("a" * 64)
        assert loaded is not None and loaded["x"] == "y"
        assert store.multiplexed
    finally:
        await store.close()
    async with Redis.from_url(url) as admin:
        assert await admin.hget("mux:auth:" + "a" * 64, "x") == b'"y"'  # in database 3
    async with Redis.from_url(url.replace("/3", "/0")) as admin:
        assert await admin.exists("mux:auth:" + "a" * 64) == 0
