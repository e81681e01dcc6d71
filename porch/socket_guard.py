"""Refusals before Socket.IO: its requests pass the checks every HTTP request passes.

Socket.IO's requests (the long-polling handshake and the WebSocket upgrade)
are answered by python-socketio, outside porch's request pipeline, so they
would skip ``security.hosts`` and ``security.header_limit``. Its same-origin
check does not make up for the Host allow-list: a page on a name an attacker
rebinds to this server's address (DNS rebinding) is its own origin. So the
socket layer asks this guard first.

The guard also hands python-socketio the forwarded headers as porch reads
them. Its same-origin check allows ``scheme://X-Forwarded-Host`` (and
``X-Forwarded-Proto``) as well as the Host, from any client and from the
client's end of the list, where porch reads them only from trusted proxies, at
the proxy's end. Without this, any client named the origin it was allowed.
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

    async def admits(self, scope: Scope, receive: Receive, send: Send) -> Scope | None:
        """The scope to pass on (see ``as_porch_reads_it``); None when refused (and answered)."""
        ctx = Context(self.app, handshake_scope(scope), receive)
        try:
            self.checks.check(ctx)
        except HTTPError as refusal:
            await refuse(scope, receive, send, refusal, self.app.log)
            return None
        return as_porch_reads_it(scope, ctx)


FORWARDED = (b"x-forwarded-host", b"x-forwarded-proto")


def as_porch_reads_it(scope: Scope, ctx: Context) -> Scope:
    """The scope with X-Forwarded-Host and -Proto as porch reads them: a trusted proxy's
    entry, one value, else none at all."""
    headers = scope["headers"]
    if not any(name in FORWARDED for name, _ in headers):
        return scope  # the common case: nothing to rewrite
    kept = [(name, value) for name, value in headers if name not in FORWARDED]
    for name in FORWARDED:
        value = ctx.forwarded(name.decode())
        if value is not None:
            kept.append((name, value.encode("latin-1")))
    return {**scope, "headers": kept}


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
