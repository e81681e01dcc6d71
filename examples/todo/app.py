"""A to-do list kept in the visitor's session: forms, CSRF tokens and redirects.

Each browser has its own list, stored in ``ctx.session['todos']`` (JSON, so a
list of dicts). Every change is a plain HTML form post carrying ``ctx.csrf``;
porch answers 403 to a post without it, so another site cannot add to or
empty your list. After each post the app redirects (303) to the list, so a
reload does not post twice.

Run it: ``python examples/todo/app.py`` and open http://localhost:3000.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from porch import Context, get, post, redirect, render, server

HERE = Path(__file__).resolve().parent
MAX_TEXT = 200
MAX_ITEMS = 100  # a session is for small things; porch caps its size (64 KiB by default)


def todos(ctx: Context) -> list[dict[str, Any]]:
    """This browser's items (reading creates nothing; the form's CSRF token starts the session)."""
    items: list[dict[str, Any]] = ctx.session.get("todos", [])
    return items


@get("/")
def index(ctx: Context) -> Any:
    items = todos(ctx)
    left = sum(1 for item in items if not item["done"])
    return render("index.html", todos=items, left=left, flashes=ctx.session.flashes())


@post("/add")
def add(ctx: Context) -> Any:
    text = str((ctx.data or {}).get("text", "")).strip()[:MAX_TEXT]
    items = todos(ctx)
    if not text:
        ctx.session.flash("Write something to do first.", "error")
    elif len(items) >= MAX_ITEMS:
        ctx.session.flash(f"That is {MAX_ITEMS} things already; finish some first.", "error")
    else:
        # Ids, not positions: a second tab with an older page must not remove the wrong item.
        item = {"id": secrets.token_hex(4), "text": text, "done": False}
        ctx.session["todos"] = [*items, item]
    return redirect(303, "/")


@post("/toggle/:id")
def toggle(ctx: Context) -> Any:
    ctx.session["todos"] = [
        {**item, "done": not item["done"]} if item["id"] == ctx.params["id"] else item
        for item in todos(ctx)
    ]
    return redirect(303, "/")


@post("/remove/:id")
def remove(ctx: Context) -> Any:
    ctx.session["todos"] = [item for item in todos(ctx) if item["id"] != ctx.params["id"]]
    return redirect(303, "/")


@post("/clear")
def clear(ctx: Context) -> Any:
    done = [item for item in todos(ctx) if item["done"]]
    ctx.session["todos"] = [item for item in todos(ctx) if not item["done"]]
    if done:
        ctx.session.flash(f"Cleared {len(done)} finished item{'s' if len(done) != 1 else ''}.")
    return redirect(303, "/")


app = server(
    index, add, toggle, remove, clear,
    views=str(HERE / "views"), public=str(HERE / "public"), security={"csp": True},
    favicon=str(HERE / "public" / "favicon.png"),  # browsers ask every page for /favicon.ico
)  # fmt: skip

if __name__ == "__main__":
    app.run()
