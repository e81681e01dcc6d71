"""Routes, middleware chains and error handlers, driven through the real server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from porch import (
    ConfigError,
    delete,
    error,
    get,
    head,
    header,
    patch,
    post,
    put,
    run,
    server,
    status,
    sub,
)
from porch.context import Context
from porch.option_types import SecuritySettings

NO_CSRF: SecuritySettings = {"csrf": False}
PRODUCTION_SECRET = "a-production-secret-that-is-long-enough-0123456789"


class Banned(Exception):
    """A user's own exception, matched by ``error('user', fn)`` through its code."""

    code = "user.banned"


class Deleted(Exception):
    code = "user.deleted"


# --- defining routes ---


async def test_decorator_form_defines_a_route() -> None:
    @get("/hello")
    def hello(ctx: Context) -> str:
        return "hi"

    async with run(hello) as api:
        response = await api.get("/hello")
    assert response.status == 200
    assert response.body == "hi"


async def test_call_form_defines_a_route() -> None:
    async with run(get("/hello", lambda ctx: "Hello 世界")) as api:
        response = await api.get("/hello")
    assert response.status == 200
    assert response.body == "Hello 世界"


async def test_first_handler_that_returns_something_ends_the_chain() -> None:
    calls: list[str] = []

    def passes(ctx: Context) -> None:
        calls.append("passes")

    def answers(ctx: Context) -> str:
        calls.append("answers")
        return "answered"

    def never_runs(ctx: Context) -> str:
        calls.append("never")
        return "too late"

    async with run(get("/", passes, answers, never_runs)) as api:
        response = await api.get("/")
    assert response.body == "answered"
    assert calls == ["passes", "answers"]


async def test_a_guard_handler_can_refuse_before_the_route_handler_runs() -> None:
    def needs_user(ctx: Context) -> int | None:
        return None if ctx.headers.get("x-user") else 401

    def admin(ctx: Context) -> str:
        return "admin page"

    async with run(get("/admin", needs_user, admin)) as api:
        refused = await api.get("/admin")
        allowed = await api.get("/admin", headers={"X-User": "ana"})
    assert (refused.status, refused.body) == (401, "Unauthorized")
    assert (allowed.status, allowed.body) == (200, "admin page")


# --- paths and parameters ---


async def test_colon_and_brace_params_are_read_from_the_path() -> None:
    routes = [
        get("/users/:id/posts/:post", lambda ctx: ctx.params),
        get("/teams/{team}", lambda ctx: ctx.params),
    ]
    async with run(routes) as api:
        colon = await api.get("/users/42/posts/hello?ignored=true")
        brace = await api.get("/teams/north")
    assert colon.body == {"id": "42", "post": "hello"}
    assert brace.body == {"team": "north"}


async def test_a_route_does_not_match_a_longer_or_shorter_path() -> None:
    routes = [get("/users/:id", lambda ctx: ctx.params), get("/user", lambda ctx: "user")]
    async with run(routes) as api:
        assert (await api.get("/users/1/extra")).status == 404
        assert (await api.get("/users/")).status == 404
        assert (await api.get("/users")).status == 404
        assert (await api.get("/user/1")).status == 404
        assert (await api.get("/user")).body == "user"


async def test_a_param_is_percent_decoded() -> None:
    async with run(get("/tags/:name", lambda ctx: ctx.params)) as api:
        response = await api.get("/tags/caf%C3%A9%20au%20lait")
    assert response.body == {"name": "café au lait"}


async def test_a_star_matches_the_rest_of_the_path() -> None:
    routes = [get("/files/*", lambda ctx: ctx.params), get("*", lambda ctx: f"any {ctx.path}")]
    async with run(routes) as api:
        deep = await api.get("/files/docs/2024/report.txt")
        root = await api.get("/")
        other = await api.get("/a/b/c")
    assert deep.body == {"*": "docs/2024/report.txt"}
    assert root.body == "any /"
    assert other.body == "any /a/b/c"


async def test_a_trailing_slash_is_tolerated() -> None:
    routes = [
        get("/plain", lambda ctx: "plain"),
        get("/slashed/", lambda ctx: "slashed"),
        get("/users/:id", lambda ctx: ctx.params),
    ]
    async with run(routes) as api:
        assert (await api.get("/plain/")).body == "plain"
        assert (await api.get("/slashed")).body == "slashed"
        assert (await api.get("/slashed/")).body == "slashed"
        assert (await api.get("/users/7/")).body == {"id": "7"}


# --- methods ---


async def test_each_method_helper_answers_only_its_method() -> None:
    def name(ctx: Context) -> str:
        return f"{ctx.method} answered"

    routes = [
        get("/m", name),
        post("/m", name),
        put("/m", name),
        patch("/m", name),
        delete("/m", name),
        get("/read-only", name),
    ]
    async with run(routes, security=NO_CSRF) as api:
        assert (await api.get("/m")).body == "GET answered"
        assert (await api.post("/m")).body == "POST answered"
        assert (await api.put("/m")).body == "PUT answered"
        assert (await api.patch("/m")).body == "PATCH answered"
        assert (await api.delete("/m")).body == "DELETE answered"
        assert (await api.post("/read-only")).status == 404
        assert (await api.delete("/read-only")).status == 404


async def test_head_helper_answers_head_and_not_get() -> None:
    seen: list[str] = []

    def record(ctx: Context) -> str:
        seen.append(ctx.method)
        return "ignored body"

    async with run(head("/ping", record)) as api:
        answered = await api.head("/ping")
        not_get = await api.get("/ping")
    assert answered.status == 200
    assert answered.raw.content == b""
    assert not_get.status == 404
    assert seen == ["HEAD"]


async def test_a_get_route_answers_head_with_the_same_headers_and_no_body() -> None:
    def page(ctx: Context) -> Any:
        return header("X-Page", "home").send("<h1>Home</h1>")

    async with run(get("/", page)) as api:
        full = await api.get("/")
        headers_only = await api.head("/")
    assert headers_only.status == 200
    assert headers_only.raw.content == b""
    for name in ("content-type", "content-length", "x-page"):
        assert headers_only.headers[name] == full.headers[name]
    assert full.headers["content-length"] == str(len("<h1>Home</h1>"))


async def test_a_get_route_answers_head_with_the_same_headers_when_compressed() -> None:
    page = "<p>" + "porch " * 500 + "</p>"
    async with run(get("/", lambda ctx: page)) as api:
        full = await api.get("/", headers={"Accept-Encoding": "gzip"})
        headers_only = await api.head("/", headers={"Accept-Encoding": "gzip"})
    assert full.headers["content-encoding"] == "gzip"
    assert headers_only.raw.content == b""
    for name in ("content-type", "content-length", "content-encoding", "vary"):
        assert headers_only.headers.get(name) == full.headers.get(name), name


async def test_the_route_of_the_requested_method_and_path_answers() -> None:
    def wrong(ctx: Context) -> str:
        raise AssertionError(f"a route for another method or path ran for {ctx.path}")

    routes = [
        post("/", wrong),
        put("/", wrong),
        delete("/", wrong),
        get("/bla", wrong),
        get("/:id", wrong),
        get("/", lambda ctx: "root"),
    ]
    async with run(routes) as api:
        response = await api.get("/")
    assert (response.status, response.body) == (200, "root")


async def test_a_route_answers_the_same_on_every_request() -> None:
    async with run(get("/", lambda ctx: "Hello 世界", lambda ctx: "never")) as api:
        bodies = [(await api.get("/")).body for _ in range(3)]
    assert bodies == ["Hello 世界"] * 3


# --- middleware ---


async def test_plain_middleware_runs_before_routes_and_passes_with_none() -> None:
    calls: list[str] = []

    def sync_middleware(ctx: Context) -> None:
        calls.append(f"sync {ctx.path}")

    async def async_middleware(ctx: Context) -> None:
        calls.append(f"async {ctx.path}")

    async with run(sync_middleware, async_middleware, get("/", lambda ctx: "home")) as api:
        response = await api.get("/")
    assert response.body == "home"
    assert calls == ["sync /", "async /"]


async def test_sync_and_async_middleware_that_return_a_value_reply() -> None:
    def maintenance(ctx: Context) -> Any:
        return 503 if ctx.path == "/maintenance" else None

    async def blocks_bots(ctx: Context) -> Any:
        return 403 if "bot" in ctx.headers.get("user-agent", "") else None

    async with run(maintenance, blocks_bots, get("*", lambda ctx: "page")) as api:
        closed = await api.get("/maintenance")
        blocked = await api.get("/", headers={"User-Agent": "somebot/1.0"})
        allowed = await api.get("/", headers={"User-Agent": "Firefox"})
    assert (closed.status, closed.body) == (503, "Service Unavailable")
    assert (blocked.status, blocked.body) == (403, "Forbidden")
    assert (allowed.status, allowed.body) == (200, "page")


async def test_middleware_can_share_values_with_routes_through_the_context() -> None:
    async def load_user(ctx: Context) -> None:
        ctx.user = ctx.headers.get("x-user", "anonymous")  # type: ignore[attr-defined]

    def me(ctx: Context) -> dict[str, str]:
        return {"user": ctx.user}  # type: ignore[attr-defined]

    async with run(load_user, get("/me", me)) as api:
        response = await api.get("/me", headers={"X-User": "ana"})
    assert response.body == {"user": "ana"}


async def test_nested_lists_of_middleware_passed_to_server_run_in_order() -> None:
    calls: list[str] = []

    def first(ctx: Context) -> None:
        calls.append("first")

    def second(ctx: Context) -> None:
        calls.append("second")

    routes = [first, [second, [get("/a", lambda ctx: "a")], get("/b", lambda ctx: "b")]]
    async with run(server(routes, env="test")) as api:
        assert (await api.get("/a")).body == "a"
        assert (await api.get("/b")).body == "b"
    assert calls == ["first", "second", "first", "second"]


async def test_routes_are_final_only_the_first_matching_route_runs() -> None:
    calls: list[str] = []

    def first(ctx: Context) -> None:
        calls.append("first")

    def second(ctx: Context) -> str:
        calls.append("second")
        return "second"

    async with run(get("/same", first), get("/same", second)) as api:
        response = await api.get("/same")
    assert response.status == 404
    assert calls == ["first"]


async def test_middleware_after_a_passing_route_still_runs() -> None:
    def route(ctx: Context) -> None:
        return None

    def fallback(ctx: Context) -> str:
        return "fallback"

    async with run(get("/x", route), fallback) as api:
        response = await api.get("/x")
    assert response.body == "fallback"


async def test_nothing_replied_is_a_404_not_found() -> None:
    async with run(get("/", lambda ctx: "home")) as api:
        response = await api.get("/missing")
    assert response.status == 404
    assert response.body == "Not Found"


async def test_an_app_without_middleware_answers_404() -> None:
    async with run() as api:
        response = await api.get("/")
    assert response.status == 404


# --- errors ---


async def test_error_handler_catches_every_exception_with_ctx_error_set() -> None:
    def broken(ctx: Context) -> str:
        raise ValueError("disk full")

    def oops(ctx: Context) -> Any:
        assert ctx.error is not None
        return status(500).json({"caught": type(ctx.error).__name__, "message": str(ctx.error)})

    async with run(get("/", broken), error(oops)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert response.body == {"caught": "ValueError", "message": "disk full"}


async def test_named_error_handler_matches_by_code_prefix() -> None:
    def ban(ctx: Context) -> str:
        raise Banned("ana is banned")

    def gone(ctx: Context) -> str:
        raise Deleted("ana left")

    def user_trouble(ctx: Context) -> Any:
        return status(403).send(f"{ctx.error}")

    routes = [
        get("/ban", ban),
        get("/gone", gone),
        error("store", lambda ctx: "store handler"),
        error("user.deleted", lambda ctx: 410),
        error("user", user_trouble),
    ]
    async with run(routes) as api:
        banned = await api.get("/ban")
        deleted = await api.get("/gone")
    assert (banned.status, banned.body) == (403, "ana is banned")
    assert (deleted.status, deleted.body) == (410, "Gone")


async def test_named_error_handler_ignores_exceptions_without_a_code() -> None:
    def broken(ctx: Context) -> str:
        raise RuntimeError("no code here")

    async with run(get("/", broken), error("user", lambda ctx: "user handler")) as api:
        response = await api.get("/")
    assert response.status == 500
    assert "no code here" in response.body


async def test_error_decorator_form_with_a_code() -> None:
    @error("user")
    def user_errors(ctx: Context) -> str:
        return f"handled {type(ctx.error).__name__}"

    def ban(ctx: Context) -> str:
        raise Banned()

    async with run(get("/", ban), user_errors) as api:
        response = await api.get("/")
    assert response.body == "handled Banned"


async def test_error_handler_returning_none_leaves_the_default_500() -> None:
    seen: list[str] = []

    def broken(ctx: Context) -> str:
        raise KeyError("missing")

    def only_logs(ctx: Context) -> None:
        seen.append(repr(ctx.error))

    async with run(get("/", broken), error(only_logs)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert seen == ["KeyError('missing')"]


async def test_an_exception_in_middleware_reaches_the_error_handler() -> None:
    async def broken_middleware(ctx: Context) -> None:
        raise Banned("from middleware")

    async with run(broken_middleware, error("user", lambda ctx: str(ctx.error))) as api:
        response = await api.get("/anything")
    assert response.body == "from middleware"


async def test_unhandled_exception_is_a_500_with_the_traceback_outside_production() -> None:
    def broken(ctx: Context) -> str:
        raise ValueError("the database is on fire")

    async with run(get("/", broken)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.body.startswith("Internal Server Error")
    assert "Traceback (most recent call last)" in response.body
    assert "ValueError: the database is on fire" in response.body


async def test_unhandled_exception_hides_the_traceback_in_production() -> None:
    def broken(ctx: Context) -> str:
        raise ValueError("the database is on fire")

    async with run(get("/", broken), env="production", secret=PRODUCTION_SECRET) as api:
        response = await api.get("/")
    assert response.status == 500
    assert response.body == "Internal Server Error"
    assert "Traceback" not in response.body
    assert "on fire" not in response.body


def test_routes_work_with_the_sync_form_of_run() -> None:
    routes = [get("/users/:id", lambda ctx: ctx.params), error(lambda ctx: 418)]
    with run(routes) as api:
        found = api.get("/users/3")
        missing = api.get("/nope")
    assert found.body == {"id": "3"}
    assert missing.status == 404


def test_a_sync_error_handler_answers_in_the_sync_form() -> None:
    def ban(ctx: Context) -> str:
        raise Banned()

    with run(get("/", ban), error("user", lambda ctx: 403)) as api:
        response = api.get("/")
    assert (response.status, response.body) == (403, "Forbidden")


# --- subdomains: sub('name', ...) ---


def on_host(host: str) -> dict[str, dict[str, str]]:
    """httpx keyword arguments that send this Host header to the loopback server."""
    return {"headers": {"host": host}}


async def test_sub_routes_answer_only_on_their_subdomain() -> None:
    app = [
        sub("api", get("/", lambda ctx: {"site": "api"})),
        get("/", lambda ctx: "home"),
    ]
    async with run(app) as api:
        assert (await api.get("/", **on_host("api.example.com"))).body == {"site": "api"}
        assert (await api.get("/", **on_host("api.example.com:3000"))).body == {"site": "api"}
        assert (await api.get("/", **on_host("API.Example.com"))).body == {"site": "api"}
        assert (await api.get("/", **on_host("www.example.com"))).body == "home"
        assert (await api.get("/", **on_host("example.com"))).body == "home"
        assert (await api.get("/", **on_host("127.0.0.1"))).body == "home"
        assert (await api.get("/", **on_host("[::1]:3000"))).body == "home"


async def test_a_sub_route_that_does_not_match_leaves_later_routes_free_to_answer() -> None:
    app = [
        sub("api", get("/users/:id", lambda ctx: {"api": ctx.params["id"]})),
        get("/users/:id", lambda ctx: {"web": ctx.params["id"]}),
    ]
    async with run(app) as api:
        assert (await api.get("/users/7", **on_host("api.example.com"))).body == {"api": "7"}
        assert (await api.get("/users/7", **on_host("example.com"))).body == {"web": "7"}
        assert (await api.get("/nope", **on_host("api.example.com"))).status == 404


async def test_sub_middleware_runs_only_on_its_subdomain() -> None:
    def admins_only(ctx: Context) -> Any:
        return None if ctx.headers.get("x-admin") else status(403).send("admins only")

    app = [
        sub("admin", admins_only, get("/", lambda ctx: "dashboard")),
        get("/", lambda ctx: "home"),
    ]
    async with run(app) as api:
        refused = await api.get("/", **on_host("admin.example.com"))
        assert (refused.status, refused.body) == (403, "admins only")
        allowed = await api.get("/", headers={"host": "admin.example.com", "x-admin": "1"})
        assert allowed.body == "dashboard"
        assert (await api.get("/", **on_host("example.com"))).body == "home"


async def test_sub_reads_several_labels_and_regexes() -> None:
    app = [
        sub("eu.api", get("/", lambda ctx: "eu api")),
        sub(re.compile(r"[a-z]+-shop"), get("/", lambda ctx: "a shop")),
        sub("", get("/", lambda ctx: "bare domain")),
        get("/", lambda ctx: "other"),
    ]
    async with run(app) as api:
        assert (await api.get("/", **on_host("eu.api.example.com"))).body == "eu api"
        assert (await api.get("/", **on_host("api.example.com"))).body == "other"
        assert (await api.get("/", **on_host("tea-shop.example.com"))).body == "a shop"
        assert (await api.get("/", **on_host("tea.shop.example.com"))).body == "other"
        assert (await api.get("/", **on_host("example.com"))).body == "bare domain"


async def test_subdomains_of_localhost_work_in_development() -> None:
    async with run(sub("api", get("/", lambda ctx: "api")), get("/", lambda ctx: "home")) as api:
        assert (await api.get("/", **on_host("api.localhost:3000"))).body == "api"
        assert (await api.get("/", **on_host("localhost:3000"))).body == "home"


async def test_the_domain_option_names_the_base_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    app = [sub("api", get("/", lambda ctx: "api")), get("/", lambda ctx: "home")]
    async with run(app, domain="example.co.uk") as api:
        assert (await api.get("/", **on_host("api.example.co.uk"))).body == "api"
        assert (await api.get("/", **on_host("example.co.uk"))).body == "home"
        assert (await api.get("/", **on_host("api.other.com"))).body == "home"
    monkeypatch.setenv("DOMAIN", "shop.test")
    async with run(app) as api:
        assert (await api.get("/", **on_host("api.shop.test"))).body == "api"
        assert (await api.get("/", **on_host("api.example.com"))).body == "home"


def test_a_bad_domain_fails_at_start_up_naming_the_option() -> None:
    with pytest.raises(
        ConfigError, match=r"option 'domain' is 'https://example.com'; accepted: a domain"
    ):
        server(domain="https://example.com")


def test_sub_refuses_error_handlers_and_a_name_that_is_not_text() -> None:
    with pytest.raises(TypeError, match=r"pass error\(\.\.\.\) to server\(\)"):
        sub("api", error(lambda ctx: 500))
    with pytest.raises(TypeError, match="subdomain name such as 'api'"):
        sub(42, get("/", lambda ctx: "x"))  # type: ignore[arg-type]


async def test_a_decorator_with_middleware_runs_them_before_the_function() -> None:
    def signed_in(ctx: Context) -> Any:
        return None if ctx.query.get("user") else 401

    @get("/account", signed_in)
    def account(ctx: Context) -> str:
        return f"hello {ctx.query['user']}"

    async with run(account) as api:
        assert (await api.get("/account")).status == 401
        assert (await api.get("/account?user=ada")).body == "hello ada"
