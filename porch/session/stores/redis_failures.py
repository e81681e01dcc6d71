"""Which Redis errors are store failures (porch answers 503), and what to say about each.

A Redis that cannot be reached is one kind. A Redis that answers but refuses
is the other: out of memory under ``noeviction`` (``OOM``), a replica after a
failover (``READONLY``), a replica cut off from its primary (``MASTERDOWN``),
a data set still loading (``LOADING``), a script holding the server (``BUSY``),
a disk it cannot persist to (``MISCONF``), credentials changed under a running
app (``NOAUTH``, ``WRONGPASS``, ``NOPERM``), a cluster down or resharding
(``CLUSTERDOWN``, ``TRYAGAIN``). Each lasts until someone fixes Redis, and
every request that uses the session meets it, so it is a 503 with a log line
that says which, never a 500; the store works again once Redis accepts the
commands, with nothing to restart.
"""

from __future__ import annotations

from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ClusterDownError,
    InvalidResponse,
    MasterDownError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Everything the store turns into StoreUnavailable. ResponseError is every error
# reply (NOSCRIPT is answered inside the store before it gets here); DataError,
# a value redis-py refuses to send, stays a bug of the caller's and is not here.
FAILURES: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    RedisClusterException,
    ResponseError,
    InvalidResponse,
)

# (class, why) checked in order: the first match names the refusal.
_BY_CLASS: tuple[tuple[type[BaseException], str], ...] = (
    (OutOfMemoryError, "is out of memory (OOM: maxmemory reached under noeviction) and "
     "refuses writes; raise maxmemory, free memory, or choose an eviction policy"),
    (ReadOnlyError, "is a read-only replica (READONLY), e.g. after a failover; point "
     "REDIS_URL / SESSION_STORE at the primary, or use a redis+sentinel:// URL"),
    (MasterDownError, "is a replica that lost its primary (MASTERDOWN)"),
    (BusyLoadingError, "is loading its data set into memory (LOADING); it answers once loaded"),
    (AuthenticationError, "refused porch's credentials (NOAUTH / WRONGPASS); check the "
     "user and password in REDIS_URL / SESSION_STORE"),
    (AuthorizationError, "refused porch's credentials; check the user and password in "
     "REDIS_URL / SESSION_STORE"),
    (NoPermissionError, "refused a command to porch's user (NOPERM); its ACL must allow "
     "HGETALL, EVALSHA, SCRIPT LOAD, SMEMBERS, SREM, DEL, SCAN on the session prefix"),
    (TryAgainError, "is resharding the cluster (TRYAGAIN)"),
    (ClusterDownError, "reports the cluster down (CLUSTERDOWN)"),
)  # fmt: skip

# Error codes redis-py has no class for: the first word of the reply.
_BY_CODE = {
    "BUSY": "is busy running a script (BUSY); it answers once the script ends or "
    "someone runs SCRIPT KILL",
    "MISCONF": "cannot save to disk and refuses writes (MISCONF); see the Redis log",
    "NOREPLICAS": "has too few replicas to accept writes (NOREPLICAS)",
    "WRONGTYPE": "holds a key of another type under the session prefix (WRONGTYPE); "
    "another program writes there: give porch its own prefix or database",
}


def describe(exc: BaseException) -> str:
    """What the Redis at a URL did, for ``"The Redis session store at URL " + describe(exc)``."""
    for kind, why in _BY_CLASS:
        if isinstance(exc, kind):
            return f"{why} ({exc})"
    if isinstance(exc, ResponseError):
        code = str(exc).partition(" ")[0]
        why = _BY_CODE.get(code, "refused the command")
        return f"{why} ({exc})"
    return f"is unreachable ({exc})"


def is_refusal(exc: BaseException) -> bool:
    """Redis answered, and said no: an error reply or refused credentials, not silence."""
    return isinstance(exc, ResponseError | AuthenticationError | AuthorizationError)
