"""Real-browser test of the Pods page: Debian Chromium (never `playwright install`) opens /pods served by
`streamlit run app.py` against the sandbox with a pod linked in the address (?pod=namespace/name), checks
the table and a history chart, and saves artifacts/pods.png (light) and artifacts/pods-dark.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.demo_names import CRASHLOOP_POD, OOMKILLED_POD
from tests.plugins.browser import ColorScheme, NewPage, open_app_page, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser

CRASH_POD = CRASHLOOP_POD.pod


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pods_page_shows_the_table_and_a_pods_history(app_server: Any, new_page: NewPage,
                                                      scheme: ColorScheme) -> None:
    from playwright.sync_api import expect

    page = new_page(height=2600, color_scheme=scheme)
    open_overview(page, app_server.url)
    open_app_page(page, f"{app_server.url}/pods?pod={OOMKILLED_POD.namespace}/{OOMKILLED_POD.pod}", "Pods")
    # The grid draws on a canvas; the count line above it says how many rows it holds.
    expect(page.get_by_text(re.compile(r"^\d+ pods, \d+ not ready$"))).to_be_visible()
    expect(page.get_by_role("heading", name=f"Pod {OOMKILLED_POD.namespace}/{OOMKILLED_POD.pod}")
           ).to_be_visible()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first).to_be_visible()
    expect(charts).to_have_count(4)
    # The page is complete now (elements of the Overview, shown stale while the page changed, are
    # gone): the pods table is the tall grid among the page's tables.
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables).to_have_count(4)  # pods, containers, conditions, events
    heights = [(t.bounding_box() or {"height": 0})["height"] for t in tables.all()]
    assert max(heights) > 300, heights
    # Each chart really drew: Vega renders marks into an SVG or canvas of non-zero size.
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 150, box
    name = "pods.png" if scheme == "light" else "pods-dark.png"
    save_screenshot(page, name, min_bytes=20_000, server=app_server)


def test_clicking_a_row_opens_its_detail_and_links_it(app_server: Any, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    page = new_page(height=1600)
    open_overview(page, app_server.url)
    page.goto(f"{app_server.url}/pods")
    settle(page)
    search = page.get_by_role("textbox", name="Search")
    search.fill(CRASH_POD)
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"^1 pods \(of \d+ listed\), 1 not ready$"))).to_be_visible()
    table = page.locator('[data-testid="stDataFrame"]').first
    box = table.bounding_box()
    assert box is not None
    # The only row: its selection checkbox sits in the first (row marker) column, below the header.
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    expect(page.get_by_role("heading", name=f"Pod legacy/{CRASH_POD}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"pod=legacy(%2F|/){CRASH_POD}"))
