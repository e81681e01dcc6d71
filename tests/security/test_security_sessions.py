"""Session hardening: a size cap with a clear error (encryption: tests/session/test_encryption),
and the session cookie found wherever the Cookie header puts it."""

from __future__ import annotations

import asyncio
import struct
from typing import Any
from urllib.parse import urlsplit

import pytest

from porch import get, run
from porch.context import Context
from porch.session.cookie import session_key
from porch.session.stores import MemoryStore
from porch.testing import AsyncApi

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


def literal(name: str, value: str) -> bytes:
    """One HPACK header field, literal and not indexed (RFC 7541 6.2.2), for values < 127."""
    return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    """An HTTP/2 frame (RFC 9113 4.1): 24-bit length, type, flags, stream id, payload."""
    head = struct.pack(">I", len(payload))[1:] + bytes([kind, flags])
    return head + struct.pack(">I", stream) + payload


async def test_over_http2_the_session_cookie_is_found_among_the_cookie_fields() -> None:
    """Granian speaks HTTP/2 without TLS to a client that starts with its preface (a proxy
    such as Envoy or Cloud Run's): a browser's cookies come as one field each."""
    async with run(put, read, server="granian") as api:
        await api.get("/put/10")
        fields = (
            literal(":method", "GET")
            + literal(":scheme", "http")
            + literal(":path", "/read")
            + literal(":authority", "localhost")
            + literal("cookie", "theme=dark")
            + literal("cookie", f"session={api.cookies['session']}")
        )
        address = urlsplit(api.url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        try:  # the preface, empty SETTINGS, then HEADERS with END_STREAM and END_HEADERS
            writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
            writer.write(frame(1, 5, 1, fields))
            await writer.drain()
            received = b""
            while b'"blob"' not in received and b"{}" not in received:
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                assert chunk, received
                received += chunk
        finally:
            writer.close()
        assert b'{"blob":"' + b"x" * 10 + b'"}' in received
