"""Session values encrypted at rest: ``session={'encrypt': True}`` (``SESSION_ENCRYPT=true``).

Off by default. When on, the app wraps its store in ``EncryptedStore``: every
value is sealed with AES-256-GCM before it reaches the store, so a leaked
store dump or backup shows no session contents, and an edited entry does not
decrypt (the visitor gets a new session and the log an error, as for any
corrupt entry). Keys are still SHA-256 hashes of the ids, and each field is
sealed on its own, so per-key writes (two concurrent requests changing
different keys) keep working.

- The key is derived from the session secret (``SESSION_SECRET``, else
  ``SECRET``) with HKDF, for this purpose only, so it never equals a signing key.
  With several comma-separated secrets the first seals and every one opens:
  rotation works as it does for cookies.
- The session key and the field name are bound into each value (GCM's
  associated data), so a value copied to another session or field does not open.
- ``$created``, ``$seen`` and ``$user`` stay plain: stores read them (expiry,
  "log out everywhere"), and they are timestamps and the user id, not contents.
- Turning encryption on or off starts every visitor on a new session: old
  entries do not open under the new setting.

Needs the ``cryptography`` package: ``pip install 'porch[encrypt]'``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ConfigError, CorruptSession
from .stores.base import CREATED, SEEN, USER, Regenerated, SessionInfo, Store, encode_value

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PLAIN_FIELDS = frozenset({CREATED, SEEN, USER})
PREFIX = "enc1:"
NONCE_BYTES = 12
PURPOSE = b"porch.session.encryption"


def derive_key(secret: str) -> bytes:
    """A 256-bit key for this purpose alone, from one session secret (HKDF-SHA256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
        secret.encode()
    )


def ciphers_for(secrets_: tuple[str, ...]) -> tuple[AESGCM, ...]:
    """One cipher per secret; a missing ``cryptography`` fails at start-up, naming the fix."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise ConfigError(
            "option 'session.encrypt' is True (SESSION_ENCRYPT), but the 'cryptography' package "
            "is not installed; install it with: pip install 'porch[encrypt]'"
        ) from exc
    return tuple(AESGCM(derive_key(secret)) for secret in secrets_)


class EncryptedStore(Store):
    """A store whose values are sealed before they reach ``inner``; see the module docstring."""

    def __init__(self, inner: Store, secrets: tuple[str, ...]) -> None:
        if not secrets:
            raise ConfigError("option 'session.encrypt' needs a session secret (SECRET).")
        self.inner = inner
        self._ciphers = ciphers_for(secrets)

    def __repr__(self) -> str:
        return f"EncryptedStore({self.inner!r})"

    @property
    def per_process(self) -> bool:
        """Where the sessions live is the inner store's to say (see ``Store``)."""
        return self.inner.per_process

    # --- sealing one field ---

    def seal(self, key: str, name: str, value: Any) -> Any:
        if name in PLAIN_FIELDS:
            return value
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, encode_value(name, value), associated(key, name))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open_value(self, key: str, name: str, stored: Any) -> Any:
        """The value, or ``CorruptSession`` when it is not one this app sealed for this field."""
        from cryptography.exceptions import InvalidTag

        if name in PLAIN_FIELDS:
            return stored
        raw = sealed_bytes(stored)
        if raw is not None:
            nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
            for cipher in self._ciphers:
                try:
                    return orjson.loads(cipher.decrypt(nonce, sealed, associated(key, name)))
                except InvalidTag:
                    continue
        raise CorruptSession(
            f"The session entry {key[:12]}... holds a field {name[:40]!r} that does not decrypt "
            "with any session secret; porch treats it as no session. It was written without "
            "encryption, with a secret since removed, or edited in the store."
        )

    def seal_all(self, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self.seal(key, name, value) for name, value in fields.items()}

    @property
    def destroy_follows_moves(self) -> bool:
        """The inner store's: regenerate and destroy reach it unchanged. (Not so the speed
        capabilities, ``times_out_by_itself`` and ``immediate``: this wrapper adds work.)"""
        return self.inner.destroy_follows_moves

    @property
    def tells_already_moved(self) -> bool:
        """The inner store's: its regenerate's answer passes through unchanged."""
        return self.inner.tells_already_moved

    # --- the Store contract, delegated ---

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def load(self, key: str) -> dict[str, Any] | None:
        entry = await self.inner.load(key)
        if entry is None:
            return None
        return {name: self.open_value(key, name, value) for name, value in entry.items()}

    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        await self.inner.save(key, self.seal_all(key, changes), deleted, ttl)

    async def touch(self, key: str, ttl: int) -> None:
        await self.inner.touch(key, ttl)

    async def destroy(self, key: str) -> None:
        await self.inner.destroy(key)

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        return await self.inner.regenerate(old_key, new_key, self.seal_all(new_key, data), ttl)

    async def count(self) -> int:
        return await self.inner.count()

    async def purge(self) -> int:
        return await self.inner.purge()

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        return await self.inner.destroy_user(user, keep=keep)

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        return await self.inner.sessions_of(user)


def associated(key: str, name: str) -> bytes:
    """What each sealed value is bound to: its session key and its field name."""
    return f"{key}\x00{name}".encode()


def sealed_bytes(stored: Any) -> bytes | None:
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) > NONCE_BYTES else None
