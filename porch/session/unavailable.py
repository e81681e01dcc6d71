"""``UnavailableSession``: what ``ctx.session`` is when the store failed to load it.

DESIGN §2: a load that fails is not an error until a handler touches
``ctx.session``. The load still starts before the handler, as always (a handler
reads ``ctx.session`` synchronously, so it cannot wait for a lazy one); only its
failure is deferred. A health check, a static-like page or an API route that
never looks at the session keeps answering through a store outage, while every
route that does use it answers 503 exactly as before.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreUnavailable
from .session import Session

# Read without touching: the layer's own bookkeeping, and what isinstance() asks.
OWN = frozenset({"error", "touched", "__class__"})


class UnavailableSession(Session):
    """A session whose load failed: every use of it raises that ``StoreUnavailable``.

    Any attribute read (``get``, ``[]``, ``in``, ``len``, ``.id``, ``.user``,
    ``regenerate()``, ``destroy()``...) raises, so the handler's request answers
    503 and ``error('store', fn)`` handlers run. A handler that catches the
    error and answers anyway (a page that degrades to logged-out) gets its
    answer sent; porch then writes nothing and leaves the browser's cookie as
    it is, so the session is there again once the store is back.
    """

    __slots__ = ("error", "touched")

    def __init__(self, error: StoreUnavailable) -> None:  # no Session.__init__: nothing loaded
        self.error = error
        self.touched = False

    def __getattribute__(self, name: str) -> Any:
        if name in OWN:
            return object.__getattribute__(self, name)
        object.__setattr__(self, "touched", True)
        error: StoreUnavailable = object.__getattribute__(self, "error")
        raise StoreUnavailable(str(error), refused=error.refused) from error

    def __repr__(self) -> str:
        return f"UnavailableSession({object.__getattribute__(self, 'error')})"
