"""Checklist items of SECURITY.md that no other test covers, each proven over the real server."""

from __future__ import annotations

import base64
from typing import Any

from porch import get, redirect, run
from porch.context import Context
from porch.session.stores import MemoryStore


@get("/login")
def login(ctx: Context) -> Any:
    ctx.session["user"] = "ada"
    return redirect("/home")


@get("/home")
def home(ctx: Context) -> dict[str, Any]:
    return {"user": ctx.session.get("user"), "url": ctx.url}


async def test_session_ids_carry_256_random_bits_and_never_repeat() -> None:
    async with run(login, home) as api:
        ids = set()
        for _ in range(200):
            api.cookies.clear()
            await api.get("/login")
            session_id = api.cookies["session"].rpartition(".")[0]
            assert len(base64.urlsafe_b64decode(session_id + "=")) == 32
            ids.add(session_id)
        assert len(ids) == 200


async def test_the_session_id_never_travels_in_a_url_and_a_url_id_is_never_adopted() -> None:
    store = MemoryStore()
    async with run(login, home, session={"store": store}) as api:
        response = await api.get("/login")
        session_id = api.cookies["session"]
        assert session_id not in response.headers["location"]
        assert session_id not in response.text
        page = await api.get("/home")
        assert session_id not in page.text
        api.cookies.clear()
        for name in ("session", "sid", "id"):  # an id offered anywhere but the cookie
            fixated = await api.get(f"/home?{name}={session_id}")
            assert fixated.body["user"] is None
        header = await api.get("/home", headers={"authorization": f"Bearer {session_id}"})
        assert header.body["user"] is None


async def test_the_cookie_name_does_not_reveal_the_framework() -> None:
    async with run(login, home) as api:
        response = await api.get("/login")
        assert list(response.cookies) == ["session"]
        assert "porch" not in str(response.headers).lower()
