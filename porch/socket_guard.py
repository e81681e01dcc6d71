"""Refusals before Socket.IO: its requests pass the checks every HTTP request passes.

Socket.IO's requests (the long-polling handshake and the WebSocket upgrade)
are answered by python-socketio, outside porch's request pipeline, so they
would skip ``security.hosts`` and ``security.header_limit``. Its same-origin
check does not make up for the Host allow-list: a page on a name an attacker
rebinds to this server's address (DNS rebinding) is its own origin. So the
socket layer asks this guard first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from .context import Context
from .errors import HTTPError
from .logsafe import escape
from .security.requests import RequestGuard

if TYPE_CHECKING:
    from .protocols import Services


class SocketGuard:
    """The app's Host and header-size checks, applied to Socket.IO's raw ASGI requests."""

    def __init__(self, app: Services) -> None:
        self.app = app
        self.checks = RequestGuard(app.options.security)

    async def admits(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True to pass the request on; else it has been answered (refused) here."""
        try:
            self.checks.check(Context(self.app, handshake_scope(scope), receive))
        except HTTPError as refusal:
            await refuse(scope, receive, send, refusal, self.app.log)
            return False
        return True


def handshake_scope(scope: Scope) -> Scope:
    """The scope as a request: a WebSocket upgrade is a GET, though its scope has no method."""
    return scope if "method" in scope else {**scope, "method": "GET"}


async def refuse(
    scope: Scope, receive: Receive, send: Send, refusal: HTTPError, log: logging.Logger
) -> None:
    """Answer a refused Socket.IO request: its status as HTTP, or a closed WebSocket handshake.

    Closing a WebSocket before accepting it makes the server answer the upgrade
    with 403 (the ASGI specification); the status and message are in the log.
    """
    log.info("Socket.IO request refused: %s %s", refusal.status, escape(str(refusal)))
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await PlainTextResponse(str(refusal), refusal.status)(scope, receive, send)
