"""Scale: porch on a store that already holds many sessions, interleaved with the
same store empty. The sessions are bulk-loaded in porch's own format by
bench/preload.py; for Redis the full store is a second private redis-server. porch
runs on its default server, Granian.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from . import catalogue
from .load import Contender, Run, interleave
from .servers import GRANIAN
from .settings import BENCH, PORCH_PYTHON, Settings
from .stores import RedisServer, Store

SCALE = "scale"


def preload_redis(server: RedisServer, count: int) -> None:
    """``count`` sessions into database 0 of ``server``, through ``redis-cli --pipe``."""
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


def scale_section(settings: Settings, empty_redis: RedisServer, scratch: Path) -> list[Run]:
    """porch on an empty store and on one holding ``scale_sessions``, interleaved."""
    count = settings.scale_sessions
    print(f"\n== scale: porch with {count:,} sessions already stored", flush=True)
    porch, porch_sqlite = catalogue.porch(GRANIAN), catalogue.porch_sqlite(GRANIAN)
    runs: list[Run] = []
    full_redis = RedisServer("full")
    try:
        preload_redis(full_redis, count)
        full_directory = scratch / "sqlite-full"
        full_directory.mkdir()
        preload_sqlite(full_directory / "sessions.db", count)
        (scratch / "sqlite-empty").mkdir()
        full = Store("redis", redis=full_redis, database=0, preloaded=count)
        cases = [
            [
                Contender("Redis, empty", porch, Store.fresh_redis(empty_redis)),
                Contender(f"Redis, {count:,} sessions", porch, full),
            ],
            [
                Contender(
                    "SQLite, empty",
                    porch_sqlite,
                    Store("sqlite", directory=scratch / "sqlite-empty"),
                ),
                Contender(
                    f"SQLite, {count:,} sessions",
                    porch_sqlite,
                    Store("sqlite", directory=full_directory, preloaded=count),
                ),
            ],
        ]
        for workers in settings.workers:
            for contenders in cases:
                runs += interleave(SCALE, contenders, workers, settings)
    finally:
        full_redis.stop()
    return runs
