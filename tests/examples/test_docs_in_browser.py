"""The docs' pages that run in a browser, run in Chromium: docs/websockets.md's example
page shows a visitor's text as text, with the socket.io client the app serves itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.sync_api import BrowserContext, expect

from porch import run

if TYPE_CHECKING:
    from tests.examples.examples_harness import EXAMPLES
else:
    from examples_harness import EXAMPLES

DOCS = EXAMPLES.parent / "docs"


def first_example(page: Path) -> str:
    found = re.search(r"^```python\n(.*?)^```", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_the_websockets_page_shows_messages_as_text_from_a_client_the_app_serves(
    context: BrowserContext, isolated_environment: Path
) -> None:
    subprocess.run([str(EXAMPLES / "chat" / "setup")], check=True)  # the client, as the docs say
    (isolated_environment / "public").mkdir()
    shutil.copy(EXAMPLES / "chat" / "public" / "socket.io.min.js", isolated_environment / "public")
    namespace: dict[str, Any] = {}
    exec(first_example(DOCS / "websockets.md"), namespace)  # the page's own code, on purpose
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    with run(namespace["app"]) as api:
        page.goto(f"{api.url}/?name=<img src=x onerror=alert(1)>")
        log = page.locator("#log li")
        expect(log.first).to_have_text("welcome, <img src=x onerror=alert(1)>")
        expect(log.nth(1)).to_have_text("<img src=x onerror=alert(1)>: hello")
        expect(page.locator("#log img")).to_have_count(0)
        page.close()  # its socket closes with it, inside the block (else run() warns of it)
    assert all(url.startswith(api.url) for url in requested), requested  # no CDN
