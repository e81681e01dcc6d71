"""What a reply helper puts in a header is checked before the response starts.

A value with a line break would split the response (header injection), and
one the server refuses once the response has begun leaves the client with an
empty reply. Either way the handler's mistake must be what docs/reply.md
promises: a clean 500 (or the error handler's answer), never a broken one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.responses import Response

from porch import content_type, cookie, download, error, get, header, redirect, run, status
from porch.context import Context

HERE = Path(__file__)
FOLDER = HERE.parent
BAD_VALUES = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"]


async def raw_get(url: str, path: str) -> bytes:
    """The whole answer to ``GET path``, as bytes: an empty reply shows as b''."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()


def replies(make: Callable[[str], Any]) -> list[Any]:
    """A route per bad value (``/0``, ``/1``...), each replying with ``make(value)``."""

    def replying(value: str) -> Callable[[Context], Any]:
        return lambda ctx: make(value)

    return [get(f"/{index}", replying(value)) for index, value in enumerate(BAD_VALUES)]


MAKERS: dict[str, Callable[[str], Any]] = {
    "content_type": lambda value: content_type(f"text/html{value}").send("hi"),
    "header": lambda value: header("X-Id", value).send("hi"),
    "header dict": lambda value: header({"X-Id": "1", "X-Other": value}),
    "cookie path": lambda value: cookie("theme", "dark", path=f"/{value}").send("hi"),
    "cookie domain": lambda value: cookie("theme", "dark", domain=value).send("hi"),
    "cookie expires": lambda value: cookie("theme", "dark", expires=value).send("hi"),
    "cookie name": lambda value: cookie(value, "dark").send("hi"),
    "a Response": lambda value: Response("hi", headers={"x-id": value}),
}


@pytest.mark.parametrize("helper", sorted(MAKERS))
async def test_a_header_value_with_a_control_character_is_a_clean_500(helper: str) -> None:
    async with run(*replies(MAKERS[helper])) as api:
        for index, value in enumerate(BAD_VALUES):
            answer = await raw_get(api.url, f"/{index}")
            assert answer.startswith(b"HTTP/1.1 500 "), (helper, value, answer[:80])
            assert b"X-Injected" not in answer.split(b"\r\n\r\n")[0]


async def test_the_error_reaches_the_error_handlers() -> None:
    def handled(ctx: Context) -> Any:
        return status(500).send(f"handled: {type(ctx.error).__name__}")

    app = [get("/", lambda ctx: content_type("text/html\r\nX-A: 1").send("hi")), error(handled)]
    async with run(*app) as api:
        response = await api.get("/")
        assert (response.status, response.text) == (500, "handled: ValueError")


async def test_statuses_and_header_names_a_server_would_refuse_are_a_clean_500() -> None:
    app = [
        get("/big", lambda ctx: Response("hi", status_code=1000)),
        get("/small", lambda ctx: Response("hi", status_code=99)),
        get("/name", lambda ctx: Response("hi", headers={"x id": "1"})),
        get("/euro", lambda ctx: header("X-Price", "5 €").send("hi")),
    ]
    async with run(*app) as api:
        for path in ("/big", "/small", "/name", "/euro"):
            assert (await raw_get(api.url, path)).startswith(b"HTTP/1.1 500 "), path


async def test_redirect_and_download_encode_what_they_are_given() -> None:
    """Location and Content-Disposition are percent-encoded: a line break cannot split them."""
    app = [
        get("/go", lambda ctx: redirect("/next\r\nSet-Cookie: evil=1")),
        get("/file", lambda ctx: download(HERE, "report\r\nX-Injected: 1.txt", root=FOLDER)),
    ]
    async with run(*app) as api:
        head = (await raw_get(api.url, "/go")).split(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 302 ") and b"\r\nset-cookie" not in head.lower()
        head = (await raw_get(api.url, "/file")).split(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nX-Injected" not in head


def test_helpers_refuse_bad_values_when_called() -> None:
    """The mistake shows in the handler's own line of the traceback, not later."""
    for make in MAKERS.values():
        if make is MAKERS["a Response"]:
            continue
        with pytest.raises(ValueError):
            make("a\r\nb")
    with pytest.raises(ValueError, match="Latin-1"):
        header("X-Price", "5 €")
    with pytest.raises(ValueError, match="file name"):
        download(__file__, "a\ud800.txt")
    with pytest.raises(ValueError):
        status(1000)
