"""Right-sizing and forecasts, checked against a real Prometheus holding synthetic series whose answers
are known exactly (written by `KnownHistory` below and backfilled with promtool), plus pure-function
unit tests on hand-made frames."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sdata.errors import SourceError
from k8sdata.pods.insights import (
    FORECAST_COLUMNS,
    MEMORY_BUFFER,
    RECOMMENDATION_COLUMNS,
    STATUS_NOT_ENOUGH_DATA,
    STATUS_OK,
    about,
    forecast_limits,
    forecast_sentence,
    frequent_restarts,
    memory_forecast,
    namespace_savings,
    recommend,
    restart_rate,
    restart_sentence,
    rightsizing,
    subquery_resolution,
    workload_from_pod,
    workload_of,
)
from k8sdata.sources.prom import PromClient
from sandbox.prometheus import PrometheusServer
from sandbox.prometheus.backfill import write_series
from sandbox.prometheus.flavours import Flavour

MIB = 1024 * 1024
GIB = 1024 * MIB
NS = "rs"
HOURS = 26.0


@dataclass(frozen=True)
class Container:
    """One synthetic container: its owner, resources, and usage as functions of the sample index."""

    pod: str
    container: str
    owner_kind: str
    owner_name: str
    cpu_rate: object  # (index) -> cores during the step ending at sample `index`
    memory: object  # (index, unix time) -> bytes
    restarts: object = None  # (index) -> count
    requests: tuple[float, float] | None = None  # cpu cores, memory bytes
    memory_limit: float | None = None
    first_index: int = 0  # no samples before this one


# Known answers -------------------------------------------------------------------------------------
STEADY_P95 = 0.6  # 3 of 26 hours at 0.6 cores (11.5 %), a 20-minute 1.5-core spike (1.3 %), else 0.2
STEADY_PEAK = 300 * MIB  # 10 minutes at 300 MiB, else 200 MiB
LEAK_PER_HOUR = 20 * MIB
HOURS_TO_LIMIT = 3.0  # the leaking cache reaches its 1 GiB limit 3 h after the history ends
FLAPPY_PER_HOUR = 6.0  # one restart every 10 minutes


def steady_cpu(index: int) -> float:
    if 500 <= index < 520:
        return 1.5
    return 0.6 if (index // 60) % 10 == 3 else 0.2


def steady_memory(index: int, _at: float) -> float:
    return STEADY_PEAK if 700 <= index < 710 else 200 * MIB


class KnownHistory:
    """A BackfillSource writing cAdvisor and kube-state-metrics shaped series for CONTAINERS."""

    def __init__(self) -> None:
        self.end: float | None = None
        self.containers: list[Container] = []

    def build(self, times: Sequence[int]) -> None:
        end = times[-1]
        self.end = end
        limit_at = end + HOURS_TO_LIMIT * 3600
        last = len(times) - 1
        self.containers = [
            Container("steady-7c9d5f4b8-abcde", "app", "ReplicaSet", "steady-7c9d5f4b8", steady_cpu,
                      steady_memory, requests=(1.0, 512 * MIB), memory_limit=GIB),
            Container("steady-7c9d5f4b8-fghij", "app", "ReplicaSet", "steady-7c9d5f4b8", lambda _i: 0.1,
                      lambda _i, _t: 150 * MIB, requests=(1.0, 512 * MIB), memory_limit=GIB),
            # Only the last two hours: not enough for a one-day minimum.
            Container("fresh-5d8b9c7f6-qw8hd", "web", "ReplicaSet", "fresh-5d8b9c7f6", lambda _i: 0.05,
                      lambda _i, _t: 64 * MIB, requests=(0.1, 128 * MIB), first_index=last - 120),
            Container("leaky-0", "cache", "StatefulSet", "leaky", lambda _i: 0.1,
                      lambda _i, at: GIB - LEAK_PER_HOUR * (limit_at - at) / 3600,
                      requests=(0.1, 512 * MIB), memory_limit=GIB),
            Container("flappy-0", "worker", "StatefulSet", "flappy", lambda _i: 0.01, lambda _i, _t: 32 * MIB,
                      restarts=lambda index: index // 10, requests=(0.05, 64 * MIB)),
            Container("slow-0", "worker", "StatefulSet", "slow", lambda _i: 0.01, lambda _i, _t: 32 * MIB,
                      restarts=lambda index: index // 120),
        ]

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        self.build(times)
        written = 0
        for one in self.containers:
            kept = list(range(one.first_index, len(times)))
            stamps = [times[index] for index in kept]
            pod = (("namespace", NS), ("pod", one.pod))
            labels = (*pod, ("container", one.container))
            total, counter = 0.0, []
            for index in kept:
                total += one.cpu_rate(index) * 60 if index > one.first_index else 0.0
                counter.append(total)
            written += write_series(out, "container_cpu_usage_seconds_total", labels, stamps, counter)
            written += write_series(out, "container_memory_working_set_bytes", labels, stamps,
                                    [one.memory(index, times[index]) for index in kept])
            # The pod-level cgroup real kubelets add: must never be counted.
            pod_cgroup = (*pod, ("container", ""))
            written += write_series(out, "container_memory_working_set_bytes", pod_cgroup, stamps,
                                    [50 * GIB] * len(kept))
            owner = (*pod, ("owner_kind", one.owner_kind), ("owner_name", one.owner_name))
            written += write_series(out, "kube_pod_owner", owner, stamps, [1] * len(kept))
            written += write_series(out, "kube_pod_container_info", (*labels, ("image", "example:1")), stamps,
                                    [1] * len(kept))
            restarts = one.restarts or (lambda _index: 0)
            written += write_series(out, "kube_pod_container_status_restarts_total", labels, stamps,
                                    [float(restarts(index)) for index in kept])
            amounts = []
            if one.requests:
                amounts += [("kube_pod_container_resource_requests", "cpu", one.requests[0]),
                            ("kube_pod_container_resource_requests", "memory", one.requests[1])]
            if one.memory_limit:
                amounts.append(("kube_pod_container_resource_limits", "memory", one.memory_limit))
            for family, resource, value in amounts:
                written += write_series(out, family, (*labels, ("resource", resource)), stamps,
                                        [value] * len(kept))
        return written


@dataclass
class KnownPrometheus:
    prom: PromClient
    history: KnownHistory

    @property
    def end(self) -> datetime:
        assert self.history.end is not None
        return datetime.fromtimestamp(self.history.end, UTC)


@pytest.fixture(scope="module")
def known(prometheus_flavour: Flavour) -> Iterator[KnownPrometheus]:
    history = KnownHistory()
    with PrometheusServer([], backfill=[history], backfill_hours=HOURS, rules=False,
                          flavour=prometheus_flavour) as server:
        yield KnownPrometheus(PromClient(server.url, timeout=20), history)


def _row(frame: pd.DataFrame, workload: str) -> pd.Series:
    rows = frame[frame["workload"] == workload]
    assert len(rows) == 1, frame
    return rows.iloc[0]


# -- against real Prometheus ------------------------------------------------------------------------

def test_rightsizing_matches_known_answers(known: KnownPrometheus) -> None:
    frame = rightsizing(known.prom, NS, window="7d", min_history="1d")
    assert list(frame.columns) == RECOMMENDATION_COLUMNS

    steady = _row(frame, "steady")
    assert steady["workload_kind"] == "Deployment" and steady["container"] == "app"
    assert steady["pods"] == 2 and steady["replicas"] == 2
    assert steady["status"] == STATUS_OK
    # p95, not the max (1.5) and not the typical 0.2; the workload takes its busiest pod's percentile.
    assert steady["cpu_recommended"] == pytest.approx(STEADY_P95, rel=0.02)
    assert steady["memory_recommended"] == pytest.approx(STEADY_PEAK * (1 + MEMORY_BUFFER), rel=1e-6)
    assert steady["cpu_request"] == 1.0 and steady["memory_request"] == 512 * MIB
    assert steady["cpu_difference"] == pytest.approx(STEADY_P95 - 1.0, abs=0.02)
    assert steady["memory_difference"] == pytest.approx(STEADY_PEAK * 1.15 - 512 * MIB, rel=1e-6)
    assert steady["history_hours"] == pytest.approx(HOURS, abs=0.2)

    fresh = _row(frame, "fresh")
    assert fresh["status"] == STATUS_NOT_ENOUGH_DATA
    assert math.isnan(fresh["cpu_recommended"]) and math.isnan(fresh["memory_recommended"])
    assert fresh["history_hours"] == pytest.approx(2.0, abs=0.2)
    assert fresh["cpu_request"] == 0.1  # the current values are still shown

    slow = _row(frame, "slow")
    assert slow["workload_kind"] == "StatefulSet" and slow["replicas"] == 1
    assert math.isnan(slow["cpu_request"])  # no request set: nothing to compare with
    assert slow["cpu_recommended"] == pytest.approx(0.01, rel=0.02)

    savings = namespace_savings(frame).set_index("namespace").loc[NS]
    # steady (2 replicas), leaky and flappy have requests and enough data; fresh and slow do not count.
    expected_cpu = 2 * (STEADY_P95 - 1.0) + (0.1 - 0.1) + (0.01 - 0.05)
    assert savings["cpu_difference"] == pytest.approx(expected_cpu, abs=0.05)
    assert savings["containers"] == 3


def test_shorter_minimum_history_makes_the_new_workload_count(known: KnownPrometheus) -> None:
    frame = rightsizing(known.prom, NS, window="7d", min_history="1h")
    fresh = _row(frame, "fresh")
    assert fresh["status"] == STATUS_OK
    assert fresh["cpu_recommended"] == pytest.approx(0.05, rel=0.02)
    assert fresh["memory_recommended"] == pytest.approx(64 * MIB * 1.15, rel=1e-6)


def test_window_shorter_than_the_spike_history(known: KnownPrometheus) -> None:
    # The last 6 hours hold one 0.6-core hour out of six (16.7 %): the p95 is still 0.6; the memory peak
    # (long before) is gone, so the recommendation is the steady 200 MiB plus 15 %.
    frame = rightsizing(known.prom, NS, window="6h", min_history="1h")
    steady = _row(frame, "steady")
    assert steady["memory_recommended"] == pytest.approx(200 * MIB * 1.15, rel=1e-6)
    assert steady["cpu_recommended"] == pytest.approx(STEADY_P95, rel=0.02)
    assert steady["history_hours"] == pytest.approx(6.0, abs=0.1)


def test_memory_forecast_finds_the_leak(known: KnownPrometheus) -> None:
    now = datetime.now(UTC)
    frame = memory_forecast(known.prom, NS, horizon="24h", lookback="6h", now=now)
    assert list(frame.columns) == FORECAST_COLUMNS
    assert frame["pod"].tolist() == ["leaky-0"]  # steady has a limit but no trend
    row = frame.iloc[0]
    elapsed = (now - known.end).total_seconds() / 3600
    assert row["hours_to_limit"] == pytest.approx(HOURS_TO_LIMIT - elapsed, abs=0.02)
    assert row["growth_bytes_per_hour"] == pytest.approx(LEAK_PER_HOUR, rel=1e-3)
    assert row["memory_limit"] == GIB
    limit_at = known.end + timedelta(hours=HOURS_TO_LIMIT)
    assert abs((row["reaches_limit_at"] - limit_at).total_seconds()) < 90
    assert "cache (pod rs/leaky-0) will hit its memory limit in about 3 hours" in forecast_sentence(row)

    # Outside a two-hour horizon, nothing to flag.
    assert memory_forecast(known.prom, NS, horizon="2h", lookback="6h", now=now).empty


def test_restart_rate_flags_the_flapping_pod(known: KnownPrometheus) -> None:
    frame = restart_rate(known.prom, NS, window="1h", threshold=3.0, now=known.end)
    assert frame["pod"].tolist() == ["flappy-0"]
    assert frame.iloc[0]["restarts_per_hour"] == pytest.approx(FLAPPY_PER_HOUR, abs=0.7)
    everything = restart_rate(known.prom, NS, window="6h", threshold=0.1, now=known.end)
    slow = everything.set_index("pod").loc["slow-0"]
    assert slow["restarts_per_hour"] == pytest.approx(0.5, abs=0.1)


def test_other_namespace_is_empty(known: KnownPrometheus) -> None:
    assert rightsizing(known.prom, "elsewhere").empty
    assert memory_forecast(known.prom, "elsewhere").empty
    assert restart_rate(known.prom, "elsewhere").empty


def test_unreachable_prometheus_raises_source_error() -> None:
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        prom = PromClient(f"http://127.0.0.1:{held.getsockname()[1]}", timeout=2)
        with pytest.raises(SourceError):
            rightsizing(prom, None)


# -- pure functions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "name", "pod", "hash_", "expected"), [
    ("ReplicaSet", "web-6d8f7b9c5d", "web-6d8f7b9c5d-x7k2p", "", ("Deployment", "web")),
    ("ReplicaSet", "web-6d8f7b9c5d", "p", "6d8f7b9c5d", ("Deployment", "web")),
    ("ReplicaSet", "my-app", "p", "", ("ReplicaSet", "my-app")),  # 'app' has a vowel: not a hash
    ("ReplicaSet", "x-abc", "p", "zzz", ("ReplicaSet", "x-abc")),
    ("Job", "backup-29412360", "p", "", ("CronJob", "backup")),
    ("Job", "migrate", "p", "", ("Job", "migrate")),
    ("StatefulSet", "db", "db-0", "", ("StatefulSet", "db")),
    ("Node", "demo-control-plane", "etcd-demo-control-plane", "", ("Pod", "etcd-demo-control-plane")),
    ("<none>", "<none>", "lonely", "", ("Pod", "lonely")),
    ("", "", "lonely", "", ("Pod", "lonely")),
])
def test_workload_of(kind: str, name: str, pod: str, hash_: str, expected: tuple[str, str]) -> None:
    assert workload_of(kind, name, pod, hash_) == expected


def test_workload_from_pod_object() -> None:
    pod = {"metadata": {"name": "web-abc12-xyz", "labels": {"pod-template-hash": "abc12"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc12", "controller": True}]}}
    assert workload_from_pod(pod) == ("Deployment", "web")
    assert workload_from_pod({"metadata": {"name": "bare"}}) == ("Pod", "bare")


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


KEYS = ["namespace", "pod", "container", "value"]


def test_recommend_pure() -> None:
    now = datetime(2026, 1, 8, tzinfo=UTC)
    day_ago = now.timestamp() - 2 * 86400
    cpu = _frame([("a", "w-6d8f7b9c5d-1", "c", 0.3), ("a", "w-6d8f7b9c5d-2", "c", 0.5),
                  ("a", "solo", "c", 0.2)], KEYS)
    memory = _frame([("a", "w-6d8f7b9c5d-1", "c", 100.0), ("a", "w-6d8f7b9c5d-2", "c", 80.0),
                     ("a", "solo", "c", 10.0)], KEYS)
    first = _frame([("a", "w-6d8f7b9c5d-1", "c", day_ago), ("a", "w-6d8f7b9c5d-2", "c", day_ago),
                    ("a", "solo", "c", now.timestamp() - 3600)], KEYS)
    resources = _frame([("a", "w-6d8f7b9c5d-2", "c", "cpu", "request", 1.0),
                        ("a", "w-6d8f7b9c5d-2", "c", "memory", "request", 200.0),
                        ("a", "w-6d8f7b9c5d-2", "c", "memory", "limit", 400.0)],
                       ["namespace", "pod", "container", "resource", "kind", "value"])
    owners = _frame([("a", "w-6d8f7b9c5d-1", "ReplicaSet", "w-6d8f7b9c5d", 1.0),
                     ("a", "w-6d8f7b9c5d-2", "ReplicaSet", "w-6d8f7b9c5d", 1.0)],
                    ["namespace", "pod", "owner_kind", "owner_name", "value"])
    out = recommend(cpu, memory, first, resources, owners, now=now, min_history_seconds=86400)
    w = _row(out, "w")
    assert (w["workload_kind"], w["pods"], w["replicas"]) == ("Deployment", 2, 1)  # pod 1 is gone
    assert w["cpu_recommended"] == 0.5 and w["memory_recommended"] == pytest.approx(115.0)
    assert w["cpu_difference"] == -0.5 and w["memory_difference"] == pytest.approx(-85.0)
    solo = _row(out, "solo")
    assert solo["workload_kind"] == "Pod" and solo["status"] == STATUS_NOT_ENOUGH_DATA
    assert solo["replicas"] == 0 and math.isnan(solo["cpu_recommended"])

    savings = namespace_savings(out)
    assert savings.to_dict("records") == [{
        "namespace": "a", "containers": 1, "cpu_request": 1.0, "cpu_recommended": 0.5, "cpu_difference": -0.5,
        "memory_request": 200.0, "memory_recommended": pytest.approx(115.0),
        "memory_difference": pytest.approx(-85.0)}]


def test_recommend_with_nothing() -> None:
    empty = pd.DataFrame(columns=["value"])
    out = recommend(empty, empty, empty, empty, empty, now=datetime.now(UTC), min_history_seconds=1)
    assert out.empty and list(out.columns) == RECOMMENDATION_COLUMNS
    assert namespace_savings(out).empty


def test_forecast_limits_pure() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    predicted = _frame([("a", "p", "grow", 900.0 + 24 * 10), ("a", "p", "flat", 500.0),
                        ("a", "p", "over", 1200.0), ("a", "p", "nolimit", 10_000.0)], KEYS)
    slope = _frame([("a", "p", "grow", 10 / 3600), ("a", "p", "flat", 0.0), ("a", "p", "over", 0.0),
                    ("a", "p", "nolimit", 1.0)], KEYS)
    limits = _frame([("a", "p", c, "memory", "limit", 1000.0) for c in ("grow", "flat", "over")],
                    ["namespace", "pod", "container", "resource", "kind", "value"])
    current = _frame([("a", "p", "grow", 905.0)], KEYS)
    out = forecast_limits(current, predicted, slope, limits, horizon_seconds=24 * 3600, now=now)
    assert out["container"].tolist() == ["over", "grow"]
    grow = out.iloc[1]
    assert grow["hours_to_limit"] == pytest.approx(10.0)  # (1000 - 900) / 10 per hour
    assert grow["memory_bytes"] == 905.0
    assert grow["reaches_limit_at"] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert out.iloc[0]["hours_to_limit"] == 0
    assert forecast_sentence(out.iloc[0]) == "over (pod a/p) is at its memory limit now."


def test_frequent_restarts_pure() -> None:
    increase = _frame([("a", "p1", "", 12.0), ("a", "p2", "", 1.0), ("b", "p3", "", 6.0)],
                      ["namespace", "pod", "container", "value"])
    out = frequent_restarts(increase, window_seconds=7200, threshold=2.0)
    assert out["pod"].tolist() == ["p1", "p3"]
    assert out["restarts_per_hour"].tolist() == [6.0, 3.0]
    assert restart_sentence(out.iloc[0]) == "Pod a/p1 restarts about 6 times an hour."
    assert frequent_restarts(pd.DataFrame(), window_seconds=3600, threshold=1).empty


def test_about_and_resolution() -> None:
    assert about(3.04) == "about 3 hours"
    assert about(0.5) == "about 30 minutes"
    assert about(1 / 60 * 3) == "about 3 minutes"
    assert about(0.001) == "now"
    assert about(float("nan")) == "an unknown time"
    assert subquery_resolution("7d") == "300s"
    assert subquery_resolution("1d") == "60s"


def test_known_history_is_in_the_past() -> None:
    history = KnownHistory()
    times = [int(time.time()) - 120 + 60 * i for i in range(2)]
    history.build(times)
    assert history.end == times[-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["w1", "w2"]), st.floats(0, 8), st.floats(1, 2**34),
                          st.floats(0, 3 * 86400)), min_size=1, max_size=6))
def test_recommend_properties(pods: list[tuple[str, float, float, float]]) -> None:
    """Whatever the pods: one row per workload, its CPU the highest pod percentile, its memory the highest
    peak plus 15 %, and a recommendation exactly when the oldest pod has a day of history."""
    now = datetime(2026, 1, 8, tzinfo=UTC)
    names = [f"{workload}-6d8f7b9c5d-{index}" for index, (workload, *_rest) in enumerate(pods)]
    cpu = _frame([("a", name, "c", p95) for name, (_w, p95, _m, _h) in zip(names, pods, strict=True)], KEYS)
    memory = _frame([("a", name, "c", peak) for name, (_w, _c, peak, _h) in zip(names, pods, strict=True)],
                    KEYS)
    first = _frame([("a", name, "c", now.timestamp() - age)
                    for name, (_w, _c, _m, age) in zip(names, pods, strict=True)], KEYS)
    owners = _frame([("a", name, "ReplicaSet", name.rsplit("-", 1)[0], 1.0) for name in names],
                    ["namespace", "pod", "owner_kind", "owner_name", "value"])
    empty = pd.DataFrame(columns=["namespace", "pod", "container", "resource", "kind", "value"])
    out = recommend(cpu, memory, first, empty, owners, now=now, min_history_seconds=86400)
    by_workload: dict[str, list[tuple[float, float, float]]] = {}
    for workload, p95, peak, age in pods:
        by_workload.setdefault(workload, []).append((p95, peak, age))
    assert sorted(out["workload"]) == sorted(by_workload)
    for workload, values in by_workload.items():
        row = _row(out, workload)
        assert row["pods"] == len(values)
        if max(age for *_x, age in values) >= 86400:
            assert row["status"] == STATUS_OK
            assert row["cpu_recommended"] == max(p95 for p95, *_x in values)
            assert row["memory_recommended"] == pytest.approx(max(peak for _c, peak, _a in values) * 1.15)
        else:
            assert row["status"] == STATUS_NOT_ENOUGH_DATA and math.isnan(row["cpu_recommended"])
