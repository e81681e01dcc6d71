"""Start-up says whether the store answered; the ``health`` option serves liveness and readiness."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from porch import get, run, server
from porch.context import Context
from porch.errors import ConfigError
from porch.session.stores import Store

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, free_loopback_port
else:
    from redis_server import RedisServer, free_loopback_port


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/plain")
def plain(ctx: Context) -> str:
    return "no session here"


def store_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if "The session store" in record.getMessage()]


# --- start-up ---


async def test_an_unreachable_redis_is_logged_at_start_up_and_the_app_still_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_loopback_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(counter, plain) as api:
            assert (await api.get("/plain")).status == 200  # routes without the session work
            assert (await api.get("/")).status == 503
    (line,) = store_lines(caplog)
    assert line.levelno == logging.WARNING
    message = line.getMessage()
    assert "did not answer at start-up; porch starts anyway" in message
    assert "Requests that use the session answer 503" in message
    assert "127.0.0.1" in message and "hunter2" not in message


async def test_a_redis_that_answers_is_logged_at_start_up(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(counter) as api:
            assert (await api.get("/")).body == {"views": 1}
    (line,) = store_lines(caplog)
    assert line.levelno == logging.INFO
    assert "answered in" in line.getMessage() and "RedisStore" in line.getMessage()


async def test_a_sqlite_store_is_checked_at_start_up_too(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(counter, session={"store": "sqlite:///sessions.db"}) as api:
            assert (await api.get("/")).body == {"views": 1}
    (line,) = store_lines(caplog)
    assert "SQLiteStore" in line.getMessage() and "answered in" in line.getMessage()


async def test_the_memory_store_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(counter) as api:
            assert (await api.get("/")).status == 200
    assert store_lines(caplog) == []


async def test_a_redis_database_that_does_not_exist_is_logged_as_an_error(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis has 16 databases unless configured: the URL is well-formed, the answer is an error."""
    missing_database = redis_url.rpartition("/")[0] + "/99"
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(plain, session={"store": missing_database}) as api:
            assert (await api.get("/plain")).status == 200
    (line,) = store_lines(caplog)
    assert line.levelno == logging.ERROR
    assert "answered with an error at start-up" in line.getMessage()
    assert "DB index is out of range" in line.getMessage()


class HungStore(Store):
    """A store whose reads never return: a backend that accepts and never answers."""

    async def load(self, key: str) -> dict[str, Any] | None:
        await asyncio.Event().wait()
        return None

    async def save(self, key: str, changes: Any, deleted: Any, ttl: int) -> None:
        return None

    async def touch(self, key: str, ttl: int) -> None:
        return None

    async def destroy(self, key: str) -> None:
        return None


async def test_a_store_that_never_answers_is_bounded_at_start_up_and_in_readiness(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="porch"):
        async with run(plain, health=True, session={"store": HungStore(), "timeout": 0.2}) as api:
            (line,) = store_lines(caplog)
            assert "No answer within 2 s" in line.getMessage()
            assert (await api.get("/health/ready")).status == 503
            assert (await api.get("/plain")).status == 200


# --- the health option ---


async def test_health_is_off_by_default() -> None:
    async with run(plain) as api:
        assert (await api.get("/health")).status == 404
        assert (await api.get("/health/ready")).status == 404


async def test_liveness_and_readiness_with_a_store_that_answers(redis_url: str) -> None:
    async with run(counter, health="/health", session={"store": redis_url}) as api:
        live = await api.get("/health")
        assert (live.status, live.body) == (200, {"status": "ok"})
        assert live.headers["cache-control"] == "no-store"
        assert "set-cookie" not in live.headers
        ready = await api.get("/health/ready")
        assert (ready.status, ready.body) == (200, {"status": "ok", "store": "ok"})
        assert (await api.head("/health/ready")).status == 200


async def test_readiness_follows_the_store_down_and_back_up(
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    async with run(counter, health=True, session={"store": redis.url, "timeout": 1}) as api:
        assert (await api.get("/health/ready")).status == 200
        redis.stop()
        with caplog.at_level(logging.WARNING, logger="porch"):
            down = await api.get("/health/ready")
        assert down.status == 503
        assert down.body == {"status": "unavailable", "store": "unavailable"}
        assert "the session store is not ready" in caplog.text
        assert (await api.get("/health")).status == 200  # alive all the same
        redis.start()
        assert (await api.get("/health/ready")).status == 200


async def test_readiness_with_an_unreachable_store_from_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_loopback_port()}/0")
    monkeypatch.setenv("HEALTH", "/status")
    async with run(plain) as api:
        assert (await api.get("/status")).status == 200
        assert (await api.get("/status/ready")).status == 503
        assert (await api.get("/health")).status == 404


async def test_health_answers_before_the_host_check_and_csrf() -> None:
    """A load balancer probes by IP address, without cookies or tokens."""
    async with run(plain, health="/health", security={"hosts": ["example.com"]}) as api:
        assert (await api.get("/plain")).status == 400  # the host check is on
        assert (await api.get("/health")).status == 200
        assert (await api.get("/health/ready")).status == 200
        assert (await api.post("/health")).status == 405


async def test_readiness_without_sessions_is_liveness() -> None:
    async with run(plain, health="/health", session=False) as api:
        assert (await api.get("/health/ready")).body == {"status": "ok"}


@pytest.mark.parametrize("value", ["health", "/", "/a b", "/health?x=1", 3, ["/health"]])
def test_a_bad_health_path_stops_start_up(value: Any) -> None:  # Any: wrong types too
    with pytest.raises(ConfigError, match=r"^option 'health' is .*; accepted: a path such as"):
        server(plain, health=value)


@pytest.mark.parametrize(
    ("value", "path"), [("true", "/health"), ("/live/", "/live"), ("off", None), ("0", None)]
)
def test_the_health_variable(value: str, path: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH", value)
    assert server(plain).options.health == path
