"""porch's benchmark: the session counter against the Python peers and the raw floor.

Run it with ``bench/run`` (which installs wrk, the peers' virtualenv and porch's
own, then calls this file with the peers' Python). What it does, in order:

1. starts a private redis-server on a free loopback port (never the shared one);
2. for each scenario, serves each app under uvicorn (uvloop + httptools, no
   access log) on a free loopback port, with 1 worker and then 2;
3. before timing, checks the app: a client keeping its cookie sees 1, 2, 3;
   then creates one session per wrk connection (the cookie pool, see cookie.lua);
4. warms up, then drives the app with ``wrk -t2 -c50 -d10s --latency -s
   bench/cookie.lua``, and checks afterwards that no request failed and that the
   store holds about one session per connection, not one per request;
5. alternates the apps over the rounds (the machine is noisy) and keeps each
   app's best run; the memory and scale comparisons, whose margins are smaller
   than that noise, are interleaved instead (see SLICE_SECONDS);
6. scale: porch with 1,000,000 sessions already in Redis and in SQLite,
   interleaved with the same store empty;
7. records the Redis commands of each request kind (MONITOR) and profiles
   porch's counter under load with py-spy;
8. prints the tables and writes docs/benchmarks.md and docs/benchmarks.png.

Raw outputs (wrk lines, server logs, the speedscope profile) go to bench/results/.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APPS = BENCH / "apps"
RESULTS = BENCH / "results"
DOCS = ROOT / "docs"
PORCH_PYTHON = ROOT / ".venv" / "bin" / "python"
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
PY_SPY = BENCH / ".venv-peers" / "bin" / "py-spy"
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
]
# The memory and scale sections compare figures whose targets leave a margin
# smaller than this machine's run-to-run noise (a slow spell lasts tens of
# seconds, and moved a 10 s run by up to half). So they interleave: every server
# of the comparison is up at once, and wrk drives them in turn, SLICE_SECONDS
# each, the order reversed every cycle. Each cycle gives one ratio of two runs a
# few seconds apart; the section reports the median of SLICE_CYCLES such ratios.
SLICE_SECONDS = 3
SLICE_CYCLES = 10
# Variables that could point an app at a store we did not start (e.g. the shared Redis).
STORE_VARIABLES = ("REDIS_URL", "SESSION_STORE", "SECRET", "SESSION_SECRET", "ENV", "PORT")


# --- settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    duration: int
    warmup: int
    rounds: int
    threads: int
    connections: int
    scale_sessions: int
    workers: tuple[int, ...]
    sections: frozenset[str]
    quick: bool

    @property
    def slice_seconds(self) -> int:
        """Seconds per wrk run in the interleaved sections (see SLICE_SECONDS)."""
        return min(SLICE_SECONDS, self.duration)

    @property
    def slice_cycles(self) -> int:
        """Cycles of the interleaved sections: each app once per cycle (see SLICE_CYCLES)."""
        return 3 if self.quick else SLICE_CYCLES

    @property
    def wrk_command(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.duration}s --latency "
            "-s bench/cookie.lua <url> -- <threads> <one cookie per connection>"
        )


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a ~3-minute pass: 3 s runs, one round, 100,000 sessions at scale",
    )
    parser.add_argument("--duration", type=int, help="seconds per timed wrk run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of untimed wrk before each run (2)")
    parser.add_argument("--rounds", type=int, help="rounds, alternating the app order (2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument(
        "--scale-sessions",
        type=int,
        help="pre-existing sessions for the scale scenario (1,000,000)",
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (1,2)")
    parser.add_argument(
        "--only",
        default="redis,memory,sqlite,scale,monitor,profile",
        help="sections to run, comma-separated (default: all of "
        "redis,memory,sqlite,scale,monitor,profile)",
    )
    options = parser.parse_args(argv)
    quick = options.quick
    return Settings(
        duration=options.duration or (3 if quick else 10),
        warmup=options.warmup if options.warmup is not None else (1 if quick else 2),
        rounds=options.rounds or (1 if quick else 2),
        threads=options.threads,
        connections=options.connections,
        scale_sessions=options.scale_sessions or (100_000 if quick else 1_000_000),
        workers=tuple(int(count) for count in options.workers.split(",")),
        sections=frozenset(options.only.split(",")),
        quick=quick,
    )


# --- processes and ports -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, with the workers it forked (its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class RedisServer:
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self, name: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install redis-server")
        self.port = free_port()
        self.name = name
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)


# --- apps ----------------------------------------------------------------------------


@dataclass
class Store:
    """Where an app keeps its sessions, and how to reset and count them."""

    kind: str  # redis, memory, sqlite, none
    redis: RedisServer | None = None
    directory: Path | None = None
    preloaded: int = 0

    def reset(self) -> None:
        if self.kind == "redis" and self.redis is not None and not self.preloaded:
            self.redis.client.flushdb()
        if self.kind == "sqlite" and self.directory is not None and not self.preloaded:
            for path in self.directory.glob("*.db*"):
                path.unlink()

    def count(self) -> int | None:
        """Sessions (Redis keys, SQLite rows) held now; None when the store cannot be seen."""
        if self.kind == "redis" and self.redis is not None:
            return int(self.redis.client.dbsize())
        if self.kind == "sqlite" and self.directory is not None:
            import sqlite3

            total = 0
            for path in self.directory.glob("*.db"):
                db = sqlite3.connect(path)
                try:
                    for (table,) in db.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    ).fetchall():
                        total += db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                finally:
                    db.close()
            return total
        return None


@dataclass
class App:
    name: str
    command: Callable[[int, int], list[str]]
    environment: Callable[[Store], dict[str, str]]
    checks_climb: bool = True  # a counter (1, 2, 3); False for the hello world

    def start(self, port: int, workers: int, store: Store, log: Path) -> subprocess.Popen[bytes]:
        environment = {
            key: value for key, value in os.environ.items() if key not in STORE_VARIABLES
        }
        environment.update(self.environment(store))
        with log.open("ab") as output:
            return subprocess.Popen(
                self.command(port, workers),
                env=environment,
                cwd=tempfile.gettempdir(),  # no .env, no public/ folder of this checkout
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def listening(port: int, workers: int) -> list[str]:
    """The flags every server here takes alike: loopback, the port, the workers."""
    return ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def uvicorn(python: Path, target: str) -> Callable[[int, int], list[str]]:
    def command(port: int, workers: int) -> list[str]:
        return [
            str(python),
            "-m",
            "uvicorn",
            target,
            "--app-dir",
            str(APPS),
            *listening(port, workers),
            *UVICORN_FLAGS,
        ]

    return command


def aiohttp_command(port: int, workers: int) -> list[str]:
    return [str(PEERS_PYTHON), str(APPS / "aiohttp_counter.py"), *listening(port, workers)]


def porch_serve(target: str) -> Callable[[int, int], list[str]]:
    """``porch serve``: uvicorn as porch starts it (uvloop and httptools when installed,
    uvicorn's access log off for porch's own line)."""

    def command(port: int, workers: int) -> list[str]:
        return [str(PORCH_PYTHON), "-m", "porch", "serve", target, *listening(port, workers)]

    return command


def redis_environment(store: Store) -> dict[str, str]:
    assert store.redis is not None
    return {"REDIS_URL": store.redis.url, "SECRET": SECRET}


def porch_sqlite_environment(store: Store) -> dict[str, str]:
    assert store.directory is not None
    return {
        "SESSION_STORE": f"sqlite:///{store.directory / 'sessions.db'}",
        "SECRET": SECRET,
    }


def floor_sqlite_environment(store: Store) -> dict[str, str]:
    assert store.directory is not None
    return {"FLOOR_SQLITE": str(store.directory / "floor.db")}


# porch runs with its defaults (LOG=info) under the same uvicorn flags as every
# server: it follows uvicorn's --no-access-log, so no app in the tables writes a
# line per request. The memory section also times porch under `porch serve`, where
# porch's own access line is on (its default), to show what that line costs.
PORCH = App("porch", uvicorn(PORCH_PYTHON, "porch_counter:app"), redis_environment)
PORCH_ASYNC = App(
    "porch, counter as async def",
    uvicorn(PORCH_PYTHON, "porch_counter_async:app"),
    redis_environment,
)
FLOOR = App("bare ASGI floor", uvicorn(PEERS_PYTHON, "floor_redis:app"), redis_environment)
STARLETTE = App(
    "Starlette + starsessions", uvicorn(PEERS_PYTHON, "starlette_counter:app"), redis_environment
)
AIOHTTP = App("aiohttp + aiohttp-session", aiohttp_command, redis_environment)
LITESTAR = App("Litestar", uvicorn(PEERS_PYTHON, "litestar_counter:app"), redis_environment)
PORCH_MEMORY = App(
    "porch (memory)",
    uvicorn(PORCH_PYTHON, "porch_counter:app"),
    lambda store: {"SESSION_STORE": "memory://", "SECRET": SECRET},
)
PORCH_MEMORY_LOGGING = App(
    "porch (memory, porch serve: access line on)",
    porch_serve("porch_counter:app"),
    lambda store: {"SESSION_STORE": "memory://", "SECRET": SECRET, "PYTHONPATH": str(APPS)},
)
HELLO = App(
    "bare ASGI hello world",
    uvicorn(PEERS_PYTHON, "floor_hello:app"),
    lambda store: {},
    checks_climb=False,
)
PORCH_SQLITE = App(
    "porch (SQLite)", uvicorn(PORCH_PYTHON, "porch_counter:app"), porch_sqlite_environment
)
FLOOR_SQLITE = App(
    "bare ASGI SQLite floor", uvicorn(PEERS_PYTHON, "floor_sqlite:app"), floor_sqlite_environment
)
PORCH_MONITOR = App("porch", uvicorn(PORCH_PYTHON, "porch_monitor:app"), redis_environment)


# --- the client side -------------------------------------------------------------------


class Visitor:
    """One browser: keeps the cookies the app sets, sends them back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.jar: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())

    def get(self, path: str = "/", *, cookie: str | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {}
            sent = self.cookie_header if cookie is None else cookie
            if sent:
                headers["Cookie"] = sent
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            for header in response.headers.get_all("set-cookie") or []:
                pair = header.split(";", 1)[0]
                name, _, value = pair.partition("=")
                expired = re.search(r"max-age=0\b", header, re.IGNORECASE) or not value
                if expired:
                    self.jar.pop(name.strip(), None)
                else:
                    self.jar[name.strip()] = value.strip().strip('"')
            content = json.loads(body) if body[:1] in (b"{", b"[") else body.decode()
            return response.status, content
        finally:
            connection.close()


def wait_until_answers(port: int, process: subprocess.Popen[bytes]) -> None:
    wait_for_port(port, 30, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            Visitor(port).get("/__bench_ready__")
            return
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


def check_counter(app: App, port: int) -> None:
    """A client with a cookie jar sees 1, 2, 3 (or, for the hello world, a 200)."""
    visitor = Visitor(port)
    seen = [visitor.get("/") for _ in range(3)]
    if not app.checks_climb:
        if any(status != 200 for status, _ in seen):
            raise RuntimeError(f"{app.name}: expected 200s, got {seen}")
        return
    views = [body.get("views") if isinstance(body, dict) else body for _, body in seen]
    if [status for status, _ in seen] != [200, 200, 200] or views != [1, 2, 3]:
        raise RuntimeError(f"{app.name}: a cookie-keeping client should see 1, 2, 3; got {seen}")


def check_climbed(app: App, port: int, cookie: str) -> None:
    """After the timed runs, a pooled session has counted on (a counter app only)."""
    if not app.checks_climb:
        return
    status, body = Visitor(port).get("/", cookie=cookie)
    if status != 200 or not isinstance(body, dict) or int(body.get("views", 0)) < 3:
        raise RuntimeError(f"{app.name}: a pooled session did not climb: {body!r}")


def cookie_pool(app: App, port: int, count: int) -> list[str]:
    """One fresh session per wrk connection: the Cookie header each one sends back."""
    pool = []
    for _ in range(count):
        visitor = Visitor(port)
        status, _ = visitor.get("/")
        if status != 200:
            raise RuntimeError(f"{app.name}: creating a session answered {status}")
        if app.checks_climb and not visitor.jar:
            raise RuntimeError(f"{app.name}: the first visit set no cookie")
        pool.append(visitor.cookie_header or "none=1")
    return pool


@dataclass
class Run:
    app: str
    scenario: str
    workers: int
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    sessions_after: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @classmethod
    def from_wrk(
        cls,
        result: dict[str, Any],
        app: App,
        scenario: str,
        workers: int,
        round_number: int,
        **fields: Any,
    ) -> Run:
        """A run from wrk's result line (bench/cookie.lua): counts, seconds, percentiles."""
        return cls(
            app=app.name,
            scenario=scenario,
            workers=workers,
            round=round_number,
            requests=result["requests"],
            seconds=result["duration_us"] / 1e6,
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            errors={
                key.removeprefix("errors_"): value
                for key, value in result.items()
                if key.startswith("errors_") and value
            },
            **fields,
        )


def wrk(port: int, cookies: list[str], settings: Settings, seconds: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(BENCH / "cookie.lua"),
        f"http://127.0.0.1:{port}/",
        "--",
        str(settings.threads),
        *cookies,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    with (RESULTS / "wrk.log").open("a") as log:
        log.write(f"$ wrk ... {seconds}s port {port}\n{finished.stdout}{finished.stderr}\n")
    line = next((line for line in finished.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


@contextlib.contextmanager
def serving(app: App, store: Store, workers: int) -> Iterator[int]:
    port = free_port()
    log = RESULTS / "servers.log"
    with log.open("a") as output:
        output.write(f"\n=== {app.name}, {workers} worker(s), port {port}\n")
    process = app.start(port, workers, store, log)
    try:
        wait_until_answers(port, process)
        yield port
    finally:
        stop_group(process)


def measure(
    app: App,
    store: Store,
    workers: int,
    settings: Settings,
    *,
    scenario: str,
    round_number: int,
    label: str = "",
) -> Run:
    store.reset()
    load_before = os.getloadavg()[0]
    with serving(app, store, workers) as port:
        sessions_before = store.count()
        check_counter(app, port)
        cookies = cookie_pool(app, port, settings.connections)
        if settings.warmup:
            wrk(port, cookies, settings, settings.warmup)
        result = wrk(port, cookies, settings, settings.duration)
        sessions_after = store.count()
        if sessions_after is not None and sessions_before is not None:
            sessions_after -= sessions_before  # the sessions this run created
        check_climbed(app, port, cookies[0])
    run = Run.from_wrk(
        result,
        app,
        scenario,
        workers,
        round_number,
        sessions_after=sessions_after,
        extra={"load": load_before},
    )
    verdict = check_run(run, settings)
    print(
        f"  {label or app.name:<28} {workers}w round {round_number}: {run.rps:8.0f} req/s  "
        f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  sessions {sessions_after}"
        f"{'  ' + verdict if verdict else ''}",
        flush=True,
    )
    return run


def check_run(run: Run, settings: Settings) -> str:
    """Failed requests, or one session per request instead of per connection, void a run."""
    problems = []
    if run.errors:
        problems.append(f"errors {run.errors}")
    if run.sessions_after is not None and run.sessions_after > settings.connections + 10:
        problems.append(
            f"{run.sessions_after} sessions after the run for {settings.connections} connections: "
            "the app does not keep the session of a returning cookie"
        )
    if problems:
        raise RuntimeError(f"{run.app}, {run.workers} worker(s): " + "; ".join(problems))
    return ""


def alternate(apps: list[App], round_number: int) -> list[App]:
    return apps if round_number % 2 == 0 else list(reversed(apps))


def run_scenario(
    name: str,
    apps: list[App],
    stores: dict[str, Store],
    settings: Settings,
    worker_counts: tuple[int, ...],
) -> list[Run]:
    print(f"\n== {name}", flush=True)
    runs = []
    for round_number in range(1, settings.rounds + 1):
        for workers in worker_counts:
            for app in alternate(apps, round_number - 1):
                runs.append(
                    measure(
                        app,
                        stores[app.name],
                        workers,
                        settings,
                        scenario=name,
                        round_number=round_number,
                    )
                )
    return runs


@dataclass
class Contender:
    """One server of an interleaved comparison: its label in the tables, app and store."""

    label: str
    app: App
    store: Store


def interleave(
    scenario: str, contenders: list[Contender], workers: int, settings: Settings
) -> list[Run]:
    """Every contender's server up at once, driven by wrk in turn (see SLICE_SECONDS).

    Cycle ``n`` gives one run per contender, all within a few seconds, in an order
    reversed every other cycle: a ratio of two runs of one cycle saw the same
    machine. The same checks as ``measure``: the counter climbs before timing, no
    request fails, and a store holds one session per connection, not per request.
    """
    for contender in contenders:
        contender.store.reset()
    runs: list[Run] = []
    with contextlib.ExitStack() as servers:
        ports: dict[str, int] = {}
        pools: dict[str, list[str]] = {}
        before: dict[str, int | None] = {}
        for contender in contenders:
            port = servers.enter_context(serving(contender.app, contender.store, workers))
            before[contender.label] = contender.store.count()
            check_counter(contender.app, port)
            ports[contender.label] = port
            pools[contender.label] = cookie_pool(contender.app, port, settings.connections)
            if settings.warmup:
                wrk(port, pools[contender.label], settings, settings.warmup)
        for cycle in range(1, settings.slice_cycles + 1):
            ordered = contenders if cycle % 2 else list(reversed(contenders))
            for contender in ordered:
                load_before = os.getloadavg()[0]
                port = ports[contender.label]
                result = wrk(port, pools[contender.label], settings, settings.slice_seconds)
                run = Run.from_wrk(
                    result,
                    contender.app,
                    scenario,
                    workers,
                    cycle,
                    sessions_after=None,
                    extra={"load": load_before, "store": contender.label, "interleaved": True},
                )
                check_run(run, settings)
                runs.append(run)
        for contender in contenders:
            port = ports[contender.label]
            counted, started_with = contender.store.count(), before[contender.label]
            mine = [run for run in runs if run.extra["store"] == contender.label]
            if counted is not None and started_with is not None:
                for run in mine:  # the sessions all its slices created, checked once
                    run.sessions_after = counted - started_with
                check_run(mine[-1], settings)
            check_climbed(contender.app, port, pools[contender.label][0])
            rates = ", ".join(f"{run.rps:.0f}" for run in mine)
            print(
                f"  {contender.label:<44} {workers}w: median "
                f"{statistics.median(run.rps for run in mine):8.0f} req/s ({rates})",
                flush=True,
            )
    return runs


# --- scale: a store that already holds many sessions -------------------------------------


def preload_redis(server: RedisServer, count: int) -> None:
    started = time.monotonic()
    generate = subprocess.Popen(
        [str(PORCH_PYTHON), str(BENCH / "preload.py"), "redis", str(count)],
        stdout=subprocess.PIPE,
    )
    subprocess.run(
        ["redis-cli", "-p", str(server.port), "--pipe"],
        stdin=generate.stdout,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    if generate.wait() != 0:
        raise RuntimeError("preload.py redis failed")
    loaded = int(server.client.dbsize())
    if loaded != count:
        raise RuntimeError(f"preloaded {loaded} sessions into Redis, wanted {count}")
    print(f"  {count:,} sessions into Redis in {time.monotonic() - started:.0f} s", flush=True)


def preload_sqlite(path: Path, count: int) -> None:
    started = time.monotonic()
    subprocess.run(
        [str(PORCH_PYTHON), str(BENCH / "preload.py"), "sqlite", str(count), str(path)], check=True
    )
    print(f"  {count:,} sessions into SQLite in {time.monotonic() - started:.0f} s", flush=True)


def run_scale(settings: Settings, empty_redis: RedisServer, scratch: Path) -> list[Run]:
    """porch on an empty store and on one holding ``scale_sessions``, interleaved."""
    count = settings.scale_sessions
    print(f"\n== scale: porch with {count:,} sessions already stored", flush=True)
    runs: list[Run] = []
    full_redis = RedisServer("full")
    try:
        preload_redis(full_redis, count)
        full_directory = scratch / "sqlite-full"
        full_directory.mkdir()
        preload_sqlite(full_directory / "sessions.db", count)
        (scratch / "sqlite-empty").mkdir()
        cases = [
            [
                Contender("Redis, empty", PORCH, Store("redis", redis=empty_redis)),
                Contender(
                    f"Redis, {count:,} sessions",
                    PORCH,
                    Store("redis", redis=full_redis, preloaded=count),
                ),
            ],
            [
                Contender(
                    "SQLite, empty",
                    PORCH_SQLITE,
                    Store("sqlite", directory=scratch / "sqlite-empty"),
                ),
                Contender(
                    f"SQLite, {count:,} sessions",
                    PORCH_SQLITE,
                    Store("sqlite", directory=full_directory, preloaded=count),
                ),
            ],
        ]
        for workers in settings.workers:
            for contenders in cases:
                runs += interleave("scale", contenders, workers, settings)
    finally:
        full_redis.stop()
    return runs


# --- MONITOR: the Redis commands of one request -----------------------------------------


def record_monitor(server: RedisServer) -> list[tuple[str, list[str]]]:
    """The commands Redis saw for each kind of request, in steady state."""
    print("\n== MONITOR: Redis commands per request", flush=True)
    server.client.flushdb()
    store = Store("redis", redis=server)
    recorded: list[tuple[str, list[str]]] = []
    with serving(PORCH_MONITOR, store, 1) as port:
        warm = Visitor(port)
        warm.get("/")  # first use loads the Lua scripts (EVALSHA, SCRIPT LOAD): not per request
        warm.get("/")
        visitor = Visitor(port)
        requests: list[tuple[str, Callable[[], Any]]] = [
            ("GET / from a new visitor (no cookie): creates the session", lambda: visitor.get("/")),
            (
                "GET / with the session cookie: load, then save the changed key",
                lambda: visitor.get("/"),
            ),
            (
                "GET /peek with the session cookie: a read that changes nothing",
                lambda: visitor.get("/peek"),
            ),
            (
                "GET / with a tampered cookie: no store read, a new session",
                lambda: Visitor(port).get("/", cookie="session=forged.signature"),
            ),
        ]
        lines: list[str] = []
        monitor_client = redis.Redis(port=server.port)
        stop = threading.Event()

        def listen() -> None:
            with monitor_client.monitor() as monitor:  # type: ignore[no-untyped-call]
                for event in monitor.listen():
                    command = event["command"]
                    where = "  (inside the script)" if event.get("client_type") == "lua" else ""
                    lines.append(f"{command}{where}")
                    if stop.is_set():
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(0.3)
        for label, request in requests:
            lines.clear()
            request()
            time.sleep(0.3)
            recorded.append((label, [shorten(line) for line in lines]))
        stop.set()
        server.client.ping()  # wakes the listener so it can see stop
        listener.join(timeout=2)
    for label, commands in recorded:
        print(f"  {label}: {len(commands)} command(s)")
        for command in commands:
            print(f"      {command}")
    return recorded


def shorten(command: str) -> str:
    """Hide long script bodies and hashes so the record stays readable."""
    command = re.sub(r"[0-9a-f]{64}", lambda m: m.group(0)[:12] + "...", command)
    return command if len(command) < 200 else command[:197] + "..."


# --- profile: where porch's time goes ----------------------------------------------------


def profile_porch(app: App, store: Store, settings: Settings, name: str) -> dict[str, Any]:
    """py-spy samples the single worker while wrk drives it.

    ``--gil`` keeps only samples of the thread holding the GIL, i.e. Python work:
    the event loop waiting in epoll and idle pool threads are not counted.
    ``--nonblocking`` does not pause the process to sample, so the load stays real.
    """
    print(f"\n== profile: {app.name} under load (py-spy)", flush=True)
    store.reset()
    seconds = settings.duration
    raw = RESULTS / f"{name}.txt"
    speedscope = RESULTS / f"{name}.speedscope.json"
    sampling = ["--rate", "250", "--gil", "--nonblocking"]
    with serving(app, store, 1) as port:
        cookies = cookie_pool(app, port, settings.connections)
        wrk(port, cookies, settings, settings.warmup or 1)
        pid = server_pid(port)
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                *sampling,
                "--nolineno",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = wrk(port, cookies, settings, seconds)
        spy.wait(timeout=60)
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                "3",
                *sampling,
                "--format",
                "speedscope",
                "--output",
                str(speedscope),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(port, cookies, settings, 4)
        spy.wait(timeout=30)
    summary = summarise_profile(raw)
    summary["name"] = name
    summary["app"] = app.name
    summary["rps_while_profiled"] = result["requests"] / (result["duration_us"] / 1e6)
    print(f"  {summary['samples']} samples holding the GIL; top frames by self time:")
    for frame, share in summary["self"][:15]:
        print(f"    {share * 100:5.1f}%  {frame}")
    print("  inclusive:")
    for label, share in summary["inclusive"]:
        print(f"    {share * 100:5.1f}%  {label}")
    return summary


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (the one uvicorn worker)."""
    inode = None
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # LISTEN
            inode = fields[9]
            break
    if inode is None:
        raise RuntimeError(f"no listening socket on port {port}")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(proc.name)
    raise RuntimeError(f"no process holds the socket of port {port}")


# Inclusive shares worth showing beside the self-time list: the layers a request
# crosses, each a candidate for trimming.
INCLUSIVE = {
    "porch App.__call__ (all of porch, gzip included)": r"App\.__call__ \(porch/app\.py\)",
    "GZipMiddleware (compress pass-through, both layers)": r"\(starlette/middleware/gzip\.py\)",
    "App.respond (session, chain, reply)": r"App\.respond \(porch/app\.py\)",
    "Context.__init__ + cookies + headers": r"Context\.(__init__|cookies|headers) \(",
    "SessionLayer.load (cookie check + store load)": r"SessionLayer\.load \(porch/session/",
    "SessionLayer.commit (pending + store save + cookie)": r"SessionLayer\.commit \(porch/session/",
    "SessionLayer.call (a timeout only for stores that do not bound themselves)": (
        r"SessionLayer\.call \(porch/"
    ),
    "SessionLayer.verify (cookie check, memoised per cookie)": r"SessionLayer\.verify \(",
    "Signer.unsign (HMAC check)": r"Signer\.unsign \(",
    "session_key (SHA-256 of the id)": r"session_key \(porch/session/cookie\.py\)",
    "App.run_chain (routing and the handler)": r"App\.run_chain \(porch/app\.py\)",
    "Step.__call__ (the handler: inline when proven non-blocking, else a thread hop)": (
        r"Step\.__call__ \(porch/router\.py\)"
    ),
    "anyio / thread pool machinery": r"\(anyio/|\(concurrent/futures/|\(threading\.py\)",
    "the handler itself (counter)": r"counter \(.*porch_counter\.py\)",
    "to_response (JSON reply)": r"to_response \(porch/reply\.py\)",
    "Response (init + __call__)": r"Response\.(__init__|__call__|init_headers) \(",
    "RedisStore.load + save (porch side)": r"RedisStore\.(load|save|_run) \(",
    "Multiplexer (the shared Redis connection)": r"Multiplexer\.",
    "redis-py (client side of the round trips)": r"\(redis/",
    "MemoryStore": r"MemoryStore\.",
    "uvicorn httptools protocol (parse, send)": r"\(uvicorn/protocols/http/httptools_impl\.py\)",
    "asyncio event loop internals": r"\(asyncio/",
}


def summarise_profile(raw: Path) -> dict[str, Any]:
    """Self and inclusive time per frame, from py-spy's collapsed stacks."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short_frame(frame) for frame in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for label, pattern in INCLUSIVE.items():
            if any(re.search(pattern, frame) for frame in frames):
                inclusive[label] += count
    return {
        "samples": total,
        "self": [(name, count / total) for name, count in self_time.most_common(25)],
        "inclusive": [(label, inclusive[label] / total) for label in INCLUSIVE],
    }


def short_frame(frame: str) -> str:
    """``name (/long/path/site-packages/pkg/mod.py)`` -> ``name (pkg/mod.py)``."""
    match = re.match(r"(.*) \((.*)\)$", frame.strip())
    if not match:
        return frame.strip()
    name, path = match.groups()
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


# --- reporting ------------------------------------------------------------------------


def ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def table(title: str, runs: list[Run], reference_app: str, workers: int) -> list[str]:
    rows = [run for run in runs if run.workers == workers]
    if not rows:
        return []
    grouped: dict[str, list[Run]] = collections.defaultdict(list)
    for run in rows:
        grouped[run.app].append(run)
    chosen = {app: max(group, key=lambda run: run.rps) for app, group in grouped.items()}
    reference = chosen.get(reference_app)
    lines = [
        f"**{title}, {workers} worker{'s' if workers > 1 else ''}** "
        f"(best of {len(next(iter(grouped.values())))} run(s); ratios are app / {reference_app})",
        "",
        "| app | req/s | vs porch | p50 ms | vs porch | p99 ms | vs porch | runs (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for app, run in sorted(chosen.items(), key=lambda item: -item[1].rps):
        each = ", ".join(f"{r.rps:.0f}" for r in sorted(grouped[app], key=lambda r: r.round))
        median = statistics.median(r.rps for r in grouped[app])
        name = f"**{app}**" if app == reference_app else app
        rps, p50, p99 = (
            (reference.rps, reference.p50_ms, reference.p99_ms) if reference else (None,) * 3
        )
        lines.append(
            f"| {name} | {run.rps:,.0f} | {ratio(run.rps, rps)} "
            f"| {run.p50_ms:.2f} | {ratio(run.p50_ms, p50)} "
            f"| {run.p99_ms:.2f} | {ratio(run.p99_ms, p99)} "
            f"| {each} ({median:,.0f}) |"
        )
    lines.append("")
    return lines


def interleaved_table(
    title: str, runs: list[Run], reference: str, workers: int, *, versus: str
) -> list[str]:
    """One row per contender of an interleaved comparison: medians over its cycles.

    The ratio is the median, over the cycles, of the contender's run over the
    reference's run of the same cycle (a few seconds apart); the range beside it
    is the spread of those ratios, that is, of this machine's noise.
    """
    rows = [run for run in runs if run.workers == workers]
    grouped: dict[str, list[Run]] = collections.defaultdict(list)
    for run in rows:
        grouped[run.extra["store"]].append(run)
    if reference not in grouped:
        return []
    by_cycle = {run.round: run.rps for run in grouped[reference]}
    cycles = len(by_cycle)
    lines = [
        f"**{title}, {workers} worker{'s' if workers > 1 else ''}** (interleaved: {cycles} "
        f"cycles of {rows[0].seconds:.0f} s runs; medians over the cycles; ratio is "
        f"each cycle's run / that cycle's {versus} run, median and range)",
        "",
        f"| app | req/s | vs {versus} | range | p50 ms | p99 ms | req/s per cycle |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for label, group in sorted(grouped.items(), key=lambda item: item[0] != reference):
        group.sort(key=lambda run: run.round)
        ratios = [run.rps / by_cycle[run.round] for run in group if run.round in by_cycle]
        name = f"**{label}**" if label == reference else label
        lines.append(
            f"| {name} | {statistics.median(run.rps for run in group):,.0f} "
            f"| {statistics.median(ratios):.2f} | {min(ratios):.2f} to {max(ratios):.2f} "
            f"| {statistics.median(run.p50_ms for run in group):.2f} "
            f"| {statistics.median(run.p99_ms for run in group):.2f} "
            f"| {', '.join(f'{run.rps:.0f}' for run in group)} |"
        )
    lines.append("")
    return lines


def cycle_ratio(runs: list[Run], label: str, reference: str) -> float | None:
    """The median over the cycles of ``label``'s run / ``reference``'s run of the same cycle."""
    by_cycle = {run.round: run.rps for run in runs if run.extra.get("store") == reference}
    ratios = [
        run.rps / by_cycle[run.round]
        for run in runs
        if run.extra.get("store") == label and run.round in by_cycle
    ]
    return statistics.median(ratios) if ratios else None


def scale_tables(runs: list[Run], workers: int) -> list[str]:
    """One interleaved table per store kind: the full store against the empty one."""
    lines: list[str] = []
    for kind in ("Redis", "SQLite"):
        of_kind = [
            run for run in runs if run.workers == workers and run.extra["store"].startswith(kind)
        ]
        lines.extend(
            interleaved_table(
                f"porch on {kind}", of_kind, f"{kind}, empty", workers, versus="empty"
            )
        )
    return lines


def machine(runs: list[Run]) -> list[str]:
    def first(pattern: str, text: str) -> str:
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1).strip() if match else "?"

    loads = [run.extra["load"] for run in runs if "load" in run.extra]
    load_range = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "not recorded"
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = first(r"^model name\s*:(.*)$", cpuinfo)
    meminfo = Path("/proc/meminfo").read_text()
    memory_gib = int(first(r"^MemTotal:\s+(\d+)", meminfo)) / 1024 / 1024
    os_name = first(r'^PRETTY_NAME="?(.*?)"?$', Path("/etc/os-release").read_text())

    def version(python: Path, package: str) -> str:
        finished = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
        )
        return finished.stdout.strip() or "?"

    redis_version = (
        subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split()[2]
        .removeprefix("v=")
    )
    wrk_version = (
        subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        .stdout.split("[")[0]
        .strip()
    )
    porch_versions = ", ".join(
        f"{name} {version(PORCH_PYTHON, name)}"
        for name in ("porch", "starlette", "uvicorn", "uvloop", "httptools", "redis", "orjson")
    )
    peer_versions = ", ".join(
        f"{name} {version(PEERS_PYTHON, name)}"
        for name in (
            "starlette",
            "starsessions",
            "aiohttp",
            "aiohttp-session",
            "litestar",
            "uvicorn",
            "uvloop",
            "httptools",
            "redis",
        )
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "porch"], capture_output=True, text=True
    ).stdout.strip()
    return [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {cpu}, {os.cpu_count()} cores, "
        f"{memory_gib:.0f} GiB; {os_name}; Linux {platform.release()}",
        f"- Python {platform.python_version()}; Redis {redis_version}; {wrk_version}",
        f"- porch's virtualenv: {porch_versions}",
        f"- Peers' virtualenv (bench/.venv-peers): {peer_versions}",
        f"- porch at commit {commit}" + (" plus uncommitted changes under porch/" if dirty else ""),
        "- Client and servers share the machine's cores (wrk uses 2 threads).",
        f"- Load average (1 min) before the runs: {load_range}. Above about 1, other "
        "programs were competing for the 2 cores, and every figure is lower than on an "
        "idle machine; the ratios, from alternated runs, hold up better than the absolutes.",
    ]


READING = [
    "### Reading the results",
    "",
    "- **porch above the Redis floor.** porch makes the same two Redis round trips "
    "per request as the floor (`HGETALL`, then one `EVALSHA`; see the MONITOR section). "
    "The floor, like the peers, goes through redis-py's connection pool: it checks a "
    "connection out for each command and makes one `write()` per command, on its own "
    "side and on Redis's. porch sends the session commands of every request in flight "
    "over one connection per worker, writes the commands of one event-loop turn in a "
    "single `write()`, and matches the replies in order "
    "(porch/session/stores/multiplex.py). Each command is still its own atomic script.",
    "- **The README counter is a plain `def`.** It runs on the event loop because porch "
    'proves from its source that it cannot block (docs/context.md, "Sync or async"). '
    "The `async def` row shows the same counter without that step.",
    "- **Memory vs hello world.** Under the same wrk load, the hello world cost its "
    "uvicorn worker about 22 µs of CPU per request and porch about 57 µs (user plus system "
    "time of the worker over a 6 s run, on this machine). Of porch's extra 35 µs, about "
    "10 µs is porch's own Python: the same request through porch in a loop, without HTTP, "
    "takes 9.9 µs (the cookie checked against its cache, the session loaded and saved with "
    "JSON in and out, expiry, the size cap, routing, the reply, the security headers). "
    "3.0 to 3.5 µs is uvicorn checking, in Python, the five headers porch's reply carries "
    "that the hello world's does not (four security headers and `Vary: Cookie`). About "
    "7 µs is the kernel waking wrk: the hello world keeps wrk's threads busy, so its "
    "responses seldom wake a sleeping one, while porch's mostly do (perf: the wake-up is "
    "16 % of porch's worker CPU, 10 % of the hello world's). The rest is the same Python "
    "running slower among uvicorn's than in a tight loop. So part of the ratio belongs to "
    "the load generator sharing 2 cores with the server; any app that does real work pays "
    "those wake-ups too.",
    "- **SQLite.** porch runs a request's statements on the event loop, on a connection "
    "that never waits for a lock there (docs/stores.md). A statement takes microseconds; "
    "handing each to a thread and back, as porch did before, cost about 0.3 ms of CPU per "
    "request under load, as the two threads passed the GIL back and forth. The floor runs "
    "its statements on the event loop too. With 2 workers the processes take turns on the "
    "file's write lock, and those runs vary more than the others from one run to the next.",
    "",
]


def write_report(
    settings: Settings,
    runs: list[Run],
    scale_runs: list[Run],
    monitor: list[tuple[str, list[str]]],
    profiles: list[dict[str, Any]],
    command: str,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run` (bench/bench.py); rerun it to refresh this page. "
        "The benchmark is not part of the test suite.",
        "",
        "![requests per second](benchmarks.png)",
        "",
        "## How it was measured",
        "",
        *machine(runs + scale_runs),
        f"- Command: `{command}`"
        + (" (the quick pass: numbers are rougher)" if settings.quick else ""),
        f"- Each app: `{settings.wrk_command}`, after a {settings.warmup} s warm-up; "
        f"{settings.rounds} round(s), the app order reversed in every other round; each "
        "table keeps an app's best run (highest req/s) and lists every run.",
        "- Memory and scale, whose targets leave less margin than this machine's run-to-run "
        "noise, are interleaved instead: every server of the comparison is up at once (after "
        f"the same checks and warm-up), and wrk drives them in turn, {settings.slice_seconds} s "
        f"each, for {settings.slice_cycles} cycles, the order reversed every other cycle. "
        "Each cycle's runs are seconds apart, so a slow spell of the machine hits them alike; "
        "their tables give medians over the cycles, and each ratio is the median of the "
        "cycles' own ratios.",
        "- Servers: uvicorn with `--loop uvloop --http httptools --no-access-log "
        "--log-level warning` and `--workers N`; aiohttp, which is not ASGI, on its own "
        "server with uvloop, N processes accepting on one socket.",
        "- The counter: GET `/` increments `views` in the session and answers "
        '`{"views": n}`. porch runs the README example unchanged (bench/apps/porch_counter.py) '
        "with `REDIS_URL` and `SECRET` in its environment (`SESSION_STORE` for memory and "
        "SQLite), and nothing else: its default `LOG=info` included. Under a uvicorn started "
        "with `--no-access-log`, porch writes no access line either, so no server here writes "
        "one (the memory section also shows porch under `porch serve`, with its own access "
        "line on); the peers: Starlette + starsessions (RedisStore), "
        "aiohttp + aiohttp-session (RedisStorage), Litestar (server-side sessions, its "
        "RedisStore). The floor is a bare ASGI function with raw redis-py asyncio: one GET "
        "and one SET with expiry, keyed by a cookie set on the first visit.",
        "- Every request carries a real session cookie (bench/cookie.lua: one session is "
        "created per connection before the run and the cookies are handed out round-robin), "
        "so every request loads and saves a session. Before timing, a cookie-keeping client "
        "must see 1, 2, 3; after the run, no request may have failed and the store must hold "
        "about one session per connection, not one per request.",
        "",
    ]
    sections = [
        ("Redis", "Sessions in Redis", "porch"),
        ("memory", "Sessions in memory (porch) vs a bare ASGI hello world", "porch (memory)"),
        ("SQLite", "Sessions in SQLite", "porch (SQLite)"),
    ]
    lines.append("## Results")
    lines.append("")
    for scenario, title, reference in sections:
        scenario_runs = [run for run in runs if run.scenario == scenario]
        if not scenario_runs:
            continue
        lines.append(f"### {title}")
        lines.append("")
        if scenario == "memory":
            against_hello = cycle_ratio(scenario_runs, reference, HELLO.name)
            lines.append(
                "One worker only: porch refuses the memory store with several workers "
                "(each would hold its own sessions). The three servers are interleaved "
                "(see How it was measured). **porch (memory) / hello world: "
                f"{against_hello or 0:.2f}**, the median over the cycles of porch's run "
                "over the hello world's run of the same cycle."
            )
            lines.append("")
            lines.extend(
                interleaved_table("Sessions in memory", scenario_runs, reference, 1, versus="porch")
            )
            continue
        for workers in settings.workers:
            lines.extend(table(title.split(" (")[0], scenario_runs, reference, workers))
    lines.extend(READING)
    if scale_runs:
        lines.append(f"### Scale: {settings.scale_sessions:,} sessions already in the store")
        lines.append("")
        lines.append(
            "porch's counter on a store that already holds that many sessions (bulk-loaded in "
            "porch's own format by bench/preload.py), interleaved with the same store empty "
            "(both servers up at once, driven in turn). For Redis the full store is a second "
            "private redis-server. A Redis lookup by key costs the same whatever the store "
            "holds, so the range of the Redis rows' ratios is this machine's noise: read the "
            "SQLite rows against it."
        )
        lines.append("")
        for workers in settings.workers:
            lines.extend(scale_tables(scale_runs, workers))
    if monitor:
        lines.extend(
            [
                "## Redis commands per request (MONITOR)",
                "",
                "Recorded with `MONITOR` on the private Redis, after a first visitor has "
                "loaded the Lua scripts; commands run inside a script are marked. "
                "App: bench/apps/porch_monitor.py (the counter plus a read-only `/peek`).",
                "",
            ]
        )
        for label, commands in monitor:
            round_trips = sum(1 for command in commands if "inside the script" not in command)
            lines.append(f"**{label}**: {round_trips} round trip(s)")
            lines.append("")
            lines.append("```")
            lines.extend(commands or ["(no command)"])
            lines.append("```")
            lines.append("")
    for profile in profiles:
        lines.extend(
            [
                f"## Profile: {profile['app']}, 1 worker",
                "",
                f"py-spy (`--gil --nonblocking`, 250 Hz) on the single uvicorn worker for "
                f"{settings.duration} s while wrk drives it ({profile['rps_while_profiled']:,.0f} "
                f"req/s under the profiler; {profile['samples']:,} samples, each one of Python "
                "holding the GIL, so the shares are of the worker's Python CPU time; samples taken "
                "without pausing the process can be torn, so shares are approximate, and waiting "
                "for the GIL, such as a thread hop's hand-over, does not show). "
                f"Flame graph: bench/results/{profile['name']}.speedscope.json (speedscope).",
                "",
                "Top frames by self time:",
                "",
                "| self | frame |",
                "|---:|---|",
            ]
        )
        lines.extend(f"| {share * 100:.1f}% | `{name}` |" for name, share in profile["self"][:15])
        lines.extend(
            [
                "",
                "Inclusive time of the layers a request crosses (they nest):",
                "",
                "| inclusive | layer |",
                "|---:|---|",
            ]
        )
        lines.extend(
            f"| {share * 100:.1f}% | {label} |"
            for label, share in profile["inclusive"]
            if share > 0
        )
        lines.append("")
    text = "\n".join(lines)
    (DOCS / "benchmarks.md").write_text(text)
    return text


def representative(runs: list[Run]) -> dict[str, float]:
    """Each app's figure for the chart: its best run, or its median one when interleaved."""
    grouped: dict[str, list[float]] = collections.defaultdict(list)
    interleaved = False
    for run in runs:
        interleaved = interleaved or bool(run.extra.get("interleaved"))
        grouped[run.extra.get("store", run.app) if interleaved else run.app].append(run.rps)
    pick = statistics.median if interleaved else max
    return {name: pick(values) for name, values in grouped.items()}


def chart(runs: list[Run], scale_runs: list[Run], settings: Settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, list[tuple[str, float]]]] = []
    for scenario in ("Redis", "memory", "SQLite"):
        for workers in settings.workers:
            chosen = representative(
                [run for run in runs if run.scenario == scenario and run.workers == workers]
            )
            if chosen:
                panels.append(
                    (
                        f"{scenario}, {workers} worker{'s' if workers > 1 else ''}",
                        sorted(chosen.items(), key=lambda item: -item[1]),
                    )
                )
    for workers in settings.workers:
        chosen = {
            "porch, " + label: value
            for label, value in representative(
                [run for run in scale_runs if run.workers == workers]
            ).items()
        }
        if chosen:
            panels.append(
                (f"Scale, {workers} worker{'s' if workers > 1 else ''}", sorted(chosen.items()))
            )
    if not panels:
        return
    columns = 2
    rows = (len(panels) + 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(13, 3.2 * rows), squeeze=False)
    for axis, (title, bars) in zip(axes.flat, panels, strict=False):
        names = [name for name, _ in bars]
        values = [value for _, value in bars]
        colours = ["#d9480f" if name.startswith("porch") else "#868e96" for name in names]
        axis.barh(names, values, color=colours)
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("requests/s")
        for y, value in enumerate(values):
            axis.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
        axis.set_xlim(0, max(values) * 1.2)
        axis.tick_params(labelsize=8)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    figure.suptitle(
        f"Session counter, wrk -t{settings.threads} -c{settings.connections} "
        f"-d{settings.duration}s (each app's best run; memory and scale: the median of "
        f"{settings.slice_seconds} s interleaved runs)",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(DOCS / "benchmarks.png", dpi=110)
    plt.close(figure)


def print_summary(runs: list[Run], scale_runs: list[Run], settings: Settings) -> None:
    print()
    for scenario, reference in (("Redis", "porch"), ("SQLite", "porch (SQLite)")):
        for workers in settings.workers:
            for line in table(
                scenario, [r for r in runs if r.scenario == scenario], reference, workers
            ):
                print(line)
    memory = [run for run in runs if run.scenario == "memory"]
    for line in interleaved_table("memory", memory, PORCH_MEMORY.name, 1, versus="porch"):
        print(line)
    if memory:
        against_hello = cycle_ratio(memory, PORCH_MEMORY.name, HELLO.name) or 0
        print(f"porch (memory) / hello world: {against_hello:.2f}\n")
    for workers in settings.workers:
        for line in scale_tables(scale_runs, workers):
            print(line)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    settings = parse_settings(argv)
    command = "bench/run" + (" " + " ".join(argv) if argv else "")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: bench/run installs it (apt-get install wrk)")
    RESULTS.mkdir(exist_ok=True)
    for stale in ("wrk.log", "servers.log"):
        (RESULTS / stale).unlink(missing_ok=True)
    DOCS.mkdir(exist_ok=True)
    started = time.monotonic()
    server = RedisServer("empty")
    runs: list[Run] = []
    scale_runs: list[Run] = []
    monitor: list[tuple[str, list[str]]] = []
    profiles: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="porch-bench-") as scratch_name:
            scratch = Path(scratch_name)
            redis_store = Store("redis", redis=server)
            if "redis" in settings.sections:
                apps = [PORCH, PORCH_ASYNC, FLOOR, STARLETTE, AIOHTTP, LITESTAR]
                runs += run_scenario(
                    "Redis",
                    apps,
                    {app.name: redis_store for app in apps},
                    settings,
                    settings.workers,
                )
            if "memory" in settings.sections:
                print("\n== memory (interleaved)", flush=True)
                contenders = [
                    Contender(PORCH_MEMORY.name, PORCH_MEMORY, Store("memory")),
                    Contender(HELLO.name, HELLO, Store("none")),
                    Contender(PORCH_MEMORY_LOGGING.name, PORCH_MEMORY_LOGGING, Store("memory")),
                ]
                runs += interleave("memory", contenders, 1, settings)  # memory: one worker only
            if "sqlite" in settings.sections:
                directory = scratch / "sqlite"
                directory.mkdir()
                stores = {
                    PORCH_SQLITE.name: Store("sqlite", directory=directory),
                    FLOOR_SQLITE.name: Store("sqlite", directory=directory),
                }
                runs += run_scenario(
                    "SQLite",
                    [PORCH_SQLITE, FLOOR_SQLITE],
                    stores,
                    settings,
                    settings.workers,
                )
            if "scale" in settings.sections:
                scale_runs = run_scale(settings, server, scratch)
            if "monitor" in settings.sections:
                monitor = record_monitor(server)
            if "profile" in settings.sections:
                profiles.append(profile_porch(PORCH, redis_store, settings, "porch-redis"))
                profiles.append(
                    profile_porch(PORCH_MEMORY, Store("memory"), settings, "porch-memory")
                )
    finally:
        server.stop()
    (RESULTS / "runs.json").write_text(
        json.dumps([{**run.__dict__, "rps": run.rps} for run in runs + scale_runs], indent=1)
    )
    print_summary(runs, scale_runs, settings)
    write_report(settings, runs, scale_runs, monitor, profiles, command)
    chart(runs, scale_runs, settings)
    print(
        f"\nWrote docs/benchmarks.md and docs/benchmarks.png "
        f"in {(time.monotonic() - started) / 60:.1f} min."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
