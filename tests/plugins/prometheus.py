"""The `prometheus` fixture: a real Prometheus with 26 h of backfilled history, scraping the live sample
apps (driven by the traffic generator) and the cluster exporter for the demo pods, alert rules loaded.

    def test_something(prometheus):
        prometheus.url                     # http://127.0.0.1:PORT
        prometheus.prometheus.query("up")  # PrometheusServer helpers (HTTP with timeouts)
        prometheus.apps["web"].url         # the live sample apps; .exporter, .traffic, .pods as well

Started once per session (about 10-15 s), stopped at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.cluster_loader import load_demo_objects
from sandbox.prometheus import MetricsSandbox


def demo_pods() -> list[dict[str, Any]]:
    return [obj for obj in load_demo_objects() if obj.get("kind") == "Pod"]


@pytest.fixture(scope="session")
def prometheus() -> Iterator[MetricsSandbox]:
    pods = demo_pods()
    assert pods, "sandbox/cluster/ has no Pod objects; the metrics sandbox needs the demo cluster"
    metrics = MetricsSandbox(pods).start()
    print(f"\n[prometheus fixture] started in {metrics.startup_seconds:.1f}s at {metrics.url} "
          f"(backfill {metrics.prometheus.backfill_result})", file=sys.stderr)  # type: ignore[union-attr]
    try:
        yield metrics
    finally:
        metrics.stop()
