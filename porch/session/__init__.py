"""Sessions: ``Session`` (the mapping that tracks its changes) and ``SessionLayer`` (the policy).

The layer reads the signed cookie, loads the entry from the store, and after the
handler writes back only what changed. The package is split by concept:

- ``session``: ``Session``, what ``ctx.session`` is;
- ``rules``: each rule of DESIGN §3 as one small function (destroy, regenerate,
  save, touch, set or expire the cookie, vary), so the policy reads like the design;
- ``layer``: ``SessionLayer``, which carries the rules out around each request;
- ``unavailable``, ``cookie``, ``encryption``, ``values`` and ``stores``.

The names below stay importable from ``porch.session`` as they always were.
"""

from __future__ import annotations

from .layer import (
    COOKIE_HEADER_BYTES,
    COOKIE_HEADERS,
    VERIFIED_COOKIES,
    HasCookies,
    SessionLayer,
)
from .rules import NUMBER, entry_size, is_expired, should_touch, vary_on_cookie
from .session import CSRF, FLASH, MISSING, MUTABLE, Session, mutated, new_session_id
from .unavailable import UnavailableSession
from .values import is_user_id

__all__ = [
    "COOKIE_HEADERS",
    "COOKIE_HEADER_BYTES",
    "CSRF",
    "FLASH",
    "MISSING",
    "MUTABLE",
    "NUMBER",
    "VERIFIED_COOKIES",
    "HasCookies",
    "Session",
    "SessionLayer",
    "UnavailableSession",
    "entry_size",
    "is_expired",
    "is_user_id",
    "mutated",
    "new_session_id",
    "should_touch",
    "vary_on_cookie",
]
