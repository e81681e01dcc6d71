"""Request headers read straight off the ASGI scope, before (or without) building ``Headers``.

Every request needs its Cookie header and whether a body is announced before
the handlers run; one pass over the raw list costs less than Starlette's
``Headers`` for the many requests that never read another header.
"""

from __future__ import annotations

from starlette.types import Scope


def cookie_and_body(scope: Scope) -> tuple[bytes | None, bool]:
    """The first Cookie header, and whether a body is announced, in one pass over the headers.

    Every request needs both before the handlers run (the session, the body);
    a GET rarely announces a body, but may (Content-Length, Transfer-Encoding).
    """
    cookie = None
    body = False
    for name, value in scope["headers"]:
        if name == b"cookie":
            if cookie is None:
                cookie = value
        elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            body = True
    return cookie, body


def raw_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a (lower-case) request header, straight from the ASGI scope."""
    for key, value in scope["headers"]:
        if key == name:
            value_bytes: bytes = value
            return value_bytes
    return None
