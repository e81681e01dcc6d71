"""The Store contract: where sessions live between requests.

Plug a store in with ``server(..., session={'store': MyStore()})``. Check it with
the conformance suite: ``from porch.testing import StoreSuite``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal, Protocol

import orjson

from ...errors import CorruptSession, SessionError
from ..values import check_changes, check_value, is_user_id

# Fields porch keeps beside the user's keys in every entry. User keys never
# start with "$", so these cannot collide with them.
CREATED = "$created"
"""When the session was created (``time.time()``); a save carrying it may create the entry."""
SEEN = "$seen"
"""When the session was last written or touched (``time.time()``)."""
USER = "$user"
"""The user id the session is bound to (``ctx.session.user``), or None."""


class Moved(Enum):
    """The third answer of ``Store.regenerate``, beside True (moved) and False (ended)."""

    ALREADY = "already moved"

    def __bool__(self) -> bool:
        """Falsy, as False is: this regenerate moved nothing."""
        return False


ALREADY_MOVED: Final = Moved.ALREADY
"""``Store.regenerate``'s answer when ``old_key`` is not live because a concurrent
regenerate already moved it (the store holds its marker), as opposed to False: the
session ended (logout, ``destroy_user``, expiry). Only a store that declares
``tells_already_moved`` gives it."""

Regenerated = bool | Literal[Moved.ALREADY]
"""What ``Store.regenerate`` answers: True, False, or ``ALREADY_MOVED``."""


@dataclass(frozen=True)
class SessionInfo:
    """One live session of a user, for a "your devices" page.

    ``key`` is the hashed id the store knows it by; compare it with
    ``ctx.session.key`` to mark the current device.
    """

    key: str
    created: float
    last_seen: float


def encode_value(name: str, value: Any) -> bytes:
    """JSON-encode one session value; ``UnserializableValue`` names the key when it is not
    JSON exactly (a datetime, a tuple, NaN...: see ``porch.session.values``)."""
    check_value(name, value)
    return orjson.dumps(value)


def encode_changes(changes: Mapping[str, Any]) -> dict[str, bytes]:
    """Encode every change before any I/O, so a bad value leaves the store untouched."""
    check_changes(changes)
    return {name: orjson.dumps(value) for name, value in changes.items()}


def decode_fields(fields: Mapping[Any, bytes | str], *, key: str) -> dict[Any, Any]:
    """Decode an entry's stored fields (name -> JSON); see ``decode_value`` for bad JSON."""
    try:
        return {name: orjson.loads(raw) for name, raw in fields.items()}
    except orjson.JSONDecodeError:
        return {name: decode_value(raw, key=key) for name, raw in fields.items()}


def decode_value(raw: bytes | str, *, key: str) -> Any:
    """Decode one stored value; an entry that is not JSON is corrupt, never unpickled."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptSession(
            f"The session entry {key[:12]}... holds a value that is not JSON; porch treats it "
            "as no session. Something other than porch wrote to the session store."
        ) from exc


def user_key(user: Any) -> str:
    """The form a user id takes in a store's per-user index: ``7`` and ``'7'`` are one user.

    Only what ``ctx.session.user`` can be bound to (a str, an int within 64 bits) has
    one. ``str()`` of anything else is refused, not looked up: it can name another
    user (``None`` is ``'None'``, ``True`` is ``'True'``), so an anonymous visitor's
    ``sessions_of(ctx.session.user)`` would list, and ``destroy_user`` end, the
    sessions of a user with that name. The built-in stores answer ``None`` (nobody)
    with no sessions before they get here.
    """
    if not is_user_id(user):
        raise SessionError(
            f"a user id is a str or an int within 64 bits, as ctx.session.user is bound to, "
            f"not {user!r:.80} ({type(user).__name__})"
            + (
                ": None is no user, and no user has sessions to list or end; check "
                "ctx.session.user first."
                if user is None
                else "; pass the id the session was bound to (str(...) of it, if need be)."
            )
        )
    return str(user)


def whole_seconds(ttl: float) -> int:
    """A ttl as whole seconds, rounded up and at least one, as every store receives it."""
    return max(1, math.ceil(ttl))


class Immediate(Protocol):
    """``Store.immediate``: a store's load and save without a coroutine (it never waits)."""

    def load_now(self, key: str) -> dict[str, Any] | None: ...

    def save_now(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None: ...


class Store(ABC):
    """Where sessions live between requests. Async, safe under concurrent requests.

    Required: ``load``, ``save``, ``touch``, ``destroy``.
    Lifespan: ``open``, ``close`` (the app calls them at start-up and shutdown).
    Overridable: ``regenerate`` works as it is (save the new key, check the
    old one is live, destroy it); a store that can do it in one atomic step
    overrides it.
    Optional: ``count``, ``purge``, ``destroy_user``, ``sessions_of``; a store
    without one raises ``NotImplementedError`` naming itself and the method.

    The helpers a store needs import from ``porch.session.stores``:
    ``encode_changes`` and ``decode_value`` / ``decode_fields`` (JSON in and
    out, naming the bad key), ``user_key`` (the form of a user id in a per-user
    index), and the ``$`` field names ``CREATED``, ``SEEN``, ``USER``.

    What every store guarantees, and what ``porch.testing.StoreSuite`` checks:

    - Keys arrive already hashed (SHA-256 of the session id); a store never sees
      a raw id, so a leaked dump or key listing cannot be replayed as cookies.
    - An entry is a flat mapping of field name to JSON-compatible value. The
      store serialises values itself, as JSON (never pickle). Fields starting
      with ``$`` are porch's bookkeeping (``CREATED``, ``SEEN``, ``USER``) and are
      stored like any other field.
    - ``ttl`` is whole seconds from now; an expired entry is never returned and
      is gone (or purgeable) server-side.
    - Several requests for one session may run at once, in several processes.
      ``save`` applies only the fields it is given, so two requests that change
      different keys both keep their change.
    - Logout is final: a ``save`` for a key that does not exist is dropped
      unless its changes carry ``CREATED`` (only a brand-new session creates an
      entry); ``touch`` never creates one; ``regenerate`` moves only a live
      session. A request that started before ``destroy()``, ``destroy_user()``
      or the expiry cannot bring the session back, nor put it back in a
      user's index.
    - Logout follows a move (when the store declares ``destroy_follows_moves``):
      ``regenerate(old, new)`` leaves at ``old`` a marker, "moved to new", that
      lives as long as the moved session could (its ``ttl``). ``load(old)``
      treats it as no session, ``count()`` and ``sessions_of()`` do not count
      it, a second ``regenerate(old, ...)`` finds nothing live (False), and
      ``destroy(old)`` destroys ``new`` too, in the same atomic step, following
      a chain of moves. So a logout carrying the old id that lands after a
      concurrent request of the same browser regenerated still ends the
      session that request's new cookie names.
    - A backend that cannot be reached raises ``StoreUnavailable`` (porch
      answers 503); nothing is half-written.

    Capabilities, which a store declares about itself (properties, off by
    default; porch asks them, never the store's class):
    ``times_out_by_itself`` (every call already ends within porch's ``timeout``
    option, so the layer adds no timeout scope of its own), ``immediate``
    (``load_now``/``save_now``: the same calls without a coroutine, for a store
    that never waits), ``destroy_follows_moves`` (the moved-session markers
    above), ``tells_already_moved`` (``regenerate`` tells a move from an end,
    above) and ``per_process`` (the sessions live in this process only, as
    ``MemoryStore``'s do). A store that inherits a built-in one and overrides
    its methods should not claim ``times_out_by_itself``, ``immediate``,
    ``destroy_follows_moves`` or ``tells_already_moved`` unless its overrides
    keep the promise. A wrapper around another store (``inner``) forwards
    ``per_process``, ``destroy_follows_moves`` and ``tells_already_moved``,
    which are about the data and where it lives, and claims neither of the
    speed ones, which are about its own calls.
    """

    @property
    def times_out_by_itself(self) -> bool:
        """Capability: every call of this store ends within porch's ``timeout`` option by
        itself, or raises ``StoreUnavailable``. The session layer then skips its own
        timeout scope, which costs several microseconds twice a request. False unless
        the store says so: a store that claims it wrongly makes a hung backend hang requests."""
        return False

    @property
    def immediate(self) -> Immediate | None:
        """Capability: this store's ``load`` and ``save`` as plain calls (``load_now``,
        ``save_now``), for a store whose calls never wait; the session layer calls them
        directly and saves a coroutine per request. None unless the store offers them."""
        return None

    @property
    def per_process(self) -> bool:
        """Capability: the sessions live in this process only, so other worker processes do
        not see them, the shell cannot reach them, and they are lost when it exits. porch
        then refuses several workers and ``porch sessions count|purge``, warns at start-up
        in production, and does not probe the store at start-up (nothing to reach). False
        unless the store says so: a claim a shared store makes wrongly only costs those."""
        return False

    @property
    def destroy_follows_moves(self) -> bool:
        """Capability: ``regenerate(old, new)`` leaves a marker at ``old`` that ``destroy(old)``
        follows to ``new``, atomically (see the class docstring), so a logout racing a
        regenerate of the same browser session ends it whichever lands first.

        False by default: a store written before this capability keeps working,
        with a weaker promise. A logout that lands before the regenerate still
        wins (the regenerate moves nothing), but one that lands after it deletes
        nothing, and the session lives on under the new id the regenerating
        request hands to the browser. The session layer then also skips the
        ``destroy`` of a cookie whose session it did not find, which could only
        matter through a marker.
        """
        return False

    @property
    def tells_already_moved(self) -> bool:
        """Capability: ``regenerate(old, ...)`` answers ``ALREADY_MOVED`` (not False) when a
        concurrent regenerate moved ``old`` first, decided in the same atomic step as the
        move would have been (see the class docstring). The session layer then neither
        expires the browser's cookie nor sets one: two requests of one browser that both
        regenerate (a double-submitted login form) leave it holding the winner's cookie.

        False by default: a store written before this capability keeps working; its
        regenerate answers False for a moved key as for an ended one, and the losing
        request's response expires the cookie, logging that browser out.
        """
        return False

    async def open(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Connect (pools, files). Called once at app start-up; must be idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release connections. Called once at app shutdown."""

    @abstractmethod
    async def load(self, key: str) -> dict[str, Any] | None:
        """The entry's fields, or None when the key is unknown or expired.

        Raises ``CorruptSession`` when a stored value is not JSON.
        """

    @abstractmethod
    async def save(
        self, key: str, changes: Mapping[str, Any], deleted: Collection[str], ttl: int
    ) -> None:
        """Set ``changes``, remove the fields in ``deleted``, and expire ``ttl`` seconds from now.

        Atomic for one key. When the key does not exist the save is dropped,
        unless ``changes`` carries ``CREATED``. When ``changes`` carries ``USER``
        the store moves the key into that user's index (None unbinds it).
        Values are encoded (``encode_changes``) before any I/O, so an
        ``UnserializableValue`` leaves the entry as it was.
        """

    @abstractmethod
    async def touch(self, key: str, ttl: int) -> None:
        """Slide the expiry to ``ttl`` seconds from now and set ``SEEN`` to ``time.time()``.

        A no-op when the key does not exist (it never creates an entry).
        """

    @abstractmethod
    async def destroy(self, key: str) -> None:
        """Delete the entry and drop it from its user's index; a no-op when missing.

        A store that declares ``destroy_follows_moves`` also destroys, in the same
        atomic step, the session ``key`` was regenerated to (and the one that was
        regenerated to, and so on), and removes the markers it followed.
        """

    async def regenerate(
        self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int
    ) -> Regenerated:
        """Move a session to a new key (login: fixation defence); the old key stops working.

        ``data`` is the whole entry, ``CREATED`` included. Only a live session
        moves: when ``old_key`` is gone (destroyed by a logout, by
        ``destroy_user``, or expired) while the request ran, nothing is written
        and the answer is False, so a slow request that logs in cannot undo a
        logout. True when the session moved. A store that declares
        ``tells_already_moved`` answers ``ALREADY_MOVED`` instead of False when
        what it finds at ``old_key`` is the marker of a concurrent regenerate
        (the session lives on under a key this request must never learn), and
        writes nothing either.

        A store that declares ``destroy_follows_moves`` leaves at ``old_key`` a
        marker pointing to ``new_key``, for ``ttl`` seconds, in the same atomic
        step: it must outlive every request still in flight with the old id, and
        porch bounds no handler's run time, so only the session's own remaining
        lifetime is sure to. ``old_key`` is then no longer live: a second
        ``regenerate`` of it returns False and ``load`` returns None.

        Stores that can do it in one atomic step override this. The default
        saves the new key first and then checks that the old one was still
        there: a logout that lands before the check removes the new key again,
        and one that lands after it found the session already moved.
        """
        await self.save(new_key, {CREATED: time.time(), **data}, (), ttl)
        if await self.load(old_key) is None:  # gone meanwhile: logout is final
            await self.destroy(new_key)
            return False
        await self.destroy(old_key)
        return True

    async def count(self) -> int:
        """How many live (unexpired) sessions the store holds."""
        raise self._missing("count")

    async def purge(self) -> int:
        """Delete expired entries now; return how many were deleted."""
        raise self._missing("purge")

    async def destroy_user(self, user: Any, *, keep: str | None = None) -> int:
        """Log ``user`` out everywhere: delete all their sessions but ``keep`` (a key).

        Returns how many sessions were deleted.
        """
        raise self._missing("destroy_user")

    async def sessions_of(self, user: Any) -> list[SessionInfo]:
        """The user's live sessions, oldest first, for a "your devices" page."""
        raise self._missing("sessions_of")

    def _missing(self, method: str) -> NotImplementedError:
        return NotImplementedError(
            f"{type(self).__name__} does not implement the optional Store.{method}(); "
            f"implement it to use {method} with this store (see docs/stores.md)."
        )


def innermost(store: Store) -> Store:
    """The store that holds the data, under the wrappers porch may add (encryption, metrics).

    Questions about where sessions live (one process or shared?) are about this one.
    """
    while isinstance(inner := getattr(store, "inner", None), Store):
        store = inner
    return store
