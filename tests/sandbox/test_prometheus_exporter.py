"""The cluster exporter and the backfill writer, without a Prometheus server."""

from __future__ import annotations

import io
import json
import math
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox import demo_names, traffic, usage
from sandbox.cluster_loader import load_demo_objects
from sandbox.exporter import ClusterExporter, restart_count_at
from sandbox.prometheus.backfill import (
    LONG_STEP_SECONDS,
    ExporterHistory,
    SampleAppHistory,
    SourceGroup,
    long_sample_times,
    long_sources,
    sample_times,
)


@pytest.fixture(scope="module")
def pods() -> list[dict[str, Any]]:
    return [obj for obj in load_demo_objects() if obj.get("kind") == "Pod"]


@pytest.fixture(scope="module")
def exporter(pods: list[dict[str, Any]]) -> Iterator[ClusterExporter]:
    frozen = 1_795_000_000.0
    with ClusterExporter(lambda: pods, clock=lambda: frozen) as running:
        yield running


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _pod(pods: list[dict[str, Any]], name_prefix: str) -> dict[str, Any]:
    return next(pod for pod in pods if pod["metadata"]["name"].startswith(name_prefix))


def test_usage_series_agree_with_the_usage_model(exporter: ClusterExporter,
                                                 pods: list[dict[str, Any]]) -> None:
    series = _scrape(exporter.url + "/metrics/cadvisor")
    at = exporter.clock()
    api = _pod(pods, "api-")
    memory = {labels["pod"]: value for labels, value in series["container_memory_working_set_bytes"]}
    assert memory[api["metadata"]["name"]] == usage.memory_bytes(api, "api", at)
    cpu = {(labels["pod"], labels["container"]): (labels, value)
           for labels, value in series["container_cpu_usage_seconds_total"]}
    labels, value = cpu[(api["metadata"]["name"], "api")]
    assert value == pytest.approx(usage.cpu_seconds_total(api, "api", at))
    assert labels["namespace"] == "shop" and labels["node"] == api["spec"]["nodeName"]
    assert labels["image"] == api["spec"]["containers"][0]["image"]
    received = {labels["pod"]: value for labels, value in series["container_network_receive_bytes_total"]}
    assert received[api["metadata"]["name"]] == pytest.approx(usage.network_bytes_total(api, at)[0])
    # cAdvisor sees only running pods
    pending = [pod["metadata"]["name"] for pod in pods if pod["status"].get("phase") == "Pending"]
    assert pending and not set(pending) & set(memory)
    # and not a container waiting in CrashLoopBackOff (it has no cgroup), though its pod is Running
    crash = _pod(pods, "invoice-sync-")
    assert crash["status"]["phase"] == "Running" and crash["metadata"]["name"] not in memory
    assert "kube_pod_info" not in series  # that is kube-state-metrics' job


def test_kube_state_series_describe_the_pods(exporter: ClusterExporter, pods: list[dict[str, Any]]) -> None:
    series = _scrape(exporter.url + "/metrics/kube-state-metrics")
    for pod in pods:
        name = pod["metadata"]["name"]
        phases = {labels["phase"]: value for labels, value in series["kube_pod_status_phase"]
                  if labels["pod"] == name}
        assert phases == {phase: float(phase == pod["status"]["phase"])
                          for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown")}
        for status in pod["status"].get("containerStatuses") or []:
            restarts = [value for labels, value in series["kube_pod_container_status_restarts_total"]
                        if labels["pod"] == name and labels["container"] == status["name"]]
            assert restarts == [status["restartCount"]]
    crash = _pod(pods, "invoice-sync-")
    waiting = [labels for labels, _value in series["kube_pod_container_status_waiting_reason"]]
    assert {"pod": crash["metadata"]["name"], "reason": "CrashLoopBackOff"}.items() <= waiting[0].items()
    web = _pod(pods, "web-")
    limits = {(labels["resource"], labels["unit"]): value for labels, value in
              series["kube_pod_container_resource_limits"] if labels["pod"] == web["metadata"]["name"]}
    assert limits == {("cpu", "core"): 0.5, ("memory", "byte"): 256 * 1024 * 1024}
    assert "container_memory_working_set_bytes" not in series


def test_restart_history_is_monotonic_and_ends_at_the_current_count(pods: list[dict[str, Any]]) -> None:
    now = time.time()
    crash = _pod(pods, "invoice-sync-")
    counts = [restart_count_at(crash, "invoice-sync", now - minutes * 60, now)
              for minutes in range(120, -1, -1)]
    assert counts == sorted(counts)
    assert counts[-1] == crash["status"]["containerStatuses"][0]["restartCount"] > counts[0]
    assert counts[0] == 0  # before the pod existed nothing restarted


def test_backfill_writes_ascending_series_with_the_live_labels(pods: list[dict[str, Any]]) -> None:
    times = sample_times(time.time() - 1, hours=2)
    assert times == sorted(times) and times[1] - times[0] == 60 and times[-1] < time.time()
    out = io.StringIO()
    target = {"job": "web", "instance": "10.0.0.1:8080", "namespace": "shop", "pod": "web-x",
              "container": "web", "app": "web"}
    written = SampleAppHistory("web", target).write(out, times)
    written += ExporterHistory(pods, {"cadvisor": {"job": "kubelet"}, "kube-state-metrics": {"job": "ksm"}},
                               times[-1]).write(out, times)
    lines = out.getvalue().splitlines()
    assert len(lines) == written
    last_by_series: dict[str, tuple[int, float]] = {}
    for line in lines:
        series, value, timestamp = line.rsplit(" ", 2)
        previous = last_by_series.get(series)
        assert previous is None or previous[0] < int(timestamp)
        if series.startswith(("http_requests_total", "http_request_duration_seconds_count")):
            assert previous is None or previous[1] <= float(value)  # counters never go down
        last_by_series[series] = (int(timestamp), float(value))
    assert 'http_requests_total{code="200",method="GET",path="/",app="web",container="web",' in out.getvalue()
    assert 'le="1.0"' in out.getvalue()  # formatted like prometheus_client formats it live


def test_long_history_is_request_counters_only_and_write_carries_them_on() -> None:
    end = time.time() - 1
    times = sample_times(end, hours=2)
    long_times = long_sample_times(times[0], hours=2, long_hours=8)
    assert long_times[-1] == times[0] - LONG_STEP_SECONDS and long_times == sorted(long_times)
    assert long_times[1] - long_times[0] == LONG_STEP_SECONDS
    assert times[-1] - long_times[0] == pytest.approx(8 * 3600, abs=LONG_STEP_SECONDS)
    assert long_sample_times(times[0], hours=26, long_hours=26) == []
    target = {"job": "api", "instance": "10.0.0.2:8080", "namespace": "shop", "pod": "api-x",
              "container": "api", "app": "api"}
    source = SampleAppHistory("api", target)
    assert long_sources([SourceGroup([source, ExporterHistory([], {}, end)])]) == [source]
    older, newer = io.StringIO(), io.StringIO()
    assert source.write_long(older, long_times) == 12 * len(long_times)  # 4 routes x 3 codes
    source.write(newer, times)
    assert {line.split("{")[0] for line in older.getvalue().splitlines()} == {"http_requests_total"}

    def last_values(text: str) -> dict[str, float]:
        return {line.rsplit(" ", 2)[0]: float(line.rsplit(" ", 2)[1]) for line in text.splitlines()}

    def first_values(text: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for line in text.splitlines():
            series, value, _stamp = line.rsplit(" ", 2)
            found.setdefault(series, float(value))
        return found

    # one unbroken counter: the newer part starts where the older ended, plus one step of traffic
    before, after = last_values(older.getvalue()), first_values(newer.getvalue())
    ok_series = next(series for series in before
                     if 'code="200"' in series and 'path="/api/products"' in series)
    assert after[ok_series] > before[ok_series] > 1000
    products = next(route for route in traffic.API_ROUTES if route.path == "/api/products")
    one_step = traffic.route_rates("api", times[0])[products] * (times[0] - long_times[-1])
    assert after[ok_series] - before[ok_series] == pytest.approx(
        one_step * (1 - traffic.error_ratio("api", times[0])))


def test_exporter_agrees_with_metrics_k8s_io_of_the_api_server(kube_api: Any) -> None:
    """Same containers, same memory, same CPU as `kubectl top` gets from the stand-in API server."""

    def store_pods() -> list[dict[str, Any]]:  # a live provider, as sandbox.stack passes it
        return kube_api.server.store.objects(("", "pods"))

    moment = [time.time()]
    with ClusterExporter(store_pods, clock=lambda: moment[0]) as live:
        request = urllib.request.Request(kube_api.url + "/apis/metrics.k8s.io/v1beta1/pods",
                                         headers={"Authorization": f"Bearer {demo_names.ADMIN_TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            pod_metrics = json.load(response)["items"]
        asked_at = time.time()
        moment[0] = asked_at - 0.5
        before = _scrape(live.url + "/metrics/cadvisor")
        moment[0] = asked_at + 0.5
        after = _scrape(live.url + "/metrics/cadvisor")

    def by_container(samples: list[tuple[dict[str, str], float]]) -> dict[tuple[str, str, str], float]:
        return {(labels["namespace"], labels["pod"], labels["container"]): value for labels, value in samples}

    reported = {(item["metadata"]["namespace"], item["metadata"]["name"], container["name"]):
                container["usage"] for item in pod_metrics for container in item["containers"]}
    memory = by_container(after["container_memory_working_set_bytes"])
    cpu_before = by_container(before["container_cpu_usage_seconds_total"])
    cpu_after = by_container(after["container_cpu_usage_seconds_total"])
    # cAdvisor and metrics-server see the same running containers
    assert set(memory) == set(cpu_after) == set(reported)
    for key, container_usage in reported.items():
        assert container_usage["memory"].endswith("Ki")
        assert math.isclose(memory[key], int(container_usage["memory"][:-2]) * 1024, rel_tol=1e-3,
                            abs_tol=2048), key
        # the exporter's CPU counter grows at the rate metrics.k8s.io reports (over one second)
        cores = int(container_usage["cpu"].removesuffix("n")) / 1e9
        assert math.isclose(cpu_after[key] - cpu_before[key], cores, rel_tol=0.01, abs_tol=1e-4), key
