"""Workloads (Deployments, StatefulSets, DaemonSets) and nodes' allocation, as DataFrames.

The counts are what `kubectl get deploy/sts/ds` prints (kubernetes/pkg/printers/internalversion/
printers.go printDeployment, printStatefulSet, printDaemonSet) and the rollout status is decided as
`kubectl rollout status` decides it (kubernetes/kubectl pkg/polymorphichelpers/rollout_status.go:
DeploymentStatusViewer, StatefulSetStatusViewer, DaemonSetStatusViewer), re-implemented from reading it.
`rollout_message` keeps kubectl's own sentence.

Two deliberate additions to kubectl's viewer, both plain facts of the object:
- "paused": a Deployment with spec.paused never progresses whatever its counts say, so it is paused
  (kubectl's viewer would wait forever);
- "not tracked": kubectl refuses rollout status for the OnDelete update strategy.

The node table is `kubectl describe node`'s "Allocated resources": the effective requests and limits of
the node's non-terminated pods (phase not Succeeded/Failed), against allocatable, plus measured usage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sdata.errors import SourceError
from k8sdata.gcpause import gc_paused
from k8sdata.pods.frames import node_roles, node_status, parse_time, since, utc_now_or
from k8sdata.pods.resources import (
    SOURCE_METRICS_API,
    SOURCE_PROMETHEUS,
    UsageUnavailable,
    cpu_cores,
    is_terminated,
    list_metrics_api,
    memory_bytes,
    parse_quantity,
    pod_effective,
    usage_from_prometheus,
)
from k8sdata.sources.protocols import InstantSource

if TYPE_CHECKING:
    from k8sdata.sources.kube import KubeClient

WORKLOAD_COLUMNS = [
    "kind", "namespace", "name", "desired", "ready", "ready_display", "up_to_date", "available", "rollout",
    "rollout_message", "revision", "age", "created", "paused",
]
NODE_USAGE_COLUMNS = [
    "node", "status", "roles", "pods",
    "cpu_capacity", "cpu_allocatable", "cpu_requested", "cpu_limits", "cpu_used",
    "memory_capacity", "memory_allocatable", "memory_requested", "memory_limits", "memory_used",
    "cpu_requested_pct", "cpu_used_pct", "memory_requested_pct", "memory_used_pct",
]

ROLLOUT_COMPLETE = "complete"
ROLLOUT_PROGRESSING = "progressing"
ROLLOUT_STALLED = "stalled"
ROLLOUT_PAUSED = "paused"
ROLLOUT_NOT_TRACKED = "not tracked"

#: deploymentutil.TimedOutReason: the Progressing condition's reason once progressDeadlineSeconds passed.
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _replicas(spec: Mapping[str, Any]) -> int | None:
    """spec.replicas as served; the API server defaults it to 1, so None only for hand-made objects."""
    value = spec.get("replicas")
    return None if value is None else _int(value)


# ------------------------------------------------------------------------------------------ rollout


def deployment_rollout(deployment: Mapping[str, Any]) -> tuple[str, str]:
    """(rollout, kubectl's message) for a Deployment (DeploymentStatusViewer.Status)."""
    metadata, spec, status = (deployment.get(k) or {} for k in ("metadata", "spec", "status"))
    name = metadata.get("name", "")
    if spec.get("paused"):
        return ROLLOUT_PAUSED, f'deployment "{name}" is paused: no new replicas roll out until it is resumed'
    if _int(metadata.get("generation")) > _int(status.get("observedGeneration")):
        return ROLLOUT_PROGRESSING, "Waiting for deployment spec update to be observed..."
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
            return ROLLOUT_STALLED, f'deployment "{name}" exceeded its progress deadline'
    replicas = _replicas(spec)
    updated = _int(status.get("updatedReplicas"))
    if replicas is not None and updated < replicas:
        return ROLLOUT_PROGRESSING, (f'Waiting for deployment "{name}" rollout to finish: {updated} out of '
                                     f"{replicas} new replicas have been updated...")
    current = _int(status.get("replicas"))
    if current > updated:
        return ROLLOUT_PROGRESSING, (f'Waiting for deployment "{name}" rollout to finish: '
                                     f"{current - updated} old replicas are pending termination...")
    available = _int(status.get("availableReplicas"))
    if available < updated:
        return ROLLOUT_PROGRESSING, (f'Waiting for deployment "{name}" rollout to finish: {available} of '
                                     f"{updated} updated replicas are available...")
    return ROLLOUT_COMPLETE, f'deployment "{name}" successfully rolled out'


def _not_tracked_message() -> str:
    # kubectl prints RollingUpdateStatefulSetStrategyType for both kinds; the words are the same.
    return "rollout status is only available for RollingUpdate strategy type"


def statefulset_rollout(statefulset: Mapping[str, Any]) -> tuple[str, str]:
    """(rollout, kubectl's message) for a StatefulSet (StatefulSetStatusViewer.Status)."""
    metadata, spec, status = (statefulset.get(k) or {} for k in ("metadata", "spec", "status"))
    strategy = spec.get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":  # the API server's default
        return ROLLOUT_NOT_TRACKED, _not_tracked_message()
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(metadata.get("generation")) > observed:
        return ROLLOUT_PROGRESSING, "Waiting for statefulset spec update to be observed..."
    replicas = _replicas(spec)
    ready = _int(status.get("readyReplicas"))
    if replicas is not None and ready < replicas:
        return ROLLOUT_PROGRESSING, f"Waiting for {replicas - ready} pods to be ready..."
    updated = _int(status.get("updatedReplicas"))
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if replicas is not None and partition is not None and updated < replicas - _int(partition):
            return ROLLOUT_PROGRESSING, (f"Waiting for partitioned roll out to finish: {updated} out of "
                                         f"{replicas - _int(partition)} new pods have been updated...")
        return ROLLOUT_COMPLETE, f"partitioned roll out complete: {updated} new pods have been updated..."
    update_revision, current_revision = status.get("updateRevision", ""), status.get("currentRevision", "")
    if update_revision != current_revision:
        return ROLLOUT_PROGRESSING, (f"waiting for statefulset rolling update to complete {updated} pods at "
                                     f"revision {update_revision}...")
    current = _int(status.get("currentReplicas"))
    return ROLLOUT_COMPLETE, (f"statefulset rolling update complete {current} pods at revision "
                              f"{current_revision}...")


def daemonset_rollout(daemonset: Mapping[str, Any]) -> tuple[str, str]:
    """(rollout, kubectl's message) for a DaemonSet (DaemonSetStatusViewer.Status)."""
    metadata, spec, status = (daemonset.get(k) or {} for k in ("metadata", "spec", "status"))
    name = metadata.get("name", "")
    if ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") != "RollingUpdate":
        return ROLLOUT_NOT_TRACKED, _not_tracked_message()
    if _int(metadata.get("generation")) > _int(status.get("observedGeneration")):
        return ROLLOUT_PROGRESSING, "Waiting for daemon set spec update to be observed..."
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    if updated < desired:
        return ROLLOUT_PROGRESSING, (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of '
                                     f"{desired} new pods have been updated...")
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return ROLLOUT_PROGRESSING, (f'Waiting for daemon set "{name}" rollout to finish: {available} of '
                                     f"{desired} updated pods are available...")
    return ROLLOUT_COMPLETE, f'daemon set "{name}" successfully rolled out'


# ------------------------------------------------------------------------------------------ table


def _row(kind: str, obj: Mapping[str, Any], moment: datetime, *, desired: int, ready: int, up_to_date: int,
         available: int, rollout: tuple[str, str], revision: str) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    created = parse_time(metadata.get("creationTimestamp"))
    return {
        "kind": kind, "namespace": str(metadata.get("namespace") or ""),
        "name": str(metadata.get("name") or ""),
        "desired": desired, "ready": ready, "ready_display": f"{ready}/{desired}", "up_to_date": up_to_date,
        "available": available, "rollout": rollout[0], "rollout_message": rollout[1], "revision": revision,
        "age": since(created, moment), "created": created,
        "paused": bool((obj.get("spec") or {}).get("paused")),
    }


def _deployment_revision(deployment: Mapping[str, Any],
                         replicasets: Iterable[Mapping[str, Any]] | None) -> str:
    """The annotation the deployment controller keeps on the Deployment; without it, the newest revision
    among the ReplicaSets the Deployment owns (deploymentutil.Revision reads the same annotation)."""
    metadata = deployment.get("metadata") or {}
    revision = str((metadata.get("annotations") or {}).get(REVISION_ANNOTATION) or "")
    if revision or not replicasets:
        return revision
    uid = metadata.get("uid")
    owned = [_int((rs.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION), -1)
             for rs in replicasets
             if uid and any(ref.get("uid") == uid
                            for ref in rs.get("metadata", {}).get("ownerReferences") or [])]
    best = max(owned, default=-1)
    return str(best) if best >= 0 else ""


def workloads_frame(deployments: Iterable[Mapping[str, Any]], statefulsets: Iterable[Mapping[str, Any]],
                    daemonsets: Iterable[Mapping[str, Any]],
                    replicasets: Iterable[Mapping[str, Any]] | None = None,
                    now: datetime | None = None) -> pd.DataFrame:
    """One row per workload (WORKLOAD_COLUMNS), sorted by kind, namespace and name.

    desired/ready/up_to_date/available: Deployment spec.replicas, readyReplicas, updatedReplicas,
    availableReplicas (kubectl get deploy: READY ready/desired, UP-TO-DATE, AVAILABLE); StatefulSet the
    same fields (kubectl get sts prints READY ready/desired); DaemonSet desiredNumberScheduled, numberReady,
    updatedNumberScheduled, numberAvailable (kubectl get ds: DESIRED, READY, UP-TO-DATE, AVAILABLE).
    revision: the Deployment's revision annotation, the StatefulSet's currentRevision (its
    ControllerRevision name), the DaemonSet's observedGeneration is no revision, so "".
    """
    moment = utc_now_or(now)
    replicaset_list = list(replicasets) if replicasets is not None else None
    rows = []
    for deployment in deployments:
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        rows.append(_row("Deployment", deployment, moment, desired=_replicas(spec) or 0,
                         ready=_int(status.get("readyReplicas")),
                         up_to_date=_int(status.get("updatedReplicas")),
                         available=_int(status.get("availableReplicas")),
                         rollout=deployment_rollout(deployment),
                         revision=_deployment_revision(deployment, replicaset_list)))
    for statefulset in statefulsets:
        spec, status = statefulset.get("spec") or {}, statefulset.get("status") or {}
        rows.append(_row("StatefulSet", statefulset, moment, desired=_replicas(spec) or 0,
                         ready=_int(status.get("readyReplicas")),
                         up_to_date=_int(status.get("updatedReplicas")),
                         available=_int(status.get("availableReplicas")),
                         rollout=statefulset_rollout(statefulset),
                         revision=str(status.get("currentRevision") or "")))
    for daemonset in daemonsets:
        status = daemonset.get("status") or {}
        rows.append(_row("DaemonSet", daemonset, moment, desired=_int(status.get("desiredNumberScheduled")),
                         ready=_int(status.get("numberReady")),
                         up_to_date=_int(status.get("updatedNumberScheduled")),
                         available=_int(status.get("numberAvailable")), rollout=daemonset_rollout(daemonset),
                         revision=""))
    frame = pd.DataFrame(rows, columns=WORKLOAD_COLUMNS)
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    for column in ("desired", "ready", "up_to_date", "available"):
        frame[column] = frame[column].astype("int64")
    frame["paused"] = frame["paused"].astype("bool")
    return frame.sort_values(["kind", "namespace", "name"], kind="stable", ignore_index=True)


# ------------------------------------------------------------------------------------------ nodes


def node_usage_from_metrics_api(kube: KubeClient) -> pd.DataFrame:
    """NodeMetrics (what `kubectl top node` shows: the whole node, system daemons included)."""
    rows = []
    for item in list_metrics_api(kube, "nodes"):
        usage = item.get("usage") or {}
        rows.append({"node": (item.get("metadata") or {}).get("name", ""),
                     "cpu_used": _float(lambda u=usage: float(parse_quantity(u.get("cpu")))),
                     "memory_used": _float(lambda u=usage: memory_bytes(u.get("memory")))})
    return pd.DataFrame(rows, columns=["node", "cpu_used", "memory_used"]).astype(
        {"cpu_used": "float64", "memory_used": "float64"})


def _float(compute: Any) -> float:
    try:
        return float(compute())
    except (ValueError, ArithmeticError, TypeError):
        return math.nan


def node_usage_from_prometheus(prom: InstantSource, pods: Iterable[Mapping[str, Any]], *,
                               window: str = "5m") -> pd.DataFrame:
    """The containers' usage (two queries by (namespace, pod, container)) summed per node through the
    pods' spec.nodeName: containers only, without the node's system daemons."""
    usage = usage_from_prometheus(prom, None, window=window)
    placement = pd.DataFrame(
        [((p.get("metadata") or {}).get("namespace", ""), (p.get("metadata") or {}).get("name", ""),
          (p.get("spec") or {}).get("nodeName") or "") for p in pods],
        columns=["namespace", "pod", "node"])
    joined = usage.merge(placement, on=["namespace", "pod"], how="inner")
    joined = joined[joined["node"] != ""]
    summed = joined.groupby("node", as_index=False)[["cpu_cores", "memory_bytes"]].sum(min_count=1)
    return summed.rename(columns={"cpu_cores": "cpu_used", "memory_bytes": "memory_used"})


def node_usage(prom: InstantSource | None, kube: KubeClient | None, pods: Iterable[Mapping[str, Any]]
               ) -> tuple[pd.DataFrame, str]:
    """(node, cpu_used, memory_used) and its source. metrics.k8s.io first here (unlike container usage):
    NodeMetrics measure the whole node like `kubectl top node`, while Prometheus' container series only
    add up what runs in pods. Raises UsageUnavailable when neither works."""
    errors: list[SourceError] = []
    if kube is not None:
        try:
            return node_usage_from_metrics_api(kube), SOURCE_METRICS_API
        except SourceError as error:
            errors.append(error)
    if prom is not None:
        try:
            return node_usage_from_prometheus(prom, pods), SOURCE_PROMETHEUS
        except SourceError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    raise UsageUnavailable(errors)


def _pct(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)) * 100


#: The four sums of kubectl describe node's "Allocated resources", in the order nodes_usage_frame keeps them.
_ALLOCATED = (("requests", "cpu"), ("limits", "cpu"), ("requests", "memory"), ("limits", "memory"))


def nodes_usage_frame(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]] | None,
                      node_usage: pd.DataFrame | None) -> pd.DataFrame:
    """One row per node (NODE_USAGE_COLUMNS): CPU in cores and memory in bytes; requested and limits are
    the sums over the node's non-terminated pods of their effective requests/limits (kubectl describe
    node); used comes from `node_usage` (node, cpu_used, memory_used), NaN when unknown; percentages are
    of allocatable. `pods` None: the pods could not be listed, so the pod count, requests and limits are
    unknown (NaN, never 0: an empty node and an unread one are not the same)."""
    requested: dict[str, list[float]] = {}
    unknown = [math.nan] * 5
    with gc_paused():
        for pod in pods or ():
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or is_terminated(pod):
                continue
            totals = requested.setdefault(node, [0, 0.0, 0.0, 0.0, 0.0])
            totals[0] += 1
            for index, (which, resource) in enumerate(_ALLOCATED, start=1):
                amount = pod_effective(pod, which, resource)
                if amount is not None:
                    totals[index] += float(amount)
    rows = []
    for node in nodes:
        metadata, status = node.get("metadata") or {}, node.get("status") or {}
        name = str(metadata.get("name") or "")
        capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
        count, cpu_req, cpu_lim, mem_req, mem_lim = requested.get(
            name, [0, 0.0, 0.0, 0.0, 0.0] if pods is not None else unknown)
        rows.append({
            "node": name, "status": node_status(node), "roles": node_roles(metadata.get("labels") or {}),
            "pods": count,
            "cpu_capacity": _float(lambda c=capacity: cpu_cores(c.get("cpu"))),
            "cpu_allocatable": _float(lambda a=allocatable: cpu_cores(a.get("cpu"))),
            "cpu_requested": cpu_req, "cpu_limits": cpu_lim,
            "memory_capacity": _float(lambda c=capacity: memory_bytes(c.get("memory"))),
            "memory_allocatable": _float(lambda a=allocatable: memory_bytes(a.get("memory"))),
            "memory_requested": mem_req, "memory_limits": mem_lim,
        })
    frame = pd.DataFrame(rows, columns=[c for c in NODE_USAGE_COLUMNS if not c.endswith(("_used", "_pct"))])
    used = node_usage if node_usage is not None else pd.DataFrame(columns=["node", "cpu_used", "memory_used"])
    frame = frame.merge(used[["node", "cpu_used", "memory_used"]], on="node", how="left")
    frame["pods"] = frame["pods"].astype("int64" if pods is not None else "Int64")
    numeric = [c for c in NODE_USAGE_COLUMNS if c.startswith(("cpu_", "memory_")) and not c.endswith("_pct")]
    frame[numeric] = frame[numeric].astype("float64")
    frame["cpu_requested_pct"] = _pct(frame["cpu_requested"], frame["cpu_allocatable"])
    frame["cpu_used_pct"] = _pct(frame["cpu_used"], frame["cpu_allocatable"])
    frame["memory_requested_pct"] = _pct(frame["memory_requested"], frame["memory_allocatable"])
    frame["memory_used_pct"] = _pct(frame["memory_used"], frame["memory_allocatable"])
    return frame[NODE_USAGE_COLUMNS].sort_values("node", ignore_index=True)
