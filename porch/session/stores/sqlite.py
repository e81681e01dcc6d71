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
``asyncio.sleep``. Everything that can take long (opening and migrating the
file, checkpoints, ``purge``, ``count``) runs on the store's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ...errors import ConfigError, CorruptSession, StoreUnavailable
from .base import (
    CREATED,
    SEEN,
    USER,
    SessionInfo,
    Store,
    decode_fields,
    decode_value,
    encode_changes,
    encode_value,
    user_key,
)
from .sqlite_failures import BUSY, describe, is_busy, is_failure

DEFAULT_TIMEOUT = 2.0
MIGRATION_TIMEOUT = 120.0  # seconds a store opening the file waits for another's migration
# Seconds between two checks that the path still names the file the store has
# open (one stat): a file deleted or replaced under running workers is reopened
# within this, so no worker goes on writing to a file the others no longer see.
FILE_CHECK_INTERVAL = 0.1
SWEEP_BATCH = 128  # expired rows deleted per sweep, one sweep per SWEEP_EVERY writes
# A statement on the event loop that finds the file locked by another process
# is retried after FIRST_PAUSE seconds, then after twice as long each time, up
# to LONGEST_PAUSE, until the store's timeout has passed.
FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.02
# Writes on the event loop between two WAL checkpoints on the store's thread:
# with one to three pages a write, about what SQLite's own default (1,000 pages)
# would do, minus the fsync on the loop.
CHECKPOINT_EVERY = 512

log = logging.getLogger("porch.session")

T = TypeVar("T")

# fields: a JSON object of field name -> that field's value as JSON text, so a
# save rewrites only the fields it was given and never decodes the others.
# expires_at is exact and checked by every read. purge_at, the one indexed for
# the sweep, is a later time rounded to PURGE_SLACK: a save that extends a
# session's life rewrites it (and so the index) only once it falls short,
# about once per PURGE_SLACK seconds of activity instead of on every request.
# porch keeps purge_at >= expires_at + PURGE_SLACK, so a row past its purge_at
# is expired. A row an older porch wrote into a migrated file may have a NULL
# or stale purge_at: the sweep checks expires_at too, and purge() finds it.
TABLE = """
CREATE TABLE IF NOT EXISTS sessions (
    key        TEXT PRIMARY KEY,
    fields     TEXT NOT NULL,
    user       TEXT,
    expires_at REAL NOT NULL,
    purge_at   REAL
)
"""
INDEXES = (
    "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user) WHERE user IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS sessions_by_purge ON sessions (purge_at)",
    "DROP INDEX IF EXISTS sessions_by_expiry",  # an older porch's: updated on every save
)
PURGE_SLACK = 300.0  # seconds: how stale purge_at may get before a save moves it


def purge_at(expires_at: float) -> float:
    """The sweep time for a row expiring at ``expires_at``: PURGE_SLACK to twice that later."""
    return (expires_at // PURGE_SLACK + 2) * PURGE_SLACK


def _merge(rebinds: bool, moves_purge: bool) -> str:
    """A save of a live session: merge the patch into its fields, extend its
    expiry, set its user if it rebinds. A row that is missing or expired is left
    alone. The statement that leaves purge_at (and so its index) untouched applies
    only while purge_at is at least :purge; when it changes nothing, the one that
    sets purge_at to :purge runs. Named parameters, not ?NNN: Python 3.12.1 takes
    those for named ones and warns on every statement. Only a statement that
    rebinds names ``user``: SQLite updates the index of every column a
    statement sets, whatever the value."""
    sets = "fields = json_patch(fields, :patch), expires_at = :expires"
    if rebinds:
        sets += ", user = :user"
    where = "WHERE key = :key AND expires_at > :now"
    if moves_purge:
        return f"UPDATE sessions SET {sets}, purge_at = :purge {where}"
    return f"UPDATE sessions SET {sets} {where} AND purge_at >= :purge"


MERGE = {
    (rebinds, moves): _merge(rebinds, moves) for rebinds in (False, True) for moves in (False, True)
}

# A save that may create (it carries $created): a new row, or a merge into a live
# one; an expired row with that key is replaced, not merged into.
CREATE_OR_MERGE = """
INSERT INTO sessions (key, fields, user, expires_at, purge_at)
VALUES (:key, json_patch('{}', :patch), :user, :expires, :purge)
ON CONFLICT (key) DO UPDATE SET
    fields = CASE WHEN sessions.expires_at > :now
                  THEN json_patch(sessions.fields, :patch) ELSE excluded.fields END,
    user = CASE WHEN :rebinds THEN excluded.user
                WHEN sessions.expires_at > :now THEN sessions.user END,
    expires_at = excluded.expires_at,
    purge_at = excluded.purge_at
"""
SWEEP_EVERY = 16  # writes between two sweeps of expired rows


class SQLiteStore(Store):
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
        self.path = Path(path)
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None  # used only on the worker thread
        self._worker: ThreadPoolExecutor | None = None
        self._writes = 0  # counts saves, for the sweep and the checkpoints
        # The connection of the thread that runs the event loop (see _quick), and that thread.
        self._here: sqlite3.Connection | None = None
        self._here_thread = 0
        self._checkpoint: asyncio.Future[None] | None = None
        # Bumped to make every connection reopen the file (see _reopen): after an
        # error from the file, or when the path names another file than the one open.
        self._generation = 0
        self._here_generation = 0
        self._connection_generation = 0
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._next_file_check = 0.0

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

    async def open(self) -> None:
        """Open the file (creating the table) now, so a bad path fails at start-up."""
        await self._run(lambda connection: None)

    async def close(self) -> None:
        here, self._here = self._here, None
        if here is not None:
            here.close()
        worker, self._worker = self._worker, None
        if worker is None:
            return
        await asyncio.get_running_loop().run_in_executor(worker, self._disconnect)
        worker.shutdown(wait=True)

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
                _merge_live(connection, key, patch_text, rebinds, user, expires, now)
            self._sweep_now_and_then(connection, now)

        await self._quick(save)

    async def touch(self, key: str, ttl: int) -> None:
        def touch(connection: sqlite3.Connection) -> None:
            now = time.time()
            patch = orjson.dumps({SEEN: encode_value(SEEN, now).decode()}).decode()
            _merge_live(connection, key, patch, False, None, now + ttl, now)

        await self._quick(touch)

    async def destroy(self, key: str) -> None:
        def destroy(connection: sqlite3.Connection) -> None:
            connection.execute("DELETE FROM sessions WHERE key = ?", (key,))

        await self._quick(destroy)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> bool:
        """One transaction: when the old row is live it is deleted and the new key gets
        ``data``; when it is gone or expired, nothing is written (logout is final)."""
        encoded = {name: raw.decode() for name, raw in encode_changes(data).items()}
        encoded.setdefault(CREATED, encode_value(CREATED, time.time()).decode())
        user = None if data.get(USER) is None else user_key(data[USER])
        fields = orjson.dumps(encoded).decode()

        def regenerate(connection: sqlite3.Connection) -> bool:
            now = time.time()
            with _immediate(connection):
                live = connection.execute(
                    "DELETE FROM sessions WHERE key = ? AND expires_at > ?", (old_key, now)
                ).rowcount
                if not live:
                    connection.execute("DELETE FROM sessions WHERE key = ?", (old_key,))
                    return False
                expires = now + ttl
                connection.execute(
                    "INSERT OR REPLACE INTO sessions (key, fields, user, expires_at, purge_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (new_key, fields, user, expires, purge_at(expires)),
                )
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
            with _immediate(connection):
                cursor = connection.execute(
                    "DELETE FROM sessions WHERE expires_at <= ?", (time.time(),)
                )
                return cursor.rowcount

        return await self._run(purge)

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        def destroy_user(connection: sqlite3.Connection) -> int:
            now = time.time()
            with _immediate(connection):
                live = connection.execute(
                    "DELETE FROM sessions WHERE user = ? AND key IS NOT ? AND expires_at > ?",
                    (user_key(user), keep, now),
                ).rowcount
                _sweep(connection, now)
                return live

        return await self._quick(destroy_user)

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        def sessions_of(connection: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = connection.execute(
                "SELECT key, fields FROM sessions WHERE user = ? AND expires_at > ?",
                (user_key(user), time.time()),
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

    # -- the event loop's connection -------------------------------------------

    async def _quick(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work``, a statement or two on one row, on this thread's own connection.

        Handing each statement to the store's thread cost far more than the
        statement: under load the two threads hand the GIL back and forth for every
        call (a wake-up and a context switch each way), about 0.3 ms of CPU per
        request for SQLite work of a few microseconds. So the hot calls run here,
        on the event loop, on a connection that never waits (``busy_timeout`` 0):
        in WAL mode a read never waits for a writer, and a write that finds
        another process's write lock is retried after an ``asyncio.sleep``, which
        lets other requests run meanwhile, until ``timeout`` has passed. ``work``
        may run more than once, so it must be safe to repeat (each of its
        statements is). Called from another thread than the first caller's, it
        runs on the store's thread instead.
        """
        connection = self._here if self._here_thread == threading.get_ident() else None
        if connection is not None and (
            self._here_generation != self._generation
            or (time.monotonic() >= self._next_file_check and self._file_moved())
        ):
            self._close_here()
            connection = None
        if connection is None:
            connection = await self._open_here()
        if connection is None:
            return await self._on_the_thread(work)
        deadline = 0.0
        pause = FIRST_PAUSE
        while True:
            try:
                return work(connection)
            except sqlite3.DatabaseError as exc:
                if not is_failure(exc):
                    raise
                if not is_busy(exc):
                    self._reopen()
                    raise self._unavailable(exc) from exc
                now = time.monotonic()
                deadline = deadline or now + self.timeout
                if now + pause > deadline:
                    raise self._unavailable(exc) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    def _reopen(self) -> None:
        """Make every connection open the file again on its next call.

        A connection SQLite opened read-only stays read-only after the permissions
        are fixed, and one on a deleted file goes on writing to it: after an error
        from the file, only a new connection sees the file as it is now. Each
        connection is closed by the thread that uses it, when it next sees the
        generation changed.
        """
        self._generation += 1

    def _close_here(self) -> None:
        here, self._here = self._here, None
        self._identity = None
        if here is not None:
            here.close()

    def _file_moved(self) -> bool:
        """Whether the path names another file than the one open (deleted, moved, replaced).

        SQLite itself goes on using the file it opened: without this check a worker
        would keep writing sessions to a deleted file while a worker started since
        uses a new one, and each would see the other's visitors as logged out.
        """
        self._next_file_check = time.monotonic() + FILE_CHECK_INTERVAL
        if self._identity is None:
            return False
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            what = "was deleted (or moved away)"
        except OSError:
            return False  # not readable now: the next statement says why
        else:
            if (found.st_dev, found.st_ino) == self._identity:
                return False
            what = "was replaced by another file"
        log.error(
            "The SQLite session store file %s %s since this process opened it; the "
            "sessions it held are no longer used. Opening the file now at that path (a new, "
            "empty one if there is none), as every worker does.",
            self.path,
            what,
        )
        self._drain_wal()
        self._reopen()
        return True

    def _drain_wal(self) -> None:
        """Copy the write-ahead log into the file this connection has open, and empty it.

        The -wal file beside the path is the old file's: a connection opening the
        new file with it would read the old file's pages as the new one's. Emptied,
        it is no one's. Best effort: another process reading it makes this fail, and
        that process does the same when it notices the change.
        """
        here = self._here
        if here is None:
            return
        try:
            here.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("SQLite WAL checkpoint of the old file failed: %s", exc)

    async def _on_the_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the store's thread, given up after ``timeout`` like a call on the loop.

        Its statements wait up to ``timeout`` for a lock there; the bound covers
        the queue too (a ``purge`` may be running).
        """
        try:
            async with asyncio.timeout(self.timeout):
                return await self._run(work)
        except TimeoutError as exc:
            raise StoreUnavailable(
                f"The SQLite session store at {self.path} did not answer within "
                f"{self.timeout:g} s; check that no process holds a long write lock."
            ) from exc

    async def _open_here(self) -> sqlite3.Connection | None:
        """This thread's connection, opened once the store's thread has set the file up.

        None when another thread has one: that thread's caller came first, and
        this caller's calls take the store's thread.
        """
        if self._here is None:
            await self._run(lambda connection: None)  # WAL mode, the table, a migration
        if self._here is not None:  # another thread's, or opened by a call meanwhile
            return self._here if self._here_thread == threading.get_ident() else None
        generation = self._generation
        try:
            connection = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA busy_timeout = 0")  # never wait on the loop
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA wal_autocheckpoint = 0")  # the store's thread does them
            found = os.stat(self.path)
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not is_failure(exc):
                raise
            raise self._unavailable(exc) from exc
        self._here, self._here_thread = connection, threading.get_ident()
        self._here_generation = generation
        self._identity = (found.st_dev, found.st_ino)
        self._next_file_check = time.monotonic() + FILE_CHECK_INTERVAL
        return connection

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        """The 503's error: what happened to the file, and what to check."""
        return StoreUnavailable(
            f"The SQLite session store at {self.path} {describe(exc)}. Requests that use "
            "the session answer 503 until it can be used again; nothing needs restarting."
        )

    def _checkpoint_now_and_then(self) -> None:
        """Every CHECKPOINT_EVERY writes, copy the WAL back into the file on the store's thread.

        The event loop's connection does not checkpoint by itself: a checkpoint
        syncs the file to disk, which can take milliseconds. At most one runs at
        a time; see ``_checkpoint`` for the mode.
        """
        if self._checkpoint is not None and not self._checkpoint.done():
            return  # the last one is still running
        self._checkpoint = self._submit(_checkpoint)
        self._checkpoint.add_done_callback(_report_checkpoint)

    # -- the worker thread ----------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on this store's own thread, with its connection (opened lazily)."""
        return await self._submit(work)

    def _submit(self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``work`` queued on this store's own thread (started lazily), as a future."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="porch-sqlite")
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._worker, self._with_connection, work)

    def _with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connect())
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not is_failure(exc):
                raise
            if not is_busy(exc):
                self._reopen()
            raise self._unavailable(exc) from exc

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._connection_generation != self._generation:
            self._disconnect()  # this thread's own connection: closed here (see _reopen)
        if self._connection is None:
            generation = self._generation
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=True
            )
            try:
                connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                _into_wal(connection, patience=self.timeout)
                connection.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode
                create_or_migrate(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            self._connection_generation = generation
        return self._connection

    def _sweep_now_and_then(self, connection: sqlite3.Connection, now: float) -> None:
        """Delete expired rows every ``SWEEP_EVERY`` writes: O(1) per request on average,
        and most writes skip the statement; and now and then, a checkpoint."""
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            _sweep(connection, now)
        if connection is self._here and self._writes % CHECKPOINT_EVERY == 0:
            self._checkpoint_now_and_then()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


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


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction that takes the lock up front, so a read-modify-write
    cannot interleave with another process's (a deferred one would deadlock instead)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:  # SQLite may already have rolled back on its own
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


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


def _checkpoint(connection: sqlite3.Connection) -> None:
    """Copy the WAL into the file and let the next write start the WAL over.

    RESTART, not PASSIVE: a passive checkpoint never waits, so under steady
    writes it never catches up with the end of the WAL, and the WAL is only
    started over once a checkpoint has caught up: it grew by 690 MB in 10 s of
    load. RESTART holds the write lock while it copies (a few milliseconds);
    writes on the event loop retry meanwhile, reads go on.
    """
    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()


def _report_checkpoint(done: asyncio.Future[None]) -> None:
    """A failed checkpoint loses nothing (the WAL keeps the writes): log it, go on."""
    if not done.cancelled() and done.exception() is not None:
        log.warning("SQLite WAL checkpoint failed: %s", done.exception())


def _sweep(connection: sqlite3.Connection, now: float) -> None:
    """Delete a few expired rows (the purge_at index finds them), inside the caller's write.

    expires_at is checked too: a row whose purge_at fell behind it (written by an
    older porch, which did not know the column) is live and stays.
    """
    connection.execute(
        "DELETE FROM sessions WHERE rowid IN "
        "(SELECT rowid FROM sessions WHERE purge_at <= :now AND expires_at <= :now "
        "LIMIT :batch)",
        {"now": now, "batch": SWEEP_BATCH},
    )


def _merge_live(
    connection: sqlite3.Connection,
    key: str,
    patch: str,
    rebinds: bool,
    user: str | None,
    expires: float,
    now: float,
) -> None:
    """Merge ``patch`` into the live row ``key``, leaving purge_at alone while it is
    at least PURGE_SLACK past the new expiry, else moving it (see _merge)."""
    arguments = {"patch": patch, "expires": expires, "key": key, "now": now}
    if rebinds:
        arguments["user"] = user
    staying = {**arguments, "purge": expires + PURGE_SLACK}
    if connection.execute(MERGE[rebinds, False], staying).rowcount == 0:
        connection.execute(MERGE[rebinds, True], {**arguments, "purge": purge_at(expires)})


def _into_wal(connection: sqlite3.Connection, *, patience: float) -> None:
    """``PRAGMA journal_mode = WAL``, retried on a busy file for up to ``patience`` seconds.

    When workers open a file that is not yet in WAL mode together (a new file
    under ``porch serve --workers N``), the one that loses the race to convert it
    gets SQLITE_BUSY at once: SQLite skips the busy handler there, as waiting
    could deadlock. Without the retry, 176 of 1,000 pairs of stores opening a
    new file together failed that way. Once the file is in WAL
    mode the pragma only reads, and succeeds on the first try.
    """
    deadline = time.monotonic() + patience
    pause = 0.002
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in BUSY or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def create_or_migrate(connection: sqlite3.Connection) -> None:
    """The table and its indexes; a file of an older porch gets purge_at, filled in.

    A file already in shape is only read (no lock). Otherwise one write
    transaction does it, so workers that open an old file together migrate it
    once: the others wait for the lock, then find the work done. The fill
    rewrites every row once (about 3.5 s per million rows), so that wait may
    exceed the store's ``timeout``: it is bounded by MIGRATION_TIMEOUT instead.
    """
    if _in_shape(connection):
        return
    (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute(f"PRAGMA busy_timeout = {int(MIGRATION_TIMEOUT * 1000)}")
    try:
        with _immediate(connection):
            connection.execute(TABLE)
            if not _has_purge_at(connection):
                connection.execute("ALTER TABLE sessions ADD COLUMN purge_at REAL")
                connection.execute(
                    "UPDATE sessions SET purge_at = "
                    "(CAST(expires_at / :slack AS INTEGER) + 2) * :slack",
                    {"slack": PURGE_SLACK},
                )
            for statement in INDEXES:  # not executescript: it would commit first
                connection.execute(statement)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def _has_purge_at(connection: sqlite3.Connection) -> bool:
    return any(row[1] == "purge_at" for row in connection.execute("PRAGMA table_info(sessions)"))


def _in_shape(connection: sqlite3.Connection) -> bool:
    """Whether the table has purge_at and porch's indexes, and not the older one
    (an index of the user's own does not count either way)."""
    indexes = {
        str(name)
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'"
        )
    }
    return (
        _has_purge_at(connection)
        and {"sessions_by_user", "sessions_by_purge"} <= indexes
        and "sessions_by_expiry" not in indexes
    )
