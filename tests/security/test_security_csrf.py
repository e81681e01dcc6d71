"""The CSRF secret rotates with the session id (OWASP): a token from before a login is dead.

A page served to the anonymous visitor carries a token; once the visitor logs
in (``regenerate()``), binds another user, or logs out (``destroy()``), that
token is refused with 403 and the token of the next page works. Over the real
server on every built-in store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from porch import get, post, run
from porch.context import Context
from porch.session.stores import MemoryStore, Store
from porch.session.stores.redis import RedisStore
from porch.session.stores.sqlite import SQLiteStore
from porch.testing import AsyncApi


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        yield SQLiteStore(tmp_path / "sessions.db")
    else:
        yield RedisStore(request.getfixturevalue("redis_url"), prefix=f"csrf:{id(request)}:")


@get("/form")
def form(ctx: Context) -> dict[str, Any]:
    ctx.session["visited"] = True
    return {"token": ctx.csrf}


@post("/login")
def login(ctx: Context) -> dict[str, Any]:
    ctx.session.regenerate()
    ctx.session.user = "ada"
    return {"token": ctx.csrf}  # read after regenerate(): the new secret's


@post("/regenerate")
def regenerate_only(ctx: Context) -> str:
    ctx.session.regenerate()
    return "regenerated"


@post("/bind/:user")
def bind(ctx: Context) -> str:
    ctx.session.user = ctx.params["user"]
    return "bound"


@post("/logout")
def logout(ctx: Context) -> str:
    ctx.session.destroy()
    return "logged out"


@post("/transfer")
def transfer(ctx: Context) -> str:
    return "sent"


APP = [form, login, regenerate_only, bind, logout, transfer]


async def token_of(api: AsyncApi) -> str:
    token: str = (await api.get("/form")).body["token"]
    return token


async def transfer_with(api: AsyncApi, token: str) -> int:
    return (await api.post("/transfer", headers={"x-csrf-token": token})).status


async def test_a_token_from_before_login_is_refused_after_it(store: Store) -> None:
    async with run(APP, session={"store": store}) as api:
        before = await token_of(api)
        assert await transfer_with(api, before) == 200
        response = await api.post("/login", headers={"x-csrf-token": before})
        assert response.status == 200
        assert await transfer_with(api, before) == 403
        assert await transfer_with(api, response.body["token"]) == 200  # the login page's
        assert await transfer_with(api, await token_of(api)) == 200  # and the next page's


async def test_regenerate_alone_rotates_the_secret(store: Store) -> None:
    async with run(APP, session={"store": store}) as api:
        before = await token_of(api)
        assert (await api.post("/regenerate", headers={"x-csrf-token": before})).status == 200
        assert await transfer_with(api, before) == 403
        assert await transfer_with(api, await token_of(api)) == 200


async def test_binding_another_user_rotates_the_secret(store: Store) -> None:
    async with run(APP, session={"store": store}) as api:
        before = await token_of(api)
        assert (await api.post("/bind/ada", headers={"x-csrf-token": before})).status == 200
        assert await transfer_with(api, before) == 403
        ada = await token_of(api)
        assert (await api.post("/bind/ada", headers={"x-csrf-token": ada})).status == 200
        assert await transfer_with(api, ada) == 200  # the same user again: nothing rotates
        assert (await api.post("/bind/bob", headers={"x-csrf-token": ada})).status == 200
        assert await transfer_with(api, ada) == 403


async def test_a_token_from_before_logout_is_refused_after_it(store: Store) -> None:
    async with run(APP, session={"store": store}) as api:
        await api.post("/login", headers={"x-csrf-token": await token_of(api)})
        logged_in = await token_of(api)
        assert (await api.post("/logout", headers={"x-csrf-token": logged_in})).status == 200
        assert await transfer_with(api, logged_in) == 403
        assert await transfer_with(api, await token_of(api)) == 200
