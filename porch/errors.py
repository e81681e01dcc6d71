"""Every exception porch raises, in one hierarchy, each importable from ``porch``.

```
PorchError                    base: catch this to catch everything porch raises
├── ConfigError               an option is missing, malformed or unsafe (start-up)
├── HTTPError                 a request porch refuses, answered with its .status
│   ├── BadRequest            400: a body that does not parse (malformed JSON, ...)
│   ├── Forbidden             403: a missing or wrong CSRF token
│   ├── PayloadTooLarge       413: a body larger than the body_limit option
│   ├── RequestTimeout        408: a body slower than the body_timeout option
│   └── HeadersTooLarge       431: request headers larger than security.header_limit
├── SessionError              the session was used in a way porch cannot honour
│   ├── UnserializableValue   names the session key whose value is not JSON
│   ├── CorruptSession        a stored entry that is not porch's JSON (treated as no session)
│   └── SessionTooLarge       a session larger than session.max_size (nothing is written)
└── StoreError                the session store failed
    └── StoreUnavailable      the backend is unreachable or timed out: the reply is 503
```

Each class carries a stable ``.code``; ``error('store', fn)`` catches every
error whose code starts with ``store``. Messages say what happened, why it
matters and what to do next.
"""

from __future__ import annotations


class PorchError(Exception):
    """Base of every exception porch raises."""

    code = "porch"


class ConfigError(PorchError, ValueError):
    """An option is missing, malformed or unsafe; raised when the app is built, never later."""

    code = "config"


class HTTPError(PorchError):
    """A request porch refuses; the reply is ``.status`` with the message as its body."""

    code = "http"
    status = 500


class BadRequest(HTTPError):
    """The request body does not parse as its Content-Type says (e.g. malformed JSON)."""

    code = "http.bad_request"
    status = 400


class Forbidden(HTTPError):
    """The request is refused, e.g. an unsafe method without a valid CSRF token."""

    code = "http.forbidden"
    status = 403


class PayloadTooLarge(HTTPError):
    """The request body is larger than the ``body_limit`` option allows."""

    code = "http.payload_too_large"
    status = 413


class RequestTimeout(HTTPError):
    """The request body did not arrive within the ``body_timeout`` option (a slow client).

    The reply closes the connection: the rest of a body that slow is not worth waiting for.
    """

    code = "http.request_timeout"
    status = 408


class HeadersTooLarge(HTTPError):
    """The request headers (cookies included) are larger than ``security.header_limit``."""

    code = "http.headers_too_large"
    status = 431


class SessionError(PorchError):
    """The session was used in a way porch cannot honour."""

    code = "session"


class UnserializableValue(SessionError, TypeError):
    """A session value is not JSON exactly; ``.key`` names the session key.

    ``.path`` says where inside the value the offending part sits (``"[2]['at']"``,
    or ``""`` for the value itself). Raised before anything is written.
    """

    code = "session.unserializable"

    def __init__(
        self, key: str, value: object, *, path: str = "", problem: str | None = None
    ) -> None:
        self.key = key
        self.path = path
        if problem is None:
            kind = type(value).__name__
            problem = f"ctx.session[{key!r}] holds a value of type {kind}, which is not JSON."
        super().__init__(
            f"{problem} Sessions store JSON only (never pickle), so that a stolen or edited "
            "store entry cannot run code and every value comes back exactly as it went in."
        )


class CorruptSession(SessionError):
    """A stored entry does not decode as porch's JSON; the visitor gets a new session."""

    code = "session.corrupt"


class SessionTooLarge(SessionError):
    """The session would grow past ``session.max_size``; the request fails and nothing is written.

    A 500 rather than a 4xx: what goes into a session is the application's
    choice, so an oversized one is a bug to fix (keep ids in the session and the
    data in a database), not something the visitor did wrong.
    """

    code = "session.too_large"


class StoreError(PorchError):
    """The session store failed."""

    code = "store"


class StoreUnavailable(StoreError):
    """The session store is unreachable, timed out or refused; porch answers 503 and logs this.

    ``refused`` tells the two apart for the start-up check: a store that answered
    but refused (a Redis database that does not exist, a wrong password, a
    read-only replica) needs its configuration fixed; one that did not answer
    may only be starting.
    """

    code = "store.unavailable"
    status = 503

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
