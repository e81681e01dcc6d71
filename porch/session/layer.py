"""``SessionLayer``: from a request's cookie to ``ctx.session``, and back to writes.

Before the handler it verifies the signed cookie and loads the entry; after it,
it asks the rules of ``porch.session.rules`` what to do and does it, bounding
each store call by the ``timeout`` option.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import CorruptSession, SessionTooLarge, StoreUnavailable
from .cookie import Signer, expire_cookie_header, session_key, set_cookie_header
from .rules import (
    NUMBER,
    entry_size,
    is_expired,
    key_to_destroy,
    key_to_replace,
    moved_entry,
    should_expire_cookie,
    should_save,
    should_set_cookie,
    should_touch,
    should_vary,
    vary_on_cookie,
)
from .session import Session
from .stores.base import ALREADY_MOVED, CREATED, SEEN, Store, whole_seconds
from .unavailable import UnavailableSession
from .values import check_changes

if TYPE_CHECKING:
    from ..options import SessionOptions

log = logging.getLogger("porch.session")
T = TypeVar("T")

# Verified cookies remembered per process (see SessionLayer.verify); about 1 MB when full.
VERIFIED_COOKIES = 4096
# Cookie headers remembered per process (see SessionLayer.cookie_of), each at most
# COOKIE_HEADER_BYTES long: about 2.5 MB when full; a longer header is parsed every time.
COOKIE_HEADERS = 4096
COOKIE_HEADER_BYTES = 512


class HasCookies(Protocol):
    """What ``SessionLayer.cookie_of`` needs of a request: ``ctx.cookies``, parsed on demand."""

    @property
    def cookies(self) -> dict[str, str]: ...


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
        # A timeout scope costs several microseconds, twice a request; a store
        # that bounds every call itself says so (Store.times_out_by_itself).
        self.self_bounded = store.times_out_by_itself
        # A store that never waits offers its loads and saves without a coroutine
        # each (Store.immediate); they are called directly.
        self.memory = store.immediate
        # A logout with a cookie whose session is not found destroys that key anyway,
        # for a store that follows it to where a concurrent regenerate moved the session.
        self.follows_moves = store.destroy_follows_moves
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
        except StoreUnavailable as exc:  # an error only once a handler touches ctx.session
            return UnavailableSession(exc)
        if entry is None or is_expired(entry, now, self.max_age, self.absolute_max_age):
            # Strict: an unknown id is never adopted; destroy() may still end it (moved).
            cookie_key = key if self.follows_moves else None
            return Session(now=now, had_cookie=True, cookie_key=cookie_key)
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
        if type(session) is UnavailableSession:
            return self.commit_unavailable(session, headers)
        now = session.now
        changes, deleted = session.pending()
        key = session.key
        save = should_save(session, changes, deleted)
        if save:
            check_changes(changes)  # whatever the store: JSON exactly, or nothing is written
            self.check_size(session, changes, deleted)
        secure = self.cookie.secure or https
        destroyed = key_to_destroy(session)
        if destroyed is not None:
            await self.call(self.store.destroy(destroyed))
        replaced = key_to_replace(session)
        if replaced is not None:
            await self.regenerate(
                session,
                replaced,
                moved_entry(session, changes, deleted, now),
                headers,
                secure=secure,
            )
        elif save:
            assert key is not None and session.id is not None  # a key comes with an id
            changes[SEEN] = now
            ttl = self.ttl(session, now)
            if self.memory is not None:  # inline, not a method: the hot path of every write
                self.memory.save_now(key, changes, deleted, ttl)
            else:
                saving = self.store.save(key, changes, deleted, ttl)
                await (saving if self.self_bounded else self.call(saving))
            if should_set_cookie(session):  # the browser needs the cookie
                cookie = self.cookie_for(session, session.id, now, secure=secure)
                headers.append((b"set-cookie", cookie.encode("latin-1")))
        elif key is not None and should_touch(session, now, max_age=self.max_age):
            await self.call(self.store.touch(key, self.ttl(session, now)))
        if should_expire_cookie(session):
            headers.append((b"set-cookie", self.expired_cookie(secure=secure).encode("latin-1")))
        if should_vary(session):
            vary_on_cookie(headers)

    async def regenerate(
        self,
        session: Session,
        replaced: str,
        entry: dict[str, Any],
        headers: list[tuple[bytes, bytes]],
        *,
        secure: bool,
    ) -> None:
        """Move the entry to the new key; a session that ended meanwhile stays ended, and
        one a concurrent request moved first stays where that request put it."""
        assert session.key is not None and session.id is not None  # see key_to_replace
        now = session.now
        moved = await self.call(
            self.store.regenerate(replaced, session.key, entry, self.ttl(session, now))
        )
        if moved is ALREADY_MOVED:
            # Another request of this browser (a double-submitted login form) moved the
            # session first and sends its new cookie: this response keeps out of the way.
            # It neither learns that id nor writes into that session (the old id may be one
            # an attacker planted), so this request's writes are lost: say so.
            log.warning(
                "session regenerate lost a race: a concurrent request had already "
                "regenerated this session, so this request's session changes were not "
                "saved and its response leaves the browser's cookie as it is (%s); a "
                "double-submitted login form does this",
                self.store_name,
            )
        elif moved is False:  # logged out or expired while this request ran: stays so
            headers.append((b"set-cookie", self.expired_cookie(secure=secure).encode()))
        else:  # True; None from a store written before regenerate answered
            cookie = self.cookie_for(session, session.id, now, secure=secure)
            headers.append((b"set-cookie", cookie.encode("latin-1")))

    @staticmethod
    def commit_unavailable(session: UnavailableSession, headers: list[tuple[bytes, bytes]]) -> None:
        """The load failed: write nothing and keep the browser's cookie for when the store
        is back. A handler that touched the session and still answered caught the error
        itself; its page depended on the session, so it varies on the cookie."""
        if session.touched:
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
