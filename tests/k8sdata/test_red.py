"""RED metrics against real Prometheus servers, compared with numbers known in advance.

- A small Prometheus for this module, backfilled with Istio, Linkerd and custom-convention series whose
  rates are constant and whose latency histograms (in milliseconds) have known shapes: rates, error
  ratios and quantiles (Prometheus' linear interpolation within a bucket) are known analytically.
- The session's demo Prometheus: the sample apps' and the ingress's history come from sandbox.traffic,
  so at a backfilled moment the expected numbers follow from the model.

Queries are evaluated 30 s after a backfilled sample: a 5-minute window then holds five samples one
minute apart and rate()'s extrapolation to the window's edges is exact for these counters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.requests.conventions import (
    INGRESS_NGINX,
    ISTIO,
    LINKERD,
    PROMETHEUS_CLIENT,
    conventions_from_settings,
    detect_conventions,
)
from k8sdata.requests.queries import escape_label_value, label_name
from k8sdata.requests.red import (
    BREAKDOWN_COLUMNS,
    HISTORY_COLUMNS,
    HISTORY_METRICS,
    RED_COLUMNS,
    red_breakdown,
    red_history,
    red_summary,
    request_volume,
)
from k8sdata.sources.prom import PromClient
from sandbox import demo_names, ingress, traffic
from sandbox.prometheus import PrometheusServer
from sandbox.prometheus.flavours import BUILT, Flavour

TOLERANCE = 0.01  # "agree within 1%"


class CountingProm(PromClient):
    """The real client, counting the queries it sends."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=10)
        self.sent = 0

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame:
        self.sent += 1
        return super().instant(query, at)

    def range(self, query: str, start: datetime, end: datetime, step: float) -> pd.DataFrame:
        self.sent += 1
        return super().range(query, start, end, step)


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile for cumulative (upper bound, count) pairs ending with +Inf:
    linear interpolation inside the bucket holding the rank; the first bucket starts at 0."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    rank = q * total
    index = next(i for i, (_bound, count) in enumerate([*buckets[:-1], (math.inf, math.inf)])
                 if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    start, below = (0.0, 0.0) if index == 0 else buckets[index - 1]
    end, count = buckets[index]
    return start + (end - start) * (rank - below) / (count - below)


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=1e-9)


# -- a Prometheus with mesh and custom series ------------------------------------------------------


@dataclass(frozen=True)
class Counter:
    name: str
    labels: dict[str, str]
    per_second: float  # the counter grows this much every second


@dataclass
class ConstantRates:
    """BackfillSource: counters growing at constant rates (value = rate x seconds since the start)."""

    counters: Sequence[Counter]

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        origin = times[0] - 3600  # counters were running before the history begins
        for counter in self.counters:
            prefix = series_text(counter.name, counter.labels) + " "
            out.write("".join(f"{prefix}{counter.per_second * (at - origin)!r} {at}\n" for at in times))
        return len(self.counters) * len(times)


def series_text(name: str, labels: dict[str, str]) -> str:
    """An OpenMetrics series: name{labels}, with names that are not classic ones quoted, as Prometheus 3
    writes them (`{"http.server.request.count","k8s.pod.name"="web-0"}`)."""
    pairs = [f'{label_name(key)}="{escape_label_value(value)}"' for key, value in sorted(labels.items())]
    if label_name(name) == name:
        return name + "{" + ",".join(pairs) + "}"
    return "{" + ",".join([f'"{escape_label_value(name)}"', *pairs]) + "}"


def histogram(name: str, labels: dict[str, str], rate: float,
              cumulative: dict[float, float]) -> list[Counter]:
    """Bucket counters of a histogram observing `rate` events/s, `cumulative[le]` of them <= le."""
    return [Counter(name, {**labels, "le": "+Inf" if math.isinf(le) else f"{le:g}"}, rate * share)
            for le, share in cumulative.items()]


def uniform(upper: float, bounds: Sequence[float]) -> dict[float, float]:
    """Latencies spread evenly over [0, upper]: the share below each bound, +Inf included."""
    return {**{bound: min(1.0, bound / upper) for bound in bounds}, math.inf: 1.0}


ISTIO_BOUNDS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500)  # milliseconds
#: Istio: reviews has two pods; every request is seen twice (source and destination reporter).
ISTIO_PODS = {
    "reviews-v1-5d8b9": {"codes": {"200": 6.0, "404": 0.6, "503": 0.3}, "upper_ms": 100.0},
    "reviews-v2-7f6c4": {"codes": {"200": 3.0, "500": 0.1}, "upper_ms": 400.0},
}
LINKERD_BOUNDS = (1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000)
CUSTOM_BOUNDS = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
#: A Linkerd deployment whose name is PromQL syntax: it must be matched as one literal value.
HOSTILE_WORKLOAD = 'web"} or vector(1) # \\ .* \n'
#: Linkerd workloads that are not Deployments: linkerd-viz's scrape names each pod's workload by its kind
#: (the pod's linkerd.io/proxy-statefulset or -daemonset label becomes `statefulset` / `daemonset`).
LINKERD_STATEFULSET_PODS = {
    "redis-0": {"codes": {"200": 2.0, "503": 0.5}, "upper_ms": 50.0},
    "redis-1": {"codes": {"200": 1.5}, "upper_ms": 500.0},
}
LINKERD_DAEMONSET_PODS = {
    "node-agent-7xk2p": {"codes": {"200": 1.0, "404": 0.25}, "upper_ms": 20.0},
    "node-agent-q9d4m": {"codes": {"200": 1.0, "404": 0.25}, "upper_ms": 20.0},
}
#: Istio names a StatefulSet by destination_workload like any workload; this one is scraped without a
#: `pod` label (its scrape config calls it kubernetes_pod_name), and has no latency histogram.
UNPODDED_WORKLOAD, UNPODDED_POD, UNPODDED_RPS = "ratings-db", "ratings-db-0", 2.0


def linkerd_kind_counters() -> list[Counter]:
    """Linkerd series of a StatefulSet and a DaemonSet (inbound, plus outbound traffic that is not
    theirs to count), and of a bare pod that belongs to no workload."""
    counters: list[Counter] = []
    kinds = (("statefulset", "data", "redis", LINKERD_STATEFULSET_PODS),
             ("daemonset", "monitoring", "node-agent", LINKERD_DAEMONSET_PODS))
    for kind, namespace, workload, pods in kinds:
        for pod, spec in pods.items():
            for code, rate in spec["codes"].items():  # type: ignore[attr-defined]
                labels = {"direction": "inbound", "namespace": namespace, kind: workload, "pod": pod,
                          "status_code": code, "controller_revision_hash": f"{workload}-6c9f8b7d4",
                          "classification": "success" if code < "500" else "failure", "tls": "true"}
                counters.append(Counter("response_total", labels, rate))
                counters += histogram("response_latency_ms_bucket", labels, rate,
                                      uniform(spec["upper_ms"], LINKERD_BOUNDS))  # type: ignore[arg-type]
            counters.append(Counter("response_total", {
                "direction": "outbound", "namespace": namespace, kind: workload, "pod": pod,
                "status_code": "200", "dst_deployment": "web"}, 7.0))
    counters.append(Counter("response_total", {"direction": "inbound", "namespace": "emojivoto",
                                               "pod": "debug-shell", "status_code": "200"}, 3.0))
    return counters


def mesh_counters() -> list[Counter]:
    counters: list[Counter] = []
    for pod, spec in ISTIO_PODS.items():
        for code, rate in spec["codes"].items():  # type: ignore[attr-defined]
            for reporter in ("destination", "source"):
                labels = {"reporter": reporter, "destination_workload_namespace": "bookinfo",
                          "destination_workload": "reviews", "destination_service": "reviews.bookinfo.svc",
                          "source_workload": "productpage-v1", "response_code": code,
                          "request_protocol": "http", "namespace": "bookinfo",
                          "pod": pod if reporter == "destination" else "productpage-v1-6b746f74dc-9stvs"}
                # The source side sees more (retries): it must never be counted.
                scale = 1.0 if reporter == "destination" else 1.5
                counters.append(Counter("istio_requests_total", labels, rate * scale))
                counters += histogram("istio_request_duration_milliseconds_bucket", labels, rate * scale,
                                      uniform(spec["upper_ms"], ISTIO_BOUNDS))  # type: ignore[arg-type]
    for direction, rates in (("inbound", {"200": 4.0, "500": 1.0}), ("outbound", {"200": 10.0})):
        for code, rate in rates.items():
            labels = {"direction": direction, "namespace": "emojivoto", "deployment": "web",
                      "pod": "web-85d7b8d9c5-qx4fz", "status_code": code,
                      "classification": "success" if code == "200" else "failure", "tls": "true"}
            counters.append(Counter("response_total", labels, rate))
            counters += histogram("response_latency_ms_bucket", labels, rate, uniform(200.0, LINKERD_BOUNDS))
    counters.append(Counter("response_total", {"direction": "inbound", "namespace": "emojivoto",
                                               "deployment": HOSTILE_WORKLOAD, "pod": "hostile-0",
                                               "status_code": "200"}, 1.0))
    counters += linkerd_kind_counters()
    for reporter, scale in (("destination", 1.0), ("source", 1.5)):
        counters.append(Counter("istio_requests_total", {
            "reporter": reporter, "destination_workload_namespace": "bookinfo",
            "destination_workload": UNPODDED_WORKLOAD, "response_code": "200",
            "kubernetes_pod_name": UNPODDED_POD if reporter == "destination" else "ratings-v1-0"},
            UNPODDED_RPS * scale))
    for code, rate in (("200", 5.0), ("429", 0.5)):
        for handler, share in (("/pay", 0.8), ("/refund", 0.2)):
            labels = {"kubernetes_namespace": "payments", "service": "checkout",
                      "kubernetes_pod_name": "checkout-0", "status": code, "verb": "POST", "handler": handler}
            counters.append(Counter("myapp_requests_total", labels, rate * share))
            counters += histogram("myapp_latency_ms_bucket", labels, rate * share,
                                  uniform(1000.0 if handler == "/pay" else 500.0, CUSTOM_BOUNDS))
    return counters


@contextlib.contextmanager
def constant_rates_prometheus(counters: Sequence[Counter], flavour: Flavour
                              ) -> Iterator[tuple[PrometheusServer, datetime]]:
    """A Prometheus with 40 minutes of `counters`; yields it and the moment to query."""
    server = PrometheusServer([], backfill=[ConstantRates(counters)], backfill_hours=40 / 60,
                              rules=False, wait_for_targets=False, flavour=flavour).start()
    try:
        assert server.backfill_result is not None
        yield server, datetime.fromtimestamp(server.backfill_result.end + 30, UTC)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mesh(prometheus_flavour: Flavour) -> Iterator[tuple[PrometheusServer, datetime]]:
    """Mesh and custom history."""
    with constant_rates_prometheus(mesh_counters(), prometheus_flavour) as served:
        yield served


CUSTOM_SETTINGS = {
    "KAMS_REQUESTS_METRIC": "myapp_requests_total", "KAMS_REQUEST_DURATION_METRIC": "myapp_latency_ms",
    "KAMS_REQUEST_DURATION_UNIT": "ms", "KAMS_REQUEST_NAMESPACE_LABEL": "kubernetes_namespace",
    "KAMS_REQUEST_WORKLOAD_LABEL": "service", "KAMS_REQUEST_POD_LABEL": "kubernetes_pod_name",
    "KAMS_REQUEST_STATUS_LABEL": "status", "KAMS_REQUEST_METHOD_LABEL": "verb",
    "KAMS_REQUEST_PATH_LABEL": "handler"}


def custom_convention(tmp_path: Path) -> Any:
    return conventions_from_settings(Settings.from_env(CUSTOM_SETTINGS, home=tmp_path))[0]


def only(frame: pd.DataFrame, **match: str) -> pd.Series:
    selected = frame
    for column, value in match.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1, f"{match}: {selected}"
    return selected.iloc[0]


def test_istio_destination_side_in_seconds(mesh: tuple[PrometheusServer, datetime]) -> None:
    server, at = mesh
    frame = red_summary(PromClient(server.url, 10), [ISTIO], at=at)
    row = only(frame, workload="reviews")
    assert (row["namespace"], row["pod"], row["convention"]) == ("bookinfo", "", "istio")
    total = sum(sum(spec["codes"].values()) for spec in ISTIO_PODS.values())  # type: ignore[attr-defined]
    assert close(row["rps"], total)  # the source reporter's copies are not counted
    assert close(row["error_ratio_5xx"], 0.4 / total) and close(row["error_ratio"], 0.4 / total)
    assert close(row["error_ratio_4xx"], 0.6 / total)
    # Both pods' histograms together: each pod's rate times its uniform shape, interpolated.
    buckets = [(le, sum(sum(spec["codes"].values()) * uniform(spec["upper_ms"], ISTIO_BOUNDS)[le]  # type: ignore
                        for spec in ISTIO_PODS.values())) for le in (*ISTIO_BOUNDS, math.inf)]
    for column, q in (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99)):
        assert close(row[column], bucket_quantile(q, buckets) / 1000), column


def test_istio_per_pod(mesh: tuple[PrometheusServer, datetime]) -> None:
    server, at = mesh
    frame = red_summary(PromClient(server.url, 10), [ISTIO], level="pod", at=at)
    frame = frame[frame["workload"] == "reviews"]
    assert frame["pod"].tolist() == sorted(ISTIO_PODS)
    for pod, spec in ISTIO_PODS.items():
        row = only(frame, pod=pod)
        assert close(row["rps"], sum(spec["codes"].values()))  # type: ignore[attr-defined]
        shape = uniform(spec["upper_ms"], ISTIO_BOUNDS)  # type: ignore[arg-type]
        for column, q in (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99)):
            assert close(row[column], bucket_quantile(q, list(shape.items())) / 1000), (pod, column)
    # reviews-v1 is uniform over [0, 100 ms] and 100 ms is a bucket edge: the true quantiles, exactly.
    assert close(only(frame, pod="reviews-v1-5d8b9")["p99_seconds"], 0.099)


def test_linkerd_inbound_in_seconds(mesh: tuple[PrometheusServer, datetime]) -> None:
    server, at = mesh
    row = only(red_summary(PromClient(server.url, 10), [LINKERD], level="pod", at=at), workload="web")
    assert (row["namespace"], row["pod"], row["convention"]) == (
        "emojivoto", "web-85d7b8d9c5-qx4fz", "linkerd")
    assert close(row["rps"], 5.0)  # inbound only: the outbound 10/s are other workloads' requests
    assert close(row["error_ratio"], 0.2) and row["error_ratio_4xx"] == 0
    assert close(row["p50_seconds"], 0.100) and close(row["p95_seconds"], 0.190)
    assert close(row["p99_seconds"], 0.198)


def test_custom_convention_from_settings(mesh: tuple[PrometheusServer, datetime], tmp_path: Path) -> None:
    server, at = mesh
    custom = custom_convention(tmp_path)
    prom = PromClient(server.url, 10)
    row = only(red_summary(prom, [custom], level="pod", at=at), workload="checkout")
    assert (row["namespace"], row["pod"]) == ("payments", "checkout-0")
    assert close(row["rps"], 5.5) and close(row["error_ratio_4xx"], 0.5 / 5.5) and row["error_ratio"] == 0
    # 80% uniform over 1 s, 20% over 0.5 s: the median is where 0.8 x t + 0.2 x 2t = 0.5, t = 5/12 s.
    assert close(row["p50_seconds"], 5 / 12)
    breakdown = red_breakdown(prom, [custom], at=at)
    assert list(breakdown.columns) == BREAKDOWN_COLUMNS
    pay = breakdown[breakdown["path"] == "/pay"]
    assert pay["code"].tolist() == ["200", "429"] and (pay["method"] == "POST").all()
    assert close(pay["rps"].sum(), 4.4) and (pay["error_ratio"] == 0).all()
    assert close(pay["p95_seconds"].iloc[0], 0.95)
    refund = only(breakdown, path="/refund", code="429")
    assert close(refund["rps"], 0.1) and close(refund["p95_seconds"], 0.475)


def test_a_fixed_number_of_queries_per_convention(mesh: tuple[PrometheusServer, datetime],
                                                  tmp_path: Path) -> None:
    server, at = mesh
    prom = CountingProm(server.url)
    conventions = [ISTIO, LINKERD, custom_convention(tmp_path)]
    for level in ("workload", "pod"):
        prom.sent = 0
        red_summary(prom, conventions, level=level, at=at)  # type: ignore[arg-type]
        assert prom.sent == 4 * len(conventions)  # rate by status + three quantiles
    prom.sent = 0
    red_history(prom, conventions, start=at - timedelta(minutes=20), end=at, step=60)
    assert prom.sent == 4 * len(conventions)
    prom.sent = 0
    red_breakdown(prom, conventions, at=at)
    assert prom.sent == 2 * len(conventions)
    prom.sent = 0
    request_volume(prom, conventions, start=at - timedelta(minutes=20), end=at, step=60)
    assert prom.sent == len(conventions)
    prom.sent = 0
    assert red_summary(prom, [], at=at).empty and prom.sent == 0


def test_history_is_long_and_complete(mesh: tuple[PrometheusServer, datetime]) -> None:
    server, at = mesh
    prom = PromClient(server.url, 10)
    history = red_history(prom, [LINKERD, ISTIO], start=at - timedelta(minutes=20), end=at, step=60)
    assert list(history.columns) == HISTORY_COLUMNS
    assert str(history["time"].dtype).startswith("datetime64") and history["time"].dt.tz is not None
    assert set(history["metric"]) == set(HISTORY_METRICS)
    web = history[(history["workload"] == "web") & (history["metric"] == "rps")]
    assert len(web) == 21 and all(close(value, 5.0) for value in web["value"])
    p95 = history[(history["workload"] == "web") & (history["metric"] == "p95_seconds")]
    assert all(close(value, 0.19) for value in p95["value"])
    assert history.groupby(["namespace", "workload", "metric", "time"]).size().max() == 1
    volume = request_volume(prom, [LINKERD, ISTIO], start=at - timedelta(minutes=20), end=at, step=60)
    assert list(volume.columns) == ["time", "rps"] and len(volume) == 21
    # Linkerd: web 5, the hostile deployment 1, redis 4, node-agent 2.5 (not the bare pod's 3);
    # Istio: reviews 10, ratings-db 2.
    assert all(close(value, 5.0 + 1.0 + 4.0 + 2.5 + 10.0 + 2.0) for value in volume["rps"])
    only_web = request_volume(prom, [LINKERD, ISTIO], workload="web", start=at - timedelta(minutes=5), end=at,
                              step=60)
    assert all(close(value, 5.0) for value in only_web["rps"])


def test_empty_selections_keep_their_columns(mesh: tuple[PrometheusServer, datetime]) -> None:
    server, at = mesh
    prom = PromClient(server.url, 10)
    hostile = 'x"} or vector(1) or up{a="'
    assert list(red_summary(prom, [ISTIO], namespace=hostile, at=at).columns) == RED_COLUMNS
    assert red_summary(prom, [ISTIO], namespace=hostile, at=at).empty
    assert red_breakdown(prom, [LINKERD], workload=hostile, at=at).empty
    history = red_history(prom, [ISTIO], namespace=hostile, start=at - timedelta(minutes=5), end=at, step=60)
    assert history.empty and list(history.columns) == HISTORY_COLUMNS
    volume = request_volume(prom, [], start=at - timedelta(minutes=5), end=at, step=60)
    assert volume.empty and list(volume.columns) == ["time", "rps"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24))
@example(value=HOSTILE_WORKLOAD)
@example(value="web")
@example(value="redis")
def test_any_workload_value_stays_one_literal_matcher(mesh: tuple[PrometheusServer, datetime],
                                                      value: str) -> None:
    """Whatever a user picks as workload, the real Prometheus matches exactly that one value."""
    server, at = mesh
    prom = PromClient(server.url, 10)
    try:
        frame = red_breakdown(prom, [LINKERD], workload=value, at=at)
    finally:
        prom.close()
    linkerd_workloads = ("web", HOSTILE_WORKLOAD, "redis", "node-agent")
    assert set(frame["workload"]) == ({value} if value in linkerd_workloads else set())


def _pods_buckets(pods: dict[str, dict[str, Any]]) -> list[tuple[float, float]]:
    """The pods' histograms added up: each pod's rate times its uniform shape, per bound."""
    return [(le, sum(sum(spec["codes"].values()) * uniform(spec["upper_ms"], LINKERD_BOUNDS)[le]
                     for spec in pods.values())) for le in (*LINKERD_BOUNDS, math.inf)]


def test_linkerd_statefulset_and_daemonset_are_workloads(mesh: tuple[PrometheusServer, datetime]) -> None:
    """Linkerd names a StatefulSet's pods by `statefulset` and a DaemonSet's by `daemonset`: both are
    workloads like a Deployment, in the same 4 queries; a bare pod (no workload label) is none."""
    server, at = mesh
    prom = CountingProm(server.url)
    frame = red_summary(prom, [LINKERD], at=at)
    assert prom.sent == 4
    assert frame[["namespace", "workload"]].values.tolist() == [
        ["data", "redis"], ["emojivoto", "web"], ["emojivoto", HOSTILE_WORKLOAD],
        ["monitoring", "node-agent"]]
    redis = only(frame, workload="redis")
    assert close(redis["rps"], 4.0) and close(redis["error_ratio"], 0.5 / 4.0)
    assert redis["error_ratio_4xx"] == 0
    buckets = _pods_buckets(LINKERD_STATEFULSET_PODS)
    for column, q in (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99)):
        assert close(redis[column], bucket_quantile(q, buckets) / 1000), column
    agent = only(frame, workload="node-agent")
    assert close(agent["rps"], 2.5) and agent["error_ratio"] == 0 and close(agent["error_ratio_4xx"], 0.2)
    # Uniform over [0, 20 ms] with a bucket edge at 20 ms: the true quantiles, exactly.
    assert close(agent["p50_seconds"], 0.010) and close(agent["p95_seconds"], 0.019)
    assert close(only(frame, workload="web")["rps"], 5.0)  # the bare pod's 3/s are nobody's

    pods = red_summary(prom, [LINKERD], level="pod", at=at)
    assert sorted(pods[pods["workload"] == "redis"]["pod"]) == sorted(LINKERD_STATEFULSET_PODS)
    assert sorted(pods[pods["workload"] == "node-agent"]["pod"]) == sorted(LINKERD_DAEMONSET_PODS)
    assert "debug-shell" not in set(pods["pod"]) and "" not in set(pods["workload"])
    redis0, redis1 = only(pods, pod="redis-0"), only(pods, pod="redis-1")
    assert close(redis0["rps"], 2.5) and close(redis0["error_ratio"], 0.2) and close(redis1["rps"], 1.5)
    assert close(redis0["p50_seconds"], 0.025) and close(redis1["p99_seconds"], 0.495)


def test_linkerd_selection_by_statefulset_or_daemonset(mesh: tuple[PrometheusServer, datetime]) -> None:
    """Choosing a StatefulSet or DaemonSet by name selects it in every view, with the same query count."""
    server, at = mesh
    prom = CountingProm(server.url)
    breakdown = red_breakdown(prom, [LINKERD], workload="redis", at=at)
    assert prom.sent == 2
    assert set(breakdown["workload"]) == {"redis"} and breakdown["code"].tolist() == ["200", "503"]
    assert close(breakdown["rps"].sum(), 4.0) and (breakdown["path"] == "").all()
    start = at - timedelta(minutes=10)
    history = red_history(prom, [LINKERD], workload="node-agent", start=start, end=at, step=60)
    assert set(history["workload"]) == {"node-agent"}
    rates = history[history["metric"] == "rps"]
    assert len(rates) == 11 and all(close(value, 2.5) for value in rates["value"])
    p95 = history[history["metric"] == "p95_seconds"]
    assert len(p95) == 11 and all(close(value, 0.019) for value in p95["value"])
    volume = request_volume(prom, [LINKERD], namespace="data", start=start, end=at, step=60)
    assert all(close(value, 4.0) for value in volume["rps"])
    pod = red_summary(prom, [LINKERD], level="pod", namespace="monitoring", at=at)
    assert pod["pod"].tolist() == sorted(LINKERD_DAEMONSET_PODS)


def test_detection_sees_linkerd_workloads_of_every_kind(mesh: tuple[PrometheusServer, datetime]) -> None:
    """In a namespace whose only meshed workload is a StatefulSet, Linkerd is detected; read by its
    `deployment` label alone it would not be."""
    server, at = mesh
    prom = CountingProm(server.url)
    in_data = dataclasses.replace(LINKERD, name="linkerd-data",
                                  matchers=(*LINKERD.matchers, ("namespace", "data")))
    deployments_only = dataclasses.replace(in_data, name="deployments-only", workload_fallback_labels=())
    assert detect_conventions(prom, [deployments_only, in_data], at=at) == [in_data]
    assert prom.sent == 1


def test_istio_without_a_pod_label(mesh: tuple[PrometheusServer, datetime], tmp_path: Path) -> None:
    """Istio's metrics name no pod: the scrape must add it. Without a `pod` label the workload's per-pod
    row has an empty pod; a custom convention on istio_requests_total names the scrape's label and keeps
    Istio's reporter="destination" (the source side's copies are not counted)."""
    server, at = mesh
    prom = PromClient(server.url, 10)
    pods = red_summary(prom, [ISTIO], level="pod", at=at)
    unpodded = only(pods, workload=UNPODDED_WORKLOAD)
    assert unpodded["pod"] == "" and close(unpodded["rps"], UNPODDED_RPS)
    assert math.isnan(unpodded["p95_seconds"])  # no histogram series for it
    custom = conventions_from_settings(Settings.from_env({
        "KAMS_REQUESTS_METRIC": "istio_requests_total",
        "KAMS_REQUEST_DURATION_METRIC": "istio_request_duration_milliseconds",
        "KAMS_REQUEST_DURATION_UNIT": "ms", "KAMS_REQUEST_NAMESPACE_LABEL": "destination_workload_namespace",
        "KAMS_REQUEST_WORKLOAD_LABEL": "destination_workload",
        "KAMS_REQUEST_POD_LABEL": "kubernetes_pod_name",
        "KAMS_REQUEST_STATUS_LABEL": "response_code"}, home=tmp_path))[0]
    assert custom.matchers == ISTIO.matchers
    row = only(red_summary(prom, [custom], level="pod", at=at), workload=UNPODDED_WORKLOAD)
    assert row["pod"] == UNPODDED_POD and close(row["rps"], UNPODDED_RPS)


def test_prometheus_down_is_a_source_error() -> None:
    from sandbox.prometheus.server import free_port

    prom = PromClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(SourceError) as caught:
        red_summary(prom, [PROMETHEUS_CLIENT])
    assert "Prometheus" in caught.value.sentence


# -- the demo: the sample apps and the ingress, from the traffic model -------------------------------


def _app_expectation(app: str, sample: int) -> dict[str, float]:
    """What the backfill's counters say at `sample` + 30 s over 5 minutes: the four increments the
    window holds (each sample adds one step of the model's rate at its own time)."""
    times = [sample - 60 * back for back in range(4)]
    requests = sum(traffic.expected_rate(app, at) for at in times) / 4
    errors = sum(traffic.expected_rate(app, at) * traffic.error_ratio(app, at) for at in times) / 4
    bounds = (*traffic.LATENCY_BUCKETS, math.inf)
    buckets = [(bound, sum(rate * traffic.fraction_at_or_below(bound, traffic.latency_median(app, route, at))
                           for at in times for route, rate in traffic.route_rates(app, at).items()))
               for bound in bounds]
    return {"rps": requests, "error_ratio": errors / requests,
            **{column: bucket_quantile(q, buckets) for column, q in
               (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99))}}


def _ingress_expectation(app: str, sample: int) -> dict[str, float]:
    """The ingress's counters integrate per-minute rates: the increase over [sample - 240, sample]."""
    start, end = sample - 240, sample
    rule = next(rule for rule in ingress.RULES if rule.app == app)
    totals: dict[tuple[str, str], float] = {}
    minute = start - start % 60
    while minute < end:
        overlap = min(end, minute + 60) - max(start, minute)
        for (name, labels), rate in zip(ingress.SERIES, ingress.per_second(minute), strict=True):
            own = dict(labels)
            if own["ingress"] == rule.ingress:
                key = (name, own.get("le", "") if name.endswith("_bucket") else own["status"])
                totals[key] = totals.get(key, 0.0) + rate * overlap
        minute += 60
    requests = sum(v for (name, _status), v in totals.items() if name == ingress.REQUESTS)
    errors = sum(v for (name, status), v in totals.items() if name == ingress.REQUESTS and status >= "500")
    buckets = [(float(le), value) for (name, le), value in totals.items() if name.endswith("_bucket")]
    return {"rps": requests / 240, "error_ratio": errors / requests,
            **{column: bucket_quantile(q, buckets) for column, q in
               (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99))}}


def _backfilled_sample(prometheus: Any, hours_ago: float) -> int:
    backfill = prometheus.prometheus.backfill_result
    return int(backfill.end - round(hours_ago * 60) * 60)


@pytest.mark.parametrize("hours_ago", [3.0, 5.5])
def test_demo_history_matches_the_traffic_model(prometheus: Any, hours_ago: float) -> None:
    sample = _backfilled_sample(prometheus, hours_ago)
    at = datetime.fromtimestamp(sample + 30, UTC)
    frame = red_summary(PromClient(prometheus.url, 10), [PROMETHEUS_CLIENT, INGRESS_NGINX],
                        namespace=demo_names.APP_NAMESPACE, at=at)
    assert frame[["workload", "convention"]].values.tolist() == [
        ["api", "ingress-nginx"], ["api", "prometheus_client"], ["web", "ingress-nginx"],
        ["web", "prometheus_client"]]
    for row in frame.itertuples():
        expected = (_app_expectation if row.convention == "prometheus_client" else _ingress_expectation)(
            str(row.workload), sample)
        for column, value in expected.items():
            assert close(getattr(row, column), value), (row.workload, row.convention, column,
                                                        getattr(row, column), value)


def test_demo_pods_and_breakdown(prometheus: Any) -> None:
    prom = PromClient(prometheus.url, 10)
    at = datetime.fromtimestamp(_backfilled_sample(prometheus, 2.0) + 30, UTC)
    pods = red_summary(prom, [PROMETHEUS_CLIENT, INGRESS_NGINX], level="pod", at=at)
    mine = pods[pods["convention"] == "prometheus_client"]
    assert sorted(mine["pod"]) == sorted(app.pod for app in demo_names.SAMPLE_APPS)
    assert (pods[pods["convention"] == "ingress-nginx"]["pod"] == "").all()  # no application pod
    workloads = red_summary(prom, [PROMETHEUS_CLIENT], at=at)
    breakdown = red_breakdown(prom, [PROMETHEUS_CLIENT, INGRESS_NGINX], namespace="shop", at=at)
    web = breakdown[(breakdown["workload"] == "web") & (breakdown["convention"] == "prometheus_client")]
    assert set(web["path"]) == {route.path for route in traffic.WEB_ROUTES}
    assert close(web["rps"].sum(), only(workloads, workload="web")["rps"])
    assert set(web["code"]) == {"200", "502"}
    edge = breakdown[breakdown["convention"] == "ingress-nginx"]
    assert set(zip(edge["workload"], edge["path"], strict=True)) == {("web", "/"), ("api", "/api")}


def test_demo_history_shows_the_spike_and_the_error_burst(prometheus: Any) -> None:
    """The daily 5x spike (19:30 UTC) and api error burst (14:00 UTC) are in the last 26 hours."""
    end = datetime.fromtimestamp(prometheus.prometheus.backfill_result.end, UTC)
    history = red_history(PromClient(prometheus.url, 10), [PROMETHEUS_CLIENT, INGRESS_NGINX],
                          namespace="shop", start=end - timedelta(hours=25), end=end, step=120)
    assert (history["convention"] == "prometheus_client").all()  # one source per workload
    web = history[(history["workload"] == "web") & (history["metric"] == "rps")]
    web_rps = web.set_index("time")["value"]
    peak_time = web_rps.idxmax()
    assert traffic.in_spike(peak_time.timestamp() - 60) or traffic.in_spike(peak_time.timestamp() - 240)
    assert web_rps.max() > 3 * web_rps.median()
    api_errors = history[(history["workload"] == "api") & (history["metric"] == "error_ratio")]
    worst = api_errors.loc[api_errors["value"].idxmax()]
    assert close(worst["value"], traffic.ERROR_BURST_RATIO)
    assert traffic.in_error_burst(worst["time"].timestamp() - 1)


def test_ingress_history_and_live_scrapes_are_one_series(prometheus: Any) -> None:
    """The ingress's live counters continue its backfilled ones (no reset at the seam), and the live
    scrape stores the request's namespace as exported_namespace, like the backfill."""
    server = prometheus.prometheus
    end = server.backfill_result.end
    series = (f'nginx_ingress_controller_requests{{exported_namespace="shop", '
              f'namespace="{ingress.CONTROLLER_NAMESPACE}"}}')
    live = server.query(f"count({series} and timestamp({series}) > {end})")
    counters = [key for key in ingress.SERIES if key[0] == ingress.REQUESTS]
    assert live and float(live[0]["value"][1]) == len(counters)
    resets = server.query("sum(resets(nginx_ingress_controller_requests[15m]))")
    assert float(resets[0]["value"][1]) == 0


def test_ingress_model_counts_what_it_exposes() -> None:
    """Counters integrate each minute's rates (taken at the minute's start); asking for an earlier time
    starts over from the origin; the exposition is valid Prometheus text."""
    from prometheus_client.parser import text_string_to_metric_families

    origin = 1_767_268_800.0  # 2026-01-01T12:00:00Z, a minute boundary
    model = ingress.IngressTraffic(origin)
    later = model.totals(origin + 150)
    expected = [60 * a + 60 * b + 30 * c for a, b, c in zip(
        ingress.per_second(origin), ingress.per_second(origin + 60), ingress.per_second(origin + 120),
        strict=True)]
    assert all(close(value, want) for value, want in zip(later, expected, strict=True))
    earlier = model.totals(origin + 30)
    first_minute = ingress.per_second(origin)
    assert all(close(value, 30 * rate) for value, rate in zip(earlier, first_minute, strict=True))
    assert model.totals(origin + 150) == later and model.totals(origin - 60) == [0.0] * len(later)
    families = {family.name: family for family in text_string_to_metric_families(ingress.exposition(later))}
    assert families["nginx_ingress_controller_requests"].type == "counter"
    assert families["nginx_ingress_controller_request_duration_seconds"].type == "histogram"
    requests = families["nginx_ingress_controller_requests"].samples
    assert {(sample.labels["ingress"], sample.labels["path"]) for sample in requests} == {
        ("web", "/"), ("api", "/api")}


def test_history_without_histogram_series_keeps_rates(mesh: tuple[PrometheusServer, datetime]) -> None:
    # A convention whose duration histogram has no series for the selection (an app exporting only the
    # counter) must still chart its rate; the quantiles are simply missing.
    server, at = mesh
    prom = PromClient(server.url, 10)
    counter_only = dataclasses.replace(LINKERD, duration_bucket="no_such_histogram_bucket")
    history = red_history(prom, [counter_only], start=at - timedelta(minutes=5), end=at, step=60)
    assert list(history.columns) == HISTORY_COLUMNS
    rates = history[(history["workload"] == "web") & (history["metric"] == "rps")]
    assert len(rates) == 6 and all(close(value, 5.0) for value in rates["value"])
    assert not (history["metric"] == "p95_seconds").any()


#: OpenTelemetry's HTTP server names as Prometheus 3 keeps them when its OTLP receiver is told not to
#: translate them (otlp.translation_strategy: NoTranslation): UTF-8 names, which only Prometheus 3 holds.
OTEL_UTF8 = dataclasses.replace(
    PROMETHEUS_CLIENT, name="otel-utf8", requests_metric="http.server.request.count",
    duration_bucket="http.server.request.duration_bucket", namespace_label="k8s.namespace.name",
    workload_label="k8s.deployment.name", pod_label="k8s.pod.name", status_label="http.response.status_code",
    method_label="http.request.method", path_label="http.route")
OTEL_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0)


@pytest.mark.parametrize("prometheus_flavour", [BUILT], ids=[BUILT.name], indirect=True)
def test_utf8_names_on_prometheus_3(prometheus_flavour: Flavour) -> None:
    counters = []
    for code, rate in (("200", 9.0), ("500", 1.0)):
        labels = {"k8s.namespace.name": "shop", "k8s.deployment.name": "web", "k8s.pod.name": "web-0",
                  "http.response.status_code": code, "http.request.method": "GET", "http.route": "/cart"}
        counters.append(Counter(OTEL_UTF8.requests_metric, labels, rate))
        counters += histogram(OTEL_UTF8.duration_bucket, labels, rate, uniform(0.5, OTEL_BOUNDS))
    with constant_rates_prometheus(counters, prometheus_flavour) as (server, at):
        prom = PromClient(server.url, 10)
        row = only(red_summary(prom, [OTEL_UTF8], at=at), workload="web")
        assert (row["namespace"], row["convention"]) == ("shop", "otel-utf8")
        assert close(row["rps"], 10.0) and close(row["error_ratio"], 0.1)
        buckets = [(le, 10.0 * uniform(0.5, OTEL_BOUNDS)[le]) for le in (*OTEL_BOUNDS, math.inf)]
        assert close(row["p50_seconds"], bucket_quantile(0.5, buckets))
        assert prom.label_values("k8s.deployment.name") == ["web"]
        assert prom.label_values("http.route") == ["/cart"]
