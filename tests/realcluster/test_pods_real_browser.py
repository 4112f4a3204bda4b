"""Real-browser test of the Pods page served by `streamlit run app.py` against the real kube-apiserver with
the demo loaded, read as the deployed ServiceAccount (Debian Chromium, fixtures of tests/plugins/browser.py):
a demo pod is found by searching, its detail opens, and the page says why usage is missing. Saves
artifacts/pods-real.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.demo_names import CRASHLOOP_POD
from tests.plugins.app import AppServer, serving_app
from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def real_app_server(real_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[AppServer]:
    with serving_app(real_demo_env, Path(tmp_path_factory.mktemp("real-app"))) as server:
        yield server


def test_pods_page_finds_a_demo_pod_on_the_real_server(real_app_server: AppServer, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    page = new_page(height=1800)
    open_overview(page, real_app_server.url)
    open_app_page(page, f"{real_app_server.url}/pods", "Pods")
    expect(page.get_by_text("Current usage is unavailable: This cluster does not serve metrics.k8s.io: "
                            "metrics-server is not installed.", exact=False)).to_be_visible()
    search = page.get_by_role("textbox", name="Search")
    search.fill(CRASHLOOP_POD.pod)
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"^1 pods \(of \d+ listed\), 1 not ready$"))).to_be_visible()
    # The grid draws on a canvas: open the pod through its link, and read its detail's heading and metrics.
    page.goto(f"{real_app_server.url}/pods?pod={CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}")
    settle(page)
    heading = f"Pod {CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").filter(has_text="CrashLoopBackOff")).to_be_visible()
    body = page.locator("body").inner_text()
    assert not re.search(r"forbidden|not allowed", body, re.IGNORECASE), body[:2000]
    save_screenshot(page, "pods-real.png", min_bytes=20_000, server=real_app_server)
