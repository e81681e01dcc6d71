"""examples/counter in Chromium: each browser's count climbs; curl still gets the JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from playwright.sync_api import BrowserContext, expect

if TYPE_CHECKING:
    from tests.examples.examples_harness import screenshot, serve_example
else:
    from examples_harness import screenshot, serve_example


def test_each_browser_counts_its_own_visits_across_reloads(
    context: BrowserContext, second_context: BrowserContext, logs: Path
) -> None:
    with serve_example("counter", logs) as app:
        page = context.new_page()
        page.goto(app.url)
        expect(page.locator("#views")).to_have_text("1")
        page.reload()
        expect(page.locator("#views")).to_have_text("2")
        page.reload()
        expect(page.locator("#views")).to_have_text("3")
        screenshot(page, "counter")

        other = second_context.new_page()
        other.goto(app.url)
        expect(other.locator("#views")).to_have_text("1")  # its own session, its own count
        page.reload()
        expect(page.locator("#views")).to_have_text("4")


def test_the_browser_records_the_cookie_httponly_and_lax_and_not_secure_in_development(
    context: BrowserContext, logs: Path
) -> None:
    with serve_example("counter", logs) as app:
        context.new_page().goto(app.url)
        (cookie,) = context.cookies(app.url)
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (
            "session", True, "Lax", False,
        )  # fmt: skip
        assert cookie["path"] == "/"


def test_programs_that_do_not_ask_for_html_still_get_the_readmes_json(logs: Path) -> None:
    with serve_example("counter", logs) as app, httpx.Client(base_url=app.url) as client:
        assert client.get("/").json() == {"views": 1}  # as curl -b jar -c jar shows
        assert client.get("/").json() == {"views": 2}
        assert (
            client.get("/", headers={"Accept": "text/html"})
            .headers["content-type"]
            .startswith("text/html")
        )
