"""SQLiteStore's connections: one on the event loop that never waits there, one on a thread.

Kept apart from the store's session operations (``sqlite.py``): how the file is
opened, reopened when it is replaced, checkpointed and swept, and how a busy or
failing file becomes ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ...errors import StoreUnavailable
from .sqlite_batch import Batch, Work, write_all
from .sqlite_failures import describe, is_busy, is_failure
from .sqlite_sql import checkpoint, create_or_migrate, into_wal, sweep

DEFAULT_TIMEOUT = 2.0
# Seconds between two checks that the path still names the file the store has
# open (one stat): a file deleted or replaced under running workers is reopened
# within this, so no worker goes on writing to a file the others no longer see.
FILE_CHECK_INTERVAL = 0.1
# A statement on the event loop that finds the file locked by another process
# is retried after FIRST_PAUSE seconds, then after twice as long each time, up
# to LONGEST_PAUSE, until the store's timeout has passed.
FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.02
# Writes on the event loop between two WAL checkpoints on the store's thread:
# with one to three pages a write, about what SQLite's own default (1,000 pages)
# would do, minus the fsync on the loop.
CHECKPOINT_EVERY = 512

SWEEP_EVERY = 16  # writes between two sweeps of expired rows

log = logging.getLogger("porch.session")

T = TypeVar("T")


class SQLiteConnection:
    """The connections of one SQLiteStore to its file (see the module docstring)."""

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
        self._batch: Batch | None = None  # the saves waiting for the next transaction
        self._flushes: set[asyncio.Task[None]] = set()  # transactions under way

    async def open(self) -> None:
        """Open the file (creating the table) now, so a bad path fails at start-up."""
        await self._run(lambda connection: None)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        queued = [flush for flush in self._flushes if flush.get_loop() is loop]
        if queued:  # saves already queued on this loop are written first
            await asyncio.gather(*queued, return_exceptions=True)
        here, self._here = self._here, None
        if here is not None:
            here.close()
        worker, self._worker = self._worker, None
        if worker is None:
            return
        await asyncio.get_running_loop().run_in_executor(worker, self._disconnect)
        worker.shutdown(wait=True)

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

    async def _write(self, work: Work) -> None:
        """``work``, a save, in one transaction with the other saves of this loop turn.

        See ``sqlite_batch``: the saves queued during one turn of the event loop
        are written by one task on the next, in one transaction run as
        ``_quick`` runs a statement (on the loop, retried while the file is
        busy, up to ``timeout``). The task is the batch's own, so a request
        cancelled meanwhile cancels nothing of the others'. A store used from
        a second event loop (another thread) writes that loop's saves one by one.
        """
        loop = asyncio.get_running_loop()
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(loop)
            flush = loop.create_task(self._flush(batch))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        elif batch.loop is not loop:
            return await self._quick(work)
        await batch.add(work)

    async def _flush(self, batch: Batch) -> None:
        """Write the batch: later saves start the next one."""
        if self._batch is batch:
            self._batch = None
        try:
            if len(batch.saves) == 1:  # alone: its own statement, no transaction around it
                await self._quick(batch.saves[0].work)
                outcomes: list[BaseException | None] = [None]
            else:
                outcomes = await self._quick(
                    lambda connection: write_all(connection, batch.saves, self._failed)
                )
        except BaseException as exc:
            batch.fail(exc)
            if not isinstance(exc, Exception):
                raise  # cancelled (the loop is closing): the callers were told
        else:
            batch.settle(outcomes)

    def _failed(self, exc: sqlite3.DatabaseError) -> BaseException:
        """A save in a batch that failed on its own: what ``_quick`` makes of a failure."""
        self._reopen()
        error = self._unavailable(exc)
        error.__cause__ = exc
        return error

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
        a time; see ``sqlite_sql.checkpoint`` for the mode.
        """
        if self._checkpoint is not None and not self._checkpoint.done():
            return  # the last one is still running
        self._checkpoint = self._submit(checkpoint)
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
                into_wal(connection, patience=self.timeout)
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
            sweep(connection, now)
        if connection is self._here and self._writes % CHECKPOINT_EVERY == 0:
            self._checkpoint_now_and_then()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _report_checkpoint(done: asyncio.Future[None]) -> None:
    """A failed checkpoint loses nothing (the WAL keeps the writes): log it, go on."""
    if not done.cancelled() and done.exception() is not None:
        log.warning("SQLite WAL checkpoint failed: %s", done.exception())
