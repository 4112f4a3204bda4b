"""One pod's history from Prometheus, for the pod detail charts.

`pod_history` sends a fixed number of range queries (five) for a pod, whatever its number of
containers: every query is filtered to the pod and aggregated by container (or by direction for the
network), never one query per container. Each panel is independent: a query that fails leaves its
`SourceError` in its field and the other charts still draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import pandas as pd

from k8sdata.errors import SourceError
from k8sdata.requests.queries import (
    CONTAINER_CPU,
    CONTAINER_MEMORY,
    CONTAINER_RESOURCES,
    CONTAINER_RESTARTS,
    POD_NETWORK,
    seconds_duration,
)
from k8sdata.sources.protocols import RangeSource

#: The rate window is at least this long, so that a scrape interval of up to 60 s still gives two samples.
MIN_RATE_WINDOW_SECONDS = 120.0

CPU_COLUMNS = ["timestamp", "container", "cores"]
MEMORY_COLUMNS = ["timestamp", "container", "bytes"]
NETWORK_COLUMNS = ["timestamp", "direction", "bytes_per_second"]
RESTART_COLUMNS = ["timestamp", "container", "count"]
CPU_AMOUNT_COLUMNS = ["container", "cores"]
MEMORY_AMOUNT_COLUMNS = ["container", "bytes"]

Panel: TypeAlias = pd.DataFrame | SourceError



@dataclass(frozen=True)
class PodHistory:
    """Each field is a DataFrame, or the SourceError that prevented it.

    cpu: timestamp, container, cores. memory: timestamp, container, bytes (working set).
    cpu_request / cpu_limit: container, cores (latest value in the range; containers without one are absent).
    memory_request / memory_limit: container, bytes.
    network: timestamp, direction ("receive" | "transmit"), bytes_per_second.
    restarts: timestamp, container, count (the restart counter, as kubectl's RESTARTS).
    Timestamps are UTC datetimes.
    """

    cpu: Panel
    memory: Panel
    cpu_request: Panel
    cpu_limit: Panel
    memory_request: Panel
    memory_limit: Panel
    network: Panel
    restarts: Panel

    @property
    def errors(self) -> list[SourceError]:
        """Distinct failures (the four resource fields share one query, hence one error)."""
        seen: list[SourceError] = []
        for value in vars(self).values():
            if isinstance(value, SourceError) and all(value is not other for other in seen):
                seen.append(value)
        return seen


#: The number of range queries pod_history sends (the contract allows at most 6).
QUERIES_PER_POD = 5


def history_step(start: datetime, end: datetime, points: int = 240) -> float:
    """A step (seconds, at least 15) that gives about `points` samples between start and end."""
    return max(15.0, round((end - start).total_seconds() / points))


def rate_window(step: float) -> str:
    """Rate window for a range query: two steps, so consecutive points overlap and no sample is skipped."""
    return seconds_duration(max(2 * step, MIN_RATE_WINDOW_SECONDS))


def _series(frame: pd.DataFrame, label: str, value: str, columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return _empty(columns, value)
    out = frame.rename(columns={"value": value})
    if label not in out.columns:
        out[label] = ""
    return out[columns].sort_values(["timestamp", label], kind="stable").reset_index(drop=True)


def _empty(columns: list[str], value: str) -> pd.DataFrame:
    dtypes = {"timestamp": "datetime64[ns, UTC]", value: "float64"}
    return pd.DataFrame({name: pd.Series(dtype=dtypes.get(name, "object")) for name in columns})


def _latest_amount(frame: pd.DataFrame, resource: str, kind: str, value: str) -> pd.DataFrame:
    columns = ["container", value]
    if frame.empty or "resource" not in frame.columns:
        return _empty(columns, value)
    chosen = frame[(frame["resource"] == resource) & (frame["kind"] == kind)]
    latest = chosen.sort_values("timestamp", kind="stable").groupby("container", as_index=False).last()
    return latest.rename(columns={"value": value})[columns].sort_values("container").reset_index(drop=True)


def _guarded(prom: RangeSource, query: str, start: datetime, end: datetime, step: float) -> Panel:
    try:
        return prom.range(query, start, end, step)
    except SourceError as error:
        return error


def pod_history(prom: RangeSource, namespace: str, pod: str, start: datetime, end: datetime,
                step: float) -> PodHistory:
    """CPU, memory, requests/limits, network and restarts of one pod between start and end.

    Five range queries (QUERIES_PER_POD), each filtered to the pod with escaped label values.
    """
    params = {"namespace": namespace, "pod": pod}
    window = rate_window(step)
    cpu = _guarded(prom, CONTAINER_CPU.render(**params, window=window), start, end, step)
    memory = _guarded(prom, CONTAINER_MEMORY.render(**params), start, end, step)
    resources = _guarded(prom, CONTAINER_RESOURCES.render(**params), start, end, step)
    network = _guarded(prom, POD_NETWORK.render(**params, window=window), start, end, step)
    restarts = _guarded(prom, CONTAINER_RESTARTS.render(**params), start, end, step)

    def amount(resource: str, kind: str, value: str) -> Panel:
        if isinstance(resources, SourceError):
            return resources
        return _latest_amount(resources, resource, kind, value)

    def series(panel: Panel, label: str, value: str, columns: list[str]) -> Panel:
        return panel if isinstance(panel, SourceError) else _series(panel, label, value, columns)

    return PodHistory(
        cpu=series(cpu, "container", "cores", CPU_COLUMNS),
        memory=series(memory, "container", "bytes", MEMORY_COLUMNS),
        cpu_request=amount("cpu", "request", "cores"),
        cpu_limit=amount("cpu", "limit", "cores"),
        memory_request=amount("memory", "request", "bytes"),
        memory_limit=amount("memory", "limit", "bytes"),
        network=series(network, "direction", "bytes_per_second", NETWORK_COLUMNS),
        restarts=series(restarts, "container", "count", RESTART_COLUMNS),
    )
