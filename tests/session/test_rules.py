"""The session policy of DESIGN §3, one rule at a time, on sessions built in memory.

Each rule of ``porch.session.rules`` is a pure function of a session's state
after the handler ran; the HTTP tests in test_session.py check the same rules
as a browser sees them.
"""

from __future__ import annotations

from typing import Any

from porch.session import Session
from porch.session.cookie import session_key
from porch.session.rules import (
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
from porch.session.stores import CREATED, SEEN

NOW = 1_000_000.0
MAX_AGE = 1000


def stored(**values: Any) -> Session:
    """A session the store holds, as the layer loads it for a browser that sent its cookie."""
    entry = {CREATED: NOW - 100, SEEN: NOW - 10, **values}
    return Session(entry, session_id="stored-id", now=NOW, had_cookie=True)


def new() -> Session:
    """A first-time visitor: no cookie, nothing stored."""
    return Session(now=NOW)


def should_save_now(session: Session) -> bool:
    changes, deleted = session.pending()
    return should_save(session, changes, deleted)


def test_destroy_names_the_stored_key_and_only_after_destroy() -> None:
    session = stored()
    assert key_to_destroy(session) is None
    session.destroy()
    assert key_to_destroy(session) == session_key("stored-id")
    assert key_to_destroy(new()) is None


def test_destroy_after_regenerate_destroys_the_key_the_store_still_holds() -> None:
    session = stored()
    session.regenerate()
    session.destroy()
    assert key_to_destroy(session) == session_key("stored-id")
    assert key_to_replace(session) is None  # the logout wins: nothing moves


def test_regenerate_moves_the_stored_key_to_the_new_id() -> None:
    session = stored(a=1)
    assert key_to_replace(session) is None
    session.regenerate()
    assert key_to_replace(session) == session_key("stored-id")
    assert session.key is not None and session.key != session_key("stored-id")


def test_regenerate_of_a_session_the_store_does_not_hold_moves_nothing() -> None:
    session = new()
    session["a"] = 1
    session.regenerate()
    assert key_to_replace(session) is None
    assert should_save_now(session)  # it is saved under its new id instead


def test_save_only_what_a_handler_changed() -> None:
    reader = stored(a=1)
    assert reader["a"] == 1
    assert not should_save_now(reader)
    writer = stored(a=1)
    writer["a"] = 2
    assert should_save_now(writer)
    deleter = stored(a=1)
    del deleter["a"]
    assert should_save_now(deleter)


def test_save_a_value_mutated_in_place() -> None:
    session = stored(cart=[1])
    session["cart"].append(2)
    assert should_save_now(session)


def test_a_new_visitor_who_never_writes_is_not_saved() -> None:
    session = new()
    assert session.get("a") is None and "a" not in session
    assert not should_save_now(session)


def test_destroy_alone_saves_nothing_but_a_write_after_it_starts_a_new_session() -> None:
    session = stored(a=1)
    session.destroy()
    assert not should_save_now(session)
    session.flash("Logged out")
    assert should_save_now(session)


def test_touch_at_most_once_per_tenth_of_max_age() -> None:
    assert not should_touch(stored(), NOW, max_age=MAX_AGE)  # seen 10 s ago, a tenth is 100 s
    seen_long_ago = Session({CREATED: NOW - 500, SEEN: NOW - 100}, session_id="x", now=NOW)
    assert should_touch(seen_long_ago, NOW, max_age=MAX_AGE)  # exactly a tenth
    never_seen = Session({CREATED: NOW - 500}, session_id="x", now=NOW)
    assert should_touch(never_seen, NOW, max_age=MAX_AGE)
    garbled = Session({CREATED: NOW - 500, SEEN: "yesterday"}, session_id="x", now=NOW)
    assert should_touch(garbled, NOW, max_age=MAX_AGE)


def test_set_the_cookie_when_the_store_first_holds_the_session() -> None:
    first = new()
    first["a"] = 1
    assert should_set_cookie(first)
    assert not should_set_cookie(stored(a=1))
    rotated = stored()
    rotated.regenerate()
    assert should_set_cookie(rotated)  # a new id needs a new cookie


def test_expire_the_cookie_of_a_stale_tampered_or_ended_session() -> None:
    assert not should_expire_cookie(new())  # never had one
    assert should_expire_cookie(Session(now=NOW, had_cookie=True))  # unknown, expired, forged
    assert not should_expire_cookie(stored())
    ended = stored()
    ended.destroy()
    assert should_expire_cookie(ended)
    ended.flash("Logged out")  # a new session replaces the cookie instead
    assert not should_expire_cookie(ended)


def test_vary_on_the_cookie_only_when_the_page_used_the_session() -> None:
    untouched = stored(a=1)
    assert not should_vary(untouched)
    untouched.peek_internal(CREATED)  # porch's own bookkeeping is not the page's content
    assert not should_vary(untouched)
    reader = stored(a=1)
    reader.get("a")
    assert should_vary(reader)
    writer = new()
    writer["a"] = 1
    assert should_vary(writer)


def test_vary_on_the_cookie_when_the_response_expires_it_on_any_page() -> None:
    # A stale or forged cookie is expired on a page that never used the session: that
    # Set-Cookie must stay out of shared caches, or it logs out every later visitor.
    stale = Session(now=NOW, had_cookie=True)
    assert should_expire_cookie(stale) and should_vary(stale)
    assert not should_vary(Session(now=NOW))  # no cookie: nothing to expire, nothing to vary


def test_the_moved_entry_is_the_whole_entry_after_this_request() -> None:
    session = stored(a=1, b=2)
    session.regenerate()
    session["c"] = 3
    del session["b"]
    changes, deleted = session.pending()
    entry = moved_entry(session, changes, deleted, NOW + 1)
    assert entry == {"a": 1, "c": 3, CREATED: NOW - 100, SEEN: NOW + 1}


def test_expired_by_idle_or_absolute_lifetime_or_without_bookkeeping() -> None:
    assert not is_expired({CREATED: NOW - 10, SEEN: NOW - 5}, NOW, 100, 1000)
    assert is_expired({CREATED: NOW - 10, SEEN: NOW - 100}, NOW, 100, 1000)
    assert is_expired({CREATED: NOW - 1000, SEEN: NOW}, NOW, 100, 1000)
    assert is_expired({"a": 1}, NOW, 100, 1000)
    assert is_expired({CREATED: "then"}, NOW, 100, 1000)


def test_vary_adds_cookie_once_and_leaves_a_star_alone() -> None:
    headers: list[tuple[bytes, bytes]] = []
    vary_on_cookie(headers)
    assert headers == [(b"vary", b"Cookie")]
    vary_on_cookie(headers)
    assert headers == [(b"vary", b"Cookie")]
    accept = [(b"vary", b"Accept-Encoding")]
    vary_on_cookie(accept)
    assert accept == [(b"vary", b"Accept-Encoding, Cookie")]
    star = [(b"vary", b"*")]
    vary_on_cookie(star)
    assert star == [(b"vary", b"*")]
