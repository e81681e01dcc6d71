"""One Redis connection per worker, shared by every request: commands pipelined, replies in order.

A session request makes two small Redis calls (a read, a write). Through
redis-py's connection pool each call checks a connection out and back in, goes
through the client's retry and observability wrappers, and costs a write system
call of its own, on porch's side and on Redis's. Redis answers the commands of
one connection in the order it received them, so porch instead writes the
commands of all requests in flight to one connection and matches replies to
callers first-in, first-out (as StackExchange.Redis's multiplexer and ioredis's
auto-pipelining do):

- a command is packed by redis-py (``pack_command``) and queued with a future;
  the queue is written once per event-loop turn, so many requests share one
  ``send()``, and Redis reads them in one ``read()``;
- one reader task parses replies with redis-py's parser (hiredis when present)
  and resolves the oldest future; an error reply (``NOSCRIPT``...) becomes that
  caller's exception only;
- a watchdog, one timer per connection rather than one per call, fails every
  pending call with ``StoreUnavailable`` once the oldest has waited ``timeout``
  seconds (a hung Redis), and drops the connection; the next call reconnects;
- a caller that gives up (its request was cancelled) leaves its future in the
  queue, so the order still holds when its reply arrives.

Used for plain ``redis://``, ``rediss://`` and ``unix://`` stores that porch
connects itself; a cluster, a sentinel or a client passed in code goes through
redis-py's own client.

Beyond redis-py's public API this relies on three things: the pool's
``connection_class`` and ``connection_kwargs``, a connection's ``_writer``
stream, and ``read_response(disconnect_on_error=...)``. ``unsupported()`` checks
them when the store opens, and ``_connect`` checks the stream once connected
(``SharingUnsupported``). When a redis-py release moves them, the store falls
back to redis-py's plain client with one warning: slower, never an outage.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from ...errors import StoreUnavailable

_Pending = tuple[asyncio.Future[Any], float]
# What this module calls on a connection, beyond constructing it.
CONNECTION_METHODS = ("connect", "disconnect", "pack_command", "read_response")


class SharingUnsupported(Exception):
    """redis-py's connection is not what the multiplexer expects: use the plain client."""


def unsupported(client: Redis) -> str | None:
    """Why ``client``'s connections cannot be shared as this module shares them, or None.

    Checks, without any I/O, what the module uses of redis-py beyond its public
    API (see the module docstring): a connection built from the pool's settings
    has the methods and the ``_writer`` slot it needs, and ``read_response``
    takes ``disconnect_on_error``.
    """
    pool = getattr(client, "connection_pool", None)
    connection_class = getattr(pool, "connection_class", None)
    settings = getattr(pool, "connection_kwargs", None)
    if not isinstance(connection_class, type) or not isinstance(settings, dict):
        return "its connection pool has no connection_class and connection_kwargs"
    name = connection_class.__name__
    methods: dict[str, Any] = {m: getattr(connection_class, m, None) for m in CONNECTION_METHODS}
    for method, found in methods.items():
        if not callable(found):
            return f"{name} has no {method}()"
    try:
        parameters = inspect.signature(methods["read_response"]).parameters
    except (TypeError, ValueError):
        return f"the signature of {name}.read_response() cannot be read"
    if "disconnect_on_error" not in parameters:
        return f"{name}.read_response() takes no disconnect_on_error"
    try:
        probe = connection_class(**{**settings, "socket_timeout": None})
    except Exception as exc:  # any failure means: do not share, never fail the app
        return f"{name} cannot be built from its pool's settings ({exc!r})"
    if not hasattr(probe, "_writer"):
        return f"{name} keeps its stream elsewhere than _writer"
    return None


class Multiplexer:
    """Run commands over one shared connection (see the module docstring)."""

    def __init__(
        self,
        client: Redis,
        *,
        timeout: float,
        unavailable: Callable[[Exception], StoreUnavailable],
    ) -> None:
        """``client`` supplies the connection settings (URL, auth, db, TLS); ``unavailable``
        builds the error pending calls fail with (the store's message, naming its URL)."""
        self.client = client
        self.timeout = timeout
        self.unavailable = unavailable
        self._connection: AbstractConnection | None = None
        self._connecting: asyncio.Future[AbstractConnection] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: collections.deque[_Pending] = collections.deque()
        self._outgoing: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._dropping: asyncio.Task[None] | None = None

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (raw: bytes, lists, ints)."""
        connection = self._connection
        if connection is None:
            connection = await self._connect()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((future, loop.time()))
        self._outgoing.extend(connection.pack_command(*args))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.timeout / 4, self._check)
        return await future

    async def close(self) -> None:
        await self._drop(ConnectionError("the session store is closing"))

    # -- the connection -------------------------------------------------------

    async def _connect(self) -> AbstractConnection:
        """One connection, made by redis-py (auth, db, TLS) but with no socket timeout:
        the reader waits for replies indefinitely and the watchdog bounds the wait."""
        if self._connecting is not None:
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        connecting = self._connecting = loop.create_future()
        try:
            pool = self.client.connection_pool
            options = {**pool.connection_kwargs, "socket_timeout": None}
            connection: AbstractConnection = pool.connection_class(**options)
            async with asyncio.timeout(self.timeout):
                await connection.connect()  # type: ignore[no-untyped-call]
            if not callable(getattr(getattr(connection, "_writer", None), "writelines", None)):
                await connection.disconnect()
                raise SharingUnsupported(
                    f"{type(connection).__name__}._writer is no stream once connected"
                )
        except BaseException as exc:
            if isinstance(exc, Exception):
                connecting.set_exception(exc)
                connecting.exception()  # marked as seen: each waiter re-raises it itself
            else:
                connecting.cancel()
            raise
        finally:
            self._connecting = None
        self._connection = connection
        self._reader = loop.create_task(self._read(connection))
        connecting.set_result(connection)
        return connection

    def _flush(self) -> None:
        """Write every command queued this loop turn, in order, in one go.

        Commands are only queued while a connection is current (a dropped one
        fails and clears the queue), so the queue always belongs to this one.
        """
        self._flush_scheduled = False
        outgoing, self._outgoing = self._outgoing, []
        connection = self._connection
        if connection is None or not outgoing:
            return
        # redis-py's StreamWriter: writing it directly (no drain) is what lets one
        # send() carry the commands of many requests; the queue is bounded by them.
        writer = getattr(connection, "_writer", None)
        if writer is None:
            self._fail_all(ConnectionError("the connection to Redis closed"))
            return
        writer.writelines(outgoing)

    async def _read(self, connection: AbstractConnection) -> None:
        """Resolve pending calls with replies, oldest first, until the connection fails."""
        pending = self._pending
        try:
            while True:
                try:
                    reply: Any = await connection.read_response(disconnect_on_error=False)
                except ResponseError as error:  # an error reply: only that caller's
                    reply = error
                if not pending:
                    raise ConnectionError("Redis sent a reply nobody asked for")
                future, _ = pending.popleft()
                if future.done():
                    continue  # its caller gave up; the order still holds
                if isinstance(reply, ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if connection is self._connection:
                self._connection = None
                self._fail_all(exc)
                with contextlib.suppress(Exception):
                    await connection.disconnect(nowait=True)

    def _check(self) -> None:
        """The watchdog: fail everything once the oldest call waited ``timeout``."""
        self._watchdog = None
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._pending[0][1]
        if waited >= self.timeout:
            self._dropping = loop.create_task(
                self._drop(TimeoutError(f"no reply within {self.timeout:g} s"))
            )
            return
        self._watchdog = loop.call_later(self.timeout / 4, self._check)

    async def _drop(self, reason: Exception) -> None:
        """Forget the connection, fail every pending call, and close it."""
        connection, self._connection = self._connection, None
        reader, self._reader = self._reader, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._fail_all(reason)
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(nowait=True)

    def _fail_all(self, reason: Exception) -> None:
        error = self.unavailable(reason)
        self._outgoing = []
        while self._pending:
            future, _ = self._pending.popleft()
            if not future.done():
                future.set_exception(error)
