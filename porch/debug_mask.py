"""What the development error page hides: secrets, cookies, credentials.

The page is for the developer's own browser, but it is still a page served over
HTTP, pasted into issue trackers and screenshots. So it shows the *shape* of the
request and the session (names, and values that are not secret) and masks:

- every cookie value and every header that carries a credential (``Cookie``,
  ``Authorization``, ``X-CSRF-Token``, ``X-API-Key``... and any header whose
  name looks secret);
- form, JSON, query and session values whose key looks secret (``password``,
  ``api_key``, ``token``, ``_csrf``...), at any depth;
- any occurrence, anywhere on the page (exception messages and source lines
  included), of the app's ``SECRET`` values and of the cookie and credential
  values the request carried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"
# Key names whose values are masked: substrings, case-insensitive ("user_password", "apiKey").
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|key|auth|csrf|session|cookie|credential|signature|private|otp"
    r"|(?<![a-z])(pin|cvc|cvv|ssn|iban)(?![a-z])",  # short ones whole: "card_pin", not "shipping"
    re.IGNORECASE,
)
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrf-token", "x-api-key"}
)
# Characters shown of one value (a message, a header, a field): a 1 MB body is not a page.
VALUE_LIMIT = 10_000
# Shorter values are not searched for in free text: masking every "1" would hide the page.
MIN_HIDDEN_LENGTH = 6


def clip(value: str) -> str:
    if len(value) <= VALUE_LIMIT:
        return value
    return f"{value[:VALUE_LIMIT]}... ({len(value) - VALUE_LIMIT} more characters)"


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


class Masker:
    """Masks by key name, and hides known secret strings wherever they appear."""

    def __init__(self, hidden: Iterable[str]) -> None:
        values = {value for value in hidden if len(value) >= MIN_HIDDEN_LENGTH}
        # Longest first, so a secret that contains another is hidden whole.
        ordered = sorted(values, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced by the mask."""
        if self.pattern is None:
            return value
        return self.pattern.sub(MASK, value)

    def value(self, name: str, value: Any) -> Any:
        """A value to show under ``name``: masked when the name looks secret, else walked."""
        if looks_secret(name):
            return MASK
        return self.walk(value)

    def walk(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(key): self.value(str(key), item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.walk(item) for item in value]
        if isinstance(value, str):
            return clip(self.text(value))
        if value is None or isinstance(value, bool | int | float):
            return value
        return clip(self.text(repr(value)))  # bytes, an object: its repr, masked

    def url(self, value: str) -> str:
        """A URL with its secret-looking query values masked (``?token=...`` in a Referer)."""
        base, question, query = value.partition("?")
        if not question:
            return self.text(value)
        pairs = [
            f"{name}={MASK}" if looks_secret(name) else f"{name}{equals}{item}"
            for name, equals, item in (part.partition("=") for part in query.split("&"))
        ]
        return self.text(f"{base}?{'&'.join(pairs)}")

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        shown = []
        for name, value in pairs:
            lowered = name.lower()
            if lowered == "cookie":
                shown.append((name, cookie_names_only(value)))
            elif lowered in CREDENTIAL_HEADERS or looks_secret(lowered):
                shown.append((name, MASK))
            else:
                shown.append((name, clip(self.text(value))))
        return shown


def cookie_names_only(header: str) -> str:
    """``a=1; b=2`` as ``a=********; b=********``: which cookies came, never their values."""
    names = [part.split("=", 1)[0].strip() for part in header.split(";") if part.strip()]
    return "; ".join(f"{name}={MASK}" for name in names)


def hidden_values(secrets: Iterable[str], cookies: Mapping[str, str], headers: Any) -> list[str]:
    """Strings to hide anywhere on the page: the app's secrets, cookie and credential values."""
    hidden = list(secrets)
    hidden.extend(cookies.values())
    for name in CREDENTIAL_HEADERS - {"cookie"}:
        value = headers.get(name)
        if value:
            hidden.append(value)
            hidden.append(value.partition(" ")[2])  # "Bearer abc...": the token alone too
    return hidden
