"""The whole metrics side of the sandbox in one object: sample apps, traffic, exporter, Prometheus.

    with MetricsSandbox(lambda: api_server_store_pods()) as metrics:
        metrics.prometheus.url

Start order: api and web apps, the cluster exporter, the ingress-nginx stand-in (sandbox.ingress: the
same traffic seen at the edge, a second request-metric convention), the traffic generator, then
Prometheus (backfilled from the same traffic and usage models, so history and live data join). Stop is
the reverse.
sandbox/stack.py and the `prometheus` pytest fixture both build on this.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sandbox import demo_names
from sandbox.exporter import CADVISOR, KUBE_STATE_METRICS, ClusterExporter, PodsProvider
from sandbox.ingress import TARGET_LABELS as INGRESS_TARGET_LABELS
from sandbox.ingress import IngressExporter, IngressHistory, IngressTraffic
from sandbox.prometheus.backfill import BackfillSource, ExporterHistory, SampleAppHistory, SourceGroup
from sandbox.prometheus.flavours import DEBIAN, Flavour
from sandbox.prometheus.server import PrometheusServer, ScrapeTarget
from sandbox.sampleapp import SampleApp
from sandbox.traffic import TrafficGenerator

#: Target labels of the exporter's two jobs. Fixed instance names (not the random port) so that the
#: backfilled history and the live scrapes are the same series.
EXPORTER_TARGET_LABELS: dict[str, dict[str, str]] = {
    CADVISOR: {"job": "kubelet", "instance": "cluster-exporter:10250", "metrics_path": "/metrics/cadvisor"},
    KUBE_STATE_METRICS: {"job": "kube-state-metrics", "instance": "kube-state-metrics:8080"},
}
#: Hours of ingress-nginx history in the backfill (the apps' own series have the full history).
INGRESS_HISTORY_HOURS = 6.0
SAMPLE_APP_PORT = 8080  # the port the demo pods would listen on; only used in the `instance` label


def sample_app_target_labels(app: demo_names.SampleAppPod, pods: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Target labels for a sample app, like a Kubernetes ServiceMonitor would attach them."""
    pod_ip = next((pod.get("status", {}).get("podIP") for pod in pods
                   if pod.get("metadata", {}).get("name") == app.pod
                   and pod.get("metadata", {}).get("namespace") == app.namespace), None)
    return {"job": app.app, "instance": f"{pod_ip or app.pod}:{SAMPLE_APP_PORT}", "namespace": app.namespace,
            "pod": app.pod, "container": app.container, "app": app.app}


def _series_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in labels.items() if key != "metrics_path"}


class MetricsSandbox:
    """Sample apps + traffic generator + cluster exporter + a backfilled real Prometheus."""

    def __init__(self, pods: PodsProvider | Sequence[dict[str, Any]], *, traffic_scale: float = 1.0,
                 backfill_hours: float = 26.0, run_traffic: bool = True, rules: bool = True,
                 ingress: bool = True, clock: Callable[[], float] = time.time,
                 flavour: Flavour = DEBIAN) -> None:
        self.pods: PodsProvider = pods if callable(pods) else (lambda: list(pods))  # type: ignore[arg-type]
        self.traffic_scale = traffic_scale
        self.backfill_hours = backfill_hours
        self.run_traffic = run_traffic
        self.rules = rules
        self.with_ingress = ingress
        self.clock = clock
        self.flavour = flavour
        self.api: SampleApp | None = None
        self.web: SampleApp | None = None
        self.exporter: ClusterExporter | None = None
        self.ingress: IngressExporter | None = None
        self.prometheus: PrometheusServer | None = None
        self.traffic: TrafficGenerator | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        assert self.prometheus is not None
        return self.prometheus.url

    @property
    def apps(self) -> dict[str, SampleApp]:
        assert self.api is not None and self.web is not None
        return {"web": self.web, "api": self.api}

    def start(self) -> MetricsSandbox:
        began = time.monotonic()
        try:
            self.api = SampleApp("api").start()
            self.web = SampleApp("web", api_url=self.api.url).start()
            self.exporter = ClusterExporter(self.pods, clock=self.clock).start()
            if self.run_traffic:  # before Prometheus, so its first scrape already sees live traffic
                self.traffic = TrafficGenerator({"web": self.web.url, "api": self.api.url},
                                                scale=self.traffic_scale).start()
            pods_now = self.pods()
            now = self.clock()
            targets: list[ScrapeTarget] = []
            sources: list[BackfillSource] = []
            for app in demo_names.SAMPLE_APPS:
                labels = sample_app_target_labels(app, pods_now)
                targets.append(ScrapeTarget(job=labels["job"], address=self.apps[app.app].url.split("//")[1],
                                            labels={k: v for k, v in labels.items() if k != "job"}))
                sources.append(SampleAppHistory(app.app, labels))
            # The ingress's history is its own file: promtool converts it while Python writes the next.
            edge_history: list[BackfillSource] = []
            if self.with_ingress:
                # Counters start an hour before the ingress's history, so its first sample is not 0.
                origin = now - min(self.backfill_hours, INGRESS_HISTORY_HOURS) * 3600 - 3600
                self.ingress = IngressExporter(IngressTraffic(origin), clock=self.clock).start()
                targets.append(ScrapeTarget(
                    job=INGRESS_TARGET_LABELS["job"], address=self.ingress.address,
                    labels={k: v for k, v in INGRESS_TARGET_LABELS.items() if k != "job"}))
                edge_history.append(IngressHistory(self.ingress.traffic, INGRESS_TARGET_LABELS,
                                                   hours=INGRESS_HISTORY_HOURS))
            for section, labels in EXPORTER_TARGET_LABELS.items():
                targets.append(ScrapeTarget(job=labels["job"], address=self.exporter.address,
                                            labels={"instance": labels["instance"]},
                                            metrics_path=labels.get("metrics_path", f"/metrics/{section}"),
                                            honor_labels=True))
            exporter_labels = {section: _series_labels(labels) for section, labels
                               in EXPORTER_TARGET_LABELS.items()}
            # Two files, about a third and two thirds of the samples: promtool converts the first while
            # Python writes the kube-state-metrics one (measured fastest of one, two and four files).
            sources.append(ExporterHistory(pods_now, exporter_labels, now, sections=(CADVISOR,)))
            kube_state = ExporterHistory(pods_now, exporter_labels, now, sections=(KUBE_STATE_METRICS,))
            self.prometheus = PrometheusServer(
                targets, backfill=[SourceGroup(sources), *edge_history, kube_state],
                backfill_hours=self.backfill_hours, rules=self.rules, flavour=self.flavour).start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        for component in (self.prometheus, self.traffic, self.ingress, self.exporter, self.web, self.api):
            if component is not None:
                component.stop()
        self.traffic = self.prometheus = self.ingress = self.exporter = self.web = self.api = None

    def __enter__(self) -> MetricsSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
