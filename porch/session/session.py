"""``Session``: ``ctx.session``, the mapping of JSON values that remembers what changed.

It only records: which keys changed or went, whether the page read it, and the
intent of ``regenerate()`` and ``destroy()``. What to write of it is decided by
the rules in ``porch.session.rules`` and carried out by ``porch.session.layer``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from ..errors import SessionError
from .cookie import session_key
from .stores.base import CREATED, USER
from .values import check_value, is_text, is_user_id, json_problem, refusal

FLASH = "$flash"
CSRF = "$csrf"  # the CSRF secret (porch.security.csrf), which rotates with the session id
MUTABLE = (dict, list)
MISSING: Any = object()


def new_session_id() -> str:
    """256 random bits; ids are only ever made here, never taken from a client (strict mode)."""
    return secrets.token_urlsafe(32)


class Session(MutableMapping[str, Any]):
    """``ctx.session``: a mutable mapping of JSON values that remembers what changed.

    ``regenerate()``, ``destroy()`` and ``flash()`` need no ``await``: they mark
    intent, and the session layer carries it out once, after the handler. Values
    read from the session and then mutated in place (``ctx.session['cart'].append(x)``)
    count as changed too: nothing is silently lost.
    """

    __slots__ = (
        "_changes",
        "_data",
        "_deleted",
        "_meta",
        "_snapshots",
        "accessed",
        "cookie_key",
        "destroyed_key",
        "had_cookie",
        "id",
        "key",
        "now",
        "replaced_key",
        "stored_key",
    )

    def __init__(
        self,
        entry: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        key: str | None = None,
        now: float | None = None,
        had_cookie: bool = False,
        cookie_key: str | None = None,
    ) -> None:
        self.now = time.time() if now is None else now
        self.had_cookie = had_cookie
        # The key of a signed cookie whose session the store did not find: it may have
        # been regenerated away by a concurrent request, so destroy() still ends it there.
        self.cookie_key = cookie_key
        self.accessed = False
        self.destroyed_key: str | None = None
        self.replaced_key: str | None = None  # set by regenerate()
        data: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        if entry is not None and session_id:
            self.id: str | None = session_id
            self.key: str | None = key or session_key(session_id)
        else:
            self.id = self.key = None
        if entry:
            for name, value in entry.items():
                if name[:1] == "$":  # porch's bookkeeping ($created, $seen, ...)
                    meta[name] = value
                else:
                    data[name] = value
        self.stored_key = self.key  # the key the store holds this session under, if any
        self._data = data
        self._meta = meta
        self._changes: dict[str, Any] = {}
        self._deleted: set[str] = set()
        self._snapshots: dict[str, bytes] = {}

    # --- the mapping ---

    def __getitem__(self, name: str) -> Any:
        self.accessed = True
        value = self._data[name]
        if isinstance(value, MUTABLE):
            self._snapshot(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """``ctx.session.get('views', 0)``: as Mapping.get, without raising KeyError inside."""
        self.accessed = True
        value = self._data.get(name, MISSING)
        if value is MISSING:
            return default
        if isinstance(value, MUTABLE):
            self._snapshot(name, value)
        return value

    def _snapshot(self, name: str, value: Any) -> None:
        """Remember a mutable value as read, so a change made in place is saved too."""
        if name not in self._changes and name not in self._snapshots:
            self._snapshots[name] = orjson.dumps(value)

    def __setitem__(self, name: str, value: Any) -> None:
        if type(name) is not str or name.startswith("$") or not is_text(name):
            raise SessionError(
                f"session keys must be plain str not starting with '$' (got {name!r}); "
                "'$' marks the fields porch keeps for itself, and a key comes back as a str."
            )
        check_value(name, value)  # here, so the traceback points at the line that set it
        self.accessed = True
        if self.id is None:
            self._ensure_id()
        self._data[name] = value
        self._changes[name] = value
        self._deleted.discard(name)

    def __delitem__(self, name: str) -> None:
        self.accessed = True
        del self._data[name]
        self._changes.pop(name, None)
        self._snapshots.pop(name, None)
        if self.stored_key is not None:
            self._deleted.add(name)

    def __contains__(self, name: object) -> bool:
        self.accessed = True
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return iter(list(self._data))

    def __len__(self) -> int:
        self.accessed = True
        return len(self._data)

    def __repr__(self) -> str:
        return f"Session({self._data!r})"

    # --- intent: carried out by the session layer after the handler ---

    def regenerate(self) -> None:
        """New id, same data, old id invalid at once: call it on login (fixation defence)."""
        self.accessed = True
        if self.stored_key is None:
            if self.id is not None:
                self._set_id(new_session_id())
            return
        self.replaced_key = self.replaced_key or self.stored_key
        self.stored_key = None
        self._set_id(new_session_id())
        self._forget_csrf_secret()

    def destroy(self) -> None:
        """Delete the session server-side and expire the cookie (logout).

        Writes after ``destroy()`` in the same request start a new session, so
        ``destroy()`` then ``flash('Logged out')`` works. A cookie whose session
        was not found (``cookie_key``) is destroyed too: a concurrent request may
        have just regenerated it, and the store follows the move.
        """
        self.accessed = True
        self.destroyed_key = (
            self.stored_key or self.replaced_key or self.destroyed_key or self.cookie_key
        )
        self.id = self.key = self.stored_key = self.replaced_key = None
        self._data, self._meta, self._changes = {}, {}, {}
        self._deleted, self._snapshots = set(), {}

    def flash(self, message: Any, kind: str = "info") -> None:
        """Keep a one-shot message for the next page (read it with ``flashes()``)."""
        for part, value in (("message", message), ("kind", kind)):
            problem = json_problem(value, 0)
            if problem is not None:
                raise refusal(FLASH, f"ctx.session.flash({part}=...)", problem)
        queued = list(self._meta.get(FLASH) or [])
        queued.append({"message": message, "kind": kind})
        self.set_internal(FLASH, queued)

    def flashes(self) -> list[dict[str, Any]]:
        """Return and remove the queued flash messages, oldest first."""
        self.accessed = True
        queued: list[dict[str, Any]] = self._meta.pop(FLASH, None) or []
        if queued:
            self._changes.pop(FLASH, None)
            if self.stored_key is not None:
                self._deleted.add(FLASH)
        return queued

    @property
    def user(self) -> Any:
        """The user id this session is bound to; setting it enables "log out everywhere"."""
        self.accessed = True
        return self._meta.get(USER)

    @user.setter
    def user(self, user: Any) -> None:
        if user is not None and not is_user_id(user):
            raise SessionError(
                f"ctx.session.user must be a str or a 64-bit int user id, not {user!r} "
                f"({type(user).__name__}): it comes back exactly as set, and log-out-everywhere "
                "finds the user's sessions by it."
            )
        if user != self._meta.get(USER):
            self._forget_csrf_secret()  # a new identity gets a new CSRF secret (OWASP)
        self.set_internal(USER, user)

    # --- for porch's own modules (CSRF, the layer) ---

    def get_internal(self, name: str) -> Any:
        self.accessed = True
        return self._meta.get(name)

    def peek_internal(self, name: str) -> Any:
        """Read porch's bookkeeping without counting as a read by the page (no Vary: Cookie)."""
        return self._meta.get(name)

    def set_internal(self, name: str, value: Any) -> None:
        self.accessed = True
        self._ensure_id()
        self._meta[name] = value
        self._changes[name] = value
        self._deleted.discard(name)

    @property
    def is_new(self) -> bool:
        """True when the store holds nothing for this session yet."""
        return self.stored_key is None

    def pending(self) -> tuple[dict[str, Any], set[str]]:
        """What to write: the explicit changes plus values that were mutated in place."""
        changes = self._changes.copy()
        if self._snapshots:
            for name, snapshot in self._snapshots.items():
                if name in self._data and mutated(self._data[name], snapshot):
                    changes[name] = self._data[name]
        return changes, self._deleted.copy()

    def entry(self) -> dict[str, Any]:
        """The whole entry, user keys and porch's fields: what regenerate() moves."""
        return {**self._data, **self._meta}

    def _forget_csrf_secret(self) -> None:
        """Rotate the CSRF secret with the identity (OWASP): a token from a page served
        before a login stops working, and the next ``ctx.csrf`` makes a new secret."""
        self._meta.pop(CSRF, None)
        self._changes.pop(CSRF, None)
        if self.stored_key is not None:
            self._deleted.add(CSRF)

    def _ensure_id(self) -> None:
        if self.id is None:
            self._set_id(new_session_id())
            self._meta[CREATED] = self._changes[CREATED] = self.now

    def _set_id(self, session_id: str) -> None:
        self.id = session_id
        self.key = session_key(session_id)


def mutated(value: Any, snapshot: bytes) -> bool:
    """Whether a value read from the session was changed in place since (see ``pending``).

    A value that no longer encodes (an object appended to a list) has changed:
    it goes to the checks, which refuse it naming the key.
    """
    try:
        return orjson.dumps(value) != snapshot
    except TypeError:
        return True
