"""k8sdata.overview.collect_overview against the real sandbox servers (no streamlit): a constant number
of requests whatever the filter, typed results per section, and one timeout per dead source."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from k8sdata.access import scoped
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, Unreachable
from k8sdata.overview import collect_overview
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.prom import PromClient
from sandbox.demo_names import API, APP_NAMESPACE, WEB
from tests.plugins.app import closed_port_url


class CountingProm(PromClient):
    """The real client, counting the requests it sends (to prove the query budget is fixed)."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(url, timeout)
        self.calls: list[str] = []

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append(path)
        return super()._get(path, params)


def kube_for(kube_api: Any) -> KubeClient:
    settings = Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig), "HOME": "/nonexistent"})
    return KubeClient(settings)


def test_a_page_view_sends_a_fixed_number_of_requests(kube_api: Any, prometheus: Any) -> None:
    kube = kube_for(kube_api)
    counts = []
    for namespace in (None, APP_NAMESPACE):
        prom = CountingProm(prometheus.url, 5.0)
        before = len(kube_api.server.request_log)
        data = collect_overview(kube, prom, namespace, "5m", time_range=timedelta(hours=6))
        kube_requests = len(kube_api.server.request_log) - before
        counts.append((len(prom.calls), kube_requests))
        assert data.pods.ok and data.metrics.ok and data.alerts.ok and data.request_rate_series.ok
    # Which request metrics there are (one query), then per convention found (the apps' own and the
    # ingress') rates by status and three quantiles, and its chart; restarts, alerts; pods + events.
    assert counts == [(1 + 2 * 4 + 2 + 2, 2), (1 + 2 * 4 + 2 + 2, 2)]


def test_overview_data_has_both_demo_apps_with_live_numbers(kube_api: Any, prometheus: Any) -> None:
    data = collect_overview(kube_for(kube_api), PromClient(prometheus.url, 5.0), APP_NAMESPACE, "5m")
    apps = {(a.namespace, a.app): a for a in data.apps}
    for sample in (WEB, API):
        app = apps[(APP_NAMESPACE, sample.app)]
        assert app.pods_total >= 1 and app.pods_ready >= 1
        assert app.request_rate is not None and app.request_rate > 0
        assert app.error_ratio is not None and 0 <= app.error_ratio < 1
        assert app.latency_p95 is not None and app.latency_p95 > 0
        assert app.light in {"green", "amber", "red"} and app.reasons
    series = data.request_rate_series.value
    assert isinstance(series, pd.DataFrame)
    assert set(series["app"]) == {WEB.app, API.app}
    assert series["timestamp"].max() - series["timestamp"].min() >= timedelta(minutes=50)
    assert data.numbers is not None and data.numbers.request_rate and data.numbers.request_rate > 0
    assert data.numbers.restarts_1h == sum(a.restarts_1h or 0 for a in data.apps)


def test_without_kubernetes_restarts_still_come_from_prometheus(prometheus: Any) -> None:
    from k8sdata.errors import Forbidden

    prom = PromClient(prometheus.url, 5.0)
    data = collect_overview(Forbidden("kubernetes", "test"), prom, None, "5m")
    restarts = data.restarts_1h.value
    assert restarts and sum(restarts.values()) > 0  # the crash-looping demo pod restarts all the time
    assert data.numbers is not None and data.numbers.restarts_1h == round(sum(restarts.values()))
    assert isinstance(data.pods.error, Forbidden)


def test_dead_prometheus_costs_one_request_and_kubernetes_still_answers(kube_api: Any) -> None:
    prom = CountingProm(closed_port_url(), 2.0)
    data = collect_overview(kube_for(kube_api), prom, None, "5m")
    assert len(prom.calls) == 1  # the breaker: no six timeouts against a dead server
    for section in (data.metrics, data.restarts_1h, data.request_rate_series, data.alerts):
        assert isinstance(section.error, Unreachable)
    assert "KAMS cannot reach Prometheus" in data.metrics.error.sentence
    assert data.pods.ok and data.warning_events.ok
    assert {(APP_NAMESPACE, WEB.app), (APP_NAMESPACE, API.app)} <= {(a.namespace, a.app) for a in data.apps}
    assert data.numbers is not None and data.numbers.restarts_1h is None  # unknown, not zero


def test_no_sources_configured_gives_typed_results_not_exceptions() -> None:
    data = collect_overview(None, None, None, "5m")
    assert isinstance(data.pods.error, NotConfigured) and data.pods.error.source == "kubernetes"
    assert isinstance(data.metrics.error, NotConfigured) and data.metrics.error.source == "prometheus"
    assert data.apps == []


def test_pod_alerts_are_named_after_their_application(kube_api: Any, prometheus: Any) -> None:
    data = collect_overview(kube_for(kube_api), PromClient(prometheus.url, 5.0), None, "5m")
    alerts = data.alerts.value
    assert isinstance(alerts, pd.DataFrame)
    oom = alerts[alerts["alertname"] == "ContainerOOMKilled"]
    assert not oom.empty
    assert (oom["app"] != "").all()
    pods = data.pods.value
    assert pods is not None
    for row in oom.itertuples():
        assert row.app == pods.set_index(["namespace", "name"]).loc[(row.namespace, row.pod), "app"]
    # ...and the firing alert reaches that application's light.
    light = {(a.namespace, a.app): a for a in data.apps}[(oom.iloc[0]["namespace"], oom.iloc[0]["app"])]
    assert light.light in {"amber", "red"}
    assert any("ContainerOOMKilled" in reason for reason in light.reasons)


@pytest.mark.usefixtures("app_env")
def test_one_overview_assembly_serves_every_viewer_of_the_same_view() -> None:
    """Issue 16: at 100,000 pods the roll-up is seconds of CPU; viewers of the same view (the same
    namespace, window, range and scope) share one assembly per DATA_TTL_SECONDS instead of each making
    their own. A viewer limited to some namespaces never gets another scope's answer."""
    import ui.data

    settings = Settings.from_env()
    view = (settings, None, None, "5m", timedelta(hours=1), False)
    first = ui.data.overview_data(*view)
    assert first.pods.ok and first.apps
    assert ui.data.overview_data(*view) is first
    assert ui.data.overview_data(settings, None, APP_NAMESPACE, "5m", timedelta(hours=1), False) is not first
    with scoped(frozenset({APP_NAMESPACE})):
        limited = ui.data.overview_data(*view)
    assert limited is not first
