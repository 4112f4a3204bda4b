"""Everything the founders' health page shows, assembled from the pods list and Prometheus (no streamlit).

The page is for people who are not engineers and who may see nothing else (the `viewer` role): every
application's traffic light and its reasons (k8sdata.health, as the Overview judges them), availability
and p95 latency over a day, 7 and 30 days against the target (k8sdata.requests.slo), and the incidents of the
last week (k8sdata.incidents). It carries no pod names: an application named only after its pod (a bare pod)
is shown as "Unnamed application", alert annotations (which often quote pods) are not used, and pod
alerts are shown as their application's.

`namespaces` scopes everything: None = every namespace but Kubernetes' own (SYSTEM_NAMESPACES, unless
allowed by name); a set = only those (one namespace goes into the queries, several filter the frames).
Each section is a Result, so one failing source blanks only its panels. A fixed number of requests
whatever the number of applications: the pods list, and to Prometheus the convention detection, the
Overview's 5-minute numbers and restarts, the live alerts, 3 windows of red_summary, the start of the
history and one range query of ALERTS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from k8sdata import health, incidents
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.health import AppHealth
from k8sdata.overview import PromSource, Result, _Source, app_metrics, restarts_last_hour
from k8sdata.pods.owners import lookup_from_pods
from k8sdata.requests import slo
from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, Convention, detect_conventions

#: The window of the lights' request numbers, as on the Overview.
LIGHTS_WINDOW = "5m"
#: What an application named only after its pod is called instead (pod names are not shown here).
UNNAMED_APP = "Unnamed application"


@dataclass
class HealthPageData:
    namespaces: frozenset[str] | None  # None = all (but Kubernetes' own)
    now: datetime
    target_percent: float
    pods: Result[pd.DataFrame]  # only to tell whether Kubernetes answered; never shown
    metrics: Result[pd.DataFrame]  # the lights' request numbers (their failure is Prometheus')
    apps: list[AppHealth] = field(default_factory=list)  # worst first, public names
    slo: Result[pd.DataFrame] = field(default_factory=Result)  # k8sdata.requests.slo.SLO_COLUMNS
    data_began: Result[datetime | None] = field(default_factory=Result)  # None: no request data at all
    incidents: Result[pd.DataFrame] = field(default_factory=Result)  # k8sdata.incidents.INCIDENT_COLUMNS


class PublicNames:
    """Application names safe to show: an application whose name is one of its namespace's pod names
    (a pod without labels or owner names itself) becomes "Unnamed application" (numbered when a
    namespace has several), so no pod name reaches the page through an application's name."""

    def __init__(self, pods: pd.DataFrame | None) -> None:
        self._pods: set[tuple[str, str]] = set()
        if pods is not None and not pods.empty:
            self._pods = {(str(ns), str(name)) for ns, name in zip(pods["namespace"], pods["name"],
                                                                    strict=True)}
        self._numbers: dict[tuple[str, str], int] = {}

    def app(self, namespace: str, app: str) -> str:
        if (namespace, app) not in self._pods:
            return app
        # Numbered in the order of the pods' names, so one pod keeps its number in every table.
        if not self._numbers:
            per_namespace: dict[str, int] = {}
            for key in sorted(self._pods):
                per_namespace[key[0]] = per_namespace.get(key[0], 0) + 1
                self._numbers[key] = per_namespace[key[0]]
        return f"{UNNAMED_APP} {self._numbers[(namespace, app)]}"

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` (namespace and app columns) with public application names."""
        if frame.empty:
            return frame
        names = [self.app(str(ns), str(app))
                 for ns, app in zip(frame["namespace"], frame["app"], strict=True)]
        return frame.assign(app=names)


def _visible(frame: pd.DataFrame, namespaces: frozenset[str] | None) -> pd.DataFrame:
    """Rows of the allowed namespaces; with no scope, Kubernetes' own namespaces are left out, as the
    Overview leaves them out by default (they run the cluster, not the applications)."""
    if frame.empty or "namespace" not in frame.columns:
        return frame
    if namespaces is None:
        return frame[~frame["namespace"].isin(health.SYSTEM_NAMESPACES)].reset_index(drop=True)
    return slo.in_namespaces(frame, namespaces)


def _shown(namespace: str, namespaces: frozenset[str] | None) -> bool:
    """_visible for one namespace."""
    if namespaces is None:
        return namespace not in health.SYSTEM_NAMESPACES
    return namespace in namespaces


def _without_annotations(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alerts whose texts cannot reach the lights' reasons: summaries and descriptions are templates that
    often quote the pod (and sometimes more); the alert's name says enough here."""
    if alerts.empty:
        return alerts
    return alerts.assign(summary="", description="")


def collect_health_page(
    pods: pd.DataFrame | SourceError | None,
    prom: PromSource | SourceError | None,
    namespaces: frozenset[str] | None,
    *,
    target_percent: float = slo.DEFAULT_AVAILABILITY_PERCENT,
    now: datetime | None = None,
    conventions: Sequence[Convention] = BUILTIN_CONVENTIONS,
    history_prom: PromSource | None = None,
) -> HealthPageData:
    """Assemble the page. pods: the pods table of the cluster (k8sdata.pods.frames.pods_frame; all namespaces,
    or the one namespace allowed), the SourceError met reading it, or None (not configured). prom: a
    client, the SourceError met making it, or None. history_prom answers the day-long queries (a cache
    that keeps them longer); prom by default."""
    now = now or datetime.now(UTC)
    kube_source = _Source(pods if isinstance(pods, SourceError)
                          else NotConfigured("kubernetes") if pods is None else None)
    prom_source = _Source(prom if isinstance(prom, SourceError)
                          else NotConfigured("prometheus") if prom is None else None)
    client: Any = prom
    history_client: Any = history_prom or prom
    namespace = slo.query_namespace(namespaces) or None

    listed = kube_source.call(lambda: _visible(pods, namespaces))
    pods_frame = listed.value
    names = PublicNames(pods_frame)
    found = prom_source.call(lambda: detect_conventions(client, conventions, at=now,
                                                        namespace=namespace or ""))
    present = found.value or []
    empty_scope = namespaces is not None and not namespaces

    metrics = prom_source.call(lambda: _visible(
        app_metrics(client, namespace, LIGHTS_WINDOW, present, now, pods_frame), namespaces)
        if not empty_scope else pd.DataFrame(columns=list(health.METRICS_COLUMNS)))
    restarts = prom_source.call(lambda: {key: value for key, value in
                                         restarts_last_hour(client, namespace, now).items()
                                         if _shown(key[0], namespaces)} if not empty_scope else {})
    live = prom_source.call(lambda: _visible(client.alerts(), namespaces) if not empty_scope
                            else pd.DataFrame(columns=["namespace", "state"]))

    alerts = live.value
    if alerts is not None and not alerts.empty:
        pod_apps = incidents.pod_applications(pods_frame)
        alerts = _without_annotations(alerts).assign(app=[
            incidents.application_of(str(ns), str(pod), str(app), pod_apps)
            for ns, pod, app in zip(alerts["namespace"], alerts["pod"], alerts["app"], strict=True)])
    unread = health.unread_inputs({"pods": listed.error, "metrics": metrics.error, "restarts": restarts.error,
                                   "alerts": live.error})
    apps = health.roll_up(pods_frame, metrics.value, restarts.value, window=LIGHTS_WINDOW, alerts=alerts,
                          unread=unread)
    apps = [replace(app, app=names.app(app.namespace, app.app)) for app in apps]

    owners = lookup_from_pods(pods_frame) if pods_frame is not None else None
    raw = prom_source.call(lambda: slo.fetch_slo(history_client, present, namespaces, at=now, owners=owners))
    began = prom_source.call(lambda: slo.data_began(history_client, present, namespaces, at=now))
    table: Result[pd.DataFrame] = Result(error=raw.error)
    if raw.value is not None:
        visible = _visible(raw.value, namespaces)
        table = Result(value=names.frame(slo.slo_table(visible, target_percent, began.value, now)))
    found_incidents = prom_source.call(lambda: names.frame(_visible(incidents.incidents(
        client, namespaces, now=now, pods=pods_frame, live=live.value), namespaces)))
    return HealthPageData(namespaces=namespaces, now=now, target_percent=target_percent, pods=listed,
                          metrics=metrics, apps=apps, slo=table, data_began=began,
                          incidents=found_incidents)
