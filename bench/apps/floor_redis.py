"""The floor: a bare ASGI function doing the least Redis work a session counter needs.

One GET and one SET with expiry per request, keyed by a random cookie set on the
first visit; raw redis-py asyncio, no framework, no signing, no hashing. Nothing
real can be faster with the same Redis round trips, so the peers and porch are
measured against it.
"""

import os
import secrets
from typing import Any

from redis.asyncio import Redis

REDIS = Redis.from_url(os.environ["REDIS_URL"])
TTL = 14 * 24 * 3600
PREFIX = "floor:"


def session_cookie(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == "sid" and cookie:
                    return cookie
    return None


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await REDIS.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    session_id = session_cookie(scope)
    stored = await REDIS.get(PREFIX + session_id) if session_id else None
    views = int(stored) + 1 if stored else 1
    headers = [(b"content-type", b"application/json")]
    if stored is None:
        session_id = secrets.token_urlsafe(32)
        cookie = f"sid={session_id}; Path=/; HttpOnly; SameSite=Lax"
        headers.append((b"set-cookie", cookie.encode()))
    await REDIS.set(PREFIX + str(session_id), views, ex=TTL)
    body = b'{"views":%d}' % views
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
