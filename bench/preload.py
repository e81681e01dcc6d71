"""Bulk-load N sessions into a store in porch's own format, for the scale scenario.

Run with porch's virtualenv (it imports porch, so the layout cannot drift from
the stores'):

    .venv/bin/python bench/preload.py redis N | redis-cli -p PORT --pipe
    .venv/bin/python bench/preload.py sqlite N /tmp/sessions.db

Each session looks like one a visitor left: a random 256-bit id, stored under
the SHA-256 of that id, with $created, $seen and a views count, expiring 14
days after its last visit (Redis: 14 days from now), like the default max_age.
"""

import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from porch.session.cookie import session_key
from porch.session.stores.base import CREATED, SEEN
from porch.session.stores.redis import DEFAULT_PREFIX
from porch.session.stores.sqlite import create_or_migrate, purge_at

TTL = 14 * 24 * 3600
BATCH = 10_000


def sessions(count: int) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(store key, field -> JSON value) for ``count`` sessions of a few visits each."""
    now = time.time()
    for number in range(count):
        key = session_key(secrets.token_urlsafe(32))
        created = now - (number % 86_400)
        fields = {
            CREATED: orjson.dumps(created),
            SEEN: orjson.dumps(created + 60),
            "views": orjson.dumps(number % 50 + 1),
        }
        yield key, fields


def resp(*parts: bytes) -> bytes:
    """One command in the Redis protocol, as redis-cli --pipe reads it."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def redis_protocol(count: int) -> None:
    """HSET + EXPIRE per session, as RedisStore writes them, on stdout."""
    prefix = DEFAULT_PREFIX.encode()
    ttl = str(TTL).encode()
    chunk: list[bytes] = []
    for key, fields in sessions(count):
        name = prefix + key.encode()
        pairs = [item for field, value in fields.items() for item in (field.encode(), value)]
        chunk.append(resp(b"HSET", name, *pairs))
        chunk.append(resp(b"EXPIRE", name, ttl))
        if len(chunk) >= BATCH:
            sys.stdout.buffer.write(b"".join(chunk))
            chunk.clear()
    sys.stdout.buffer.write(b"".join(chunk))
    sys.stdout.buffer.flush()


def sqlite_rows(count: int, path: Path) -> None:
    """Rows as SQLiteStore writes them: fields is a JSON object of JSON texts."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")  # a bulk load: durability is not the point
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB, so the index build stays in memory
    create_or_migrate(db)
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR REPLACE INTO sessions (key, fields, user, expires_at, purge_at) "
        "VALUES (?, ?, NULL, ?, ?)",
        (
            (
                key,
                orjson.dumps({name: raw.decode() for name, raw in fields.items()}).decode(),
                expires,
                purge_at(expires),
            )
            for key, fields in sessions(count)
            for expires in [orjson.loads(fields[SEEN]) + TTL]  # idle expiry, from the last visit
        ),
    )
    db.execute("COMMIT")
    db.close()


def main() -> None:
    kind, count = sys.argv[1], int(sys.argv[2])
    if kind == "redis":
        redis_protocol(count)
    elif kind == "sqlite":
        sqlite_rows(count, Path(sys.argv[3]))
    else:
        raise SystemExit(f"preload.py: unknown store {kind!r}; use redis or sqlite")


if __name__ == "__main__":
    main()
