"""One real-browser test: Debian Chromium (never `playwright install`) opens the Overview served by
`streamlit run app.py` against the sandbox, checks live content and saves artifacts/overview.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.demo_names import API, APP_NAMESPACE, WEB
from tests.plugins.browser import NewPage, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser


def test_overview_in_chromium_shows_live_applications(app_server: Any, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    page = new_page(height=2400)
    open_overview(page, app_server.url)
    # Real content: a card per demo application, each with its traffic light.
    for sample in (WEB, API):
        card = page.locator('[data-testid="stMarkdownContainer"]').filter(
            has=page.locator("strong", has_text=re.compile(rf"^{sample.app}$"))
        ).filter(has_text=APP_NAMESPACE)
        expect(card.first).to_be_visible()
        expect(card.first).to_contain_text(re.compile("Healthy|Worth a look|Needs attention now"))
    settle(page)
    requests = page.locator('[data-testid="stMetric"]').filter(has_text="Requests per second")
    value = requests.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert float(value) > 0, f"no live request rate: {value!r}"
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    save_screenshot(page, "overview.png", min_bytes=10_000, server=app_server)

    # The very first change of the server's first session takes effect (it is lost when widgets are
    # drawn before st.navigation, because the first run uses Streamlit's legacy multipage mode).
    time_range = page.locator('[data-testid="stSelectbox"]').filter(has_text="Time range")
    time_range.get_by_role("button", name="Open").click()
    page.get_by_role("option", name="Last 6 hours", exact=True).click()
    expect(page.get_by_role("heading", name="Requests per second, last 6 hours")).to_be_visible()
    expect(page.get_by_role("combobox", name="Time range")).to_have_value("Last 6 hours")
