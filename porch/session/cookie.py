"""Cookies: signing with rotation, and the one function that builds a Set-Cookie header."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote

SameSite = Literal["lax", "strict", "none"]

# Characters a cookie value may hold as they are (RFC 6265 cookie-octet, minus '%',
# which starts an escape); anything else is percent-encoded, as express does.
COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"


class Signer:
    """Signs values with the first secret and verifies with any (secret rotation).

    Keys are derived per purpose, so a secret shared with other features (CSRF,
    the user's own code) never yields a signature valid here. Keys are derived
    once, when the app is built, not per request.
    """

    def __init__(self, secrets: tuple[str, ...], *, purpose: str) -> None:
        if not secrets:
            raise ValueError("a Signer needs at least one secret")
        self._keys = tuple(
            hmac.digest(secret.encode(), purpose.encode(), "sha256") for secret in secrets
        )

    def _signature(self, key: bytes, value: str) -> str:
        digest = hmac.digest(key, value.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, value: str) -> str:
        """``value.signature``: what goes into the cookie."""
        return f"{value}.{self._signature(self._keys[0], value)}"

    def unsign(self, signed: str) -> str | None:
        """The value, or None when the signature matches no secret (tampered or foreign)."""
        value, separator, signature = signed.rpartition(".")
        if not separator or not value or not signed.isascii():
            return None
        for key in self._keys:
            if hmac.compare_digest(signature, self._signature(key, value)):
                return value
        return None


def set_cookie_header(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | str | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: SameSite | None = "lax",
) -> str:
    """The value of one ``Set-Cookie`` header; every cookie porch sets is built here."""
    parts = [f"{name}={quote(value, safe=COOKIE_SAFE)}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={http_date(expires)}")
    if path:
        parts.append(f"Path={path}")
    if domain:
        parts.append(f"Domain={domain}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite:
        parts.append(f"SameSite={samesite.capitalize()}")
    return "; ".join(parts)


def expire_cookie_header(
    name: str,
    *,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: SameSite | None = "lax",
) -> str:
    """A ``Set-Cookie`` that makes the browser forget the cookie now."""
    return set_cookie_header(
        name,
        "",
        max_age=0,
        expires=0,
        path=path,
        domain=domain,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
    )


def http_date(moment: datetime | str | int) -> str:
    """An HTTP date from a datetime, a Unix timestamp, or a string taken as already formatted."""
    if isinstance(moment, str):
        return moment
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def session_key(session_id: str) -> str:
    """A session's key in the store: SHA-256 of its id, so a leaked dump cannot be replayed."""
    return hashlib.sha256(session_id.encode()).hexdigest()
