"""Request headers read straight off the ASGI scope, before (or without) building ``Headers``.

Every request needs its Cookie header and whether a body is announced before
the handlers run; one pass over the raw list costs less than Starlette's
``Headers`` for the many requests that never read another header.
"""

from __future__ import annotations

from starlette.types import Scope


def cookie_and_body(scope: Scope) -> tuple[bytes | None, bool]:
    """The Cookie header, and whether a body is announced, in one pass over the headers.

    Every request needs both before the handlers run (the session, the body);
    a GET rarely announces a body, but may (Content-Length, Transfer-Encoding).
    Several Cookie fields are one header joined by ``; ``: an HTTP/2 client
    sends each cookie as a field of its own (RFC 9113 8.2.3), and Granian
    passes them on so; the first alone would lose the session cookie.
    """
    cookie = None
    body = False
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = value if cookie is None else cookie + b"; " + value
        elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            body = True
    return cookie, body


def cookie_header(scope: Scope) -> bytes | None:
    """Every Cookie field of the request, joined as one (see ``cookie_and_body``)."""
    return cookie_and_body(scope)[0]
