"""Incidents for people who do not read alerts: which alert fired for which application, since when, and
whether it is over. Never a pod name: an alert about a pod is shown as its application's.

Two queries whatever the number of alerts or applications: Prometheus' live alerts (the firing ones,
with the exact time each became active) and a range query of its ALERTS series over INCIDENT_HISTORY,
whose samples stop when an alert resolves, so the gaps in it are the ends of incidents. Times read from
the range are exact to its step (INCIDENT_STEP_SECONDS).

An incident is one (alert name, severity, namespace, application) firing without a gap: several pods of
one application firing the same alert together are one incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd

from k8sdata.overview import PromSource
from k8sdata.pods.owners import guess_workload
from k8sdata.requests.queries import FIRING_ALERTS
from k8sdata.requests.slo import in_namespaces, query_namespace

#: How far back resolved incidents are listed.
INCIDENT_HISTORY = timedelta(days=7)
#: The range query's step: 7 days at 5 minutes is 2,017 points per series (Prometheus allows 11,000),
#: and ALERTS is looked up 5 minutes back at each step, so no firing sample falls between two steps.
INCIDENT_STEP_SECONDS = 300.0

INCIDENT_COLUMNS = ["state", "alertname", "severity", "app", "namespace", "started", "ended",
                    "duration_seconds"]
_KEY = ["alertname", "severity", "namespace", "app"]
STATE_FIRING = "Firing now"
STATE_RESOLVED = "Resolved"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def application_of(namespace: str, pod: str, app: str, pod_apps: Mapping[tuple[str, str], str]) -> str:
    """The application an alert is about: its own app label, else its pod's application (from the pods
    list), else the workload the pod's name suggests; "" when none. Never the pod's own name."""
    if app:
        return app
    if not pod:
        return ""
    named = pod_apps.get((namespace, pod), "")
    if named and named != pod:
        return named
    return guess_workload(pod) or ""


def pod_applications(pods: pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """(namespace, pod) -> application, from a k8sdata.pods.frames pods table (its `app` column)."""
    if pods is None or pods.empty:
        return {}
    return {(str(ns), str(name)): str(app) for ns, name, app in zip(pods["namespace"], pods["name"],
                                                                    pods["app"], strict=True) if app}


def _named(frame: pd.DataFrame, pod_apps: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """`frame` (alert rows with namespace, pod and app or app_kubernetes_io_name) with `app` filled in
    and the pod column dropped."""
    columns = {column: (frame[column] if column in frame.columns else pd.Series("", index=frame.index))
               .map(_text) for column in ("namespace", "pod", "app", "app_kubernetes_io_name")}
    apps = [application_of(ns, pod, app or other, pod_apps) for ns, pod, app, other in zip(
        columns["namespace"], columns["pod"], columns["app"], columns["app_kubernetes_io_name"], strict=True)]
    out = frame.drop(columns=[c for c in ("pod", "app", "app_kubernetes_io_name") if c in frame.columns])
    out = out.assign(namespace=columns["namespace"], app=apps)
    for column in ("alertname", "severity"):
        out[column] = (out[column] if column in out.columns else pd.Series("", index=out.index)).map(_text)
    return out


def episodes(history: pd.DataFrame, step_seconds: float) -> pd.DataFrame:
    """Incidents from a range query of ALERTS already named by application (columns: _KEY, timestamp):
    per key, runs of samples no more than one step apart. Columns: _KEY, started, last_seen."""
    columns = [*_KEY, "started", "last_seen"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    points = history[[*_KEY, "timestamp"]].drop_duplicates().sort_values([*_KEY, "timestamp"])
    gap = pd.Timedelta(seconds=step_seconds * 1.5)  # a little slack: steps are exact, float seconds not
    rows = []
    for key, group in points.groupby(_KEY, sort=False):
        times = list(group["timestamp"])
        start = previous = times[0]
        for moment in times[1:]:
            if moment - previous > gap:
                rows.append([*key, start, previous])
                start = moment
            previous = moment
        rows.append([*key, start, previous])
    return pd.DataFrame(rows, columns=columns)


def incident_table(live: pd.DataFrame, history: pd.DataFrame, *, end: datetime, step_seconds: float,
                   pod_apps: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """INCIDENT_COLUMNS, firing first, then the most recent first.

    live: Prometheus' alerts (k8sdata.sources.prom.ALERT_COLUMNS); the firing ones are "Firing now", since the
    earliest activeAt of the application's pods. history: the FIRING_ALERTS range query's rows (labels,
    timestamp) up to `end`; its runs that stopped before the last step are "Resolved", started at their
    first sample and ended one step after their last (the alert was gone at the next evaluation seen).
    Runs still going at `end` are the live ones, already listed, unless the live list no longer has
    them (resolved in the last step: ended at `end`)."""
    rows: list[dict[str, object]] = []
    firing = live[live["state"] == "firing"] if not live.empty else live
    firing_keys: set[tuple[str, ...]] = set()
    if not firing.empty:
        named = _named(firing, pod_apps)
        for key, group in named.groupby(_KEY, sort=False):
            firing_keys.add(tuple(key))
            started = pd.to_datetime(group["active_at"], utc=True).min()
            rows.append({**dict(zip(_KEY, key, strict=True)), "state": STATE_FIRING, "started": started,
                         "ended": pd.NaT, "duration_seconds": (pd.Timestamp(end) - started).total_seconds()})
    if not history.empty:
        runs = episodes(_named(history, pod_apps), step_seconds)
        last_step = pd.Timestamp(end) - pd.Timedelta(seconds=step_seconds * 1.5)
        for run in runs.to_dict("records"):
            going = run["last_seen"] >= last_step
            if going and tuple(run[k] for k in _KEY) in firing_keys:
                continue  # the live list has it, with its exact start
            # Still in the range's last step but no longer firing: it resolved since; `end` is the
            # closest time known.
            ended = pd.Timestamp(end) if going else run["last_seen"] + pd.Timedelta(seconds=step_seconds)
            rows.append({**{k: run[k] for k in _KEY}, "state": STATE_RESOLVED, "started": run["started"],
                         "ended": ended, "duration_seconds": (ended - run["started"]).total_seconds()})
    frame = pd.DataFrame(rows, columns=INCIDENT_COLUMNS)
    for column in ("started", "ended"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
    frame["duration_seconds"] = frame["duration_seconds"].astype("float64")
    order = frame["state"].map({STATE_FIRING: 0, STATE_RESOLVED: 1})
    return (frame.assign(_order=order).sort_values(["_order", "started"], ascending=[True, False],
                                                   kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def incidents(prom: PromSource, namespaces: frozenset[str] | None, *, now: datetime,
              pods: pd.DataFrame | None = None, live: pd.DataFrame | None = None,
              history: timedelta = INCIDENT_HISTORY, step_seconds: float = INCIDENT_STEP_SECONDS
              ) -> pd.DataFrame:
    """The incidents of the allowed namespaces (None = all) over the last `history`, INCIDENT_COLUMNS.

    Alerts without a namespace (a scrape target down) belong to no application and are left out. `live`
    is Prometheus' alerts when the caller already has them (saves a request); `pods` names the
    applications of pod alerts. Two queries at most; none when `namespaces` is empty."""
    if namespaces is not None and not namespaces:
        return pd.DataFrame(columns=INCIDENT_COLUMNS)
    # The end sits on a step, so viewers within one step share the same (cacheable) range query.
    end_seconds = (now.timestamp() // step_seconds) * step_seconds
    end = datetime.fromtimestamp(end_seconds, now.tzinfo)
    alerts = prom.alerts() if live is None else live
    alerts = in_namespaces(alerts[alerts["namespace"] != ""], namespaces) if not alerts.empty else alerts
    query = FIRING_ALERTS.render(namespace=query_namespace(namespaces))
    past = prom.range(query, end - history, end, step_seconds)
    if not past.empty:
        past = in_namespaces(past, namespaces)
    return incident_table(alerts, past, end=end, step_seconds=step_seconds, pod_apps=pod_applications(pods))
