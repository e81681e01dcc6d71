"""The development error page as a developer sees it: in Chromium, escaped, masked, readable.

The screenshot (tests/examples/artifacts/error-page.png) is the one in
docs/screenshots/error-page.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import BrowserContext, Dialog, expect

from porch import run

if TYPE_CHECKING:
    from tests.examples.examples_harness import screenshot
    from tests.examples.shop import login, show_order
else:
    from examples_harness import screenshot
    from shop import login, show_order

SECRET = "error-page-browser-secret-" + "w" * 24


def test_the_error_page_in_a_browser(context: BrowserContext) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    with run(login, show_order, secret=SECRET) as api:
        page = context.new_page()
        page.on("dialog", record)
        page.goto(f"{api.url}/login")
        hostile = "<img src=x onerror=alert(document.cookie)>"
        response = page.goto(f"{api.url}/orders/42?sort={hostile}")
        assert response is not None and response.status == 500

        expect(page).to_have_title("KeyError: '42'")
        expect(page.locator("h1")).to_have_text("KeyError")
        # The page's policy admits its own stylesheet (by hash): the banner is styled.
        banner = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert banner == "rgb(254, 243, 242)", banner
        expect(page.locator(".where")).to_contain_text("in show_order")
        expect(page.locator(".line.here").first).to_contain_text('order = ORDERS[ctx.params["id"]]')
        session = page.locator("h2:text('Session') + table")
        expect(session.locator("tr", has_text="user")).to_contain_text("ada")
        expect(session.locator("tr", has_text="api_token")).to_contain_text("********")
        headers = page.locator("h2:text('Headers') + table")
        expect(headers.locator("tr", has_text="cookie")).to_contain_text("session=********")
        query = page.locator("h2:text('Query') + table")
        expect(query).to_contain_text(hostile)  # shown as text, never as markup
        expect(page.locator("img")).to_have_count(0)
        screenshot(page, "error-page")
        text = page.locator("body").inner_text()

    assert dialogs == []  # no script from the request ran
    assert SECRET not in text and "tok-in-the-session-123" not in text
