"""A request sent byte for byte over a socket, for what a client library would tidy or refuse."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

TIMEOUT = 10.0


async def raw_status(url: str, request: bytes) -> int | None:
    """The status the server at ``url`` answers ``request`` with; None when it closed the
    connection without an answer (some servers refuse malformed bytes that way)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), timeout=TIMEOUT)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else None
