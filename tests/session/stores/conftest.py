"""Fixtures for the store tests: real Redis servers of our own, on free loopback ports.

Each is started here and stopped by its PID; never the shared Redis on 6379.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.redis_server import RedisServer, start_cluster, start_redis, start_sentinel
else:
    # At run time pytest has put tests/ on sys.path (for tests/conftest.py), and the
    # repository root is not on it, so the helper module is imported by its own name.
    from redis_server import RedisServer, start_cluster, start_redis, start_sentinel


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A password-protected redis-server that this test alone may stop and restart."""
    server = start_redis(password="hunter2-secret")
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def unix_socket_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server that also listens on a unix socket; its ``unix://`` URL."""
    socket_path = tmp_path / "redis.sock"
    server = start_redis("--unixsocket", str(socket_path))
    try:
        yield f"unix://{socket_path}?db=0"
    finally:
        server.remove()


@pytest.fixture(scope="session")
def sentinel_url() -> Iterator[str]:
    """A master and a real ``redis-server --sentinel`` watching it, as a store URL."""
    master = start_redis()
    try:
        sentinel = start_sentinel(master, service="porch")
        try:
            yield f"redis+sentinel://127.0.0.1:{sentinel.port}/porch/0"
        finally:
            sentinel.remove()
    finally:
        master.remove()


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """Three cluster-enabled redis-servers joined into one cluster, as a store URL."""
    servers = start_cluster(3)
    try:
        seeds = ",".join(f"127.0.0.1:{server.port}" for server in servers)
        yield f"redis+cluster://{seeds}"
    finally:
        for server in servers:
            server.remove()
