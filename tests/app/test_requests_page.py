"""AppTest of the Requests page (pages/requests.py, ui.requests_view, ui.requests_data) against the real
demo Prometheus (fixture `prometheus`: 26 h of backfilled traffic of the two sample apps in `shop`, a
daily 5x spike at 19:30 UTC and an error burst at 14:00-14:10 UTC, then live traffic) and the stand-in
API server for the sidebar (fixture app_env).

Expected numbers come from Prometheus directly (a query written here, not the page's code path).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
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


def page_query_moment(prometheus: Any, since: int, fragment: str) -> float:
    """When Prometheus evaluated the page's query containing `fragment` (its query log's params.start):
    the traffic is live, so the page's figure is compared with Prometheus' at that same moment."""
    lines = prometheus.prometheus.query_log_path.read_text(encoding="utf-8").splitlines()[since:]
    moments = [datetime.fromisoformat(entry["params"]["start"].replace("Z", "+00:00")).timestamp()
               for entry in map(json.loads, lines)
               if "httpRequest" in entry and fragment in entry["params"].get("query", "")]
    assert moments, f"the page sent no query with {fragment!r}"
    return moments[-1]


def test_applications_table_has_the_sample_apps_with_red_numbers(prometheus: Any) -> None:
    mark = prometheus.prometheus.query_log_lines()
    at = run_page()
    table = table_with(at, "Namespace", "Application", "Requests/s", "5xx errors", "p95 (ms)")
    assert set(zip(table["Namespace"], table["Application"], strict=True)) >= SHOP_APPS
    web = table[(table["Namespace"] == "shop") & (table["Application"] == "web")].iloc[0]
    moment = page_query_moment(prometheus, mark, "sum by (namespace, app, code, kams_workload_source)")
    [answer] = prometheus.prometheus.query('sum(rate(http_requests_total{namespace="shop",app="web"}[5m]))',
                                           moment)
    expected = float(answer["value"][1])
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
    mark = prometheus.prometheus.query_log_lines()
    at = run_page(tab="Endpoints", app="shop/web")
    busiest = table_with(at, "Application", "Method", "Path", "Requests/s", "p95 (ms)")
    assert len(busiest) >= 2 and set(busiest["Application"]) == {"shop/web"}
    assert busiest["Requests/s"].is_monotonic_decreasing
    assert all(path.startswith("/") for path in busiest["Path"])
    # counted once: the web's own metrics, not added to the ingress' count of the same requests
    home = busiest[(busiest["Method"] == "GET") & (busiest["Path"] == "/")].iloc[0]
    moment = page_query_moment(prometheus, mark,
                               "sum by (namespace, app, path, method, code, kams_workload_source)")
    [answer] = prometheus.prometheus.query(
        'sum(rate(http_requests_total{namespace="shop",app="web",method="GET",path="/"}[5m]))', moment)
    expected = float(answer["value"][1])
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
    from k8sdata.requests.conventions import BUILTIN_CONVENTIONS

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


# --- bad input: hostile label values, a high-cardinality path, Prometheus warnings ------------------------
HOSTILE_NAMESPACE = 'ns"} or vector(1) #\\ <b>*x*<br>\n# heading'  # no "/": the picker's key splits there
HOSTILE_WORKLOAD = 'web\'"\\{}[link](http://evil.example) <script>alert(1)</script>\n- item'
HOSTILE_POD = 'pod"\\}{{\n:red[red] $x$'
HOSTILE_WARNING = "**partial** response <img src=x onerror=alert(1)> [click](http://evil.example)\n# big"
#: More distinct paths than the breakdown shows (ui.requests_view.MAX_BREAKDOWN_ROWS).
MANY_PATHS = 120


class _HostilePrometheus:
    """A stand-in Prometheus (stdlib HTTP server, free port) with one application whose namespace,
    workload and pod names are hostile and whose requests carry MANY_PATHS distinct paths (/item/1 ...,
    the busiest one hostile too). Each query is answered with those series summed by its `by (...)`
    labels (enough for KAMS' RED queries), the detection query with the first built-in convention, and
    every answer carries a hostile warning and info. It records every query it is sent."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qs, urlsplit

        from sandbox._http import ThreadedHTTPService

        fake = self
        self.queries: list[str] = []
        self.series = [({"namespace": HOSTILE_NAMESPACE, "app": HOSTILE_WORKLOAD, "pod": HOSTILE_POD,
                         "method": "GET", "code": "200",
                         "path": HOSTILE_WORKLOAD if index == 0 else f"/item/{index}"}, 1000.0 - index)
                       for index in range(MANY_PATHS)]

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {name: values[0] for name, values in parse_qs(url.query).items()}
                fake.queries.append(params.get("query", ""))
                body = json.dumps(fake.answer(params, ranged=url.path.endswith("query_range"))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.service = ThreadedHTTPService(Handler, thread_name="hostile-prometheus")

    def answer(self, params: dict[str, str], *, ranged: bool) -> dict[str, Any]:
        query = params.get("query", "")
        grouped: dict[tuple[tuple[str, str], ...], float] = {}
        if "label_replace(count(" in query:
            grouped[(("convention", "0"),)] = float(len(self.series))
        else:
            by = re.search(r"by \(([^)]*)\)", query)
            names = {name.strip() for name in by.group(1).split(",")} - {"le"} if by else set()
            for labels, value in self.series:
                # KAMS tags where each series' workload name comes from: here, the app label.
                tagged = {**labels, "kams_workload_source": "label app"}
                key = tuple(sorted((name, text) for name, text in tagged.items() if name in names))
                grouped[key] = grouped.get(key, 0.0) + value
        if ranged:
            start, end, step = (float(params[name]) for name in ("start", "end", "step"))
            stamps = [start + step * index for index in range(int((end - start) // step) + 1)]
            result: list[dict[str, Any]] = [
                {"metric": dict(key), "values": [[stamp, str(value)] for stamp in stamps]}
                for key, value in grouped.items()]
        else:
            result = [{"metric": dict(key), "value": [1700000000.0, str(value)]}
                      for key, value in grouped.items()]
        data = {"resultType": "matrix" if ranged else "vector", "result": result}
        return {"status": "success", "data": data,
                "warnings": [HOSTILE_WARNING], "infos": ["PromQL info: <i>note</i>"]}


@pytest.fixture
def hostile_prometheus(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = _HostilePrometheus()
    fake.service.start()
    monkeypatch.setenv("PROMETHEUS_URL", fake.service.url)
    yield fake
    fake.service.stop()


def _all_markdown(at: AppTest) -> list[str]:
    """The raw (still escaped) body of every element that renders Markdown."""
    elements = [*at.markdown, *at.caption, *at.warning, *at.info, *at.error, *at.subheader]
    return [str(element.value) for element in elements]


def _assert_markdown_is_inert(at: AppTest) -> None:
    for raw in _all_markdown(at):
        # escaped: no live HTML, link, emphasis, directive or math, never a line break (block syntax)
        assert not re.search(r"(?<!\\)<", raw), raw
        for live in ("[link]", "[click]", ":red[", "*x*", "$x$", "**partial**", "\n"):
            assert live not in raw, raw


def test_hostile_label_values_render_as_plain_text_and_are_escaped_in_promql(hostile_prometheus: Any) -> None:
    from k8sdata.requests.queries import escape_label_value

    key = f"{HOSTILE_NAMESPACE}/{HOSTILE_WORKLOAD}"
    at = run_page(app=key)
    assert at.selectbox(key="app").value == key
    apps = table_with(at, "Namespace", "Application", "Requests/s")
    assert apps["Namespace"].tolist() == [HOSTILE_NAMESPACE]
    assert apps["Application"].tolist() == [HOSTILE_WORKLOAD]  # exactly the value: a cell is plain text
    assert table_with(at, "Pod", "Requests/s")["Pod"].tolist() == [HOSTILE_POD]
    assert any(f"Pods of {HOSTILE_NAMESPACE}/{HOSTILE_WORKLOAD}".replace("\n", " ") in text
               for text in texts(at.subheader))
    _assert_markdown_is_inert(at)
    # the endpoints tab asks for this one application: its names reach PromQL escaped, never raw
    hostile_prometheus.queries.clear()
    endpoints = run_page(app=key, tab="Endpoints")
    _assert_markdown_is_inert(endpoints)
    selected = [query for query in hostile_prometheus.queries if "namespace=" in query]
    assert selected, hostile_prometheus.queries
    for query in selected:
        assert f'"{escape_label_value(HOSTILE_NAMESPACE)}"' in query, query
        assert f'"{escape_label_value(HOSTILE_WORKLOAD)}"' in query, query
        assert HOSTILE_NAMESPACE not in query and HOSTILE_WORKLOAD not in query


def test_prometheus_warnings_are_shown_escaped_on_every_tab(hostile_prometheus: Any) -> None:
    for tab in ("Applications", "Endpoints", "Charts"):
        at = run_page(tab=tab, app=f"{HOSTILE_NAMESPACE}/{HOSTILE_WORKLOAD}")
        warnings = [text for text in texts(at.warning) if text.startswith("Prometheus warned")]
        assert warnings, (tab, texts(at.warning), texts(at.error))
        assert " ".join(HOSTILE_WARNING.split()) in warnings[0]
        assert "PromQL info: <i>note</i>" in warnings[0]
        _assert_markdown_is_inert(at)


def test_a_high_cardinality_path_breakdown_is_capped_with_a_sentence(hostile_prometheus: Any) -> None:
    from ui.requests_view import MAX_BREAKDOWN_ROWS

    at = run_page(tab="Endpoints", app=f"{HOSTILE_NAMESPACE}/{HOSTILE_WORKLOAD}")
    every = table_with(at, "Status", "Metrics from")
    assert len(every) == MAX_BREAKDOWN_ROWS
    assert every["Requests/s"].is_monotonic_decreasing
    assert every["Path"].iloc[0] == HOSTILE_WORKLOAD  # the busiest, exactly as Prometheus sent it
    captions = texts(at.caption)
    assert any(f"Showing the {MAX_BREAKDOWN_ROWS} busiest of {MANY_PATHS} rows "
               f"({MANY_PATHS - MAX_BREAKDOWN_ROWS} quieter ones left out)" in text
               and "route template" in text for text in captions), captions


def test_cap_breakdown_keeps_the_busiest_rows() -> None:
    from ui.requests_view import cap_breakdown

    frame = pd.DataFrame({"namespace": "shop", "workload": "web", "path": [f"/p{i}" for i in range(5)],
                          "method": "GET", "code": "200", "rps": [1.0, 5.0, 3.0, float("nan"), 4.0]})
    kept, sentence = cap_breakdown(frame, limit=3)
    assert kept["path"].tolist() == ["/p1", "/p4", "/p2"]
    assert sentence.startswith("Showing the 3 busiest of 5 rows (2 quieter ones left out).")
    assert "route template" in sentence  # 5 distinct paths for 3 rows: the path label is the cause
    same_path = frame.assign(path="/", code=["200", "500", "404", "503", "302"])
    assert "route template" not in cap_breakdown(same_path, limit=3)[1]
    everything, nothing = cap_breakdown(frame, limit=5)
    assert len(everything) == 5 and nothing == ""
