"""AppTest of the Right-sizing tab (ui.rightsizing.render_rightsizing_tab) against the real demo
Prometheus (26 h of backfilled history of the demo cluster, then live scrapes).

The tab is drawn by a tiny script of its own, so these tests do not depend on the Pods page around it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from sandbox.demo_names import APP_NAMESPACE, WEB
from tests.plugins.app import (
    ROOT,
    app_test,
    rerun,
    run_app_test,
    set_app_environment,
    table_with,
    unescape,
)


def tab_script() -> None:
    from ui.filters import current_filters
    from ui.rightsizing import render_rightsizing_tab

    render_rightsizing_tab(current_filters())


@pytest.fixture
def prom_env(prometheus: Any, monkeypatch: pytest.MonkeyPatch, streamlit_caches: None) -> None:
    """Only Prometheus configured: the tab needs nothing else."""
    set_app_environment(monkeypatch, {"PROMETHEUS_URL": prometheus.url})


def run_tab(namespace: str | None = None, min_history: str | None = None, window: str | None = None
            ) -> AppTest:
    at = run_app_test(tab_script, namespace, timeout=90)
    if min_history:
        at.selectbox(key="kams_rightsizing_min_history").select(min_history)
        rerun(at)
    if window:
        at.selectbox(key="kams_rightsizing_window").select(window)
        rerun(at)
    return at


def all_text(at: AppTest) -> str:
    parts = [*at.info, *at.warning, *at.success, *at.caption, *at.markdown, *at.error]
    return "\n".join(unescape(str(element.value)) for element in parts)


@pytest.mark.usefixtures("prom_env")
def test_tab_recommends_for_the_demo_namespace() -> None:
    at = run_tab(APP_NAMESPACE, min_history="1 hour")
    recommendations = table_with(at, "CPU recommended (m)")
    web = recommendations[recommendations["Workload"] == f"Deployment/{WEB.deployment}"]
    assert len(web) == 1, recommendations
    row = web.iloc[0]
    assert row["Status"] == "ok" and row["Container"] == WEB.container
    # The demo's web container uses a small fraction of what it requests (sandbox.usage): a saving.
    assert row["CPU recommended (m)"] < row["CPU request (m)"]
    assert row["CPU difference (m)"] < 0
    assert row["Memory recommended (MiB)"] > 0
    assert set(recommendations["Namespace"]) == {APP_NAMESPACE}

    totals = table_with(at, "CPU requested (m)")
    assert totals["Namespace"].tolist() == [APP_NAMESPACE]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    assert "requests per namespace" in charts[0].proto.spec
    assert [button.label for button in at.get("download_button")] == ["Download recommendations (CSV)"]
    assert at.selectbox(key="kams_rightsizing_window").value == "7 days"


@pytest.mark.usefixtures("prom_env")
def test_tab_forecast_names_the_crash_looping_pod() -> None:
    at = run_tab()
    text = all_text(at)
    assert "Forecast" in [str(header.value) for header in at.subheader]
    # invoice-sync restarts every five minutes (sandbox.life / the exporter's history): 12 an hour.
    assert re.search(r"Pod legacy/invoice-sync-\S+ restarts about \d+ times an hour", text), text


@pytest.mark.usefixtures("prom_env")
def test_tab_says_not_enough_data_with_a_long_minimum() -> None:
    at = run_tab(APP_NAMESPACE, min_history="3 days")  # the demo Prometheus holds 26 hours
    text = all_text(at)
    assert "Not enough data" in text
    recommendations = table_with(at, "Status")
    assert set(recommendations["Status"]) == {"not enough data"}
    assert not [frame for frame in at.dataframe if "CPU requested (m)" in frame.value.columns]  # no totals


@pytest.mark.usefixtures("prom_env")
def test_tab_warns_when_the_minimum_exceeds_the_window() -> None:
    at = run_tab(APP_NAMESPACE, min_history="3 days", window="1 day")
    assert "longer than the window" in all_text(at)


@pytest.mark.usefixtures("streamlit_caches")
def test_tab_without_prometheus_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    set_app_environment(monkeypatch, {})
    at = run_app_test(tab_script)
    text = all_text(at)
    assert "Right-sizing needs the usage history in Prometheus" in text
    assert "Set PROMETHEUS_URL" in text
    assert not at.dataframe


@pytest.mark.usefixtures("app_env")
def test_pods_page_right_sizing_tab() -> None:
    """The real app: Pods page, Right-sizing tab opened through its query parameter (?tab=Right-sizing)."""
    at = app_test(ROOT / "app.py", timeout=90)
    at.run()
    at.switch_page("pages/pods.py")
    at.query_params["tab"] = "Right-sizing"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    recommendations = table_with(at, "CPU recommended (m)")
    assert {"shop", "kube-system"} <= set(recommendations["Namespace"])
    assert "Forecast" in [str(header.value) for header in at.subheader]
    # Only the open tab runs: the pods table is not drawn.
    assert not [frame for frame in at.dataframe if "Name" in frame.value.columns]


def test_day_long_summaries_are_evaluated_at_ten_minute_steps(prom_env: None) -> None:
    """Right-sizing's 7-day p95 is heavy and barely moves in minutes: its cache (history=True) asks
    Prometheus at 10-minute steps, while the ordinary cache follows DATA_TTL_SECONDS. time() answers the
    evaluation time, so the real Prometheus shows which moment was asked."""
    from datetime import UTC, datetime

    from k8sdata.config import Settings
    from ui import data

    settings = Settings.from_env()
    before = datetime.now(UTC).timestamp()
    history = float(data.cached_prom(settings, history=True).instant("time()")["value"].iloc[0])
    recent = float(data.cached_prom(settings).instant("time()")["value"].iloc[0])
    after = datetime.now(UTC).timestamp()
    assert history % data.HISTORY_TTL_SECONDS == 0 and before - data.HISTORY_TTL_SECONDS < history <= after
    assert recent % data.DATA_TTL_SECONDS == 0 and before - data.DATA_TTL_SECONDS < recent <= after
