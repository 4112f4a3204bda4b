"""The `alertmanager` fixture: a real Alertmanager of the `prometheus` fixture's flavour (Debian's 0.25
beside Prometheus 2.42, the built 0.3x beside Prometheus 3), which that Prometheus sends its alerts to,
exactly as the demo stack wires them (PrometheusServer.send_alerts_to).

    def test_something(alertmanager):
        alertmanager.url                          # http://127.0.0.1:PORT
        alertmanager.get_json("/api/v2/alerts")   # what Prometheus has sent so far

Started once per flavour (under a second) and stopped with it; Prometheus is told to stop sending.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.alertmanager import AlertmanagerServer
from tests.plugins.realservers import need_real


@pytest.fixture(scope="session")
def alertmanager(prometheus: Any) -> Iterator[AlertmanagerServer]:
    if prometheus.flavour.built:
        need_real("alertmanager")
    server = AlertmanagerServer(binary=prometheus.flavour.alertmanager).start()
    prometheus.prometheus.send_alerts_to(server.address)
    try:
        yield server
    finally:
        prometheus.prometheus.send_alerts_to()
        server.stop()
