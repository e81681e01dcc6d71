"""The context ``ctx``: what a handler can read about the request, through the real server."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.datastructures import UploadFile
from starlette.requests import Request

from porch import get, post, put, run, server
from porch.context import Context
from porch.option_types import SecuritySettings

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

NO_CSRF: SecuritySettings = {"csrf": False}
FORWARDED = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}


def echo_data(ctx: Context) -> Any:
    return {"data": ctx.data}


async def chunks(size: int, count: int) -> AsyncIterator[bytes]:
    """A streamed body without Content-Length (sent chunked)."""
    for _ in range(count):
        yield b"x" * size


# --- the request line ---


async def test_params_hold_the_path_parameters() -> None:
    async with run(get("/shops/:shop/items/{item}", lambda ctx: ctx.params)) as api:
        response = await api.get("/shops/north/items/42")
    assert response.body == {"shop": "north", "item": "42"}


async def test_params_are_empty_for_a_plain_path_and_before_the_route_matches() -> None:
    before: list[dict[str, str]] = []

    def middleware(ctx: Context) -> None:
        before.append(dict(ctx.params))

    routes = [
        middleware,
        get("/plain", lambda ctx: {"params": ctx.params}),
        get("/users/:id", lambda ctx: {"params": ctx.params}),
    ]
    async with run(routes) as api:
        plain = await api.get("/plain")
        user = await api.get("/users/5")
    assert plain.body == {"params": {}}
    assert user.body == {"params": {"id": "5"}}
    assert before == [{}, {}]


async def test_query_is_a_dict_of_the_query_string() -> None:
    async with run(get("/search", lambda ctx: {"query": ctx.query})) as api:
        found = await api.get("/search?q=cats&page=2")
        empty = await api.get("/search")
    assert found.body == {"query": {"q": "cats", "page": "2"}}
    assert empty.body == {"query": {}}


async def test_query_maps_a_repeated_key_to_a_list_and_keeps_blank_values() -> None:
    async with run(get("/search", lambda ctx: ctx.query)) as api:
        response = await api.get("/search?tag=a&tag=b&tag=c&empty=&q=caf%C3%A9+au+lait")
    assert response.body == {"tag": ["a", "b", "c"], "empty": "", "q": "café au lait"}


async def test_method_and_path_are_the_request_line() -> None:
    async with run(
        get("/a/:b", lambda ctx: [ctx.method, ctx.path]),
        put("/a/:b", lambda ctx: [ctx.method, ctx.path]),
        security=NO_CSRF,
    ) as api:
        read = await api.get("/a/b?x=1")
        write = await api.put("/a/c")
    assert read.body == ["GET", "/a/b"]
    assert write.body == ["PUT", "/a/c"]


async def test_url_is_the_path_plus_the_query_string() -> None:
    routes = [get("/cats", lambda ctx: ctx.url), get("/tags/:tag", lambda ctx: [ctx.url, ctx.path])]
    async with run(routes) as api:
        with_query = await api.get("/cats/?type=cute")
        without = await api.get("/cats")
        encoded = await api.get("/tags/a%20b?x=%2F")
    assert with_query.body == "/cats/?type=cute"
    assert without.body == "/cats"
    assert encoded.body == ["/tags/a%20b?x=%2F", "/tags/a b"]


# --- headers and cookies ---


async def test_headers_are_case_insensitive() -> None:
    def read(ctx: Context) -> Any:
        return [ctx.headers["x-custom"], ctx.headers["X-CUSTOM"], ctx.headers.get("X-Missing")]

    async with run(get("/", read)) as api:
        response = await api.get("/", headers={"X-Custom": "value"})
    assert response.body == ["value", "value", None]


async def test_cookies_are_read_and_percent_decoded() -> None:
    async with run(get("/", lambda ctx: {"cookies": ctx.cookies})) as api:
        sent = await api.get("/", headers={"Cookie": "theme=dark; name=Ana%20Mar%C3%ADa"})
        none = await api.get("/")
    assert sent.body == {"cookies": {"theme": "dark", "name": "Ana María"}}
    assert none.body == {"cookies": {}}


# --- the body ---


async def test_data_is_the_parsed_json_body() -> None:
    async with run(post("/", echo_data), security=NO_CSRF) as api:
        plain = await api.post("/", json={"name": "ana", "tags": [1, 2], "ok": True})
        suffixed = await api.post(
            "/", content=b'{"a": 1}', headers={"Content-Type": "application/merge-patch+json"}
        )
    assert plain.body == {"data": {"name": "ana", "tags": [1, 2], "ok": True}}
    assert suffixed.body == {"data": {"a": 1}}


async def test_data_is_a_dict_for_an_urlencoded_form_with_repeated_fields_as_a_list() -> None:
    async with run(post("/", echo_data), security=NO_CSRF) as api:
        response = await api.post("/", data={"name": "ana", "tag": ["a", "b"], "blank": ""})
    assert response.body == {"data": {"name": "ana", "tag": ["a", "b"], "blank": ""}}


async def test_multipart_fields_are_in_data_and_files_are_uploads() -> None:
    def upload(ctx: Context) -> Any:
        avatar = ctx.files["avatar"]
        assert isinstance(avatar, UploadFile)
        return {
            "data": ctx.data,
            "filename": avatar.filename,
            "type": avatar.content_type,
            "content": avatar.file.read().decode(),
        }

    async with run(post("/upload", upload), security=NO_CSRF) as api:
        response = await api.post(
            "/upload",
            data={"title": "me", "tag": ["x", "y"]},
            files={"avatar": ("me.txt", b"pixels", "text/plain")},
        )
    assert response.status == 200
    assert response.body == {
        "data": {"title": "me", "tag": ["x", "y"]},
        "filename": "me.txt",
        "type": "text/plain",
        "content": "pixels",
    }


async def test_several_files_under_one_name_are_a_list() -> None:
    async def upload(ctx: Context) -> Any:
        files = ctx.files["photos"]
        return [[photo.filename, (await photo.read()).decode()] for photo in files]

    async with run(post("/upload", upload), security=NO_CSRF) as api:
        response = await api.post(
            "/upload",
            files=[
                ("photos", ("a.txt", b"first", "text/plain")),
                ("photos", ("b.txt", b"second", "text/plain")),
            ],
        )
    assert response.body == [["a.txt", "first"], ["b.txt", "second"]]


async def test_files_are_empty_without_a_multipart_body() -> None:
    async with run(post("/", lambda ctx: {"files": ctx.files}), security=NO_CSRF) as api:
        response = await api.post("/", json={"a": 1})
    assert response.body == {"files": {}}


async def test_data_is_the_text_of_a_text_body() -> None:
    async with run(post("/", echo_data), security=NO_CSRF) as api:
        response = await api.post(
            "/", content="héllo".encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
        )
    assert response.body == {"data": "héllo"}


async def test_data_is_none_without_a_body() -> None:
    routes = [get("/", echo_data), post("/", echo_data)]
    async with run(routes, security=NO_CSRF) as api:
        read = await api.get("/")
        empty_post = await api.post("/")
    assert read.body == {"data": None}
    assert empty_post.body == {"data": None}


async def test_a_malformed_body_is_a_400_that_says_why() -> None:
    async with run(post("/", echo_data), security=NO_CSRF) as api:
        bad_json = await api.post(
            "/", content=b'{"name": "ana",', headers={"Content-Type": "application/json"}
        )
        bad_form = await api.post(
            "/", content=b"not multipart at all", headers={"Content-Type": "multipart/form-data"}
        )
    assert bad_json.status == 400
    assert "The request body is not valid JSON" in bad_json.body
    assert bad_form.status == 400
    assert "The form body could not be parsed" in bad_form.body


async def test_a_body_over_body_limit_is_a_413() -> None:
    async with run(post("/", echo_data), security=NO_CSRF, body_limit=1024) as api:
        at_limit = await api.post("/", content=b"x" * 1024, headers={"Content-Type": "text/plain"})
        over = await api.post("/", content=b"x" * 1025, headers={"Content-Type": "text/plain"})
    assert at_limit.status == 200
    assert over.status == 413
    assert "body_limit" in over.body


async def test_a_streamed_body_over_body_limit_is_a_413() -> None:
    async with run(post("/", echo_data), security=NO_CSRF, body_limit="1kb") as api:
        response = await api.post(
            "/", content=chunks(400, 4), headers={"Content-Type": "text/plain"}
        )
        small = await api.post("/", content=chunks(100, 2), headers={"Content-Type": "text/plain"})
    assert response.status == 413
    assert small.status == 200
    assert small.body == {"data": "x" * 200}


async def test_a_form_over_body_limit_is_a_413() -> None:
    async with run(post("/", echo_data), security=NO_CSRF, body_limit=1024) as api:
        response = await api.post("/", files={"f": ("big.bin", b"x" * 4096)})
    assert response.status == 413


# --- the client ---


async def test_ip_is_the_direct_peer_and_ignores_x_forwarded_for_by_default() -> None:
    async with run(get("/", lambda ctx: {"ip": ctx.ip})) as api:
        plain = await api.get("/")
        forwarded = await api.get("/", headers=FORWARDED)
    assert plain.body == {"ip": "127.0.0.1"}
    assert forwarded.body == {"ip": "127.0.0.1"}


async def test_ip_comes_from_x_forwarded_for_when_every_proxy_is_trusted() -> None:
    async with run(get("/", lambda ctx: {"ip": ctx.ip}), trust_proxy=True) as api:
        forwarded = await api.get("/", headers=FORWARDED)
        plain = await api.get("/")
    assert forwarded.body == {"ip": "198.51.100.1"}
    assert plain.body == {"ip": "127.0.0.1"}


async def test_ip_trusts_as_many_hops_as_told() -> None:
    async with run(get("/", lambda ctx: {"ip": ctx.ip}), trust_proxy=1) as api:
        two_hops = await api.get("/", headers=FORWARDED)
        one_hop = await api.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert two_hops.body == {"ip": "203.0.113.9"}
    assert one_hop.body == {"ip": "203.0.113.9"}


async def test_ip_trusts_the_listed_proxies_only() -> None:
    async with run(get("/", lambda ctx: {"ip": ctx.ip}), trust_proxy=["127.0.0.1"]) as api:
        response = await api.get("/", headers=FORWARDED)
    assert response.body == {"ip": "203.0.113.9"}


async def test_ip_ignores_x_forwarded_for_from_a_proxy_not_listed() -> None:
    async with run(get("/", lambda ctx: {"ip": ctx.ip}), trust_proxy=["10.0.0.0/8"]) as api:
        response = await api.get("/", headers=FORWARDED)
    assert response.body == {"ip": "127.0.0.1"}


async def test_secure_is_false_over_plain_http() -> None:
    async with run(get("/", lambda ctx: {"secure": ctx.secure})) as api:
        plain = await api.get("/")
        spoofed = await api.get("/", headers={"X-Forwarded-Proto": "https"})
    assert plain.body == {"secure": False}
    assert spoofed.body == {"secure": False}


async def test_secure_follows_x_forwarded_proto_from_a_trusted_proxy() -> None:
    async with run(get("/", lambda ctx: {"secure": ctx.secure}), trust_proxy=True) as api:
        https = await api.get("/", headers={"X-Forwarded-Proto": "https"})
        http = await api.get("/", headers={"X-Forwarded-Proto": "http"})
    assert https.body == {"secure": True}
    assert http.body == {"secure": False}


async def test_secure_follows_x_forwarded_proto_from_a_listed_proxy_only() -> None:
    def secure(ctx: Context) -> Any:
        return {"secure": ctx.secure}

    headers = {"X-Forwarded-Proto": "https"}
    async with run(get("/", secure), trust_proxy=["127.0.0.1"]) as api:
        listed = await api.get("/", headers=headers)
    async with run(get("/", secure), trust_proxy=["10.0.0.1"]) as api:
        not_listed = await api.get("/", headers=headers)
    assert listed.body == {"secure": True}
    assert not_listed.body == {"secure": False}


# --- the app ---


async def test_options_are_readable_as_attributes_and_as_keys() -> None:
    def read(ctx: Context) -> Any:
        return {
            "port": ctx.options.port,
            "env": ctx.options["env"],
            "limit": ctx.options["body_limit"],
            "production": ctx.options.production,
        }

    async with run(get("/", read), port=8123, body_limit="2kb") as api:
        response = await api.get("/")
    assert response.body == {"port": 8123, "env": "test", "limit": 2048, "production": False}


async def test_options_are_read_only() -> None:
    def write(ctx: Context) -> Any:
        refused: list[str] = []
        try:
            ctx.options.port = 1  # type: ignore[misc]
        except dataclasses.FrozenInstanceError:
            refused.append("attribute")
        try:
            ctx.options["port"] = 1  # type: ignore[index]
        except TypeError:
            refused.append("key")
        return {"refused": refused, "port": ctx.options.port}

    async with run(get("/", write), port=8123) as api:
        response = await api.get("/")
    assert response.body == {"refused": ["attribute", "key"], "port": 8123}


async def test_store_is_the_apps_session_store() -> None:
    def store(ctx: Context) -> Any:
        return {"same": ctx.store is app.store, "kind": type(ctx.store).__name__}

    app = server(get("/", store), env="test")
    async with run(app) as api:
        response = await api.get("/")
    assert response.body == {"same": True, "kind": "MemoryStore"}
    assert app.store is not None


async def test_request_and_scope_stay_reachable() -> None:
    async def raw(ctx: Context) -> Any:
        assert isinstance(ctx.request, Request)
        return {
            "type": ctx.scope["type"],
            "scheme": ctx.scope["scheme"],
            "path": ctx.request.url.path,
            "agent": ctx.request.headers["user-agent"],
        }

    async with run(get("/raw", raw)) as api:
        response = await api.get("/raw", headers={"User-Agent": "tester"})
    assert response.body == {"type": "http", "scheme": "http", "path": "/raw", "agent": "tester"}


async def test_log_is_a_standard_logger() -> None:
    def logs(ctx: Context) -> Any:
        assert isinstance(ctx.log, logging.Logger)
        ctx.log.info("handled %s", ctx.path)
        return {"name": ctx.log.name}

    async with run(get("/", logs)) as api:
        response = await api.get("/")
    assert response.body == {"name": "porch.app"}


def test_the_context_works_with_the_sync_form_of_run() -> None:
    def read(ctx: Context) -> Any:
        return {"query": ctx.query, "data": ctx.data, "ip": ctx.ip, "url": ctx.url}

    with run(post("/echo", read), security=NO_CSRF) as api:
        response = api.post("/echo?x=1", json={"y": 2})
    assert response.body == {
        "query": {"x": "1"},
        "data": {"y": 2},
        "ip": "127.0.0.1",
        "url": "/echo?x=1",
    }


def test_a_malformed_json_body_is_a_400_in_the_sync_form() -> None:
    with run(post("/", echo_data), security=NO_CSRF) as api:
        response = api.post("/", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status == 400
