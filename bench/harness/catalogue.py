"""The apps of the tables, each on the servers it is timed under.

porch runs on both servers it supports. The peers run on the server their docs
recommend, uvicorn for the ASGI ones, and on Granian too, so that no comparison
is porch on the faster server against a peer on the slower; aiohttp, not ASGI,
on its own. The floors (the least code that does the same store work) and the
hello world run on both, each server's own floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .servers import (
    GRANIAN,
    OWN,
    PORCH_SERVE,
    UVICORN,
    App,
    aiohttp_command,
    on,
    porch_serve,
)
from .settings import APPS, PEERS_PYTHON, PORCH_PYTHON, SECRET
from .stores import Store

SERVERS = (GRANIAN, UVICORN)  # porch's default first


@dataclass(frozen=True)
class Baseline:
    """An earlier porch, installed by harness/baseline.py, timed beside this one."""

    commit: str
    python: Path

    def name(self, scenario: str = "") -> str:
        return f"porch at {self.commit}" + (f" ({scenario})" if scenario else "")


def quiet_under(server: str) -> dict[str, str]:
    """What tells porch to write no access line on ``server`` (see servers.py)."""
    return {"LOG": "warning"} if server == GRANIAN else {}


def porch(
    server: str,
    target: str = "porch_counter:app",
    name: str = "porch",
    python: Path = PORCH_PYTHON,
) -> App:
    """The README's counter with its sessions in Redis."""

    def environment(store: Store) -> dict[str, str]:
        return {"REDIS_URL": store.redis_url, "SECRET": SECRET, **quiet_under(server)}

    return App(name, server, on(server, python, target), environment)


def porch_async(server: str) -> App:
    return porch(server, "porch_counter_async:app", "porch, counter as async def")


def porch_memory(server: str, name: str = "porch (memory)", python: Path = PORCH_PYTHON) -> App:
    def environment(store: Store) -> dict[str, str]:
        return {"SESSION_STORE": "memory://", "SECRET": SECRET, **quiet_under(server)}

    return App(name, server, on(server, python, "porch_counter:app"), environment)


def porch_memory_logging() -> App:
    """``porch serve`` with porch's defaults: its own access line on, one per request."""
    return App(
        "porch (memory, access line on)",
        PORCH_SERVE,
        porch_serve(PORCH_PYTHON, "porch_counter:app"),
        lambda store: {"SESSION_STORE": "memory://", "SECRET": SECRET, "PYTHONPATH": str(APPS)},
    )


def porch_sqlite(server: str, name: str = "porch (SQLite)", python: Path = PORCH_PYTHON) -> App:
    def environment(store: Store) -> dict[str, str]:
        assert store.directory is not None
        return {
            "SESSION_STORE": f"sqlite:///{store.directory / 'sessions.db'}",
            "SECRET": SECRET,
            **quiet_under(server),
        }

    return App(name, server, on(server, python, "porch_counter:app"), environment)


def porch_monitor() -> App:
    """The counter plus a read-only ``/peek``, for the MONITOR record."""

    def environment(store: Store) -> dict[str, str]:
        return {"REDIS_URL": store.redis_url, "SECRET": SECRET, **quiet_under(GRANIAN)}

    return App("porch", GRANIAN, on(GRANIAN, PORCH_PYTHON, "porch_monitor:app"), environment)


def peer(name: str, server: str, target: str) -> App:
    return App(
        name,
        server,
        on(server, PEERS_PYTHON, target),
        lambda store: {"REDIS_URL": store.redis_url},
    )


def floor_redis(server: str) -> App:
    return peer("bare ASGI floor", server, "floor_redis:app")


def starlette(server: str) -> App:
    return peer("Starlette + starsessions", server, "starlette_counter:app")


def litestar(server: str) -> App:
    return peer("Litestar", server, "litestar_counter:app")


def aiohttp() -> App:
    return App(
        "aiohttp + aiohttp-session",
        OWN,
        aiohttp_command,
        lambda store: {"REDIS_URL": store.redis_url},
    )


def hello(server: str) -> App:
    return App(
        "bare ASGI hello world",
        server,
        on(server, PEERS_PYTHON, "floor_hello:app"),
        lambda store: {},
        checks_climb=False,
    )


def floor_sqlite(server: str) -> App:
    def environment(store: Store) -> dict[str, str]:
        assert store.directory is not None
        return {"FLOOR_SQLITE": str(store.directory / "floor.db")}

    return App(
        "bare ASGI SQLite floor", server, on(server, PEERS_PYTHON, "floor_sqlite:app"), environment
    )


def redis_apps(baseline: Baseline | None = None) -> list[App]:
    """The Redis section: porch and the peers, each on its servers."""
    return [
        *(porch(server) for server in SERVERS),
        *earlier(baseline, porch),
        porch_async(GRANIAN),
        *(floor_redis(server) for server in SERVERS),
        *(starlette(server) for server in SERVERS),
        *(litestar(server) for server in SERVERS),
        aiohttp(),
    ]


def earlier(baseline: Baseline | None, make: Callable[..., App], scenario: str = "") -> list[App]:
    """The baseline's porch on each server, made as ``make`` makes this checkout's."""
    if baseline is None:
        return []
    return [
        make(server, name=baseline.name(scenario), python=baseline.python) for server in SERVERS
    ]


PEER_NAMES = ("Starlette + starsessions", "Litestar", "aiohttp + aiohttp-session")
