"""What the browser tests of examples/ share: the examples served as users serve
them, Chromium from Debian's package, an attacker's page on another origin, and
screenshots kept as artifacts.

Each example runs as ``python -m porch serve app:app`` from its own folder, in
a subprocess on a free loopback port, as its README tells users to run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import Page

if TYPE_CHECKING:
    from tests.redis_server import free_loopback_port
    from tests.serve_process import wait_until_answering
else:
    from redis_server import free_loopback_port
    from serve_process import wait_until_answering

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI runs as root in a container; the rest keeps Chromium from
# reaching for the network (updates, metrics) that this machine does not have.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STOP_TIMEOUT = 15.0
# Long enough to include a production SECRET's 32-character minimum, and plainly a test value.
SECRET = "example-browser-tests-secret-" + "s" * 32


@dataclass
class Served:
    """One example being served: its base URL and where its log goes."""

    url: str
    port: int
    log: Path


@contextmanager
def serve_example(
    name: str, log_dir: Path, *, env: Mapping[str, str] | None = None, port: int | None = None
) -> Iterator[Served]:
    """``porch serve app:app`` in ``examples/<name>``; yields once it answers, stops it by PID.

    Pass the ``port`` of an earlier run to restart "the same" server. The log is
    a file, not a pipe, so a chatty server can never block on a full pipe.
    """
    port = free_loopback_port() if port is None else port
    log = log_dir / f"{name}-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "porch", "serve", "app:app",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=EXAMPLES / name, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, process, log)
        yield Served(url, port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def attacker_site(target: str, fields: Mapping[str, str]) -> Iterator[str]:
    """Another origin (a different port) whose page auto-submits a form to ``target``.

    Same host, other port: a different origin but the same *site*, so the
    browser still sends the SameSite=Lax session cookie with the post. What
    must stop it is the CSRF token, which the attacker's page cannot read.
    """
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    page = (
        "<!doctype html><title>Win a prize</title>"
        f'<form id="f" method="post" action="{target}">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: pytest shows the test's own failure

    server = ThreadingHTTPServer(("127.0.0.1", free_loopback_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, name="attacker-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def screenshot(page: Page, name: str) -> Path:
    """Save the page as tests/examples/artifacts/<name>.png (gitignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
