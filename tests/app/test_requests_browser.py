"""Real-browser test of the Requests page: Debian Chromium (never `playwright install`) opens /requests
served by `streamlit run app.py` against the sandbox (session fixture app_server), checks the applications
table, then the Charts tab of one application, where Vega really drew (a canvas or SVG of non-zero size
inside the vega-embed element). Saves artifacts/requests.png (light) and artifacts/requests-dark.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.demo_names import WEB
from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot

pytestmark = pytest.mark.browser


def test_requests_page_shows_the_table_and_drawn_charts(app_server: Any, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    for scheme in ("light", "dark"):
        page = new_page(height=1800, color_scheme=scheme)
        open_overview(page, app_server.url)
        if scheme == "light":
            open_app_page(page, f"{app_server.url}/requests", "Requests")
            expect(page.get_by_text(re.compile(r"^\d+ applications with request metrics"))).to_be_visible()
            table = page.locator('[data-testid="stDataFrame"]').first
            expect(table).to_be_visible()
            box = table.bounding_box()
            assert box is not None and box["height"] > 60, box  # header and at least one row
        open_app_page(page, f"{app_server.url}/requests?tab=Charts&app={WEB.namespace}/{WEB.app}", "Requests")
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts).to_have_count(3)
        # the chart element is itself the vega-embed container; Vega draws its marks in an SVG or canvas
        drawn = page.locator('[data-testid="stVegaLiteChart"].vega-embed').first.locator("canvas, svg")
        expect(drawn.first).to_be_visible()
        mark_box = drawn.first.bounding_box()
        assert mark_box is not None and mark_box["width"] > 200 and mark_box["height"] > 100, mark_box
        expect(page.get_by_role("heading", name="Notable moments")).to_be_visible()
        name = "requests.png" if scheme == "light" else "requests-dark.png"
        save_screenshot(page, name, min_bytes=20_000, server=app_server)
