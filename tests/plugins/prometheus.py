"""The `prometheus` fixture: a real Prometheus with 26 h of backfilled history, scraping the live sample
apps (driven by the traffic generator) and the cluster exporter for the demo pods, alert rules loaded.

    def test_something(prometheus):
        prometheus.url                     # http://127.0.0.1:PORT
        prometheus.prometheus.query("up")  # PrometheusServer helpers (HTTP with timeouts)
        prometheus.apps["web"].url         # the live sample apps; .exporter, .traffic, .pods as well
        prometheus.flavour                 # which Prometheus it is (sandbox.prometheus.flavours)

It is parametrized over the flavours (Debian's 2.42 and a built 3.x; the test ids name them), because
KAMS must work with both majors. `prometheus_flavour` alone gives the programs, for a test that starts
its own Prometheus; `promtool` runs that flavour's promtool. pytest runs the tests grouped by flavour,
so each flavour's sandbox is started once (about 10-15 s) and stopped before the next one starts.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.cluster_loader import load_demo_objects
from sandbox.prometheus import MetricsSandbox
from sandbox.prometheus.flavours import FLAVOURS, Flavour
from tests.plugins.realservers import need_real

#: The `promtool` fixture: promtool("check", "rules", path) -> its CompletedProcess, output as text.
Promtool = Callable[..., subprocess.CompletedProcess[str]]


def demo_pods() -> list[dict[str, Any]]:
    return [obj for obj in load_demo_objects() if obj.get("kind") == "Pod"]


@pytest.fixture(scope="session", params=FLAVOURS, ids=[flavour.name for flavour in FLAVOURS])
def prometheus_flavour(request: pytest.FixtureRequest) -> Flavour:
    flavour: Flavour = request.param
    if flavour.built:
        need_real("prometheus")
        need_real("promtool")
    elif not flavour.has_prometheus():
        pytest.skip("Debian's prometheus package is not installed (scripts/system-deps.sh prometheus)")
    return flavour


@pytest.fixture
def promtool(prometheus_flavour: Flavour) -> Promtool:
    """The flavour's promtool; a failing run is returned, not raised, for the test to show its output."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(prometheus_flavour.promtool), *args], capture_output=True, text=True,
                              timeout=60, check=False)
    return run


@pytest.fixture(scope="session")
def prometheus(prometheus_flavour: Flavour) -> Iterator[MetricsSandbox]:
    pods = demo_pods()
    assert pods, "sandbox/cluster/ has no Pod objects; the metrics sandbox needs the demo cluster"
    metrics = MetricsSandbox(pods, flavour=prometheus_flavour).start()
    print(f"\n[prometheus fixture] {prometheus_flavour.name} started in {metrics.startup_seconds:.1f}s at "
          f"{metrics.url} (backfill {metrics.prometheus.backfill_result})",  # type: ignore[union-attr]
          file=sys.stderr)
    try:
        yield metrics
    finally:
        metrics.stop()
