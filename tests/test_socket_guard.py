"""Socket.IO's requests pass the Host allow-list and header limit that HTTP requests pass.

A page served from a name that an attacker rebinds to this server's address
(DNS rebinding) is same-origin to itself, so python-socketio's origin check lets
its handshake in; only the Host allow-list (``security.hosts``) stops it. These
tests send the raw requests a browser would, over the real server on each
server: the long-polling handshake (plain HTTP) and the WebSocket upgrade.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import socketio

from porch import run, socket
from porch.socket import SocketContext

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

ALLOWED = "app.example"
POLLING = "/socket.io/?EIO=4&transport=polling"
WEBSOCKET = "/socket.io/?EIO=4&transport=websocket"


@socket("ping")
def ping(ctx: SocketContext) -> str:
    return "pong"


async def upgrade_status(url: str, headers: dict[str, str]) -> int:
    """Send a WebSocket upgrade exactly as written (its Host included); the reply's status."""
    address = urlsplit(url)
    assert address.hostname is not None and address.port is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        head = f"GET {WEBSOCKET} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        writer.write((head + "\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(status_line.split()[1])


async def polling(url: str, headers: dict[str, str]) -> httpx.Response:
    """The long-polling handshake, with these headers (``Host`` as given, not the URL's)."""
    async with httpx.AsyncClient() as client:
        return await client.get(url + POLLING, headers=headers)


def upgrade(host: str) -> dict[str, str]:
    return {
        "Host": host,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }


async def test_a_polling_handshake_for_a_host_not_allowed_is_a_400(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with run(ping, security={"hosts": [ALLOWED]}) as api:
        with caplog.at_level(logging.INFO, logger="porch"):
            refused = await polling(api.url, {"Host": "rebound.example"})
        assert refused.status_code == 400
        assert "security.hosts" in refused.text
        assert "Socket.IO request refused: 400" in caplog.text
        allowed = await polling(api.url, {"Host": ALLOWED})
        assert allowed.status_code == 200
        assert allowed.text.startswith("0{") and '"sid"' in allowed.text  # Engine.IO's open


async def test_a_websocket_upgrade_for_a_host_not_allowed_is_refused() -> None:
    async with run(ping, security={"hosts": [ALLOWED]}) as api:
        assert await upgrade_status(api.url, upgrade("rebound.example")) == 403
        assert await upgrade_status(api.url, upgrade(ALLOWED)) == 101


async def test_socket_io_requests_obey_the_header_limit() -> None:
    async with run(ping, security={"header_limit": 4096}) as api:
        host = urlsplit(api.url).netloc
        refused = await polling(api.url, {"X-Padding": "x" * 5000})
        assert refused.status_code == 431
        assert "security.header_limit" in refused.text
        padded = {**upgrade(host), "X-Padding": "x" * 5000}
        assert await upgrade_status(api.url, padded) == 403  # a refused upgrade is a 403
        assert (await polling(api.url, {})).status_code == 200


async def test_a_client_on_an_allowed_host_still_connects_and_gets_its_answer() -> None:
    async with run(ping, security={"hosts": ["127.0.0.1"]}) as api:
        client = socketio.AsyncClient()
        answers: list[Any] = []
        try:
            await client.connect(api.url, transports=["polling", "websocket"], wait_timeout=10)
            answers.append(await client.call("ping", timeout=10))
        finally:
            await client.disconnect()
            await client.shutdown()
        assert answers == ["pong"]
