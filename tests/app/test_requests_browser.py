"""Real-browser test of the Requests page: Debian Chromium (never `playwright install`) opens /requests
served by `streamlit run app.py` against the sandbox (session fixture app_server), checks the applications
table, then the Charts tab of one application, where Vega really drew (a canvas or SVG of non-zero size
inside the vega-embed element). Saves artifacts/requests.png (light) and artifacts/requests-dark.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.demo_names import WEB
from tests.app.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

#: A cold server's first page view imports everything and reads every source: give it time.
WAIT_MS = 60_000


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("heading", name="Requests", exact=True)).to_be_visible(timeout=WAIT_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def test_requests_page_shows_the_table_and_drawn_charts(app_server: Any, browser: Any) -> None:
    from playwright.sync_api import expect

    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1440, "height": 1800}, color_scheme=scheme)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            # A server's first session runs in Streamlit's legacy multipage mode (see app.py): open the
            # app once so /requests is reached through app.py's st.navigation, as every later visitor.
            page.goto(app_server.url)
            expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=WAIT_MS)
            if scheme == "light":
                _open(page, f"{app_server.url}/requests")
                expect(page.get_by_text(re.compile(r"^\d+ applications with request metrics"))
                       ).to_be_visible(timeout=WAIT_MS)
                table = page.locator('[data-testid="stDataFrame"]').first
                expect(table).to_be_visible()
                box = table.bounding_box()
                assert box is not None and box["height"] > 60, box  # header and at least one row
            _open(page, f"{app_server.url}/requests?tab=Charts&app={WEB.namespace}/{WEB.app}")
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            expect(charts).to_have_count(3, timeout=WAIT_MS)
            # the chart element is itself the vega-embed container; Vega draws its marks in an SVG or canvas
            drawn = page.locator('[data-testid="stVegaLiteChart"].vega-embed').first.locator("canvas, svg")
            expect(drawn.first).to_be_visible(timeout=WAIT_MS)
            mark_box = drawn.first.bounding_box()
            assert mark_box is not None and mark_box["width"] > 200 and mark_box["height"] > 100, mark_box
            expect(page.get_by_role("heading", name="Notable moments")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            name = "requests.png" if scheme == "light" else "requests-dark.png"
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            assert (ARTIFACTS / name).stat().st_size > 20_000, app_server.log_tail()
        finally:
            context.close()
