"""Real-browser test of the Logs page: Debian Chromium (never `playwright install`) opens
/logs?pod=shop/inject-1 served by `streamlit run app.py` against the session's stand-in API server, where
a pod's log and its events carry the injection corpus of test_logs_page. The literal text must be
visible, and no injected <img>, <script> or <a> may exist in the page. Saves artifacts/logs.png,
logs-events.png and logs-security.png, then checks that live follow appends lines."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.demo_names import WEB
from tests.app.test_logs_page import CORPUS
from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser

POD = "inject-1"


@pytest.fixture
def injected(kube_faults: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The session server with one more pod (a copy of the web pod) whose log and events are the corpus;
    kube_faults removes them afterwards, monkeypatch restores the log provider."""
    server = kube_faults
    web = server.store.get(("", "pods"), WEB.namespace, WEB.pod)
    pod = copy.deepcopy(web)
    pod["metadata"] = {key: value for key, value in pod["metadata"].items()
                       if key not in ("uid", "resourceVersion", "ownerReferences", "managedFields")}
    pod["metadata"].update(name=POD, labels={"app": "inject"})
    server.store.add(pod)
    now = datetime.now(UTC)
    for index, text in enumerate(CORPUS):
        server.store.add({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{POD}.corpus{index}", "namespace": WEB.namespace},
            "involvedObject": {"kind": "Pod", "namespace": WEB.namespace, "name": POD, "apiVersion": "v1"},
            "reason": "Unhealthy", "message": text, "type": "Warning", "count": 1,
            "lastTimestamp": (now - timedelta(seconds=30 + index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    original = server.log_provider

    def provider(pod: dict[str, Any], container: str, previous: bool, moment: datetime) -> Any:
        if pod["metadata"]["name"] != POD:
            return original(pod, container, previous, moment)
        start = moment - timedelta(minutes=5)
        return [(start + timedelta(seconds=index), text) for index, text in enumerate(CORPUS)]

    monkeypatch.setattr(server, "log_provider", provider)
    yield server


def assert_nothing_injected(page: Any) -> None:
    """No element the corpus could have created exists, and no injected script ran."""
    assert page.locator('img[src*="evil.example"], img[onerror], img[src="x"]').count() == 0
    assert page.locator('a[href*="evil.example"]').count() == 0
    scripts = page.locator("script").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert not any("pwned" in (text or "") for text in scripts)
    assert page.title() != "pwned"
    assert page.locator(".katex").count() == 0  # $$...$$ was not typeset


def test_logs_page_shows_the_corpus_as_plain_text(app_server: Any, injected: Any, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    page = new_page(height=2000)
    open_overview(page, app_server.url)
    # Forget the pod list another test may have cached (the pod was just created).
    page.get_by_role("button", name="Refresh now").click()
    open_app_page(page, f"{app_server.url}/logs?pod={WEB.namespace}/{POD}", "Logs")
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ lines from 1 of 1 containers"))).to_be_visible()
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    assert_nothing_injected(page)
    # The text view: every line of the corpus appears literally.
    page.get_by_role("radio", name="Text", exact=True).click()
    code = page.locator('[data-testid="stCode"]')
    expect(code).to_be_visible()
    shown = code.inner_text()
    for text in CORPUS:
        visible = text.replace("\x1b", "")  # the escape character itself is not drawn
        assert visible in shown.replace("\x1b", ""), text
    assert_nothing_injected(page)
    save_screenshot(page, "logs.png")
    # The events tab: the messages are grid cells (canvas), never elements.
    page.get_by_role("tab", name="Events").click()
    expect(page.get_by_text("Kubernetes keeps events for about an hour", exact=False)).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    settle(page)
    assert_nothing_injected(page)
    save_screenshot(page, "logs-events.png")
    page.get_by_role("tab", name="Security & reliability").click()
    expect(page.get_by_text("Category", exact=True)).to_be_visible()
    settle(page)
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    assert_nothing_injected(page)
    save_screenshot(page, "logs-security.png")

    # Live follow: the fragment appends the web pod's new lines without reloading the page.
    page.goto(f"{app_server.url}/logs?pod={WEB.namespace}/{WEB.pod}")
    settle(page)
    expect(page.get_by_text(re.compile(r"lines from 1 of 1 containers; read at"))).to_be_visible()
    page.get_by_text("Follow live", exact=True).click()
    expect(page.get_by_text(re.compile(r"following every 3 s, [1-9][\d,]* new since the read"))
           ).to_be_visible()
