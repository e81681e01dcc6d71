"""Limits and bad input: each a 4xx with a message naming the limit, never a 500 or a hang."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from porch import get, post, run
from porch.context import Context, group
from porch.option_types import SecuritySettings

if TYPE_CHECKING:
    from tests.raw_http import h2_body, h2_exchange, hpack_field
else:
    from raw_http import h2_body, h2_exchange, hpack_field

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

OFF: SecuritySettings = {"csrf": False}


@post("/echo")
def echo(ctx: Context) -> dict[str, Any]:
    return {"data": ctx.data, "files": sorted(ctx.files)}


@get("/")
def home(ctx: Context) -> str:
    return "home"


async def test_a_body_over_body_limit_is_413_also_when_streamed_without_a_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"x" * 1024

    async with run(echo, body_limit="16kb", security=OFF) as api:
        declared = await api.post("/echo", content=b"x" * 20_000)
        assert declared.status == 413 and "body_limit" in declared.text
        streamed = await api.post("/echo", content=chunks())
        assert streamed.status == 413 and "body_limit" in streamed.text


async def test_oversized_headers_are_431_naming_the_option() -> None:
    async with run(home, security={"header_limit": "4kb"}) as api:
        assert (await api.get("/", headers={"x-small": "a" * 100})).status == 200
        response = await api.get("/", headers={"x-padding": "a" * 5000})
        assert response.status == 431
        assert "security.header_limit" in response.text and "x-padding" in response.text


async def test_an_oversized_cookie_header_is_431_not_a_500() -> None:
    async with run(home) as api:
        cookie = "; ".join(f"c{i}={'v' * 4000}" for i in range(10))
        response = await api.get("/", headers={"cookie": cookie})
        assert response.status == 431 and "cookie" in response.text


async def test_too_many_multipart_files_or_fields_are_400(monkeypatch: pytest.MonkeyPatch) -> None:
    async with run(echo, security={**OFF, "max_files": 2, "max_fields": 3}) as api:
        files = [("f", (f"{i}.txt", b"x")) for i in range(2)]
        assert (await api.post("/echo", files=files)).status == 200
        files = [("f", (f"{i}.txt", b"x")) for i in range(3)]
        too_many = await api.post("/echo", files=files)
        assert too_many.status == 400 and "max_files" in too_many.text
        fields = {f"k{i}": "v" for i in range(4)}
        response = await api.post("/echo", data=fields, files={"f": ("a.txt", b"x")})
        assert response.status == 400 and "max_fields" in response.text
    monkeypatch.setenv("SECURITY_MAX_FILES", "0")
    async with run(echo, security=OFF) as api:
        assert (await api.post("/echo", files={"f": ("a.txt", b"x")})).status == 400


async def test_an_oversized_form_field_is_400_and_an_oversized_file_is_413() -> None:
    async with run(echo, body_limit="64kb", security={**OFF, "max_part_size": "1kb"}) as api:
        response = await api.post("/echo", data={"big": "v" * 2000}, files={"f": ("a", b"x")})
        assert response.status == 400 and "max_part_size" in response.text
        assert (await api.post("/echo", files={"f": ("a.bin", b"x" * 30_000)})).status == 200
        response = await api.post("/echo", files={"f": ("a.bin", b"x" * 70_000)})
        assert response.status == 413


async def test_a_form_refused_before_its_end_is_answered_not_reset() -> None:
    """The client sees the 400 even though most of its body was still coming (Granian reset it)."""
    async with run(echo, security={**OFF, "max_files": 1}) as api:
        files = [("f", (f"{i}.bin", b"x" * 200_000)) for i in range(4)]
        response = await api.post("/echo", files=files)
        assert response.status == 400 and "max_files" in response.text
        assert (await api.get("/nothing")).status == 404  # and the next request is answered


async def test_json_nested_deeper_than_json_depth_is_400() -> None:
    async with run(echo, security={**OFF, "json_depth": 5}) as api:
        ok = await api.post("/echo", content=b"[[[[[1]]]]]", headers=json_type())
        assert ok.status == 200
        deep = await api.post("/echo", content=b"[[[[[[1]]]]]]", headers=json_type())
        assert deep.status == 400 and "security.json_depth" in deep.text
        mixed = b'{"a": {"b": [{"c": [[1]]}]}}'
        assert (await api.post("/echo", content=mixed, headers=json_type())).status == 400


async def test_pathologically_deep_json_is_400_not_a_500() -> None:
    async with run(echo, security=OFF) as api:
        for depth in (65, 1_000, 100_000):
            body = b"[" * depth + b"]" * depth
            response = await api.post("/echo", content=body, headers=json_type())
            assert response.status == 400, depth
        unclosed = await api.post("/echo", content=b"[" * 200_000, headers=json_type())
        assert unclosed.status == 400


def json_type() -> dict[str, str]:
    return {"content-type": "application/json"}


# --- the Host allow-list ---


async def test_every_host_is_allowed_by_default() -> None:
    async with run(home) as api:
        assert (await api.get("/", headers={"host": "anything.example"})).status == 200


async def test_a_host_not_listed_is_400(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ["example.com", ".example.org", "127.0.0.1"]
    async with run(home, security={"hosts": hosts}) as api:
        for host in ("example.com", "EXAMPLE.com:8080", "example.org", "a.b.example.org"):
            assert (await api.get("/", headers={"host": host})).status == 200, host
        assert (await api.get("/")).status == 200  # 127.0.0.1:port
        for host in ("evil.com", "example.com.evil.com", "notexample.org", "", "[::1]"):
            response = await api.get("/", headers={"host": host})
            assert response.status == 400, host
            assert "security.hosts" in response.text
    monkeypatch.setenv("SECURITY_HOSTS", "example.com")
    async with run(home) as api:
        assert (await api.get("/", headers={"host": "example.com"})).status == 200
        assert (await api.get("/", headers={"host": "example.net"})).status == 400


async def test_x_forwarded_host_counts_only_from_a_trusted_proxy() -> None:
    async with run(home, security={"hosts": ["example.com"]}, trust_proxy=True) as api:
        headers = {"host": "internal:8000", "x-forwarded-host": "example.com"}
        assert (await api.get("/", headers=headers)).status == 200
        headers = {"host": "internal:8000", "x-forwarded-host": "evil.com"}
        assert (await api.get("/", headers=headers)).status == 400
    async with run(home, security={"hosts": ["example.com"]}) as api:
        headers = {"host": "evil.com", "x-forwarded-host": "example.com"}
        assert (await api.get("/", headers=headers)).status == 400


# --- raw HTTP: what a client library would refuse to send ---


async def raw_exchange(url: str, request: bytes) -> bytes:
    """Send bytes as they are and read until the server closes or answers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        try:
            writer.write(request)
            await writer.drain()
            writer.write_eof()
        except OSError:  # the server closed first (Granian refuses some bytes at once)
            pass
        try:
            return await asyncio.wait_for(reader.read(65536), timeout=10)
        except ConnectionResetError:
            return b""  # closed without an answer
    finally:
        writer.close()
        await writer.wait_closed()


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None  # closed without an answer: refused at the parser, not a 500
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX a\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 2000 + b"Host: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nCookie: session=" + b"\xff" * 100 + b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
)
async def test_malformed_requests_never_get_a_500(request_bytes: bytes) -> None:
    async with run(home, echo, security=OFF) as api:
        answer = await raw_exchange(api.url, request_bytes)
        status = status_of(answer)
        assert status is None or 400 <= status < 500 or status == 200, answer[:200]


async def test_a_slow_partial_body_does_not_block_other_visitors() -> None:
    async with run(home, echo, security=OFF) as api:
        parts = urlsplit(api.url)
        sock = socket.create_connection((parts.hostname or "", parts.port or 0))
        try:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nabc")
            assert (await api.get("/")).status == 200
        finally:
            sock.close()


ENDLESS = 64 * 1024 * 1024  # what a client offers; a bounded server stops reading long before


def bytes_taken(url: str, start: bytes, line: bytes) -> tuple[int, bytes]:
    """Send ``start``, then ``line`` again and again up to ENDLESS bytes: how many the server
    took before it closed the connection, and what it answered."""
    parts = urlsplit(url)
    sent, answer = 0, b""
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=30) as sock:
        try:
            sock.sendall(start)
            while sent < ENDLESS:
                sock.sendall(line)
                sent += len(line)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            answer = sock.recv(200)
    return sent, answer


@pytest.mark.parametrize(
    "start",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\n",  # header lines that never end
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",  # trailers
    ],
    ids=["head", "trailers"],
)
def test_a_head_that_never_ends_is_cut_off_not_kept_in_memory(start: bytes) -> None:
    # uvicorn's parser kept every header and trailer line until the head ended: one
    # connection could grow the process by hundreds of megabytes before the 431.
    with run(home, echo, security=OFF) as api:
        sent, answer = bytes_taken(api.url, start, b"x-pad: " + b"y" * 8000 + b"\r\n")
        assert sent < 8 * 1024 * 1024  # far beyond any bound, far below ENDLESS
        assert not answer.startswith(b"HTTP/1.1 2"), answer  # refused, if answered at all
        assert api.get("/").status == 200  # and the server is still there


async def test_over_http2_a_small_request_cannot_unfold_into_megabytes_of_headers() -> None:
    # HPACK's table repeats a field by one byte: 4 KB on the wire were 16 MB of headers,
    # the default bound of Granian's HTTP/2, decoded and handed to porch for its 431.
    async with run(home, server="granian") as api:
        request = (
            hpack_field(":method", "GET")
            + hpack_field(":scheme", "http")
            + hpack_field(":path", "/")
            + hpack_field(":authority", "localhost")
        )
        assert h2_body(await h2_exchange(api.url, [request])) == b"home"  # HTTP/2 works
        repeated = hpack_field("x-pad", "y" * 4000, indexed=True) + bytes([0x80 | 62]) * 4000
        frames = await h2_exchange(api.url, [request + repeated])
        assert b"security.header_limit" not in h2_body(frames)  # never reached porch
        assert (await api.get("/")).status == 200


async def test_the_cut_off_follows_a_raised_header_limit() -> None:
    async with run(home, security={"header_limit": "256kb"}) as api:
        padded = {f"x-pad-{i}": "y" * 8000 for i in range(25)}  # 200 KB of headers
        assert (await api.get("/", headers=padded)).status == 200


# --- work that grows with the input: linear, and bounded by the field limit ---


@get("/count")
def count(ctx: Context) -> dict[str, Any]:
    return {key: len(value) if isinstance(value, list) else 1 for key, value in ctx.query.items()}


@post("/count-form")
def count_form(ctx: Context) -> dict[str, Any]:
    data = ctx.data or {}
    return {key: len(value) if isinstance(value, list) else 1 for key, value in data.items()}


async def test_a_key_repeated_in_the_query_is_every_value_up_to_max_fields() -> None:
    many = "&".join(["a"] * 32_000)
    async with run(count, security={"max_fields": 40_000}) as api:
        assert (await api.get(f"/count?{many}&b=1")).body == {"a": 32_000, "b": 1}
    async with run(count) as api:  # the default: 1,000 fields, as for a form
        assert (await api.get("/count?" + "&".join(["a"] * 1000))).body == {"a": 1000}
        refused = await api.get("/count?" + "&".join(["a"] * 1001))
        assert refused.status == 400 and "security.max_fields" in refused.text


async def test_a_key_repeated_in_a_form_body_is_every_value() -> None:
    async with run(count_form, security={"csrf": False, "max_fields": 40_000}) as api:
        body = "&".join(["a=1"] * 20_000) + "&b=2"
        response = await api.post(
            "/count-form",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.body == {"a": 20_000, "b": 1}


def cpu_seconds(function: Any, *arguments: Any) -> float:
    """The least CPU time of three calls: a ratio of two of these is what the test compares."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        function(*arguments)
        best = min(best, time.process_time() - started)
    return max(best, 1e-6)


def test_grouping_repeated_keys_grows_linearly_with_the_repeats() -> None:
    """16 times the repeats may cost about 16 times as much, not 256 times (a list per repeat).

    A ratio of two CPU times of the same code, not a time limit: it holds on a slow
    or busy machine, and the quadratic version fails it by a factor of ten.
    """
    small = [("a", "")] * 2_000
    large = [("a", "")] * 32_000
    assert cpu_seconds(group, large) / cpu_seconds(group, small) < 64
