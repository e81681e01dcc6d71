"""The SQLite floor: a bare ASGI counter doing one SELECT and one upsert per request.

The same work a session layer must do on SQLite (read before the handler, write
after it), each statement straight on the event loop, where porch's SQLiteStore
runs a request's statements too; WAL mode and synchronous=NORMAL, as porch's. No
framework, no signing, no hashing, no JSON fields. The least work: where porch
never waits for another worker's write lock on the event loop (it retries after
an asyncio.sleep), the floor lets SQLite's busy timeout wait there.
"""

import os
import secrets
import sqlite3
import time
from typing import Any

PATH = os.environ["FLOOR_SQLITE"]
TTL = 14 * 24 * 3600
LOCAL: dict[str, sqlite3.Connection] = {}


def connection() -> sqlite3.Connection:
    if "db" not in LOCAL:
        db = sqlite3.connect(PATH, timeout=2.0, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 2000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS floor "
            "(key TEXT PRIMARY KEY, views INTEGER NOT NULL, expires_at REAL NOT NULL)"
        )
        LOCAL["db"] = db
    return LOCAL["db"]


def load(session_id: str) -> int | None:
    row = (
        connection()
        .execute(
            "SELECT views FROM floor WHERE key = ? AND expires_at > ?", (session_id, time.time())
        )
        .fetchone()
    )
    return None if row is None else int(row[0])


def save(session_id: str, views: int) -> None:
    connection().execute(
        "INSERT OR REPLACE INTO floor (key, views, expires_at) VALUES (?, ?, ?)",
        (session_id, views, time.time() + TTL),
    )


def session_cookie(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == "sid" and cookie:
                    return cookie
    return None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    session_id = session_cookie(scope)
    stored = load(session_id) if session_id else None
    views = stored + 1 if stored else 1
    headers = [(b"content-type", b"application/json")]
    if stored is None:
        session_id = secrets.token_urlsafe(32)
        cookie = f"sid={session_id}; Path=/; HttpOnly; SameSite=Lax"
        headers.append((b"set-cookie", cookie.encode()))
    save(str(session_id), views)
    body = b'{"views":%d}' % views
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
