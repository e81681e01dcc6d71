"""The app as a whole: lifespan, static files, compression, HEAD, ASGI under any server."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx

from porch import get, run, server
from porch.context import Context
from porch.session.stores import MemoryStore


class LifespanStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def open(self) -> None:
        self.events.append("open")

    async def close(self) -> None:
        self.events.append("close")


@get("/")
def home(ctx: Context) -> str:
    return "home"


@get("/big")
def big(ctx: Context) -> str:
    return "porch " * 500


async def test_the_store_opens_and_closes_with_the_app() -> None:
    store = LifespanStore()
    async with run(home, session={"store": store}) as api:
        await api.get("/")
        assert store.events == ["open"]
    assert store.events == ["open", "close"]


async def test_app_is_a_plain_asgi_application_without_lifespan() -> None:
    store = LifespanStore()
    app = server(home, env="test", session={"store": store})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://porch.test") as client:
        response = await client.get("/")
    assert response.text == "home"
    assert store.events == ["open"]  # opened on the first request instead


async def test_public_files_are_served_at_the_root_before_routes(
    isolated_environment: Path,
) -> None:
    public = isolated_environment / "public"
    public.mkdir()
    (public / "app.css").write_text("body { color: teal }")
    (isolated_environment / "secret.txt").write_text("not for the web")

    @get("/app.css")
    def shadowed(ctx: Context) -> str:
        return "route"

    async with run(shadowed, home) as api:
        response = await api.get("/app.css")
        assert response.body == "body { color: teal }"
        assert response.headers["content-type"].startswith("text/css")
        etag = response.headers["etag"]
        assert "last-modified" in response.headers
        again = await api.get("/app.css", headers={"if-none-match": etag})
        assert again.status == 304
        assert "set-cookie" not in response.headers
        for escape in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
            assert "not for the web" not in (await api.get(escape)).text
        assert (await api.get("/")).body == "home"  # no file: the routes answer


async def test_public_false_turns_static_files_off(isolated_environment: Path) -> None:
    (isolated_environment / "public").mkdir()
    (isolated_environment / "public" / "a.txt").write_text("file")
    async with run(home, public=False) as api:
        assert (await api.get("/a.txt")).status == 404


async def test_large_responses_are_gzipped_when_the_client_accepts_it() -> None:
    async with run(big, home) as api:
        response = await api.get("/big", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.body.startswith("porch porch")  # httpx decoded it
        small = await api.get("/", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in small.headers
        plain = await api.get("/big", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers


async def test_compress_false_turns_gzip_off() -> None:
    async with run(big, compress=False) as api:
        response = await api.get("/big", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in response.headers
        assert len(response.raw.content) == len("porch " * 500)
        assert gzip.compress(b"x")  # the check above is about porch, not the library


async def test_head_has_get_headers_and_no_body() -> None:
    async with run(big, compress=False) as api:
        got = await api.get("/big")
        headed = await api.head("/big")
        assert headed.status == 200
        assert headed.raw.content == b""
        assert headed.headers["content-length"] == got.headers["content-length"]
        assert headed.headers["content-type"] == got.headers["content-type"]


async def test_nothing_replied_is_404() -> None:
    async with run(home) as api:
        response = await api.get("/nowhere")
        assert response.status == 404
        assert response.body == "Not Found"


async def test_no_server_banner_header() -> None:
    async with run(home) as api:
        assert "server" not in (await api.get("/")).headers


async def test_ctx_store_and_app_store_are_the_same_object() -> None:
    seen: dict[str, Any] = {}

    @get("/store")
    def store_page(ctx: Context) -> str:
        seen["store"] = ctx.store
        return "ok"

    app = server(store_page, env="test")
    async with run(app) as api:
        await api.get("/store")
    assert seen["store"] is app.store
    assert isinstance(app.store, MemoryStore)
