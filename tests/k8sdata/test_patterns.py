"""Traffic patterns (k8sdata.requests.patterns) on hand-made frames whose answers are known exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from k8sdata.requests.conventions import PROMETHEUS_CLIENT
from k8sdata.requests.patterns import (
    COMPARISON_COLUMNS,
    HEATMAP_COLUMNS,
    PEAK_COLUMNS,
    peak_hours,
    period_comparison,
    top_endpoints,
    weekly_heatmap,
)
from k8sdata.requests.red import request_volume
from k8sdata.sources.prom import PromClient


def _volume(start: str, periods: int, freq: str, rps: object) -> pd.DataFrame:
    times = pd.date_range(start, periods=periods, freq=freq)
    values = rps(times) if callable(rps) else rps
    return pd.DataFrame({"time": times, "rps": values})


def _known_rate(times: pd.DatetimeIndex) -> np.ndarray:
    """weekday * 10 + hour / 10: every hour of the week has its own, recognisable mean."""
    return (times.day_of_week * 10 + times.hour / 10).to_numpy(dtype=float)


def test_heatmap_has_the_mean_of_each_hour_of_the_week_and_marks_the_busiest() -> None:
    # Two weeks at 5-minute steps starting on a Monday (2026-11-16).
    volume = _volume("2026-11-16T00:00:00Z", 14 * 24 * 12, "5min", _known_rate)
    heatmap = weekly_heatmap(volume)
    assert list(heatmap.columns) == HEATMAP_COLUMNS
    assert len(heatmap) == 7 * 24
    row = heatmap[(heatmap["weekday"] == 2) & (heatmap["hour"] == 13)].iloc[0]
    assert row["weekday_name"] == "Wed" and row["requests"] == pytest.approx(21.3)
    # 10 % of 168 hours is 17 peaks: Sunday's 17 latest hours (Sunday is weekday 6, the busiest here)
    peaks = heatmap[heatmap["is_peak"]]
    assert len(peaks) == 17 and set(peaks["weekday_name"]) == {"Sun"} and peaks["hour"].min() == 7
    top = peak_hours(heatmap)
    assert list(top.columns) == PEAK_COLUMNS
    assert top.to_dict("records") == [{"weekday_name": "Sun", "hour": 23, "requests": pytest.approx(62.3)},
                                      {"weekday_name": "Sun", "hour": 22, "requests": pytest.approx(62.2)},
                                      {"weekday_name": "Sun", "hour": 21, "requests": pytest.approx(62.1)}]


def test_heatmap_uses_utc_hours_and_skips_values_that_are_not_rates() -> None:
    # 10:00 in Berlin (UTC+1 in November) is 09:00 UTC; naive times are taken as UTC.
    berlin = pd.DataFrame({"time": pd.to_datetime(["2026-11-18 10:00", "2026-11-18 10:30"]).tz_localize(
        "Europe/Berlin"), "rps": [4.0, 6.0]})
    cell = weekly_heatmap(berlin)
    assert cell[["weekday", "hour", "requests"]].to_dict("records") == [
        {"weekday": 2, "hour": 9, "requests": 5.0}]
    naive = pd.DataFrame({"time": pd.to_datetime(["2026-11-18 10:00", "2026-11-18 10:05", "2026-11-18 10:10",
                                                  "2026-11-18 11:00"]),
                          "rps": [2.0, float("nan"), -1.0, 0.0]})
    cells = weekly_heatmap(naive)
    assert cells[["hour", "requests"]].to_dict("records") == [{"hour": 10, "requests": 2.0},
                                                               {"hour": 11, "requests": 0.0}]
    assert list(cells["is_peak"]) == [True, False]
    all_quiet = weekly_heatmap(naive.assign(rps=0.0))
    assert not all_quiet["is_peak"].any()  # no traffic is never a peak


def test_empty_inputs_give_empty_frames_with_the_columns() -> None:
    empty = pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "rps": pd.Series(dtype=float)})
    heatmap = weekly_heatmap(empty)
    assert heatmap.empty and list(heatmap.columns) == HEATMAP_COLUMNS
    assert peak_hours(heatmap).empty and list(peak_hours(heatmap).columns) == PEAK_COLUMNS
    comparison = period_comparison(empty, empty)
    assert comparison.empty and list(comparison.columns) == COMPARISON_COLUMNS
    current = _volume("2026-11-27T00:00:00Z", 3, "1min", [1.0, 2.0, 3.0])
    alone = period_comparison(current, empty)
    assert list(alone["current"]) == [1.0, 2.0, 3.0] and alone["previous"].isna().all()


def test_period_comparison_lines_up_last_week_and_gives_the_relative_change() -> None:
    previous = _volume("2026-11-20T10:00:00Z", 6, "1min", [2.0, 2.0, 0.0, 4.0, 4.0, 4.0])
    # This week's samples are 20 s off the minute: nearest within half a step still lines them up.
    current = _volume("2026-11-27T10:00:20Z", 6, "1min", [3.0, 1.0, 5.0, 4.0, 2.0, 6.0])
    comparison = period_comparison(current, previous.drop(index=5))
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert list(comparison["time"]) == list(current["time"])
    assert list(comparison["previous"].iloc[:5]) == [2.0, 2.0, 0.0, 4.0, 4.0]
    assert math.isnan(comparison["previous"].iloc[5])  # last week has no sample there
    ratios = comparison["change_ratio"].tolist()
    assert ratios[0] == pytest.approx(0.5) and ratios[1] == pytest.approx(-0.5)
    assert math.isnan(ratios[2])  # no traffic last week: no ratio, not infinity
    assert ratios[3] == 0.0 and ratios[4] == pytest.approx(-0.5) and math.isnan(ratios[5])
    # a one-day shift compares with yesterday instead
    yesterday = previous.assign(time=previous["time"] + timedelta(days=6))
    daily = period_comparison(current, yesterday, shift=timedelta(days=1))
    assert list(daily["previous"].iloc[:5]) == [2.0, 2.0, 0.0, 4.0, 4.0]


def _breakdown() -> pd.DataFrame:
    # red_breakdown repeats the endpoint's error_ratio and p95 on each of its code rows.
    rows = [
        ("shop", "api", "/api/products", "GET", "200", 3.0, 0.25, 0.09),
        ("shop", "api", "/api/products", "GET", "500", 1.0, 0.25, 0.09),
        ("shop", "api", "/api/orders", "POST", "201", 0.5, 0.0, 0.40),
        ("shop", "web", "/", "GET", "200", 3.5, 0.0, 0.05),
        ("shop", "web", "/health", "GET", "200", 0.1, 0.0, float("nan")),
    ]
    columns = ["namespace", "workload", "path", "method", "code", "rps", "error_ratio", "p95_seconds"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(convention="prometheus_client")


def test_top_endpoints_folds_status_codes_and_ranks_busiest_or_slowest() -> None:
    breakdown = _breakdown()
    busiest = top_endpoints(breakdown)
    assert list(busiest.columns) == list(breakdown.columns)
    assert list(busiest["path"]) == ["/api/products", "/", "/api/orders", "/health"]
    products = busiest.iloc[0]
    assert products["rps"] == 4.0 and products["code"] == "200,500"
    assert products["error_ratio"] == pytest.approx(0.25) and products["p95_seconds"] == pytest.approx(0.09)
    assert products["convention"] == "prometheus_client"
    slowest = top_endpoints(breakdown, by="p95_seconds", n=2)
    assert list(slowest["path"]) == ["/api/orders", "/api/products"]
    assert list(top_endpoints(breakdown, by="p95_seconds")["path"])[-1] == "/health"  # no latency: last
    with pytest.raises(ValueError, match="by must be"):
        top_endpoints(breakdown, by="error_ratio")  # type: ignore[arg-type]
    empty = top_endpoints(breakdown.head(0))
    assert empty.empty and list(empty.columns) == list(breakdown.columns)


def test_top_endpoints_weights_error_ratios_by_traffic_when_rows_carry_their_own() -> None:
    # A breakdown whose rows carry per-row ratios (each code row its own share) still folds honestly.
    rows = pd.DataFrame({"namespace": "shop", "workload": "api", "path": "/x", "method": "GET",
                         "code": ["200", "503"], "rps": [9.0, 1.0], "error_ratio": [0.0, 1.0],
                         "p95_seconds": [0.1, 0.3]})
    folded = top_endpoints(rows).iloc[0]
    assert folded["rps"] == 10.0 and folded["error_ratio"] == pytest.approx(0.1)
    assert folded["p95_seconds"] == pytest.approx(0.3) and folded["code"] == "200,503"


def test_the_demo_week_has_busy_weekday_afternoons_and_quieter_weekends(prometheus: Any) -> None:
    """The sandbox Prometheus holds 8 days of request counters: a full week for the heatmap, and last
    week's same hour for the comparison, through k8sdata.requests.red as the Requests page reads them."""
    result = prometheus.prometheus.backfill_result
    end = datetime.fromtimestamp(result.end, UTC)
    prom = PromClient(prometheus.url, timeout=30.0)
    try:
        week = request_volume(prom, [PROMETHEUS_CLIENT], namespace="shop", start=end - timedelta(days=7),
                              end=end, step=600)
        hour = request_volume(prom, [PROMETHEUS_CLIENT], namespace="shop", start=end - timedelta(hours=1),
                              end=end, step=60)
        week_before = request_volume(prom, [PROMETHEUS_CLIENT], namespace="shop",
                                     start=end - timedelta(days=7, hours=1), end=end - timedelta(days=7),
                                     step=60)
    finally:
        prom.close()
    heatmap = weekly_heatmap(week)
    assert len(heatmap) >= 7 * 24 - 1  # every hour of the week (the first may be cut by the range)
    by_day = heatmap.groupby("weekday")["requests"].mean()
    assert by_day[[5, 6]].max() < 0.8 * by_day[[1, 2, 3]].min()  # Tuesday-Thursday against the weekend
    peaks = peak_hours(heatmap)
    assert set(peaks["weekday_name"]) <= {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert all(14 <= hour_of_day <= 19 for hour_of_day in peaks["hour"])  # afternoons, or the 19:30 spike
    comparison = period_comparison(hour, week_before)
    assert comparison["previous"].notna().mean() > 0.9  # last week's same hour is there
