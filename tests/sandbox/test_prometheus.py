"""The real Prometheus of the sandbox: backfilled history, live scrapes, exporter agreement, alerts and
the PromQL the app uses. All against the session `prometheus` fixture (tests/plugins/prometheus.py)."""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.request
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from sandbox import demo_names, traffic, usage
from sandbox.prometheus import MetricsSandbox
from sandbox.prometheus.backfill import LONG_STEP_SECONDS
from sandbox.prometheus.server import RULES_FILE

DAY = 86_400

REQUEST_RATE = "sum by (namespace, app) (rate(http_requests_total[5m]))"
ERROR_RATIO = ('sum by (namespace, app) (rate(http_requests_total{code=~"5.."}[5m])) / '
               "sum by (namespace, app) (rate(http_requests_total[5m]))")
P95 = ("histogram_quantile(0.95, sum by (namespace, app, le) "
       "(rate(http_request_duration_seconds_bucket[5m])))")
CPU = "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))"


def _by_app(result: list[dict[str, Any]]) -> dict[str, float]:
    return {row["metric"]["app"]: float(row["value"][1]) for row in result}


def _wait_for(check: Any, timeout: float = 40.0, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_backfilled_history_covers_the_past_day(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None and server.backfill_result is not None
    end = server.backfill_result.end
    assert end - server.backfill_result.start >= 26 * 3600
    for query in (REQUEST_RATE, ERROR_RATIO, CPU):
        result = server.query_range(query, end - DAY, end, 600)
        assert result, query
        for series in result:
            stamps = [float(stamp) for stamp, _value in series["values"]]
            assert stamps[0] == end - DAY and stamps[-1] == end, (query, series["metric"])
            assert all(math.isfinite(float(value)) for _stamp, value in series["values"])
    # the day has a shape: the busiest hour carries several times the quietest one
    web_rate = 'sum(rate(http_requests_total{app="web"}[5m]))'
    rates = [float(value) for _stamp, value in server.query_range(web_rate, end - DAY, end, 600)[0]["values"]]
    assert max(rates) > 3 * min(rates)
    # the daily error burst is in the history
    errors = server.query_range(f'max_over_time(({ERROR_RATIO})[{DAY}s:60s])', end, end, 60)
    assert max(float(series["values"][0][1]) for series in errors) > 0.1


def test_request_counters_reach_back_eight_days_without_a_seam(prometheus: MetricsSandbox) -> None:
    """The Requests page's weekly heatmap and "same period last week" need a week of request history."""
    server = prometheus.prometheus
    assert server is not None and server.backfill_result is not None
    result = server.backfill_result
    assert result.long_start is not None and result.end - result.long_start >= 8 * DAY - 300
    # a week ago the rate is the model's. Each sample adds the model's rate at its own time for one step,
    # so rate() over the window (extrapolated to both ends: every gap is under 1.1 steps) is the mean of
    # the model's rate at the window's samples after the first. Averaging the model over the window's
    # seconds instead missed by > 5 % whenever the window met the edge of a spike.
    at = result.end - 7 * DAY
    samples = [t for t in range(result.long_start, at + 1, LONG_STEP_SECONDS) if t >= at - 300]
    assert len(samples) >= 2
    for app, rate in _by_app(server.query(REQUEST_RATE, at)).items():
        expected = sum(traffic.expected_rate(app, t) for t in samples[1:]) / len(samples[1:])
        assert math.isclose(rate, expected, rel_tol=0.01), (app, rate, expected)
    # the older, coarser part and the full history are one counter: no reset where they meet
    resets = server.query("sum(resets(http_requests_total[2h]))", result.start + 3600)
    assert float(resets[0]["value"][1]) == 0
    # only the request counters reach back: latency and cluster series start with the full history
    old = result.end - 3 * DAY
    assert server.query("count(http_request_duration_seconds_bucket)", old) == []
    assert server.query("count(container_cpu_usage_seconds_total)", old) == []


def test_every_target_is_up_and_live_counters_grow(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None
    up = server.query("up")
    assert {row["metric"]["job"] for row in up} == {
        "web", "api", "kubelet", "kube-state-metrics", "ingress-nginx"}
    assert all(row["value"][1] == "1" for row in up)
    web = demo_names.WEB
    series = (f'http_requests_total{{app="web",namespace="{web.namespace}",pod="{web.pod}",'
              'method="GET",path="/products",code="200"}')
    assert server.backfill_result is not None
    backfill_end = server.backfill_result.end

    def live_value() -> float:  # 0 until the first live scrape of this series
        rows = server.query(f"{series} and timestamp({series}) > {backfill_end}")
        return float(rows[0]["value"][1]) if rows else 0.0

    before = live_value()
    # Drive traffic ourselves too, so the test does not depend on the hour. Only answers of 200 count in the
    # series: the web app passes the api's failures on as 502 (the demo's error burst, or a busy machine).
    succeeded = 0
    for _ in range(40):
        try:
            with urllib.request.urlopen(prometheus.apps["web"].url + "/products", timeout=5) as response:
                response.read()
            succeeded += 1
        except urllib.error.HTTPError as error:
            assert error.code == 502, error
        if succeeded == 10:
            break
    assert succeeded == 10, "the web app failed 30 of 40 requests"
    with urllib.request.urlopen(prometheus.apps["web"].url + "/metrics", timeout=5) as response:
        exposed = next(float(line.rsplit(" ", 1)[1]) for line in response.read().decode().splitlines()
                       if line.startswith('http_requests_total{code="200",method="GET",path="/products"}'))
    # Only a scrape that begins after we read the counter must hold at least that much: on a busy machine
    # one can begin while our ten requests are still going.
    sent_at = time.time()
    assert exposed >= before + 10

    def scraped_after_sending() -> float | None:
        rows = server.query(f"{series} and timestamp({series}) > {sent_at + 0.5}")
        return float(rows[0]["value"][1]) if rows else None

    scraped = _wait_for(scraped_after_sending, timeout=20, interval=0.5)
    assert scraped is not None, "no live scrape of the web app landed after we sent requests"
    # the scraped counter grew by at least our 10 requests, and holds what the app exposed after them
    assert scraped >= exposed >= before + 10


def test_exporter_values_match_the_usage_model(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None
    pod = next(pod for pod in prometheus.pods() if pod["metadata"]["name"] == demo_names.API.pod)
    selector = f'{{namespace="shop",pod="{demo_names.API.pod}",container="api"}}'
    # live: compare at the scrape's own timestamp
    row = server.query(f"container_memory_working_set_bytes{selector}")[0]
    stamp = float(server.query(f"timestamp(container_memory_working_set_bytes{selector})")[0]["value"][1])
    assert float(row["value"][1]) == usage.memory_bytes(pod, "api", stamp) or math.isclose(
        float(row["value"][1]), usage.memory_bytes(pod, "api", stamp), rel_tol=1e-5)
    # history: a sample twelve hours back holds the model's value for that minute
    assert server.backfill_result is not None
    past = server.backfill_result.end - 12 * 3600
    cpu = float(server.query(f"container_cpu_usage_seconds_total{selector}", at=past)[0]["value"][1])
    assert math.isclose(cpu, usage.cpu_seconds_total(pod, "api", past), rel_tol=1e-9)
    # The window starts half a step before a sample: Prometheus 3 leaves out a sample exactly on a
    # range's start and 2.x keeps it, so [5m] at a sample's time would see 5 samples on one and 6 on the
    # other. Both see the same 6 here, and rate() extrapolates 300 s of increase over 330 s to one slope.
    rate = server.query(f"rate(container_cpu_usage_seconds_total{selector}[330s])", at=past)[0]["value"][1]
    counter_then = usage.cpu_seconds_total(pod, "api", past - 300)
    expected = (usage.cpu_seconds_total(pod, "api", past) - counter_then) / 300
    assert math.isclose(float(rate), expected, rel_tol=1e-6)
    assert math.isclose(float(rate), usage.cpu_rate(pod, "api", past - 150), rel_tol=0.1)
    restarts = {(row["metric"]["pod"], row["metric"]["container"]): float(row["value"][1])
                for row in server.query("kube_pod_container_status_restarts_total")}
    for pod in prometheus.pods():
        for status in pod["status"].get("containerStatuses") or []:
            assert restarts[(pod["metadata"]["name"], status["name"])] == status["restartCount"]


def test_demo_alerts_fire(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None

    def firing() -> set[tuple[str, str]]:
        alerts = server.get_json("/api/v1/alerts")["alerts"]
        return {(alert["labels"]["alertname"], alert["labels"].get("pod", "")) for alert in alerts
                if alert["state"] == "firing"}

    pending_pod = next(pod["metadata"]["name"] for pod in prometheus.pods()
                       if pod["status"].get("phase") == "Pending")
    fired = _wait_for(lambda: {("KubePodNotReady", pending_pod)} <= firing(), timeout=40)
    assert fired, f"KubePodNotReady for {pending_pod} never fired; firing: {firing()}"
    assert any(name == "KubePodCrashLooping" for name, _pod in firing())
    rules = server.get_json("/api/v1/rules")["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"HighErrorRate", "HighLatencyP95", "ContainerMemoryNearLimit"} <= names
    assert all(rule["health"] == "ok" for group in rules for rule in group["rules"])


def _rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_app_alerts_hold_during_the_daily_error_burst_in_history(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None and server.backfill_result is not None
    end = server.backfill_result.end
    # eight minutes into the latest burst in the history, so the 5m windows lie inside it
    burst = end - (end - traffic.ERROR_BURST_START - 480) % DAY
    assert server.backfill_result.start + 600 < burst <= end
    expressions = _rule_expressions()
    for alert in ("HighErrorRate", "HighLatencyP95"):
        during = {row["metric"]["app"] for row in server.query(expressions[alert], at=burst)}
        assert during == {"web", "api"}, alert
        assert server.query(expressions[alert], at=burst - 3600) == [], f"{alert} holds outside the burst"


def test_memory_alert_holds_before_each_oom_kill_in_history(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None and server.backfill_result is not None
    expression = _rule_expressions()["ContainerMemoryNearLimit"].strip()
    end = server.backfill_result.end
    near_limit = server.query(f"max_over_time(({expression})[{DAY}s:5m])", at=end)
    oom_killed = {pod["metadata"]["name"] for pod in prometheus.pods()
                  for status in pod["status"].get("containerStatuses") or []
                  if ((status.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"}
    assert oom_killed and {row["metric"]["pod"] for row in near_limit} == oom_killed


def test_the_apps_promql_answers_for_both_apps(prometheus: MetricsSandbox) -> None:
    server = prometheus.prometheus
    assert server is not None
    rates = _by_app(server.query(REQUEST_RATE))
    assert set(rates) == {"web", "api"} and all(rate > 0 for rate in rates.values())
    assert rates["api"] > rates["web"]  # every page calls the api, and mobile clients call it directly
    ratios = _by_app(server.query(ERROR_RATIO))
    assert set(ratios) == {"web", "api"} and all(0 <= ratio <= 1 for ratio in ratios.values())
    p95 = _by_app(server.query(P95))
    assert set(p95) == {"web", "api"} and all(0.005 < seconds < 5 for seconds in p95.values())


def test_bucket_bounds_are_one_spelling_from_history_into_live_data(prometheus: MetricsSandbox) -> None:
    """Prometheus 3 rewrites a scraped `le` to its float spelling ("1" -> "1.0") and 2.x keeps what the
    app wrote; backfilled history (no TYPE lines) is kept as written by both. The history writes what
    prometheus_client exposes, so each bound is one series from yesterday into the live data on both."""
    server = prometheus.prometheus
    assert server is not None and server.backfill_result is not None
    spelled = server.get_json("/api/v1/label/le/values", {
        "match[]": 'http_request_duration_seconds_bucket{job="web"}', "start": server.backfill_result.start})
    assert sorted(spelled) == sorted(floatToGoString(bound) for bound in (*traffic.LATENCY_BUCKETS, math.inf))
    assert "1.0" in spelled
