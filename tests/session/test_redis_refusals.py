"""A Redis that answers but refuses is a store failure: 503, a log line naming the refusal,
``error('store', ...)`` handlers run, and service resumes once Redis accepts commands again.

Each test starts its own redis-server (never the shared one) and puts it in the
refusing state with real commands: CONFIG SET maxmemory, REPLICAOF, a password
change, a long script.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis

from porch import error, get, run, status
from porch.context import Context
from porch.errors import StoreUnavailable
from porch.session.stores import USER
from porch.session.stores.redis import RedisStore
from porch.testing.suite import created, new_key

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, ask, binary, free_loopback_port, start_redis
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from redis_server import RedisServer, ask, binary, free_loopback_port, start_redis

SECRET = "s" * 40


@get("/count")
def count(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return {"views": ctx.session.get("views")}


def options(url: str) -> dict[str, Any]:
    return {"session": {"store": url}, "security": {"csrf": False}, "secret": SECRET}


def command(server: RedisServer, *words: str) -> None:
    assert ask(server.port, *words, password=server.password) == "OK", words


async def test_out_of_memory_is_a_503_naming_it_and_resumes(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(count, **options(redis.url)) as api:
        assert (await api.get("/count")).body == {"views": 1}
        command(redis, "CONFIG", "SET", "maxmemory", "1")  # policy: noeviction
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await api.get("/count")
        assert refused.status == 503
        assert "out of memory" in caplog.text and "OOM" in caplog.text
        assert "Traceback" not in caplog.text
        command(redis, "CONFIG", "SET", "maxmemory", "0")
        assert (await api.get("/count")).body == {"views": 2}


async def test_a_refusal_reaches_the_store_error_handlers(redis: RedisServer) -> None:
    def unavailable(ctx: Context) -> Any:
        return status(503).send(f"sorry: {type(ctx.error).__name__}")

    async with run(count, error("store", unavailable), **options(redis.url)) as api:
        await api.get("/count")
        command(redis, "CONFIG", "SET", "maxmemory", "1")
        refused = await api.get("/count")
        assert (refused.status, refused.body) == (503, "sorry: StoreUnavailable")


async def test_a_read_only_replica_is_a_503_naming_it_and_resumes(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(count, read, **options(redis.url)) as api:
        await api.get("/count")
        # A primary that does not exist: the server turns replica and refuses writes.
        command(redis, "REPLICAOF", "127.0.0.1", str(free_loopback_port()))
        assert (await api.get("/read")).body == {"views": 1}  # reads still served
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await api.get("/count")
        assert refused.status == 503
        assert "read-only replica" in caplog.text
        command(redis, "REPLICAOF", "NO", "ONE")
        assert (await api.get("/count")).body == {"views": 2}


async def test_a_replica_cut_off_from_its_primary_is_a_503_even_to_read(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(count, read, **options(redis.url)) as api:
        await api.get("/count")
        command(redis, "CONFIG", "SET", "replica-serve-stale-data", "no")
        command(redis, "REPLICAOF", "127.0.0.1", str(free_loopback_port()))
        with caplog.at_level(logging.ERROR, logger="porch"):
            refused = await api.get("/read")
        assert refused.status == 503
        assert "MASTERDOWN" in caplog.text
        command(redis, "REPLICAOF", "NO", "ONE")
        assert (await api.get("/read")).body == {"views": 1}


async def test_a_password_changed_under_the_app_is_a_503_naming_it_and_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_redis(password="first-secret")
    try:
        url = f"redis://:first-secret@127.0.0.1:{server.port}/0"
        async with run(count, **options(url)) as api:
            await api.get("/count")
            command(server, "CONFIG", "SET", "requirepass", "second-secret")
            server.password = "second-secret"
            # Drop porch's connection: it reconnects with the old password.
            ask(server.port, "CLIENT", "KILL", "TYPE", "normal", password=server.password)
            with caplog.at_level(logging.ERROR, logger="porch"):
                refused = await api.get("/count")
            assert refused.status == 503
            assert "password" in caplog.text and "first-secret" not in caplog.text
            command(server, "CONFIG", "SET", "requirepass", "first-secret")
            server.password = "first-secret"
            assert (await api.get("/count")).body == {"views": 2}
    finally:
        server.remove()


async def test_a_script_holding_redis_is_a_503_naming_it_and_resumes(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(count, **options(redis.url)) as api:
        await api.get("/count")
        command(redis, "CONFIG", "SET", "busy-reply-threshold", "10")
        spinning = subprocess.Popen(
            [binary("redis-cli"), "-p", str(redis.port), "EVAL", "while true do end", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with caplog.at_level(logging.ERROR, logger="porch"):
                refused = await api.get("/count")
                while refused.status == 200:  # the script had not started yet
                    refused = await api.get("/count")
            assert refused.status == 503
            assert "busy running a script" in caplog.text
        finally:
            subprocess.run(
                [binary("redis-cli"), "-p", str(redis.port), "SCRIPT", "KILL"],
                capture_output=True,
                check=False,
            )
            spinning.wait()
        assert (await api.get("/count")).status == 200


@pytest.mark.parametrize("through", ["url", "client"])
async def test_every_store_call_turns_a_refusal_into_store_unavailable(
    redis: RedisServer, through: str
) -> None:
    """The shared connection (a URL) and redis-py's pool (a client passed in) alike."""
    client = Redis.from_url(redis.url)
    store = RedisStore(redis.url if through == "url" else client)
    await store.open()
    try:
        key = new_key()
        await store.save(key, created(**{USER: "ada"}), deleted=(), ttl=60)
        command(redis, "REPLICAOF", "127.0.0.1", str(free_loopback_port()))
        calls = {
            "save": store.save(key, {"a": 1}, deleted=(), ttl=60),
            "touch": store.touch(key, 60),
            "destroy": store.destroy(key),
            "regenerate": store.regenerate(key, new_key(), created(), 60),
            "destroy_user": store.destroy_user("ada"),
        }
        for call in calls.values():
            with pytest.raises(StoreUnavailable, match="read-only replica"):
                await call
        command(redis, "REPLICAOF", "NO", "ONE")
        await store.save(key, {"a": 1}, deleted=(), ttl=60)
        assert (await store.load(key) or {}).get("a") == 1
    finally:
        await store.close()
        await client.aclose()
