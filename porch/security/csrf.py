"""CSRF tokens for unsafe methods.

Each session holds one random CSRF secret (the ``$csrf`` field); it rotates
with the session id (``regenerate()``), when the bound user changes, and
with ``destroy()``, so a token from before a login stops working. ``ctx.csrf``
hands out that secret masked with a fresh random pad, so the token differs on
every page (no BREACH-style leak through compression) while any of them
verifies. Unsafe methods must send one back, as the form field ``_csrf`` or the
``X-CSRF-Token`` header; otherwise the reply is 403. Unsafe is every method but
the safe ones (GET, HEAD, OPTIONS, TRACE), not only POST, PUT, PATCH and DELETE:
a server may pass on any method (Granian passes ``post`` or ``PURGE``), and each
reaches the app's middleware, which may act on the session.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import TYPE_CHECKING

from ..errors import Forbidden
from ..session import CSRF

if TYPE_CHECKING:
    from ..protocols import Submitted
    from ..session import Session

CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""The methods that need no token (RFC 9110 9.2.1); every other one is checked."""
SECRET_BYTES = 32


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def csrf_secret(session: Session) -> bytes:
    """The session's CSRF secret, made (and so the session started) on first use."""
    stored = session.get_internal(CSRF)
    secret = _decode(stored) if isinstance(stored, str) else None
    if secret is None or len(secret) != SECRET_BYTES:
        secret = secrets.token_bytes(SECRET_BYTES)
        session.set_internal(CSRF, _encode(secret))
    return secret


def csrf_token(session: Session) -> str:
    """A fresh masked token for this session's secret: put it in forms as ``_csrf``."""
    mask = secrets.token_bytes(SECRET_BYTES)
    return _encode(mask + _xor(mask, csrf_secret(session)))


def token_matches(token: str, session: Session) -> bool:
    """Unmask and compare in constant time; a session without a secret matches nothing."""
    stored = session.peek_internal(CSRF)
    secret = _decode(stored) if isinstance(stored, str) else None
    raw = _decode(token)
    if secret is None or raw is None or len(raw) != 2 * SECRET_BYTES:
        return False
    mask, masked = raw[:SECRET_BYTES], raw[SECRET_BYTES:]
    return hmac.compare_digest(_xor(mask, masked), secret)


def submitted_token(ctx: Submitted) -> str | None:
    """The token the request sent: the X-CSRF-Token header, else the form field _csrf."""
    header = ctx.headers.get(CSRF_HEADER)
    if header:
        return header
    data = ctx.data if ctx.has_form() else None
    value = data.get(CSRF_FIELD) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def check_csrf(ctx: Submitted) -> None:
    """Refuse an unsafe request that does not carry this session's CSRF token."""
    if ctx.method in SAFE_METHODS:
        return
    token = submitted_token(ctx)
    if token is None:
        raise Forbidden(
            "Missing CSRF token: send the value of ctx.csrf as the form field '_csrf' or the "
            "header 'X-CSRF-Token'. A JSON API for non-browser clients turns the check off for "
            "its routes: post('/api/items', handler, csrf=False), or sub('api', ..., "
            "csrf=False) for a subdomain (docs/security.md, CSRF)."
        )
    if not token_matches(token, ctx.session):
        raise Forbidden(
            "Invalid CSRF token: it does not belong to this session (expired session, "
            "or a cross-site request). Reload the form and try again."
        )
