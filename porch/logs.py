"""porch's logging: the level, the stderr handler porch adds when the program set none up,
and the access line.

porch logs through the standard ``logging`` module, on ``porch`` (start-up,
stores), ``porch.app`` (``ctx.log``, unhandled errors) and ``porch.access`` (one
line per request). Every request writes an access line at the default level,
so that line's path is kept short: its record is made without a stack walk, and
porch's own handler writes the lines of one event-loop turn together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from .logsafe import escape

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
FORMAT = "%(levelname)s:%(name)s: %(message)s"
# Set by ``porch serve`` for the workers it starts: the server's access log is off
# because porch turned it off, in favour of porch's own line.
OWNS_ACCESS_LOG = "PORCH_OWNS_ACCESS_LOG"


def configure_logging(level: str) -> logging.Logger:
    """porch logs through ``logging``; give it a handler only when the program set none up."""
    logger = logging.getLogger("porch")
    logger.setLevel(LEVELS[level])
    if not logger.handlers and not logging.getLogger().handlers:
        logger.addHandler(TurnBatchingHandler())
    return logger


class TurnBatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, written once per event-loop turn rather than once per record.

    With a write (and a flush) per record, the access line cost a system call
    per request: under load about a third of everything porch did for one. The
    lines of one loop turn are kept and written together, in order, when the
    turn ends. A record at WARNING or above, or one logged outside the event
    loop's thread (a sync handler in a worker thread, start-up, a script),
    writes at once with everything before it, so no error waits; at exit,
    ``logging.shutdown()`` flushes what is left.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.own_formatter = logging.Formatter(FORMAT)
        self.setFormatter(self.own_formatter)
        self.pending: list[str] = []
        self.flush_loop: asyncio.AbstractEventLoop | None = None  # where a flush is pending

    def add_line(self, line: str) -> None:
        """A line already formatted as this handler would format its record (see log_access)."""
        self.acquire()
        try:
            self.pending.append(line + self.terminator)
            if not self.flush_pending():
                self.flush()
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.pending.append(self.format(record) + self.terminator)
            if record.levelno < logging.WARNING and self.flush_pending():
                return
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush_pending(self) -> bool:
        """Whether a flush will run when this event-loop turn ends, scheduling one if needed.

        False outside an event loop's thread with none pending: write now. A
        flush pending on a loop that has since closed never runs, so it does
        not count (the next app, or test, runs its own loop).
        """
        loop = self.flush_loop
        if loop is not None and not loop.is_closed():
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        loop.call_soon(self.flush)
        self.flush_loop = loop
        return True

    def flush(self) -> None:
        self.acquire()
        try:
            self.flush_loop = None
            if self.pending:
                text = "".join(self.pending)
                self.pending.clear()
                self.stream.write(text)
            super().flush()
        finally:
            self.release()


def server_access_log_off(started_by_porch: bool) -> bool:
    """Whether the server running this app was told to write no access log, by its user.

    uvicorn writes its line while ``uvicorn.access`` has a handler on its way up
    (``hasHandlers()``, uvicorn's own test); ``--no-access-log`` removes them and
    stops the logger propagating. A user who asked that of the server means no
    access lines at all, so porch writes none either. ``app.run()``, ``porch
    serve`` and ``run()`` turn uvicorn's log off themselves, for porch's own
    line: there it says nothing about the user.
    """
    if started_by_porch or os.environ.get(OWNS_ACCESS_LOG) == "1":
        return False
    access = logging.Logger.manager.loggerDict.get("uvicorn.access")
    return isinstance(access, logging.Logger) and not access.hasHandlers()


def log_access(logger: logging.Logger, method: str, url: str, status: int, ms: float) -> None:
    """One access line: ``GET /cats?page=2 200 3.1ms``, the fields also on the record.

    Call it only when ``logger`` is enabled for INFO. When the line can only
    end up in porch's own handler (the program configured no logging), it is
    formatted here and handed to that handler: the same text, without the
    record, the handler chain and the formatter, which cost more than the rest
    of a request. Otherwise the record is made directly: ``logger.info`` would
    walk the stack to find its caller, and for this line that is always porch.
    """
    method, url = escape(method), escape(url)  # a %0a in the URL must not start a log line
    handler = only_handler(logger)
    if handler is not None:
        level = logging.getLevelName(logging.INFO)
        handler.add_line(f"{level}:{logger.name}: {method} {url} {status:d} {ms:.1f}ms")
        return
    extra: dict[str, Any] = {"method": method, "url": url, "status": status, "ms": ms}
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %d %.1fms",
        (method, url, status, ms),
        None,
        "log_access",
        extra,
    )
    logger.handle(record)


def only_handler(logger: logging.Logger) -> TurnBatchingHandler | None:
    """porch's own handler, when a record of ``logger`` can reach no other handler or filter.

    That is: ``logger`` has no handler or filter and passes its records to its
    parent; the parent holds porch's handler alone, unfiltered, with its own
    format and a level that lets INFO through; and nothing above the parent has
    a handler (a program that configures logging later gets every record).
    """
    parent = logger.parent
    if logger.handlers or logger.filters or not logger.propagate or parent is None:
        return None
    if parent.filters or len(parent.handlers) != 1:
        return None
    handler = parent.handlers[0]
    if (
        type(handler) is not TurnBatchingHandler
        or handler.filters
        or handler.formatter is not handler.own_formatter
        or handler.level > logging.INFO
    ):
        return None
    above = parent.parent if parent.propagate else None
    while above is not None:
        if above.handlers:
            return None
        above = above.parent if above.propagate else None
    return handler
