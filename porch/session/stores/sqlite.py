"""SQLiteStore: sessions in one SQLite file, shared by the worker processes of one machine.

For a single server that wants sessions to survive restarts and to be shared by
``--workers N`` without running Redis. The file is opened in WAL mode, so
readers never wait for the writer, and a save is one statement merging the changed
fields into the row (``json_patch``), so processes take turns on the write lock
(waiting up to ``timeout`` seconds) for one statement each, and never overwrite
each other's fields. Not for several machines: SQLite over a network
file system does not lock reliably.

A request's load and save run on the event loop, on a connection that never
waits there: a statement that finds the file locked is retried after an
``asyncio.sleep``; the saves of one loop turn share a transaction
(``sqlite_batch``). Everything that can take long (opening and migrating the
file, checkpoints, ``purge``, ``count``) runs on the store's own thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import orjson

from ...errors import ConfigError, CorruptSession
from .base import (
    ALREADY_MOVED,
    CREATED,
    SEEN,
    USER,
    Regenerated,
    SessionInfo,
    Store,
    decode_fields,
    decode_value,
    encode_changes,
    encode_value,
    user_key,
)
from .sqlite_connection import CHECKPOINT_EVERY, DEFAULT_TIMEOUT, SWEEP_EVERY, SQLiteConnection
from .sqlite_sql import (
    CREATE_OR_MERGE,
    PURGE_SLACK,
    create_or_migrate,
    destroy_following_moves,
    is_moved,
    mark_moved,
    merge_live,
    purge_at,
    sweep,
    write_transaction,
)

# Importable from here as before: the store's tuning and the SQL a preloader reuses.
__all__ = [
    "CHECKPOINT_EVERY",
    "DEFAULT_TIMEOUT",
    "PURGE_SLACK",
    "SWEEP_EVERY",
    "SQLiteStore",
    "create_or_migrate",
    "path_of",
    "purge_at",
]


class SQLiteStore(SQLiteConnection, Store):
    """Sessions in a SQLite file: persistent, shared by the processes of one machine.

    ``SQLiteStore('sessions.db')`` or ``sqlite:///sessions.db`` (relative to the
    working directory), ``sqlite:////var/lib/app/sessions.db`` (absolute).
    A request's calls run on the event loop on a connection that never waits
    there (see ``_quick``); opening the file, checkpoints, ``count()`` and
    ``purge()`` run on the store's own thread. ``timeout`` is how long a write
    waits for another process's transaction before the store reports
    ``StoreUnavailable`` (porch answers 503). Expired rows are never returned;
    a few are deleted every 16th write and ``purge()`` deletes the rest.
    """

    def __init__(self, path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(path, timeout=timeout)

    @classmethod
    def from_url(
        cls, url: str, *, max_entries: int | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> SQLiteStore:
        """``sqlite:///relative.db`` or ``sqlite:////absolute.db``; ``max_entries`` is ignored."""
        return cls(path_of(url), timeout=timeout)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    @property
    def times_out_by_itself(self) -> bool:
        """A request's calls run on the event loop, where no statement waits for a lock
        and the retries stop at the timeout (a timeout scope could not interrupt a
        statement there anyway). Only this exact class: a subclass may add I/O."""
        return type(self) is SQLiteStore

    @property
    def destroy_follows_moves(self) -> bool:
        """True, and for a subclass too: it is what the methods do, not how fast. A subclass
        that overrides ``regenerate`` or ``destroy`` without calling these says False."""
        return True

    @property
    def tells_already_moved(self) -> bool:
        """True, and for a subclass too, on the same terms as ``destroy_follows_moves``."""
        return True

    # -- the contract ---------------------------------------------------------

    async def load(self, key: str) -> dict[str, Any] | None:
        def load(connection: sqlite3.Connection) -> str | None:
            row = connection.execute(
                "SELECT fields FROM sessions WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
            return None if row is None else str(row[0])

        fields = await self._quick(load)
        if fields is None:
            return None
        return decode_fields(_fields(fields, key), key=key)

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        encoded = {name: raw.decode() for name, raw in encode_changes(changes).items()}
        may_create = CREATED in changes
        rebinds = USER in changes
        new_user = None if changes.get(USER) is None else user_key(changes[USER])

        # One JSON merge patch (RFC 7396): changed fields set, deleted ones null.
        patch: dict[str, str | None] = {name: None for name in deleted}
        patch.update(encoded)
        patch_text = orjson.dumps(patch).decode()
        user = new_user if rebinds else None

        def save(connection: sqlite3.Connection) -> None:
            now = time.time()
            expires = now + ttl
            # One statement (two when purge_at moves), so the write lock is held for
            # a statement, not for a read-modify-write transaction: other workers
            # wait less for it.
            if may_create:
                connection.execute(
                    CREATE_OR_MERGE,
                    {
                        "key": key,
                        "patch": patch_text,
                        "user": user,
                        "expires": expires,
                        "now": now,
                        "rebinds": rebinds,
                        "purge": purge_at(expires),
                    },
                )
            else:  # a row that is gone (destroyed, expired) stays gone: logout is final
                merge_live(connection, key, patch_text, rebinds, user, expires, now)
            self._sweep_now_and_then(connection, now)

        await self._write(save)

    async def touch(self, key: str, ttl: int) -> None:
        def touch(connection: sqlite3.Connection) -> None:
            now = time.time()
            patch = orjson.dumps({SEEN: encode_value(SEEN, now).decode()}).decode()
            merge_live(connection, key, patch, False, None, now + ttl, now)

        await self._quick(touch)

    async def destroy(self, key: str) -> None:
        """One transaction: the row, and those it was regenerated to (``moved_sessions``)."""

        def destroy(connection: sqlite3.Connection) -> None:
            with write_transaction(connection):
                destroy_following_moves(connection, key, time.time())

        await self._quick(destroy)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        """One transaction: when the old row is live it is deleted, the new key gets
        ``data`` and ``moved_sessions`` a marker from old to new (which ``destroy``
        follows); when it is gone or expired, nothing is written (logout is final),
        and a live marker at the old key answers ``ALREADY_MOVED``."""
        encoded = {name: raw.decode() for name, raw in encode_changes(data).items()}
        encoded.setdefault(CREATED, encode_value(CREATED, time.time()).decode())
        user = None if data.get(USER) is None else user_key(data[USER])
        fields = orjson.dumps(encoded).decode()

        def regenerate(connection: sqlite3.Connection) -> Regenerated:
            now = time.time()
            with write_transaction(connection):
                live = connection.execute(
                    "DELETE FROM sessions WHERE key = ? AND expires_at > ?", (old_key, now)
                ).rowcount
                if not live:
                    connection.execute("DELETE FROM sessions WHERE key = ?", (old_key,))
                    return ALREADY_MOVED if is_moved(connection, old_key, now) else False
                expires = now + ttl
                connection.execute(
                    "INSERT OR REPLACE INTO sessions (key, fields, user, expires_at, purge_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (new_key, fields, user, expires, purge_at(expires)),
                )
                mark_moved(connection, old_key, new_key, expires)
                return True

        return await self._quick(regenerate)

    # -- optional -------------------------------------------------------------

    async def count(self) -> int:
        """Live sessions: one pass over the table (expires_at is not indexed)."""

        def count(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT COUNT(*) FROM sessions WHERE expires_at > ?", (time.time(),)
            ).fetchone()
            return int(row[0])

        return await self._run(count)

    async def purge(self) -> int:
        """Every expired row, by its exact expires_at: one pass over the table, under
        the write lock (about 0.2 s per million rows), so it is a job for
        ``porch sessions purge`` or a timer, not for requests; the sweep is theirs."""

        def purge(connection: sqlite3.Connection) -> int:
            now = time.time()
            with write_transaction(connection):
                cursor = connection.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
                # Markers are not sessions: deleted, not counted.
                connection.execute("DELETE FROM moved_sessions WHERE expires_at <= ?", (now,))
                return cursor.rowcount

        return await self._run(purge)

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        if user is None:  # no user: nobody's sessions (see user_key)
            return 0
        index = user_key(user)

        def destroy_user(connection: sqlite3.Connection) -> int:
            now = time.time()
            with write_transaction(connection):
                live = connection.execute(
                    "DELETE FROM sessions WHERE user = ? AND key IS NOT ? AND expires_at > ?",
                    (index, keep, now),
                ).rowcount
                sweep(connection, now)
                return live

        return await self._quick(destroy_user)

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        if user is None:  # no user: nobody's sessions (see user_key)
            return []
        index = user_key(user)

        def sessions_of(connection: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = connection.execute(
                "SELECT key, fields FROM sessions WHERE user = ? AND expires_at > ?",
                (index, time.time()),
            ).fetchall()
            return [(str(key), str(fields)) for key, fields in rows]

        infos = []
        for key, text in await self._quick(sessions_of):
            fields = _fields(text, key)
            infos.append(
                SessionInfo(
                    key=key,
                    created=decode_value(fields.get(CREATED, "0"), key=key),
                    last_seen=decode_value(fields.get(SEEN, "0"), key=key),
                )
            )
        return sorted(infos, key=lambda info: info.created)


def path_of(url: str) -> Path:
    """The file a ``sqlite://`` URL names: three slashes relative, four absolute."""
    scheme, separator, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not separator or not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"session store URL {url!r} is not a SQLite URL; write sqlite:///sessions.db "
            "(relative to the working directory) or sqlite:////var/lib/app/sessions.db (absolute)."
        )
    path = rest[1:].partition("?")[0]
    return Path(path) if path.startswith("/") else Path.cwd() / path


def _fields(text: str, key: str) -> dict[str, str]:
    """A row's fields column: field name -> the value as JSON text."""
    try:
        fields = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CorruptSession(
            f"The session entry {key[:12]}... is not porch's JSON; porch treats it as no "
            "session. Something other than porch wrote to the sessions table."
        ) from exc
    if not isinstance(fields, dict) or not all(isinstance(raw, str) for raw in fields.values()):
        raise CorruptSession(
            f"The session entry {key[:12]}... is not a JSON object of JSON texts; porch "
            "treats it as no session. Something other than porch wrote to the sessions table."
        )
    return fields
