"""Where Socket.IO's broadcasts travel between workers: the Redis of the session store.

``ctx.io.emit`` reaches every worker's clients only through a pub/sub server;
porch uses the session store's Redis when the store is given as a URL, on a
channel per database, so two apps sharing a Redis server on different
databases do not hear each other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlsplit

# The store schemes whose server can also carry Socket.IO's pub/sub messages.
from .session.stores import REDIS_SCHEMES, is_redis_store

if TYPE_CHECKING:
    from .protocols import Services

log = logging.getLogger("porch.socket")


def broadcast_url(app: Services) -> str | None:
    """The Redis URL for Socket.IO's pub/sub: the session store's, when it is Redis.

    A store passed in code as an object has no URL to share; its broadcasts stay
    within one process, and a warning says how to share them.
    """
    session = app.options.session
    if session is None:
        return None
    if isinstance(session.store, str):
        return manager_url(session.store)
    if is_redis_store(session.store):
        log.warning(
            "socket broadcasts (ctx.io.emit) reach only this process's clients: the Redis store "
            "was passed in code as an object, which has no URL to share. Pass it as a URL "
            "(session={'store': 'redis://...'}) or set REDIS_URL to broadcast across workers."
        )
    return None


def channel_for(url: str) -> str:
    """One pub/sub channel per Redis database: apps that share sessions share broadcasts.

    Redis pub/sub ignores the database number, so two apps on databases 0 and 1
    of one server would otherwise hear each other's broadcasts.
    """
    parts = urlsplit(url)
    if parts.scheme == "redis+sentinel":
        db = parts.path.strip("/").split("/")[0]
    elif parts.scheme == "unix":
        db = dict(parse_qsl(parts.query)).get("db", "0")
    else:
        db = parts.path.strip("/")
    return f"porch.socket.db{db or '0'}"


def manager_url(store_url: str) -> str | None:
    """The URL python-socketio's Redis manager understands for a porch store URL.

    ``redis://``, ``rediss://`` and ``unix://`` are the same; porch's sentinel form
    (``/service[/db]``) is reordered into python-socketio's (``/db/service``); a
    cluster is reached through its first seed node, since Redis Cluster delivers
    a PUBLISH to the subscribers of every node. Any other store: None.
    """
    scheme, _, rest = store_url.partition("://")
    scheme = scheme.lower()
    if scheme not in REDIS_SCHEMES:
        return None
    if scheme == "redis+sentinel":
        parts = urlsplit(store_url)
        segments = [segment for segment in parts.path.split("/") if segment]
        service = segments[0] if segments else "mymaster"
        db = segments[1] if len(segments) > 1 else "0"
        return f"redis+sentinel://{parts.netloc}/{quote(db)}/{quote(service)}"
    if scheme == "redis+cluster":
        userinfo, at, hosts = rest.partition("@") if "@" in rest else ("", "", rest)
        first_seed = hosts.split("/")[0].split("?")[0].split(",")[0]
        return f"redis://{userinfo}{at}{first_seed}/0"
    return store_url
