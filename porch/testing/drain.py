"""What ``run()`` does with the connections a test leaves open when its block ends.

A server stopping gracefully waits for its connections, and a WebSocket or a
slow handler a test forgot may never end: Granian's embedded server then
waits forever, or stops leaving the app's tasks on futures that never
resolve, so the test's event loop hangs when it closes; uvicorn waits for the
handler forever. So ``run()`` ends them first, on the server's loop, in the
order a server shutting down would:

1. each open WebSocket is closed with 1001 (going away), so its client and the
   app both see the connection end;
2. Socket.IO's clients are disconnected, which answers their pending long-polls;
3. requests still in flight get ``GRACE`` seconds to finish;
4. whatever is left is cancelled.

Then the server stops with nothing in flight. Each connection ended this way
is named in a ``ResourceWarning``: a test that leaves one open usually has a
bug (a socket it forgot to close, a stream it did not read to the end).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import App

GRACE = 2.0
"""Seconds that requests still in flight at the end of the block get to finish."""

SETTLE = 0.5
"""Seconds for connections already ending (closed by the test just before) to end on their own."""

GOING_AWAY = 1001


@dataclass(eq=False)
class Call:
    """One ASGI call of the app (a request or a WebSocket), and how far it got."""

    scope: Scope
    send: Send
    task: asyncio.Future[None] | None = None
    accepted: bool = False  # a WebSocket the app accepted
    closed: bool = False  # a WebSocket closed by either side
    closed_by_run: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by_run: bool = False

    def describe(self) -> str:
        path = self.scope.get("path", "")
        query = self.scope.get("query_string", b"").decode("latin-1")
        target = f"{path}?{query}" if query else path
        if self.scope["type"] == "websocket":
            return f"WebSocket {target}"
        return f"{self.scope.get('method', 'GET')} {target}"

    def receive_until_closed(self, receive: Receive) -> Receive:
        """The app's receive, which says the client left once run() closed the WebSocket.

        Not every server answers a pending receive after the app's own close, and
        without it the app would wait for the client until run() cancels it.
        """

        async def received() -> Message:
            if self.closed_by_run.is_set():
                return {"type": "websocket.disconnect", "code": GOING_AWAY}
            message = asyncio.ensure_future(receive())
            closing = asyncio.ensure_future(self.closed_by_run.wait())
            await asyncio.wait((message, closing), return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if message.done():
                return message.result()
            message.cancel()
            return {"type": "websocket.disconnect", "code": GOING_AWAY}

        return received

    def watch(self, send: Send) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "websocket.accept":
                self.accepted = True
            elif message["type"] == "websocket.close":
                if self.closed:  # closed by run() already: the server would refuse a second
                    return
                self.closed = True
            await send(message)

        return watched


@dataclass
class Connections:
    """Wraps the app that ``run()`` serves, to end what is still open when the block ends."""

    app: ASGIApp
    porch_app: App
    calls: set[Call] = field(default_factory=set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        call = Call(scope, send)
        # The app runs in a task of its own, which run() can cancel without the
        # cancellation reaching the server's own machinery.
        if scope["type"] == "websocket":
            receive = call.receive_until_closed(receive)
        call.task = asyncio.ensure_future(self.app(scope, receive, call.watch(send)))
        self.calls.add(call)
        try:
            await call.task  # cancelling this task (the server's) cancels the app's too
        except asyncio.CancelledError:
            if not call.ended_by_run:
                raise
        finally:
            self.calls.discard(call)

    async def end(self, grace: float = GRACE) -> list[str]:
        """Close WebSockets, end long-polls, wait ``grace`` seconds, cancel the rest.

        Returns what was still open, for run() to name in a warning.
        """
        # A connection the test just closed may still be ending on the server (its
        # close frame in transit): it is not one the test left open.
        await self.wait(SETTLE)
        left = [call.describe() for call in self.calls]
        await self.close_websockets()
        await self.disconnect_socket_io(grace)
        await self.wait(grace)
        for call in list(self.calls):
            call.ended_by_run = True
            if call.task is not None:
                call.task.cancel()
        await self.wait(grace)  # a handler that ignores its cancellation is left to the loop
        return left

    async def close_websockets(self) -> None:
        for call in list(self.calls):
            if call.scope["type"] == "websocket" and call.accepted and not call.closed:
                call.closed = True
                with contextlib.suppress(Exception):  # the client may be gone already
                    await call.send({"type": "websocket.close", "code": GOING_AWAY})
                call.closed_by_run.set()

    async def disconnect_socket_io(self, grace: float) -> None:
        """Disconnect every Socket.IO client: a pending long-poll returns its close packet."""
        sockets = self.porch_app.sockets
        if sockets is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sockets.disconnect_all(), grace)

    async def wait(self, grace: float) -> None:
        tasks = [call.task for call in self.calls if call.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


def left_open_message(left: list[str]) -> str:
    listed = "; ".join(left)
    return (
        f"run() ended {len(left)} connection(s) still open when its block ended: {listed}. "
        "WebSockets were closed (1001), Socket.IO clients disconnected, and requests still "
        f"running after {GRACE:g} s cancelled. Close sockets and read streams to their end "
        "inside the block."
    )
