"""Sessions: ``Session`` (the mapping that tracks its changes) and ``SessionLayer`` (the policy).

The layer reads the signed cookie, loads the entry from the store, and after the
handler writes back only what changed. Each rule of DESIGN §3 is one small
function below (``should_touch``, ``is_expired``, ...), so the policy reads
like the design.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

from ..errors import CorruptSession, SessionError, SessionTooLarge, StoreUnavailable
from .cookie import Signer, expire_cookie_header, session_key, set_cookie_header
from .stores.base import CREATED, SEEN, USER, Store, encode_value, whole_seconds
from .stores.memory import MemoryStore
from .stores.sqlite import SQLiteStore
from .values import INT_MAX, INT_MIN, check_changes, check_value, is_text, json_problem, refusal

if TYPE_CHECKING:
    from ..options import SessionOptions

log = logging.getLogger("porch.session")
T = TypeVar("T")


class HasCookies(Protocol):
    """What ``SessionLayer.cookie_of`` needs of a request: ``ctx.cookies``, parsed on demand."""

    @property
    def cookies(self) -> dict[str, str]: ...


FLASH = "$flash"
CSRF = "$csrf"  # the CSRF secret (porch.security.csrf), which rotates with the session id
# Verified cookies remembered per process (see SessionLayer.verify); about 1 MB when full.
VERIFIED_COOKIES = 4096
# Cookie headers remembered per process (see SessionLayer.cookie_of), each at most
# COOKIE_HEADER_BYTES long: about 2.5 MB when full; a longer header is parsed every time.
COOKIE_HEADERS = 4096
COOKIE_HEADER_BYTES = 512
MUTABLE = (dict, list)
MISSING: Any = object()
NUMBER = (int, float)  # a tuple: isinstance() with one is faster than with int | float


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
    ) -> None:
        self.now = time.time() if now is None else now
        self.had_cookie = had_cookie
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
        ``destroy()`` then ``flash('Logged out')`` works.
        """
        self.accessed = True
        self.destroyed_key = self.stored_key or self.replaced_key or self.destroyed_key
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


def is_user_id(user: Any) -> bool:
    """A plain str, or an int within 64 bits: what ``ctx.session.user`` may be bound to."""
    kind = type(user)
    return (kind is str and is_text(user)) or (kind is int and INT_MIN <= user <= INT_MAX)


def is_expired(entry: dict[str, Any], now: float, max_age: int, absolute_max_age: int) -> bool:
    """Idle or absolute lifetime passed: the store's TTL should have dropped it; check anyway."""
    created = entry.get(CREATED)
    seen = entry.get(SEEN, created)
    if not isinstance(created, NUMBER) or not isinstance(seen, NUMBER):
        return True  # no bookkeeping: not an entry porch wrote
    return now - created >= absolute_max_age or now - seen >= max_age


def entry_size(session: Session, changes: dict[str, Any], deleted: set[str]) -> int:
    """The bytes of the whole entry after this request's changes, as JSON.

    One ``orjson.dumps`` of the whole entry; only when that fails is each value
    encoded on its own, so the error names the key that is not JSON.
    """
    entry = {**session._data, **session._meta, **changes}  # session.entry(), then the changes
    for name in deleted:
        entry.pop(name, None)
    try:
        return len(orjson.dumps(entry))
    except TypeError:
        return sum(len(name) + len(encode_value(name, value)) for name, value in entry.items())


def should_touch(session: Session, now: float, *, max_age: int) -> bool:
    """Slide the expiry without a store write on every request: at most once per max_age/10."""
    seen = session.peek_internal(SEEN)
    return not isinstance(seen, NUMBER) or now - seen >= max_age / 10


def vary_on_cookie(raw: list[tuple[bytes, bytes]]) -> None:
    """Add ``Cookie`` to ``Vary`` (a page that read the session differs per visitor).

    Works on the raw header list: Starlette's ``add_vary_header`` decodes and
    re-encodes every header, and this runs on most responses.
    """
    for index, (name, value) in enumerate(raw):
        if name == b"vary":
            if b"cookie" not in value.lower() and value.strip() != b"*":
                raw[index] = (name, value + b", Cookie")
            return
    raw.append((b"vary", b"Cookie"))


def bounds_its_own_calls(store: Store) -> bool:
    """Whether every call of ``store`` already ends within the ``timeout`` option by itself.

    The built-in memory store never waits. A RedisStore that made its own client
    set the timeout on connecting and on every reply, and turns a timeout into
    ``StoreUnavailable``. A SQLiteStore runs a request's calls on the event loop,
    where no statement waits for a lock and the retries stop at the timeout (a
    timeout scope could not interrupt a statement there anyway). Only those exact
    classes are trusted: a subclass may override a method with I/O of its own,
    and a client passed in code carries whatever timeouts its owner chose.
    """
    if type(store) in (MemoryStore, SQLiteStore):
        return True
    try:
        from .stores.redis import RedisStore
    except ImportError:  # the redis extra is not installed, so this is no RedisStore
        return False
    return type(store) is RedisStore and store.times_out_by_itself


class SessionLayer:
    """Turns a cookie into ``ctx.session`` and, after the handler, the session into writes.

    Built once per app; everything derivable from the options (signer, cookie
    attributes) is computed here, not per request.
    """

    def __init__(self, options: SessionOptions, store: Store) -> None:
        self.store = store
        self.store_name = type(store).__name__
        self.signer = Signer(options.secret.values, purpose="porch.session")
        self.cookie = options.cookie
        self.max_age = options.max_age
        self.absolute_max_age = options.absolute_max_age
        self.timeout = options.timeout
        self.max_size = options.max_size
        # A timeout scope costs several microseconds, twice a request; stores
        # that bound every call themselves skip it (see bounds_its_own_calls).
        self.self_bounded = bounds_its_own_calls(store)
        # The built-in memory store never waits: its loads and saves are called
        # directly, without a coroutine each (not a subclass: it may override them).
        self.memory = store if type(store) is MemoryStore else None
        self.verified: dict[str, tuple[str, str]] = {}  # see verify()
        self.cookie_headers: dict[bytes, str] = {}  # see cookie_of()

    def cookie_of(self, header: bytes | None, request: HasCookies) -> str | None:
        """The session cookie a request carries, given its raw ``Cookie`` header.

        Parsing a Cookie header costs more than everything else porch does with
        the cookie, and a browser sends the same header on every request. So a
        header whose session cookie verified is remembered (bounded, oldest out
        first, short headers only) with that cookie: the next request with the
        same bytes skips the parse. Any other header is parsed as ``ctx.cookies``
        parses it; the answer is the same either way.
        """
        if header is None:
            return None
        known = self.cookie_headers.get(header)
        if known is not None:
            return known
        cookie = request.cookies.get(self.cookie.name)
        if cookie and len(header) <= COOKIE_HEADER_BYTES and self.verify(cookie) is not None:
            if len(self.cookie_headers) >= COOKIE_HEADERS:
                del self.cookie_headers[next(iter(self.cookie_headers))]
            self.cookie_headers[header] = cookie
        return cookie

    def verify(self, cookie: str) -> tuple[str, str] | None:
        """The session id a signed cookie carries and its store key, or None when forged.

        A browser sends the same cookie on every request, so a verified cookie is
        remembered (a bounded map, oldest out first) with its id and key: the
        HMAC and SHA-256 run once per cookie and process, not once per request.
        Only cookies that passed verification enter it, and the secrets cannot
        change while the app runs, so the answer it gives is the one the HMAC would.
        """
        known = self.verified.get(cookie)
        if known is not None:
            return known
        session_id = self.signer.unsign(cookie)
        if session_id is None:
            return None
        if len(self.verified) >= VERIFIED_COOKIES:
            del self.verified[next(iter(self.verified))]
        known = self.verified[cookie] = (session_id, session_key(session_id))
        return known

    async def load(self, cookie: str | None) -> Session:
        """The visitor's session; a missing, tampered, unknown or expired one is a new one."""
        now = time.time()
        verified = (self.verified.get(cookie) or self.verify(cookie)) if cookie else None
        if verified is None:  # no cookie, or a bad signature: no store round trip
            return Session(now=now, had_cookie=cookie is not None)
        session_id, key = verified
        try:
            if self.memory is not None:
                entry = self.memory.load_now(key)
            else:
                loading = self.store.load(key)
                entry = await (loading if self.self_bounded else self.call(loading))
        except CorruptSession as exc:
            log.error("%s; starting a new session for this visitor.", exc)
            entry = None
        if entry is None or is_expired(entry, now, self.max_age, self.absolute_max_age):
            return Session(now=now, had_cookie=True)  # strict: an unknown id is never adopted
        return Session(entry, session_id=session_id, key=key, now=now, had_cookie=True)

    async def commit(
        self, session: Session, headers: list[tuple[bytes, bytes]], *, https: bool = False
    ) -> None:
        """Write back only what changed, then set or expire the cookie.

        ``headers``: the response's raw header list (``response.raw_headers``),
        to which the Set-Cookie and Vary headers are added.

        ``https``: the request came over HTTPS (directly or through a trusted
        proxy), so the cookie is ``Secure`` even where the option does not say so.
        """
        now = session.now
        changes, deleted = session.pending()
        key = session.key
        changed = key is not None and bool(changes or deleted)
        if changed:
            check_changes(changes)  # whatever the store: JSON exactly, or nothing is written
            self.check_size(session, changes, deleted)
        secure = self.cookie.secure or https
        if session.destroyed_key is not None:
            await self.call(self.store.destroy(session.destroyed_key))
        if session.replaced_key is not None and session.id is not None and key is not None:
            entry = {**session.entry(), **changes, SEEN: now}
            for name in deleted:
                entry.pop(name, None)
            await self.call(
                self.store.regenerate(session.replaced_key, key, entry, self.ttl(session, now))
            )
            cookie = self.cookie_for(session, session.id, now, secure=secure)
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        elif changed:
            assert key is not None and session.id is not None  # a key comes with an id
            changes[SEEN] = now
            if self.memory is not None:
                self.memory.save_now(key, changes, deleted, self.ttl(session, now))
            else:
                saving = self.store.save(key, changes, deleted, self.ttl(session, now))
                await (saving if self.self_bounded else self.call(saving))
            if session.is_new:  # the browser needs the cookie
                cookie = self.cookie_for(session, session.id, now, secure=secure)
                headers.append((b"set-cookie", cookie.encode("latin-1")))
        elif key is not None and should_touch(session, now, max_age=self.max_age):
            await self.call(self.store.touch(key, self.ttl(session, now)))
        if key is None and (session.had_cookie or session.destroyed_key is not None):
            # logged out, stale or tampered: the browser forgets the cookie
            headers.append((b"set-cookie", self.expired_cookie(secure=secure).encode("latin-1")))
        if session.accessed:
            vary_on_cookie(headers)

    def ttl(self, session: Session, now: float) -> int:
        """Idle lifetime, cut short by the absolute one: the store drops it at the earlier."""
        remaining = self.remaining_lifetime(session, now)
        return self.max_age if remaining >= self.max_age else whole_seconds(remaining)

    def remaining_lifetime(self, session: Session, now: float) -> float:
        created = session._meta.get(CREATED)  # session.peek_internal(CREATED), without the call
        created = created if isinstance(created, NUMBER) else now
        return created + self.absolute_max_age - now

    def check_size(self, session: Session, changes: dict[str, Any], deleted: set[str]) -> None:
        """Refuse, before any write, a session grown past ``max_size``: stores stay bounded."""
        size = entry_size(session, changes, deleted)
        if size > self.max_size:
            raise SessionTooLarge(
                f"the session would hold {size} bytes, more than the {self.max_size} of the "
                "session.max_size option (SESSION_MAX_SIZE); nothing was saved. Keep ids in "
                "the session and the data they point to in a database, or raise max_size."
            )

    def cookie_for(self, session: Session, session_id: str, now: float, *, secure: bool) -> str:
        """The cookie lives for the absolute lifetime; the idle timeout is enforced server-side."""
        cookie = self.cookie
        return set_cookie_header(
            cookie.name,
            self.signer.sign(session_id),
            max_age=whole_seconds(self.remaining_lifetime(session, now)),
            path=cookie.path,
            domain=cookie.domain,
            secure=secure,
            httponly=cookie.httponly,
            samesite=cookie.samesite,
        )

    def expired_cookie(self, *, secure: bool) -> str:
        cookie = self.cookie
        return expire_cookie_header(
            cookie.name,
            path=cookie.path,
            domain=cookie.domain,
            secure=secure,
            httponly=cookie.httponly,
            samesite=cookie.samesite,
        )

    async def call(self, operation: Awaitable[T]) -> T:
        """One store call, bounded by the ``timeout`` option: a slow store is a 503, not a hang."""
        if self.self_bounded:
            return await operation
        try:
            async with asyncio.timeout(self.timeout):
                return await operation
        except TimeoutError as exc:
            raise StoreUnavailable(
                f"the session store ({self.store_name}) did not answer within {self.timeout:g} s; "
                "check that it is running and reachable (REDIS_URL / SESSION_STORE)."
            ) from exc
