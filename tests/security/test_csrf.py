"""porch/security/csrf.py: CSRF checked on every unsafe method while sessions are on (§1.6).

The secret rotates with the session id (OWASP): a token from before a login is
dead. A page served to the anonymous visitor carries a token; once the visitor
logs in (``regenerate()``), binds another user, or logs out (``destroy()``),
that token is refused with 403 and the token of the next page works. Over the
real server on every built-in store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from porch import delete, get, patch, post, put, run, sub
from porch.context import Context
from porch.router import RouteMaker
from porch.session.stores import Store
from porch.testing import AsyncApi

if TYPE_CHECKING:
    from tests.raw_http import raw_status
else:
    from raw_http import raw_status

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers


@get("/form")
def form(ctx: Context) -> dict[str, str]:
    return {"token": ctx.csrf}


@post("/transfer")
def transfer(ctx: Context) -> str:
    return "sent"


async def token(api: AsyncApi) -> str:
    value: str = (await api.get("/form")).body["token"]
    return value


async def test_a_post_without_a_token_is_refused_with_403_and_a_reason() -> None:
    async with run(form, transfer) as api:
        response = await api.post("/transfer", data={"amount": "100"})
        assert response.status == 403
        assert "CSRF" in response.text and "_csrf" in response.text


async def test_the_403_says_how_an_api_turns_the_check_off_for_its_routes() -> None:
    async with run(transfer) as api:
        response = await api.post("/transfer", json={"amount": 100})
    assert response.status == 403
    assert "post('/api/items', handler, csrf=False)" in response.text
    assert "sub('api', ..., csrf=False)" in response.text


# --- csrf=False on a route, or on a sub(): an API for non-browser clients ---


@post("/api/items", csrf=False)
def create_item(ctx: Context) -> dict[str, object]:
    return {"created": ctx.data}


@pytest.mark.parametrize("maker", [post, put, patch, delete])
async def test_a_route_made_with_csrf_false_takes_json_from_a_client_without_a_session(
    maker: RouteMaker,
) -> None:
    async with run(transfer, maker("/api/items", lambda ctx: {"got": ctx.data}, csrf=False)) as api:
        method = maker.method or "POST"
        response = await api.request(method, "/api/items", json={"name": "pen"})
        assert response.status == 200
        assert response.body == {"got": {"name": "pen"}}
        assert (await api.post("/transfer", json={"amount": 1})).status == 403  # still checked


async def test_csrf_false_works_as_a_decorator_and_for_a_plain_http_client() -> None:
    # a client that keeps no cookies, as curl or another service
    async with run(create_item, transfer) as api, httpx.AsyncClient(base_url=api.url) as client:
        reply = await client.post("/api/items", json={"name": "pen"})
        assert reply.status_code == 200
        assert reply.json() == {"created": {"name": "pen"}}
        assert (await client.post("/transfer", json={})).status_code == 403


async def test_sub_with_csrf_false_turns_the_check_off_for_its_routes_only() -> None:
    api_host = {"host": "api.example.com"}
    routes = [sub("api", post("/items", lambda ctx: "api", csrf=True), csrf=False), transfer]
    async with run(routes, post("/items", lambda ctx: "site")) as api:
        assert (await api.post("/items", json={}, headers=api_host)).body == "api"
        assert (await api.post("/items", json={})).status == 403  # the bare domain: checked
        assert (await api.post("/transfer", json={}, headers=api_host)).status == 403


async def test_the_first_matching_route_decides_as_routes_are_final() -> None:
    """A later csrf=False route with the same path cannot open an earlier checked one."""
    checked = post("/items/:id", lambda ctx: "checked")
    opened = post("/items/:id", lambda ctx: "opened", csrf=False)
    async with run(checked, opened) as api:
        assert (await api.post("/items/1", json={})).status == 403
    async with run(opened, checked) as api:
        assert (await api.post("/items/1", json={})).body == "opened"


async def test_csrf_false_on_a_get_route_changes_nothing() -> None:
    async with run(get("/ping", lambda ctx: "pong", csrf=False), transfer) as api:
        assert (await api.get("/ping")).body == "pong"
        assert (await api.post("/ping", json={})).status == 403  # no POST route: checked


@pytest.mark.parametrize("maker", [post, put, patch, delete])
async def test_every_unsafe_method_is_checked(maker: RouteMaker) -> None:
    async with run(form, maker("/thing", lambda ctx: "done")) as api:
        method = maker.method or "POST"
        assert (await api.request(method, "/thing")).status == 403
        headers = {"x-csrf-token": await token(api)}
        assert (await api.request(method, "/thing", headers=headers)).status == 200


def act_on_any_method(ctx: Context) -> str | None:
    """A middleware that acts on the session for every method but GET (as in express)."""
    if ctx.method != "GET" and ctx.path == "/act":
        ctx.session["acted"] = True
        return "acted"
    return None


@pytest.mark.parametrize("method", [b"PURGE", b"PROPFIND", b"LOCK", b"post", b"Delete"])
async def test_a_method_not_known_to_be_safe_is_checked_too(method: bytes) -> None:
    # Only POST, PUT, PATCH and DELETE were checked: Granian passes any method, in any
    # case, and each one reached the middleware, which acted without a token.
    async with run(form, act_on_any_method) as api:
        request = method + b" /act HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
        status = await raw_status(api.url, request)
        assert status in (None, 400, 403), status  # the server refused it, or porch did
        headers = {"x-csrf-token": await token(api)}
        if method.isupper():  # httpx sends these as they are; uvicorn refuses lower case
            response = await api.request(method.decode(), "/act", headers=headers)
            assert response.status == 200


async def test_the_form_field_or_the_header_carries_the_token() -> None:
    async with run(form, transfer) as api:
        assert (await api.post("/transfer", data={"_csrf": await token(api)})).body == "sent"
        headers = {"X-CSRF-Token": await token(api)}
        assert (await api.post("/transfer", json={"a": 1}, headers=headers)).body == "sent"
        files = {"upload": ("a.txt", b"hello")}
        response = await api.post("/transfer", data={"_csrf": await token(api)}, files=files)
        assert response.body == "sent"


async def test_tokens_differ_on_every_page_and_all_of_them_verify() -> None:
    async with run(form, transfer) as api:
        tokens = [await token(api) for _ in range(3)]
        assert len(set(tokens)) == 3
        for value in tokens:
            assert (await api.post("/transfer", headers={"x-csrf-token": value})).status == 200


async def test_a_wrong_or_foreign_token_is_refused() -> None:
    async with run(form, transfer) as victim:
        await token(victim)
        attacker = AsyncApi(type(victim.client)(base_url=victim.url), victim.url)
        try:
            foreign = await token(attacker)
        finally:
            await attacker.client.aclose()
        for value in (foreign, "garbage", "", "A" * 86):
            response = await victim.post("/transfer", headers={"x-csrf-token": value})
            assert response.status == 403, value


async def test_a_cross_site_post_without_a_session_is_refused() -> None:
    async with run(form, transfer) as api:
        response = await api.post("/transfer", data={"_csrf": "forged"})
        assert response.status == 403


async def test_safe_methods_are_not_checked() -> None:
    async with run(form, get("/page", lambda ctx: "page")) as api:
        assert (await api.get("/page")).status == 200
        assert (await api.head("/page")).status == 200


async def test_csrf_off_by_option_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with run(transfer, security={"csrf": False}) as api:
        assert (await api.post("/transfer")).status == 200
    monkeypatch.setenv("SECURITY_CSRF", "false")
    async with run(transfer) as api:
        assert (await api.post("/transfer")).status == 200


async def test_no_csrf_check_when_sessions_are_off() -> None:
    async with run(transfer, session=False) as api:
        assert (await api.post("/transfer")).status == 200


# --- run()'s helper: api.csrf() and csrf=True ---


async def test_api_csrf_gives_this_browsers_token_and_csrf_true_sends_it() -> None:
    async with run(transfer) as api:
        token_value = await api.csrf()
        assert (await api.post("/transfer", headers={"x-csrf-token": token_value})).body == "sent"
        assert (await api.post("/transfer", csrf=True, data={"amount": "1"})).body == "sent"
        headers = {"x-extra": "kept"}
        assert (await api.post("/transfer", csrf=True, headers=headers)).status == 200
        assert (await api.post("/transfer")).status == 403  # nothing is sent unasked


async def test_the_helper_token_is_the_one_ctx_csrf_would_give() -> None:
    """It goes through the real session layer: a token of another browser still fails."""
    async with run(form, transfer) as victim:
        other = AsyncApi(type(victim.client)(base_url=victim.url), victim.url)
        try:
            foreign = await other.csrf()
        finally:
            await other.client.aclose()
        await victim.csrf()
        assert (await victim.post("/transfer", headers={"x-csrf-token": foreign})).status == 403


def test_the_sync_api_has_the_helper_too() -> None:
    with run(transfer) as api:
        assert api.post("/transfer", csrf=True).body == "sent"
        assert api.post("/transfer", headers={"x-csrf-token": api.csrf()}).status == 200


async def test_the_helper_says_why_when_sessions_are_off() -> None:
    async with run(transfer, session=False) as api:
        with pytest.raises(RuntimeError, match="sessions are off"):
            await api.csrf()


# --- the secret rotates with the session id ---


@get("/visit")
def visit(ctx: Context) -> dict[str, Any]:
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


APP = [visit, login, regenerate_only, bind, logout, transfer]


async def token_of(api: AsyncApi) -> str:
    token: str = (await api.get("/visit")).body["token"]
    return token


async def transfer_with(api: AsyncApi, token: str) -> int:
    return (await api.post("/transfer", headers={"x-csrf-token": token})).status


async def test_a_token_from_before_login_is_refused_after_it(each_store: Store) -> None:
    async with run(APP, session={"store": each_store}) as api:
        before = await token_of(api)
        assert await transfer_with(api, before) == 200
        response = await api.post("/login", headers={"x-csrf-token": before})
        assert response.status == 200
        assert await transfer_with(api, before) == 403
        assert await transfer_with(api, response.body["token"]) == 200  # the login page's
        assert await transfer_with(api, await token_of(api)) == 200  # and the next page's


async def test_regenerate_alone_rotates_the_secret(each_store: Store) -> None:
    async with run(APP, session={"store": each_store}) as api:
        before = await token_of(api)
        assert (await api.post("/regenerate", headers={"x-csrf-token": before})).status == 200
        assert await transfer_with(api, before) == 403
        assert await transfer_with(api, await token_of(api)) == 200


async def test_binding_another_user_rotates_the_secret(each_store: Store) -> None:
    async with run(APP, session={"store": each_store}) as api:
        before = await token_of(api)
        assert (await api.post("/bind/ada", headers={"x-csrf-token": before})).status == 200
        assert await transfer_with(api, before) == 403
        ada = await token_of(api)
        assert (await api.post("/bind/ada", headers={"x-csrf-token": ada})).status == 200
        assert await transfer_with(api, ada) == 200  # the same user again: nothing rotates
        assert (await api.post("/bind/bob", headers={"x-csrf-token": ada})).status == 200
        assert await transfer_with(api, ada) == 403


async def test_a_token_from_before_logout_is_refused_after_it(each_store: Store) -> None:
    async with run(APP, session={"store": each_store}) as api:
        await api.post("/login", headers={"x-csrf-token": await token_of(api)})
        logged_in = await token_of(api)
        assert (await api.post("/logout", headers={"x-csrf-token": logged_in})).status == 200
        assert await transfer_with(api, logged_in) == 403
        assert await transfer_with(api, await token_of(api)) == 200
