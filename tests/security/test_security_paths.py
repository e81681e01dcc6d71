"""Paths the file system refuses, and request text in the log.

A path is the client's: with a ``public`` folder every GET asks the file
system about it first, and ``file()`` may be given a route parameter. Whatever
bytes it holds, the answer is a 404 or a 400 (or the route's own), never a
500; and nothing in a request can start a line of its own in the log.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from porch import file, get, post, run
from porch.context import Context
from porch.logsafe import escape, safe_traceback
from porch.static import PublicFolder

if TYPE_CHECKING:
    from tests.raw_http import raw_status
else:
    from raw_http import raw_status

# Each makes the file system raise something other than "no such file".
HOSTILE_PATHS = [
    "/%00",
    "/a%00b.txt",
    "/app.css%00.png",
    "/" + "a" * 256,
    "/" + "a" * 5000,
    "/" + "/".join(["a" * 250] * 20),  # each name fits; the whole path is longer than PATH_MAX
    "/app.css/x",  # a file where a folder is expected: ENOTDIR
    "/app.css/",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%ed%a0%80",  # a UTF-8 encoded lone surrogate
    "/%ff%fe",
    "/..%5c..%5cetc%5cpasswd",
]


@get("/")
def home(ctx: Context) -> str:
    return "home"


@get("/api/:name")
def api(ctx: Context) -> dict[str, str]:
    return {"name": ctx.params["name"]}


@get("/files/:name")
def files(ctx: Context) -> Any:
    return file(ctx.params["name"], root="public")


@pytest.fixture
def public(isolated_environment: Path) -> Path:
    folder = isolated_environment / "public"
    folder.mkdir()
    (folder / "app.css").write_text("body {}")
    return folder


async def get_raw(url: str, target: str) -> int | None:
    """The status of ``GET target``, sent byte for byte; None when the server refused it."""
    request = f"GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    return await raw_status(url, request.encode())


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def test_paths_the_file_system_refuses_are_404_not_500(
    public: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(home, api) as api_client:
        assert (await api_client.get("/app.css")).text == "body {}"
        for path in HOSTILE_PATHS:
            status = await get_raw(api_client.url, path)
            assert status in (400, 404, None), (path, status)
        # the route still answers a long or odd segment the folder could not look up
        assert await get_raw(api_client.url, "/api/" + "b" * 300) == 200
        assert await get_raw(api_client.url, "/api/a%00b") == 200
    assert errors(caplog) == []


async def test_file_with_a_hostile_name_is_404_not_500(
    public: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run(files) as api_client:
        assert (await api_client.get("/files/app.css")).text == "body {}"
        for name in ("a%00b", "x" * 300, "app.css%2fx", "%ed%a0%80", "%2e%2e%2f%2e%2e%2fetc"):
            status = await get_raw(api_client.url, f"/files/{name}")
            assert status in (400, 404, None), (name, status)
    assert errors(caplog) == []


def test_the_public_folder_treats_an_unencodable_path_as_no_file(public: Path) -> None:
    """Servers other than uvicorn may hand a path with a lone surrogate through as it is."""
    folder = PublicFolder(str(public))
    for path in ("/\ud800.css", "/a\x00b", "/" + "a" * 300):
        assert (
            folder.response({"type": "http", "method": "GET", "path": path, "headers": []}) is None
        )


# --- request text in the log: escaped, one line per record ---


@get("/boom")
def boom(ctx: Context) -> None:
    raise ValueError(f"bad input {ctx.query.get('q')}")


FORGED = "x\nCRITICAL:porch: forged\r\x1b[2J\u2028\x85"


async def test_control_characters_in_a_request_are_escaped_in_every_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="porch")
    async with run(home, boom) as api:
        await get_raw(api.url, "/%0aCRITICAL:porch:%20forged%0d%1b%e2%80%a8%c2%85")
        await get_raw(api.url, "/boom?q=x%0aCRITICAL:porch:%20forged%0d%1b")
        await get_raw(api.url, "/boom%0aCRITICAL:porch:%20forged")
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the requests were logged"
    for message in messages:
        for line in message.split("\n"):
            assert not line.startswith("CRITICAL"), message
            assert line.isprintable(), message
    access = [r.getMessage() for r in caplog.records if r.name == "porch.access"]
    assert any("\\nCRITICAL:porch:" in line or "%0aCRITICAL" in line for line in access)
    assert any("\\nCRITICAL:porch: forged" in message for message in errors(caplog))


def test_escape_writes_every_non_printable_character_as_its_escape() -> None:
    assert escape("GET /plain?a=1 é") == "GET /plain?a=1 é"
    assert escape(FORGED) == "x\\nCRITICAL:porch: forged\\r\\x1b[2J\\u2028\\x85"
    assert escape("\x00\x7f\u202e\ud800") == "\\x00\\x7f\\u202e\\ud800"


def test_a_traceback_keeps_its_lines_and_escapes_each_message() -> None:
    try:
        try:
            raise KeyError(FORGED)
        except KeyError as inner:
            raise RuntimeError(FORGED) from inner
    except RuntimeError as exc:
        text = safe_traceback(exc)
    assert "The above exception was the direct cause" in text
    assert not any(line.startswith("CRITICAL") for line in text.split("\n"))
    assert all(line.isprintable() for line in text.split("\n"))
    assert text.count("forged") == 2


# --- a client that hangs up ---


@post("/upload")
def upload(ctx: Context) -> dict[str, int]:
    return {"size": len(ctx.data or "")}


async def hang_up_mid_body(url: str, content_type: str) -> None:
    parts = urlsplit(url)
    _reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    start = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
    body = (start if content_type.startswith("multipart/") else b"a=") + b"x" * 1000
    head = (
        f"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: {content_type}\r\n"
        "Content-Length: 100000\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_a_client_that_hangs_up_mid_body_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="porch")
    async with run(upload, log="debug", security={"csrf": False}) as api:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
        ):
            await hang_up_mid_body(api.url, content_type)
        for _ in range(100):  # the server notices the hang-ups on its own time
            if len([r for r in caplog.records if r.name == "porch.access"]) >= 3:
                break
            await asyncio.sleep(0.02)
        assert (await api.post("/upload", content=b"abc")).body == {"size": 3}
    assert errors(caplog) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    access = [r.getMessage() for r in caplog.records if r.name == "porch.access"]
    assert [line.rsplit(" ", 2)[1] for line in access] == ["499", "499", "499", "200"]
    gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(gone) == 3 and all(r.levelno == logging.DEBUG for r in gone)
