"""Real-browser test of the Security page: Debian Chromium (never `playwright install`) opens /security
served by `streamlit run app.py` against the sandbox (the session's app_server), checks that Vega draws
the score chart, that the tabs switch and show their tables and KAMS's read-only proof, and saves
artifacts/security.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot

pytestmark = pytest.mark.browser


def test_security_page_draws_scores_and_switches_tabs(app_server: Any, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    page = new_page(height=2200)
    open_overview(page, app_server.url)
    open_app_page(page, f"{app_server.url}/security", "Security")
    expect(page.get_by_text("Overall score", exact=True)).to_be_visible()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    expect(chart.locator("svg, canvas").first).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100, box
    page.get_by_role("tab", name="Pod Security Standards").click()
    expect(page.get_by_role("heading", name="Exemptions")).to_be_visible()
    page.get_by_role("tab", name="RBAC").click()
    expect(page.get_by_text("KAMS is read-only")).to_be_visible()
    expect(page.get_by_role("heading", name="Who can do what")).to_be_visible()
    # The grids mount a moment after the headings (their component loads on its own): wait for a third.
    expect(page.locator('[data-testid="stDataFrame"]:visible').nth(2)).to_be_visible()
    visible_tables = [table for table in page.locator('[data-testid="stDataFrame"]').all()
                      if table.is_visible()]
    assert len(visible_tables) >= 3, len(visible_tables)  # risks, who-can, own permissions
    save_screenshot(page, "security.png", min_bytes=20_000, server=app_server)
