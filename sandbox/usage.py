"""Deterministic resource usage of demo containers, as a function of absolute time.

metrics.k8s.io (served by the stand-in API server) and the cAdvisor-shaped exporter (scraped and
backfilled into Prometheus) both call these functions, so the two sources always agree. Counters are
closed-form integrals of the rates, so a backfilled history and live scrapes join without a seam.

`pod` is the pod object as served (a dict); `at` is a Unix timestamp in seconds.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

DAY = 86_400.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class ContainerUsage:
    cpu_cores: float
    memory_bytes: int


def _seed(*parts: str) -> float:
    """A stable number in [0, 1) from names, so every container gets its own shape."""
    return (zlib.crc32("/".join(parts).encode()) % 10_000) / 10_000


def _quantity_cores(value: str | None) -> float | None:
    if not value:
        return None
    if value.endswith("m"):
        return float(value[:-1]) / 1000
    return float(value)


_MEMORY_SUFFIX = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB, "K": 1000, "M": 1000**2, "G": 1000**3}


def _quantity_bytes(value: str | None) -> float | None:
    if not value:
        return None
    for suffix, factor in _MEMORY_SUFFIX.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def _container_spec(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for spec in pod.get("spec", {}).get("containers", []):
        if spec.get("name") == container:
            return spec
    return {}


def _resources(pod: dict[str, Any], container: str) -> tuple[dict[str, str], dict[str, str]]:
    resources = _container_spec(pod, container).get("resources", {})
    return resources.get("requests", {}) or {}, resources.get("limits", {}) or {}


def _cpu_base(pod: dict[str, Any], container: str) -> float:
    requests, limits = _resources(pod, container)
    request = _quantity_cores(requests.get("cpu")) or _quantity_cores(limits.get("cpu")) or 0.1
    return request * (0.25 + 0.5 * _seed(pod["metadata"]["name"], container, "cpu"))


def cpu_rate(pod: dict[str, Any], container: str, at: float) -> float:
    """CPU cores in use at `at`: a daily wave around a per-container base."""
    base = _cpu_base(pod, container)
    phase = _seed(pod["metadata"]["name"], container, "phase") * 2 * math.pi
    return base * (1 + 0.4 * math.sin(2 * math.pi * at / DAY + phase))


def cpu_seconds_total(pod: dict[str, Any], container: str, at: float) -> float:
    """Integral of cpu_rate from the Unix epoch: a monotonic counter like cAdvisor's."""
    base = _cpu_base(pod, container)
    phase = _seed(pod["metadata"]["name"], container, "phase") * 2 * math.pi
    omega = 2 * math.pi / DAY
    return base * (at - 0.4 / omega * (math.cos(omega * at + phase) - math.cos(phase)))


def memory_bytes(pod: dict[str, Any], container: str, at: float) -> int:
    requests, limits = _resources(pod, container)
    reference = _quantity_bytes(requests.get("memory")) or _quantity_bytes(limits.get("memory")) or 64 * MIB
    base = reference * (0.4 + 0.4 * _seed(pod["metadata"]["name"], container, "mem"))
    wobble = 0.05 * math.sin(2 * math.pi * at / (6 * 3600))
    return int(base * (1 + wobble))


def container_usage(pod: dict[str, Any], container: str, at: float) -> ContainerUsage:
    return ContainerUsage(cpu_cores=cpu_rate(pod, container, at), memory_bytes=memory_bytes(pod, container, at))


def network_bytes_total(pod: dict[str, Any], at: float) -> tuple[float, float]:
    """(receive, transmit) byte counters of the pod's network interface."""
    seed = _seed(pod["metadata"]["name"], "net")
    receive_rate = 2_000 + 20_000 * seed
    return receive_rate * at, receive_rate * 0.6 * at
