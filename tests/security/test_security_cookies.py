"""The session cookie and proxies: Secure over HTTPS, the __Host- prefix, trusted hops only."""

from __future__ import annotations

from typing import Any

import pytest

from porch import ConfigError, get, run, server
from porch.context import Context
from porch.option_types import CookieSettings

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "s" * 40
HTTPS = {"x-forwarded-proto": "https"}


@get("/login")
def login(ctx: Context) -> str:
    ctx.session["user"] = "ada"
    return "in"


@get("/whoami")
def whoami(ctx: Context) -> dict[str, Any]:
    return {"user": ctx.session.get("user"), "ip": ctx.ip, "secure": ctx.secure}


def attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


async def test_the_cookie_is_secure_when_the_request_came_over_https_via_a_trusted_proxy() -> None:
    async with run(login, trust_proxy=True) as api:
        over_https = await api.get("/login", headers=HTTPS)
        assert "secure" in attributes(over_https.headers["set-cookie"])
    async with run(login, trust_proxy=True) as api:
        plain = await api.get("/login")
        assert "secure" not in attributes(plain.headers["set-cookie"])  # development, plain HTTP


async def test_an_untrusted_x_forwarded_proto_does_not_count_as_https() -> None:
    async with run(login) as api:  # trust_proxy off: the header is the client's word
        response = await api.get("/login", headers=HTTPS)
        assert "secure" not in attributes(response.headers["set-cookie"])
    async with run(login, trust_proxy=["10.0.0.1"]) as api:  # our peer is not that proxy
        response = await api.get("/login", headers=HTTPS)
        assert "secure" not in attributes(response.headers["set-cookie"])


async def test_the_cookie_is_always_secure_in_production() -> None:
    async with run(login, env="production", secret=SECRET) as api:
        response = await api.get("/login")
        assert {"secure", "httponly", "samesite", "path"} <= attributes(
            response.headers["set-cookie"]
        )


async def test_the_expiring_cookie_of_a_logout_is_secure_over_https_too() -> None:
    @get("/logout")
    def logout(ctx: Context) -> str:
        ctx.session.destroy()
        return "out"

    async with run(login, logout, trust_proxy=True) as api:
        await api.get("/login", headers=HTTPS)
        response = await api.get("/logout", headers=HTTPS)
        assert "max-age" in attributes(response.headers["set-cookie"])
        assert "secure" in attributes(response.headers["set-cookie"])


async def test_the_default_cookie_name_is_session_and_host_prefix_is_opt_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with run(login) as api:
        assert list((await api.get("/login")).cookies) == ["session"]
    async with run(login, whoami, session={"cookie": {"host_prefix": True}}) as api:
        response = await api.get("/login")
        assert list(response.cookies) == ["__Host-session"]
        set_cookie = response.headers["set-cookie"]
        assert "secure" in attributes(set_cookie) and "Path=/" in set_cookie
        assert "domain" not in attributes(set_cookie)
        assert (await api.get("/whoami")).body["user"] == "ada"
    monkeypatch.setenv("SESSION_COOKIE_HOST_PREFIX", "true")
    async with run(login) as api:
        assert list((await api.get("/login")).cookies) == ["__Host-session"]


@pytest.mark.parametrize(
    "cookie",
    [{"host_prefix": True, "domain": "example.com"}, {"host_prefix": True, "path": "/app"},
     {"host_prefix": True, "secure": False}],
)  # fmt: skip
def test_host_prefix_with_a_domain_a_path_or_no_secure_fails_at_start_up(
    cookie: CookieSettings,
) -> None:
    with pytest.raises(ConfigError, match="host_prefix"):
        server(login, session={"cookie": cookie})


async def test_a_plain_session_cookie_is_ignored_when_the_host_prefix_is_on() -> None:
    """A cookie a sibling subdomain planted (no prefix) cannot fixate the session."""
    async with run(login, whoami, session={"cookie": {"host_prefix": True}}) as api:
        await api.get("/login")
        planted = {"cookie": "session=" + api.cookies["__Host-session"]}
        assert (await api.get("/whoami", headers=planted)).body["user"] is None


# --- trust_proxy: hop counts and address lists; untrusted X-Forwarded-* ignored ---


async def test_trust_proxy_hop_count_takes_that_many_hops_from_the_right() -> None:
    chain = {"x-forwarded-for": "203.0.113.9, 198.51.100.2, 10.0.0.7"}
    far = "203.0.113.9"
    expected = {0: "127.0.0.1", 1: "10.0.0.7", 2: "198.51.100.2", 3: far, 9: far}
    for hops, address in expected.items():
        async with run(whoami, trust_proxy=hops) as api:
            assert (await api.get("/whoami", headers=chain)).body["ip"] == address, hops


async def test_trust_proxy_list_stops_at_the_first_address_not_listed() -> None:
    chain = {"x-forwarded-for": "203.0.113.9, 6.6.6.6, 10.0.0.7"}
    async with run(whoami, trust_proxy=["127.0.0.1", "10.0.0.0/8"]) as api:
        assert (await api.get("/whoami", headers=chain)).body["ip"] == "6.6.6.6"
    async with run(whoami, trust_proxy="127.0.0.1,10.0.0.0/8,6.6.6.6") as api:
        assert (await api.get("/whoami", headers=chain)).body["ip"] == "203.0.113.9"


async def test_x_forwarded_for_sent_as_several_lines_is_read_as_one_list() -> None:
    # A proxy may add its hop as a line of its own (HAProxy's option forwardfor), after the
    # line the client forged: the proxy's line is the nearer hop, never the client's first.
    lines = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]
    async with run(whoami, trust_proxy=1) as api:
        assert (await api.get("/whoami", headers=lines)).body["ip"] == "203.0.113.9"
    lines = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9, 10.0.0.7")]
    async with run(whoami, trust_proxy=["127.0.0.1", "10.0.0.0/8"]) as api:
        assert (await api.get("/whoami", headers=lines)).body["ip"] == "203.0.113.9"
        # two trusted proxies (127.0.0.1, and 10.0.0.7 on the second line): the farther one
        # wrote the first X-Forwarded-Proto entry, the one that says how the client came
        proto = [*lines, ("x-forwarded-proto", "https, http")]
        assert (await api.get("/whoami", headers=proto)).body["secure"] is True


async def test_ctx_ip_is_an_address_never_text_the_client_chose() -> None:
    async with run(whoami, trust_proxy=True) as api:  # every hop: the left end is the client's
        for sent in ("<script>alert(1)</script>", "' OR 1=1 --", "x" * 5000, "unknown"):
            chain = {"x-forwarded-for": f"{sent}, 203.0.113.9"}
            assert (await api.get("/whoami", headers=chain)).body["ip"] == "203.0.113.9", sent
    async with run(whoami, trust_proxy=1) as api:
        ported = {"x-forwarded-for": "[2001:db8::1]:443"}  # a proxy that adds the port
        assert (await api.get("/whoami", headers=ported)).body["ip"] == "2001:db8::1"


async def test_forwarded_headers_are_ignored_without_trust_proxy() -> None:
    spoofed = {"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https"}
    async with run(whoami) as api:
        assert (await api.get("/whoami", headers=spoofed)).body == {
            "user": None,
            "ip": "127.0.0.1",
            "secure": False,
        }
