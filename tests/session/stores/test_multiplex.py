"""The shared Redis connection: many callers, one connection, every reply to its own caller.

Against real redis-servers of our own (free loopback ports, stopped by PID).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Connection, Redis
from redis.exceptions import NoScriptError, ResponseError

from porch import get, run
from porch.context import Context
from porch.errors import StoreUnavailable
from porch.session.stores import CREATED, SEEN
from porch.session.stores.multiplex import Multiplexer, unsupported
from porch.session.stores.redis import RedisStore

if TYPE_CHECKING:
    from tests.redis_server import RedisServer
else:  # see stores/conftest.py for why the helper is imported by its own name
    from redis_server import RedisServer

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


async def test_a_hung_redis_fails_every_pending_call_within_the_timeout_then_recovers(
    redis: RedisServer,
) -> None:
    client = Redis.from_url(redis.url)
    multiplexer = Multiplexer(client, timeout=0.4, unavailable=unavailable)
    try:
        assert await multiplexer.execute("PING") in (b"PONG", True)
        assert redis.process is not None
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(multiplexer.execute("ECHO", str(n)) for n in range(20)),
                    return_exceptions=True,
                ),
                HANG_GUARD,
            )
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        # Each failed through the watchdog, which fails calls only once the oldest has
        # waited the whole timeout: not early, not through a refused connection, and
        # not by hanging until the guard above.
        assert all(isinstance(result, StoreUnavailable) for result in results), results
        assert {str(result) for result in results} == {
            "test Redis unreachable (no reply within 0.4 s)"
        }
        assert await asyncio.wait_for(multiplexer.execute("ECHO", "back"), HANG_GUARD) == b"back"
    finally:
        await multiplexer.close()
        await client.aclose()


async def test_a_restarted_redis_fails_what_was_pending_and_the_next_call_reconnects(
    redis: RedisServer,
) -> None:
    client = Redis.from_url(redis.url)
    multiplexer = Multiplexer(client, timeout=2.0, unavailable=unavailable)
    try:
        assert await multiplexer.execute("ECHO", "before") == b"before"
        redis.stop()
        with pytest.raises((StoreUnavailable, ConnectionError, OSError)):
            await asyncio.wait_for(multiplexer.execute("ECHO", "down"), HANG_GUARD)
        redis.start()
        assert await asyncio.wait_for(multiplexer.execute("ECHO", "after"), HANG_GUARD) == b"after"
    finally:
        await multiplexer.close()
        await client.aclose()


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


# --- when redis-py's internals are not what the shared connection expects ---


class OlderConnection(Connection):
    """A working redis-py connection whose read_response() takes no disconnect_on_error,
    as a release that moved that parameter would have."""

    async def read_response(  # type: ignore[override]
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        push_request: bool | None = False,
    ) -> Any:
        return await super().read_response(disable_decoding, timeout, push_request=push_request)


class StreamWithoutWritelines:
    """A stream as a release might hand out: everything of asyncio's but writelines()."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        if name == "writelines":
            raise AttributeError(name)
        return getattr(self.stream, name)


class ElsewhereConnection(Connection):
    """A working connection whose _writer, once connected, is not the stream porch writes to
    (redis-py's own sends still reach the real one)."""

    async def connect(self) -> None:
        await super().connect()  # type: ignore[no-untyped-call]
        self._writer = StreamWithoutWritelines(self._writer)  # type: ignore[assignment]

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        wrapped = self._writer
        if isinstance(wrapped, StreamWithoutWritelines):
            self._writer = wrapped.stream
        await super().send_packed_command(command, check_health)


class StoreWithConnections(RedisStore):
    """A URL store whose redis-py pool builds connections of another class."""

    def __init__(self, url: str, connection_class: type[Connection]) -> None:
        super().__init__(url, prefix=f"mux:fallback:{time.monotonic_ns()}:")
        self.connection_class = connection_class

    def _client_for(self, url: str) -> Any:
        client = super()._client_for(url)
        assert isinstance(client, Redis)
        client.connection_pool.connection_class = self.connection_class
        return client


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "plain client" in record.message]


async def connections_to(server: RedisServer) -> int:
    """Clients connected to ``server``, not counting the one asking."""
    async with Redis.from_url(server.url) as probe:
        return len(await probe.client_list()) - 1


async def use_concurrently(store: RedisStore) -> None:
    """Two hundred requests' worth of store calls at once, then each checked."""
    keys = [f"{n:064x}" for n in range(200)]
    await asyncio.gather(
        *(store.save(key, {CREATED: 1.0, "n": n}, (), 60) for n, key in enumerate(keys))
    )
    loaded = await asyncio.wait_for(asyncio.gather(*(store.load(key) for key in keys)), HANG_GUARD)
    assert [entry["n"] if entry else None for entry in loaded] == list(range(200))


async def test_a_read_response_that_differs_falls_back_to_the_plain_client_at_start_up(
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    store = StoreWithConnections(redis.url, OlderConnection)
    try:
        with caplog.at_level(logging.WARNING, logger="porch.session"):
            await store.open()
            assert not store.multiplexed
            warnings = fallback_warnings(caplog)
            assert len(warnings) == 1  # at start-up, before any request
            assert "OlderConnection.read_response() takes no disconnect_on_error" in warnings[0]
            await use_concurrently(store)
            await store.touch(f"{0:064x}", 60)
            await store.destroy(f"{1:064x}")
            assert await store.load(f"{1:064x}") is None
        assert await connections_to(redis) > 1  # redis-py's pool, one per call in flight
        assert len(fallback_warnings(caplog)) == 1
    finally:
        await store.close()


async def test_a_stream_found_elsewhere_once_connected_falls_back_at_the_first_call(
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    store = StoreWithConnections(redis.url, ElsewhereConnection)
    try:
        with caplog.at_level(logging.WARNING, logger="porch.session"):
            await store.open()
            assert store.multiplexed  # nothing to see before connecting
            await use_concurrently(store)  # the first calls, all at once: none fails
            assert not store.multiplexed
        warnings = fallback_warnings(caplog)
        assert len(warnings) == 1
        assert "ElsewhereConnection._writer is no stream once connected" in warnings[0]
    finally:
        await store.close()


async def test_the_fallback_serves_requests_over_the_real_server(redis: RedisServer) -> None:
    store = StoreWithConnections(redis.url, OlderConnection)

    @get("/")
    def counter(ctx: Context) -> dict[str, int]:
        ctx.session["views"] = ctx.session.get("views", 0) + 1
        return {"views": ctx.session["views"]}

    async with run(counter, session={"store": store}) as api:
        assert [(await api.get("/")).body["views"] for _ in range(3)] == [1, 2, 3]
    assert not store.multiplexed


async def test_redis_pys_own_connections_still_share_one_and_say_nothing(
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    store = RedisStore(redis.url, prefix="mux:shared:")
    try:
        with caplog.at_level(logging.WARNING, logger="porch.session"):
            await store.open()
            await use_concurrently(store)
        assert store.multiplexed
        assert await connections_to(redis) == 1  # every call over the one connection
        assert fallback_warnings(caplog) == []
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0", "unix:///tmp/r.sock"]
)
def test_every_kind_of_url_porch_shares_passes_the_check(url: str) -> None:
    assert unsupported(Redis.from_url(url)) is None
