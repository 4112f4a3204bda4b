"""A cluster exporter for the demo: cAdvisor- and kube-state-metrics-shaped series for the demo pods.

Values are computed when scraped, from the pod objects (a provider, so the sandbox can pass the stand-in
API server's live store) and from sandbox.usage, which metrics.k8s.io also uses: CPU and memory here agree
with `kubectl top`. The same series definitions feed the Prometheus backfill (sandbox.prometheus.backfill),
which evaluates them at past times, so history and live scrapes are one continuous line.

Paths: /metrics/cadvisor (what a kubelet's cAdvisor endpoint exposes), /metrics/kube-state-metrics, and
/metrics (both). Scrape with honor_labels so the exporter's namespace/pod/container labels win.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from sandbox import usage
from sandbox._http import ThreadedHTTPService

PodsProvider = Callable[[], list[dict[str, Any]]]

CADVISOR = "cadvisor"
KUBE_STATE_METRICS = "kube-state-metrics"
PHASES: tuple[str, ...] = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
#: kubelet's longest crash-loop back-off; a crash-looping container restarts about this often.
CRASH_LOOP_INTERVAL_SECONDS = 300.0

#: name -> (section, type, help) for every family the exporter publishes.
FAMILIES: dict[str, tuple[str, str, str]] = {
    "container_cpu_usage_seconds_total": (CADVISOR, "counter", "Cumulative cpu time consumed in seconds."),
    "container_memory_working_set_bytes": (CADVISOR, "gauge", "Current working set in bytes."),
    "container_network_receive_bytes_total": (CADVISOR, "counter", "Cumulative count of bytes received."),
    "container_network_transmit_bytes_total": (CADVISOR, "counter",
                                               "Cumulative count of bytes transmitted."),
    "kube_pod_info": (KUBE_STATE_METRICS, "gauge", "Information about pod."),
    "kube_pod_owner": (KUBE_STATE_METRICS, "gauge", "Information about the Pod's owner."),
    "kube_pod_created": (KUBE_STATE_METRICS, "gauge", "Unix creation timestamp."),
    "kube_pod_status_phase": (KUBE_STATE_METRICS, "gauge", "The pods current phase."),
    "kube_pod_status_ready": (KUBE_STATE_METRICS, "gauge",
                              "Describes whether the pod is ready to serve requests."),
    "kube_pod_container_info": (KUBE_STATE_METRICS, "gauge", "Information about a container in a pod."),
    "kube_pod_container_status_ready": (KUBE_STATE_METRICS, "gauge",
                                        "Describes whether the containers readiness check succeeded."),
    "kube_pod_container_status_restarts_total": (KUBE_STATE_METRICS, "counter",
                                                 "The number of container restarts per container."),
    "kube_pod_container_status_waiting_reason": (KUBE_STATE_METRICS, "gauge",
                                                 "Describes the reason the container is currently waiting."),
    "kube_pod_container_status_last_terminated_reason": (
        KUBE_STATE_METRICS, "gauge", "Describes the last reason the container was in terminated state."),
    "kube_pod_container_resource_requests": (KUBE_STATE_METRICS, "gauge",
                                             "The number of requested resource by a container."),
    "kube_pod_container_resource_limits": (KUBE_STATE_METRICS, "gauge",
                                           "The number of requested limit resource by a container."),
}


@dataclass(frozen=True)
class Series:
    """One time series: its labels, its value as a function of Unix time, and when it begins."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: Callable[[float], float]
    begins: float = -math.inf  # the pod's creation: no samples before it
    constant: bool = False  # the value never changes (the backfill evaluates it once)


def _constant(value: float) -> Callable[[float], float]:
    return lambda _at: value


def escape_label_value(value: str | None) -> str:
    value = "" if value is None else str(value)  # pod fields may be null (nodeName of a Pending pod)
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def format_labels(labels: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels)
    return "{" + inner + "}" if inner else ""


def _container_statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {status.get("name", ""): status for status in pod.get("status", {}).get("containerStatuses") or []}


def restart_count_at(pod: dict[str, Any], container: str, at: float, now: float) -> int:
    """The container's restart count at `at`, for a pod object read at `now`.

    The pod only tells the current restartCount and when the last run ended, so the history is made up
    to be plausible and to end exactly at the current count: a crash-looping container restarted every
    five minutes (kubelet's longest back-off) before its last crash; an OOMKilled one was killed once
    per run length of its last run; other restarts are spread evenly between the pod's creation and the
    last termination.
    """
    status = _container_statuses(pod).get(container, {})
    count = int(status.get("restartCount") or 0)
    if count == 0 or at >= now:
        return count
    last_state = (status.get("lastState") or {}).get("terminated") or {}
    last = usage.parse_time(last_state.get("finishedAt")) or now
    created = usage.parse_time(pod.get("metadata", {}).get("creationTimestamp")) or (now - usage.DAY)
    if at >= last:
        return count
    span = max(last - created, 1.0)
    waiting_reason = ((status.get("state") or {}).get("waiting") or {}).get("reason")
    interval = span / count
    previous_start = usage.parse_time(last_state.get("startedAt"))
    if waiting_reason == "CrashLoopBackOff":
        interval = min(CRASH_LOOP_INTERVAL_SECONDS, interval)
    elif last_state.get("reason") == "OOMKilled" and previous_start is not None:
        # Each run lasted as long as the last one: the same period sandbox.usage's memory sawtooth uses,
        # so the memory resets and these restarts line up on the charts.
        interval = max(last - previous_start, 60.0)
    restarts_after = min(count, math.ceil((last - at) / interval))
    return count - restarts_after


def _ready(pod: dict[str, Any]) -> str:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return {"True": "true", "False": "false"}.get(condition.get("status", ""), "unknown")
    return "unknown"


def _cpu_cores(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


_MEMORY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "K": 10**3, "M": 10**6,
                    "G": 10**9, "T": 10**12}


def _memory_bytes(value: str) -> float:
    for suffix, factor in _MEMORY_SUFFIXES.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def pod_series(pod: dict[str, Any], now: float) -> list[Series]:
    """Every series the exporter publishes for one pod, valid for the pod object read at `now`."""
    metadata, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    namespace, name, uid = metadata.get("namespace", ""), metadata.get("name", ""), metadata.get("uid", "")
    node = spec.get("nodeName", "")
    phase = status.get("phase", "Unknown")
    begins = usage.parse_time(metadata.get("creationTimestamp")) or -math.inf
    pod_labels = (("namespace", namespace), ("pod", name), ("uid", uid))
    series: list[Series] = []

    def constant(family: str, labels: tuple[tuple[str, str], ...], value: float) -> None:
        series.append(Series(family, labels, _constant(value), begins, constant=True))

    owners = metadata.get("ownerReferences") or []
    controller = next((owner for owner in owners if owner.get("controller")), owners[0] if owners else None)
    constant("kube_pod_info", (*pod_labels, ("host_ip", status.get("hostIP", "")),
                               ("pod_ip", status.get("podIP", "")), ("node", node),
                               ("created_by_kind", controller.get("kind", "") if controller else ""),
                               ("created_by_name", controller.get("name", "") if controller else ""),
                               ("priority_class", spec.get("priorityClassName", "")),
                               ("host_network", str(bool(spec.get("hostNetwork"))).lower())), 1)
    constant("kube_pod_owner", (*pod_labels,
                                ("owner_kind", controller.get("kind", "<none>") if controller else "<none>"),
                                ("owner_name", controller.get("name", "<none>") if controller else "<none>"),
                                ("owner_is_controller",
                                 str(bool(controller and controller.get("controller"))).lower()
                                 if controller else "<none>")), 1)
    if math.isfinite(begins):
        constant("kube_pod_created", pod_labels, begins)
    for candidate in PHASES:
        constant("kube_pod_status_phase", (*pod_labels, ("phase", candidate)), float(candidate == phase))
    ready = _ready(pod)
    for condition in ("true", "false", "unknown"):
        constant("kube_pod_status_ready", (*pod_labels, ("condition", condition)), float(condition == ready))

    statuses = _container_statuses(pod)
    for container_spec in spec.get("containers") or []:
        container = container_spec.get("name", "")
        image = container_spec.get("image", "")
        container_status = statuses.get(container, {})
        container_labels = (*pod_labels, ("container", container))
        constant("kube_pod_container_info", (*container_labels, ("image", image),
                                             ("image_id", container_status.get("imageID", "")),
                                             ("container_id", container_status.get("containerID", ""))), 1)
        constant("kube_pod_container_status_ready", container_labels,
                 float(bool(container_status.get("ready"))))
        series.append(Series("kube_pod_container_status_restarts_total", container_labels,
                             lambda at, c=container: float(restart_count_at(pod, c, at, now)), begins))
        state = container_status.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting:
            constant("kube_pod_container_status_waiting_reason", (*container_labels, ("reason", waiting)), 1)
        terminated = ((container_status.get("lastState") or {}).get("terminated") or {}).get("reason")
        if terminated:
            constant("kube_pod_container_status_last_terminated_reason",
                     (*container_labels, ("reason", terminated)), 1)
        resources = container_spec.get("resources") or {}
        for family, key in (("kube_pod_container_resource_requests", "requests"),
                            ("kube_pod_container_resource_limits", "limits")):
            amounts = resources.get(key) or {}
            node_labels = (*container_labels, ("node", node))
            if amounts.get("cpu"):
                constant(family, (*node_labels, ("resource", "cpu"), ("unit", "core")),
                         _cpu_cores(str(amounts["cpu"])))
            if amounts.get("memory"):
                constant(family, (*node_labels, ("resource", "memory"), ("unit", "byte")),
                         _memory_bytes(str(amounts["memory"])))
        if usage.is_container_running(pod, container):
            # cAdvisor only has cgroups for running containers (not for one waiting in CrashLoopBackOff);
            # labelled like kubelet's /metrics/cadvisor.
            usage_labels = (("namespace", namespace), ("pod", name), ("container", container),
                            ("image", image), ("node", node))
            series.append(Series("container_cpu_usage_seconds_total", usage_labels,
                                 lambda at, c=container: usage.cpu_seconds_total(pod, c, at), begins))
            series.append(Series("container_memory_working_set_bytes", usage_labels,
                                 lambda at, c=container: float(usage.memory_bytes(pod, c, at)), begins))
    if usage.is_running(pod):
        network_labels = (("namespace", namespace), ("pod", name), ("interface", "eth0"))
        series.append(Series("container_network_receive_bytes_total", network_labels,
                             lambda at: usage.network_bytes_total(pod, at)[0], begins))
        series.append(Series("container_network_transmit_bytes_total", network_labels,
                             lambda at: usage.network_bytes_total(pod, at)[1], begins))
    return series


def cluster_series(pods: Iterable[dict[str, Any]], now: float) -> list[Series]:
    """All series for these pods, grouped by family in FAMILIES order (exposition formats want that)."""
    order = {name: index for index, name in enumerate(FAMILIES)}
    every = [one for pod in pods if pod.get("kind", "Pod") == "Pod" for one in pod_series(pod, now)]
    return sorted(every, key=lambda one: order[one.name])  # stable: keeps pod order within a family


def _format_value(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(pods: Sequence[dict[str, Any]], at: float, sections: Iterable[str] = (CADVISOR, KUBE_STATE_METRICS)
           ) -> str:
    """The Prometheus text exposition (0.0.4) of the selected sections at Unix time `at`."""
    wanted = set(sections)
    lines: list[str] = []
    current = None
    for one in cluster_series(pods, at):
        section, kind, help_text = FAMILIES[one.name]
        if section not in wanted:
            continue
        if one.name != current:
            current = one.name
            lines.append(f"# HELP {one.name} {help_text}")
            lines.append(f"# TYPE {one.name} {kind}")
        lines.append(f"{one.name}{format_labels(one.labels)} {_format_value(one.value(at))}")
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    exporter: ClassVar[ClusterExporter]
    _PATHS: ClassVar[dict[str, tuple[str, ...]]] = {
        "/metrics": (CADVISOR, KUBE_STATE_METRICS),
        "/metrics/cadvisor": (CADVISOR,),
        "/metrics/kube-state-metrics": (KUBE_STATE_METRICS,),
    }

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        sections = self._PATHS.get(self.path.split("?", 1)[0])
        if sections is None:
            body, code, content_type = b"not found\n", 404, "text/plain; charset=utf-8"
        else:
            try:
                body = render(self.exporter.pods(), self.exporter.clock(), sections).encode()
                code, content_type = 200, "text/plain; version=0.0.4; charset=utf-8"
            except Exception as error:  # e.g. the pods provider failed: a failed scrape (up == 0), not a hang
                body = f"cannot list pods: {type(error).__name__}: {error}\n".encode()
                code, content_type = 500, "text/plain; charset=utf-8"
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ClusterExporter(ThreadedHTTPService):
    """Serves the demo cluster's metrics on 127.0.0.1 (port 0 picks a free one) from a thread."""

    def __init__(self, pods: PodsProvider, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.pods = pods
        self.clock = clock
        handler = type("ExporterHandler", (_Handler,), {"exporter": self})
        super().__init__(handler, host=host, port=port, thread_name="cluster-exporter")
