"""The demo's memory story reaches the Right-sizing tab: from the moment the demo starts, the real demo
Prometheus (fixture `prometheus`: 26 h of backfilled history of the demo pods, then live scrapes) lets
k8sdata.pods.insights.memory_forecast see the OOMKilled thumbnailer heading for its memory limit, and the
usage model keeps that trend for the hours until sandbox.life kills it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from k8sdata.pods.insights import memory_forecast
from k8sdata.sources.prom import PromClient
from sandbox import demo_names, usage
from sandbox.cluster_loader import DEMO_ANCHOR, load_demo_objects

#: The Right-sizing tab's forecast: the trend of the last 6 hours, reaching the limit within 24 hours.
LOOKBACK_HOURS = 6
HORIZON_HOURS = 24


def test_the_demo_prometheus_forecasts_the_thumbnailers_memory_limit(prometheus: Any) -> None:
    ref = demo_names.OOMKILLED_POD
    forecast = memory_forecast(PromClient(prometheus.url, timeout=30.0), ref.namespace,
                               horizon=f"{HORIZON_HOURS}h", lookback=f"{LOOKBACK_HOURS}h")
    assert list(forecast["pod"]) == [ref.pod], forecast
    row = forecast.iloc[0]
    assert row["container"] == ref.container and row["memory_limit"] == 256 * usage.MIB
    assert 0 < row["hours_to_limit"] < HORIZON_HOURS
    assert row["growth_bytes_per_hour"] > 0 and row["memory_bytes"] < row["memory_limit"]


def _hours_to_limit(pod: dict[str, Any], container: str, at: float, limit: float) -> float | None:
    """What deriv/predict_linear over the lookback would say at `at`: a least-squares line through the
    model's minute samples, and when it crosses the limit (None when it does not rise)."""
    times = [at - minutes * 60 for minutes in range(LOOKBACK_HOURS * 60, -1, -1)]
    values = [usage.memory_bytes(pod, container, t) for t in times]
    mean_t, mean_v = sum(times) / len(times), sum(values) / len(values)
    slope = (sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True))
             / sum((t - mean_t) ** 2 for t in times))
    if slope <= 0:
        return None
    fitted_now = mean_v + slope * (at - mean_t)
    return max(0.0, (limit - fitted_now) / slope / 3600)


def test_the_forecast_holds_from_the_start_until_the_kill() -> None:
    """Every hour from the demo's start until the kill, the 6-hour trend reaches the limit within the
    horizon, and the forecast time counts down with the clock."""
    ref = demo_names.OOMKILLED_POD
    pod = next(obj for obj in load_demo_objects(DEMO_ANCHOR)
               if obj["kind"] == "Pod" and obj["metadata"]["name"] == ref.pod)
    kill = usage.oom_kill_at(pod, ref.container)
    assert kill is not None
    hours_left = kill - DEMO_ANCHOR.timestamp()
    assert hours_left >= 5 * 3600, "the forecast should be there for hours after the demo starts"
    forecasts = []
    for hour in range(int(hours_left // 3600)):
        at = (DEMO_ANCHOR + timedelta(hours=hour)).timestamp()
        hours = _hours_to_limit(pod, ref.container, at, 256 * usage.MIB)
        assert hours is not None and hours < HORIZON_HOURS, (hour, hours)
        forecasts.append(hours)
    assert forecasts == sorted(forecasts, reverse=True)
