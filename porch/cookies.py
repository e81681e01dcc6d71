"""Cookies as HTTP spells them: one parser of ``Cookie``, one builder of ``Set-Cookie``.

A neutral module with no porch imports, so the reply helpers, the request
context, the socket handshake and the session layer share one reading and one
writing of cookies without importing each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal, get_args
from urllib.parse import quote, unquote

from starlette.requests import cookie_parser

SameSite = Literal["lax", "strict", "none"]
SAME_SITE: tuple[str, ...] = get_args(SameSite)
"""The values ``SameSite`` accepts, for the checks that run (a ``Literal`` binds only mypy)."""

# Characters a cookie value may hold as they are (RFC 6265 cookie-octet, minus '%',
# which starts an escape); anything else is percent-encoded, as express does.
COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"


def parse_cookies(header: str) -> dict[str, str]:
    """The cookies of a ``Cookie`` header, percent-decoded (what ``set_cookie_header`` encodes)."""
    parsed = cookie_parser(header)
    return {name: unquote(value) if "%" in value else value for name, value in parsed.items()}


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
