"""The app as a whole: lifespan, static files, HEAD, ASGI under any server (gzip:
tests/test_compression.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from porch import ConfigError, get, run, server
from porch.context import Context
from porch.session.stores import MemoryStore

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers


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


# --- static files: ranges, conditional requests, no session store ---


class CountingStore(MemoryStore):
    """The memory store, counting how often the app reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def load(self, key: str) -> dict[str, Any] | None:
        self.calls += 1
        return await super().load(key)

    async def touch(self, key: str, ttl: int) -> None:
        self.calls += 1
        await super().touch(key, ttl)


def write_public_file(folder: Path, name: str, content: bytes) -> bytes:
    (folder / "public").mkdir(exist_ok=True)
    (folder / "public" / name).write_bytes(content)
    return content


async def test_a_range_request_gets_206_with_only_those_bytes(isolated_environment: Path) -> None:
    content = write_public_file(isolated_environment, "movie.txt", bytes(range(48, 58)) * 200)
    async with run(home) as api:
        whole = await api.get("/movie.txt")
        assert whole.headers["accept-ranges"] == "bytes"
        part = await api.get("/movie.txt", headers={"range": "bytes=2-5"})
        assert part.status == 206
        assert part.headers["content-range"] == f"bytes 2-5/{len(content)}"
        assert part.raw.content == content[2:6]
        tail = await api.get("/movie.txt", headers={"range": "bytes=-3"})
        assert (tail.status, tail.raw.content) == (206, content[-3:])


async def test_a_range_of_a_large_file_is_not_gzipped(isolated_environment: Path) -> None:
    content = write_public_file(isolated_environment, "big.txt", b"porch " * 1000)
    async with run(home) as api:
        headers = {"range": "bytes=0-2047", "accept-encoding": "gzip"}
        part = await api.get("/big.txt", headers=headers)
        assert part.status == 206
        assert "content-encoding" not in part.headers
        assert part.raw.content == content[:2048]


async def test_if_range_with_a_stale_etag_gets_the_whole_file(isolated_environment: Path) -> None:
    content = write_public_file(isolated_environment, "a.txt", b"0123456789")
    async with run(home) as api:
        stale = await api.get("/a.txt", headers={"range": "bytes=0-1", "if-range": '"old"'})
        assert (stale.status, stale.raw.content) == (200, content)
        etag = stale.headers["etag"]
        fresh = await api.get("/a.txt", headers={"range": "bytes=0-1", "if-range": etag})
        assert (fresh.status, fresh.raw.content) == (206, b"01")


async def test_an_unsatisfiable_range_is_416_naming_the_size(isolated_environment: Path) -> None:
    write_public_file(isolated_environment, "a.txt", b"0123456789")
    async with run(home) as api:
        response = await api.get("/a.txt", headers={"range": "bytes=50-60"})
        assert response.status == 416
        assert response.headers["content-range"] == "bytes */10"


async def test_if_modified_since_answers_304_until_the_file_changes(
    isolated_environment: Path,
) -> None:
    write_public_file(isolated_environment, "a.txt", b"first")
    async with run(home) as api:
        first = await api.get("/a.txt")
        since = {"if-modified-since": first.headers["last-modified"]}
        unchanged = await api.get("/a.txt", headers=since)
        assert (unchanged.status, unchanged.raw.content) == (304, b"")
        older = {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        assert (await api.get("/a.txt", headers=older)).raw.content == b"first"


async def test_a_static_request_makes_no_session_store_round_trip(
    isolated_environment: Path,
) -> None:
    write_public_file(isolated_environment, "app.css", b"body { color: teal }")
    store = CountingStore()

    @get("/visit")
    def visit(ctx: Context) -> dict[str, int]:
        ctx.session["visits"] = ctx.session.get("visits", 0) + 1
        return {"visits": ctx.session["visits"]}

    async with run(visit, session={"store": store}) as api:
        assert (await api.get("/visit")).body == {"visits": 1}
        assert "session" in dict(api.cookies)  # the browser now sends its session cookie
        before = store.calls
        for _ in range(3):
            assert (await api.get("/app.css")).body == "body { color: teal }"
        assert store.calls == before
        assert (await api.get("/visit")).body == {"visits": 2}
        assert store.calls > before  # the counter above is live: a route does reach the store


# --- favicon ---

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_the_favicon_option_serves_the_file_with_caching_headers(
    isolated_environment: Path,
) -> None:
    write_public_file(isolated_environment, "logo.png", PNG)
    store = CountingStore()
    async with run(home, favicon="public/logo.png", session={"store": store}) as api:
        icon = await api.get("/favicon.ico")
        assert icon.status == 200
        assert icon.raw.content == PNG
        assert icon.headers["content-type"] == "image/png"
        assert icon.headers["cache-control"] == "public, max-age=86400"
        assert "set-cookie" not in icon.headers
        again = await api.get("/favicon.ico", headers={"if-none-match": icon.headers["etag"]})
        assert again.status == 304
        assert again.headers["cache-control"] == "public, max-age=86400"
        assert (await api.head("/favicon.ico")).headers["etag"] == icon.headers["etag"]
        assert store.calls == 0


async def test_the_favicon_comes_from_the_FAVICON_variable(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_environment / "icons").mkdir()
    (isolated_environment / "icons" / "site.ico").write_bytes(b"\x00\x00\x01\x00icon")
    monkeypatch.setenv("FAVICON", "icons/site.ico")
    async with run(home) as api:
        icon = await api.get("/favicon.ico")
        assert (icon.status, icon.raw.content) == (200, b"\x00\x00\x01\x00icon")
        assert "max-age=86400" in icon.headers["cache-control"]


async def test_without_the_favicon_option_favicon_ico_is_an_ordinary_path() -> None:
    async with run(home) as api:
        assert (await api.get("/favicon.ico")).status == 404


def test_a_missing_favicon_fails_at_start_up_naming_the_option(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ConfigError, match=r"option 'favicon' is 'public/nope.png', but there is no"
    ):
        server(favicon="public/nope.png")
    monkeypatch.setenv("FAVICON", "logo.png")
    with pytest.raises(ConfigError, match=r"FAVICON \(environment, for option 'favicon'\)"):
        server()


async def test_start_up_objects_are_frozen_out_of_the_cyclic_gc_once_per_process() -> None:
    """Full collections under load walked every start-up object (a ~10 ms stall, porch's
    p99); after start-up they are frozen, and a second app in the process adds nothing."""
    import gc

    async with run(get("/", lambda ctx: "up")) as api:
        assert (await api.get("/")).body == "up"
        frozen = gc.get_freeze_count()
    assert frozen > 1000  # modules, classes, the app: everything alive at start-up
    async with run(get("/", lambda ctx: "again")) as api:
        assert (await api.get("/")).body == "again"
        assert gc.get_freeze_count() == frozen
