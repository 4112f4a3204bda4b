"""AppTest of the Requests page (pages/requests.py, ui.requests_view, ui.requests_data) against the real
demo Prometheus (fixture `prometheus`: 26 h of backfilled traffic of the two sample apps in `shop`, a
daily 5x spike at 19:30 UTC and an error burst at 14:00-14:10 UTC, then live traffic) and the stand-in
API server for the sidebar (fixture app_env).

Expected numbers come from Prometheus directly (a query written here, not the page's code path).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sandbox.demo_names import CRASHLOOP_POD, WEB
from tests.plugins.app import closed_port_url, page_script, run_app_test, table_with, texts

pytestmark = pytest.mark.usefixtures("app_env")

PAGE = page_script("requests")
SHOP_APPS = {("shop", "web"), ("shop", "api")}


def run_page(namespace: str | None = None, time_range: str | None = None, **params: str) -> AppTest:
    return run_app_test(PAGE, namespace, time_range=time_range, **params)


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def download_labels(at: AppTest) -> list[str]:
    return [button.label for button in at.get("download_button")]


def prometheus_value(prometheus: Any, query: str) -> float:
    result = prometheus.prometheus.query(query)
    return float(result[0]["value"][1]) if result else float("nan")


def test_applications_table_has_the_sample_apps_with_red_numbers(prometheus: Any) -> None:
    at = run_page()
    table = table_with(at, "Namespace", "Application", "Requests/s", "5xx errors", "p95 (ms)")
    assert set(zip(table["Namespace"], table["Application"], strict=True)) >= SHOP_APPS
    web = table[(table["Namespace"] == "shop") & (table["Application"] == "web")].iloc[0]
    expected = prometheus_value(prometheus, 'sum(rate(http_requests_total{namespace="shop",app="web"}[5m]))')
    assert web["Requests/s"] == pytest.approx(expected, rel=0.15)
    # one row per application: its own metrics first; an ingress in front of it is named beside them
    assert web["Metrics from"] == "prometheus_client"
    assert not table.duplicated(["Namespace", "Application"]).any()
    for column in ("5xx errors", "4xx errors"):
        assert 0 <= web[column] <= 100
    assert 0 < web["p50 (ms)"] <= web["p95 (ms)"] <= web["p99 (ms)"]
    assert "Download applications (CSV)" in download_labels(at)
    # the running workloads no request metric counts are listed, the sample apps are not
    uncovered = table_with(at, "Namespace", "Workload", "Pods")
    assert (CRASHLOOP_POD.namespace, "Deployment invoice-sync") in set(
        zip(uncovered["Namespace"], uncovered["Workload"], strict=True))
    assert "shop" not in set(uncovered["Namespace"])
    assert not uncovered["Workload"].str.startswith("Job ").any()
    # one query detected the conventions; the demo has only prometheus_client metrics
    assert any(text.startswith("Metrics found: prometheus_client") for text in texts(at.caption))


def test_choosing_an_application_shows_its_pods() -> None:
    at = run_page(app="shop/web")
    assert at.selectbox(key="app").value == "shop/web"
    pods = table_with(at, "Pod", "Requests/s")
    assert pods["Pod"].tolist() == [WEB.pod]
    assert set(pods["Application"]) == {"web"}
    assert "Download pods (CSV)" in download_labels(at)


def test_charts_of_one_application_with_the_days_spike_and_error_burst_marked() -> None:
    at = run_page(time_range="24h", app="shop/web", tab="Charts")
    specs = chart_specs(at)
    titles = [json.dumps(spec.get("title", "")) for spec in specs]
    assert len(specs) == 3, titles
    assert any("Request rate" in title for title in titles)
    moments = table_with(at, "Time", "Kind", "Application", "Size", "What happened")
    kinds = set(moments["Kind"])
    # the backfilled day holds the 19:30 UTC spike and the 14:00 UTC error burst of shop/web
    spikes = moments[moments["Kind"] == "traffic spike"]
    assert any(pd.Timestamp(t).hour in (19, 20) for t in spikes["Time"]), moments
    assert "error burst" in kinds, moments
    assert set(moments["Application"]) == {"web"}
    assert "Download notable moments (CSV)" in download_labels(at)
    rate = next(spec for spec in specs if "Request rate" in json.dumps(spec.get("title", "")))
    assert "layer" in rate, "the moments are drawn as rules over the rate line"


def test_a_namespace_without_request_metrics_explains_how_to_expose_them() -> None:
    at = run_page(namespace="batch")
    infos = texts(at.info)
    assert any("Nothing to show for batch" in text and "http_requests_total" in text for text in infos), infos
    assert not [frame for frame in at.dataframe if "Requests/s" in frame.value.columns]
    uncovered = table_with(at, "Namespace", "Workload", "Pods")
    assert set(uncovered["Namespace"]) == {"batch"} and len(uncovered) >= 1
    # an application linked from another namespace gives way to the sidebar's namespace
    charts = run_page(namespace="batch", tab="Charts", app="shop/web")
    assert charts.selectbox(key="app").value == ""
    assert not chart_specs(charts)
    assert any("Nothing to show" in text for text in texts(charts.info))


def test_endpoints_tab_breaks_down_by_path_method_and_status(prometheus: Any) -> None:
    at = run_page(tab="Endpoints", app="shop/web")
    busiest = table_with(at, "Application", "Method", "Path", "Requests/s", "p95 (ms)")
    assert len(busiest) >= 2 and set(busiest["Application"]) == {"shop/web"}
    assert busiest["Requests/s"].is_monotonic_decreasing
    assert all(path.startswith("/") for path in busiest["Path"])
    # counted once: the web's own metrics, not added to the ingress' count of the same requests
    home = busiest[(busiest["Method"] == "GET") & (busiest["Path"] == "/")].iloc[0]
    expected = prometheus_value(
        prometheus, 'sum(rate(http_requests_total{namespace="shop",app="web",method="GET",path="/"}[5m]))')
    assert home["Requests/s"] == pytest.approx(expected, rel=0.15)
    every = table_with(at, "Status", "Metrics from")
    assert set(every["Metrics from"]) == {"prometheus_client"}
    assert not every.duplicated(["Method", "Path", "Status"]).any()
    titles = [json.dumps(spec.get("title", "")) for spec in chart_specs(at)]
    assert any("status code" in title for title in titles), titles
    assert {"Download busiest (CSV)", "Download slowest (CSV)", "Download breakdown (CSV)"} <= set(
        download_labels(at))


def test_traffic_patterns_heatmap_and_comparison_with_yesterday() -> None:
    at = run_page(tab="Traffic patterns", time_range="6h")
    sentences = texts(at.markdown)
    assert any(text.startswith("Busiest hours (UTC): ") for text in sentences), sentences
    at.selectbox(key="kams_requests_compare").select("the same period yesterday")
    at.run()
    assert not at.exception
    sentences = texts(at.markdown)
    # 26 h of history: yesterday's same six hours are there, so a change is said in words
    assert any(re.search(r"requests/s on average, (\d+% (more|fewer) than|about the same as) the same "
                         r"period yesterday", text) for text in sentences), sentences
    titles = [json.dumps(spec.get("title", "")) for spec in chart_specs(at)]
    assert any("hour and weekday" in title for title in titles) and any("against" in t for t in titles)


def test_prometheus_down_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", closed_port_url())
    at = run_page()
    errors = texts(at.error)
    assert any(text.startswith("Request metrics are unavailable: ") and "Prometheus" in text
               for text in errors), errors
    assert not at.dataframe and not chart_specs(at)


def test_prometheus_that_never_answers_is_a_timeout_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    # A real listening socket that accepts connections and never answers: a hung Prometheus.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        monkeypatch.setenv("PROMETHEUS_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.setenv("KAMS_REQUEST_TIMEOUT", "1")
        at = run_page()
    errors = texts(at.error)
    assert any(text.startswith("Request metrics are unavailable: ") and "1 s" in text
               for text in errors), errors


# --- the view's pure helpers (no server) ----------------------------------------------------------------
def _convention(name: str) -> Any:
    from k8sdata.conventions import BUILTIN_CONVENTIONS

    return next(c for c in BUILTIN_CONVENTIONS if c.name == name)


def test_most_direct_keeps_one_convention_per_application_and_names_the_others() -> None:
    from ui.requests_view import most_direct

    chosen = [_convention("prometheus_client"), _convention("ingress-nginx")]
    frame = pd.DataFrame({
        "namespace": ["shop", "shop", "shop", "edge"], "workload": ["web", "web", "web", "proxy"],
        "path": ["/", "/cart", "/", "/"], "convention": ["ingress-nginx", "prometheus_client",
                                                        "prometheus_client", "ingress-nginx"],
        "rps": [5.0, 1.0, 2.0, 3.0]})
    kept = most_direct(frame, chosen)
    web = kept[kept["workload"] == "web"]
    assert set(web["convention"]) == {"prometheus_client"} and sorted(web["rps"]) == [1.0, 2.0]
    assert set(web["also_from"]) == {"ingress-nginx"}
    proxy = kept[kept["workload"] == "proxy"].iloc[0]  # only the ingress sees it: kept, nothing else named
    assert (proxy["convention"], proxy["also_from"], proxy["rps"]) == ("ingress-nginx", "", 3.0)


def test_comparison_sentence_and_selection() -> None:
    from ui.requests_view import comparison_sentence, parse_selection

    def frame(current: list[float], previous: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"current": current, "previous": previous})

    label = "the same period last week"
    assert comparison_sentence(frame([3.0, 3.0], [2.0, 2.0]), label) == (
        "3.00 requests/s on average, 50% more than the same period last week (2.00 requests/s).")
    assert "25% fewer" in comparison_sentence(frame([1.5], [2.0]), label)
    assert "about the same" in comparison_sentence(frame([2.001], [2.0]), label)
    assert "no requests for the same period last week" in comparison_sentence(
        frame([1.0], [float("nan")]), label)
    chosen = parse_selection("shop/web", None)
    assert (chosen.namespace, chosen.workload, chosen.label) == ("shop", "web", "shop/web")
    everything = parse_selection("", "batch")
    assert (everything.namespace, everything.workload) == ("batch", "")
    assert parse_selection("a b/c:d", None).file_stem == "a_b-c_d"
