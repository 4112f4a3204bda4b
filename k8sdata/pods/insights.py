"""Right-sizing and forecasts from Prometheus history.

Right-sizing follows KRR's "simple" strategy (robusta-dev/krr), re-implemented here:
- CPU request = the 95th percentile of the container's CPU rate over the window (default 7 days); each
  pod's percentile comes from Prometheus (quantile_over_time on a rate subquery) and a workload takes
  the highest of its pods' percentiles, as KRR does;
- memory request = the peak working set over the window, plus 15 %;
- below a minimum history (default 1 day) the answer is "not enough data", never a guess.
Recommendations are per (namespace, workload, container): pods map to their workload through
kube_pod_owner (a ReplicaSet becomes its Deployment by dropping the pod-template-hash suffix, a Job
its CronJob by dropping the schedule suffix).

Forecasts: containers whose working set reaches their memory limit within a horizon at the trend of the
last hours (predict_linear / deriv), and pods restarting faster than a threshold.

Pure functions take DataFrames and return DataFrames; `rightsizing`, `memory_forecast` and
`restart_rate` are the thin functions that ask Prometheus, each with a fixed number of instant queries
aggregated by (namespace, pod, container) or coarser.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from k8sdata.requests.queries import (
    CONTAINER_MEMORY,
    CONTAINER_RESOURCES,
    CONTAINER_RESTARTS_INCREASE,
    CPU_P95_OVER_WINDOW,
    MEMORY_PEAK_OVER_WINDOW,
    MEMORY_PREDICTED,
    MEMORY_SLOPE,
    POD_OWNERS,
    RUNNING_CONTAINERS,
    USAGE_FIRST_SEEN,
    duration_seconds,
    seconds_duration,
)
from k8sdata.sources.protocols import InstantSource

#: KRR's simple strategy: the peak working set plus this share.
MEMORY_BUFFER = 0.15
CPU_PERCENTILE = 0.95  # fixed in the CPU_P95_OVER_WINDOW query
STATUS_OK = "ok"
STATUS_NOT_ENOUGH_DATA = "not enough data"
#: Restarts per hour above which a pod is flagged.
DEFAULT_RESTART_THRESHOLD = 3.0
#: About this many subquery steps over the window: 7 days -> 5-minute steps, like KRR's default.
_SUBQUERY_POINTS = 2000
_MIN_RESOLUTION_SECONDS = 60.0
#: The CPU rate inside the percentile subquery covers at least 5 minutes: four samples at a 1-minute
#: scrape interval (a shorter rate window can hold a single sample and then has no value at all).
_MIN_RATE_WINDOW_SECONDS = 300.0

# pod-template-hash values are made of these characters (apimachinery's rand.SafeEncodeString: no
# vowels, no 0/1/3, so a hash never spells a word), 1 to 10 of them.
_TEMPLATE_HASH = re.compile(r"^(?P<name>.+)-[bcdfghjklmnpqrstvwxz2456789]{1,10}$")
# A CronJob's Job is <cronjob>-<scheduled time in minutes since the epoch>.
_CRONJOB_SUFFIX = re.compile(r"^(?P<name>.+)-\d{8,}$")

RECOMMENDATION_COLUMNS = [
    "namespace", "workload_kind", "workload", "container", "pods", "replicas",
    "cpu_request", "cpu_recommended", "cpu_difference",
    "memory_request", "memory_recommended", "memory_difference",
    "history_hours", "status",
]
SAVINGS_COLUMNS = [
    "namespace", "containers", "cpu_request", "cpu_recommended", "cpu_difference",
    "memory_request", "memory_recommended", "memory_difference",
]
FORECAST_COLUMNS = [
    "namespace", "pod", "container", "memory_bytes", "memory_limit", "growth_bytes_per_hour",
    "hours_to_limit", "reaches_limit_at",
]
RESTART_COLUMNS = ["namespace", "pod", "restarts", "restarts_per_hour"]



# -- workloads --------------------------------------------------------------------------------------

def workload_of(owner_kind: str, owner_name: str, pod: str, pod_template_hash: str = "") -> tuple[str, str]:
    """(kind, name) of the workload a pod belongs to, from its controller owner.

    A ReplicaSet named <deployment>-<pod-template-hash> is its Deployment (exact when the hash is known,
    from the pod's label; otherwise recognised by the hash alphabet). A Job named <cronjob>-<minutes> is
    its CronJob. A pod without a controller, or a static pod (owned by its Node), is its own workload
    (kind "Pod").
    """
    if not owner_kind or owner_kind == "<none>" or not owner_name or owner_name == "<none>":
        return "Pod", pod
    if owner_kind == "Node":  # a static pod's mirror: each one is its own workload
        return "Pod", pod
    if owner_kind == "ReplicaSet":
        if pod_template_hash:
            suffix = f"-{pod_template_hash}"
            if owner_name.endswith(suffix):
                return "Deployment", owner_name[: -len(suffix)]
            return "ReplicaSet", owner_name
        match = _TEMPLATE_HASH.match(owner_name)
        return ("Deployment", match["name"]) if match else ("ReplicaSet", owner_name)
    if owner_kind == "Job":
        match = _CRONJOB_SUFFIX.match(owner_name)
        return ("CronJob", match["name"]) if match else ("Job", owner_name)
    return owner_kind, owner_name


def workload_from_pod(pod: Mapping[str, Any]) -> tuple[str, str]:
    """workload_of for a pod object: its controller ownerReference and its pod-template-hash label."""
    metadata = pod.get("metadata") or {}
    owners = metadata.get("ownerReferences") or []
    controller = next((owner for owner in owners if owner.get("controller")), owners[0] if owners else {})
    labels = metadata.get("labels") or {}
    return workload_of(str(controller.get("kind") or ""), str(controller.get("name") or ""),
                       str(metadata.get("name") or ""), str(labels.get("pod-template-hash") or ""))


def pod_workloads(owners: pd.DataFrame) -> pd.DataFrame:
    """namespace, pod, workload_kind, workload from a kube_pod_owner frame (owner_kind, owner_name)."""
    columns = ["namespace", "pod", "workload_kind", "workload"]
    if owners.empty:
        return pd.DataFrame(columns=columns, dtype="object")
    rows = []
    for namespace, pod, kind, name in owners[["namespace", "pod", "owner_kind", "owner_name"]].itertuples(
            index=False):
        workload_kind, workload = workload_of(kind, name, pod)
        rows.append((namespace, pod, workload_kind, workload))
    return pd.DataFrame(rows, columns=columns).drop_duplicates(["namespace", "pod"], keep="first")


# -- right-sizing -----------------------------------------------------------------------------------

def _per_container(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    keys = ["namespace", "pod", "container"]
    if frame.empty:
        return pd.DataFrame({**{key: pd.Series(dtype="object") for key in keys},
                             value: pd.Series(dtype="float64")})
    return frame[[*keys, "value"]].rename(columns={"value": value})


def _requests(resources: pd.DataFrame, resource: str, kind: str, value: str) -> pd.DataFrame:
    if resources.empty:
        return _per_container(resources, value)
    chosen = resources[(resources["resource"] == resource) & (resources["kind"] == kind)]
    return _per_container(chosen, value)


def recommend(cpu_p95: pd.DataFrame, memory_peak: pd.DataFrame, first_seen: pd.DataFrame,
              resources: pd.DataFrame, owners: pd.DataFrame, running: pd.DataFrame | None = None, *,
              now: datetime, min_history_seconds: float, memory_buffer: float = MEMORY_BUFFER
              ) -> pd.DataFrame:
    """KRR's simple strategy per (namespace, workload, container); pure.

    Inputs are Prometheus instant results (label columns + `value`): cpu_p95 and memory_peak and
    first_seen (Unix seconds) per (namespace, pod, container) over the window; resources as
    CONTAINER_RESOURCES at `now` (resource, kind); owners as POD_OWNERS; running as RUNNING_CONTAINERS at
    `now` (None: the containers with a request or limit now). Returns RECOMMENDATION_COLUMNS:
    current requests (max over the workload's current pods; NaN when none is set), recommendation,
    difference = recommended - current (negative: the container asks for more than it needs), `pods` seen
    in the window, `replicas` running now, history length, and status "ok" or "not enough data" (then
    the recommendation is NaN).
    """
    keys = ["namespace", "pod", "container"]
    usage = _per_container(cpu_p95, "cpu_p95")
    for frame in (_per_container(memory_peak, "memory_peak"), _per_container(first_seen, "first_seen")):
        usage = usage.merge(frame, on=keys, how="outer")
    current = _requests(resources, "cpu", "request", "cpu_request").merge(
        _requests(resources, "memory", "request", "memory_request"), on=keys, how="outer")
    alive = resources if running is None else running
    if not alive.empty:  # containers without any request still count as running replicas
        current = current.merge(alive[keys].drop_duplicates(), on=keys, how="outer")
    current["running"] = 1
    containers = usage.merge(current, on=keys, how="outer")
    if containers.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    workloads = pod_workloads(owners)
    containers = containers.merge(workloads, on=["namespace", "pod"], how="left")
    unowned = containers["workload"].isna()
    containers.loc[unowned, "workload_kind"] = "Pod"
    containers.loc[unowned, "workload"] = containers.loc[unowned, "pod"]

    group = ["namespace", "workload_kind", "workload", "container"]
    grouped = containers.groupby(group, sort=True, dropna=False)
    out = grouped.agg(
        pods=("pod", "nunique"),
        replicas=("running", "sum"),
        cpu_request=("cpu_request", "max"),
        memory_request=("memory_request", "max"),
        cpu_p95=("cpu_p95", "max"),
        memory_peak=("memory_peak", "max"),
        first_seen=("first_seen", "min"),
    ).reset_index()
    history = now.timestamp() - out["first_seen"]
    out["history_hours"] = (history / 3600).where(history.notna(), 0.0)
    enough = (history >= min_history_seconds) & out["cpu_p95"].notna() & out["memory_peak"].notna()
    out["status"] = [STATUS_OK if ok else STATUS_NOT_ENOUGH_DATA for ok in enough]
    out["cpu_recommended"] = out["cpu_p95"].where(enough)
    out["memory_recommended"] = (out["memory_peak"] * (1 + memory_buffer)).where(enough)
    out["cpu_difference"] = out["cpu_recommended"] - out["cpu_request"]
    out["memory_difference"] = out["memory_recommended"] - out["memory_request"]
    out["replicas"] = out["replicas"].fillna(0).astype("int64")
    return out[RECOMMENDATION_COLUMNS].reset_index(drop=True)


def namespace_savings(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Per namespace, the running replicas' current requests, the recommendation and the difference.

    Only containers with status "ok" and a current request count (a difference needs both sides); each
    counts once per running replica. A negative difference is what the namespace could give back.
    Namespaces where no such container runs are left out.
    """
    has_request = recommendations["cpu_request"].notna() | recommendations["memory_request"].notna()
    ok = recommendations[(recommendations["status"] == STATUS_OK) & (recommendations["replicas"] > 0)
                         & has_request]
    rows = []
    for namespace, frame in ok.groupby("namespace", sort=True):
        row: dict[str, Any] = {"namespace": namespace, "containers": len(frame)}
        for resource in ("cpu", "memory"):
            known = frame[frame[f"{resource}_request"].notna()]
            replicas = known["replicas"]
            row[f"{resource}_request"] = float((known[f"{resource}_request"] * replicas).sum())
            row[f"{resource}_recommended"] = float((known[f"{resource}_recommended"] * replicas).sum())
            row[f"{resource}_difference"] = row[f"{resource}_recommended"] - row[f"{resource}_request"]
        rows.append(row)
    return pd.DataFrame(rows, columns=SAVINGS_COLUMNS)


def subquery_resolution(window: str) -> str:
    """The subquery step for a window: about 2,000 points, never under a minute (7d -> 300s)."""
    seconds = duration_seconds(window) / _SUBQUERY_POINTS
    return seconds_duration(max(_MIN_RESOLUTION_SECONDS, 60 * round(seconds / 60)))


def _at(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rightsizing(prom: InstantSource, namespace: str | None, *, window: str = "7d",
                now: datetime | None = None, min_history: str = "1d") -> pd.DataFrame:
    """Recommendations for every container in `namespace` (None: all); six instant queries.

    Raises SourceError when Prometheus fails.
    """
    moment = _at(now)
    resolution = subquery_resolution(window)
    rate_window = seconds_duration(max(duration_seconds(resolution), _MIN_RATE_WINDOW_SECONDS))
    params = {"namespace": namespace or "", "window": window, "resolution": resolution,
              "rate_window": rate_window}
    cpu_p95 = prom.instant(CPU_P95_OVER_WINDOW.render(**params), moment)
    memory_peak = prom.instant(MEMORY_PEAK_OVER_WINDOW.render(**params), moment)
    first_seen = prom.instant(USAGE_FIRST_SEEN.render(**params), moment)
    resources = prom.instant(CONTAINER_RESOURCES.render(namespace=namespace or ""), moment)
    owners = prom.instant(POD_OWNERS.render(**params), moment)
    running = prom.instant(RUNNING_CONTAINERS.render(namespace=namespace or ""), moment)
    return recommend(cpu_p95, memory_peak, first_seen, resources, owners, running, now=moment,
                     min_history_seconds=duration_seconds(min_history))


# -- forecasts --------------------------------------------------------------------------------------

def forecast_limits(current: pd.DataFrame, predicted: pd.DataFrame, slope: pd.DataFrame,
                    resources: pd.DataFrame, *, horizon_seconds: float, now: datetime) -> pd.DataFrame:
    """Containers whose working set reaches its memory limit within the horizon; pure.

    predicted is the linear fit's value `horizon_seconds` from now and slope its growth (bytes/s), so the
    fit's value now is predicted - slope * horizon and the time to the limit (limit - that) / slope. A
    container already at or over its limit has 0 hours left. Sorted soonest first (FORECAST_COLUMNS).
    """
    keys = ["namespace", "pod", "container"]
    frame = _per_container(predicted, "predicted").merge(_per_container(slope, "slope"), on=keys)
    frame = frame.merge(_requests(resources, "memory", "limit", "memory_limit"), on=keys)
    frame = frame.merge(_per_container(current, "memory_bytes"), on=keys, how="left")
    frame = frame[frame["memory_limit"] > 0]
    fitted_now = frame["predicted"] - frame["slope"] * horizon_seconds
    seconds_left = ((frame["memory_limit"] - fitted_now) / frame["slope"]).clip(lower=0)
    over = fitted_now >= frame["memory_limit"]
    reaches = over | ((frame["slope"] > 0) & (seconds_left <= horizon_seconds))
    frame = frame.assign(seconds_left=seconds_left.where(~over, 0.0))[reaches]
    frame["memory_bytes"] = frame["memory_bytes"].fillna(fitted_now[reaches])
    out = pd.DataFrame({
        "namespace": frame["namespace"], "pod": frame["pod"], "container": frame["container"],
        "memory_bytes": frame["memory_bytes"], "memory_limit": frame["memory_limit"],
        "growth_bytes_per_hour": frame["slope"] * 3600,
        "hours_to_limit": frame["seconds_left"] / 3600,
        "reaches_limit_at": pd.to_datetime(now.timestamp() + frame["seconds_left"], unit="s", utc=True),
    }, columns=FORECAST_COLUMNS)
    return out.sort_values(["hours_to_limit", "namespace", "pod", "container"]).reset_index(drop=True)


def memory_forecast(prom: InstantSource, namespace: str | None, *, horizon: str = "24h",
                    lookback: str = "6h", now: datetime | None = None) -> pd.DataFrame:
    """forecast_limits from Prometheus: four instant queries (trend, slope, current, limits)."""
    moment = _at(now)
    params = {"namespace": namespace or "", "window": lookback, "horizon": horizon}
    predicted = prom.instant(MEMORY_PREDICTED.render(**params), moment)
    slope = prom.instant(MEMORY_SLOPE.render(**params), moment)
    current = prom.instant(CONTAINER_MEMORY.render(namespace=namespace or ""), moment)
    resources = prom.instant(CONTAINER_RESOURCES.render(namespace=namespace or ""), moment)
    return forecast_limits(current, predicted, slope, resources, horizon_seconds=duration_seconds(horizon),
                           now=moment)


def frequent_restarts(increase: pd.DataFrame, *, window_seconds: float, threshold: float) -> pd.DataFrame:
    """Pods whose restarts per hour exceed `threshold`, most frequent first (RESTART_COLUMNS); pure."""
    if increase.empty:
        return pd.DataFrame(columns=RESTART_COLUMNS)
    frame = increase[["namespace", "pod", "value"]].rename(columns={"value": "restarts"})
    frame = frame.assign(restarts_per_hour=frame["restarts"] * 3600 / window_seconds)
    flagged = frame[frame["restarts_per_hour"] > threshold]
    return flagged.sort_values(["restarts_per_hour", "namespace", "pod"], ascending=[False, True, True]
                               )[RESTART_COLUMNS].reset_index(drop=True)


def restart_rate(prom: InstantSource, namespace: str | None, *, window: str = "1h",
                 threshold: float = DEFAULT_RESTART_THRESHOLD, now: datetime | None = None) -> pd.DataFrame:
    """Pods restarting more than `threshold` times per hour over the window; one instant query."""
    increase = prom.instant(CONTAINER_RESTARTS_INCREASE.render(namespace=namespace or "", window=window),
                            _at(now))
    return frequent_restarts(increase, window_seconds=duration_seconds(window), threshold=threshold)


# -- sentences --------------------------------------------------------------------------------------

def about(hours: float) -> str:
    """A rounded duration for sentences: "about 3 hours", "about 20 minutes", "now"."""
    if not math.isfinite(hours):
        return "an unknown time"
    minutes = hours * 60
    if minutes < 1:
        return "now"
    if minutes < 90:
        count = max(1, round(minutes / 5) * 5) if minutes >= 10 else round(minutes)
        return f"about {count} minute{'s' if count != 1 else ''}"
    count = round(hours)
    return f"about {count} hours"


def forecast_sentence(row: Mapping[str, Any]) -> str:
    """Plain text (no Markdown) for one forecast row."""
    where = f"{row['container']} (pod {row['namespace']}/{row['pod']})"
    hours = float(row["hours_to_limit"])
    if hours <= 0:
        return f"{where} is at its memory limit now."
    return f"{where} will hit its memory limit in {about(hours)} at the current trend."


def restart_sentence(row: Mapping[str, Any]) -> str:
    rate = float(row["restarts_per_hour"])
    return f"Pod {row['namespace']}/{row['pod']} restarts about {rate:.0f} times an hour."
