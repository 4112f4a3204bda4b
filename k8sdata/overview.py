"""Everything the Overview page shows, assembled from Kubernetes and Prometheus (no streamlit).

`collect_overview` returns an `OverviewData` whose sections are each a `Result`: the data, or the
SourceError that prevented it. One failing source therefore never blanks the page: without Prometheus
the lights still come from pods; without Kubernetes they still come from request metrics.

A page view sends a fixed number of requests whatever the cluster's size: 2 to Kubernetes (pods,
events) and to Prometheus one to find the request-metric conventions, then per convention found 4 or 5
(k8sdata.requests.red: rates by status, three quantiles, buckets of pods named outside PromQL) and 1 for the
request-rate chart, and restarts and alerts; every query aggregates by namespace and workload (or pod).
Applications are named as the Requests page names them: the app label, app.kubernetes.io/name,
kube-state-metrics' ownership, the listed pods' owners, the pod's name. After a source times out or is
unreachable, its remaining calls are skipped with the same error, so a dead server costs one timeout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import pandas as pd

from k8sdata import health
from k8sdata.errors import NotConfigured, SourceError, Timeout, Unreachable
from k8sdata.health import AppHealth, KeyNumbers
from k8sdata.pods import frames
from k8sdata.pods.owners import lookup_from_pods
from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, Convention, detect_conventions
from k8sdata.requests.queries import RESTARTS_1H
from k8sdata.requests.red import one_convention_per_workload, red_summary, workload_rates
from k8sdata.sources.protocols import PodEventSource, PromSource

T = TypeVar("T")

#: Points in the request-rate chart, whatever the time range (keeps the query cost constant).
CHART_POINTS = 120
#: Most recent Warning events shown.
MAX_WARNING_EVENTS = 50
#: Errors after which the same source is not asked again during this page view.
_SOURCE_DOWN = (Unreachable, Timeout, NotConfigured)


@dataclass(frozen=True)
class Result(Generic[T]):
    """A section's data, or the typed error that prevented it (exactly one is set)."""

    value: T | None = None
    error: SourceError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Source:
    """Calls one source, turning SourceErrors into Results, and stops asking once it is down."""

    def __init__(self, down: SourceError | None = None) -> None:
        self.down = down

    def call(self, fetch: Callable[[], T]) -> Result[T]:
        if self.down is not None:
            return Result(error=self.down)
        try:
            return Result(value=fetch())
        except SourceError as error:
            if isinstance(error, _SOURCE_DOWN):
                self.down = error
            return Result(error=error)


@dataclass
class OverviewData:
    namespace: str | None  # None = all namespaces
    window: str  # PromQL window of the instant numbers, e.g. "5m"
    now: datetime
    time_range: timedelta
    pods: Result[pd.DataFrame]  # k8sdata.pods.frames.pods_frame columns
    warning_events: Result[pd.DataFrame]  # k8sdata.pods.frames.events_frame columns, newest first
    metrics: Result[pd.DataFrame]  # namespace, app, request_rate, error_ratio, latency_p95
    restarts_1h: Result[dict[tuple[str, str], float]]  # (namespace, pod) -> restarts in the last hour
    request_rate_series: Result[pd.DataFrame]  # namespace, app, timestamp, value (req/s)
    alerts: Result[pd.DataFrame]  # k8sdata.sources.prom.ALERT_COLUMNS, firing first
    apps: list[AppHealth] = field(default_factory=list)
    numbers: KeyNumbers | None = None

    @property
    def kubernetes_error(self) -> SourceError | None:
        return self.pods.error

    @property
    def prometheus_error(self) -> SourceError | None:
        return self.metrics.error


def _keep_namespaces(frame: pd.DataFrame, hide: frozenset[str]) -> pd.DataFrame:
    if frame.empty or "namespace" not in frame.columns or not hide:
        return frame
    return frame[~frame["namespace"].isin(hide)].reset_index(drop=True)


def app_metrics(prom: PromSource, namespace: str | None, window: str, conventions: Sequence[Convention],
                at: datetime | None = None, pods: pd.DataFrame | None = None) -> pd.DataFrame:
    """Request rate, error ratio and p95 per (namespace, app) from the request-metric conventions
    Prometheus has (detect_conventions' answer; each application from its most direct one); `pods`
    names the workloads of pods nothing else names."""
    found = conventions
    owners = lookup_from_pods(pods) if pods is not None else None
    summary = red_summary(prom, found, namespace=namespace or "", window=window, at=at,  # type: ignore[arg-type]
                          owners=owners)
    summary = one_convention_per_workload(summary, found)
    summary = summary[summary["workload"] != ""]
    return summary.rename(columns={"workload": "app", "rps": "request_rate", "p95_seconds": "latency_p95"})[
        list(health.METRICS_COLUMNS)].reset_index(drop=True)


def restarts_last_hour(prom: PromSource, namespace: str | None, at: datetime | None = None
                       ) -> dict[tuple[str, str], float]:
    frame = prom.instant(RESTARTS_1H.render(namespace=namespace or ""), at)
    if frame.empty or "pod" not in frame.columns:
        return {}
    return {(str(row.namespace), str(row.pod)): float(row.value)
            for row in frame.itertuples(index=False) if math.isfinite(row.value)}


def chart_step(time_range: timedelta) -> int:
    """Seconds between chart points: CHART_POINTS over the range, at least 15 s (the scrape interval)."""
    return max(15, int(time_range.total_seconds()) // CHART_POINTS)


def request_rate_series(prom: PromSource, namespace: str | None, conventions: Sequence[Convention],
                        now: datetime, time_range: timedelta, pods: pd.DataFrame | None = None
                        ) -> pd.DataFrame:
    """Requests per second per application over time_range, CHART_POINTS points, one query per
    convention (detect_conventions' answer).

    The rate window is at least one step (so no requests fall between points) and at least 5 minutes
    (so a single scrape gap does not draw a hole). Start and end sit on multiples of the step, so the
    same chart asked twice in a minute is the same query (cache-friendly).
    """
    step = chart_step(time_range)
    window_minutes = max(5, math.ceil(2 * step / 60))
    end_ts = math.floor(now.timestamp() / step) * step
    end = datetime.fromtimestamp(end_ts, UTC)
    start = end - time_range
    rates = workload_rates(prom, conventions, namespace=namespace or "", start=start, end=end,  # type: ignore[arg-type]
                           step=float(step), window=f"{window_minutes}m",
                           owners=lookup_from_pods(pods) if pods is not None else None)
    out = rates.rename(columns={"workload": "app", "time": "timestamp", "rps": "value"})
    return out[out["app"] != ""][["namespace", "app", "timestamp", "value"]].reset_index(drop=True)


def _active_alerts(prom: PromSource, namespace: str | None) -> pd.DataFrame:
    alerts = prom.alerts()
    if namespace and not alerts.empty:
        alerts = alerts[alerts["namespace"] == namespace]
    order = alerts["state"].map({"firing": 0, "pending": 1}).fillna(2)
    return alerts.assign(_order=order).sort_values(["_order", "severity", "alertname"]) \
        .drop(columns="_order").reset_index(drop=True)


def _name_alert_apps(alerts: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Fill an alert's empty `app` from its pod (pod alerts carry namespace and pod, not the app)."""
    if alerts.empty or pods.empty:
        return alerts
    pod_app = {(ns, name): app for ns, name, app in zip(pods["namespace"], pods["name"], pods["app"],
                                                        strict=True)}
    named = [app or pod_app.get((ns, pod), "") for ns, pod, app
             in zip(alerts["namespace"], alerts["pod"], alerts["app"], strict=True)]
    return alerts.assign(app=named)


def _warning_events(kube: PodEventSource, namespace: str | None, now: datetime) -> pd.DataFrame:
    events = frames.events_frame(kube.list_events(namespace), now=now)
    if events.empty:
        return events
    warnings = events[events["type"] == "Warning"]
    return warnings.sort_values("last_seen", ascending=False).head(MAX_WARNING_EVENTS).reset_index(drop=True)


def collect_overview(
    kube: PodEventSource | SourceError | None,
    prom: PromSource | SourceError | None,
    namespace: str | None,
    window: str = "5m",
    now: datetime | None = None,
    *,
    time_range: timedelta = timedelta(hours=1),
    conventions: Sequence[Convention] = BUILTIN_CONVENTIONS,
    hide_namespaces: frozenset[str] = frozenset(),
) -> OverviewData:
    """Assemble the Overview. kube/prom may be a client, the SourceError met while creating it, or None
    (not configured). namespace None = all. hide_namespaces are left out (e.g. kube-system) unless
    asked for by name."""
    now = now or datetime.now(UTC)
    hide = hide_namespaces - {namespace} if namespace else hide_namespaces
    kube_source = _Source(kube if isinstance(kube, SourceError)
                          else NotConfigured("kubernetes") if kube is None else None)
    prom_source = _Source(prom if isinstance(prom, SourceError)
                          else NotConfigured("prometheus") if prom is None else None)
    kube_client: Any = kube
    prom_client: Any = prom

    pods = kube_source.call(lambda: _keep_namespaces(
        frames.pods_frame(kube_client.list_pods(namespace), now=now), hide))
    events = kube_source.call(lambda: _keep_namespaces(_warning_events(kube_client, namespace, now), hide))
    listed = pods.value
    found = prom_source.call(lambda: detect_conventions(prom_client, conventions, at=now,
                                                        namespace=namespace or ""))
    present = found.value or []
    metrics = prom_source.call(lambda: _keep_namespaces(
        app_metrics(prom_client, namespace, window, present, now, listed), hide))
    restarts = prom_source.call(lambda: restarts_last_hour(prom_client, namespace, now))
    series = prom_source.call(lambda: _keep_namespaces(
        request_rate_series(prom_client, namespace, present, now, time_range, listed), hide))
    alerts = prom_source.call(lambda: _active_alerts(prom_client, namespace))

    if alerts.value is not None and pods.value is not None:
        alerts = Result(value=_name_alert_apps(alerts.value, pods.value))
    unread = health.unread_inputs({"pods": pods.error, "metrics": metrics.error, "restarts": restarts.error,
                                   "alerts": alerts.error})
    apps = health.roll_up(pods.value, metrics.value, restarts.value, window=window, alerts=alerts.value,
                          unread=unread)
    numbers = health.key_numbers(pods.value, apps, restarts_known=restarts.ok)
    if restarts.value is not None:
        # Straight from Prometheus, so the headline stays right even when the pods list is missing.
        recent = sum(value for (pod_namespace, _pod), value in restarts.value.items()
                     if pod_namespace not in hide)
        numbers = replace(numbers, restarts_1h=round(recent))
    return OverviewData(namespace=namespace, window=window, now=now, time_range=time_range, pods=pods,
                        warning_events=events, metrics=metrics, restarts_1h=restarts,
                        request_rate_series=series, alerts=alerts, apps=apps, numbers=numbers)
