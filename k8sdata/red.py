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
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import pandas as pd

from k8sdata.conventions import Convention
from k8sdata.prom import PromClient
from k8sdata.queries import REQUEST_LATENCY_QUANTILE, REQUESTS_BY_STATUS, seconds_duration

RED_COLUMNS = ["namespace", "workload", "pod", "convention", "rps", "error_ratio", "error_ratio_5xx",
               "error_ratio_4xx", "p50_seconds", "p95_seconds", "p99_seconds"]
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
_NUMBERS = frozenset({"value", "rps", *HISTORY_METRICS})


def _with_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add missing columns: labels as "" (a label the series lack), numbers as NaN."""
    for column in columns:
        if column not in frame.columns:
            frame[column] = math.nan if column in _NUMBERS else ""
    return frame


def _rename(frame: pd.DataFrame, convention: Convention, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """The convention's label columns under KAMS' names (namespace, workload, pod, code, ...)."""
    names = {convention.namespace_label: "namespace", convention.workload_label: "workload"}
    if convention.pod_label:
        names[convention.pod_label] = "pod"
    names.update(extra or {})
    frame = _with_columns(frame.copy(), list(names))
    return frame.rename(columns=names)


def _classify(rates: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rates by status code -> per key: rps, 5xx and 4xx ratios (error_ratio = the 5xx ratio)."""
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


def red_summary(prom: PromClient, conventions: Sequence[Convention], *, level: Level = "workload",
                namespace: str = "", window: str = "5m", at: datetime | None = None) -> pd.DataFrame:
    """One row per (convention, namespace, workload[, pod]); pod is "" at workload level (and for
    conventions without a pod label). 1 + 3 instant queries per convention (only the first when the
    convention has no histogram or no requests in the selection)."""
    if level not in ("workload", "pod"):
        raise ValueError(f"level must be 'workload' or 'pod', not {level!r}")
    keys = _key_columns(level)
    frames = []
    for convention in conventions:
        group = convention.group_labels(level)
        rates = prom.instant(REQUESTS_BY_STATUS.render(
            convention, by=[*group, convention.status_label], namespace=namespace, window=window), at)
        if rates.empty:
            continue  # nothing in this selection: no quantiles to ask for
        rates = _with_columns(_rename(rates, convention, {convention.status_label: "code"}), [*keys, "code"])
        summary = _classify(rates, keys)
        for column, quantile in QUANTILES.items():
            if not convention.duration_bucket:
                summary[column] = math.nan
                continue
            latency = prom.instant(REQUEST_LATENCY_QUANTILE.render(
                convention, by=group, namespace=namespace, window=window, quantile=quantile), at)
            latency = _with_columns(_rename(latency, convention), keys)[[*keys, "value"]]
            summary = summary.merge(latency.rename(columns={"value": column}), on=keys, how="outer")
        summary["convention"] = convention.name
        frames.append(summary)
    return _finish(frames, RED_COLUMNS, ["namespace", "workload", "pod", "convention"])


def _finish(frames: list[pd.DataFrame], columns: list[str], order: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    frame = _with_columns(frame, columns)
    for column in columns:
        if column in ("namespace", "workload", "pod", "convention", "path", "method", "code", "metric"):
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


def _range_rates(prom: PromClient, convention: Convention, *, by: list[str], namespace: str, workload: str,
                 start: datetime, end: datetime, step: float, window: str) -> pd.DataFrame:
    rates = prom.range(REQUESTS_BY_STATUS.render(
        convention, by=by, namespace=namespace, workload=workload, window=window), start, end, step)
    rates = _rename(rates, convention, {convention.status_label: "code", "timestamp": "time"})
    return _with_columns(rates, ["time", "namespace", "workload", "code"])


def red_history(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                workload: str = "", start: datetime, end: datetime, step: float,
                window: str | None = None) -> pd.DataFrame:
    """Long frame: time, namespace, workload, metric, value (+ convention), every HISTORY_METRICS
    metric per workload and time. One convention per workload (the first in `conventions` that has
    it). `window` is the rate window (default: the step, at least 5 minutes). 4 range queries per
    convention."""
    window = _range_window(step, window)
    keys = ["time", "namespace", "workload"]
    frames = []
    for convention in conventions:
        group = convention.group_labels("workload")
        rates = _range_rates(prom, convention, by=[*group, convention.status_label], namespace=namespace,
                             workload=workload, start=start, end=end, step=step, window=window)
        if rates.empty:
            continue
        wide = _classify(rates, keys)
        for column, quantile in QUANTILES.items():
            if not convention.duration_bucket:
                continue
            latency = prom.range(REQUEST_LATENCY_QUANTILE.render(
                convention, by=group, namespace=namespace, workload=workload, window=window,
                quantile=quantile), start, end, step)
            latency = _with_columns(_rename(latency, convention, {"timestamp": "time"}), keys)
            if latency.empty:
                # No histogram series for this selection: an empty frame's columns have no dtype, and
                # merging them with real timestamps raises, so the quantile simply stays missing.
                continue
            wide = wide.merge(latency[[*keys, "value"]].rename(columns={"value": column}), on=keys,
                              how="outer")
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
                  workload: str = "", window: str = "5m", at: datetime | None = None) -> pd.DataFrame:
    """One row per (namespace, workload, path, method, code) with its rps; error_ratio (5xx share) and
    p95_seconds are the endpoint's (path and method, all codes), repeated on each of its code rows,
    since latency histograms rarely carry the status code. "" where the convention lacks a label.
    2 instant queries per convention."""
    keys = ["namespace", "workload", "path", "method"]
    frames = []
    for convention in conventions:
        names = {convention.path_label: "path", convention.method_label: "method"}
        names.pop("", None)
        group = [*convention.group_labels("workload"), *names]
        rates = prom.instant(REQUESTS_BY_STATUS.render(
            convention, by=[*group, convention.status_label], namespace=namespace, workload=workload,
            window=window), at)
        if rates.empty:
            continue
        rates = _with_columns(_rename(rates, convention, {**names, convention.status_label: "code"}),
                              [*keys, "code"])
        endpoint = _classify(rates, keys)[[*keys, "error_ratio"]]
        rows = rates[[*keys, "code", "value"]].rename(columns={"value": "rps"}).merge(endpoint, on=keys,
                                                                                       how="left")
        if convention.duration_bucket:
            latency = prom.instant(REQUEST_LATENCY_QUANTILE.render(
                convention, by=group, namespace=namespace, workload=workload, window=window,
                quantile=0.95), at)
            latency = _with_columns(_rename(latency, convention, names), keys)[[*keys, "value"]]
            rows = rows.merge(latency.rename(columns={"value": "p95_seconds"}), on=keys, how="left")
        rows["convention"] = convention.name
        frames.append(rows)
    return _finish(frames, BREAKDOWN_COLUMNS,
                   ["namespace", "workload", "path", "method", "code", "convention"])


def request_volume(prom: PromClient, conventions: Sequence[Convention], *, namespace: str = "",
                   workload: str = "", start: datetime, end: datetime, step: float,
                   window: str | None = None) -> pd.DataFrame:
    """time, rps: the selection's total requests per second. Each workload counts once, from the first
    convention that has it (as in red_history). 1 range query per convention."""
    window = _range_window(step, window)
    frames = []
    for convention in conventions:
        rates = _range_rates(prom, convention, by=convention.group_labels("workload"), namespace=namespace,
                             workload=workload, start=start, end=end, step=step, window=window)
        frames.append(rates[["time", "namespace", "workload", "value"]].assign(convention=convention.name))
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "rps": pd.Series(dtype="float64")})
    kept = _one_convention_per_workload(pd.concat(frames, ignore_index=True), conventions)
    volume = kept.groupby("time", sort=True)["value"].sum().rename("rps").reset_index()
    volume["time"] = pd.to_datetime(volume["time"], utc=True)
    volume["rps"] = volume["rps"].astype("float64")
    return volume[VOLUME_COLUMNS]
