"""gzip where it pays: large replies to clients that take it, never when turned off."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from porch import get, run
from porch.compression import COMPRESS_MIN_SIZE, accepts_gzip, small
from porch.context import Context


@get("/")
def home(ctx: Context) -> str:
    return "home"


@get("/big")
def big(ctx: Context) -> str:
    return "porch " * 500


def test_only_a_client_naming_gzip_gets_it() -> None:
    def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"type": "http", "headers": list(headers)}

    assert accepts_gzip(scope((b"accept-encoding", b"br, gzip;q=0.8")))
    assert not accepts_gzip(scope((b"accept-encoding", b"identity")))
    assert not accepts_gzip(scope((b"user-agent", b"gzip-lover/1.0")))  # another header


def test_a_reply_under_1_kib_is_small() -> None:
    assert small(Response(b"x" * (COMPRESS_MIN_SIZE - 1)))
    assert not small(Response(b"x" * COMPRESS_MIN_SIZE))


@pytest.mark.usefixtures("each_server")  # on both servers
async def test_large_responses_are_gzipped_when_the_client_accepts_it() -> None:
    async with run(big, home) as api:
        response = await api.get("/big", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.body.startswith("porch porch")  # httpx decoded it
        small = await api.get("/", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in small.headers
        plain = await api.get("/big", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers


@pytest.mark.usefixtures("each_server")
async def test_compress_false_turns_gzip_off() -> None:
    async with run(big, compress=False) as api:
        response = await api.get("/big", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in response.headers
        assert len(response.raw.content) == len("porch " * 500)
