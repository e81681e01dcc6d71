"""The sections of the report: which apps each compares, on which stores.

Redis: porch and the peers, each on its servers, every app in a Redis database of
its own. Memory: porch against the bare hello world on each server, one worker
(porch refuses the memory store with several: each would hold its own sessions).
SQLite: porch against the bare SQLite floor on each server, each in its own
directory. Each is one interleaved comparison per worker count (load.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import catalogue
from .catalogue import SERVERS, Baseline
from .load import Run, contenders_of, interleave
from .servers import GRANIAN, App
from .settings import Settings
from .stores import RedisServer, Store

REDIS = "Redis"
MEMORY = "memory"
SQLITE = "SQLite"


def reference(scenario: str) -> str:
    """The row a section's ratios are taken against: porch on its default server."""
    app: dict[str, Callable[[str], App]] = {
        REDIS: catalogue.porch,
        MEMORY: catalogue.porch_memory,
        SQLITE: catalogue.porch_sqlite,
    }
    return app[scenario](GRANIAN).label


def redis_section(
    settings: Settings, server: RedisServer, baseline: Baseline | None = None
) -> list[Run]:
    apps = catalogue.redis_apps(baseline)
    contenders = contenders_of(apps, [Store.fresh_redis(server) for _ in apps])
    runs: list[Run] = []
    for workers in settings.workers:
        runs += interleave(REDIS, contenders, workers, settings)
    return runs


def memory_section(settings: Settings, baseline: Baseline | None = None) -> list[Run]:
    apps = [
        *(catalogue.porch_memory(server) for server in SERVERS),
        *catalogue.earlier(baseline, catalogue.porch_memory, "memory"),
        *(catalogue.hello(server) for server in SERVERS),
        catalogue.porch_memory_logging(),
    ]
    stores = [Store("none" if not app.checks_climb else "memory") for app in apps]
    return interleave(MEMORY, contenders_of(apps, stores), 1, settings)


def sqlite_section(
    settings: Settings, scratch: Path, baseline: Baseline | None = None
) -> list[Run]:
    apps = [
        *(catalogue.porch_sqlite(server) for server in SERVERS),
        *catalogue.earlier(baseline, catalogue.porch_sqlite, "SQLite"),
        *(catalogue.floor_sqlite(server) for server in SERVERS),
    ]
    stores = []
    for number, _ in enumerate(apps):
        directory = scratch / f"sqlite-{number}"
        directory.mkdir()
        stores.append(Store("sqlite", directory=directory))
    runs: list[Run] = []
    for workers in settings.workers:
        runs += interleave(SQLITE, contenders_of(apps, stores), workers, settings)
    return runs
