"""The host a request names (Host, a trusted proxy's X-Forwarded-Host) and the proxies trusted.

Every Host is sent byte for byte over a raw socket, so no client library
tidies a hostile value before the server sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from porch import get, run, sub
from porch.context import Context
from porch.errors import ConfigError
from porch.option_schema import load_options

if TYPE_CHECKING:
    from tests.raw_http import raw_status
else:
    from raw_http import raw_status


@get("/")
def home(ctx: Context) -> str:
    return "home"


@get("/whoami")
def whoami(ctx: Context) -> dict[str, Any]:
    return {"ip": ctx.ip, "secure": ctx.secure}


async def status_for(url: str, headers: list[bytes]) -> int | None:
    """The status of ``GET /`` with exactly these header lines; None if the server refused it."""
    lines = [b"GET / HTTP/1.1", *headers, b"Connection: close"]
    return await raw_status(url, b"\r\n".join(lines) + b"\r\n\r\n")


def host(value: bytes) -> list[bytes]:
    return [b"Host: " + value]


# Each would reach an allow-list of example.com / .example.com if the host were cut or
# matched by its ending: a userinfo, a path, a second port, a port that is no number...
BYPASSES_OF_EXAMPLE_COM = [
    b"example.com:@evil.com",
    b"example.com:80@evil.com",
    b"evil.com@example.com",
    b"example.com:evil.com",
    b"example.com:80:80",
    b"example.com:",
    b"example.com:0",
    b"example.com:65536",
    b"example.com:99999999999999999999",
    b"example.com:+80",
    b"example.com:-80",
    b"example.com:8O",
    b"example.com/evil.com",
    b"example.com\\evil.com",
    b"example.com#@evil.com",
    b"example.com?.evil.com",
    b"example.com evil.com",
    b"example.com\tx",
    b"example.com..",
    b"example..com",
    b".example.com",
    b"example.com\xc2\xa0",
    b"ex\xc3\xa4mple.com",
    b"example.com%2f",
    b"[example.com]",
    b"example.com]",
]
BYPASSES_OF_DOT_EXAMPLE_COM = [
    b"evil.com/.example.com",
    b"evil.com\\.example.com",
    b"evil.com?.example.com",
    b"evil.com#.example.com",
    b"evil.com@.example.com",
    b"evil.com .example.com",
    b"evil.com:.example.com",
    b"evilexample.com",
    b"example.com.evil.com",
    b"a..example.com",
    b"-.example.com",
]


async def test_a_host_is_a_name_and_a_numeric_port_and_nothing_else() -> None:
    async with run(home, security={"hosts": ["example.com"]}) as api:
        for value in (b"example.com", b"EXAMPLE.com:8080", b"example.com.", b"example.com:1"):
            assert await status_for(api.url, host(value)) == 200, value
        for value in BYPASSES_OF_EXAMPLE_COM:
            assert await status_for(api.url, host(value)) in (400, None), value


async def test_a_dot_domain_pattern_matches_whole_labels_only() -> None:
    async with run(home, security={"hosts": [".example.com"]}) as api:
        for value in (b"example.com", b"a.example.com", b"A.B.Example.COM.:443", b"_x.example.com"):
            assert await status_for(api.url, host(value)) == 200, value
        for value in BYPASSES_OF_DOT_EXAMPLE_COM + BYPASSES_OF_EXAMPLE_COM:
            assert await status_for(api.url, host(value)) in (400, None), value


async def test_ip_literals_are_hosts_and_ipv6_is_compared_in_its_short_form() -> None:
    async with run(home, security={"hosts": ["127.0.0.1", "[::1]"]}) as api:
        for value in (b"127.0.0.1", b"127.0.0.1:80", b"[::1]", b"[0:0::1]:8080"):
            assert await status_for(api.url, host(value)) == 200, value
        for value in (
            b"127.1",
            b"127.0.0.01",
            b"127.0.0.1.1",
            b"[::1",
            b"::1",
            b"[::1]x",
            b"[::1%25lo]",
        ):
            assert await status_for(api.url, host(value)) in (400, None), value


async def test_a_star_still_refuses_what_is_not_a_host() -> None:
    async with run(home, security={"hosts": ["*"]}) as api:
        assert await status_for(api.url, host(b"anything.example:81")) == 200
        assert await status_for(api.url, host(b"example.com:@evil.com")) == 400


async def test_two_host_headers_are_refused() -> None:
    async with run(home, security={"hosts": ["example.com", "evil.com"]}) as api:
        two = [b"Host: example.com", b"Host: evil.com"]
        assert await status_for(api.url, two) in (400, None)


def test_host_patterns_that_are_not_host_names_fail_at_start_up() -> None:
    for pattern in (
        "example.com/x",
        "example.com:8080",
        "a..b",
        "user@example.com",
        "*.example.com",
    ):
        with pytest.raises(ConfigError, match=r"security\.hosts"):
            load_options({"security": {"hosts": [pattern]}}, {})
    options = load_options({"security": {"hosts": ["Example.COM.", "[0::1]", ".Example.org"]}}, {})
    assert options.security.hosts == ("example.com", "[::1]", ".example.org")


# --- X-Forwarded-Host: only from a trusted proxy, read from the proxy's end ---


async def test_x_forwarded_host_is_read_from_the_proxys_end_of_the_list() -> None:
    async with run(home, security={"hosts": ["example.com"]}, trust_proxy=1) as api:
        client_first = [b"Host: internal", b"X-Forwarded-Host: evil.com, example.com"]
        assert await status_for(api.url, client_first) == 200
        spoofed = [b"Host: internal", b"X-Forwarded-Host: example.com, evil.com"]
        assert await status_for(api.url, spoofed) == 400
        two_headers = [
            b"Host: internal",
            b"X-Forwarded-Host: example.com",
            b"X-Forwarded-Host: e.vil",
        ]
        assert await status_for(api.url, two_headers) == 400


async def test_a_forwarded_host_that_is_not_a_host_is_refused() -> None:
    async with run(home, security={"hosts": [".example.com"]}, trust_proxy=True) as api:
        for value in BYPASSES_OF_DOT_EXAMPLE_COM:
            headers = [b"Host: example.com", b"X-Forwarded-Host: " + value]
            assert await status_for(api.url, headers) in (400, None), value


async def test_sub_reads_the_same_host_and_refuses_what_is_not_one() -> None:
    app = [sub("api", get("/", lambda ctx: "api")), get("/", lambda ctx: "home")]
    async with run(*app, domain="example.com", trust_proxy=True) as api:
        assert (await api.get("/", headers={"host": "api.example.com:8080"})).text == "api"
        for value in ("api.example.com:@evil.com", "api.example.com:x", "api..example.com"):
            assert (await api.get("/", headers={"host": value})).text == "home", value
        forwarded = {"host": "internal", "x-forwarded-host": "api.example.com"}
        assert (await api.get("/", headers=forwarded)).text == "api"


# --- trust_proxy: the environment means what the code means ---


async def test_trust_proxy_1_from_the_environment_is_one_hop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUST_PROXY", "1")
    chain = {"x-forwarded-for": "6.6.6.6, 203.0.113.9"}
    async with run(whoami) as api:
        assert (await api.get("/whoami", headers=chain)).body["ip"] == "203.0.113.9"
    monkeypatch.setenv("TRUST_PROXY", "0")
    async with run(whoami) as api:
        assert (await api.get("/whoami", headers=chain)).body["ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        (" 3 ", 3),
        ("0", 0),
        ("true", True),
        ("off", False),
        ("10.0.0.1, 10.0.0.0/8, ::1", ("10.0.0.1", "10.0.0.0/8", "::1")),
    ],
)
def test_trust_proxy_from_the_environment_reads_numbers_as_hop_counts(
    value: str, expected: object
) -> None:
    assert load_options({}, {"TRUST_PROXY": value}).trust_proxy == expected
    code_value = expected if not isinstance(expected, tuple) else list(expected)
    assert load_options({"trust_proxy": code_value}, {}).trust_proxy == expected


@pytest.mark.parametrize("value", ["bogus", "10.0.0.300", "10.0.0.1, proxy.local", "²", "-1"])
def test_trust_proxy_addresses_that_are_not_addresses_fail_at_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="TRUST_PROXY"):
        load_options({}, {"TRUST_PROXY": value})


def test_hsts_seconds_with_non_ascii_digits_fail_at_start_up() -> None:
    with pytest.raises(ConfigError, match="SECURITY_HSTS"):
        load_options({}, {"SECURITY_HSTS": "²"})


async def test_x_forwarded_proto_is_read_from_the_proxys_end_of_the_list() -> None:
    async with run(whoami, trust_proxy=1) as api:
        spoofed = {"x-forwarded-proto": "https, http"}
        assert (await api.get("/whoami", headers=spoofed)).body["secure"] is False
        forwarded = {"x-forwarded-proto": "http, https"}
        assert (await api.get("/whoami", headers=forwarded)).body["secure"] is True
    chain = {"x-forwarded-for": "6.6.6.6, 10.0.0.7", "x-forwarded-proto": "https, http, http"}
    async with run(whoami, trust_proxy=["127.0.0.1", "10.0.0.0/8"]) as api:
        # two trusted proxies (127.0.0.1, 10.0.0.7): the farther one wrote the second entry
        assert (await api.get("/whoami", headers=chain)).body["secure"] is False
        chain["x-forwarded-proto"] = "http, https, http"
        assert (await api.get("/whoami", headers=chain)).body["secure"] is True
