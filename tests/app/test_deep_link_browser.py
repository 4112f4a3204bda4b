"""A deep link opened first on a fresh server (a pod just restarted, a bookmark) gets the whole frame.

With a `pages/` folder Streamlit starts in its legacy multipage mode and would run pages/pods.py alone,
without app.py's sidebar and banner, until some session has opened the root (ui/frame_guard.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.demo_names import CRASHLOOP_POD
from tests.plugins.app import sandbox_app_server
from tests.plugins.browser import NewPage

pytestmark = pytest.mark.browser


def test_first_visit_on_a_deep_link_gets_the_frame_and_the_page(kube_api: Any, prometheus: Any, s3: Any,
                                                                 tmp_path: Path, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    with sandbox_app_server(kube_api, prometheus, s3, tmp_path) as server:
        page = new_page(height=2400)
        pod = f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"
        page.goto(f"{server.url}/pods?pod={pod}")
        expect(page.get_by_role("heading", name="Pods", exact=True)).to_be_visible()
        sidebar = page.locator('[data-testid="stSidebar"]')
        # app.py's frame: the shared filters and the connection status, and the new navigation's
        # titles rather than the legacy mode's file names ("app", "overview", "pods").
        expect(sidebar.get_by_text("Namespace", exact=True)).to_be_visible()
        expect(sidebar.get_by_text("Connections")).to_be_visible()
        expect(sidebar.get_by_text("Overview", exact=True)).to_be_visible()
        expect(sidebar.get_by_text("app", exact=True)).to_have_count(0)
        # The link's pod is still the one shown.
        expect(page.get_by_text(f"Pod {pod}")).to_be_visible()
