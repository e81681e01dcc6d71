"""Which SQLite errors are store failures (porch answers 503), and what to say about each.

Everything that can happen to the file under a running store is one class:
permissions changed (read-only), the file or its directory deleted, moved or
replaced, the disk full, the file locked too long by another process, the
file damaged or not a database. Each is a 503 with a log line that names the
cause, never a 500, and each recovers once the file is fixed: the store drops
its connections after such an error and opens the file again on the next call
(a connection that SQLite opened read-only stays read-only, whatever the
permissions become).
"""

from __future__ import annotations

import sqlite3

BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # primary result codes worth a retry

# Errors of porch's own making (a wrong statement, a broken constraint): bugs, left as 500s.
BUGS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.NotSupportedError,
    sqlite3.DataError,
)

_WHY = {
    sqlite3.SQLITE_READONLY: "is read-only to this process: check the permissions of the "
    "file and of its directory (SQLite writes -wal and -shm files beside it)",
    sqlite3.SQLITE_CANTOPEN: "cannot be opened: check that its directory exists and is "
    "writable by this process",
    sqlite3.SQLITE_PERM: "is not writable by this process: check its permissions",
    sqlite3.SQLITE_FULL: "cannot grow: the disk (or the file system's quota) is full",
    sqlite3.SQLITE_IOERR: "met a disk I/O error: check the disk and the system log",
    sqlite3.SQLITE_CORRUPT: "is damaged (database disk image is malformed): move it aside "
    "and porch starts a new, empty one",
    sqlite3.SQLITE_NOTADB: "is not a SQLite database: move it aside and porch starts a "
    "new, empty one",
    sqlite3.SQLITE_BUSY: "stayed locked by another process for longer than the store's "
    "timeout: check that no process holds a long write lock",
    sqlite3.SQLITE_LOCKED: "stayed locked for longer than the store's timeout: check that "
    "no process holds a long write lock",
}


def is_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the file's or the disk's doing (a 503), not porch's (a bug)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, BUGS)


def code_of(exc: BaseException) -> int:
    """The primary SQLite result code of ``exc`` (0 when it carries none)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else 0


def is_busy(exc: BaseException) -> bool:
    """A lock held by another connection: worth retrying until the timeout."""
    return code_of(exc) in BUSY


def describe(exc: BaseException) -> str:
    """What happened to the file, for ``"The SQLite session store at PATH " + describe(exc)``."""
    why = _WHY.get(code_of(exc))
    if why is None:
        message = str(exc)
        if "not a database" in message:
            why = _WHY[sqlite3.SQLITE_NOTADB]
        elif "malformed" in message:
            why = _WHY[sqlite3.SQLITE_CORRUPT]
        else:
            why = "cannot be used"
    return f"{why} ({exc})"
