"""The session policy of DESIGN §3, one small function per rule.

Each answers one question about a session after the handler ran (destroy it?
move it to a new id? save it? touch it? set, expire the cookie? vary on it?),
from the session's state alone, so each is tested on its own; the layer
(``porch.session.layer``) only carries the answers out, in that order.
"""

from __future__ import annotations

from typing import Any

import orjson

from .session import Session
from .stores.base import CREATED, SEEN, encode_value

NUMBER = (int, float)  # a tuple: isinstance() with one is faster than with int | float


def key_to_destroy(session: Session) -> str | None:
    """Destroy: the stored key ``destroy()`` ended (logout is final), or None."""
    return session.destroyed_key


def key_to_replace(session: Session) -> str | None:
    """Regenerate: the stored key to move to the session's new id (fixation defence), or
    None. Only while the session still has an id: a ``destroy()`` after it wins."""
    if session.key is None:
        return None
    return session.replaced_key


def should_save(session: Session, changes: dict[str, Any], deleted: set[str]) -> bool:
    """Save: only a session with an id, and only when a key changed or went. A visitor
    who never writes costs no store entry and gets no cookie."""
    return session.key is not None and bool(changes or deleted)


def should_touch(session: Session, now: float, *, max_age: int) -> bool:
    """Slide the expiry without a store write on every request: at most once per max_age/10."""
    seen = session.peek_internal(SEEN)
    return not isinstance(seen, NUMBER) or now - seen >= max_age / 10


def should_set_cookie(session: Session) -> bool:
    """Set the cookie: once, when the store first holds the session (a browser keeps it,
    so an existing session sends none)."""
    return session.is_new


def should_expire_cookie(session: Session) -> bool:
    """Expire the cookie: the session has no id after the handler and the browser holds,
    or held, one (logged out, stale or tampered): the browser forgets it."""
    return session.key is None and (session.had_cookie or session.destroyed_key is not None)


def should_vary(session: Session) -> bool:
    """Vary: the page read or wrote the session, so it differs per visitor (``Vary: Cookie``);
    or it expires the cookie the request sent (any page, for a stale or forged cookie), so a
    shared cache never hands that Set-Cookie to other visitors and logs them all out."""
    return session.accessed or should_expire_cookie(session)


def moved_entry(
    session: Session, changes: dict[str, Any], deleted: set[str], now: float
) -> dict[str, Any]:
    """What ``regenerate()`` writes under the new key: the whole entry after this request."""
    entry = {**session.entry(), **changes, SEEN: now}
    for name in deleted:
        entry.pop(name, None)
    return entry


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
