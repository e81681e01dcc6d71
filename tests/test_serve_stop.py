"""``porch serve`` stops within ``stop_timeout`` on SIGTERM, whatever its clients left open.

A graceful stop waits for the connections in flight; one that never ends (a
handler that waits for ever, a WebSocket) must not hold the worker for ever.
Each test starts the real command, leaves one open, sends SIGTERM, and checks
that the process exits and, where the server lets porch's lifespan shutdown
run, that the store was closed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.serve_process import free_port, wait_until_answering
else:
    from serve_process import free_port, wait_until_answering

pytestmark = pytest.mark.usefixtures("each_server")  # porch serve starts the server SERVER names

HANG = 60  # seconds: far beyond stop_timeout (2 s here), so only a hang reaches it

APP = """\
import asyncio
from pathlib import Path
from porch import get, server, socket
from porch.session.stores import MemoryStore

class MarkedStore(MemoryStore):
    async def close(self):
        await super().close()
        Path('store-closed').write_text('closed')

@get('/slow')
async def slow(ctx):
    Path('arrived').write_text('arrived')
    await asyncio.sleep(3600)

app = server(socket('ping', lambda ctx: 'pong'), slow, session={'store': MarkedStore()})
"""

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CONNECT = bytes([0x81, 0x82, 0, 0, 0, 0]) + b"40"  # a masked text frame: Socket.IO's connect


async def websocket(url: str, folder: Path) -> Callable[[], Awaitable[None]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    writer.write(UPGRADE)
    assert b" 101 " in await reader.readline()
    await reader.readuntil(b"0{")  # Engine.IO's open packet
    writer.write(CONNECT)
    await reader.readuntil(b"40{")  # connected

    async def close() -> None:
        writer.close()

    return close


async def slow_request(url: str, folder: Path) -> Callable[[], Awaitable[None]]:
    client = httpx.AsyncClient(base_url=url, timeout=HANG)
    pending = asyncio.ensure_future(client.get("/slow"))
    while not (folder / "arrived").exists():
        await asyncio.sleep(0.01)

    async def close() -> None:
        await asyncio.gather(pending, return_exceptions=True)
        await client.aclose()

    return close


async def sigterm_with(
    folder: Path, leave: Callable[[str, Path], Awaitable[Callable[[], Awaitable[None]]]]
) -> bool:
    """Serve, leave something open, send SIGTERM; whether the store was closed. Fails on a hang."""
    (folder / "app.py").write_text(APP)
    port, log = free_port(), folder / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "porch", "serve", "app:app", "--port", str(port)],
            cwd=folder, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "STOP_TIMEOUT": "2", "LOG": "warning"},
        )  # fmt: skip
    try:
        wait_until_answering(url, process, log)
        close = await leave(url, folder)
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, HANG)
        except subprocess.TimeoutExpired:
            pytest.fail(f"porch serve did not exit {HANG} s after SIGTERM:\n{log.read_text()}")
        await close()
        # 0 from Granian; uvicorn ends by re-raising the SIGTERM it handled gracefully
        assert process.returncode in (0, -signal.SIGTERM), log.read_text()
        return (folder / "store-closed").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_an_open_socket_io_websocket_does_not_hold_the_stop(
    isolated_environment: Path,
) -> None:
    assert await sigterm_with(isolated_environment, websocket)  # and the store was closed


async def test_a_handler_that_never_ends_does_not_hold_the_stop(
    isolated_environment: Path, each_server: str
) -> None:
    store_closed = await sigterm_with(isolated_environment, slow_request)
    # uvicorn cancels the handler, then runs the lifespan shutdown; Granian kills a worker
    # still busy at stop_timeout, so its lifespan shutdown never runs (docs/deployment.md)
    assert store_closed == (each_server == "uvicorn")
