"""``porch serve`` stops within ``stop_timeout`` on SIGTERM, whatever its clients left open.

A graceful stop waits for the requests in flight; one that never ends must not
hold the worker for ever. The test starts the real command, leaves a request
in a handler that never returns, sends SIGTERM, and checks that the process
exits and, where the server lets porch's lifespan shutdown run, that the store
was closed. (An open WebSocket, Socket.IO's included, never held the stop:
both servers close it at once. A pending Socket.IO long-poll is answered
within Engine.IO's 25 s ping interval.)
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
from porch import get, server
from porch.session.stores import MemoryStore

class MarkedStore(MemoryStore):
    async def close(self):
        await super().close()
        Path('store-closed').write_text('closed')

@get('/slow')
async def slow(ctx):
    Path('arrived').write_text('arrived')
    await asyncio.sleep(3600)

app = server(slow, session={'store': MarkedStore()})
"""


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


async def test_a_handler_that_never_ends_does_not_hold_the_stop(
    isolated_environment: Path, each_server: str
) -> None:
    store_closed = await sigterm_with(isolated_environment, slow_request)
    # uvicorn cancels the handler, then runs the lifespan shutdown; Granian kills a worker
    # still busy at stop_timeout, so its lifespan shutdown never runs (docs/deployment.md)
    assert store_closed == (each_server == "uvicorn")
