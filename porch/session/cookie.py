"""The session cookie's signing (with secret rotation) and the session's key in the store.

The Set-Cookie builder lives in ``porch.cookies``, below every layer that sets a
cookie; it is imported here for the session layer, which takes it from this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..cookies import SameSite, expire_cookie_header, http_date, set_cookie_header

__all__ = [
    "SameSite",
    "Signer",
    "expire_cookie_header",
    "http_date",
    "session_key",
    "set_cookie_header",
]


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


def session_key(session_id: str) -> str:
    """A session's key in the store: SHA-256 of its id, so a leaked dump cannot be replayed."""
    return hashlib.sha256(session_id.encode()).hexdigest()
