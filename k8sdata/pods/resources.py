"""Container resources (requests and limits) and current usage, as DataFrames.

Quantities are parsed exactly like apimachinery's resource.Quantity (k8s.io/apimachinery/pkg/api/resource,
quantity.go `ParseQuantity` and suffix.go): a signed decimal number (`1`, `1.5`, `.5`, `5.`), then one
suffix - decimal SI (`n u m "" k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent
(`e3`, `E-2`). Arithmetic is done with Decimal, so `0.1` + `0.2` cores is exactly 300m. Values finer
than 1n are rounded up (away from zero), as ParseQuantity does; CPU becomes cores via MilliValue (rounded
up to whole millicores) and memory becomes bytes via Value (rounded up to whole bytes), which is what
the scheduler and `kubectl describe node` add up.

Which containers count (the choice, and why): the container table lists `spec.containers` and the
restartable init containers (sidecars, `restartPolicy: Always`, KEP-753), because sidecars run for the
pod's whole life next to the app containers and use resources all that time. Ordinary init containers
are left out of the per-container table (they have finished by the time a pod runs), but the pod-level
sums follow the scheduler's rule (k8s.io/component-helpers/resource `PodRequests`, also what
`kubectl describe node` prints): the pod's effective request is the larger of (app containers + sidecars)
and, for each init container, (its own request + the sidecars started before it); plus spec.overhead.
When pod-level resources (spec.resources, PodLevelResources) are set, they win, as upstream.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_UP, Decimal, localcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sdata.errors import NotConfigured, NotInstalled, SourceError, inner_detail
from k8sdata.gcpause import gc_paused
from k8sdata.requests.queries import CONTAINER_CPU, CONTAINER_MEMORY
from k8sdata.sources.protocols import InstantSource

if TYPE_CHECKING:
    from k8sdata.sources.kube import KubeClient



CONTAINER_RESOURCE_COLUMNS = [
    "namespace", "pod", "container", "sidecar", "cpu_request", "cpu_limit", "memory_request",
    "memory_limit",
]
POD_RESOURCE_COLUMNS = [
    "namespace", "pod", "node", "phase", "cpu_request", "cpu_limit", "memory_request", "memory_limit",
]
USAGE_COLUMNS = ["namespace", "pod", "container", "cpu_cores", "memory_bytes"]

SOURCE_PROMETHEUS = "prometheus"
SOURCE_METRICS_API = "metrics.k8s.io"

# ------------------------------------------------------------------------------------------ quantities

_DECIMAL_SI: dict[str, int] = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
                               "E": 18}
_BINARY_SI: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# <signedNumber>: digits, digits.digits, digits. or .digits; then everything else is the suffix.
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")
_NANO = Decimal("1e-9")
#: Generous precision: 9 fractional digits plus 1e18 * 2^60-sized numbers fit without rounding.
_PRECISION = 80


class QuantityError(ValueError):
    """A string that Kubernetes itself would refuse as a resource.Quantity."""


def parse_quantity(text: str | int | float) -> Decimal:
    """The exact value of a Kubernetes quantity ("250m" -> Decimal("0.25"), "1Gi" -> 1073741824)."""
    if isinstance(text, bool):
        raise QuantityError(f"not a quantity: {text!r}")
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise QuantityError(f"not a quantity: {text!r}")
        text = repr(text)
    return _parse_text(str(text))


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Decimal:
    """Cached: a cluster's quantities are a few hundred distinct strings ("100m", "128Mi") repeated over
    every pod, so 100,000 pods parse in a fraction of the time."""
    value = text.strip()
    match = _QUANTITY.match(value)
    if not match:
        raise QuantityError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    with localcontext() as context:
        context.prec = _PRECISION
        mantissa = Decimal(number)
        if suffix in _DECIMAL_SI:
            amount = mantissa.scaleb(_DECIMAL_SI[suffix])
        elif suffix in _BINARY_SI:
            amount = mantissa * (Decimal(2) ** _BINARY_SI[suffix])
        else:
            exponent = _EXPONENT.match(suffix)
            # suffix.go parses the exponent with strconv.ParseInt(.., 10, 32)
            if not exponent or abs(int(exponent.group(1))) >= 2**31:
                raise QuantityError(f"not a Kubernetes quantity (unknown suffix {suffix!r}): {value!r}")
            amount = mantissa.scaleb(int(exponent.group(1)))
        # ParseQuantity keeps nano precision at most and rounds what is finer up (away from zero).
        if amount != amount.quantize(_NANO, rounding=ROUND_UP):
            amount = amount.quantize(_NANO, rounding=ROUND_UP)
        return amount + 0  # normalises -0 to 0


def cpu_cores(text: str | int | float | None) -> float:
    """A CPU quantity in cores, rounded up to whole millicores like Quantity.MilliValue(); NaN if absent."""
    if text is None or text == "":
        return math.nan
    if isinstance(text, str):
        return _cores_of_text(text)
    return _millicores(parse_quantity(text))


@lru_cache(maxsize=4096)
def _cores_of_text(text: str) -> float:
    return _millicores(parse_quantity(text))


@lru_cache(maxsize=4096)
def _bytes_of_text(text: str) -> float:
    if isinstance(text, str):
        return _bytes_of_text(text)
    return _whole_bytes(parse_quantity(text))


def _millicores(amount: Decimal) -> float:
    return float((amount * 1000).to_integral_value(rounding=ROUND_CEILING)) / 1000


def _whole_bytes(amount: Decimal) -> float:
    return float(amount.to_integral_value(rounding=ROUND_CEILING))


def memory_bytes(text: str | int | float | None) -> float:
    """A memory quantity in bytes, rounded up to a whole byte like Quantity.Value(); NaN if absent."""
    if text is None or text == "":
        return math.nan
    return _whole_bytes(parse_quantity(text))


# ------------------------------------------------------------------------------------------ specs


def _amounts(container: Mapping[str, Any], which: str) -> Mapping[str, Any]:
    return ((container.get("resources") or {}).get(which)) or {}


def _is_sidecar(init_container: Mapping[str, Any]) -> bool:
    return init_container.get("restartPolicy") == "Always"


def _app_and_sidecar_containers(spec: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], bool]]:
    """Sidecars first (they start before the app containers), then spec.containers."""
    sidecars = [(c, True) for c in spec.get("initContainers") or [] if _is_sidecar(c)]
    return [*sidecars, *((c, False) for c in spec.get("containers") or [])]


def container_resources_frame(pods: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per app container and sidecar: CPU in cores and memory in bytes (NaN = not set).

    A quantity that does not parse (the API server never serves one) is treated as not set rather than
    failing the whole table.
    """
    rows: list[tuple[Any, ...]] = []
    with gc_paused():
        for pod in pods:
            metadata = pod.get("metadata") or {}
            namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
            for container, sidecar in _app_and_sidecar_containers(pod.get("spec") or {}):
                requests, limits = _amounts(container, "requests"), _amounts(container, "limits")
                rows.append((
                    namespace, name, container.get("name", ""), sidecar,
                    _safe(cpu_cores, requests.get("cpu")), _safe(cpu_cores, limits.get("cpu")),
                    _safe(memory_bytes, requests.get("memory")), _safe(memory_bytes, limits.get("memory")),
                ))
        frame = pd.DataFrame.from_records(rows, columns=CONTAINER_RESOURCE_COLUMNS)
    return frame.astype({"sidecar": "bool", "cpu_request": "float64", "cpu_limit": "float64",
                         "memory_request": "float64", "memory_limit": "float64"})


def _safe(convert: Any, value: Any) -> float:
    try:
        return float(convert(value))
    except (QuantityError, ArithmeticError, TypeError):
        return math.nan


def _sum_resource(containers: Iterable[Mapping[str, Any]], which: str, resource: str) -> Decimal | None:
    total: Decimal | None = None
    for container in containers:
        raw = _amounts(container, which).get(resource)
        if raw is None or raw == "":
            continue
        try:
            amount = parse_quantity(raw)
        except QuantityError:
            continue
        total = amount if total is None else total + amount
    return total


def pod_effective(pod: Mapping[str, Any], which: str, resource: str) -> Decimal | None:
    """The pod's effective request (which="requests") or limit ("limits") of one resource, as the
    scheduler computes it (component-helpers resource.PodRequests / PodLimits); None when no container
    sets it."""
    spec = pod.get("spec") or {}
    pod_level = _amounts(spec, which).get(resource)  # PodLevelResources: spec.resources wins outright
    if pod_level not in (None, ""):
        try:
            return parse_quantity(pod_level)
        except QuantityError:
            pass
    total = _sum_resource(spec.get("containers") or [], which, resource)
    sidecars_so_far: Decimal | None = None
    init_peak: Decimal | None = None
    for init in spec.get("initContainers") or []:
        own = _sum_resource([init], which, resource)
        if _is_sidecar(init):
            if own is not None:
                total = own if total is None else total + own
                sidecars_so_far = own if sidecars_so_far is None else sidecars_so_far + own
            candidate = sidecars_so_far
        else:
            candidate = own if sidecars_so_far is None else (own or Decimal(0)) + sidecars_so_far
        if candidate is not None and (init_peak is None or candidate > init_peak):
            init_peak = candidate
    if init_peak is not None and (total is None or init_peak > total):
        total = init_peak
    overhead = (spec.get("overhead") or {}).get(resource)
    if total is not None and overhead not in (None, ""):
        with contextlib.suppress(QuantityError):
            total += parse_quantity(overhead)
    return total


def _cores(amount: Decimal | None) -> float:
    return math.nan if amount is None else _millicores(amount)


def _bytes(amount: Decimal | None) -> float:
    return math.nan if amount is None else _whole_bytes(amount)


def pod_resources_frame(pods: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per pod: effective requests and limits (the scheduler's sums, see the module doc)."""
    with gc_paused():
        rows = [_pod_resources_row(pod) for pod in pods]
    frame = pd.DataFrame.from_records(rows, columns=POD_RESOURCE_COLUMNS)
    return frame.astype({column: "float64" for column in POD_RESOURCE_COLUMNS[4:]})


def _pod_resources_row(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    metadata = pod.get("metadata") or {}
    return (
        metadata.get("namespace", ""), metadata.get("name", ""),
        (pod.get("spec") or {}).get("nodeName") or "", (pod.get("status") or {}).get("phase") or "",
        _cores(pod_effective(pod, "requests", "cpu")), _cores(pod_effective(pod, "limits", "cpu")),
        _bytes(pod_effective(pod, "requests", "memory")), _bytes(pod_effective(pod, "limits", "memory")),
    )


def is_terminated(pod: Mapping[str, Any]) -> bool:
    """Succeeded or Failed pods hold no resources on their node (kubectl describe node skips them)."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# ------------------------------------------------------------------------------------------ usage


def usage_from_prometheus(prom: InstantSource, namespace: str | None, *, window: str = "5m") -> pd.DataFrame:
    """Two queries, each aggregated by (namespace, pod, container), whatever the cluster's size."""
    cpu = prom.instant(CONTAINER_CPU.render(namespace=namespace or "", window=window))
    memory = prom.instant(CONTAINER_MEMORY.render(namespace=namespace or ""))
    keys = ["namespace", "pod", "container"]
    cpu = _keyed(cpu).rename(columns={"value": "cpu_cores"})
    memory = _keyed(memory).rename(columns={"value": "memory_bytes"})
    frame = cpu.merge(memory, on=keys, how="outer")
    return _usage_frame(frame)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("namespace", "pod", "container"):
        if column not in frame.columns:
            frame[column] = ""
    return frame[["namespace", "pod", "container", "value"]]


def _usage_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reindex(columns=USAGE_COLUMNS)
    frame = frame.astype({"namespace": "str", "pod": "str", "container": "str",
                          "cpu_cores": "float64", "memory_bytes": "float64"})
    return frame.sort_values(["namespace", "pod", "container"], ignore_index=True)


class MetricsApiNotInstalled(NotInstalled):
    """metrics.k8s.io is not served: no metrics-server (or another metrics adapter) is installed."""

    def _what(self) -> str:
        return "This cluster does not serve metrics.k8s.io: metrics-server is not installed"

    def _next(self) -> str:
        return ("Install metrics-server (what kubectl top reads), or set PROMETHEUS_URL to a Prometheus "
                "that scrapes the kubelets' cAdvisor.")


def list_metrics_api(kube: KubeClient, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """PodMetrics or NodeMetrics. Without metrics-server the API server answers 404 with a bare
    "404 page not found", which alone tells a reader nothing: the error names what is missing."""
    try:
        return kube.list_resource("metrics.k8s.io/v1beta1", resource, namespace)
    except NotInstalled as error:
        raise MetricsApiNotInstalled(error.source) from None


def usage_from_metrics_api(kube: KubeClient, namespace: str | None) -> pd.DataFrame:
    """PodMetrics from metrics.k8s.io (metrics-server): one list, whatever the cluster's size."""
    items = list_metrics_api(kube, "pods", namespace)
    rows = []
    for item in items:
        metadata = item.get("metadata") or {}
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            rows.append({
                "namespace": metadata.get("namespace", ""), "pod": metadata.get("name", ""),
                "container": container.get("name", ""),
                "cpu_cores": _safe(_exact_cores, usage.get("cpu")),
                "memory_bytes": _safe(memory_bytes, usage.get("memory")),
            })
    return _usage_frame(pd.DataFrame(rows, columns=USAGE_COLUMNS))


def _exact_cores(text: str | None) -> float:
    """Usage is reported in nanocores: keep that precision (requests are whole millicores, usage not)."""
    if text is None or text == "":
        return math.nan
    return float(parse_quantity(text))


class UsageUnavailable(SourceError):
    """Neither Prometheus nor metrics.k8s.io could say what containers use."""

    kind = "usage_unavailable"

    def __init__(self, errors: list[SourceError]) -> None:
        self.errors = errors
        detail = "; ".join(
            f"{error.source_name}: {error.kind}"
            + (f" ({inner_detail(error.detail)})" if error.detail else "")  # no "later.);" inside ours
            for error in errors)
        source = errors[-1].source if errors else "kubernetes"
        super().__init__(source, detail)

    def _what(self) -> str:
        return "KAMS could not read current CPU and memory usage from Prometheus or from metrics.k8s.io"

    def _next(self) -> str:
        return ("Set PROMETHEUS_URL to a Prometheus that scrapes cAdvisor, or install metrics-server "
                "(and let KAMS read metrics.k8s.io).")


def current_usage(prom: InstantSource | None, kube: KubeClient | None, namespace: str | None, *,
                  window: str = "5m") -> tuple[pd.DataFrame, str]:
    """Per container usage now (USAGE_COLUMNS) and the source used: "prometheus" or "metrics.k8s.io".

    Prometheus first (two queries); metrics.k8s.io when Prometheus is not configured, fails, or has
    no container series at all (it does not scrape cAdvisor). Raises UsageUnavailable (a SourceError)
    when neither source works.
    """
    errors: list[SourceError] = []
    empty_from_prometheus: pd.DataFrame | None = None
    if prom is not None:
        try:
            frame = usage_from_prometheus(prom, namespace, window=window)
        except SourceError as error:
            errors.append(error)
        else:
            if not frame.empty:
                return frame, SOURCE_PROMETHEUS
            empty_from_prometheus = frame
    if kube is not None:
        try:
            return usage_from_metrics_api(kube, namespace), SOURCE_METRICS_API
        except SourceError as error:
            errors.append(error)
    if empty_from_prometheus is not None:  # Prometheus answered, nothing better exists: say so honestly
        return empty_from_prometheus, SOURCE_PROMETHEUS
    if len(errors) == 1 and (prom is None or kube is None):
        raise errors[0]
    if not errors:
        raise NotConfigured("prometheus", "neither Prometheus nor the Kubernetes API is configured")
    raise UsageUnavailable(errors)


# ------------------------------------------------------------------------------------------ usage vs specs

POD_USAGE_COLUMNS = [
    "namespace", "pod", "cpu_cores", "memory_bytes", "cpu_request", "cpu_limit", "memory_request",
    "memory_limit", "cpu_request_pct", "cpu_limit_pct", "memory_request_pct", "memory_limit_pct",
]


def _pct(part: pd.Series, whole: pd.Series) -> pd.Series:
    return part / whole.where(whole > 0) * 100


def usage_against_resources(resources: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """Per container: container_resources_frame joined with current_usage's frame (left join: containers
    without a sample keep NaN usage) and usage as % of request and of limit (NaN when unset)."""
    keys = ["namespace", "pod", "container"]
    frame = resources.merge(usage[[*keys, "cpu_cores", "memory_bytes"]], on=keys, how="left")
    frame = frame.astype({"cpu_cores": "float64", "memory_bytes": "float64"})
    frame["cpu_request_pct"] = _pct(frame["cpu_cores"], frame["cpu_request"])
    frame["cpu_limit_pct"] = _pct(frame["cpu_cores"], frame["cpu_limit"])
    frame["memory_request_pct"] = _pct(frame["memory_bytes"], frame["memory_request"])
    frame["memory_limit_pct"] = _pct(frame["memory_bytes"], frame["memory_limit"])
    return frame


def pod_usage_frame(pods: Iterable[Mapping[str, Any]], usage: pd.DataFrame | None) -> pd.DataFrame:
    """Per pod (POD_USAGE_COLUMNS), for the pods table's progress columns: the summed usage of its
    containers against the summed requests and limits of the containers that run (app containers and
    sidecars; finished init containers use nothing). A request nobody set counts as 0 (as the scheduler
    counts it) but a pod where all are unset has NaN; one container without a limit makes the pod's limit
    unbounded, so NaN. `usage` None (no usage source works): requests and limits with NaN usage."""
    if usage is None:
        usage = _usage_frame(pd.DataFrame(columns=USAGE_COLUMNS))
    per_container = usage_against_resources(container_resources_frame(pods), usage)
    grouped = per_container.groupby(["namespace", "pod"], sort=False)
    frame = grouped[["cpu_cores", "memory_bytes", "cpu_request", "memory_request"]].sum(min_count=1)
    sizes = grouped.size()
    for limit in ("cpu_limit", "memory_limit"):
        every_container_bounded = grouped[limit].count() == sizes
        frame[limit] = grouped[limit].sum(min_count=1).where(every_container_bounded)
    frame = frame.reset_index()
    frame["cpu_request_pct"] = _pct(frame["cpu_cores"], frame["cpu_request"])
    frame["cpu_limit_pct"] = _pct(frame["cpu_cores"], frame["cpu_limit"])
    frame["memory_request_pct"] = _pct(frame["memory_bytes"], frame["memory_request"])
    frame["memory_limit_pct"] = _pct(frame["memory_bytes"], frame["memory_limit"])
    return frame.reindex(columns=POD_USAGE_COLUMNS)
