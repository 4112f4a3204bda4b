"""The `alertmanager` fixture: a real Alertmanager (Debian's 0.25) that the session's `prometheus`
fixture sends its alerts to, exactly as the demo stack wires them (PrometheusServer.send_alerts_to).

    def test_something(alertmanager):
        alertmanager.url                          # http://127.0.0.1:PORT
        alertmanager.get_json("/api/v2/alerts")   # what Prometheus has sent so far

Started once per session (under a second) and stopped at the end; Prometheus is told to stop sending.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.alertmanager import AlertmanagerServer


@pytest.fixture(scope="session")
def alertmanager(prometheus: Any) -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer().start()
    prometheus.prometheus.send_alerts_to(server.address)
    try:
        yield server
    finally:
        prometheus.prometheus.send_alerts_to()
        server.stop()
