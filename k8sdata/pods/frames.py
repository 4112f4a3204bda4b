"""Pure functions: Kubernetes API objects (plain dicts as served, or k8sdata.pods.podshape's slim pods)
-> pandas DataFrames.

The pods table prints STATUS, READY, RESTARTS and AGE exactly as `kubectl get pods` does, so a person
comparing KAMS with their terminal sees the same words. The rules below follow kubectl's printPod
(pkg/printers/internalversion/printers.go of k8s.io/kubernetes v1.37.2, whose printers_test.go pod cases
are tests/k8sdata/fixtures/upstream_printpod.yaml) and apimachinery's duration.HumanDuration,
re-implemented here from reading them. The printer reads the attributes of slim pods (a dict pod is
converted to one first), which is what makes a 100,000-pod table take well under a second
(bench/PROFILE.md, "Round 3, printer").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from k8sdata.gcpause import gc_paused
from k8sdata.pods.podshape import (
    Container,
    ContainerState,
    ContainerStatus,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodCondition,
    PodSpec,
    PodStatus,
    slim_pod,
)

if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    # The frames' text columns are Arrow strings. Arrow's default pool (mimalloc) keeps what a frame
    # build frees and the next builds reuse little of it: +60 MB of resident memory after a first
    # 100,000-pod table, for the same CPU time as the system allocator (bench/PROFILE.md).
    pa.set_memory_pool(pa.system_memory_pool())

POD_COLUMNS = [
    "namespace", "name", "ready", "status", "restarts", "restarts_display", "age", "created", "node", "ip",
    "qos_class", "owner_kind", "owner_name", "phase", "is_ready", "app", "workload_kind", "workload",
    "labels",
]
#: One row per container of one pod (the pod detail view).
CONTAINER_COLUMNS = [
    "container", "type", "image", "image_id", "state", "state_reason", "state_message", "ready", "restarts",
    "last_reason", "last_exit_code", "last_finished", "cpu_request", "cpu_limit", "memory_request",
    "memory_limit",
]
CONDITION_COLUMNS = ["type", "status", "reason", "message", "last_transition"]
EVENT_COLUMNS = ["namespace", "last_seen", "age", "type", "reason", "object", "message", "count"]
NODE_COLUMNS = [
    "name", "status", "roles", "version", "cpu_capacity", "memory_capacity", "cpu_allocatable",
    "memory_allocatable", "age", "created",
]

#: The pod status reason the node lifecycle controller sets when a node stops reporting.
NODE_UNREACHABLE_REASON = "NodeLost"

# ----------------------------------------------------------------------------------------- time helpers


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (metav1.Time or MicroTime) as an aware UTC datetime; None if absent/bad."""
    if not value or not isinstance(value, str):
        return None
    if len(value) == 20 and value[19] == "Z":
        # Kubernetes' own form ("2026-11-27T12:00:00Z", every metav1.Time): fromisoformat reads the "Z"
        # as UTC itself, 2.5x faster than the general path below, which gives the same time.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # not quite that form: the general path decides
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def human_duration(seconds_total: float) -> str:
    """apimachinery's duration.HumanDuration: what kubectl prints in AGE and "(5m ago)"."""
    seconds = int(seconds_total)  # Go's int(d.Seconds()) truncates toward zero
    if seconds < -1:
        return "<invalid>"  # more than 2 s in the future: clocks disagree
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(moment: datetime | None, now: datetime) -> str:
    """kubectl's translateTimestampSince: "<unknown>" for a missing time."""
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def utc_now_or(now: datetime | None) -> datetime:
    """`now` as an aware UTC time, or the clock when None (frames take `now` so tests can pin it)."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------------------- pods

#: A pod as the printer takes it: a slim pod (k8sdata.pods.podshape), or a dict shaped like the API's JSON
#: (hand-made in tests, parsed JSON), which is converted to a slim pod first (msgspec, C speed), so that
#: one printer reads both.
PodLike = Mapping[str, Any] | Pod

# Absent parts read as these empty ones (a part is always truthy, so `part or _NO_PART` is one test).
_NO_METADATA = ObjectMeta()
_NO_SPEC = PodSpec()
_NO_STATUS = PodStatus()
_NO_STATE = ContainerState()
_NO_SIDECARS: frozenset[str | None] = frozenset()


def _slim(pod: PodLike) -> Pod:
    return pod if type(pod) is Pod else slim_pod(pod)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PodSummary:
    """The four columns kubectl computes for a pod."""

    ready: str  # "1/2"
    status: str  # kubectl's STATUS
    restarts: int
    last_restart: datetime | None  # newest lastState.terminated.finishedAt among counted containers
    ready_containers: int
    total_containers: int


def _condition_true(conditions: tuple[PodCondition, ...], kind: str) -> bool:
    """isPodInitializedConditionTrue and the like: the FIRST condition of that type decides."""
    for condition in conditions:
        if condition.type == kind:
            return condition.status == "True"
    return False


def _condition_true_any(conditions: tuple[PodCondition, ...], kind: str) -> bool:
    """hasPodReadyCondition: any condition of that type that is True (not only the first one)."""
    for condition in conditions:  # noqa: SIM110 - a loop, not any(): no generator per pod
        if condition.type == kind and condition.status == "True":
            return True
    return False


def _finished_text(container: ContainerStatus) -> str | None:
    """lastState.terminated.finishedAt as the API wrote it (parsed once the newest is known)."""
    last = container.lastState
    terminated = last.terminated if last is not None else None
    return terminated.finishedAt if terminated is not None else None


def _newer_text(current: str | None, candidate: str | None) -> str | None:
    """The newer of two finishedAt texts, as kubectl compares the times they stand for.

    Keeps the invariant parse_time(result) == the newest valid time seen so far (None if none), which is
    what a comparison of parsed times gives: a single candidate is kept unparsed (its column is parsed
    later, an invalid text becoming "no time" there too); only when a pod has two candidates (several
    restarted containers: rare) are both parsed and compared."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    moment = parse_time(candidate)
    if moment is not None:
        known = parse_time(current)
        if known is None or moment > known:
            return candidate
    return current


def _sidecar_names(init_containers: tuple[Container, ...]) -> tuple[frozenset[str | None], int, int]:
    """(names of the restartable init containers, i.e. sidecars with restartPolicy Always; how many
    init container specs are restartable; how many init container specs there are). The names are what
    printPod's lookup by name sees (a repeated name: its last spec wins), while both counts are of the
    spec list itself, repeats included, as printPod counts them (upstream's unit tests print pods whose
    init containers all have the empty name: "Init:0/2")."""
    by_name = {container.name: container for container in init_containers}
    restartable = sum(1 for container in init_containers if container.restartPolicy == "Always")
    return (frozenset(name for name, spec in by_name.items() if spec.restartPolicy == "Always"), restartable,
            len(init_containers))


class _Shared:
    """What depends only on parts that the Interner shares between the pods of one workload (the label
    set, the owner list, the init container specs), kept for the last such object seen. Pods arrive in
    name order, so a workload's pods mostly follow one another; an unshared part costs one identity
    test, and the kept objects are referenced here, so an identity match can never be a recycled id."""

    __slots__ = ("init", "init_parts", "labels", "owners", "workload_parts")

    def __init__(self) -> None:
        self.init: Any = None
        self.init_parts: tuple[frozenset[str | None], int, int] = (_NO_SIDECARS, 0, 0)
        self.labels: Any = None
        self.owners: Any = None
        self.workload_parts: tuple[str, str, str, str | None, str | None, str] | None = None

    def sidecars(self, init_containers: tuple[Container, ...] | None
                 ) -> tuple[frozenset[str | None], int, int]:
        if not init_containers:
            return _NO_SIDECARS, 0, 0
        if init_containers is not self.init:
            self.init, self.init_parts = init_containers, _sidecar_names(init_containers)
        return self.init_parts

    def workload(self, metadata: ObjectMeta) -> tuple[str, str, str, str | None, str | None, str]:
        labels, owners = metadata.labels, metadata.ownerReferences
        if labels is not self.labels or owners is not self.owners or self.workload_parts is None:
            self.labels, self.owners = labels, owners
            self.workload_parts = _workload_parts(owners, labels)
        return self.workload_parts


def _printed(metadata: ObjectMeta, spec: PodSpec, status: PodStatus,
             shared: _Shared) -> tuple[int, int, str, int, str | None]:
    """kubectl's printPod for one pod: (ready containers, total, STATUS, restarts, the finishedAt text
    of the newest counted restart). Attribute reads of the slim parts: an absent field reads None, as
    `dict.get` of a missing key does, and every `or` fallback below is printPod's."""
    conditions = status.conditions or ()
    sidecars, sidecar_count, init_count = shared.sidecars(spec.initContainers)
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.containers or ()) + sidecar_count
    ready = 0
    last_restart: str | None = None
    last_sidecar_restart: str | None = None

    phase = status.phase or ""
    reason = status.reason or phase
    for condition in conditions:
        if condition.type == "PodScheduled" and condition.reason == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for index, container in enumerate(status.initContainerStatuses or ()):
        count = container.restartCount or 0
        restarts += count
        finished = _finished_text(container)
        last_restart = _newer_text(last_restart, finished)
        is_sidecar = container.name in sidecars  # an init container with restartPolicy Always
        if is_sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _newer_text(last_sidecar_restart, finished)
        state = container.state or _NO_STATE
        terminated = state.terminated
        waiting = state.waiting
        if terminated is not None and (terminated.exitCode or 0) == 0:
            continue
        if is_sidecar and container.started is True:
            if container.ready:
                ready += 1
            continue
        if terminated is not None:  # initialization failed
            if not terminated.reason:
                if terminated.signal:
                    reason = f"Init:Signal:{terminated.signal}"
                else:
                    reason = f"Init:ExitCode:{terminated.exitCode or 0}"
            else:
                reason = "Init:" + terminated.reason
        elif waiting is not None and waiting.reason and waiting.reason != "PodInitializing":
            reason = "Init:" + waiting.reason
        else:
            reason = f"Init:{index}/{init_count}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        error_reason = ""
        for container in reversed(status.containerStatuses or ()):
            restarts += container.restartCount or 0
            last_state = container.lastState  # _finished_text inlined: the hottest loop
            if last_state is not None and last_state.terminated is not None:
                last_restart = _newer_text(last_restart, last_state.terminated.finishedAt)
            state = container.state or _NO_STATE
            waiting = state.waiting
            terminated = state.terminated
            if waiting is not None and waiting.reason:
                reason = waiting.reason
            elif terminated is not None:
                if terminated.reason:
                    reason = terminated.reason
                elif terminated.signal:
                    reason = f"Signal:{terminated.signal}"
                else:
                    reason = f"ExitCode:{terminated.exitCode or 0}"
                if terminated.exitCode:
                    error_reason = reason
            elif container.ready and state.running is not None:
                has_running = True
                ready += 1
        # "Completed" from the first container must not hide the others: still Running (or NotReady)
        # while one runs, unless another container failed, whose reason is then shown (kubernetes #124766).
        if reason == "Completed":
            if has_running and _condition_true_any(conditions, "Ready"):
                reason = "Running"
            elif error_reason:
                reason = error_reason
            elif has_running:
                reason = "NotReady"

    if metadata.deletionTimestamp is not None:
        if status.reason == NODE_UNREACHABLE_REASON:
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return ready, total, reason, restarts, last_restart


def _parts(pod: PodLike) -> tuple[ObjectMeta, PodSpec, PodStatus]:
    slim = _slim(pod)
    return slim.metadata or _NO_METADATA, slim.spec or _NO_SPEC, slim.status or _NO_STATUS


def pod_summary(pod: PodLike) -> PodSummary:
    """READY, STATUS and RESTARTS as kubectl's printPod computes them."""
    ready, total, reason, restarts, last_restart = _printed(*_parts(pod), _Shared())
    return PodSummary(
        ready=f"{ready}/{total}", status=reason, restarts=restarts, last_restart=parse_time(last_restart),
        ready_containers=ready, total_containers=total,
    )


def restarts_display(summary: PodSummary, now: datetime) -> str:
    """kubectl's RESTARTS cell: "3 (5m ago)" when a restart time is known, else "3"."""
    if summary.restarts != 0 and summary.last_restart is not None:
        return f"{summary.restarts} ({since(summary.last_restart, now)} ago)"
    return str(summary.restarts)


def _controller(owners: tuple[OwnerReference, ...] | None) -> tuple[str, str]:
    """(kind, name) of the owner with controller: true, else of the first owner; ("", "") if none."""
    if not owners:
        return "", ""
    controller = next((owner for owner in owners if owner.controller), owners[0])
    return controller.kind or "", controller.name or ""


def _workload_parts(owners: tuple[OwnerReference, ...] | None,
                    labels: dict[str, str] | None) -> tuple[str, str, str, str | None, str | None, str]:
    """What a pod's owner list and labels alone decide: (owner kind, owner name, workload kind,
    workload name, app, labels text); a workload or app of None is the pod's own name (no owner)."""
    labels = labels or {}
    kind, name = _controller(owners)
    template_hash = labels.get("pod-template-hash") or ""
    if not kind:
        workload_kind, workload = "Pod", None
    elif kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        # The Deployment controller names a ReplicaSet <deployment>-<pod-template-hash> (sync.go).
        workload_kind, workload = "Deployment", name[: -len(template_hash) - 1]
    else:
        workload_kind, workload = kind, name
    app = labels.get("app.kubernetes.io/name") or labels.get("app")
    if not app:
        if kind == "ReplicaSet" and template_hash:
            suffix = "-" + template_hash
            app = name[: -len(suffix)] if name.endswith(suffix) else name
        else:
            app = name or None
    return kind, name, workload_kind, workload, app, labels_text(labels)


def pod_app(pod: PodLike) -> str:
    """The application a pod belongs to: app.kubernetes.io/name, else app, else its owner's name."""
    metadata = _parts(pod)[0]
    app = _workload_parts(metadata.ownerReferences, metadata.labels)[4]
    return app if app is not None else metadata.name or ""


def owner_workload(metadata: Mapping[str, Any] | ObjectMeta) -> tuple[str, str]:
    """The workload a person would name for a pod: (kind, name).

    A ReplicaSet owned by a Deployment is named <deployment>-<pod-template-hash> (the Deployment
    controller's naming, pkg/controller/deployment/sync.go), so the Deployment is recovered from the pod's
    pod-template-hash label without listing ReplicaSets. Other controllers (StatefulSet, DaemonSet, Job,
    a bare ReplicaSet) are the workload themselves; a pod without an owner is its own workload ("Pod").
    """
    slim = metadata if type(metadata) is ObjectMeta else _parts({"metadata": metadata})[0]
    _, _, kind, name, _, _ = _workload_parts(slim.ownerReferences, slim.labels)
    return kind, name if name is not None else slim.name or ""


def labels_text(labels: Mapping[str, Any] | None) -> str:
    """Labels as one searchable string, "key=value,key=value" sorted by key (kubectl --show-labels)."""
    if not labels:
        return ""
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


#: The columns that depend on the clock; everything else in a pod's row depends only on the pod object.
TIME_COLUMNS = ("restarts_display", "age")
_STATIC_COLUMNS = [column for column in POD_COLUMNS if column not in TIME_COLUMNS]
#: What PodsFrameBuilder caches per pod object: the static columns, RESTARTS' count as text and the time
#: of the newest restart (so "(5m ago)" can be recomputed for every row without the pod).
_CACHED_COLUMNS = [*_STATIC_COLUMNS, "restarts_text", "last_restart"]
_TEXT_COLUMNS = [column for column in _CACHED_COLUMNS
                 if column not in ("restarts", "is_ready", "created", "last_restart")]
#: The cached columns that hold times: a row holds them as the API's RFC 3339 text until its chunk's
#: column is converted (times_column), so the printer itself parses no time for most pods.
_TIME_TEXT_COLUMNS = ("created", "last_restart")


def _row_values(pod: Pod, shared: _Shared) -> tuple[Any, ...]:
    """A pod's row without the clock, in _CACHED_COLUMNS order (one tuple: cheap to keep and to frame),
    its times still as text (see _TIME_TEXT_COLUMNS)."""
    metadata = pod.metadata or _NO_METADATA
    spec = pod.spec or _NO_SPEC
    status = pod.status or _NO_STATUS
    ready, total, reason, restarts, last_restart = _printed(metadata, spec, status, shared)
    owner_kind, owner_name, workload_kind, workload, app, labels = shared.workload(metadata)
    name = metadata.name or ""
    pod_ips = status.podIPs
    return (
        metadata.namespace or "",  # namespace
        name,
        f"{ready}/{total}",  # ready
        reason,  # status
        restarts,
        metadata.creationTimestamp,  # created (text)
        spec.nodeName or "",  # node
        (pod_ips[0].ip if pod_ips else None) or status.podIP or "",  # ip
        status.qosClass or "",  # qos_class
        owner_kind,
        owner_name,
        status.phase or "",  # phase
        _condition_true_any(status.conditions or (), "Ready"),  # is_ready
        app if app is not None else name,  # app
        workload_kind,
        workload if workload is not None else name,  # workload
        labels,
        str(restarts),  # restarts_text
        last_restart if restarts != 0 else None,  # last_restart (text; "(5m ago)" needs both)
    )


def _static_values(pod: PodLike) -> tuple[Any, ...]:
    """One pod's _row_values with its times parsed one by one (parse_time): the one-pod reference."""
    values = list(_row_values(_slim(pod), _Shared()))
    for column in _TIME_TEXT_COLUMNS:
        index = _CACHED_COLUMNS.index(column)
        values[index] = parse_time(values[index])
    return tuple(values)


def pod_row(pod: PodLike, now: datetime) -> dict[str, Any]:
    """One pod's row (POD_COLUMNS) at `now`, one pod at a time, times parsed one by one: the reference
    the batched, vectorised pods_frame and PodsFrameBuilder are tested against."""
    values = dict(zip(_CACHED_COLUMNS, _static_values(pod), strict=True))
    last_restart = values["last_restart"]
    values["restarts_display"] = (f"{values['restarts_text']} ({since(last_restart, now)} ago)"
                                  if last_restart is not None else values["restarts_text"])
    values["age"] = since(values["created"], now)
    return {column: values[column] for column in POD_COLUMNS}


def _microseconds(moment: datetime) -> int:
    """Exact microseconds since the Unix epoch (a float timestamp would round)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def human_durations(seconds: np.ndarray) -> np.ndarray:
    """human_duration of many whole-second counts at once (an object array of str).

    HumanDuration reads seconds only below 10 minutes, minutes below 8 hours and hours above, so each
    count is first cut to the precision its text shows; the few distinct values left (a few thousand
    for any real cluster) go through human_duration itself, and the texts are spread back by index.
    Exactly human_duration's output, for 100,000 ages in milliseconds."""
    counts = np.asarray(seconds, dtype=np.int64)
    shown = np.where(counts < 600, np.maximum(counts, -2),
                     np.where(counts < 8 * 3600, counts // 60 * 60, counts // 3600 * 3600))
    distinct, where = np.unique(shown, return_inverse=True)
    texts = np.array([human_duration(int(value)) for value in distinct] or [""], dtype=object)
    return texts[where.reshape(-1)] if len(counts) else np.array([], dtype=object)


def _since_column(moments: pd.Series, now: datetime) -> np.ndarray:
    """`since(moment, now)` for a column of UTC times: "<unknown>" where the time is missing."""
    microseconds = moments.dt.as_unit("us").array.asi8
    missing = moments.isna().to_numpy()
    elapsed = _microseconds(now) - microseconds
    # Go's int(d.Seconds()) and Python's int(td.total_seconds()) truncate toward zero.
    whole = np.where(elapsed >= 0, elapsed // 1_000_000, -(-elapsed // 1_000_000))
    texts = human_durations(np.where(missing, 0, whole))
    texts[missing] = "<unknown>"
    return texts


#: The cached columns' types: text as Arrow strings, counts, flags and UTC times.
_COLUMN_TYPES: dict[str, str | type] = {
    **{column: "str" for column in _TEXT_COLUMNS},
    "restarts": "int64", "is_ready": bool,
    "created": "datetime64[us, UTC]", "last_restart": "datetime64[us, UTC]",
}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The cached columns' types, also for no rows (text columns would otherwise stay `object`)."""
    return frame.astype({column: kind for column, kind in _COLUMN_TYPES.items()
                         if kind != "str" or frame[column].dtype == object})


def times_column(texts: Sequence[str | None]) -> pd.api.extensions.ExtensionArray:
    """parse_time of every text, as a datetime64[us, UTC] array (NaT where it gives None).

    One parse_time a text (~0.07 s per 100,000). pandas' ISO 8601 parser over the column agrees with it
    on Kubernetes' own form (RFC 3339 in whole seconds, "Z") once a pattern test sends every other text to
    parse_time; that took ~0.04 s instead of ~0.07 s but kept ~2 MB more resident (Arrow's regex over
    each chunk) and needed a proof of agreement, so it was not kept (bench/PROFILE.md, round 3)."""
    moments = pd.Series([parse_time(text) for text in texts], dtype=object)
    return pd.to_datetime(moments, utc=True).dt.as_unit("us").array


def _typed_column(values: tuple[Any, ...], column: str) -> Any:
    """One cached column from its Python values, in its final type (Arrow strings, int64, UTC times)."""
    kind = _COLUMN_TYPES[column]
    if kind == "str":
        return pd.array(pa.array(values, type=pa.large_string()), dtype="str")  # 2x faster than from str
    if kind == "datetime64[us, UTC]":
        return times_column(values)  # the API's texts (_TIME_TEXT_COLUMNS)
    return np.asarray(values, dtype=kind)


#: Pods turned into rows at a time: their Python values (~0.5 KB a pod) live only until their chunk is
#: converted, so a first build at 100,000 pods holds ~4 MB of them instead of ~50 MB.
ROWS_CHUNK = 8192


def _cached_rows(pods: Sequence[PodLike]) -> pd.DataFrame:
    if not pods:
        return _typed(pd.DataFrame(columns=_CACHED_COLUMNS))
    # The collector paused while rows are built: 100,000 pods make millions of small objects, and each
    # collection they trigger would scan every pod held in memory again (17 s instead of ~3 s at
    # 100,000 pods, measured here). Same reason as k8sdata.sources.kube._parse.
    with gc_paused():
        chunks = [_rows_chunk(pods[start:start + ROWS_CHUNK]) for start in range(0, len(pods), ROWS_CHUNK)]
    # Arrow string columns concatenate as chunks (no copy); only the fixed-width columns are copied.
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _rows_chunk(pods: Sequence[PodLike]) -> pd.DataFrame:
    """Rows of some pods, built column by column, each converted to its final type as soon as it is cut
    out of the rows: a frame of object columns converted as a whole held every string twice (Python
    objects + Arrow) plus the object frame, +150 MB at 100,000 pods (bench/PROFILE.md)."""
    shared = _Shared()
    columns = list(zip(*[_row_values(pod if type(pod) is Pod else slim_pod(pod), shared)  # type: ignore[arg-type]
                         for pod in pods], strict=True))
    data: dict[str, Any] = {}
    for index, column in enumerate(_CACHED_COLUMNS):
        data[column] = _typed_column(columns[index], column)
        columns[index] = ()  # its Python values can go now
    return pd.DataFrame(data, copy=False)


def _identity(pod: PodLike) -> tuple[str | None, str | None]:
    """(uid, resourceVersion), either None when missing: the API server gives an object a new
    resourceVersion on every change, so a pod with the uid and version of a kept row is that row's pod."""
    if type(pod) is Pod:  # attribute reads: ~3x faster than the dict-like face
        slim = pod.metadata
        return (slim.uid, slim.resourceVersion) if slim is not None else (None, None)
    metadata = pod.get("metadata") or {}
    return metadata.get("uid"), metadata.get("resourceVersion")


def _name_ranks(rows: pd.DataFrame) -> np.ndarray:
    """Per row, its place in (namespace, name) order; rows with equal names share one rank, so a stable
    argsort of ranks keeps their input order, exactly as pods_frame's stable sort does."""
    ordered = rows[["namespace", "name"]].sort_values(["namespace", "name"], kind="stable")  # 2 columns
    namespaces = ordered["namespace"].to_numpy(dtype=object)
    names = ordered["name"].to_numpy(dtype=object)
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (namespaces[1:] != namespaces[:-1]) | (names[1:] != names[:-1])
    ranks = np.empty(len(ordered), dtype=np.int64)
    ranks[ordered.index.to_numpy()] = np.cumsum(starts)
    return ranks


class PodsFrameBuilder:
    """pods_frame that remembers each pod's row between calls, so a refresh costs what changed.

    A watch-cache refresh at 100,000 pods hands over the same pod objects as last time except the few
    that changed. Each row is built once (kubectl's printer) and kept in a slot; a pod finds its slot
    by its uid, and keeps it when the slot holds the same resourceVersion (the same object, or a new
    object of an unchanged version: a relist). Only the clock columns (AGE, RESTARTS' "(5m ago)") are
    computed for every row, vectorised.

    `frame(pods, now)` always equals `pods_frame(pods, now)`, given that pods are not edited in place
    after a call (treat them as read-only, as the API client and WatchedList give them). Pods without a
    uid or resourceVersion (hand-made ones) are matched by identity only. Thread-safe (one call at a
    time). Memory: the cached rows (the returned frames share their column data), a reference to each
    pod of the last call, and per slot its uid and version (the pods' own strings) with one uid -> slot
    dict; slots of pods that left are compacted away once they make up a third of the store
    (SPARE_ROWS)."""

    #: Slots of departed pods are compacted away once the store holds more than 1.5 x the rows in use
    #: plus this many (so a small list is not compacted on every change).
    SPARE_ROWS = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store = _typed(pd.DataFrame(columns=_CACHED_COLUMNS))  # one row per slot, append-only
        self._objects: list[PodLike | None] = []  # per slot: its pod while the pod is in use
        self._uids: list[str | None] = []  # per slot: its pod's uid, None when it has no uid or version
        self._versions: list[str | None] = []  # per slot: its pod's resourceVersion
        self._by_uid: dict[str, int] = {}  # uid -> its newest slot, also for slots not in use
        self._by_id: dict[int, int] = {}  # id(pod) -> slot, only for pods in use without uid or version
        self._ranks = np.empty(0, dtype=np.int64)  # per slot: _name_ranks of the store
        self._last_order: np.ndarray | None = None
        self._last_rows: pd.DataFrame | None = None
        #: How many pods the last call built rows for (the rest were reused): for tests and the bench.
        self.last_built = 0

    def frame(self, pods: Sequence[PodLike], now: datetime | None = None) -> pd.DataFrame:
        """One row per pod (POD_COLUMNS), sorted by namespace then name, as pods_frame."""
        moment = utc_now_or(now)
        # The collector paused throughout: keys and rows for 100,000 pods are many small objects, and each
        # collection they trigger would scan every pod dict held in memory again.
        with self._lock, gc_paused():
            rows = self._rows_for(pods)
        return _with_time_columns(rows, moment)

    def _rows_for(self, pods: Sequence[PodLike]) -> pd.DataFrame:
        slots, fresh = self._find_slots(pods)
        self.last_built = len(fresh)
        if fresh:
            self._add(fresh, slots)
        self._release_unused(slots)
        # Equal ranks (equal names) keep the input order, as the stable sort of pods_frame does.
        order = slots[np.argsort(self._ranks[slots], kind="stable")]
        if self._last_rows is not None and self._last_order is not None and np.array_equal(
                order, self._last_order):
            return self._last_rows  # nothing changed: no copy at all
        rows = _in_order(self._store, order)
        self._last_order, self._last_rows = order, rows
        if len(self._store) > len(order) * 3 // 2 + self.SPARE_ROWS:
            self._compact(order, rows)
        return rows

    def _find_slots(self, pods: Sequence[PodLike]) -> tuple[np.ndarray, list[PodLike]]:
        """Each pod's slot; new pods get -1, -2, ... (their place in `fresh`) until their rows are built."""
        if not self._by_uid and not self._by_id:  # the first call: every pod is new (no lookups to make)
            return np.arange(-1, -len(pods) - 1, -1, dtype=np.int64), list(pods)
        objects, versions, uid_slot, by_id = self._objects, self._versions, self._by_uid.get, self._by_id
        slots: list[int] = []
        add_slot = slots.append
        fresh: list[PodLike] = []
        for pod in pods:  # every pod of every refresh: bound methods, _identity inlined for slim pods
            metadata = pod.metadata if type(pod) is Pod else None
            if metadata is not None:
                uid, version = metadata.uid, metadata.resourceVersion
            else:
                uid, version = _identity(pod)
            if uid and version:
                slot = uid_slot(uid)
                if slot is not None and versions[slot] == version:
                    objects[slot] = pod  # the same object, or the same version as a new one (a relist)
                else:
                    slot = None
            else:
                slot = by_id.get(id(pod))
                if slot is not None and objects[slot] is not pod:
                    slot = None
            if slot is None:
                fresh.append(pod)
                slot = -len(fresh)
            add_slot(slot)
        return np.asarray(slots, dtype=np.int64), fresh

    def _add(self, fresh: list[PodLike], slots: np.ndarray) -> None:
        base = len(self._store)
        built = _cached_rows(fresh)
        self._store = pd.concat([self._store, built], ignore_index=True) if base else built
        new_slots = list(range(base, base + len(fresh)))  # one int object per slot, shared by the tables
        identities = [_identity(pod) for pod in fresh]
        uids = [uid if uid and version else None for uid, version in identities]
        self._objects.extend(fresh)
        self._uids.extend(uids)
        self._versions.extend(version for _, version in identities)
        if None in uids:  # hand-made pods among them: those are found by identity
            self._by_id.update((id(pod), slot) for pod, uid, slot in zip(fresh, uids, new_slots, strict=True)
                               if uid is None)
            self._by_uid.update((uid, slot) for uid, slot in zip(uids, new_slots, strict=True) if uid)
        else:
            self._by_uid.update(zip(uids, new_slots, strict=True))  # type: ignore[arg-type]
        new = slots < 0
        slots[new] = base - 1 - slots[new]
        self._ranks = _name_ranks(self._store)

    def _release_unused(self, slots: np.ndarray) -> None:
        """Drop references to pods not in this call (deleted or replaced): they may be freed now. Their
        rows stay (found by uid and resourceVersion) until the next compaction."""
        used = np.zeros(len(self._store), dtype=bool)
        used[slots] = True
        objects, uids, by_id = self._objects, self._uids, self._by_id
        for slot in np.flatnonzero(~used).tolist():
            previous = objects[slot]
            if previous is not None:
                objects[slot] = None
                if uids[slot] is None and by_id.get(id(previous)) == slot:
                    del by_id[id(previous)]

    def _compact(self, order: np.ndarray, rows: pd.DataFrame) -> None:
        """Keep only the rows in use: the store becomes the last frame's rows, slot = row."""
        kept = order.tolist()
        self._store = rows
        self._objects = [self._objects[slot] for slot in kept]
        self._uids = [self._uids[slot] for slot in kept]
        self._versions = [self._versions[slot] for slot in kept]
        self._by_uid = {uid: slot for slot, uid in enumerate(self._uids) if uid is not None}
        self._by_id = {id(pod): slot for slot, (pod, uid) in enumerate(zip(self._objects, self._uids,
                                                                            strict=True))
                       if pod is not None and uid is None}
        self._ranks = _name_ranks(rows)
        self._last_order = np.arange(len(rows), dtype=np.int64)


def _with_time_columns(rows: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The cached rows plus AGE and RESTARTS at `now`, vectorised over every row, in POD_COLUMNS order."""
    restarts = rows["restarts_text"].to_numpy(dtype=object, copy=True)
    restarted = rows["last_restart"].notna().to_numpy()
    if restarted.any():
        ago = _since_column(rows["last_restart"][restarted], now)
        restarts[restarted] = [f"{count} ({text} ago)" for count, text in
                               zip(restarts[restarted].tolist(), ago.tolist(), strict=True)]
    frame = rows.assign(restarts_display=pd.array(restarts, dtype="str"),
                        age=pd.array(_since_column(rows["created"], now), dtype="str"))
    return frame[POD_COLUMNS]


def pods_frame(pods: Sequence[PodLike], now: datetime | None = None) -> pd.DataFrame:
    """One row per pod (POD_COLUMNS), sorted by namespace then name like `kubectl get pods -A`.
    For repeated frames of a changing list (a watch cache), PodsFrameBuilder reuses unchanged rows.

    One-shot: the same rows as PodsFrameBuilder's first call, without its per-pod index (two dicts and
    a key tuple per pod, ~20 MB at 100,000 pods) that only a later call would use."""
    moment = utc_now_or(now)
    rows = _cached_rows(pods)
    return _with_time_columns(_in_order(rows, np.argsort(_name_ranks(rows), kind="stable")), moment)


def _in_order(rows: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """`rows` taken in `order` (positions), without a copy when that is already their order: a list
    arrives in the API's key order (namespace, then name), which is the table's."""
    if len(order) == len(rows) and np.array_equal(order, np.arange(len(order))):
        return rows  # pandas copies on write: sharing the columns is safe
    return rows.take(order).reset_index(drop=True)


# ----------------------------------------------------------------------------------------- pod detail


def _state_words(state: Mapping[str, Any]) -> tuple[str, str, str]:
    """(state, reason, message) of a container state: running / waiting / terminated, or unknown."""
    for kind in ("running", "waiting", "terminated"):
        detail = state.get(kind)
        if detail is not None:
            reason = str(detail.get("reason") or "")
            if kind == "terminated" and not reason:
                reason = f"exit code {int(detail.get('exitCode') or 0)}"
            return kind.capitalize(), reason, str(detail.get("message") or "").strip()
    return "Unknown", "", ""


def pod_containers_frame(pod: Mapping[str, Any]) -> pd.DataFrame:
    """One row per container (CONTAINER_COLUMNS): init containers, sidecars, then app containers, in spec
    order, with image and digest (status.imageID), state, last termination and requests/limits as the
    spec writes them ("100m", "128Mi"; "" when unset)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    statuses = {c.get("name"): c for c in [*(status.get("initContainerStatuses") or []),
                                           *(status.get("containerStatuses") or [])]}
    rows = []
    specs = [(c, "sidecar" if c.get("restartPolicy") == "Always" else "init")
             for c in spec.get("initContainers") or []]
    specs += [(c, "app") for c in spec.get("containers") or []]
    for container, kind in specs:
        name = container.get("name") or ""
        current = statuses.get(name) or {}
        state, reason, message = _state_words(current.get("state") or {})
        last = (current.get("lastState") or {}).get("terminated") or {}
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        exit_code = last.get("exitCode")
        rows.append({
            "container": str(name), "type": kind,
            "image": str(current.get("image") or container.get("image") or ""),
            "image_id": str(current.get("imageID") or ""), "state": state, "state_reason": reason,
            "state_message": message, "ready": bool(current.get("ready")),
            "restarts": int(current.get("restartCount") or 0),
            "last_reason": str(last.get("reason") or ""),
            "last_exit_code": None if exit_code is None else int(exit_code),
            "last_finished": parse_time(last.get("finishedAt")),
            "cpu_request": str(requests.get("cpu") or ""), "cpu_limit": str(limits.get("cpu") or ""),
            "memory_request": str(requests.get("memory") or ""),
            "memory_limit": str(limits.get("memory") or ""),
        })
    frame = pd.DataFrame(rows, columns=CONTAINER_COLUMNS)
    frame["last_exit_code"] = frame["last_exit_code"].astype("Int64")
    frame["restarts"] = frame["restarts"].astype("int64")
    frame["last_finished"] = pd.to_datetime(frame["last_finished"], utc=True)
    return frame


def pod_conditions_frame(pod: Mapping[str, Any]) -> pd.DataFrame:
    """The pod's conditions (CONDITION_COLUMNS) in the order the kubelet reports them."""
    rows = [{
        "type": str(c.get("type") or ""), "status": str(c.get("status") or ""),
        "reason": str(c.get("reason") or ""), "message": str(c.get("message") or "").strip(),
        "last_transition": parse_time(c.get("lastTransitionTime")),
    } for c in (pod.get("status") or {}).get("conditions") or []]
    frame = pd.DataFrame(rows, columns=CONDITION_COLUMNS)
    frame["last_transition"] = pd.to_datetime(frame["last_transition"], utc=True)
    return frame


# ----------------------------------------------------------------------------------------- events


def _event_last_seen(event: Mapping[str, Any]) -> datetime | None:
    """Newest of the places an event's time can be (core/v1 and events.k8s.io shapes)."""
    series = event.get("series") or {}
    for value in (series.get("lastObservedTime"), event.get("lastTimestamp"), event.get("eventTime"),
                  event.get("deprecatedLastTimestamp"), event.get("firstTimestamp"),
                  (event.get("metadata") or {}).get("creationTimestamp")):
        moment = parse_time(value)
        if moment is not None:
            return moment
    return None


def events_frame(events: list[dict[str, Any]], now: datetime | None = None) -> pd.DataFrame:
    """One row per event (EVENT_COLUMNS), newest first."""
    moment = utc_now_or(now)
    rows = []
    for event in events:
        metadata = event.get("metadata") or {}
        involved = event.get("involvedObject") or event.get("regarding") or {}
        last_seen = _event_last_seen(event)
        count = (event.get("series") or {}).get("count") or event.get("count") or 1
        kind = str(involved.get("kind") or "").lower()
        rows.append({
            "namespace": str(metadata.get("namespace") or involved.get("namespace") or ""),
            "last_seen": last_seen,
            "age": since(last_seen, moment),
            "type": str(event.get("type") or ""),
            "reason": str(event.get("reason") or ""),
            "object": f"{kind}/{involved.get('name') or ''}" if kind else str(involved.get("name") or ""),
            "message": str(event.get("message") or event.get("note") or "").strip(),
            "count": int(count),
        })
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["last_seen"] = pd.to_datetime(frame["last_seen"], utc=True)
    frame["count"] = frame["count"].astype("int64")
    return frame.sort_values("last_seen", ascending=False, kind="stable", na_position="last").reset_index(
        drop=True)


# ----------------------------------------------------------------------------------------- nodes


def node_status(node: Mapping[str, Any]) -> str:
    """kubectl's node STATUS: Ready / NotReady / Unknown, plus SchedulingDisabled when cordoned."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        words = ["Unknown"]
    elif ready.get("status") == "True":
        words = ["Ready"]
    elif ready.get("status") == "False":
        words = ["NotReady"]
    else:
        words = ["Unknown"]
    if (node.get("spec") or {}).get("unschedulable"):
        words.append("SchedulingDisabled")
    return ",".join(words)


def node_roles(labels: Mapping[str, str]) -> str:
    """kubectl's node ROLES column from node-role.kubernetes.io/* and kubernetes.io/role labels."""
    roles = sorted({key.split("/", 1)[1] for key in labels
                    if key.startswith("node-role.kubernetes.io/") and "/" in key and key.split("/", 1)[1]})
    if labels.get("kubernetes.io/role"):
        roles = sorted({*roles, labels["kubernetes.io/role"]})
    return ",".join(roles) if roles else "<none>"


def nodes_frame(nodes: list[dict[str, Any]], now: datetime | None = None) -> pd.DataFrame:
    """One row per node (NODE_COLUMNS); capacities are kept as Kubernetes quantities ("4", "16Gi")."""
    moment = utc_now_or(now)
    rows = []
    for node in nodes:
        metadata = node.get("metadata") or {}
        status = node.get("status") or {}
        capacity = status.get("capacity") or {}
        allocatable = status.get("allocatable") or {}
        created = parse_time(metadata.get("creationTimestamp"))
        rows.append({
            "name": str(metadata.get("name") or ""),
            "status": node_status(node),
            "roles": node_roles(metadata.get("labels") or {}),
            "version": str((status.get("nodeInfo") or {}).get("kubeletVersion") or ""),
            "cpu_capacity": str(capacity.get("cpu") or ""),
            "memory_capacity": str(capacity.get("memory") or ""),
            "cpu_allocatable": str(allocatable.get("cpu") or ""),
            "memory_allocatable": str(allocatable.get("memory") or ""),
            "age": since(created, moment),
            "created": created,
        })
    frame = pd.DataFrame(rows, columns=NODE_COLUMNS)
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return frame.sort_values("name", kind="stable").reset_index(drop=True)
