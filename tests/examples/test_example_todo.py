"""examples/todo in Chromium: add, finish, remove and clear through CSRF-protected forms,
one list per browser, and a post from another site refused."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import BrowserContext, Page, expect

if TYPE_CHECKING:
    from tests.examples.examples_harness import attacker_site, screenshot, serve_example
else:
    from examples_harness import attacker_site, screenshot, serve_example


def add(page: Page, text: str) -> None:
    page.get_by_label("New item").fill(text)
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".todos .text", has_text=text)).to_have_count(1)


def items(page: Page) -> list[str]:
    return page.locator(".todos .text").all_text_contents()


def test_add_finish_remove_and_clear_items_and_they_survive_a_reload(
    context: BrowserContext, second_context: BrowserContext, logs: Path
) -> None:
    with serve_example("todo", logs) as app:
        page = context.new_page()
        page.goto(app.url)
        expect(page.locator(".empty")).to_be_visible()
        for text in ("Water the plants", "Write the README", "Ship porch 1.0"):
            add(page, text)
        page.get_by_role("button", name="Done: Water the plants").click()
        expect(page.locator("li.done .text")).to_have_text(["Water the plants"])
        expect(page.locator("#left")).to_have_text("2 left")
        screenshot(page, "todo")

        page.get_by_role("button", name="Remove: Write the README").click()
        expect(page.locator(".todos .text")).to_have_text(["Water the plants", "Ship porch 1.0"])

        page.reload()
        assert items(page) == ["Water the plants", "Ship porch 1.0"]

        page.get_by_role("button", name="Clear finished").click()
        expect(page.locator(".todos .text")).to_have_text(["Ship porch 1.0"])
        expect(page.locator(".flash")).to_have_text("Cleared 1 finished item.")

        other = second_context.new_page()  # another browser: another session, another list
        other.goto(app.url)
        expect(other.locator(".empty")).to_be_visible()


def test_every_form_carries_the_csrf_token(context: BrowserContext, logs: Path) -> None:
    with serve_example("todo", logs) as app:
        page = context.new_page()
        page.goto(app.url)
        add(page, "Check the forms")
        forms = page.locator("form")
        expect(forms).to_have_count(4)  # add, toggle, remove, clear
        for form in forms.all():
            expect(form.locator("input[name=_csrf]")).to_have_count(1)
            assert len(form.locator("input[name=_csrf]").get_attribute("value") or "") > 40


def test_a_post_from_another_site_adds_nothing(context: BrowserContext, logs: Path) -> None:
    with serve_example("todo", logs) as app:
        page = context.new_page()
        page.goto(app.url)
        add(page, "My own item")

        target = app.url + "/add"
        with attacker_site(target, {"text": "Buy the attacker a boat"}) as evil:
            with page.expect_response(target) as posted:
                page.goto(evil)
            assert posted.value.status == 403

        page.goto(app.url)
        expect(page.locator(".todos .text")).to_have_text(["My own item"])
