"""Sockets: ``socket('message', fn)``, real-time events on the Socket.IO protocol.

```python
from porch import socket

@socket('message')                      # also 'connect' and 'disconnect'
async def on_message(ctx):
    ctx.session['said'] = ctx.session.get('said', 0) + 1    # the browser's own session
    await ctx.io.emit('message', ctx.data)                   # every client, every worker
    return 'ok'                                               # the client's acknowledgement
```

The protocol is python-socketio's, so the ordinary socket.io browser client
connects to ``/socket.io/`` as it does with server.js. The server exists only
when the app has socket handlers, and is built once, with the app.

**The session.** The browser's session cookie arrives with the Socket.IO
handshake (an ordinary HTTP request). It is verified like any other; each
event loads the session through the app's session layer and commits what
changed after the handlers ran, so the next HTTP request sees it. A cookie
cannot be *set* over a socket: when a connection without a valid session
writes one, the new session belongs to that connection alone (its later events
see it; the browser's HTTP requests cannot). The same holds after
``regenerate()`` or ``destroy()`` in a socket handler; log in and out over HTTP.

**Scale-out.** With a Redis session store the Socket.IO server uses
python-socketio's Redis manager on the same Redis, so ``ctx.io.emit`` reaches
the clients of every worker and machine.

**Refusals first.** Socket.IO's requests pass the Host allow-list and the
header limit before python-socketio sees them (socket_guard.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias, cast, overload

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from .context import AppContext
from .cookies import parse_cookies
from .logsafe import safe_traceback
from .scope import cookie_header
from .session.unavailable import UnavailableSession
from .socket_guard import SocketGuard
from .socket_pubsub import broadcast_url, channel_for
from .step import Step

if TYPE_CHECKING:
    import socketio

    from .context import Context
    from .protocols import SocketHost
    from .session import Session
    from .step import Handler

SocketFunction: TypeAlias = Callable[["SocketContext"], Any]

PATH = "/socket.io/"
LIFECYCLE = ("connect", "disconnect")

log = logging.getLogger("porch.socket")


class SocketHandler:
    """``socket(event, fn, ...)``: functions that run, in order, for one Socket.IO event.

    Collected by the app like routes; the first function that returns something
    other than None ends the chain, and what it returned is the client's
    acknowledgement (a ``connect`` handler may return False to refuse).
    """

    __slots__ = ("event", "steps")

    def __init__(self, event: str, handlers: Iterable[SocketFunction]) -> None:
        self.event = checked_event(event)
        # Step runs any fn(ctx) as HTTP middleware runs (sync ones in a worker thread);
        # it is typed for the HTTP Context, which a SocketContext stands in for here.
        self.steps = tuple(Step(cast("Handler", handler)) for handler in handlers)
        if not self.steps:
            raise TypeError(f"socket({event!r}, ...) needs at least one handler function.")

    def __repr__(self) -> str:
        return f"SocketHandler({self.event!r})"


def checked_event(event: object) -> str:
    if not isinstance(event, str) or not event:
        raise TypeError(
            "socket() takes an event name such as 'message', 'connect' or 'disconnect' "
            f"first; got {event!r}."
        )
    return event


@overload
def socket(event: str, /) -> Callable[[SocketFunction], SocketHandler]: ...
@overload
def socket(event: str, handler: SocketFunction, /, *handlers: SocketFunction) -> SocketHandler: ...
def socket(
    event: str, /, *handlers: SocketFunction
) -> SocketHandler | Callable[[SocketFunction], SocketHandler]:
    """A Socket.IO event handler: ``@socket('message')`` above a function, or ``socket(event, fn)``.

    Pass it to ``server(...)``/``run(...)`` with the routes. ``'connect'`` runs when
    a client connects (``ctx.data`` is its ``auth`` payload), ``'disconnect'``
    when it leaves (``ctx.data`` is the reason); any other name is a custom event
    whose payload is ``ctx.data``. Sync functions run in a worker thread.
    """
    if handlers:
        return SocketHandler(event, handlers)
    checked_event(event)  # now, at the decorator, not when it is applied
    return lambda function: SocketHandler(event, (function,))


@dataclass
class Connection:
    """What porch remembers of one client between its events."""

    id: str
    scope: Scope
    cookie: str | None  # the signed session id this connection's events load


class Socket:
    """``ctx.socket``: the connection whose event is being handled."""

    __slots__ = ("id", "server")

    def __init__(self, server: socketio.AsyncServer, socket_id: str) -> None:
        self.server = server
        self.id = socket_id

    def __repr__(self) -> str:
        return f"<porch socket {self.id}>"

    async def emit(self, event: str, data: Any = None) -> None:
        """Send an event to this client only."""
        await self.server.emit(event, data, to=self.id)

    async def join(self, room: str) -> None:
        """Add this client to a room, for ``ctx.io.emit(event, data, to=room)``."""
        await self.server.enter_room(self.id, room)

    async def leave(self, room: str) -> None:
        await self.server.leave_room(self.id, room)

    async def disconnect(self) -> None:
        """Close this connection from the server side (its ``disconnect`` handlers run)."""
        await self.server.disconnect(self.id)


class Broadcast:
    """``ctx.io``: events to every connected client (of every worker, with Redis)."""

    __slots__ = ("server",)

    def __init__(self, server: socketio.AsyncServer) -> None:
        self.server = server

    async def emit(
        self, event: str, data: Any = None, *, to: str | None = None, skip: str | None = None
    ) -> None:
        """Send to everyone, or only to the room or client id ``to``; ``skip`` leaves one out."""
        await self.server.emit(event, data, to=to, skip_sid=skip)


class SocketContext(AppContext):
    """What a socket handler receives: the event, the connection and the browser's session.

    ``ctx.scope`` is the ASGI scope of the Socket.IO handshake, the HTTP
    request that opened the connection; ``ctx.headers`` and ``ctx.cookies`` are
    read from it.
    """

    def __init__(
        self,
        app: SocketHost,
        connection: Connection,
        *,
        event: str,
        data: Any,
        socket: Socket,
        io: Broadcast,
        session: Session | None,
    ) -> None:
        self.app = app
        self.event = event
        self.data = data
        self.socket = socket
        self.io = io
        self.scope = connection.scope
        self.error: BaseException | None = None
        if session is not None:  # else ctx.session says that sessions are off
            self.session = session

    @cached_property
    def headers(self) -> Headers:
        """The handshake's request headers."""
        return Headers(scope=self.scope)

    @cached_property
    def cookies(self) -> dict[str, str]:
        """The handshake's cookies, percent-decoded."""
        return parse_cookies((cookie_header(self.scope) or b"").decode("latin-1"))


class SocketLayer:
    """The app's Socket.IO server: runs the handlers with the session around them.

    Built by the app only when it has socket handlers. Connections live in
    this object (one per app), never in module state.
    """

    def __init__(self, app: SocketHost, handlers: Iterable[SocketHandler]) -> None:
        self.app = app
        self.handlers: dict[str, list[Step]] = {}
        for handler in handlers:
            self.handlers.setdefault(handler.event, []).extend(handler.steps)
        self.connections: dict[str, Connection] = {}
        self.manager_url = broadcast_url(app)
        self.guard = SocketGuard(app)
        self.server, self.io, self.asgi = self.build()

    def build(self) -> tuple[socketio.AsyncServer, Broadcast, socketio.ASGIApp]:
        """A fresh Socket.IO server: at app build time, and again after each ``close()``."""
        import socketio  # here, so that apps without sockets never import it

        manager = (
            socketio.AsyncRedisManager(self.manager_url, channel=channel_for(self.manager_url))
            if self.manager_url is not None
            else None
        )
        server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
        server.on("connect", self.on_connect)
        server.on("disconnect", self.on_disconnect)
        for event in self.handlers:
            if event not in LIFECYCLE:
                server.on(event, self.event_handler(event))
        return server, Broadcast(server), socketio.ASGIApp(server, socketio_path=PATH)

    def serves(self, scope: Scope) -> bool:
        """Socket.IO's own requests: polling over HTTP, and the WebSocket upgrade."""
        return scope["type"] in ("http", "websocket") and scope["path"].startswith(PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = await self.guard.admits(scope, receive, send)
        if admitted is not None:
            await self.asgi(admitted, receive, send)

    async def disconnect_all(self) -> None:
        """Disconnect every client (their ``disconnect`` handlers run), ahead of a stop.

        A pending long-poll is answered with Engine.IO's close packet instead of
        waiting out its ping interval; run() calls this when its block ends.
        """
        engine = self.server.eio
        if engine.sockets:  # Engine.IO's disconnect() of all waits on a set it must not be empty
            await engine.disconnect()

    async def close(self) -> None:
        """Stop the background tasks (Engine.IO's client monitor, the Redis listener).

        A server that was shut down does not start its tasks again, so the app
        gets a fresh one, ready should it be served again (tests do that).
        """
        server = self.server
        await server.shutdown()
        manager = server.manager
        listener = getattr(manager, "thread", None)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(BaseException):  # cancelled, or it had failed already
                await listener
        if getattr(manager, "pubsub", None) is not None:
            await manager.pubsub.aclose()
        if getattr(manager, "redis", None) is not None:
            await manager.redis.aclose()
        self.connections.clear()
        self.server, self.io, self.asgi = self.build()

    # --- python-socketio's callbacks ---

    async def on_connect(self, socket_id: str, environ: dict[str, Any], auth: Any = None) -> bool:
        scope: Scope = environ["asgi.scope"]
        cookie_name = self.app.session_cookie
        signed = parse_cookies((cookie_header(scope) or b"").decode("latin-1")).get(cookie_name)
        connection = Connection(socket_id, scope, signed)
        self.connections[socket_id] = connection
        accepted = await self.dispatch(connection, "connect", auth, refuse_on_error=True)
        if accepted is False:
            self.connections.pop(socket_id, None)
            return False
        return True

    async def on_disconnect(self, socket_id: str, reason: Any = None) -> None:
        connection = self.connections.get(socket_id)
        if connection is None:  # refused at connect: its handlers saw it already
            return
        try:
            await self.dispatch(connection, "disconnect", reason, refuse_on_error=False)
        finally:
            self.connections.pop(socket_id, None)

    def event_handler(self, event: str) -> Callable[..., Any]:
        async def on_event(socket_id: str, *payload: Any) -> Any:
            connection = self.connections.get(socket_id)
            if connection is None:
                return None
            return await self.dispatch(connection, event, event_data(payload))

        return on_event

    # --- one event: session in, handlers, session out ---

    async def dispatch(
        self, connection: Connection, event: str, data: Any, *, refuse_on_error: bool = False
    ) -> Any:
        """Run the event's handlers; an error is logged and answered, never raised."""
        steps = self.handlers.get(event, ())
        if not steps:
            return None
        try:
            await self.app.open()
            session = await self.load_session(connection)
            ctx = SocketContext(
                self.app,
                connection,
                event=event,
                data=data,
                socket=Socket(self.server, connection.id),
                io=self.io,
                session=session,
            )
            result = None
            for step in steps:
                result = await step(cast("Context", ctx))
                if result is not None:
                    break
            if session is not None:
                await self.commit_session(connection, session)
            return result
        except Exception as exc:
            log.error(
                "socket %s, event %r: the handler failed%s\n%s",
                connection.id,
                event,
                "; the connection is refused" if refuse_on_error else "",
                safe_traceback(exc),
            )
            return False if refuse_on_error else None

    async def load_session(self, connection: Connection) -> Session | None:
        sessions = self.app.sessions
        if sessions is None:
            return None
        return await sessions.load(connection.cookie)

    async def commit_session(self, connection: Connection, session: Session) -> None:
        """Save what changed; later events of this connection follow the session's id.

        The Set-Cookie the layer produces has nowhere to go over a socket, so a
        session created, regenerated or destroyed here is remembered by this
        connection alone.
        """
        sessions = self.app.sessions
        assert sessions is not None
        await sessions.commit(session, [])
        if type(session) is UnavailableSession:  # not loaded (store down): the cookie stays
            return
        connection.cookie = sessions.signer.sign(session.id) if session.id else None


def event_data(payload: tuple[Any, ...]) -> Any:
    """One argument is the data itself; none is None; several arrive as a tuple."""
    if not payload:
        return None
    return payload[0] if len(payload) == 1 else payload


__all__ = ["Broadcast", "Socket", "SocketContext", "SocketHandler", "socket"]
