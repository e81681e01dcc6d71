"""Sign up, log in and log out: passwords hashed with scrypt, users in SQLite.

What it shows of porch's sessions:

- ``ctx.session.regenerate()`` on login and sign-up, so an id planted before
  login is worthless after it (session fixation);
- ``ctx.session.user = id`` binds the session to the user, which makes
  ``await ctx.store.destroy_user(id)`` ("log out everywhere") and
  ``await ctx.store.sessions_of(id)`` (the devices list) work;
- flash messages that survive the redirect after a form post;
- a protected page that answers ``Cache-Control: no-store``, so the back button
  after logout asks the server again instead of showing the old page;
- CSRF tokens (``ctx.csrf``) in every form; porch refuses a post without one.

Run it: ``python examples/login/app.py`` and open http://localhost:3000.
Users live in ``users.db`` next to this file (``USERS_DB`` picks another file).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from porch import Context, get, post, redirect, render, server

HERE = Path(__file__).resolve().parent
USERS_DB = Path(os.environ.get("USERS_DB") or HERE / "users.db")

# scrypt's cost: about 16 MiB and a few dozen milliseconds per guess, which is
# what makes a stolen users.db slow to crack. Stored with each hash, so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME = re.compile(r"[a-z0-9_]{3,32}")
MIN_PASSWORD = 8


# --- users: stdlib sqlite3, called from sync handlers (porch runs those in worker threads) ---


def database() -> sqlite3.Connection:
    """A connection per call: sqlite3 connections must not cross threads, and opening is cheap."""
    return sqlite3.connect(USERS_DB, timeout=5)


def create_tables() -> None:
    with closing(database()) as db, db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS users ("
            " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, password TEXT NOT NULL,"
            " created TEXT NOT NULL)"
        )


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash``: a fresh random salt per user, so equal passwords differ."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate, bytes.fromhex(digest))  # constant time


# Compared against when the name is unknown, so a wrong name costs as long as a
# wrong password and response times do not tell which names exist.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def add_user(name: str, password: str) -> int | None:
    """The new user's id, or None when the name is taken."""
    try:
        with closing(database()) as db, db:
            cursor = db.execute(
                "INSERT INTO users (name, password, created) VALUES (?, ?, ?)",
                (name, hash_password(password), datetime.now(UTC).isoformat()),
            )
            return cursor.lastrowid
    except sqlite3.IntegrityError:
        return None


def find_user(name: str, password: str) -> int | None:
    """The user's id when name and password match, else None."""
    with closing(database()) as db:
        row = db.execute("SELECT id, password FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        password_matches(password, DUMMY_HASH)
        return None
    user_id, stored = row
    return int(user_id) if password_matches(password, stored) else None


# --- pages ---


def page(ctx: Context, template: str, **local: Any) -> Any:
    """Render with the flash messages queued for this visitor (shown once, then gone)."""
    return render(template, flashes=ctx.session.flashes(), **local)


def field(ctx: Context, name: str) -> str:
    value = ctx.data.get(name, "") if isinstance(ctx.data, dict) else ""
    return value.strip() if isinstance(value, str) else ""


def signed_in(ctx: Context) -> Any:
    """Middleware for protected pages: a visitor without a user goes to the login form."""
    if ctx.session.user is None:
        ctx.session.flash("Please log in to see that page.", "error")
        return redirect("/login")
    return None


@get("/")
def home(ctx: Context) -> Any:
    if ctx.session.user is not None:
        return redirect("/account")
    return page(ctx, "home.html")


@get("/signup")
def signup_form(ctx: Context) -> Any:
    return page(ctx, "signup.html", name="")


@post("/signup")
def signup(ctx: Context) -> Any:
    name, password = field(ctx, "name").lower(), field(ctx, "password")
    if not NAME.fullmatch(name):
        ctx.session.flash("Pick a name of 3 to 32 letters, digits or _.", "error")
    elif len(password) < MIN_PASSWORD:
        ctx.session.flash(f"Pick a password of at least {MIN_PASSWORD} characters.", "error")
    else:
        user_id = add_user(name, password)
        if user_id is not None:
            return log_in(ctx, user_id, name, f"Welcome to porch, {name}!")
        ctx.session.flash(f"The name {name} is taken; pick another.", "error")
    return page(ctx, "signup.html", name=name)


@get("/login")
def login_form(ctx: Context) -> Any:
    return page(ctx, "login.html", name="")


@post("/login")
def login(ctx: Context) -> Any:
    name, password = field(ctx, "name").lower(), field(ctx, "password")
    user_id = find_user(name, password)
    if user_id is None:
        ctx.session.flash("Wrong name or password.", "error")
        return page(ctx, "login.html", name=name)
    return log_in(ctx, user_id, name, f"Welcome back, {name}.")


def log_in(ctx: Context, user_id: int, name: str, greeting: str) -> Any:
    ctx.session.regenerate()  # the id from before login stops working
    ctx.session.user = user_id
    ctx.session["name"] = name
    ctx.session["since"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ctx.session.flash(greeting, "success")
    return redirect(303, "/account")  # 303: the browser follows with a GET


async def show_account(ctx: Context) -> Any:
    assert ctx.store is not None  # None only in an app built with session=False
    devices = await ctx.store.sessions_of(ctx.session.user)
    return page(
        ctx,
        "account.html",
        name=ctx.session["name"],
        since=ctx.session["since"],
        devices=[
            {
                "created": datetime.fromtimestamp(info.created, UTC).strftime("%Y-%m-%d %H:%M"),
                "this": info.key == ctx.session.key,
            }
            for info in devices
        ],
    ).header("Cache-Control", "no-store")  # the back button after logout must ask again


account = get("/account", signed_in, show_account)  # signed_in runs first, and may answer


@post("/logout")
def logout(ctx: Context) -> Any:
    ctx.session.destroy()
    ctx.session.flash("You are logged out.", "success")  # lands in a fresh session
    return redirect(303, "/login")


async def end_all_sessions(ctx: Context) -> Any:
    assert ctx.store is not None  # None only in an app built with session=False
    ended = await ctx.store.destroy_user(ctx.session.user)  # every device, this one too
    ctx.session.destroy()
    ctx.session.flash(f"Logged out on {ended} device{'s' if ended != 1 else ''}.", "success")
    return redirect(303, "/login")


logout_everywhere = post("/logout-everywhere", signed_in, end_all_sessions)

create_tables()
app = server(
    home, signup_form, signup, login_form, login, account, logout, logout_everywhere,
    views=str(HERE / "views"), public=str(HERE / "public"),
    favicon=str(HERE / "public" / "favicon.png"),  # browsers ask every page for /favicon.ico
    security={"csp": True},  # scripts and styles only from this site; this app has no inline ones
)  # fmt: skip

if __name__ == "__main__":
    app.run()
