"""run() ends what a test leaves open: its block ends, and the test's event loop closes.

Each test leaves something open inside ``run()`` (a Socket.IO WebSocket, a
pending long-poll, a slow handler, an unread stream) in a subprocess of its
own, because the failure this guards against is a hang: the event loop never
closed, and a suite run in-process would hang with it, saying nothing. Here
it fails, naming what was left open.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("each_server")  # run() starts the server SERVER names

HANG = 45  # seconds: far beyond run()'s grace, so only a hang reaches it

TEST = """
import asyncio, json, socket, sys, warnings

import httpx
import socketio
from starlette.responses import StreamingResponse

from porch import get, run
from porch import socket as on

ping = on("ping", lambda ctx: "pong")

@get("/slow")
async def slow(ctx):
    await asyncio.sleep(3600)

@get("/stream")
def stream(ctx):
    async def ticks():
        while True:
            yield b"tick\\n"
            await asyncio.sleep(0.05)
    return StreamingResponse(ticks(), media_type="text/plain")

APP = (ping, slow, stream)
UPGRADE = (
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n"
    "Upgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
).encode()
CONNECT = bytes([0x81, 0x82, 0, 0, 0, 0]) + b"40"  # a masked text frame: Socket.IO's connect
GOING_AWAY = bytes([0x88, 0x02, 0x03, 0xE9])  # the server's close frame with code 1001


async def websocket(api):
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(UPGRADE)
    assert b" 101 " in await reader.readline()
    await reader.readuntil(b"0{")  # Engine.IO's open packet
    writer.write(CONNECT)
    await reader.readuntil(b"40{")  # connected: Socket.IO answered
    return reader, writer


async def client(api):
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(api.url, transports=["websocket"], wait_timeout=10)
    assert await sio.call("ping", timeout=10) == "pong"
    return sio


async def long_poll(api):
    http = httpx.AsyncClient(base_url=api.url, timeout=60)
    polling = "/socket.io/?EIO=4&transport=polling"
    sid = json.loads((await http.get(polling)).text[1:])["sid"]
    await http.post(f"{polling}&sid={sid}", content="40")
    await http.get(f"{polling}&sid={sid}")  # Socket.IO's connect answer
    pending = asyncio.ensure_future(http.get(f"{polling}&sid={sid}"))
    await asyncio.sleep(0.5)  # it waits on the server, as a browser's poll does
    return http, pending


async def in_flight(api, path):
    http = httpx.AsyncClient(base_url=api.url, timeout=60)
    async def read():
        async with http.stream("GET", path) as response:
            async for _ in response.aiter_bytes():
                print("streaming", flush=True)
    pending = asyncio.ensure_future(read())
    await asyncio.sleep(0.5)
    return http, pending


async def leave(kind, api):
    if kind == "websocket":
        return await websocket(api)
    if kind == "client":
        return await client(api)
    if kind == "long-poll":
        return await long_poll(api)
    return await in_flight(api, "/slow" if kind == "slow" else "/stream")


async def main(kind):
    async with run(*APP) as api:
        left = await leave(kind, api)
    print("block ended", flush=True)
    if kind == "websocket":
        reader, writer = left
        print("close frame 1001" if GOING_AWAY in await reader.read() else "no 1001", flush=True)
        writer.close()
    elif kind != "client":
        http, pending = left
        await asyncio.gather(pending, return_exceptions=True)
        await http.aclose()


def sync_websocket():
    with run(*APP) as api:
        host, port = api.url.removeprefix("http://").split(":")
        raw = socket.create_connection((host, int(port)))
        raw.sendall(UPGRADE)
        answer = b""
        while b"0{" not in answer:  # Engine.IO's open packet
            answer += raw.recv(4096)
        raw.sendall(CONNECT)
        while b"40{" not in answer:
            answer += raw.recv(4096)
    print("block ended", flush=True)
    received = b""
    while chunk := raw.recv(4096):
        received += chunk
    print("close frame 1001" if GOING_AWAY in received else "no 1001", flush=True)
    raw.close()


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if sys.argv[1] == "sync-websocket":
        sync_websocket()
    else:
        asyncio.run(main(sys.argv[1]))
print("loop closed", flush=True)
for warning in caught:
    if "run() ended" in str(warning.message):
        print("warned:", warning.category.__name__, warning.message, flush=True)
"""


def leave_open(kind: str, tmp_path: Path) -> str:
    """Run a test that leaves ``kind`` open in run(); its output, or a failure if it hung."""
    test = tmp_path / "left_open.py"
    test.write_text(TEST)
    try:
        done = subprocess.run(
            [sys.executable, str(test), kind], capture_output=True, text=True, timeout=HANG
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(
            f"a test that left a {kind} open in run() hung for {HANG} s instead of ending "
            f"(its event loop never closed). Its output:\n{hung.stdout!r}\n{hung.stderr!r}"
        )
    assert done.returncode == 0, done.stderr
    assert "block ended" in done.stdout and "loop closed" in done.stdout, done.stdout
    return done.stdout


def test_a_socket_io_websocket_left_open_is_closed_going_away_and_named(tmp_path: Path) -> None:
    output = leave_open("websocket", tmp_path)
    assert "close frame 1001" in output
    assert "warned: ResourceWarning" in output
    assert "WebSocket /socket.io/?EIO=4&transport=websocket" in output


def test_a_connected_socket_io_client_left_connected_is_disconnected(tmp_path: Path) -> None:
    output = leave_open("client", tmp_path)
    assert "warned: ResourceWarning run() ended 1 connection(s)" in output
    assert "WebSocket /socket.io/" in output


def test_a_pending_long_poll_is_answered_and_named(tmp_path: Path) -> None:
    output = leave_open("long-poll", tmp_path)
    assert "GET /socket.io/?EIO=4&transport=polling" in output


def test_a_handler_still_running_is_cancelled_after_the_grace_and_named(tmp_path: Path) -> None:
    output = leave_open("slow", tmp_path)
    assert "GET /slow" in output and "cancelled" in output


def test_an_unread_stream_is_cancelled_and_named(tmp_path: Path) -> None:
    output = leave_open("stream", tmp_path)
    assert "streaming" in output  # the stream was flowing when the block ended
    assert "GET /stream" in output


def test_the_sync_form_closes_a_websocket_left_open_too(tmp_path: Path) -> None:
    output = leave_open("sync-websocket", tmp_path)
    assert "close frame 1001" in output
    assert "WebSocket /socket.io/" in output
