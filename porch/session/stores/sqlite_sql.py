"""The SQL of SQLiteStore: its table, the statements that write it, and migrating a file.

Kept apart from the store (``sqlite.py``), which decides when each runs and on
which connection; every function here takes the connection it works on.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .sqlite_failures import BUSY

MIGRATION_TIMEOUT = 120.0  # seconds a store opening the file waits for another's migration
SWEEP_BATCH = 128  # expired rows deleted per sweep, one sweep per SWEEP_EVERY writes

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
# Moved-session markers (Store.destroy_follows_moves): regenerate() leaves one
# row here, old key -> new key, which destroy() of the old key follows. A table
# of its own, so loads, saves, count() and sessions_of() never meet a marker.
MOVED_TABLE = """
CREATE TABLE IF NOT EXISTS moved_sessions (
    key        TEXT PRIMARY KEY,
    moved_to   TEXT NOT NULL,
    expires_at REAL NOT NULL
)
"""
INDEXES = (
    "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user) WHERE user IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS sessions_by_purge ON sessions (purge_at)",
    "DROP INDEX IF EXISTS sessions_by_expiry",  # an older porch's: updated on every save
    "CREATE INDEX IF NOT EXISTS moved_sessions_by_expiry ON moved_sessions (expires_at)",
)
PURGE_SLACK = 300.0  # seconds: how stale purge_at may get before a save moves it


def purge_at(expires_at: float) -> float:
    """The sweep time for a row expiring at ``expires_at``: PURGE_SLACK to twice that later."""
    return (expires_at // PURGE_SLACK + 2) * PURGE_SLACK


def merge_statement(rebinds: bool, moves_purge: bool) -> str:
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
    (rebinds, moves): merge_statement(rebinds, moves)
    for rebinds in (False, True)
    for moves in (False, True)
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


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
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


def checkpoint(connection: sqlite3.Connection) -> None:
    """Copy the WAL into the file and let the next write start the WAL over.

    RESTART, not PASSIVE: a passive checkpoint never waits, so under steady
    writes it never catches up with the end of the WAL, and the WAL is only
    started over once a checkpoint has caught up: it grew by 690 MB in 10 s of
    load. RESTART holds the write lock while it copies (a few milliseconds);
    writes on the event loop retry meanwhile, reads go on.
    """
    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()


def sweep(connection: sqlite3.Connection, now: float) -> None:
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
    connection.execute(
        "DELETE FROM moved_sessions WHERE rowid IN "
        "(SELECT rowid FROM moved_sessions WHERE expires_at <= :now LIMIT :batch)",
        {"now": now, "batch": SWEEP_BATCH},
    )


def mark_moved(
    connection: sqlite3.Connection, old_key: str, new_key: str, expires_at: float
) -> None:
    """Inside regenerate's transaction: destroy(old_key) now ends new_key too, until expires_at."""
    connection.execute(
        "INSERT OR REPLACE INTO moved_sessions (key, moved_to, expires_at) VALUES (?, ?, ?)",
        (old_key, new_key, expires_at),
    )


def is_moved(connection: sqlite3.Connection, key: str, now: float) -> bool:
    """Inside regenerate's transaction: a concurrent regenerate moved ``key`` (its marker
    is live), as opposed to a logout or the expiry ending it."""
    row = connection.execute(
        "SELECT 1 FROM moved_sessions WHERE key = ? AND expires_at > ?", (key, now)
    ).fetchone()
    return row is not None


def destroy_following_moves(connection: sqlite3.Connection, key: str, now: float) -> None:
    """Inside one write transaction: delete the session, then each one it was regenerated
    to, while a live marker leads on; the markers followed go too."""
    while True:
        connection.execute("DELETE FROM sessions WHERE key = ?", (key,))
        marker = connection.execute(
            "SELECT moved_to, expires_at FROM moved_sessions WHERE key = ?", (key,)
        ).fetchone()  # not DELETE ... RETURNING: SQLite 3.35, newer than some systems' own
        if marker is None:
            return
        connection.execute("DELETE FROM moved_sessions WHERE key = ?", (key,))
        if marker[1] <= now:
            return
        key = str(marker[0])


def merge_live(
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


def into_wal(connection: sqlite3.Connection, *, patience: float) -> None:
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
    if in_shape(connection):
        return
    (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute(f"PRAGMA busy_timeout = {int(MIGRATION_TIMEOUT * 1000)}")
    try:
        with write_transaction(connection):
            connection.execute(TABLE)
            connection.execute(MOVED_TABLE)
            if not has_purge_at(connection):
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


def has_purge_at(connection: sqlite3.Connection) -> bool:
    return any(row[1] == "purge_at" for row in connection.execute("PRAGMA table_info(sessions)"))


def in_shape(connection: sqlite3.Connection) -> bool:
    """Whether the tables have purge_at and porch's indexes, and not the older one
    (an index of the user's own does not count either way)."""
    indexes = {
        str(name)
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name IN ('sessions', 'moved_sessions')"
        )
    }
    return (
        has_purge_at(connection)
        and {"sessions_by_user", "sessions_by_purge", "moved_sessions_by_expiry"} <= indexes
        and "sessions_by_expiry" not in indexes
    )
