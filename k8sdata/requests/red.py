"""Rate, errors and duration (RED) of each application and pod, from any request-metric convention.

Every function sends a fixed number of queries per convention (never one per workload or pod): one
for the request rate by status code, which gives the rate, the 5xx and the 4xx rates at once, and one
per latency quantile. Results are in requests per second and seconds, whatever the convention's unit.

error_ratio is the share of requests answered with a 5xx (the server failed); error_ratio_4xx is the
share the client got wrong, reported apart. Both are NaN when there were no requests (no ratio, not
zero). Quantiles are NaN when the convention has no histogram or nothing was observed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from k8sdata.pods.owners import OwnerLookup, name_workload
from k8sdata.requests.conventions import Convention
from k8sdata.requests.histogram import bucket_quantile
from k8sdata.requests.queries import (
    REQUEST_BUCKETS,
    REQUEST_LATENCY_QUANTILE,
    REQUESTS_BY_STATUS,
    RESOLVED,
    UNRESOLVED,
    WORKLOAD_SOURCE_LABEL,
    Part,
    RequestQuery,
    seconds_duration,
)
from k8sdata.sources.prom import PromClient

#: workload_source last, so the columns before it keep their places in CSV files made before it was added.
RED_COLUMNS = ["namespace", "workload", "pod", "convention", "rps", "error_ratio", "error_ratio_5xx",
               "error_ratio_4xx", "p50_seconds", "p95_seconds", "p99_seconds", "workload_source"]
HISTORY_COLUMNS = ["time", "namespace", "workload", "metric", "value", "convention"]
HISTORY_METRICS = ("rps", "error_ratio", "error_ratio_5xx", "error_ratio_4xx", "p50_seconds", "p95_seconds",
                   "p99_seconds")
BREAKDOWN_COLUMNS = ["namespace", "workload", "path", "method", "code", "rps", "error_ratio", "p95_seconds",
                     "convention"]
VOLUME_COLUMNS = ["time", "rps"]
QUANTILES: dict[str, float] = {"p50_seconds": 0.5, "p95_seconds": 0.95, "p99_seconds": 0.99}
#: A range query's rate window is at least this long, so scrape jitter and sparse samples cannot make
#: a rate vanish; longer steps use the step itself, so no request falls between two points.
MIN_RANGE_WINDOW_SECONDS = 300.0

Level = Literal["workload", "pod"]
_NUMBERS = frozenset({"value", "rps", "le", *HISTORY_METRICS})
_LABEL_COLUMNS = ("namespace", "workload", "workload_source", "pod", "convention", "path", "method", "code",
                  "metric")


def _with_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add missing columns: labels as "" (a label the series lack), numbers as NaN."""
    for column in columns:
        if column not in frame.columns:
            frame[column] = math.nan if column in _NUMBERS else ""
    return frame


def _classify(rates: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rates by status code -> per key: rps, 5xx and 4xx ratios (error_ratio = the 5xx ratio). A status
    class ("5xx", as prometheus-fastapi-instrumentator groups codes) counts as its codes do."""
    if rates.empty:
        return pd.DataFrame(columns=[*keys, "rps", "error_ratio", "error_ratio_5xx", "error_ratio_4xx"])
    code = rates["code"].fillna("").astype(str)
    rates = rates.assign(r5=rates["value"].where(code.str.startswith("5"), 0.0),
                         r4=rates["value"].where(code.str.startswith("4"), 0.0))
    grouped = rates.groupby(keys, sort=True, dropna=False)[["value", "r5", "r4"]].sum().reset_index()
    total = grouped["value"]
    with_traffic = total > 0
    grouped["error_ratio_5xx"] = (grouped["r5"] / total).where(with_traffic)
    grouped["error_ratio_4xx"] = (grouped["r4"] / total).where(with_traffic)
    grouped["error_ratio"] = grouped["error_ratio_5xx"]
    return grouped.rename(columns={"value": "rps"}).drop(columns=["r5", "r4"])


def _key_columns(level: Level) -> list[str]:
    return ["namespace", "workload", "pod"] if level == "pod" else ["namespace", "workload"]


# -- asking Prometheus, and naming the workloads it could not ---------------------------------------


@dataclass(frozen=True)
class _When:
    """An instant (`at`, None = now) or a range (start, end, step)."""

    at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    step: float = 0.0

    @property
    def is_range(self) -> bool:
        return self.start is not None


def _label_names(convention: Convention) -> dict[str, str]:
    """KAMS' column -> the convention's label ("" where it has none)."""
    return {"namespace": convention.namespace_label, "workload": convention.workload_label,
            "pod": convention.pod_label, "code": convention.status_label, "path": convention.path_label,
            "method": convention.method_label, "workload_source": WORKLOAD_SOURCE_LABEL}


def _fetch(prom: PromClient, query: RequestQuery, convention: Convention, keys: Sequence[str], *,
           namespace: str, workload: str, window: str, when: _When, quantile: float = 0.95,
           parts: Sequence[Part] = (RESOLVED, UNRESOLVED)) -> pd.DataFrame:
    """ONE query: `query` by the KAMS columns `keys` over the convention's series. The resolved part is
    grouped by `keys` and the workload's source; the unresolved part (series whose workload PromQL cannot
    name) by its pod in place of the workload. Columns: keys, workload_source, pod, le (bucket queries),
    time (ranges), value."""
    names = _label_names(convention)
    resolved_by = [names[key] for key in keys if names[key]] + [WORKLOAD_SOURCE_LABEL]
    unresolved_keys = [key for key in keys if key != "workload"]
    if "pod" not in unresolved_keys:
        unresolved_keys.insert(1, "pod")
    unresolved_by = [names[key] for key in unresolved_keys if names[key]]
    common = {"namespace": namespace, "workload": workload, "window": window, "quantile": quantile}
    expressions = [query.render(convention, by=resolved_by if part == RESOLVED else unresolved_by, part=part,
                                with_source=part == RESOLVED, **common)  # type: ignore[arg-type]
                   for part in parts]
    expressions = [f"({expression})" for expression in expressions if expression]
    extra = [*(["le"] if query is REQUEST_BUCKETS else []), *(["time"] if when.is_range else [])]
    columns = list(dict.fromkeys([*keys, "workload_source", "pod", *extra, "value"]))
    if not expressions:
        return pd.DataFrame(columns=columns)
    expression = " or ".join(expressions)
    if when.is_range:
        assert when.start is not None and when.end is not None
        frame = prom.range(expression, when.start, when.end, when.step)
    else:
        frame = prom.instant(expression, when.at)
    renamed = {label: column for column, label in names.items() if label}
    frame = _with_columns(frame.rename(columns={**renamed, "timestamp": "time"}), columns)[columns]
    if "le" in frame.columns:
        frame["le"] = pd.to_numeric(frame["le"], errors="coerce")
    return frame


class _Namer:
    """Names the workloads of pods PromQL could not name (k8sdata.pods.owners), asking the Kubernetes API
    at most once per batch of pods it has not seen, so one view lists pods at most once or twice."""

    def __init__(self, lookup: OwnerLookup | None) -> None:
        self._lookup = lookup
        self._known: dict[tuple[str, str], str] = {}
        self._asked: set[tuple[str, str]] = set()

    def name(self, frame: pd.DataFrame, *, workload: str = "") -> pd.DataFrame:
        """`frame` with the workload and its source filled in on rows without a source but with a pod;
        with `workload` selected, rows that turn out to be another workload's are dropped."""
        unnamed = (frame["workload_source"] == "") & (frame["pod"] != "")
        if not unnamed.any():
            return frame
        pods = list(zip(frame.loc[unnamed, "namespace"], frame.loc[unnamed, "pod"], strict=True))
        keys = list(dict.fromkeys(pods))
        new = [key for key in keys if key not in self._asked]
        if new and self._lookup is not None:
            self._known.update(self._lookup(new))
        self._asked.update(new)
        named = {key: name_workload(*key, self._known) for key in keys}
        frame = frame.copy()
        pairs = [named[key] for key in pods]
        frame.loc[unnamed, "workload"] = [workload_name for workload_name, _ in pairs]
        frame.loc[unnamed, "workload_source"] = [source for _, source in pairs]
        if workload:
            frame = frame[frame["workload"] == workload]
        return frame


def _python_named(frame: pd.DataFrame) -> bool:
    """Whether any row still awaits a name from _Namer (no source, a pod)."""
    return bool(((frame["workload_source"] == "") & (frame["pod"] != "")).any())


def _group(keys: Sequence[str], when: _When) -> list[str]:
    """What a frame of `keys` is grouped by: its time too for a range, and the workload's source."""
    return [*(["time"] if when.is_range else []), *keys, "workload_source"]


def _sum_by(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    return frame.groupby(list(keys), sort=False, dropna=False)["value"].sum().reset_index()


def _quantiles_from_buckets(buckets: pd.DataFrame, keys: Sequence[str], convention: Convention,
                            quantiles: Mapping[str, float]) -> pd.DataFrame:
    """Per `keys`: each quantile (column -> q) of the buckets added up, in seconds."""
    columns = [*keys, *quantiles]
    if buckets.empty:
        return pd.DataFrame(columns=columns)
    summed = buckets.groupby([*keys, "le"], sort=False, dropna=False)["value"].sum().reset_index()
    rows = []
    for group, part in summed.groupby(list(keys), sort=False, dropna=False):
        pairs = list(zip(part["le"], part["value"], strict=True))
        values = [bucket_quantile(q, pairs) * convention.seconds_per_unit for q in quantiles.values()]
        rows.append([*(group if isinstance(group, tuple) else (group,)), *values])
    return pd.DataFrame(rows, columns=columns)


def _latency(prom: PromClient, convention: Convention, keys: list[str], namer: _Namer, *, namespace: str,
             workload: str, window: str, when: _When, quantiles: Mapping[str, float],
             unresolved: bool) -> pd.DataFrame | None:
    """Per keys + workload_source: the quantiles (column -> q) in seconds. PromQL takes them where it
    names the workload (or the pod is a key); the buckets of pods named in Python are added up per
    workload here, in one more query, when `unresolved` says there are such pods. None without a
    histogram. len(quantiles) (+1) queries."""
    if not convention.duration_bucket:
        return None
    group = _group(keys, when)
    per_pod = "pod" in keys
    found: pd.DataFrame | None = None
    for column, quantile in quantiles.items():
        latency = _fetch(prom, REQUEST_LATENCY_QUANTILE, convention, keys, namespace=namespace,
                         workload=workload, window=window, when=when, quantile=quantile,
                         parts=(RESOLVED, UNRESOLVED) if per_pod else (RESOLVED,))
        latency = namer.name(latency, workload=workload)[[*group, "value"]].rename(columns={"value": column})
        latency = latency.drop_duplicates(group)
        found = latency if found is None else found.merge(latency, on=group, how="outer")
    assert found is not None
    if unresolved and not per_pod:
        buckets = _fetch(prom, REQUEST_BUCKETS, convention, keys, namespace=namespace, workload=workload,
                         window=window, when=when, parts=(UNRESOLVED,))
        named = _quantiles_from_buckets(namer.name(buckets, workload=workload), group, convention, quantiles)
        found = pd.concat([frame for frame in (found, named) if not frame.empty], ignore_index=True) \
            if not named.empty else found
    return found


def _rates(prom: PromClient, convention: Convention, keys: list[str], namer: _Namer, *, namespace: str,
           workload: str, window: str, when: _When) -> tuple[pd.DataFrame, bool]:
    """Rates by status code per keys + workload_source, and whether some pods were named in Python.
    One query."""
    rates = _fetch(prom, REQUESTS_BY_STATUS, convention, [*keys, "code"], namespace=namespace,
                   workload=workload, window=window, when=when)
    unresolved = _python_named(rates)
    rates = namer.name(rates, workload=workload)
    if unresolved and "pod" not in keys:
        rates = _sum_by(rates, [*_group(keys, when), "code"])
    return rates, unresolved


def red_summary(prom: PromClient, conventions: Sequence[Convention], *, level: Level = "workload",
                namespace: str = "", window: str = "5m", at: datetime | None = None,
                owners: OwnerLookup | None = None) -> pd.DataFrame:
    """One row per (convention, namespace, workload[, pod]); pod is "" at workload level (and for
    conventions without a pod label). workload_source says where the workload's name came from
    ("label <name>", "kube-state-metrics", "owner references", "pod name (guess)"; "" when nothing named
    it: the workload is then "" and the pod rows still appear). `owners` asks the Kubernetes API.
    1 + 3 instant queries per convention, one more at workload level when pods are named outside PromQL
    (only the first when the convention has no histogram or no requests in the selection)."""
    if level not in ("workload", "pod"):
        raise ValueError(f"level must be 'workload' or 'pod', not {level!r}")
    keys = _key_columns(level)
    group = [*keys, "workload_source"]
    namer = _Namer(owners)
    when = _When(at=at)
    frames = []
    for convention in conventions:
        rates, unresolved = _rates(prom, convention, keys, namer, namespace=namespace, workload="",
                                   window=window, when=when)
        if rates.empty:
            continue  # nothing in this selection: no quantiles to ask for
        summary = _classify(rates, group)
        latency = _latency(prom, convention, keys, namer, namespace=namespace, workload="", window=window,
                           when=when, quantiles=QUANTILES, unresolved=unresolved)
        if latency is not None:
            summary = summary.merge(latency, on=group, how="left")
        summary["convention"] = convention.name
        frames.append(summary)
    return _finish(frames, RED_COLUMNS, ["namespace", "workload", "pod", "convention"])


def _finish(frames: list[pd.DataFrame], columns: list[str], order: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    frame = _with_columns(frame, columns)
    for column in columns:
        if column in _LABEL_COLUMNS:
            frame[column] = frame[column].fillna("").astype(str)
        elif column != "time":
            frame[column] = frame[column].astype("float64")
    frame = frame[columns]
    return frame.sort_values([c for c in order if c in columns], kind="stable").reset_index(drop=True)


def _range_window(step: float, window: str | None) -> str:
    return window or seconds_duration(max(step, MIN_RANGE_WINDOW_SECONDS))


def _one_convention_per_workload(frame: pd.DataFrame, conventions: Sequence[Convention]) -> pd.DataFrame:
    """Where a workload shows up in several conventions, keep the first (the most direct source), so a
    request counted by the app and by its ingress is not counted twice."""
    if frame.empty:
        return frame
    rank = {convention.name: index for index, convention in enumerate(conventions)}
    best = (frame.assign(_rank=frame["convention"].map(rank))
            .groupby(["namespace", "workload"])["_rank"].min().rename("_best").reset_index())
    kept = frame.assign(_rank=frame["convention"].map(rank)).merge(best, on=["namespace", "workload"])
    return kept[kept["_rank"] == kept["_best"]].drop(columns=["_rank", "_best"])


def red_history(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                workload: str = "", start: datetime, end: datetime, step: float,
                window: str | None = None, owners: OwnerLookup | None = None) -> pd.DataFrame:
    """Long frame: time, namespace, workload, metric, value (+ convention), every HISTORY_METRICS
    metric per workload and time. One convention per workload (the first in `conventions` that has
    it). `window` is the rate window (default: the step, at least 5 minutes). 4 range queries per
    convention (5 when pods are named outside PromQL)."""
    when = _When(start=start, end=end, step=step)
    window = _range_window(step, window)
    keys = ["time", "namespace", "workload"]
    namer = _Namer(owners)
    frames = []
    for convention in conventions:
        rates, unresolved = _rates(prom, convention, ["namespace", "workload"], namer, namespace=namespace,
                                   workload=workload, window=window, when=when)
        if rates.empty:
            continue
        wide = _classify(rates, keys)
        latency = _latency(prom, convention, ["namespace", "workload"], namer, namespace=namespace,
                           workload=workload, window=window, when=when, quantiles=QUANTILES,
                           unresolved=unresolved)
        if latency is not None and not latency.empty:
            # An empty frame's columns have no dtype, and merging them with real timestamps raises, so a
            # selection without histogram series simply keeps its quantiles missing.
            latency = latency.groupby(keys, sort=False)[list(QUANTILES)].first().reset_index()
            wide = wide.merge(latency, on=keys, how="left")
        wide = _with_columns(wide, list(HISTORY_METRICS))
        long = wide.melt(id_vars=keys, value_vars=list(HISTORY_METRICS), var_name="metric",
                         value_name="value")
        long["convention"] = convention.name
        frames.append(long.dropna(subset=["value"]))
    frames = [_one_convention_per_workload(pd.concat(frames, ignore_index=True), conventions)] if any(
        not frame.empty for frame in frames) else []
    history = _finish(frames, HISTORY_COLUMNS, ["namespace", "workload", "metric", "time"])
    history["time"] = pd.to_datetime(history["time"], utc=True)
    return history


def red_breakdown(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                  workload: str = "", window: str = "5m", at: datetime | None = None,
                  owners: OwnerLookup | None = None) -> pd.DataFrame:
    """One row per (namespace, workload, path, method, code) with its rps; error_ratio (5xx share) and
    p95_seconds are the endpoint's (path and method, all codes), repeated on each of its code rows,
    since latency histograms rarely carry the status code. "" where the convention lacks a label.
    2 instant queries per convention (3 when pods are named outside PromQL)."""
    keys = ["namespace", "workload", "path", "method"]
    when = _When(at=at)
    namer = _Namer(owners)
    frames = []
    for convention in conventions:
        rates, unresolved = _rates(prom, convention, keys, namer, namespace=namespace, workload=workload,
                                   window=window, when=when)
        if rates.empty:
            continue
        rates = _sum_by(rates, [*keys, "code"])
        endpoint = _classify(rates, keys)[[*keys, "error_ratio"]]
        rows = rates[[*keys, "code", "value"]].rename(columns={"value": "rps"}).merge(endpoint, on=keys,
                                                                                       how="left")
        latency = _latency(prom, convention, keys, namer, namespace=namespace, workload=workload,
                           window=window, when=when, quantiles={"p95_seconds": 0.95}, unresolved=unresolved)
        if latency is not None:
            latency = latency.groupby(keys, sort=False)["p95_seconds"].first().reset_index()
            rows = rows.merge(latency, on=keys, how="left")
        rows["convention"] = convention.name
        frames.append(rows)
    return _finish(frames, BREAKDOWN_COLUMNS,
                   ["namespace", "workload", "path", "method", "code", "convention"])


def workload_rates(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                   workload: str = "", start: datetime, end: datetime, step: float, window: str | None = None,
                   owners: OwnerLookup | None = None) -> pd.DataFrame:
    """time, namespace, workload, convention, rps: each workload's requests per second, from the first
    convention that has it (as in red_history). 1 range query per convention."""
    when = _When(start=start, end=end, step=step)
    window = _range_window(step, window)
    namer = _Namer(owners)
    frames = []
    for convention in conventions:
        rates = _fetch(prom, REQUESTS_BY_STATUS, convention, ["namespace", "workload"], namespace=namespace,
                       workload=workload, window=window, when=when)
        rates = namer.name(rates, workload=workload)
        frames.append(rates[["time", "namespace", "workload", "value"]].assign(convention=convention.name))
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        labels = {column: pd.Series(dtype=str) for column in ("namespace", "workload", "convention")}
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), **labels,
                             "rps": pd.Series(dtype="float64")})
    kept = _one_convention_per_workload(pd.concat(frames, ignore_index=True), conventions)
    rates = (kept.groupby(["time", "namespace", "workload", "convention"], sort=True)["value"].sum()
             .rename("rps").reset_index())
    rates["time"] = pd.to_datetime(rates["time"], utc=True)
    rates["rps"] = rates["rps"].astype("float64")
    return rates


def request_volume(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                   workload: str = "", start: datetime, end: datetime, step: float,
                   window: str | None = None, owners: OwnerLookup | None = None) -> pd.DataFrame:
    """time, rps: the selection's total requests per second. Each workload counts once, from the first
    convention that has it (as in red_history). 1 range query per convention."""
    rates = workload_rates(prom, conventions, namespace=namespace, workload=workload, start=start, end=end,
                           step=step, window=window, owners=owners)
    volume = rates.groupby("time", sort=True)["rps"].sum().reset_index()
    volume["time"] = pd.to_datetime(volume["time"], utc=True)
    volume["rps"] = volume["rps"].astype("float64")
    return volume[VOLUME_COLUMNS]


def one_convention_per_workload(summary: pd.DataFrame, conventions: Sequence[Convention]) -> pd.DataFrame:
    """red_summary's rows of each workload's most direct convention (the first in `conventions`)."""
    return _one_convention_per_workload(summary, conventions).reset_index(drop=True)
