"""The response of the common return values (a dict, a list, a str), from ready bytes.

Most handlers return one of these, so their response skips what Starlette's
``Response.__init__`` does on every request (look the charset up, encode each
header). The app knows such a response holds porch's own headers only, with
the body in hand, and adds the security headers to it without a check.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class ReadyResponse(Response):
    """A 200 whose two headers are built from ready bytes.

    For the common return values (a dict, a list, a str): Starlette's
    ``Response.__init__`` looks the charset up and encodes each header on every
    request; this sets the same status, body and headers directly.
    """

    def __init__(self, body: bytes, content_type: bytes) -> None:
        self.status_code = 200
        self.body = body
        self.background = None
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", content_type),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Two messages, as Starlette sends them (there is never a background task here)."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": self.body})
