"""examples/login in Chromium: accounts, a protected page, logout (also via the back
button), log out everywhere, a restart on Redis, CSRF from another origin, cookie flags."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Page, expect

if TYPE_CHECKING:
    from tests.examples.examples_harness import SECRET, attacker_site, screenshot, serve_example
else:
    from examples_harness import SECRET, attacker_site, screenshot, serve_example

PASSWORD = "correct horse battery"


@pytest.fixture
def users_db(tmp_path: Path) -> dict[str, str]:
    """Each test's own users.db, never the one next to the example's app.py."""
    return {"USERS_DB": str(tmp_path / "users.db")}


def sign_up(page: Page, url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(url + "/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(url + "/account")
    expect(page.locator("#name")).to_have_text(name)


def log_in(page: Page, url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(url + "/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_login_form(page: Page, url: str) -> None:
    expect(page).to_have_url(url + "/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def session_cookie(context: BrowserContext, url: str) -> str:
    (cookie,) = [c for c in context.cookies(url) if c["name"] == "session"]
    return cookie["value"]


def test_log_in_reload_log_out_and_the_account_page_is_closed(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    with serve_example("login", logs, env=users_db) as app:
        page = context.new_page()
        sign_up(page, app.url, "ada")
        expect(page.locator(".flash.success")).to_have_text("Welcome to porch, ada!")
        screenshot(page, "login")

        reloaded = page.reload()  # the session, not the page, knows who we are
        expect(page.locator("#name")).to_have_text("ada")
        assert reloaded is not None and reloaded.headers["cache-control"] == "no-store"
        expect(page.locator(".flash")).to_have_count(0)  # a flash shows once

        page.get_by_role("button", name="Log out", exact=True).click()
        expect_login_form(page, app.url)
        expect(page.locator(".flash.success")).to_have_text("You are logged out.")

        page.goto(app.url + "/account")
        expect_login_form(page, app.url)
        expect(page.locator(".flash.error")).to_have_text("Please log in to see that page.")

        log_in(page, app.url, "ada")
        expect(page).to_have_url(app.url + "/account")
        expect(page.locator(".flash.success")).to_have_text("Welcome back, ada.")


def test_the_back_button_after_logout_does_not_show_the_account(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    with serve_example("login", logs, env=users_db) as app:
        page = context.new_page()
        sign_up(page, app.url, "grace")
        page.get_by_role("button", name="Log out", exact=True).click()
        expect_login_form(page, app.url)

        # The account page is no-store and varies by Cookie, so going back asks the
        # server again, which now sees no user.
        page.go_back()
        expect_login_form(page, app.url)
        expect(page.locator("#name")).to_have_count(0)
        screenshot(page, "login-back-after-logout")


def test_a_wrong_password_is_refused_and_the_password_is_stored_hashed(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    with serve_example("login", logs, env=users_db) as app:
        page = context.new_page()
        sign_up(page, app.url, "alan")
        page.get_by_role("button", name="Log out", exact=True).click()

        log_in(page, app.url, "alan", "not the password")
        expect(page.locator(".flash.error")).to_have_text("Wrong name or password.")
        page.goto(app.url + "/account")
        expect_login_form(page, app.url)

    with closing(sqlite3.connect(users_db["USERS_DB"])) as db:
        (stored,) = db.execute("SELECT password FROM users WHERE name = 'alan'").fetchone()
    algorithm, _n, _r, _p, salt, digest = stored.split("$")
    assert algorithm == "scrypt" and len(bytes.fromhex(salt)) == 16 and len(digest) == 128
    assert PASSWORD not in stored


def test_logging_in_gives_the_browser_a_new_session_id(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    with serve_example("login", logs, env=users_db) as app:
        page = context.new_page()
        sign_up(page, app.url, "barbara")
        page.get_by_role("button", name="Log out", exact=True).click()
        expect_login_form(page, app.url)
        before = session_cookie(context, app.url)  # the login form's session (its CSRF token)

        log_in(page, app.url, "barbara")
        expect(page).to_have_url(app.url + "/account")
        assert session_cookie(context, app.url) != before  # regenerate(): fixation defence


def test_still_logged_in_after_a_restart_on_the_redis_store(
    context: BrowserContext, logs: Path, users_db: dict[str, str], redis_url: str
) -> None:
    production = {**users_db, "REDIS_URL": redis_url, "SECRET": SECRET}
    page = context.new_page()
    with serve_example("login", logs, env=production) as app:
        sign_up(page, app.url, "katherine")
        port, url = app.port, app.url

    with serve_example("login", logs, env=production, port=port):  # a new process
        page.reload()
        expect(page).to_have_url(url + "/account")
        expect(page.locator("#name")).to_have_text("katherine")


def test_log_out_everywhere_ends_the_session_on_every_device(
    context: BrowserContext, second_context: BrowserContext, logs: Path,
    users_db: dict[str, str],
) -> None:  # fmt: skip
    with serve_example("login", logs, env=users_db) as app:
        laptop = context.new_page()
        sign_up(laptop, app.url, "margaret")
        phone = second_context.new_page()
        log_in(phone, app.url, "margaret")
        expect(phone.locator(".devices li")).to_have_count(2)
        expect(phone.locator(".devices li", has_text="this browser")).to_have_count(1)

        phone.get_by_role("button", name="Log out everywhere").click()
        expect_login_form(phone, app.url)
        expect(phone.locator(".flash.success")).to_have_text("Logged out on 2 devices.")

        laptop.reload()
        expect_login_form(laptop, app.url)


def test_a_form_posted_from_another_site_is_refused(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    with serve_example("login", logs, env=users_db) as app:
        page = context.new_page()
        sign_up(page, app.url, "hedy")

        target = app.url + "/logout-everywhere"
        with attacker_site(target, {"_csrf": "guessed"}) as evil:
            with page.expect_response(target) as posted:
                page.goto(evil)
            assert posted.value.status == 403
            expect(page.locator("body")).to_contain_text("CSRF")
            screenshot(page, "login-cross-site-refused")

        page.goto(app.url + "/account")  # nothing was done: still logged in
        expect(page.locator("#name")).to_have_text("hedy")


def test_in_production_the_browser_records_the_cookie_secure_httponly_and_lax(
    context: BrowserContext, logs: Path, users_db: dict[str, str]
) -> None:
    production = {**users_db, "ENV": "production", "SECRET": SECRET}
    with serve_example("login", logs, env=production) as app:
        page = context.new_page()
        sign_up(page, app.url, "radia")
        (cookie,) = context.cookies(app.url)
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (
            "session", True, "Lax", True,
        )  # fmt: skip
        page.reload()  # Chromium sends a Secure cookie to 127.0.0.1 over plain HTTP
        expect(page.locator("#name")).to_have_text("radia")
