"""One real-browser test: Debian Chromium (never `playwright install`) opens the Overview served by
`streamlit run app.py` against the sandbox, checks live content and saves artifacts/overview.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.demo_names import API, APP_NAMESPACE, WEB
from tests.plugins.app import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 2400})
            yield context.new_page()
        finally:
            browser.close()


def test_overview_in_chromium_shows_live_applications(app_server: Any, page: Any) -> None:
    from playwright.sync_api import expect

    page.set_default_timeout(60_000)
    page.goto(app_server.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # Real content: a card per demo application, each with its traffic light.
    for sample in (WEB, API):
        card = page.locator('[data-testid="stMarkdownContainer"]').filter(
            has=page.locator("strong", has_text=re.compile(rf"^{sample.app}$"))
        ).filter(has_text=APP_NAMESPACE)
        expect(card.first).to_be_visible()
        expect(card.first).to_contain_text(re.compile("Healthy|Worth a look|Needs attention now"))
    # Streamlit's "running" widget is gone: the script finished and the page is complete.
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    requests = page.locator('[data-testid="stMetric"]').filter(has_text="Requests per second")
    value = requests.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert float(value) > 0, f"no live request rate: {value!r}"
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    assert (ARTIFACTS / "overview.png").stat().st_size > 10_000, app_server.log_tail()

    # The very first change of the server's first session takes effect (it is lost when widgets are
    # drawn before st.navigation, because the first run uses Streamlit's legacy multipage mode).
    time_range = page.locator('[data-testid="stSelectbox"]').filter(has_text="Time range")
    time_range.get_by_role("button", name="Open").click()
    page.get_by_role("option", name="Last 6 hours", exact=True).click()
    expect(page.get_by_role("heading", name="Requests per second, last 6 hours")).to_be_visible()
    expect(page.get_by_role("combobox", name="Time range")).to_have_value("Last 6 hours")
