"""Shared test set-up: every test gets a clean environment and its own working directory."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from porch.session.stores import MemoryStore, Store
from porch.session.stores.redis import RedisStore
from porch.session.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, start_redis
else:
    # pytest puts tests/ (not the repository root) on sys.path for this conftest.
    from redis_server import RedisServer, start_redis

# Variables porch reads; a value left on the machine (or by another test) must not leak in.
PORCH_PREFIXES = ("SESSION", "SECURITY_")
PORCH_NAMES = frozenset(
    {
        "PORT",
        "SECRET",
        "ENV",
        "PUBLIC",
        "VIEWS",
        "LOG",
        "COMPRESS",
        "TRUST_PROXY",
        "BODY_LIMIT",
        "REDIS_URL",
        "FAVICON",
        "DOMAIN",
        "HOST",
        "SERVER",
        "HEADER_TIMEOUT",
        "BODY_TIMEOUT",
        "KEEP_ALIVE",
        "MAX_CONCURRENCY",
        "PORCH_OWNS_ACCESS_LOG",
        "PORCH_HEADER_TIMEOUT",
        "HEALTH",
        "METRICS",
        "PROMETHEUS_MULTIPROC_DIR",
    }
)
SERVERS = ("granian", "uvicorn")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test in an empty folder with porch's variables unset, and restore both after.

    ``.env`` tests write into this folder; ``os.environ`` is restored in full,
    since ``server()`` copies ``.env`` values into it.
    """
    saved = dict(os.environ)
    for name in list(os.environ):
        if name in PORCH_NAMES or name.startswith(PORCH_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(params=SERVERS)
def each_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per server: ``SERVER`` is what run(), app.run() and porch serve start.

    A module that holds porch's HTTP-level promises says
    ``pytestmark = pytest.mark.usefixtures("each_server")``: each promise holds on both.
    """
    name: str = request.param
    monkeypatch.setenv("SERVER", name)
    return name


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server for the whole run (never the shared one on 6379).

    Tests sharing it keep apart by key prefix or database number.
    """
    server = start_redis()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop, restart, pause or reconfigure
    (``redis_url`` is the shared one, for tests that only read and write)."""
    server = start_redis()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def each_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Run the test once per built-in store, each new and empty (the Redis one by key prefix,
    on the shared ``redis_url``): for promises of the session layer that hold on every store.
    Closed after the test, which may use it after the app that opened it stopped."""
    if request.param == "memory":
        store: Store = MemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "sessions.db")
    else:
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=f"{uuid.uuid4().hex}:")
    yield store
    await store.close()


@pytest.fixture
def forget_imports() -> Iterator[None]:
    """For a test that imports an app module it wrote (``porch serve app:app`` in-process):
    ``sys.modules`` and ``sys.path`` as they were before, so the next test's module is new."""
    modules, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path
