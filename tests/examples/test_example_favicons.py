"""Every example's pages load in Chromium without a failed request or a console error: the
favicon browsers ask each page for is there (the ``favicon`` option), and so is everything
else a page loads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Response

if TYPE_CHECKING:
    from tests.examples.examples_harness import EXAMPLES, serve_example
else:
    from examples_harness import EXAMPLES, serve_example

FAVICON = (EXAMPLES / "counter" / "public" / "favicon.png").read_bytes()


@pytest.fixture(scope="module", autouse=True)
def socket_io_client() -> None:
    """The chat page loads the socket.io client; fetch it as a user's setup does."""
    subprocess.run([str(EXAMPLES / "chat" / "setup")], check=True)


@pytest.mark.parametrize("example", ["counter", "login", "todo", "chat"])
def test_the_front_page_loads_without_a_404_or_a_console_error(
    context: BrowserContext, logs: Path, tmp_path: Path, example: str
) -> None:
    env = {"USERS_DB": str(tmp_path / "users.db")}  # the login example's, not the checkout's
    with serve_example(example, logs, env=env) as app:
        page = context.new_page()
        failed: list[str] = []
        errors: list[str] = []

        def record_failure(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.status} {response.url}")

        def record_error(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("response", record_failure)
        page.on("console", record_error)
        page.goto(app.url)
        page.wait_for_load_state("networkidle")
        favicon = page.request.get(app.url + "/favicon.ico")
        assert (favicon.status, favicon.headers["content-type"]) == (200, "image/png")
        assert favicon.body() == FAVICON
        assert failed == [] and errors == []
