"""Sessions in production, as the tutorial promises: SECRET + REDIS_URL (or SQLite) over HTTP.

Each test talks to the real server and a real redis-server of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

from porch import get, run
from porch.context import Context
from porch.session.stores.redis import RedisStore
from porch.session.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, start_redis
    from tests.serve_process import serving
else:
    from redis_server import RedisServer, start_redis
    from serve_process import serving

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "production-secret-" + "x" * 30

COUNTER_APP = """
import os
from porch import get, server

@get('/')
def counter(ctx):
    ctx.session['views'] = ctx.session.get('views', 0) + 1
    return {'views': ctx.session['views'], 'worker': os.getpid()}

app = server(counter)
"""


@get("/")
def counter(ctx: Context) -> dict[str, int]:
    ctx.session["views"] = ctx.session.get("views", 0) + 1
    return {"views": ctx.session["views"]}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> str:
    """The tutorial's two variables, as a user sets them."""
    monkeypatch.setenv("SECRET", SECRET)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    return redis_server.url


def session_header(api: Any) -> dict[str, str]:
    return {"cookie": f"session={api.cookies['session']}"}


async def test_redis_url_alone_picks_the_redis_store(production: str) -> None:
    async with run(counter) as api:
        assert (await api.get("/")).body == {"views": 1}
    from porch import server

    assert isinstance(server(counter).store, RedisStore)


async def test_the_count_goes_on_across_a_restart_on_redis(production: str) -> None:
    async with run(counter) as api:
        assert [(await api.get("/")).body["views"] for _ in range(2)] == [1, 2]
        cookie = session_header(api)
    async with run(counter) as restarted:  # a new app: new process state, same Redis
        assert (await restarted.get("/", headers=cookie)).body == {"views": 3}


async def test_the_count_goes_on_across_a_restart_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    monkeypatch.setenv("SECRET", SECRET)
    monkeypatch.setenv("SESSION_STORE", "sqlite:///sessions.db")
    async with run(counter) as api:
        assert isinstance(api, object)
        assert [(await api.get("/")).body["views"] for _ in range(2)] == [1, 2]
        cookie = session_header(api)
    assert (isolated_environment / "sessions.db").exists()
    async with run(counter) as restarted:
        assert (await restarted.get("/", headers=cookie)).body == {"views": 3}


async def test_concurrent_requests_on_redis_keep_every_change(production: str) -> None:
    @get("/slow/:name")
    async def slow(ctx: Context) -> str:
        ctx.session.get("views")
        await asyncio.sleep(0.2)
        ctx.session[ctx.params["name"]] = ctx.params["name"]
        return "ok"

    async with run(counter, slow, read) as api:
        await api.get("/")
        names = [f"tab{number}" for number in range(8)]
        await asyncio.gather(*(api.get(f"/slow/{name}") for name in names))
        assert (await api.get("/read")).body == {"views": 1, **{name: name for name in names}}


async def test_logout_on_redis_is_final_against_a_slower_request(production: str) -> None:
    loaded, logged_out = asyncio.Event(), asyncio.Event()

    @get("/slow")
    async def slow(ctx: Context) -> str:
        ctx.session.get("views")
        loaded.set()
        await logged_out.wait()
        ctx.session["resurrected"] = True
        return "late"

    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        return "bye"

    async with run(counter, slow, logout, read) as api:
        await api.get("/")
        cookie = session_header(api)
        late = asyncio.create_task(api.get("/slow", headers=cookie))
        await loaded.wait()
        await api.get("/logout", headers=cookie)
        logged_out.set()
        assert (await late).status == 200
        assert (await api.get("/read", headers=cookie)).body == {}


class Monitor:
    """Redis MONITOR in a thread: every command the server receives, as text."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.commands: list[str] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        with self.client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self.ready.set()
            for event in monitor.listen():
                command = str(event.get("command", ""))
                if "porch-monitor-stop" in command:
                    return
                if event.get("client_type") == "lua":
                    continue  # what a script runs inside Redis: not a round trip
                if command.split(" ", 1)[0].upper() in CONNECTION_COMMANDS:
                    continue
                self.commands.append(command)

    def __enter__(self) -> Monitor:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.echo("porch-monitor-stop")
        self.thread.join(10)
        self.client.close()

    def settle(self, marker: str) -> list[str]:
        """Commands seen up to now (an ECHO marks the point, so none are still in flight)."""
        self.client.echo(marker)
        deadline = time.monotonic() + 5
        while not any(marker in command for command in self.commands):
            if time.monotonic() > deadline:
                pytest.fail("MONITOR did not see the marker")
            time.sleep(0.01)
        index = next(i for i, command in enumerate(self.commands) if marker in command)
        seen, self.commands = self.commands[:index], self.commands[index + 1 :]
        return seen


CONNECTION_COMMANDS = frozenset({"HELLO", "CLIENT", "PING", "SELECT", "AUTH"})
WRITES = frozenset({"EVALSHA", "EVAL", "HSET", "HDEL", "SET", "DEL", "EXPIRE", "PEXPIRE", "SADD"})


def word(command: str) -> str:
    return command.split(" ", 1)[0].strip('"').upper()


def is_write(command: str) -> bool:
    return word(command) in WRITES


async def test_monitor_shows_one_read_no_write_for_an_unchanged_session_and_no_raw_id(
    production: str,
) -> None:
    async with run(counter, read) as api:
        await api.get("/")  # warm up: the pool connects, the scripts are loaded
        api.cookies.clear()
        with Monitor(production) as monitor:
            await api.get("/")
            first_visit = monitor.settle("after-first")
            await api.get("/")
            write_path = monitor.settle("after-write")
            for _ in range(3):
                await api.get("/read")
            read_path = monitor.settle("after-reads")
        session_id = api.cookies["session"].rpartition(".")[0]
    everything = first_visit + write_path + read_path
    assert all(session_id not in command for command in everything)
    assert [word(command) for command in first_visit] == ["EVALSHA"]  # new visitor: no load
    assert [word(command) for command in write_path] == ["HGETALL", "EVALSHA"]  # load, save
    assert [word(command) for command in read_path] == ["HGETALL"] * 3  # no write at all
    assert not any(is_write(command) for command in read_path)


async def test_an_unreachable_redis_is_a_503_and_service_resumes_without_a_restart(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    monkeypatch.setenv("SECRET", SECRET)
    monkeypatch.setenv("REDIS_URL", redis.url)
    async with run(counter, session={"timeout": 1}) as api:
        assert (await api.get("/")).body == {"views": 1}
        redis.stop()
        with caplog.at_level(logging.ERROR, logger="porch"):
            down = await asyncio.wait_for(api.get("/"), timeout=15)
        assert down.status == 503
        assert "RedisStore" in caplog.text or "Redis" in caplog.text
        redis.start()  # same port; this Redis keeps nothing on disk
        back = await api.get("/")
        assert back.status == 200
        assert back.body == {"views": 1}  # a fresh session: the old data died with Redis


async def test_a_hung_redis_is_a_503_within_the_timeout_and_service_resumes(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    redis: RedisServer,
) -> None:
    """A Redis that accepts connections but never answers (SIGSTOP): no hang, a 503.

    porch skips its redis timeout scope for a RedisStore it built, because the
    client's socket timeouts bound every connect and reply; this proves they do.
    """
    monkeypatch.setenv("SECRET", SECRET)
    monkeypatch.setenv("REDIS_URL", redis.url)
    async with run(counter, session={"timeout": 0.5}) as api:
        assert (await api.get("/")).body == {"views": 1}
        assert redis.process is not None
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            with caplog.at_level(logging.ERROR, logger="porch"):
                hung = await asyncio.wait_for(api.get("/"), timeout=15)  # a hang guard only
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        assert hung.status == 503
        # The 503 comes from the session.timeout of 0.5 s, not from a refused
        # connection and not from the hang guard above.
        assert "Redis session store" in caplog.text
        assert "(no reply within 0.5 s)" in caplog.text
        back = await api.get("/")
        assert (back.status, back.body) == (200, {"views": 2})  # nothing was lost


def count_across_workers(url: str, most: int = 400) -> tuple[list[int], set[int]]:
    """A browser with one cookie, a fresh connection per request, until both workers served it.

    Which worker accepts a connection is the kernel's choice, so keep asking
    (up to ``most`` requests) rather than assume an even split.
    """
    views: list[int] = []
    workers: set[int] = set()
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, limits=limits) as browser:
        while len(views) < 20 or (len(workers) < 2 and len(views) < most):
            body = browser.get("/").json()
            views.append(body["views"])
            workers.add(body["worker"])
    return views, workers


@pytest.mark.parametrize("store", ["redis", "sqlite"])
def test_the_count_climbs_across_two_workers(
    store: str, redis_server: RedisServer, isolated_environment: Path
) -> None:
    (isolated_environment / "app.py").write_text(COUNTER_APP)
    env = {"SECRET": SECRET}
    env |= (
        {"REDIS_URL": redis_server.url}
        if store == "redis"
        else {"SESSION_STORE": f"sqlite:///{isolated_environment / 'sessions.db'}"}
    )
    with serving("app:app", "--workers", "2", env=env) as url:
        views, workers = count_across_workers(url)
    assert views == list(range(1, len(views) + 1))
    assert len(workers) == 2, "both workers should have served this browser"


def test_sqlite_store_url_is_relative_to_the_working_directory(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from porch import server

    monkeypatch.setenv("SESSION_STORE", "sqlite:///sessions.db")
    assert isinstance(server(counter, env="test").store, SQLiteStore)


def porch_sessions(action: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "porch", "sessions", action, "app:app"],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_sessions_count_and_purge_on_the_configured_store(
    isolated_environment: Path, redis_server: RedisServer, each_server: str
) -> None:
    (isolated_environment / "app.py").write_text(COUNTER_APP)
    database = 3 if each_server == "granian" else 4  # a db of its own, for each run
    for env in (
        {"SESSION_STORE": "sqlite:///sessions.db"},
        {"REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/{database}"},
    ):
        full_env = {**os.environ, "SECRET": SECRET, **env}
        with serving("app:app", env=env | {"SECRET": SECRET}) as url:
            for _ in range(3):
                httpx.get(url + "/")  # three browsers, one session each

        assert porch_sessions("count", full_env) == "3", env
        assert porch_sessions("purge", full_env) == "0", env  # nothing has expired yet
