"""Real-browser test of the Security page: Debian Chromium (never `playwright install`) opens /security
served by `streamlit run app.py` against the sandbox (the session's app_server), checks that Vega draws
the score chart, that the tabs switch and show their tables and KAMS's read-only proof, and saves
artifacts/security.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


def test_security_page_draws_scores_and_switches_tabs(app_server: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 2200})
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            # The server's first session may run in Streamlit's legacy multipage mode (see app.py): open
            # the app once so /security is reached through app.py's st.navigation.
            page.goto(app_server.url)
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            page.goto(f"{app_server.url}/security")
            expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
            expect(page.get_by_text("Overall score")).to_be_visible()
            chart = page.locator('[data-testid="stVegaLiteChart"]').first
            expect(chart.locator("svg, canvas").first).to_be_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100, box
            page.get_by_role("tab", name="Pod Security Standards").click()
            expect(page.get_by_role("heading", name="Exemptions")).to_be_visible()
            page.get_by_role("tab", name="RBAC").click()
            expect(page.get_by_text("KAMS is read-only")).to_be_visible()
            expect(page.get_by_role("heading", name="Who can do what")).to_be_visible()
            visible_tables = [table for table in page.locator('[data-testid="stDataFrame"]').all()
                              if table.is_visible()]
            assert len(visible_tables) >= 3, len(visible_tables)  # risks, who-can, own permissions
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "security.png"), full_page=True)
            assert (ARTIFACTS / "security.png").stat().st_size > 20_000, app_server.log_tail()
        finally:
            context.close()
            browser.close()
