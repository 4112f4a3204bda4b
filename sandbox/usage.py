"""Deterministic resource usage of demo containers, as a function of absolute time.

metrics.k8s.io (served by the stand-in API server) and the cAdvisor-shaped exporter (scraped and
backfilled into Prometheus) both call these functions, so the two sources always agree. Counters are
closed-form integrals of the rates, so a backfilled history and live scrapes join without a seam, and
every call is O(1): the exporter can ask for every pod at every scrape and for 24 h of backfill.

`pod` is the pod object as served (a dict, timestamps already shifted by the loader); `at` is a Unix
timestamp in seconds.

Which pods use anything: only running containers of Running pods (`is_running(pod)`,
`is_container_running(pod, container)`). For Pending and Succeeded/Failed pods, and for a container
waiting in CrashLoopBackOff, the rates are 0 and the counters stay flat, like cAdvisor, which has no
cgroup for them. Callers that publish series should skip pods for which `is_running(pod)` is False.

The demo's stories, so the right-sizing and alerting pages have something to find:
- the OOMKilled container (any container whose lastState is OOMKilled and that has a memory limit)
  climbs toward its limit in a sawtooth whose teeth end exactly at its restarts (the demo's thumbnailer
  has climbed for 10 of its 16 hours when the demo starts, so the 6-hour trend already forecasts the
  next kill; sandbox.life kills it at `oom_kill_at`, and the next tooth begins);
- some containers use a small fraction of what they request (web, coredns, metrics-server: right-sizing
  targets); api uses more CPU than it requests (but stays under its limit);
- everything else gets a per-container level from a hash of its names, with a daily wave.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from k8sdata.pods import resources

DAY = 86_400.0
MIB = 1024 * 1024
_OMEGA_DAY = 2 * math.pi / DAY
_OMEGA_SHORT = 2 * math.pi / 900.0  # a 15-minute ripple on top of the daily wave
_DAILY_AMPLITUDE = 0.4
_SHORT_AMPLITUDE = 0.08

#: An OOMKilled container never quite reaches its limit in this model: at the end of a period it stands
#: just below, and sandbox.life kills it there (the pod object changes: a new run, a new tooth). Without
#: that (a bare pod object) it stays at the ceiling.
OOM_CEILING = 0.985
OOM_FLOOR = 0.3


@dataclass(frozen=True)
class ContainerUsage:
    cpu_cores: float
    memory_bytes: int


@dataclass(frozen=True)
class _Profile:
    """How much of its request (or of a default when it has none) a container uses on average."""

    cpu_of_request: float | None = None  # None: a hashed level between 25 % and 75 %
    memory_of_request: float | None = None
    cpu_default_cores: float = 0.1  # reference when the container requests no CPU
    memory_default_bytes: float = 64 * MIB


#: Keyed by the pod's app label (app.kubernetes.io/name, app, k8s-app or component).
_PROFILES: dict[str, _Profile] = {
    "web": _Profile(cpu_of_request=0.06, memory_of_request=0.22),  # asks 500m/256Mi, uses ~30m/56Mi
    "api": _Profile(cpu_of_request=1.6, memory_of_request=0.55),  # asks 100m, uses ~160m (limit 500m)
    "kams": _Profile(cpu_of_request=0.2, memory_of_request=0.35),
    "kube-dns": _Profile(cpu_of_request=0.03, memory_of_request=0.3),
    "metrics-server": _Profile(cpu_of_request=0.05, memory_of_request=0.12),
    "prometheus": _Profile(cpu_of_request=0.45, memory_of_request=0.62),
    "node-exporter": _Profile(cpu_of_request=0.2, memory_of_request=0.5),
    "legacy-portal": _Profile(cpu_default_cores=0.35, memory_default_bytes=700 * MIB,
                              cpu_of_request=1.0, memory_of_request=1.0),
    "thumbnailer": _Profile(cpu_of_request=0.8, memory_of_request=1.0),
    "kube-apiserver": _Profile(cpu_of_request=0.5, memory_default_bytes=620 * MIB, memory_of_request=1.0),
    "kube-controller-manager": _Profile(cpu_of_request=0.15, memory_default_bytes=95 * MIB,
                                        memory_of_request=1.0),
    "kube-scheduler": _Profile(cpu_of_request=0.05, memory_default_bytes=48 * MIB, memory_of_request=1.0),
    "etcd": _Profile(cpu_of_request=0.4, memory_of_request=0.9),
    "kube-proxy": _Profile(cpu_default_cores=0.004, memory_default_bytes=28 * MIB, cpu_of_request=1.0,
                           memory_of_request=1.0),
}


def _seed(*parts: str) -> float:
    """A stable number in [0, 1) from names, so every container gets its own shape."""
    return (zlib.crc32("/".join(parts).encode()) % 10_000) / 10_000


def quantity_cores(value: str | None) -> float | None:
    """A CPU quantity in cores (k8sdata.pods.resources' parser, held to upstream's tables); None if absent."""
    cores = resources.cpu_cores(value)
    return None if math.isnan(cores) else cores


def quantity_bytes(value: str | None) -> float | None:
    """A memory quantity in bytes (k8sdata.pods.resources' parser); None if absent."""
    size = resources.memory_bytes(value)
    return None if math.isnan(size) else size


@lru_cache(maxsize=65_536)
def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_time(value: Any) -> float | None:
    """An RFC 3339 time as a Unix timestamp; None when absent."""
    return _parse_time(value) if isinstance(value, str) and value else None


def _container_spec(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for spec in pod.get("spec", {}).get("containers", []):
        if spec.get("name") == container:
            return spec
    return {}


def _container_status(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return status
    return {}


def _resources(pod: dict[str, Any], container: str) -> tuple[dict[str, str], dict[str, str]]:
    resources = _container_spec(pod, container).get("resources", {}) or {}
    return resources.get("requests", {}) or {}, resources.get("limits", {}) or {}


def _app(pod: dict[str, Any]) -> str:
    labels = pod.get("metadata", {}).get("labels") or {}
    for key in ("app.kubernetes.io/name", "app", "k8s-app", "component"):
        if labels.get(key):
            return str(labels[key])
    return ""


def _name(pod: dict[str, Any]) -> str:
    return str(pod.get("metadata", {}).get("name", ""))


def is_running(pod: dict[str, Any]) -> bool:
    """True when the pod is scheduled and Running: the only pods with usage (and cAdvisor series)."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and bool((pod.get("spec") or {}).get("nodeName"))


def is_container_running(pod: dict[str, Any], container: str) -> bool:
    """True when this container of a Running pod is itself running (not waiting in CrashLoopBackOff)."""
    if not is_running(pod):
        return False
    status = _container_status(pod, container)
    if not status:  # a pod without statuses (hand-written test object): treat as running
        return True
    return "running" in (status.get("state") or {})


def _pod_start(pod: dict[str, Any]) -> float:
    """When the pod started using resources: status.startTime, else its creation, else the epoch."""
    status = pod.get("status") or {}
    start = parse_time(status.get("startTime")) or parse_time(
        pod.get("metadata", {}).get("creationTimestamp"))
    return start if start is not None else 0.0


def _cpu_base(pod: dict[str, Any], container: str) -> float:
    requests, limits = _resources(pod, container)
    profile = _PROFILES.get(_app(pod), _Profile())
    reference = (quantity_cores(requests.get("cpu")) or quantity_cores(limits.get("cpu"))
                 or profile.cpu_default_cores)
    fraction = profile.cpu_of_request
    if fraction is None:
        fraction = 0.25 + 0.5 * _seed(_name(pod), container, "cpu")
    return reference * fraction


def _phase(pod: dict[str, Any], container: str) -> tuple[float, float]:
    name = _name(pod)
    return (_seed(name, container, "phase") * 2 * math.pi, _seed(name, container, "ripple") * 2 * math.pi)


def cpu_rate(pod: dict[str, Any], container: str, at: float) -> float:
    """CPU cores in use at `at`: a daily wave and a 15-minute ripple around a per-container level."""
    if not is_container_running(pod, container) or at < _pod_start(pod):
        return 0.0
    base = _cpu_base(pod, container)
    phase, ripple = _phase(pod, container)
    return base * (1 + _DAILY_AMPLITUDE * math.sin(_OMEGA_DAY * at + phase)
                   + _SHORT_AMPLITUDE * math.sin(_OMEGA_SHORT * at + ripple))


def _cpu_integral(base: float, phase: float, ripple: float, at: float) -> float:
    return base * (at - _DAILY_AMPLITUDE / _OMEGA_DAY * math.cos(_OMEGA_DAY * at + phase)
                   - _SHORT_AMPLITUDE / _OMEGA_SHORT * math.cos(_OMEGA_SHORT * at + ripple))


def cpu_seconds_total(pod: dict[str, Any], container: str, at: float) -> float:
    """Integral of cpu_rate since the pod started: a monotonic counter like cAdvisor's (0 before)."""
    if not is_container_running(pod, container):
        return 0.0
    start = _pod_start(pod)
    if at <= start:
        return 0.0
    base = _cpu_base(pod, container)
    phase, ripple = _phase(pod, container)
    return max(0.0, _cpu_integral(base, phase, ripple, at) - _cpu_integral(base, phase, ripple, start))


def _oom_cycle(pod: dict[str, Any], container: str) -> tuple[float, float, float] | None:
    """(current start, period, limit bytes) for a container that was OOMKilled, else None.

    The period is the length of the OOMKilled run (lastState.terminated startedAt -> finishedAt), so a
    sawtooth going back from the current start puts its resets exactly at the restarts the exporter's
    restart history also places every period.
    """
    status = _container_status(pod, container)
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    if terminated.get("reason") != "OOMKilled":
        return None
    _, limits = _resources(pod, container)
    limit = quantity_bytes(limits.get("memory"))
    current = parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt"))
    previous = parse_time(terminated.get("startedAt"))
    if not limit or current is None or previous is None:
        return None
    return current, max(current - previous, 60.0), limit


def oom_kill_at(pod: dict[str, Any], container: str) -> float | None:
    """When the current run of an OOMKilled container reaches its limit (its start plus one period),
    as a Unix time; None for any other container. sandbox.life kills it then, as the kernel would."""
    oom = _oom_cycle(pod, container)
    if oom is None:
        return None
    current_start, period, _limit = oom
    return current_start + period


def memory_bytes(pod: dict[str, Any], container: str, at: float) -> int:
    """Working-set bytes at `at` (0 when the container is not running or the pod had not started)."""
    if not is_container_running(pod, container) or at < _pod_start(pod):
        return 0
    oom = _oom_cycle(pod, container)
    if oom is not None:
        current_start, period, limit = oom
        if at >= current_start:
            progress = min((at - current_start) / period, 1.0)
        else:
            progress = ((at - current_start) % period) / period
        # Grows fast after start (caches warm up), then keeps leaking until the kernel kills it.
        climb = progress ** 0.85
        return int(limit * (OOM_FLOOR + (OOM_CEILING - OOM_FLOOR) * climb))
    requests, limits = _resources(pod, container)
    profile = _PROFILES.get(_app(pod), _Profile())
    reference = (quantity_bytes(requests.get("memory")) or quantity_bytes(limits.get("memory"))
                 or profile.memory_default_bytes)
    fraction = profile.memory_of_request
    if fraction is None:
        fraction = 0.4 + 0.4 * _seed(_name(pod), container, "mem")
    base = reference * fraction
    _, ripple = _phase(pod, container)
    wobble = 0.05 * math.sin(2 * math.pi * at / (6 * 3600) + ripple)
    return int(base * (1 + wobble))


def container_usage(pod: dict[str, Any], container: str, at: float) -> ContainerUsage:
    return ContainerUsage(cpu_cores=cpu_rate(pod, container, at),
                          memory_bytes=memory_bytes(pod, container, at))


def _network_rate(pod: dict[str, Any]) -> float:
    app = _app(pod)
    if app in ("web", "api"):
        return 60_000.0 if app == "web" else 35_000.0
    return 2_000 + 20_000 * _seed(_name(pod), "net")


def network_bytes_total(pod: dict[str, Any], at: float) -> tuple[float, float]:
    """(receive, transmit) byte counters of the pod's eth0 since it started, following a daily wave."""
    if not is_running(pod):
        return 0.0, 0.0
    start = _pod_start(pod)
    if at <= start:
        return 0.0, 0.0
    rate = _network_rate(pod)
    phase = _seed(_name(pod), "net-phase") * 2 * math.pi

    def integral(t: float) -> float:
        return t - 0.5 / _OMEGA_DAY * math.cos(_OMEGA_DAY * t + phase)

    received = rate * max(0.0, integral(at) - integral(start))
    return received, received * 0.6
