"""Per-pod request figures from `namespace` and `pod` alone, and the workload named in order: the app
label, app.kubernetes.io/name's scrape label, kube-state-metrics' ownership (kubernetes-mixin's rule, or
kube_pod_owner with kube_replicaset_owner), owner references from the API, the pod's name (a guess).

A real Prometheus holds series labelled as a Prometheus Operator scrape labels them (namespace, pod,
service, endpoint, job, container, instance: no app) plus the kube-state-metrics series that name the
owners. Every expected number is what that Prometheus computes itself over the same pods, so the
figures KAMS sums or interpolates outside PromQL are held to Prometheus', to 1 %.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import pytest

from k8sdata.__main__ import main as cli_main
from k8sdata.pods.owners import SOURCE_API, SOURCE_GUESS, guess_workload
from k8sdata.requests.conventions import PROMETHEUS_CLIENT, Convention, detect_conventions
from k8sdata.requests.histogram import bucket_quantile
from k8sdata.requests.queries import OWNERS_RULE_METRIC, OWNERS_SERIES_METRIC, SOURCE_OWNERS
from k8sdata.requests.red import red_breakdown, red_history, red_summary, request_volume
from k8sdata.sources.prom import PromClient
from sandbox.prometheus import PrometheusServer
from sandbox.prometheus.flavours import Flavour
from tests.k8sdata.test_red import (
    ConstantRates,
    Counter,
    CountingProm,
    close,
    histogram,
    series_text,
    uniform,
)
from tests.plugins.app import page_script, run_app_test, set_app_environment, table_with

NAMESPACE = "shop"
BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: pod -> (extra series labels, {code: rate}, latency upper bound in seconds)
PODS: dict[str, tuple[dict[str, str], dict[str, float], float]] = {
    # kube-state-metrics: a Deployment's two pods (ReplicaSet -> Deployment) and a StatefulSet's one.
    "checkout-7d9c8b6f5d-x2k4p": ({}, {"200": 4.0, "503": 1.0}, 0.2),
    "checkout-7d9c8b6f5d-q9d4m": ({}, {"200": 3.0, "404": 1.0}, 0.8),
    "ledger-0": ({}, {"200": 2.0}, 0.05),
    # The series' own labels name these.
    "cart-5f6d7c8b9b-zx2kq": ({"app_kubernetes_io_name": "cart"}, {"200": 1.0, "500": 1.0}, 0.4),
    "search-6c8d9f7b5c-m2n4p": ({"app": "search"}, {"200": 5.0}, 0.1),
    # A CronJob's Job's pod: its name suggests the Job; the Kubernetes API knows better.
    "nightly-batch-28903210-x7k2p": ({}, {"200": 0.5}, 1.0),
    # Nothing names these but their names: a Deployment's two pods, and a pod nothing names at all.
    "mailer-6b9c7d8f4c-h2k4p": ({}, {"200": 2.0, "502": 0.5}, 0.3),
    "mailer-6b9c7d8f4c-zzx42": ({}, {"200": 1.0}, 2.0),
    "debug-shell": ({}, {"200": 0.25}, 0.02),
}
API_OWNERS = {(NAMESPACE, "nightly-batch-28903210-x7k2p"): "nightly-batch"}
EXPECTED = {  # pod -> (workload, source)
    "checkout-7d9c8b6f5d-x2k4p": ("checkout", SOURCE_OWNERS),
    "checkout-7d9c8b6f5d-q9d4m": ("checkout", SOURCE_OWNERS),
    "ledger-0": ("ledger", SOURCE_OWNERS), "cart-5f6d7c8b9b-zx2kq": ("cart", "label app_kubernetes_io_name"),
    "search-6c8d9f7b5c-m2n4p": ("search", "label app"),
    "nightly-batch-28903210-x7k2p": ("nightly-batch", SOURCE_API),
    "mailer-6b9c7d8f4c-h2k4p": ("mailer", SOURCE_GUESS), "mailer-6b9c7d8f4c-zzx42": ("mailer", SOURCE_GUESS),
    "debug-shell": ("", ""),
}
KSM = {"job": "kube-state-metrics", "instance": "10.0.3.7:8080", "service": "kube-state-metrics"}


def scrape_labels(pod: str) -> dict[str, str]:
    """What a ServiceMonitor scrape attaches (honor_labels off): never `app`."""
    return {"namespace": NAMESPACE, "pod": pod, "service": pod.split("-")[0], "endpoint": "http",
            "job": f"{NAMESPACE}/{pod.split('-')[0]}", "container": "app", "instance": "10.0.1.2:8080"}


def ownership_series() -> list[tuple[str, dict[str, str]]]:
    """kube-state-metrics' series for the pods it knows, and kubernetes-mixin's recording rule's."""
    checkout = ("checkout-7d9c8b6f5d-x2k4p", "checkout-7d9c8b6f5d-q9d4m")
    series = [("kube_pod_owner", {**KSM, "namespace": NAMESPACE, "pod": pod, "owner_kind": "ReplicaSet",
                                  "owner_name": "checkout-7d9c8b6f5d", "owner_is_controller": "true"})
              for pod in checkout]
    series.append(("kube_pod_owner", {**KSM, "namespace": NAMESPACE, "pod": "ledger-0",
                                      "owner_kind": "StatefulSet", "owner_name": "ledger",
                                      "owner_is_controller": "true"}))
    series.append(("kube_replicaset_owner", {**KSM, "namespace": NAMESPACE,
                                             "replicaset": "checkout-7d9c8b6f5d",
                                             "owner_kind": "Deployment", "owner_name": "checkout",
                                             "owner_is_controller": "true"}))
    # The debug pod has no owner; kube-state-metrics says so with empty owner labels.
    series.append(("kube_pod_owner", {**KSM, "namespace": NAMESPACE, "pod": "debug-shell", "owner_kind": "",
                                      "owner_name": "", "owner_is_controller": ""}))
    rule = [(pod, "checkout", "deployment") for pod in checkout] + [("ledger-0", "ledger", "statefulset")]
    series += [(OWNERS_RULE_METRIC, {"namespace": NAMESPACE, "pod": pod, "workload": workload,
                                     "workload_type": kind}) for pod, workload, kind in rule]
    return series


@dataclass
class Gauges:
    """BackfillSource: series that are always 1 (kube-state-metrics' ownership)."""

    series: Sequence[tuple[str, dict[str, str]]]

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        for name, labels in self.series:
            # Classic names throughout, written whole: a recording rule's colons are a metric name's.
            prefix = name + series_text("x", labels)[1:] + " 1 "
            out.write("".join(f"{prefix}{at}\n" for at in times))
        return len(self.series) * len(times)


def request_counters() -> list[Counter]:
    counters: list[Counter] = []
    for pod, (extra, codes, upper) in PODS.items():
        for code, rate in codes.items():
            labels = {**scrape_labels(pod), **extra, "code": code, "method": "GET", "path": "/items"}
            counters.append(Counter("http_requests_total", labels, rate))
            bucket_labels = {k: v for k, v in labels.items() if k != "code"}
            counters += histogram("http_request_duration_seconds_bucket", bucket_labels, rate,
                                  uniform(upper, BOUNDS))
    return counters


@pytest.fixture(scope="module")
def served(prometheus_flavour: Flavour) -> Iterator[tuple[PrometheusServer, datetime]]:
    server = PrometheusServer([], backfill=[ConstantRates(request_counters()), Gauges(ownership_series())],
                              backfill_hours=40 / 60, rules=False, wait_for_targets=False,
                              flavour=prometheus_flavour).start()
    try:
        assert server.backfill_result is not None
        yield server, datetime.fromtimestamp(server.backfill_result.end + 30, UTC)
    finally:
        server.stop()


def owned(owners: str) -> Convention:
    return dataclasses.replace(PROMETHEUS_CLIENT, owners=owners)


def api_owners(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    return {key: API_OWNERS[key] for key in keys if key in API_OWNERS}


def prometheus_says(server: PrometheusServer, at: datetime, promql: str) -> float:
    result = server.query(promql, at.timestamp())
    assert len(result) == 1, (promql, result)
    return float(result[0]["value"][1])


def pod_selector(pods: Sequence[str]) -> str:
    return f'namespace="{NAMESPACE}", pod=~"{"|".join(pods)}"'


def pods_of(workload: str) -> list[str]:
    return [pod for pod, (name, _) in EXPECTED.items() if name == workload]


@pytest.mark.parametrize("owners", [OWNERS_SERIES_METRIC, OWNERS_RULE_METRIC])
def test_every_pod_has_a_row_and_its_workload_source(served: tuple[PrometheusServer, datetime],
                                                     owners: str) -> None:
    server, at = served
    frame = red_summary(PromClient(server.url, 10), [owned(owners)], level="pod", at=at, owners=api_owners)
    assert sorted(frame["pod"]) == sorted(PODS)
    for row in frame.itertuples():
        assert (row.workload, row.workload_source) == EXPECTED[row.pod], row.pod
        selector = pod_selector([row.pod])
        rate = prometheus_says(server, at, f"sum(rate(http_requests_total{{{selector}}}[5m]))")
        assert close(row.rps, rate)
        for column, q in (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99)):
            expected = prometheus_says(server, at, f"histogram_quantile({q}, sum by (le) "
                                                   f"(rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))")
            assert close(getattr(row, column), expected), (row.pod, column)


@pytest.mark.parametrize("owners", [OWNERS_SERIES_METRIC, OWNERS_RULE_METRIC, ""])
def test_workloads_add_up_their_pods_as_prometheus_would(served: tuple[PrometheusServer, datetime],
                                                        owners: str) -> None:
    """Per workload: rates summed, the 5xx share, and quantiles of the pods' buckets added up, whether
    PromQL named the workload or Python did (without kube-state-metrics, the checkout pods are guessed)."""
    server, at = served
    frame = red_summary(PromClient(server.url, 10), [owned(owners)], at=at, owners=api_owners)
    expected = {workload for workload, _ in EXPECTED.values()}
    assert sorted(frame["workload"]) == sorted(expected)
    for row in frame.itertuples():
        pods = pods_of(row.workload)
        source = {EXPECTED[pod][1] for pod in pods}.pop()
        if not owners and source == SOURCE_OWNERS:  # no kube-state-metrics: their names are all there is
            source = SOURCE_GUESS
        assert row.workload_source == source and row.pod == "", row
        selector = pod_selector(pods)
        total = prometheus_says(server, at, f"sum(rate(http_requests_total{{{selector}}}[5m]))")
        assert close(row.rps, total)
        errors = prometheus_says(server, at, f'sum(rate(http_requests_total{{{selector}, code=~"5.."}}[5m])) '
                                             f'or vector(0)')
        assert close(row.error_ratio, errors / total)
        for column, q in (("p50_seconds", 0.5), ("p95_seconds", 0.95), ("p99_seconds", 0.99)):
            quantile = prometheus_says(server, at, f"histogram_quantile({q}, sum by (le) "
                                                   f"(rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))")
            assert close(getattr(row, column), quantile), (row.workload, column)


def test_the_query_count_stays_fixed(served: tuple[PrometheusServer, datetime]) -> None:
    server, at = served
    prom = CountingProm(server.url)
    convention = owned(OWNERS_SERIES_METRIC)
    red_summary(prom, [convention], level="pod", at=at, owners=api_owners)
    assert prom.sent == 4  # rates by status, three quantiles: every part of the chain in each
    prom.sent = 0
    red_summary(prom, [convention], at=at, owners=api_owners)
    assert prom.sent == 5  # and the buckets of the pods named in Python, added up per workload here
    prom.sent = 0
    red_history(prom, [convention], start=at - timedelta(minutes=20), end=at, step=60, owners=api_owners)
    assert prom.sent == 5
    prom.sent = 0
    red_breakdown(prom, [convention], at=at, owners=api_owners)
    assert prom.sent == 3
    prom.sent = 0
    request_volume(prom, [convention], start=at - timedelta(minutes=20), end=at, step=60, owners=api_owners)
    assert prom.sent == 1


@pytest.mark.parametrize("workload", ["checkout", "mailer", "nightly-batch", "cart"])
def test_a_selected_workload_is_its_pods_only(served: tuple[PrometheusServer, datetime],
                                             workload: str) -> None:
    server, at = served
    prom = PromClient(server.url, 10)
    convention = owned(OWNERS_SERIES_METRIC)
    selector = pod_selector(pods_of(workload))
    total = prometheus_says(server, at, f"sum(rate(http_requests_total{{{selector}}}[5m]))")
    history = red_history(prom, [convention], workload=workload, start=at - timedelta(minutes=10), end=at,
                          step=60, owners=api_owners)
    assert set(history["workload"]) == {workload}
    last = history[(history["metric"] == "rps") & (history["time"] == history["time"].max())]
    assert close(float(last["value"].iloc[0]), total)
    p95 = history[(history["metric"] == "p95_seconds") & (history["time"] == history["time"].max())]
    assert close(float(p95["value"].iloc[0]), prometheus_says(
        server, at, f"histogram_quantile(0.95, sum by (le) "
                    f"(rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))"))
    breakdown = red_breakdown(prom, [convention], workload=workload, at=at, owners=api_owners)
    assert set(breakdown["workload"]) == {workload} and close(breakdown["rps"].sum(), total)
    volume = request_volume(prom, [convention], workload=workload, start=at - timedelta(minutes=10), end=at,
                            step=60, owners=api_owners)
    assert close(float(volume["rps"].iloc[-1]), total)


def test_detection_prefers_the_mixin_rule(served: tuple[PrometheusServer, datetime]) -> None:
    server, at = served
    found = detect_conventions(PromClient(server.url, 10), [PROMETHEUS_CLIENT], at=at)
    assert [(c.name, c.owners) for c in found] == [("prometheus_client", OWNERS_RULE_METRIC)]


def test_cli_needs_no_kubeconfig(served: tuple[PrometheusServer, datetime], tmp_path: Path) -> None:
    server, at = served
    out, err = io.StringIO(), io.StringIO()
    environ = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    code = cli_main(["requests", "--prometheus-url", server.url, "--window", "5m", "--at",
                     at.isoformat().replace("+00:00", "Z"), "--namespace", NAMESPACE, "--format", "json"],
                    out=out, err=err, environ=environ)
    assert code == 0, err.getvalue()
    records = json.loads(out.getvalue())
    assert [key for key in records[0]][:3] == ["namespace", "workload", "pod"]
    assert {"rps", "error_ratio", "p50_seconds", "p95_seconds", "p99_seconds"} <= set(records[0])
    by_pod = {record["pod"]: record for record in records}
    assert set(by_pod) == set(PODS)
    assert by_pod["debug-shell"]["workload"] is None  # nothing names it: null, and the row is there
    # Without a cluster, the CronJob's pod is named after its Job, by its name.
    named = {pod: (record["workload"], record["workload_source"]) for pod, record in by_pod.items()}
    assert named["nightly-batch-28903210-x7k2p"] == ("nightly-batch-28903210", SOURCE_GUESS)
    assert named["mailer-6b9c7d8f4c-h2k4p"] == ("mailer", SOURCE_GUESS)
    assert by_pod["ledger-0"]["workload_source"] == SOURCE_OWNERS


@pytest.mark.parametrize("pod, workload", [
    ("checkout-7d9c8b6f5d-x2k4p", "checkout"), ("web-85d7b8d9c5-qx4fz", "web"), ("ledger-0", "ledger"),
    ("redis-12", "redis"), ("node-agent-7xk2p", "node-agent"), ("api-gw-7d9c8", "api-gw"),
    ("backup-28903210-x7k2p", "backup-28903210"), ("web-24567", "web"), ("debug-shell", None), ("solo", None),
    ("a-b-c", None),
])
def test_pod_name_guesses(pod: str, workload: str | None) -> None:
    assert guess_workload(pod) == workload


def test_bucket_quantile_is_prometheus_own(served: tuple[PrometheusServer, datetime]) -> None:
    """k8sdata.requests.histogram against Prometheus' histogram_quantile on random bucket sets
    (unsorted, repeated bounds, non-monotonic counts, empty, no +Inf), evaluated by the real server as
    literal vectors."""
    server, at = served
    rng = random.Random(11)
    for case in range(40):
        bounds = sorted(rng.sample([0.0, 0.005, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0], rng.randint(1, 6)))
        counts = sorted(rng.choice([0, 0, 1, 2, 5, 10, 100]) * rng.random() for _ in bounds)
        if case % 7 == 3:
            counts.reverse()  # a scrape artefact: counts falling
        pairs = [*zip(bounds, counts, strict=True)]
        if case % 9 != 4:
            pairs.append((math.inf, (counts[-1] if counts else 0) + rng.choice([0.0, 1.0, 3.5])))
        if case % 5 == 1:
            pairs.append(pairs[0])  # a repeated bound is added up
        rng.shuffle(pairs)
        q = rng.choice([0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0])
        vector = " or ".join(
            f'label_replace(label_replace(vector({count!r}), "le", "{"+Inf" if math.isinf(le) else le}", '
            f'"", ""), "i", "{index}", "", "")' for index, (le, count) in enumerate(pairs))
        result = server.query(f"histogram_quantile({q}, sum by (le) ({vector}))", at.timestamp())
        expected = float(result[0]["value"][1]) if result else math.nan
        actual = bucket_quantile(q, pairs)
        both_nan = math.isnan(actual) and math.isnan(expected)
        assert both_nan or math.isclose(actual, expected, rel_tol=1e-9), (q, pairs, actual, expected)


def test_the_requests_page_says_how_each_application_is_named(
        served: tuple[PrometheusServer, datetime], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        streamlit_caches: None) -> None:
    """The Requests page on the same Prometheus, without a cluster: every application with its source,
    and the pod nothing names still in the per-pod table (the data ends a second before the fixture
    started, well inside the page's 5-minute window)."""
    server, _ = served
    set_app_environment(monkeypatch, {"PROMETHEUS_URL": server.url, "HOME": str(tmp_path),
                                      "KUBECONFIG": str(tmp_path / "none")})
    at = run_app_test(page_script("requests"))
    apps = table_with(at, "Namespace", "Application", "Named by", "Requests/s")
    named = dict(zip(apps["Application"], apps["Named by"], strict=True))
    assert named["checkout"] == named["ledger"] == SOURCE_OWNERS
    assert (named["cart"], named["search"]) == ("label app_kubernetes_io_name", "label app")
    assert named["mailer"] == named["nightly-batch-28903210"] == SOURCE_GUESS
    assert named[""] == ""  # debug-shell: counted, nothing names it
    assert "shop/" not in at.selectbox(key="app").options  # and it is not an application to pick
    unnamed = table_with(at, "Pod", "Requests/s")  # listed apart, with the pod's own numbers
    assert unnamed["Pod"].tolist() == ["debug-shell"] and close(unnamed["Requests/s"].iloc[0], 0.25)
    mailer = run_app_test(page_script("requests"), app=f"{NAMESPACE}/mailer")
    pods = table_with(mailer, "Pod", "Named by", "Requests/s")
    assert sorted(pods["Pod"]) == pods_of("mailer") and set(pods["Named by"]) == {SOURCE_GUESS}
