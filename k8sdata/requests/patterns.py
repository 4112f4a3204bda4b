"""Traffic patterns from request volume: when in the week the load comes, how this period compares
with the same period last week, and which endpoints are busiest or slowest.

Pure: every function takes DataFrames (from k8sdata.requests.red) and returns DataFrames; no I/O. Times are
tz-aware UTC (naive times are taken as UTC), and hours of the week are UTC hours, like the rest of
KAMS, so that a heatmap means the same thing to everyone who opens it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pandas as pd

HEATMAP_COLUMNS = ["weekday", "weekday_name", "hour", "requests", "is_peak"]
PEAK_COLUMNS = ["weekday_name", "hour", "requests"]
COMPARISON_COLUMNS = ["time", "current", "previous", "change_ratio"]
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Share of the observed hours of the week marked as peaks (at least one hour is always marked).
PEAK_SHARE = 0.1
#: Columns identifying an endpoint in red_breakdown's rows.
ENDPOINT_KEYS = ["namespace", "workload", "path", "method"]


def utc_times(times: pd.Series) -> pd.Series:
    """Times as tz-aware UTC, whatever form they came in (naive times are UTC by convention)."""
    converted = pd.to_datetime(times)
    if converted.dt.tz is None:
        return converted.dt.tz_localize("UTC")
    return converted.dt.tz_convert("UTC")


def _volume(frame: pd.DataFrame) -> pd.DataFrame:
    """time, rps with UTC times, finite non-negative rates only, sorted by time."""
    if frame.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "rps": pd.Series(dtype=float)})
    volume = pd.DataFrame({"time": utc_times(frame["time"]),
                           "rps": pd.to_numeric(frame["rps"], errors="coerce")})
    volume = volume[volume["rps"].notna() & (volume["rps"] >= 0) & (volume["rps"] != float("inf"))]
    return volume.sort_values("time", kind="stable").reset_index(drop=True)


def weekly_heatmap(volume: pd.DataFrame, *, peak_share: float = PEAK_SHARE) -> pd.DataFrame:
    """Mean requests per second for each (day of week, UTC hour) that has data, busiest hours marked.

    `volume` is request_volume's frame (time, rps). Each sample counts once, so an hour of the week
    seen on two different weeks is the mean over both. `is_peak` marks the top `peak_share` of the
    observed hours (at least one), and only hours with traffic.
    """
    data = _volume(volume)
    if data.empty:
        return pd.DataFrame({"weekday": pd.Series(dtype=int), "weekday_name": pd.Series(dtype=str),
                             "hour": pd.Series(dtype=int), "requests": pd.Series(dtype=float),
                             "is_peak": pd.Series(dtype=bool)})
    data["weekday"] = data["time"].dt.day_of_week
    data["hour"] = data["time"].dt.hour
    cells = (data.groupby(["weekday", "hour"], as_index=False)["rps"].mean()
             .rename(columns={"rps": "requests"}))
    cells["weekday_name"] = cells["weekday"].map(lambda day: WEEKDAY_NAMES[int(day)])
    peaks = max(1, round(len(cells) * peak_share))
    threshold = cells["requests"].nlargest(peaks).min()
    cells["is_peak"] = (cells["requests"] >= threshold) & (cells["requests"] > 0)
    cells = cells.astype({"weekday": int, "hour": int, "requests": float, "is_peak": bool})
    return cells[HEATMAP_COLUMNS].sort_values(["weekday", "hour"]).reset_index(drop=True)


def peak_hours(heatmap: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """The `top` busiest hours of the week from weekly_heatmap, busiest first (ties: earlier first)."""
    if heatmap.empty or top <= 0:
        return pd.DataFrame({"weekday_name": pd.Series(dtype=str), "hour": pd.Series(dtype=int),
                             "requests": pd.Series(dtype=float)})
    ordered = heatmap.sort_values(["requests", "weekday", "hour"], ascending=[False, True, True],
                                  kind="stable")
    return ordered.head(top)[PEAK_COLUMNS].reset_index(drop=True)


def period_comparison(current: pd.DataFrame, previous: pd.DataFrame, *,
                      shift: timedelta = timedelta(days=7), tolerance: timedelta | None = None
                      ) -> pd.DataFrame:
    """This period against the same period `shift` earlier, sample by sample.

    `current` and `previous` are request_volume frames (time, rps); `previous` covers the earlier
    period and is moved forward by `shift` to line up with `current`. Each current sample gets the
    nearest shifted sample within `tolerance` (default: half the current step); none gives NaN.
    change_ratio = (current - previous) / previous: +0.25 is a quarter more than last week, -0.5 half
    as much; NaN when there is nothing to compare with (no sample, or no traffic last week).
    """
    now = _volume(current)
    before = _volume(previous)
    if now.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "current": pd.Series(dtype=float), "previous": pd.Series(dtype=float),
                             "change_ratio": pd.Series(dtype=float)})
    if tolerance is None:
        steps = now["time"].diff().dropna()
        tolerance = steps.median() / 2 if not steps.empty else timedelta(minutes=1)
    before = before.assign(time=before["time"] + pd.Timedelta(shift)).rename(columns={"rps": "previous"})
    # merge_asof needs both keys in the same resolution
    before["time"] = before["time"].astype(now["time"].dtype)
    merged = pd.merge_asof(now.rename(columns={"rps": "current"}), before, on="time", direction="nearest",
                           tolerance=pd.Timedelta(tolerance))
    previous_values = merged["previous"].where(merged["previous"] > 0)
    merged["change_ratio"] = (merged["current"] - previous_values) / previous_values
    return merged[COMPARISON_COLUMNS].astype({"current": float, "previous": float, "change_ratio": float})


def top_endpoints(breakdown: pd.DataFrame, *, by: Literal["rps", "p95_seconds"] = "rps", n: int = 10
                  ) -> pd.DataFrame:
    """The `n` busiest (by="rps") or slowest (by="p95_seconds") endpoints of red_breakdown's rows.

    An endpoint is (namespace, workload, path, method). red_breakdown has one row per status code as
    well; those rows are folded into one per endpoint, so an endpoint whose requests split over 200
    and 500 is not ranked as two half-busy ones: rps is summed, error_ratio is weighted by rps, p95
    is the highest of the rows (they come from the same histogram when the code is not one of its
    labels), and code lists the codes seen ("200,500"). Rows without a value for `by` go last.
    """
    if by not in ("rps", "p95_seconds"):
        raise ValueError(f"by must be 'rps' or 'p95_seconds', not {by!r}")
    if breakdown.empty:
        return breakdown.head(0).copy()
    rows = breakdown.copy()
    for column in ("rps", "error_ratio", "p95_seconds"):
        if column in rows:
            rows[column] = pd.to_numeric(rows[column], errors="coerce")
    keys = [key for key in ENDPOINT_KEYS if key in rows]
    rows[keys] = rows[keys].fillna("")
    rows["_errors"] = rows["rps"] * rows["error_ratio"] if "error_ratio" in rows else float("nan")
    aggregations: dict[str, tuple[str, object]] = {"rps": ("rps", "sum"), "_errors": ("_errors", "sum"),
                                                   "_errors_known": ("_errors", "count")}
    if "p95_seconds" in rows:
        aggregations["p95_seconds"] = ("p95_seconds", "max")
    if "code" in rows:
        aggregations["code"] = ("code", _join_codes)
    endpoints = rows.groupby(keys, as_index=False, sort=False).agg(**aggregations)
    if "error_ratio" in rows:
        ratio = endpoints["_errors"] / endpoints["rps"].where(endpoints["rps"] > 0)
        endpoints["error_ratio"] = ratio.where(endpoints["_errors_known"] > 0)
    endpoints = endpoints.drop(columns=["_errors", "_errors_known"])
    # Extra columns of the breakdown that are the same within an endpoint (e.g. convention) are kept.
    for column in breakdown.columns:
        if column not in endpoints:
            endpoints[column] = rows.groupby(keys, sort=False)[column].first().to_numpy()
    ordered = endpoints.sort_values(by, ascending=False, na_position="last", kind="stable")
    return ordered.head(n)[[c for c in breakdown.columns if c in ordered]].reset_index(drop=True)


def _join_codes(codes: pd.Series) -> str:
    return ",".join(sorted({str(code) for code in codes if str(code)}))
