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


# --- HTTP/2 without TLS (Granian answers a client that opens with the preface) ---

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, CONTINUATION, SETTINGS = 1, 9, 4
END_STREAM, END_HEADERS = 0x1, 0x4
FRAME_BYTES = 16_384  # the smallest SETTINGS_MAX_FRAME_SIZE a peer must accept


def hpack_integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 5.1), its first byte's high bits set to ``first``."""
    most = (1 << prefix_bits) - 1
    if value < most:
        return bytes([first | value])
    encoded = [first | most]
    value -= most
    while value >= 128:
        encoded.append(value % 128 + 128)
        value //= 128
    return bytes([*encoded, value])


def hpack_field(name: str, value: str, *, indexed: bool = False) -> bytes:
    """A literal header field (RFC 7541 6.2), added to the dynamic table when ``indexed``."""
    head = hpack_integer(0, 6, 0x40) if indexed else hpack_integer(0, 4, 0x00)
    name_bytes, value_bytes = name.encode("latin-1"), value.encode("latin-1")
    return (
        head
        + hpack_integer(len(name_bytes), 7, 0)
        + name_bytes
        + hpack_integer(len(value_bytes), 7, 0)
        + value_bytes
    )


def h2_frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    """An HTTP/2 frame (RFC 9113 4.1): 24-bit length, type, flags, stream id, payload."""
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


def h2_request(stream: int, block: bytes) -> bytes:
    """A GET's header block on ``stream``: HEADERS, then CONTINUATION frames as it needs."""
    pieces = [block[start : start + FRAME_BYTES] for start in range(0, len(block), FRAME_BYTES)]
    frames = []
    for number, piece in enumerate(pieces):
        flags = END_HEADERS if number == len(pieces) - 1 else 0
        if number == 0:
            frames.append(h2_frame(HEADERS, flags | END_STREAM, stream, piece))
        else:
            frames.append(h2_frame(CONTINUATION, flags, stream, piece))
    return b"".join(frames)


Frame = tuple[int, int, int, bytes]  # kind, flags, stream, payload
DATA, RST_STREAM, GOAWAY = 0, 3, 7


async def h2_exchange(url: str, blocks: list[bytes]) -> list[Frame]:
    """Send each header block as a request (streams 1, 3, 5...); the frames the server sent
    until every stream ended (END_STREAM or RST_STREAM), a GOAWAY, or the connection closed."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    frames: list[Frame] = []
    open_streams = {2 * number + 1 for number in range(len(blocks))}
    try:
        writer.write(PREFACE + h2_frame(SETTINGS, 0, 0, b""))
        for number, block in enumerate(blocks):
            writer.write(h2_request(2 * number + 1, block))
        await writer.drain()
        while open_streams:
            head = await asyncio.wait_for(reader.readexactly(9), timeout=TIMEOUT)
            payload = await reader.readexactly(int.from_bytes(head[:3], "big"))
            kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            frames.append((kind, flags, stream, payload))
            if kind == GOAWAY:
                break
            if kind == RST_STREAM or (kind in (DATA, HEADERS) and flags & END_STREAM):
                open_streams.discard(stream)
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass  # the server closed the connection
    finally:
        writer.close()
    return frames


def h2_body(frames: list[Frame]) -> bytes:
    """The DATA the server sent, on every stream."""
    return b"".join(payload for kind, _, _, payload in frames if kind == DATA)
