"""metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics, computed when asked from the usage model, so they
always agree with the exporter's Prometheus series (both call sandbox.usage)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, bad_request, status_details
from .routing import Route
from .selectors import SelectorError, label_predicate
from .store import Entry
from .transport import Exchange

UsageProvider = Callable[[dict[str, Any], str, float], Any]  # -> object with cpu_cores, memory_bytes

#: What the kubelet, the runtime and the OS use on every node, beyond its pods.
NODE_OVERHEAD_CORES = 0.12
NODE_OVERHEAD_BYTES = 640 * 1024 * 1024
WINDOW = "15s"


def default_usage_provider() -> UsageProvider:
    from sandbox.usage import container_usage

    return container_usage


def cpu_quantity(cores: float) -> str:
    return f"{max(0, round(cores * 1e9))}n"


def memory_quantity(memory_bytes: float) -> str:
    return f"{max(0, int(memory_bytes) // 1024)}Ki"


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _running_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Container specs whose container is running now (metrics-server reports no others)."""
    running = {
        status.get("name")
        for status in (pod.get("status") or {}).get("containerStatuses") or []
        if (status.get("state") or {}).get("running") is not None
    }
    return [spec for spec in (pod.get("spec") or {}).get("containers") or [] if spec.get("name") in running]


def pod_metrics(pod: dict[str, Any], usage: UsageProvider, now: datetime) -> dict[str, Any] | None:
    """PodMetrics for a Running pod; None for pods metrics-server would not report."""
    if (pod.get("status") or {}).get("phase") != "Running" or not _running_containers(pod):
        return None
    at = now.timestamp()
    containers = []
    for spec in _running_containers(pod):
        sample = usage(pod, spec["name"], at)
        containers.append(
            {
                "name": spec["name"],
                "usage": {
                    "cpu": cpu_quantity(sample.cpu_cores),
                    "memory": memory_quantity(sample.memory_bytes),
                },
            }
        )
    metadata = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata.get("namespace", ""),
            "creationTimestamp": _timestamp(now),
            "labels": metadata.get("labels") or {},
        },
        "timestamp": _timestamp(now),
        "window": WINDOW,
        "containers": containers,
    }


def node_metrics(
    node: dict[str, Any], pods: Iterable[dict[str, Any]], usage: UsageProvider, now: datetime
) -> dict[str, Any]:
    """NodeMetrics: the sum of its Running pods plus a fixed system overhead."""
    name = node["metadata"]["name"]
    at = now.timestamp()
    cores, memory = NODE_OVERHEAD_CORES, float(NODE_OVERHEAD_BYTES)
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") != name or (pod.get("status") or {}).get(
            "phase"
        ) != "Running":
            continue
        for spec in _running_containers(pod):
            sample = usage(pod, spec["name"], at)
            cores += sample.cpu_cores
            memory += sample.memory_bytes
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": name,
            "creationTimestamp": _timestamp(now),
            "labels": node["metadata"].get("labels") or {},
        },
        "timestamp": _timestamp(now),
        "window": WINDOW,
        "usage": {"cpu": cpu_quantity(cores), "memory": memory_quantity(memory)},
    }


def serve_metrics(exchange: Exchange, route: Route, query: dict[str, str]) -> None:
    """metrics.k8s.io's pods and nodes: a list (labelSelector only, as metrics-server), or one by name."""
    api = exchange.api
    now = datetime.now(UTC)
    rtype = route.rtype
    try:
        labels = label_predicate(query.get("labelSelector"))
    except SelectorError as error:
        raise bad_request(str(error)) from None

    def wanted(entry: Entry) -> bool:
        return (not route.name or entry.name == route.name) and (labels is None or labels(entry.labels))

    if rtype.plural == "pods":
        pods = [entry for entry in api.store.entries(("", "pods"), route.namespace or None) if wanted(entry)]
        items = [m for m in (pod_metrics(e.decode(), api.usage_provider, now) for e in pods) if m]
    else:
        all_pods = api.store.objects(("", "pods"))
        nodes = [entry for entry in api.store.entries(("", "nodes")) if wanted(entry)]
        items = [node_metrics(node.decode(), all_pods, api.usage_provider, now) for node in nodes]
    if route.name:
        if not items:
            raise ApiError(
                404,
                "NotFound",
                f'{rtype.singular or rtype.kind.lower()}.{rtype.group} "{route.name}" not found',
                status_details(route.name, rtype.group, rtype.plural),
            )
        exchange.send_json(items[0])
        return
    exchange.send_json(
        {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.group_version,
            "metadata": {"resourceVersion": ""},
            "items": items,
        }
    )
