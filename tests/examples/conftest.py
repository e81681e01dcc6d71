"""Fixtures for the browser tests: one headless Chromium per module, a fresh profile per test.

Chromium is Debian's (/usr/bin/chromium, installed by scripts/test); Playwright
never downloads a browser here. A missing Chromium fails the tests loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, BrowserContext, ViewportSize, sync_playwright

if TYPE_CHECKING:
    from tests.examples.examples_harness import CHROMIUM, CHROMIUM_ARGS
else:
    from examples_harness import CHROMIUM, CHROMIUM_ARGS

VIEWPORT: ViewportSize = {"width": 960, "height": 640}
# Auto-waiting bound for every locator and navigation: generous on a loaded
# 2-core machine, and a failure still says what it waited for.
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package, shared by the tests of one module.

    Module scope, and sync tests only: Playwright's sync API runs its own event
    loop, which must not overlap pytest-asyncio's, so it stops with the module.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium. scripts/test "
            "installs it (apt-get install chromium chromium-driver)."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: its own cookies, as a new visitor has."""
    with browser.new_context(viewport=VIEWPORT) as fresh:
        fresh.set_default_timeout(WAIT_MS)
        yield fresh


@pytest.fixture
def second_context(browser: Browser) -> Iterator[BrowserContext]:
    """Another visitor (another device), with cookies of its own."""
    with browser.new_context(viewport=VIEWPORT) as fresh:
        fresh.set_default_timeout(WAIT_MS)
        yield fresh


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Where the example servers of one test write their output (shown when a start fails)."""
    return tmp_path
