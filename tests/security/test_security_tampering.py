"""Forged, tampered, replayed and fixated cookies, tried byte by byte over the real server."""

from __future__ import annotations

import string
from typing import Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.stores import MemoryStore

COOKIE_CHARACTERS = string.ascii_letters + string.digits + "-_."


@get("/login")
def login(ctx: Context) -> str:
    ctx.session["user"] = "ada"
    return "in"


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


@get("/logout")
def logout(ctx: Context) -> str:
    ctx.session.destroy()
    return "out"


def variants(signed: str, position: int) -> list[str]:
    """The cookie with the character at ``position`` replaced by two different valid ones."""
    index = COOKIE_CHARACTERS.index(signed[position])
    replacements = (COOKIE_CHARACTERS[(index + step) % len(COOKIE_CHARACTERS)] for step in (1, 31))
    return [signed[:position] + new + signed[position + 1 :] for new in replacements]


async def test_changing_any_byte_of_the_signed_cookie_is_never_accepted() -> None:
    store = MemoryStore()
    async with run(login, read, session={"store": store}) as api:
        await api.get("/login")
        signed = api.cookies["session"]
        assert len(signed) > 80  # 256-bit id + HMAC-SHA256
        tried = 0
        for position in range(len(signed)):
            for tampered in variants(signed, position):
                response = await api.get("/read", headers={"cookie": f"session={tampered}"})
                assert response.status == 200, (position, tampered)
                assert response.body == {}, (position, tampered)  # not ada's session
                tried += 1
        assert tried == 2 * len(signed)
        # each refusal told this jar to forget the cookie; the real one still works
        real = {"cookie": f"session={signed}"}
        assert (await api.get("/read", headers=real)).body == {"user": "ada"}
        assert await store.count() == 1  # no tampered cookie created or touched an entry


@pytest.mark.parametrize("cut", [1, 2, 43, 44, 45])
async def test_a_truncated_or_extended_cookie_is_never_accepted(cut: int) -> None:
    async with run(login, read) as api:
        await api.get("/login")
        signed = api.cookies["session"]
        for candidate in (signed[:-cut], signed[cut:], signed + signed[-cut:], signed + "."):
            response = await api.get("/read", headers={"cookie": f"session={candidate}"})
            assert response.body == {}, candidate


async def test_a_cookie_replayed_after_logout_is_dead() -> None:
    async with run(login, read, logout) as api:
        await api.get("/login")
        stolen = api.cookies["session"]
        await api.get("/logout")
        assert (await api.get("/read", headers={"cookie": f"session={stolen}"})).body == {}


async def test_a_fixated_cookie_from_another_app_secret_is_not_adopted() -> None:
    async with run(login, read, secret="a" * 40) as attacker_site:
        await attacker_site.get("/login")
        planted = attacker_site.cookies["session"]
    async with run(login, read, secret="b" * 40) as api:
        response = await api.get("/read", headers={"cookie": f"session={planted}"})
        assert response.body == {}
        assert "Max-Age=0" in response.headers["set-cookie"]  # told to forget it
