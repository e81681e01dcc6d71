"""A chat room over Socket.IO whose messages carry the name from the HTTP session.

The visitor picks a name in an ordinary form (with its CSRF token); the
route stores it in ``ctx.session['name']``. The page then opens a socket with
the socket.io browser client, and the browser sends its session cookie along
with the handshake, so each socket handler's ``ctx.session`` is that same
session. The server, not the browser, decides whose message it is: the page
sends only the text, and the handler signs it with the session's name.

Run it: ``python examples/chat/app.py`` and open http://localhost:3000 in two
browsers (or one normal and one private window). The first start fetches the
socket.io browser client into public/ with npm (``examples/chat/setup``).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from porch import Context, SocketContext, get, post, redirect, render, server, socket

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "public" / "socket.io.min.js"
MAX_NAME = 24
MAX_TEXT = 500


def fetch_client() -> None:
    """The socket.io browser client is fetched at setup time, not committed: see ./setup.

    When setup cannot fetch it (no npm, no network), setup has said why and what
    to run in one line; the example stops there, without a traceback about it.
    """
    if not CLIENT.exists():
        fetched = subprocess.run([str(HERE / "setup")], check=False)
        if fetched.returncode != 0:
            raise SystemExit(fetched.returncode)


@get("/")
def index(ctx: Context) -> Any:
    name = ctx.session.get("name")
    if name is None:
        return render("join.html", flashes=ctx.session.flashes())
    return render("room.html", name=name)


@post("/join")
def join(ctx: Context) -> Any:
    name = " ".join(str((ctx.data or {}).get("name", "")).split())[:MAX_NAME]
    if not name:
        ctx.session.flash("Pick a name to chat with.")
        return redirect(303, "/")
    # The page reads the session cookie only at the socket's handshake, so the
    # name must be in the session before the room page (and its socket) loads.
    ctx.session["name"] = name
    return redirect(303, "/")


@post("/leave")
def leave(ctx: Context) -> Any:
    ctx.session.destroy()
    return redirect(303, "/")


@socket("connect")
async def arrive(ctx: SocketContext) -> Any:
    name = ctx.session.get("name")
    if name is None:  # no session, or it ended: pick a name first
        return False  # refuses the connection
    await ctx.io.emit("notice", f"{name} joined", skip=ctx.socket.id)
    return None


@socket("message")
async def message(ctx: SocketContext) -> Any:
    text = ctx.data.strip()[:MAX_TEXT] if isinstance(ctx.data, str) else ""
    name = ctx.session.get("name")
    if not text or name is None:
        return False  # the acknowledgement: not sent
    when = datetime.now(UTC).strftime("%H:%M")
    await ctx.io.emit("message", {"name": name, "text": text, "time": when})
    return True


@socket("disconnect")
async def part(ctx: SocketContext) -> None:
    name = ctx.session.get("name")
    if name is not None:
        await ctx.io.emit("notice", f"{name} left")


fetch_client()
app = server(
    index, join, leave, arrive, message, part,
    views=str(HERE / "views"), public=str(HERE / "public"), security={"csp": True},
    favicon=str(HERE / "public" / "favicon.png"),  # browsers ask every page for /favicon.ico
)  # fmt: skip

if __name__ == "__main__":
    app.run()
