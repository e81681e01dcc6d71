"""examples/chat in Chromium: two browsers exchange messages over Socket.IO, each message
signed with the name from the sender's HTTP session, never with one the page sent."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Page, expect

if TYPE_CHECKING:
    from tests.examples.examples_harness import EXAMPLES, screenshot, serve_example
else:
    from examples_harness import EXAMPLES, screenshot, serve_example


@pytest.fixture(scope="module", autouse=True)
def socket_io_client() -> None:
    """Fetch the socket.io browser client into examples/chat/public once, as a user's setup does."""
    subprocess.run([str(EXAMPLES / "chat" / "setup")], check=True)


def join(page: Page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#me")).to_have_text(name)
    expect(page.locator("#status")).to_have_text("online")  # the socket is connected


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_two_browsers_chat_and_each_message_carries_the_senders_session_name(
    context: BrowserContext, second_context: BrowserContext, logs: Path
) -> None:
    with serve_example("chat", logs) as app:
        ada = context.new_page()
        join(ada, app.url, "Ada")
        grace = second_context.new_page()
        join(grace, app.url, "Grace")
        expect(ada.locator(".notice")).to_have_text(["Grace joined"])

        say(ada, "Hello, Grace!")
        for page in (ada, grace):
            line = page.locator(".message").last
            expect(line.locator(".name")).to_have_text("Ada")
            expect(line.locator(".text")).to_have_text("Hello, Grace!")

        say(grace, "Hi Ada <b>not bold</b>")  # text, never markup
        for page in (ada, grace):
            line = page.locator(".message").last
            expect(line.locator(".name")).to_have_text("Grace")
            expect(line.locator(".text")).to_have_text("Hi Ada <b>not bold</b>")
        expect(ada.locator(".message b")).to_have_count(0)
        screenshot(ada, "chat")

        # The page sends only text; a payload naming someone else is not a message.
        refused = grace.evaluate(
            """() => new Promise(resolve => {
                const probe = io();
                probe.emit('message', {name: 'Ada', text: 'I am Ada'}, ack => {
                    probe.close(); resolve(ack);
                });
            })"""
        )
        assert refused is False
        expect(ada.locator(".message")).to_have_count(2)


def test_a_browser_without_a_name_in_its_session_cannot_connect(
    context: BrowserContext, logs: Path
) -> None:
    with serve_example("chat", logs) as app:
        page = context.new_page()
        join(page, app.url, "Katherine")
        page.get_by_role("button", name="Leave and forget my name").click()
        expect(page.get_by_role("heading", name="Join the chat")).to_be_visible()

        # The join page loads no client; load it to try a socket with the new, nameless session.
        page.add_script_tag(url="/socket.io.min.js")
        error = page.evaluate(
            """() => new Promise(resolve => {
                const probe = io({reconnection: false});
                probe.on('connect', () => { probe.close(); resolve('connected'); });
                probe.on('connect_error', err => { probe.close(); resolve(err.message); });
            })"""
        )
        assert error != "connected"
