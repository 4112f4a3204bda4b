"""AppTest of the Alerts page (pages/alerts.py, ui.alerts_view, ui.alerts_data) against the real demo
Prometheus and a real Alertmanager that receives its alerts (fixtures app_env, alertmanager)."""

from __future__ import annotations

import io
import time
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.alerts import prometheus_alerts
from k8sdata.sources.prom import PromClient
from sandbox.demo_names import CRASHLOOP_POD
from tests.plugins.app import clear_streamlit_caches, closed_port_url, page_script, run_app_test, table_with
from tests.plugins.browser import NewPage, open_app_page, save_screenshot
from ui.alerts_view import PROMETHEUS_TABLE, alerts_csv

pytestmark = pytest.mark.usefixtures("app_env")

PAGE = page_script("alerts")


def run_page(namespace: str | None = None) -> AppTest:
    return run_app_test(PAGE, namespace)


def texts(at: AppTest) -> str:
    parts = [element.value for kind in (at.info, at.warning, at.error, at.success, at.caption)
             for element in kind]
    return " ".join(str(part).replace("\\", "") for part in parts)


@pytest.fixture
def with_alertmanager(alertmanager: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALERTMANAGER_URL", alertmanager.url)
    return alertmanager


def wait_for_crash_loop_in_both(prometheus: Any, alertmanager: Any) -> None:
    """The fixtures' servers are shared: wait until the demo alert has reached both (seconds at most)."""
    client = PromClient(prometheus.url, timeout=5)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        firing = prometheus_alerts(client)
        held = {alert["labels"]["alertname"] for alert in alertmanager.get_json("/api/v2/alerts")}
        if "KubePodCrashLooping" in set(firing[firing["state"] == "firing"]["alertname"]) and \
                "KubePodCrashLooping" in held:
            return
        time.sleep(0.5)
    raise AssertionError("KubePodCrashLooping never reached Prometheus' and Alertmanager's alerts")


def test_all_three_panels_with_the_demo_alerts(prometheus: Any, with_alertmanager: Any) -> None:
    wait_for_crash_loop_in_both(prometheus, with_alertmanager)
    at = run_page()
    assert [title.value for title in at.title] == ["Alerts"]
    assert {"Firing and pending", "Alertmanager", "Rule health"} <= {s.value for s in at.subheader}
    alerts = table_with(at, "Description")
    crash = alerts[alerts["Alert"] == "KubePodCrashLooping"].iloc[0]
    assert (crash["State"], crash["Pod"], crash["Namespace"]) == ("firing", CRASHLOOP_POD.pod,
                                                                   CRASHLOOP_POD.namespace)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert int(metrics["Firing"]) == int((alerts["State"] == "firing").sum()) >= 1
    assert metrics["Rules failing"] == "0"
    held = table_with(at, "Silenced by (silence id)")
    assert "KubePodCrashLooping" in set(held["Alert"])
    assert set(held["Status"]) <= {"active", "silenced", "inhibited", "unprocessed"}
    rules = table_with(at, "Last error")
    assert {"HighErrorRate", "HighLatencyP95", "ApplicationDown", "KubePodCrashLooping",
            "ContainerMemoryNearLimit"} <= set(rules["Rule"])
    assert set(rules["Health"]) == {"ok"}
    assert "rules evaluate without errors" in texts(at)
    assert len(at.get("download_button")) == 3
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"), "no severity chart"


def test_namespace_filter_limits_the_alerts(with_alertmanager: Any, prometheus: Any) -> None:
    wait_for_crash_loop_in_both(prometheus, with_alertmanager)
    at = run_page(namespace=CRASHLOOP_POD.namespace)
    alerts = table_with(at, "Description")
    assert set(alerts["Namespace"]) == {CRASHLOOP_POD.namespace}
    assert set(table_with(at, "Silenced by (silence id)")["Namespace"]) == {CRASHLOOP_POD.namespace}
    assert "cluster-wide alerts" in texts(at)
    empty = run_page(namespace="kube-system")
    assert "No alerts are firing or pending in kube-system." in texts(empty)


def test_without_alertmanager_the_panel_says_how_to_add_it() -> None:
    at = run_page()
    assert "Set ALERTMANAGER_URL" in texts(at)
    table_with(at, "Description")  # Prometheus' panels still work
    table_with(at, "Last error")
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Silenced or inhibited"] == "–"


def test_unreachable_prometheus_is_a_sentence_and_alertmanager_still_shows(
        with_alertmanager: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", closed_port_url())
    clear_streamlit_caches()
    at = run_page()
    said = texts(at)
    assert "Alerts are unavailable: KAMS cannot reach Prometheus" in said
    assert "Rule health is unavailable: KAMS cannot reach Prometheus" in said
    table_with(at, "Silenced by (silence id)")
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Firing"] == "–" and metrics["Rules failing"] == "–"


def test_without_prometheus_the_page_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL")
    clear_streamlit_caches()
    at = run_page()
    assert "Prometheus is not configured. Set PROMETHEUS_URL" in texts(at)


def test_alerts_csv_is_the_table_and_formula_safe() -> None:
    frame = pd.DataFrame([{
        "state": "firing", "severity": "warning", "alertname": "X", "namespace": "shop", "app": "api",
        "pod": "=HYPERLINK(\"http://evil\")", "summary": "s", "description": "line one\nline two",
        "active_at": pd.Timestamp("2026-01-01T12:00:00Z"), "value": 1.0, "labels_text": "zone=a"}])
    csv = alerts_csv(frame, PROMETHEUS_TABLE)
    back = pd.read_csv(io.BytesIO(csv))
    assert list(back.columns) == list(PROMETHEUS_TABLE.values())
    assert back.loc[0, "Description"] == "line one\nline two"
    assert not str(back.loc[0, "Pod"]).startswith("=")


@pytest.mark.browser
def test_alerts_page_in_chromium_draws_the_chart_and_tables(app_server: Any, prometheus: Any,
                                                            new_page: NewPage) -> None:
    """The served app (no Alertmanager configured there): Vega draws the severity chart, the tables and
    the Alertmanager sentence are on the page. Saves artifacts/alerts.png."""
    from playwright.sync_api import expect

    wait_for_firing = PromClient(prometheus.url, timeout=5)
    deadline = time.monotonic() + 45
    while prometheus_alerts(wait_for_firing).empty and time.monotonic() < deadline:
        time.sleep(0.5)
    page = new_page(height=2000)
    open_app_page(page, f"{app_server.url}/alerts", "Firing and pending", exact=False)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    expect(chart.locator("svg, canvas").first).to_be_visible()
    expect(page.get_by_text("Set ALERTMANAGER_URL", exact=False)).to_be_visible()
    expect(page.get_by_text("rules evaluate without errors", exact=False)).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]')  # the alerts and the rule health
    expect(tables).to_have_count(2, timeout=30_000)
    save_screenshot(page, "alerts.png")
