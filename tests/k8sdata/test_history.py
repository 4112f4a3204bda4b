"""pod_history against the real Prometheus of the `prometheus` fixture (26 h of backfilled demo history
plus live scrapes): the demo web pod's charts have data, in the units the exporter's model says, and the
page costs a fixed number of queries."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from k8sdata.errors import SourceError, Unreachable
from k8sdata.pods.history import (
    CPU_COLUMNS,
    MEMORY_COLUMNS,
    NETWORK_COLUMNS,
    QUERIES_PER_POD,
    RESTART_COLUMNS,
    PodHistory,
    history_step,
    pod_history,
    rate_window,
)
from k8sdata.sources.prom import PromClient
from sandbox import usage
from sandbox.demo_names import CRASHLOOP_POD, WEB
from tests.plugins.prometheus import demo_pods


class CountingClient(PromClient):
    """The real client, counting the range queries it sends (not a mock: every query reaches Prometheus)."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(url, timeout)
        self.queries: list[str] = []

    def range(self, query: str, start: datetime, end: datetime, step: float) -> pd.DataFrame:
        self.queries.append(query)
        return super().range(query, start, end, step)


def _pod(name: str) -> dict:
    return next(pod for pod in demo_pods() if pod["metadata"]["name"] == name)


def test_web_pod_history_has_every_panel(prometheus) -> None:
    prom = CountingClient(prometheus.url, timeout=10)
    end = datetime.now(UTC)
    start = end - timedelta(hours=6)
    step = history_step(start, end)
    history = pod_history(prom, WEB.namespace, WEB.pod, start, end, step)
    assert len(prom.queries) == QUERIES_PER_POD <= 6
    assert history.errors == []

    assert list(history.cpu.columns) == CPU_COLUMNS
    assert set(history.cpu["container"]) == {WEB.container}
    # Six hours at ~90 s steps: about 240 points, all from the backfill or the live scrapes.
    assert len(history.cpu) >= 200
    # The CPU rate agrees with the usage model the exporter publishes (rates of a closed-form counter).
    pod = _pod(WEB.pod)
    sample = history.cpu.iloc[len(history.cpu) // 2]
    at = sample["timestamp"].timestamp()
    window = float(rate_window(step)[:-1])
    expected = (usage.cpu_seconds_total(pod, WEB.container, at)
                - usage.cpu_seconds_total(pod, WEB.container, at - window)) / window
    assert sample["cores"] == pytest.approx(expected, rel=0.1)

    assert list(history.memory.columns) == MEMORY_COLUMNS
    middle = history.memory.iloc[len(history.memory) // 2]
    # Backfilled at 60 s steps: the sample Prometheus returns is at most a minute older than the point.
    candidates = [usage.memory_bytes(pod, WEB.container, middle["timestamp"].timestamp() - lag)
                  for lag in range(0, 61)]
    assert min(candidates) <= middle["bytes"] <= max(candidates)

    spec = pod["spec"]["containers"][0]["resources"]
    assert history.cpu_request["container"].tolist() == [WEB.container]
    assert history.cpu_request["cores"].iloc[0] > 0
    assert history.memory_request["bytes"].iloc[0] > 0
    assert ("limits" in spec) == (not history.memory_limit.empty)

    assert list(history.network.columns) == NETWORK_COLUMNS
    assert set(history.network["direction"]) == {"receive", "transmit"}
    assert (history.network["bytes_per_second"] > 0).all()

    assert list(history.restarts.columns) == RESTART_COLUMNS
    assert (history.restarts["count"] == 0).all()


def test_crash_looping_pod_restarts_climb(prometheus) -> None:
    prom = PromClient(prometheus.url, timeout=10)
    end = datetime.now(UTC)
    history = pod_history(prom, CRASHLOOP_POD.namespace, CRASHLOOP_POD.pod, end - timedelta(hours=3), end, 60)
    restarts = history.restarts
    assert isinstance(restarts, pd.DataFrame)
    counts = restarts[restarts["container"] == CRASHLOOP_POD.container]["count"]
    assert counts.is_monotonic_increasing
    assert counts.iloc[-1] > counts.iloc[0]


def test_unknown_pod_gives_empty_typed_frames(prometheus) -> None:
    prom = PromClient(prometheus.url, timeout=10)
    end = datetime.now(UTC)
    history = pod_history(prom, "shop", 'no-such-pod"} or vector(1) #', end - timedelta(hours=1), end, 60)
    for field in ("cpu", "memory", "network", "restarts", "cpu_request", "memory_limit"):
        frame = getattr(history, field)
        assert isinstance(frame, pd.DataFrame) and frame.empty, field
    assert str(history.cpu["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_unreachable_prometheus_fills_every_panel_with_the_error() -> None:
    with socket.socket() as held:  # bound, never listening: refused, and no one else can take the port
        held.bind(("127.0.0.1", 0))
        prom = PromClient(f"http://127.0.0.1:{held.getsockname()[1]}", timeout=2)
        end = datetime.now(UTC)
        history = pod_history(prom, "shop", "web", end - timedelta(hours=1), end, 60)
    assert isinstance(history, PodHistory)
    assert all(isinstance(value, SourceError) for value in vars(history).values())
    assert len(history.errors) == QUERIES_PER_POD
    assert isinstance(history.cpu, Unreachable)


def test_history_step_and_rate_window() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    assert history_step(end - timedelta(hours=6), end) == 90
    assert history_step(end - timedelta(minutes=10), end) == 15
    assert rate_window(15) == "120s"
    assert rate_window(300) == "600s"
