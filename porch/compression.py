"""gzip for the replies where it pays (the ``compress`` option, on by default).

A reply of 1 KiB or more goes out gzipped when the client sends
``Accept-Encoding: gzip``; Starlette's ``GZipMiddleware`` does the work (and
leaves alone a reply that already names its encoding). The checks here run
first, straight off the scope and the ready body, so the usual small reply to
a client without gzip (most API clients and load testers) skips the
middleware altogether.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

COMPRESS_MIN_SIZE = 1024


def small(response: Response) -> bool:
    """Too small to be worth compressing: GZipMiddleware would send it as it is.

    Only for a reply whose body is in hand (a ``ReadyResponse``).
    """
    return len(response.body) < COMPRESS_MIN_SIZE


def accepts_gzip(scope: Scope) -> bool:
    """Whether the client sent ``Accept-Encoding`` naming gzip (read straight from the scope)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


async def send_gzipped(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Send ``response`` through ``GZipMiddleware`` (which still sends a short stream as it is)."""
    await GZipMiddleware(response, minimum_size=COMPRESS_MIN_SIZE)(scope, receive, send)
