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


# A client's close frame: FIN + close opcode, masked, no payload, a zero mask key.
# Leaving an upgraded WebSocket without one, on Granian's embedded server, left
# Socket.IO's tasks waiting on Granian futures that never resolve after it stopped,
# and the test's event loop then hung at close cancelling them.
CLOSE_FRAME = bytes([0x88, 0x80, 0, 0, 0, 0])


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
        status = int(status_line.split()[1])
        if status == 101:  # close the WebSocket as a browser does, and wait for the server's close
            writer.write(CLOSE_FRAME)
            await writer.drain()
            while await asyncio.wait_for(reader.read(65536), 10):
                pass
    finally:
        writer.close()
    return status


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


async def test_behind_a_trusted_proxy_the_forwarded_host_is_the_one_checked() -> None:
    """As for HTTP requests: a trusted proxy's X-Forwarded-Host names the host (its own
    Host header is the backend's address); from an untrusted client it counts for nothing."""
    async with run(ping, security={"hosts": [ALLOWED]}, trust_proxy=["127.0.0.1"]) as api:
        backend = urlsplit(api.url).netloc
        forwarded = await polling(api.url, {"Host": backend, "X-Forwarded-Host": ALLOWED})
        assert forwarded.status_code == 200
        rebound = await polling(api.url, {"Host": ALLOWED, "X-Forwarded-Host": "rebound.example"})
        assert rebound.status_code == 400
        proxied = {**upgrade(backend), "X-Forwarded-Host": ALLOWED}
        assert await upgrade_status(api.url, proxied) == 101


async def test_the_origin_check_reads_forwarded_headers_only_from_trusted_proxies() -> None:
    """python-socketio's same-origin check also allowed scheme://X-Forwarded-Host, from any
    client and from the client's end of the list: a client named the origin it was allowed."""
    async with run(ping) as api:
        host = urlsplit(api.url).netloc
        claims = {"X-Forwarded-Host": "evil.example", "Origin": "http://evil.example"}
        assert await upgrade_status(api.url, {**upgrade(host), **claims}) == 403
        assert (await polling(api.url, claims)).status_code == 400
        https = {"X-Forwarded-Proto": "https", "Origin": f"https://{host}"}
        assert await upgrade_status(api.url, {**upgrade(host), **https}) == 403
        assert await upgrade_status(api.url, {**upgrade(host), "Origin": f"http://{host}"}) == 101
    async with run(ping, trust_proxy=1) as api:
        backend = urlsplit(api.url).netloc
        # the proxy appended its entries; the client wrote the first ones
        proxied = {
            "X-Forwarded-Host": f"evil.example, {ALLOWED}",
            "X-Forwarded-Proto": "http, https",
        }
        forged = {**upgrade(backend), **proxied, "Origin": "http://evil.example"}
        assert await upgrade_status(api.url, forged) == 403
        assert (
            await polling(api.url, {**proxied, "Origin": "http://evil.example"})
        ).status_code == 400
        real = {**upgrade(backend), **proxied, "Origin": f"https://{ALLOWED}"}
        assert await upgrade_status(api.url, real) == 101


async def test_only_socket_io_paths_skip_the_pipeline_and_every_one_is_checked() -> None:
    """Spellings near /socket.io/ (no slash, percent-encoded, another case) are not
    Socket.IO's: they reach porch's own pipeline, which refuses the Host there."""
    async with run(ping, security={"hosts": [ALLOWED]}) as api, httpx.AsyncClient() as client:
        for path in (
            "/socket.io",
            "/%73ocket.io/",
            "/SOCKET.IO/",
            "/socket.io%2F",
            "//socket.io/",
        ):
            for method in ("GET", "HEAD", "OPTIONS", "POST"):
                answer = await client.request(
                    method,
                    api.url + path + "?EIO=4&transport=polling",
                    headers={"Host": "rebound.example"},
                )
                assert answer.status_code == 400, (method, path)
