"""Session hardening: a size cap with a clear error (encryption: tests/session/test_encryption),
and the session cookie found wherever the Cookie header puts it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from porch import get, run
from porch.context import Context
from porch.session.cookie import session_key
from porch.session.stores import MemoryStore
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
