"""Real-browser fixtures: one Debian Chromium for the whole session, driven by Playwright, and the steps
every browser test repeats (open a page of the served app, wait for Streamlit to settle, save a screenshot).

Chromium is /usr/bin/chromium (never `playwright install`, which downloads a browser and fails here),
started with the flags DESIGN.md lists for running as root. It starts at the first browser test and stops
at the end of the session; each test gets fresh browser contexts (own cookies, viewport, colour scheme)
from `new_page`, closed after the test.

Playwright's sync API marks an asyncio loop as running in the main thread for as long as it is started,
which breaks code that calls asyncio.run() there (AppTest tests, clients). So browser tests are moved to
the end of the session, in their own order, and nothing else runs while Chromium is up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from tests.plugins.app import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.plugins.app import AppServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
#: Screenshots land here (ignored by git) for people to look at.
ARTIFACTS = ROOT / "artifacts"
#: A cold server's first page view imports everything and reads every source: waits get this long.
WAIT_MS = 60_000
#: Streamlit's "running" widget: hidden once the script run has finished and the page is complete.
STATUS_WIDGET = '[data-testid="stStatusWidget"]'

ColorScheme = Literal["light", "dark"]
NewPage = Callable[..., "Page"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last (stable order otherwise), so that Playwright starts once and no test without a
    browser runs while its loop is marked running."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The session's Chromium; waits and `expect` assertions time out after WAIT_MS."""
    from playwright.sync_api import expect, sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[NewPage]:
    """`new_page(height=2000, color_scheme=None, width=1440)`: a page in a fresh browser context (nothing
    shared with other tests), with WAIT_MS as its default timeout; every context is closed after the test."""
    contexts: list[Any] = []

    def open_page(height: int = 2000, color_scheme: ColorScheme | None = None, width: int = 1440) -> Page:
        options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
        if color_scheme:
            options["color_scheme"] = color_scheme
        context = chromium.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()


def settle(page: Page) -> None:
    """Wait until Streamlit's status widget is gone: the script run finished and the page is complete."""
    page.locator(STATUS_WIDGET).wait_for(state="hidden")


def open_overview(page: Page, app_url: str) -> None:
    """Open the app's root and wait for the Overview heading.

    A server's first session runs in Streamlit's legacy multipage mode (see app.py and ui/frame_guard.py):
    tests open the root first so that the page they test is reached through app.py's st.navigation, as
    every later visitor reaches it.
    """
    from playwright.sync_api import expect

    page.goto(app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def open_app_page(page: Page, url: str, heading: str, *, exact: bool = True) -> None:
    """Go to `url`, wait for the page's `heading` and for Streamlit to settle."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("heading", name=heading, exact=exact)).to_be_visible()
    settle(page)


def save_screenshot(page: Page, name: str, *, min_bytes: int = 0, server: AppServer | None = None) -> Path:
    """A full-page screenshot in artifacts/`name`; with `min_bytes`, asserts the image is at least that
    big (a blank page compresses to almost nothing), showing the server's log if it is not."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    if min_bytes:
        assert path.stat().st_size > min_bytes, server.log_tail() if server else path
    return path
