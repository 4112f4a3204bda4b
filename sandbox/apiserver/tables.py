"""Server-side Table output (meta.k8s.io/v1 Table), as kubectl requests it.

The printers follow kubernetes/pkg/printers/internalversion/printers.go (printPod, printNode, printEvent,
printNamespace, printConfigMap, printSecret, printDeployment, printReplicaSet, printStatefulSet,
printDaemonSet, printNetworkPolicy; v1.37) and apimachinery's duration.HumanDuration, re-implemented here;
other kinds get Name and Age (docs/standin-differences.md). The server always generates the wide columns;
kubectl hides the priority-1 ones unless asked for `-o wide`.

This deliberately shares no code with k8sdata/pods/frames.py, which implements the same printer for KAMS:
tests compare KAMS's columns with what kubectl prints from this server, and that comparison only means
something while the two are written independently from the upstream source.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict

import msgspec
import orjson

from k8sdata.gcpause import gc_paused

from .errors import bad_request
from .resources import ResourceType
from .store import Entry

Column = dict[str, Any]
Printer = Callable[[dict[str, Any], datetime], list[Any]]


def _column(name: str, description: str, *, priority: int = 0, kind: str = "string", fmt: str = "") -> Column:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")
    else:
        parsed = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    return parsed.replace(tzinfo=UTC)


def human_duration(seconds_float: float) -> str:
    """apimachinery/pkg/util/duration.HumanDuration."""
    seconds = int(seconds_float)
    if seconds < -1:
        return "<invalid>"
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
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def since(value: str | None, now: datetime) -> str:
    """translateTimestampSince: "<unknown>" for a missing time."""
    moment = parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


# ------------------------------------------------------------------------ pods
POD_COLUMNS: list[Column] = [
    _column("Name", "Name must be unique within a namespace.", fmt="name"),
    _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _column("Status", "The aggregate status of the containers in this pod."),
    _column(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    _column(
        "Age", "CreationTimestamp is a timestamp representing the server time when this object was created."
    ),
    _column("IP", "The IP address assigned to the pod", priority=1),
    _column("Node", "The name of the node the pod is assigned to", priority=1),
    _column("Nominated Node", "The name of the node where the pod is nominated to run", priority=1),
    _column("Readiness Gates", "The readiness gates of the pod", priority=1),
]


def _is_restartable_init(container: dict[str, Any] | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _condition_true(status: dict[str, Any], condition_type: str) -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _first_condition_true(status: dict[str, Any], condition_type: str) -> bool:
    """isPodInitializedConditionTrue: the first condition of the type decides, not any of them."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == condition_type:
            return condition.get("status") == "True"
    return False


def _later(current: datetime | None, candidate: str | None) -> datetime | None:
    moment = parse_time(candidate)
    if moment is None:
        return current
    return moment if current is None or moment > current else current


def pod_status_cells(pod: dict[str, Any], now: datetime) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) exactly as printPod computes them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    metadata = pod.get("metadata") or {}
    containers = spec.get("containers") or []
    init_list = spec.get("initContainers") or []
    # Looked up by name (a repeated name: the last spec wins) but counted as listed, repeats included.
    init_specs = {c.get("name"): c for c in init_list}
    total = len(containers) + sum(1 for c in init_list if _is_restartable_init(c))
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        state = container.get("state") or {}
        last_terminated = (container.get("lastState") or {}).get("terminated")
        restarts += int(container.get("restartCount") or 0)
        if last_terminated:
            last_restart = _later(last_restart, last_terminated.get("finishedAt"))
        restartable = _is_restartable_init(init_specs.get(container.get("name")))
        if restartable:
            sidecar_restarts += int(container.get("restartCount") or 0)
            if last_terminated:
                last_sidecar_restart = _later(last_sidecar_restart, last_terminated.get("finishedAt"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated and int(terminated.get("exitCode") or 0) == 0:
            continue
        if restartable and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
            else:
                reason = "Init:" + terminated["reason"]
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_list)}"
        initializing = True
        break

    if not initializing or _first_condition_true(status, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        error_reason = ""
        for container in reversed(status.get("containerStatuses") or []):
            state = container.get("state") or {}
            restarts += int(container.get("restartCount") or 0)
            last_terminated = (container.get("lastState") or {}).get("terminated")
            if last_terminated:
                last_restart = _later(last_restart, last_terminated.get("finishedAt"))
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                if terminated.get("reason"):
                    reason = terminated["reason"]
                elif terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode', 0)}"
                if terminated.get("exitCode"):
                    error_reason = reason
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed":
            if has_running and _condition_true(status, "Ready"):
                reason = "Running"
            elif error_reason:
                reason = error_reason
            elif has_running:
                reason = "NotReady"

    if metadata.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif metadata.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    return f"{ready}/{total}", reason, restarts_text


def print_pod(pod: dict[str, Any], now: datetime) -> list[Any]:
    ready, reason, restarts = pod_status_cells(pod, now)
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips else "") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true_count = sum(1 for gate in gates if conditions.get(gate.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    return [
        pod["metadata"]["name"],
        ready,
        reason,
        restarts,
        since(pod["metadata"].get("creationTimestamp"), now),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


# ----------------------------------------------------------------------- nodes
NODE_COLUMNS: list[Column] = [
    _column("Name", "Name must be unique within a namespace.", fmt="name"),
    _column("Status", "The status of the node"),
    _column("Roles", "The roles of the node"),
    _column(
        "Age", "CreationTimestamp is a timestamp representing the server time when this object was created."
    ),
    _column("Version", "Kubelet Version reported by the node."),
    _column("Internal-IP", "List of internal IPs assigned to the node.", priority=1),
    _column("External-IP", "List of external IPs assigned to the node.", priority=1),
    _column(
        "OS-Image",
        "OS image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        priority=1,
    ),
    _column("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.", priority=1),
    _column("Container-Runtime", "Container runtime version reported by the node.", priority=1),
]


def _node_roles(labels: dict[str, str]) -> str:
    roles: set[str] = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.removeprefix("node-role.kubernetes.io/")
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def print_node(node: dict[str, Any], now: datetime) -> list[Any]:
    status = node.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    states: list[str] = []
    if "Ready" in conditions:
        states.append("Ready" if conditions["Ready"] == "True" else "NotReady")
    else:
        states.append("Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or "<none>"

    info = status.get("nodeInfo") or {}
    metadata = node["metadata"]
    return [
        metadata["name"],
        ",".join(states),
        _node_roles(metadata.get("labels") or {}),
        since(metadata.get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        # Newer printNode appends the architecture, as v1.37 does.
        (info.get("kernelVersion") or "<unknown>")
        + (f" ({info['architecture']})" if info.get("architecture") else ""),
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


# ---------------------------------------------------------------------- events
EVENT_COLUMNS: list[Column] = [
    _column("Last Seen", "The last time the event was observed."),
    _column("Type", "Type of this event (Normal, Warning), new types could be added in the future."),
    _column(
        "Reason",
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status.",
    ),
    _column("Object", "The object that this event is about."),
    _column("Subobject", "The field path of the object the event is about.", priority=1),
    _column("Source", "The component reporting this event.", priority=1),
    _column("Message", "A human-readable description of the status of this operation."),
    _column("First Seen", "The time at which the event was first recorded.", priority=1),
    _column("Count", "The number of times this event has occurred.", priority=1),
    _column("Name", "Name must be unique within a namespace.", priority=1, fmt="name"),
]


def _event_source(event: dict[str, Any]) -> str:
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    if host:
        return f"{component}, {host}"
    return component


def print_event(event: dict[str, Any], now: datetime) -> list[Any]:
    first_seen = since(event.get("firstTimestamp"), now)
    if not event.get("firstTimestamp"):
        first_seen = since(event.get("eventTime"), now)
    last_seen = since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first_seen
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last_seen = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        _event_source(event),
        (event.get("message") or "").strip(),
        first_seen,
        count,
        event["metadata"]["name"],
    ]


# --------------------------------------------------------------------- default
DEFAULT_COLUMNS: list[Column] = [
    _column("Name", "Name must be unique within a namespace.", fmt="name"),
    _column(
        "Age", "CreationTimestamp is a timestamp representing the server time when this object was created."
    ),
]


def print_default(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], since(obj["metadata"].get("creationTimestamp"), now)]


# ------------------------------------------- workloads, namespaces, config (printDeployment & co.)
_NAME = _column("Name", "Name must be unique within a namespace.", fmt="name")
_AGE = DEFAULT_COLUMNS[1]
_CONTAINERS = _column("Containers", "Names of each container in the template.", priority=1)
_IMAGES = _column("Images", "Images referenced by each container in the template.", priority=1)
_SELECTOR = _column("Selector", "A label query over pods that should match the replica count.", priority=1)


def _template_cells(obj: dict[str, Any]) -> list[str]:
    """layoutContainerCells: the template's container names and images, comma-joined."""
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """labels.Selector.String() of a LabelSelector: requirements sorted by key, "" when empty."""
    requirements: list[tuple[str, str]] = [
        (key, f"{key}={value}") for key, value in ((selector or {}).get("matchLabels") or {}).items()
    ]
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(set(expression.get("values") or [])))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                "DoesNotExist": f"!{key}"}.get(operator, f"{key} {operator}")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements))


def _replicas(obj: dict[str, Any]) -> int:
    """spec.replicas as the API defaults it (1) when the object leaves it out."""
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _count(status: dict[str, Any], field: str) -> int:
    return int(status.get(field) or 0)


DEPLOYMENT_COLUMNS: list[Column] = [
    _NAME, _column("Ready", "Number of the pod with ready state"),
    _column("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the "
            "desired template spec."),
    _column("Available", "Total number of available non-terminating pods (ready for at least "
            "minReadySeconds) targeted by this deployment."),
    _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
]


def print_deployment(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    return [obj["metadata"]["name"], f"{_count(status, 'readyReplicas')}/{_replicas(obj)}",
            _count(status, "updatedReplicas"), _count(status, "availableReplicas"),
            since(obj["metadata"].get("creationTimestamp"), now), *_template_cells(obj),
            format_label_selector((obj.get("spec") or {}).get("selector"))]


REPLICASET_COLUMNS: list[Column] = [
    _NAME, _column("Desired", "Replicas is the number of desired pods.", kind="integer"),
    _column("Current", "Replicas is the most recently observed number of non-terminating pods.",
            kind="integer"),
    _column("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
            kind="integer"),
    _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
]


def print_replicaset(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    return [obj["metadata"]["name"], _replicas(obj), _count(status, "replicas"),
            _count(status, "readyReplicas"), since(obj["metadata"].get("creationTimestamp"), now),
            *_template_cells(obj),
            format_label_selector((obj.get("spec") or {}).get("selector")) or "<none>"]


STATEFULSET_COLUMNS: list[Column] = [
    _NAME, _column("Ready", "Number of the pod with ready state"), _AGE, _CONTAINERS, _IMAGES,
]


def print_statefulset(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    return [obj["metadata"]["name"], f"{_count(status, 'readyReplicas')}/{_replicas(obj)}",
            since(obj["metadata"].get("creationTimestamp"), now), *_template_cells(obj)]


DAEMONSET_COLUMNS: list[Column] = [
    _NAME,
    _column("Desired", "The total number of nodes that should be running the daemon pod.", kind="integer"),
    _column("Current", "The number of nodes that are running at least 1 daemon pod.", kind="integer"),
    _column("Ready", "The number of nodes that should be running the daemon pod and have one or more of the "
            "daemon pod running with a Ready Condition.", kind="integer"),
    _column("Up-to-date", "The total number of nodes that are running updated daemon pod", kind="integer"),
    _column("Available", "The number of nodes that should be running the daemon pod and have one or more of "
            "the daemon pod running and available.", kind="integer"),
    _column("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
    _AGE, _CONTAINERS, _IMAGES, _SELECTOR,
]


def print_daemonset(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    counts = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled",
              "numberAvailable")
    return [obj["metadata"]["name"], *(_count(status, field) for field in counts),
            format_label_selector({"matchLabels": pod_spec.get("nodeSelector") or {}}) or "<none>",
            since(obj["metadata"].get("creationTimestamp"), now), *_template_cells(obj),
            format_label_selector((obj.get("spec") or {}).get("selector")) or "<none>"]


NAMESPACE_COLUMNS: list[Column] = [_NAME, _column("Status", "The status of the namespace"), _AGE]


def print_namespace(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""),
            since(obj["metadata"].get("creationTimestamp"), now)]


CONFIGMAP_COLUMNS: list[Column] = [
    _NAME, _column("Data", "Data contains the configuration data."), _AGE,
]


def print_configmap(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            since(obj["metadata"].get("creationTimestamp"), now)]


SECRET_COLUMNS: list[Column] = [
    _NAME, _column("Type", "Used to facilitate programmatic handling of secret data."),
    _column("Data", "Data contains the secret data."), _AGE,
]


def print_secret(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("type", ""), len(obj.get("data") or {}),
            since(obj["metadata"].get("creationTimestamp"), now)]


NETWORKPOLICY_COLUMNS: list[Column] = [
    _NAME, _column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."), _AGE,
]


def print_networkpolicy(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"],
            format_label_selector((obj.get("spec") or {}).get("podSelector")) or "<none>",
            since(obj["metadata"].get("creationTimestamp"), now)]


PRINTERS: dict[tuple[str, str], tuple[list[Column], Printer]] = {
    ("", "pods"): (POD_COLUMNS, print_pod),
    ("", "nodes"): (NODE_COLUMNS, print_node),
    ("", "events"): (EVENT_COLUMNS, print_event),
    ("", "namespaces"): (NAMESPACE_COLUMNS, print_namespace),
    ("", "configmaps"): (CONFIGMAP_COLUMNS, print_configmap),
    ("", "secrets"): (SECRET_COLUMNS, print_secret),
    ("", "serviceaccounts"): (DEFAULT_COLUMNS, print_default),
    ("apps", "deployments"): (DEPLOYMENT_COLUMNS, print_deployment),
    ("apps", "replicasets"): (REPLICASET_COLUMNS, print_replicaset),
    ("apps", "statefulsets"): (STATEFULSET_COLUMNS, print_statefulset),
    ("apps", "daemonsets"): (DAEMONSET_COLUMNS, print_daemonset),
    ("networking.k8s.io", "networkpolicies"): (NETWORKPOLICY_COLUMNS, print_networkpolicy),
}


# --------------------------------------------------- decoding only what the pod printer reads
# A 100,000-pod Table list used to parse every stored pod whole (~7 KB of JSON each) to print a few
# cells: the server, not kubectl, was then the slow side of `make bench`. The types below make msgspec
# build only what print_pod and table_parts read; the metadata stays raw JSON bytes, spliced as they are
# into the row's PartialObjectMetadata, so the answer is byte for byte what a whole parse gave.
class _PrintedMeta(TypedDict, total=False):
    name: str
    creationTimestamp: str
    deletionTimestamp: str


class _Named(TypedDict, total=False):
    name: str
    restartPolicy: str


class _Gate(TypedDict, total=False):
    conditionType: str


class _PrintedSpec(TypedDict, total=False):
    containers: list[_Named]
    initContainers: list[_Named]
    nodeName: str
    readinessGates: list[_Gate]


class _Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str


class _Waiting(TypedDict, total=False):
    reason: str


class _Terminated(TypedDict, total=False):
    exitCode: int
    signal: int
    reason: str
    finishedAt: str


class _Running(TypedDict, total=False):
    startedAt: str


class _State(TypedDict, total=False):
    running: _Running
    waiting: _Waiting
    terminated: _Terminated


class _ContainerStatus(TypedDict, total=False):
    name: str
    ready: bool
    started: bool
    restartCount: int
    state: _State
    lastState: _State


class _PodIP(TypedDict, total=False):
    ip: str


class _PrintedStatus(TypedDict, total=False):
    phase: str
    reason: str
    conditions: list[_Condition]
    initContainerStatuses: list[_ContainerStatus]
    containerStatuses: list[_ContainerStatus]
    podIPs: list[_PodIP]
    nominatedNodeName: str


class _PrintedPod(TypedDict, total=False):
    metadata: msgspec.Raw
    spec: _PrintedSpec
    status: _PrintedStatus


_PRINTED_POD = msgspec.json.Decoder(_PrintedPod)
_PRINTED_META = msgspec.json.Decoder(_PrintedMeta)


def table_source(rtype: ResourceType, raw: bytes) -> tuple[dict[str, Any], Any]:
    """(the object as the printer needs it, its metadata for a PartialObjectMetadata row object).

    For pods: only the printed fields are built and the metadata is its stored JSON, unparsed; for
    other kinds (few objects): the whole object and its metadata dict."""
    if rtype.key == ("", "pods"):
        try:
            printed = _PRINTED_POD.decode(raw)
            metadata_json = printed.get("metadata")
            if metadata_json is not None:
                pod: dict[str, Any] = dict(printed)
                pod["metadata"] = _PRINTED_META.decode(metadata_json)
                return pod, orjson.Fragment(bytes(metadata_json))
        except msgspec.ValidationError:
            pass  # a field of an unexpected type: the whole parse below reports it as before
    obj = orjson.loads(raw)
    return obj, obj.get("metadata", {})


def _row_object(obj: dict[str, Any], raw: bytes | None, include: str, metadata: Any = None) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return raw if raw is not None else obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}) if metadata is None else metadata,
    }


def table_parts(
    rtype: ResourceType,
    objects: list[tuple[dict[str, Any], bytes | None]] | list[tuple[dict[str, Any], Any, Any]],
    include: str,
    now: datetime | None = None,
) -> tuple[list[Column], list[dict[str, Any]]]:
    """Column definitions and rows. Each object comes as (obj, raw) or (obj, raw, metadata): a row's
    "object" may be raw JSON (an orjson.Fragment spliced in by the caller), and `metadata` (see
    table_source) replaces obj["metadata"] in a PartialObjectMetadata row object."""
    now = now or datetime.now(UTC)
    columns, printer = PRINTERS.get(rtype.key, (DEFAULT_COLUMNS, print_default))
    rows: list[dict[str, Any]] = []
    for obj, raw, *metadata in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        embedded = _row_object(obj, raw, include, metadata[0] if metadata else None)
        if embedded is not None:
            row["object"] = embedded
        if rtype.key == ("", "pods"):
            phase = (obj.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                message = "The pod has completed successfully." if phase == "Succeeded" else "The pod failed."
                row["conditions"] = [
                    {"type": "Completed", "status": "True", "reason": phase, "message": message}
                ]
        rows.append(row)
    return columns, rows


def wants_table(accept: str) -> bool:
    """kubectl asks for a Table first in its Accept header and falls back to plain JSON after it."""
    first = accept.split(",")[0]
    return "as=Table" in first and "g=meta.k8s.io" in first



def table_body(
    rtype: ResourceType,
    entries: list[Entry],
    include: str,
    metadata: dict[str, Any],
    with_columns: bool = True,
) -> bytes:
    """The serialized Table of stored entries; `include` is the request's includeObject."""
    if include not in ("None", "Metadata", "Object"):
        raise bad_request(
            f'includeObject: Unsupported value: "{include}": supported values: "Metadata", '
            f'"None", "Object"'
        )
    with gc_paused():  # decoding 500 pods makes many small objects: no collections meanwhile
        sources = [(*table_source(rtype, entry.raw), entry) for entry in entries]
        triples = [(obj, orjson.Fragment(entry.raw), row_metadata) for obj, row_metadata, entry in sources]
    columns, rows = table_parts(rtype, triples, include)
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    if with_columns:
        table["columnDefinitions"] = columns
    table["rows"] = rows
    return orjson.dumps(table)
