"""Issue 14, item 4: a promise kept. After a 429 with Retry-After the page says "KAMS will try again in N
seconds", and it does, by itself: Debian Chromium on `streamlit run app.py` against the stand-in API
server, whose log endpoint answers one 429 (Retry-After: 3) and then serves the log. Nobody clicks."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from sandbox.demo_names import WEB
from tests.plugins.browser import NewPage, open_overview, settle

pytestmark = pytest.mark.browser

RETRY_AFTER = 3


def test_after_a_429_the_panel_asks_again_when_allowed_without_a_click(app_server: Any, kube_faults: Any,
                                                                         new_page: NewPage) -> None:
    from playwright.sync_api import expect

    log_path = rf"^/api/v1/namespaces/{WEB.namespace}/pods/{WEB.pod}/log$"
    page = new_page()
    open_overview(page, app_server.url)
    kube_faults.clear_request_log()
    kube_faults.set_fault(log_path, "throttle", retry_after=RETRY_AFTER, times=1)
    page.goto(f"{app_server.url}/logs?pod={WEB.namespace}/{WEB.pod}")
    promise = page.get_by_text(re.compile(rf"slow down.*try again in {RETRY_AFTER} seconds"))
    expect(promise.first).to_be_visible(timeout=20_000)
    settle(page)
    shown_at = time.monotonic()
    assert len(kube_faults.requests_to(log_path)) == 1
    # No click: the page's timer reruns it once the server allows, and the log arrives.
    expect(page.get_by_text(re.compile(r"lines from 1 of 1 containers"))).to_be_visible(timeout=15_000)
    assert time.monotonic() - shown_at >= RETRY_AFTER - 1.5  # not before the server allowed it
    assert len(kube_faults.requests_to(log_path)) >= 2
    expect(promise).to_have_count(0)
