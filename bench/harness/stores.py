"""Where an app keeps its sessions: a private redis-server (one database per app),
a SQLite directory, or its own memory; and how the benchmark counts them.

Each Redis app of a section gets a database of its own on the one redis-server,
so that all of them can be up at once (the sections are interleaved) while the
session count of each, checked after its runs, is its own.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis import Redis as RedisClient

from .processes import free_port

DATABASES = 64  # Redis databases: one per app of a section, with room to spare


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
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--protected-mode", "yes"),
                *("--databases", str(DATABASES)),
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
        self.next_database = 0

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def database(self) -> int:
        """A database no other app of this run has used (0 is the first)."""
        database = self.next_database
        if database >= DATABASES:
            raise RuntimeError(f"more than {DATABASES} Redis apps in one run")
        self.next_database += 1
        return database

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Store:
    """Where one app keeps its sessions, and how to reset and count them."""

    kind: str  # redis, memory, sqlite, none
    redis: RedisServer | None = None
    database: int = 0
    directory: Path | None = None
    preloaded: int = 0

    @classmethod
    def fresh_redis(cls, server: RedisServer) -> Store:
        """A Redis store in a database of its own on ``server``."""
        return cls("redis", redis=server, database=server.database())

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url(self.database)

    def client(self) -> RedisClient:
        assert self.redis is not None
        return RedisClient(port=self.redis.port, db=self.database)

    def reset(self) -> None:
        if self.preloaded:
            return
        if self.kind == "redis":
            with self.client() as client:
                client.flushdb()
        if self.kind == "sqlite" and self.directory is not None:
            for path in self.directory.glob("*.db*"):
                path.unlink()

    def count(self) -> int | None:
        """Sessions (Redis keys, SQLite rows) held now; None when the store cannot be seen."""
        if self.kind == "redis":
            with self.client() as client:
                return int(client.dbsize())
        if self.kind == "sqlite" and self.directory is not None:
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
