"""SQLiteStore's group commit: the saves of one event-loop turn, written in one transaction.

Under load many requests reach their save in the same turn of the event loop.
Written one by one, each save is a transaction of its own: SQLite takes and
drops its file locks (a dozen ``fcntl`` calls) and appends the table's page to
the WAL once per save, about 11 µs of CPU each. In one transaction the locks
are taken once and each page is written once, however many rows on it
changed: about 4 µs a save in batches of ten. The saves queued in one turn are
written together on the next; the transaction commits before any of them
returns, so a save still returns only once it is in the file.

Each save stays its own statement(s), and one that fails on its own (a row
whose fields are not JSON, say) fails alone: SQLite undoes only that
statement, and the others commit. A failure that ends the transaction (a busy
lock, a full disk, a file gone read-only) is every save's, and the batch is
retried or reported as one, as a single save would be.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from .sqlite_failures import is_busy, is_failure

Work = Callable[[sqlite3.Connection], None]
# What becomes of a save that failed on its own: the error its caller gets.
OnFailure = Callable[[sqlite3.DatabaseError], BaseException]


class Waiting(NamedTuple):
    """One queued save and the future its caller awaits."""

    work: Work
    done: asyncio.Future[None]


class Batch:
    """The saves queued on one event loop for the next transaction."""

    __slots__ = ("loop", "saves")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.saves: list[Waiting] = []

    def add(self, work: Work) -> asyncio.Future[None]:
        done = self.loop.create_future()
        self.saves.append(Waiting(work, done))
        return done

    def settle(self, outcomes: list[BaseException | None]) -> None:
        """Each caller gets its save's outcome (a caller gone meanwhile gets nothing)."""
        for (_, done), outcome in zip(self.saves, outcomes, strict=True):
            if done.done():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

    def fail(self, error: BaseException) -> None:
        """Every caller gets ``error``: the transaction as a whole failed."""
        for _, done in self.saves:
            if not done.done():
                done.set_exception(error)


def write_all(
    connection: sqlite3.Connection, saves: list[Waiting], on_failure: OnFailure
) -> list[BaseException | None]:
    """Run every save in one write transaction; the outcome of each, in order.

    Raises (after a rollback) what ends the transaction: a busy lock, or any
    error after which SQLite has rolled back on its own. Safe to repeat, as
    each save is: nothing is written unless the COMMIT succeeds.
    """
    outcomes: list[BaseException | None] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        for work, _ in saves:
            try:
                work(connection)
            except sqlite3.DatabaseError as exc:
                if is_busy(exc) or not connection.in_transaction:
                    raise
                outcomes.append(on_failure(exc) if is_failure(exc) else exc)
            except Exception as exc:  # a bug in one save: that caller's 500, not the others'
                outcomes.append(exc)
            else:
                outcomes.append(None)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return outcomes
