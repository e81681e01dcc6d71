"""The client side of the checks: a browser that keeps its cookies, the 1, 2, 3
check every counter must pass before it is timed, and the pool of session cookies
that wrk hands out, one per connection (see bench/cookie.lua).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from typing import Any

from .processes import wait_for_port
from .servers import App


class Visitor:
    """One browser: keeps the cookies the app sets, sends them back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.jar: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())

    def get(self, path: str = "/", *, cookie: str | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {}
            sent = self.cookie_header if cookie is None else cookie
            if sent:
                headers["Cookie"] = sent
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            for header in response.headers.get_all("set-cookie") or []:
                pair = header.split(";", 1)[0]
                name, _, value = pair.partition("=")
                expired = re.search(r"max-age=0\b", header, re.IGNORECASE) or not value
                if expired:
                    self.jar.pop(name.strip(), None)
                else:
                    self.jar[name.strip()] = value.strip().strip('"')
            content = json.loads(body) if body[:1] in (b"{", b"[") else body.decode()
            return response.status, content
        finally:
            connection.close()


def wait_until_answers(port: int, process: subprocess.Popen[bytes]) -> None:
    wait_for_port(port, 30, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            Visitor(port).get("/__bench_ready__")
            return
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


def check_counter(app: App, port: int) -> None:
    """A client with a cookie jar sees 1, 2, 3 (or, for the hello world, a 200)."""
    visitor = Visitor(port)
    seen = [visitor.get("/") for _ in range(3)]
    if not app.checks_climb:
        if any(status != 200 for status, _ in seen):
            raise RuntimeError(f"{app.label}: expected 200s, got {seen}")
        return
    views = [body.get("views") if isinstance(body, dict) else body for _, body in seen]
    if [status for status, _ in seen] != [200, 200, 200] or views != [1, 2, 3]:
        raise RuntimeError(f"{app.label}: a cookie-keeping client should see 1, 2, 3; got {seen}")


def check_climbed(app: App, port: int, cookie: str) -> None:
    """After the timed runs, a pooled session has counted on (a counter app only)."""
    if not app.checks_climb:
        return
    status, body = Visitor(port).get("/", cookie=cookie)
    if status != 200 or not isinstance(body, dict) or int(body.get("views", 0)) < 3:
        raise RuntimeError(f"{app.label}: a pooled session did not climb: {body!r}")


def cookie_pool(app: App, port: int, count: int) -> list[str]:
    """One fresh session per wrk connection: the Cookie header each one sends back."""
    pool = []
    for _ in range(count):
        visitor = Visitor(port)
        status, _ = visitor.get("/")
        if status != 200:
            raise RuntimeError(f"{app.label}: creating a session answered {status}")
        if app.checks_climb and not visitor.jar:
            raise RuntimeError(f"{app.label}: the first visit set no cookie")
        pool.append(visitor.cookie_header or "none=1")
    return pool
