"""Security headers: on by default, each configurable and each able to be turned off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from porch import ConfigError, get, header, run, server
from porch.context import Context
from porch.converters import CONSERVATIVE_CSP
from porch.option_types import SecuritySettings, ServerOptions

pytestmark = pytest.mark.usefixtures("each_server")  # each promise, on both servers

SECRET = "s" * 40
DEFAULTS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


@get("/")
def home(ctx: Context) -> str:
    return "home"


@get("/boom")
def boom(ctx: Context) -> str:
    raise RuntimeError("boom")


async def test_every_response_carries_the_default_headers(isolated_environment: Path) -> None:
    (isolated_environment / "public").mkdir()
    (isolated_environment / "public" / "app.css").write_text("body {}")
    async with run(home, boom) as api:
        for path, status in (("/", 200), ("/nowhere", 404), ("/boom", 500), ("/app.css", 200)):
            response = await api.get(path)
            assert response.status == status
            for name, value in DEFAULTS.items():
                assert response.headers.get(name) == value, (path, name)
            assert "content-security-policy" not in response.headers  # opt-in
            assert "strict-transport-security" not in response.headers  # not production


async def test_a_header_the_handler_set_is_never_overwritten() -> None:
    framed = get("/embed", lambda ctx: header("X-Frame-Options", "DENY").send("embed"))
    policy = get("/policy", lambda ctx: header("Referrer-Policy", "no-referrer").send("p"))
    async with run(framed, policy) as api:
        embed = await api.get("/embed")
        assert embed.headers.get_list("x-frame-options") == ["DENY"]
        assert embed.headers["referrer-policy"] == DEFAULTS["referrer-policy"]
        assert (await api.get("/policy")).headers.get_list("referrer-policy") == ["no-referrer"]


@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("content_type_options", "x-content-type-options"),
        ("frame_options", "x-frame-options"),
        ("referrer_policy", "referrer-policy"),
        ("opener_policy", "cross-origin-opener-policy"),
    ],
)
async def test_each_header_turns_off_by_option_and_by_environment(
    option: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run(home, security=cast("SecuritySettings", {option: False})) as api:
        response = await api.get("/")
        assert name not in response.headers
        assert len([key for key in DEFAULTS if key in response.headers]) == len(DEFAULTS) - 1
    monkeypatch.setenv(f"SECURITY_{option.upper()}", "off")
    async with run(home) as api:
        assert name not in (await api.get("/")).headers


async def test_header_values_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    options: SecuritySettings = {
        "frame_options": "deny",
        "referrer_policy": "no-referrer",
        "csp": True,
    }
    async with run(home, security=options) as api:
        response = await api.get("/")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == CONSERVATIVE_CSP
    monkeypatch.setenv("SECURITY_CSP", "default-src 'none'")
    monkeypatch.setenv("SECURITY_OPENER_POLICY", "same-origin-allow-popups")
    async with run(home) as api:
        response = await api.get("/")
        assert response.headers["content-security-policy"] == "default-src 'none'"
        assert response.headers["cross-origin-opener-policy"] == "same-origin-allow-popups"


async def test_hsts_only_in_production_over_https() -> None:
    forwarded = {"x-forwarded-proto": "https"}
    async with run(home, env="production", secret=SECRET, trust_proxy=True) as api:
        assert (await api.get("/", headers=forwarded)).headers[
            "strict-transport-security"
        ] == "max-age=31536000"
        assert "strict-transport-security" not in (await api.get("/")).headers  # plain HTTP
    async with run(home, env="production", secret=SECRET) as api:  # proxy not trusted
        assert "strict-transport-security" not in (await api.get("/", headers=forwarded)).headers
    async with run(home, trust_proxy=True) as api:  # development: never
        assert "strict-transport-security" not in (await api.get("/", headers=forwarded)).headers


async def test_hsts_is_configurable_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded = {"x-forwarded-proto": "https"}
    common: ServerOptions = {"env": "production", "secret": SECRET, "trust_proxy": True}
    async with run(home, {"security": {"hsts": 600}}, **common) as api:
        assert (await api.get("/", headers=forwarded)).headers[
            "strict-transport-security"
        ] == "max-age=600"
    monkeypatch.setenv("SECURITY_HSTS", "false")
    async with run(home, **common) as api:
        assert "strict-transport-security" not in (await api.get("/", headers=forwarded)).headers
    monkeypatch.setenv("SECURITY_HSTS", "max-age=63072000; includeSubDomains; preload")
    async with run(home, **common) as api:
        assert (await api.get("/", headers=forwarded)).headers[
            "strict-transport-security"
        ] == "max-age=63072000; includeSubDomains; preload"


@pytest.mark.parametrize(
    ("security", "named"),
    [
        ({"frame_options": "allow-from x"}, "security.frame_options"),
        ({"referrer_policy": "sometimes"}, "security.referrer_policy"),
        ({"opener_policy": "open"}, "security.opener_policy"),
        ({"csp": "default-src 'self'\r\nSet-Cookie: a=b"}, "security.csp"),
        ({"hsts": "forever"}, "security.hsts"),
        ({"hsts": -5}, "security.hsts"),
        ({"hosts": "bad host!"}, "security.hosts"),
        ({"header_limit": 0}, "security.header_limit"),
        ({"json_depth": 0}, "security.json_depth"),
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_option(
    security: Any,
    named: str,  # Any: a wrong type is the point
) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as caught:
        server(home, security=security)
    assert "accepted" in str(caught.value)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_app_run_sends_no_server_banner(isolated_environment: Path, each_server: str) -> None:
    """``app.run()`` (not only run()) leaves out uvicorn's Server header; nothing names porch.

    Granian always sends ``server: granian`` and cannot be told not to (docs/deployment.md).
    """
    (isolated_environment / "site_app.py").write_text(
        "from porch import get, server\napp = server(get('/', lambda ctx: 'hi'), env='test')\n"
    )
    port = free_port()
    code = f"import site_app; site_app.app.run(port={port}, host='127.0.0.1')"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=isolated_environment,
        env={**os.environ, "PYTHONPATH": str(isolated_environment)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "app.run() exited early"
                assert time.monotonic() < deadline, "app.run() did not answer in 30 s"
                time.sleep(0.05)
        assert response.text == "hi"
        expected = "granian" if each_server == "granian" else None
        assert response.headers.get("server") == expected
        assert "x-powered-by" not in response.headers
        assert "porch" not in " ".join(response.headers.values()).lower()
    finally:
        process.terminate()
        process.wait(timeout=15)
