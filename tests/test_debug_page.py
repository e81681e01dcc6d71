"""The development error page over the real server: HTML, JSON or text; masked; escaped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from porch import get, post, run
from porch.context import Context
from porch.debug_page import preferred

SECRET = "app-secret-for-the-error-page-" + "q" * 20
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"accept": "application/json"}
PRODUCTION_SECRET = "production-secret-for-error-page-" + "z" * 20


class OrderMissing(Exception):
    pass


@get("/login")
def login(ctx: Context) -> str:
    ctx.session["user"] = "ada"
    ctx.session["api_token"] = "tok-session-value-123"
    ctx.session["cart"] = {"items": 3, "card_pin": "4321-pin"}
    return "in"


@get("/orders/:id")
def show_order(ctx: Context) -> str:
    orders: dict[str, str] = {}
    return orders[ctx.params["id"]]


@post("/orders")
def place_order(ctx: Context) -> str:
    raise OrderMissing(f"no order for {ctx.data['name']} (signed with {SECRET})")


@get("/chained")
def chained(ctx: Context) -> str:
    prices: dict[str, int] = {}
    try:
        return str(prices["tea"])
    except KeyError as exc:
        raise ValueError("the price is missing") from exc


@get("/hostile")
def hostile(ctx: Context) -> str:
    raise RuntimeError(ctx.query["q"])


def app(**options: Any) -> Any:
    options.setdefault("security", {"csrf": False})
    return run(login, show_order, place_order, chained, hostile, secret=SECRET, **options)


async def test_a_browser_gets_an_html_page_with_the_users_frame_first() -> None:
    async with app() as api:
        await api.get("/login")
        response = await api.get("/orders/42?sort=date", headers=HTML)
    assert response.status == 500
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.body
    assert "<h1>KeyError</h1>" in page
    assert "in <code>show_order</code>" in page and "test_debug_page.py</code>" in page
    your_code = page.split("Your code", 1)[1].split("Traceback", 1)[0]
    assert 'class="line here"' in your_code and "return orders[ctx.params[" in your_code
    assert page.index("Your code") < page.index("Traceback")
    assert '<details class="library">' in page  # porch's own frames, folded
    assert "/orders/42?sort=date" in page and "<th>id</th>" in page
    assert "<th>user</th><td><pre>ada</pre>" in page  # the session, shown


async def test_secrets_cookies_and_credentials_are_masked() -> None:
    async with app() as api:
        await api.get("/login")
        session_cookie = api.cookies["session"]
        api.cookies.set("theme", "dark-theme-cookie-value", domain="127.0.0.1")
        headers = {**HTML, "authorization": "Bearer bearer-token-value-xyz",
                   "x-api-key": "api-key-header-value"}  # fmt: skip
        form = {"name": "Grace", "password": "hunter2-password", "card": {"cvc_token": "999-cvc"}}
        page = (await api.post("/orders?access_token=query-token-value", headers=headers,
                               json=form)).body  # fmt: skip
        data = (await api.post("/orders", headers={**headers, **JSON}, json=form)).body
        fields = {"name": "Grace", "user_password": "form-password-value", "_csrf": "csrf-value-1"}
        posted = (await api.post("/orders", headers=HTML, data=fields)).body
    shown = page + str(data) + posted
    assert "Grace" in posted and "<th>name</th>" in posted
    for secret in (
        SECRET,
        session_cookie,
        "dark-theme-cookie-value",
        "bearer-token-value-xyz",
        "api-key-header-value",
        "hunter2-password",
        "999-cvc",
        "query-token-value",
        "tok-session-value-123",
        "4321-pin",
        "form-password-value",
        "csrf-value-1",
    ):
        assert secret not in shown, secret
    assert "********" in page
    assert "Grace" in page  # what is not secret stays readable
    assert "session=********; theme=********" in page  # which cookies came, not their values
    assert "no order for Grace (signed with ********)" in page


async def test_tokens_in_a_referer_and_long_messages_are_cut() -> None:
    referer = "http://127.0.0.1/reset?token=referer-token-value&page=2"
    async with app() as api:
        page = (await api.get("/hostile", params={"q": "x" * 50_000},
                              headers={**HTML, "referer": referer})).body  # fmt: skip
    assert "referer-token-value" not in page
    assert "/reset?token=********&amp;page=2" in page
    assert "more characters)" in page
    assert "x" * 10_001 not in page  # a 50,000-character value is cut, wherever it shows


async def test_everything_from_the_request_is_escaped() -> None:
    payload = "<script>window.pwned=1</script>"
    async with app() as api:
        response = await api.get(
            "/hostile",
            params={"q": payload, "<img src=x onerror=alert(1)>": "1"},
            headers={**HTML, "x-note": '"><svg onload=alert(2)>'},
        )
    page = response.body
    assert response.status == 500
    assert "<script>" not in page and "<img" not in page and "<svg" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    policy = response.headers["content-security-policy"]  # should escaping ever miss
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "&quot;&gt;&lt;svg onload=alert(2)&gt;" in page


async def test_a_client_that_asks_for_json_gets_json() -> None:
    async with app() as api:
        await api.get("/login")
        response = await api.get("/orders/7", headers=JSON)
    assert response.status == 500
    assert response.headers["content-type"] == "application/json"
    report = response.body
    assert (report["error"], report["message"]) == ("KeyError", "'7'")
    assert report["where"]["function"] == "show_order"
    assert report["where"]["file"].endswith("test_debug_page.py")
    frames = report["failures"][0]["frames"]
    assert [frame["function"] for frame in frames if frame["user"]] == ["show_order"]
    assert report["request"]["params"] == {"id": "7"}
    assert report["session"]["user"] == "ada"
    assert report["session"]["api_token"] == "********"
    assert report["session"]["cart"] == {"items": 3, "card_pin": "********"}


async def test_the_pages_own_policy_wins_over_the_csp_option() -> None:
    async with app(security={"csrf": False, "csp": True}) as api:
        page = await api.get("/orders/1", headers=HTML)
        ok = await api.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert ok.headers["content-security-policy"].startswith("default-src 'self'")


async def test_the_chain_of_exceptions_is_shown() -> None:
    async with app() as api:
        report = (await api.get("/chained", headers=JSON)).body
        page = (await api.get("/chained", headers=HTML)).body
    assert [failure["error"] for failure in report["failures"]] == ["ValueError", "KeyError"]
    assert report["failures"][1]["relation"] == "It was raised from:"
    assert "It was raised from:" in page


async def test_other_clients_keep_the_plain_text_traceback() -> None:
    async with app() as api:
        response = await api.get("/orders/1", headers={"accept": "*/*"})
    assert response.headers["content-type"].startswith("text/plain")
    assert "Traceback (most recent call last)" in response.body


async def test_without_sessions_the_page_says_so() -> None:
    async with run(show_order, session=False) as api:
        page = (await api.get("/orders/1", headers=HTML)).body
    assert "Not loaded: sessions are off" in page


@pytest.mark.parametrize("headers", [HTML, JSON, {}])
async def test_production_never_shows_it(
    headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="porch"):
        async with run(show_order, env="production", secret=PRODUCTION_SECRET) as api:
            response = await api.get("/orders/1", headers=headers)
    assert (response.status, response.body) == (500, "Internal Server Error")
    assert response.headers["content-type"].startswith("text/plain")
    assert "Traceback (most recent call last)" in caplog.text  # the log has it


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        ("text/html", "html"),
        ("application/json", "json"),
        ("application/json, text/html;q=0.5", "json"),
        ("text/html;q=0.4, application/json;q=0.9", "json"),
        ("text/html, application/json", "html"),
        ("application/json;q=0", "text"),
        ("*/*", "text"),
        ("", "text"),
        ("text/html;q=oops", "text"),
    ],
)
def test_the_form_follows_the_accept_header(accept: str, form: str) -> None:
    assert preferred(accept) == form
