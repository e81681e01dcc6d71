"""Session hardening: a size cap with a clear error (encryption: tests/session/test_encryption),
the session cookie found wherever the Cookie header puts it, "your devices" for a visitor
who is nobody, and a cookie porch expires kept out of shared caches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.cookie import session_key
from porch.session.stores import MemoryStore, Store
from porch.testing import AsyncApi

if TYPE_CHECKING:
    from tests.raw_http import h2_body, h2_exchange, hpack_field
else:
    from raw_http import h2_body, h2_exchange, hpack_field

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "s" * 40


@get("/put/:size")
def put(ctx: Context) -> dict[str, Any]:
    ctx.session["blob"] = "x" * int(ctx.params["size"])
    return {"ok": True}


@get("/add/:name")
def add(ctx: Context) -> dict[str, Any]:
    ctx.session[ctx.params["name"]] = "y" * 1000
    return {"keys": len(ctx.session)}


@get("/read")
def read(ctx: Context) -> dict[str, Any]:
    return dict(ctx.session)


def key_of(api: AsyncApi) -> str:
    """The store key of this browser's session: SHA-256 of the id in the signed cookie."""
    signed = api.cookies["session"]
    return session_key(signed.rpartition(".")[0])


# --- max_size ---


async def test_a_session_over_max_size_fails_naming_the_option_and_writes_nothing() -> None:
    store = MemoryStore()
    async with run(put, read, session={"store": store, "max_size": "4kb"}) as api:
        assert (await api.get("/put/1000")).status == 200
        response = await api.get("/put/5000")
        assert response.status == 500
        assert "session.max_size" in response.text and "SESSION_MAX_SIZE" in response.text
        assert (await api.get("/read")).body == {"blob": "x" * 1000}  # the old value stands
        assert await store.count() == 1
        api.cookies.clear()
        assert (await api.get("/put/5000")).status == 500
        assert await store.count() == 1  # a new visitor's oversized session was never created


async def test_the_cap_counts_the_whole_session_not_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SESSION_MAX_SIZE", "3000")
    async with run(add, read) as api:
        assert (await api.get("/add/a")).status == 200
        assert (await api.get("/add/b")).status == 200
        response = await api.get("/add/c")  # 1 KB more, but the third
        assert response.status == 500 and "max_size" in response.text
        assert sorted((await api.get("/read")).body) == ["a", "b"]


async def test_the_default_cap_is_64_kib_and_production_hides_the_message() -> None:
    async with run(put, env="production", secret=SECRET) as api:
        assert (await api.get(f"/put/{60 * 1024}")).status == 200
        response = await api.get(f"/put/{65 * 1024}")
        assert response.status == 500 and response.text == "Internal Server Error"


# --- the Cookie header in several fields ---


async def test_the_session_cookie_is_found_in_any_cookie_field() -> None:
    # An HTTP/2 client sends each cookie as a field of its own (RFC 9113 8.2.3), and the
    # servers pass several Cookie fields on; porch read the first only and lost the session.
    async with run(put, read) as api:
        await api.get("/put/10")
        fields = [("cookie", "theme=dark"), ("cookie", f"session={api.cookies['session']}")]
        assert (await api.get("/read", headers=fields)).body == {"blob": "x" * 10}


async def test_over_http2_the_session_cookie_is_found_among_the_cookie_fields() -> None:
    """Granian speaks HTTP/2 without TLS to a client that starts with its preface (a proxy
    such as Envoy or Cloud Run's): a browser's cookies come as one field each."""
    async with run(put, read, server="granian") as api:
        await api.get("/put/10")
        fields = (
            hpack_field(":method", "GET")
            + hpack_field(":scheme", "http")
            + hpack_field(":path", "/read")
            + hpack_field(":authority", "localhost")
            + hpack_field("cookie", "theme=dark")
            + hpack_field("cookie", f"session={api.cookies['session']}")
        )
        assert h2_body(await h2_exchange(api.url, [fields])) == b'{"blob":"' + b"x" * 10 + b'"}'


# --- "your devices" and "log out everywhere" for a visitor who is nobody ---


@get("/login/:user")
def login_as(ctx: Context) -> str:
    ctx.session.regenerate()
    ctx.session.user = ctx.params["user"]
    return "in"


@get("/devices")
async def devices(ctx: Context) -> dict[str, int]:
    assert ctx.store is not None
    return {"sessions": len(await ctx.store.sessions_of(ctx.session.user))}


@get("/everywhere")
async def everywhere(ctx: Context) -> dict[str, int]:
    assert ctx.store is not None
    return {"ended": await ctx.store.destroy_user(ctx.session.user, keep=ctx.session.key)}


async def test_an_anonymous_visitor_neither_lists_nor_ends_the_sessions_of_a_user_named_none(
    each_store: Store,
) -> None:
    # ctx.session.user is None for a visitor who never logged in, and str(None) is 'None':
    # the stores looked the user 'None' up, so the docs' own "your devices" page listed that
    # user's sessions to any stranger, and "log out everywhere" logged them out.
    async with run(login_as, devices, everywhere, read, session={"store": each_store}) as api:
        assert (await api.get("/login/None")).status == 200
        victim = api.cookies["session"]
        api.cookies.clear()
        assert (await api.get("/devices")).body == {"sessions": 0}
        assert (await api.get("/everywhere")).body == {"ended": 0}
        api.cookies["session"] = victim
        assert (await api.get("/devices")).body == {"sessions": 1}  # 'None' is still logged in


# --- a cookie porch expires on a page that never used the session ---


@get("/public")
def public(ctx: Context) -> str:
    return "the same page for everybody"


async def test_a_response_that_expires_the_cookie_varies_on_it() -> None:
    # Any stale or forged cookie gets "Set-Cookie: session=; Max-Age=0", on every page,
    # also one that never touched the session. Without "Vary: Cookie" a shared cache that
    # stored that response (RFC 9111 lets it: Set-Cookie does not forbid storing) would
    # hand the expiring Set-Cookie to every visitor of the page: everybody logged out.
    async with run(public) as api:
        response = await api.get("/public", headers={"cookie": "session=forged.signature"})
        assert "session=;" in response.headers["set-cookie"]
        assert "Cookie" in response.headers["vary"]
        assert "vary" not in (await api.get("/public")).headers  # no cookie, no Set-Cookie
