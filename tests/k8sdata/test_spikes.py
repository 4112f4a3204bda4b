"""Notable moments (k8sdata.requests.spikes): guards on hand-made frames, then precision and recall measured
against a REAL Prometheus.

The measurement: `InjectedTraffic` writes three days of http_requests_total for four workloads at a
one-minute step: a daily shape (quiet nights, busy afternoons) with slow multiplicative wander and
Poisson counts, a 0.5 % background error ratio, plus traffic spikes, traffic drops and error bursts
injected at known, seeded times. One real Prometheus (module-scoped) holds it; the test asks
k8sdata.requests.red.red_history for it (rate() over 5 minutes and the 5xx share, one-minute steps), runs
notable_moments, and counts a detection as a hit when it names the same workload and kind within
+-10 minutes of an injected event's start. The numbers are printed and written to docs/spikes.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import pytest

from k8sdata.requests.conventions import PROMETHEUS_CLIENT
from k8sdata.requests.red import red_history
from k8sdata.requests.spikes import (
    DROP,
    ERROR_BURST,
    EXTRA_COLUMNS,
    MOMENT_COLUMNS,
    SPIKE,
    Tuning,
    notable_moments,
)
from k8sdata.sources.prom import PromClient
from sandbox import traffic
from sandbox.prometheus import PrometheusServer
from sandbox.prometheus.backfill import write_series

NAMESPACE = "shop"
HOURS = 72.0
STEP = 60
MATCH_WINDOW = timedelta(minutes=10)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "spikes.md"
PRECISION_FLOOR = 0.8
RECALL_FLOOR = 0.8
SEED = 20261127



# -- hand-made frames: the guards ------------------------------------------------------------------

def _history(times: pd.DatetimeIndex, rps: Sequence[float], error_ratio: Sequence[float] | None = None,
             workload: str = "api") -> pd.DataFrame:
    frames = [pd.DataFrame({"time": times, "namespace": NAMESPACE, "workload": workload, "metric": "rps",
                            "value": list(rps)})]
    if error_ratio is not None:
        frames.append(pd.DataFrame({"time": times, "namespace": NAMESPACE, "workload": workload,
                                    "metric": "error_ratio", "value": list(error_ratio)}))
    return pd.concat(frames, ignore_index=True)


def _minutes(count: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-11-20T00:00:00Z", periods=count, freq="1min")


def test_a_burst_is_one_moment_with_its_start_peak_and_a_plain_sentence() -> None:
    times = _minutes(180)
    rps = np.full(180, 4.0) + np.random.default_rng(1).normal(0, 0.1, 180)
    rps[100:108] = [8, 12, 20, 21, 20, 12, 9, 8]
    moments = notable_moments(_history(times, rps))
    assert list(moments.columns) == [*MOMENT_COLUMNS, *EXTRA_COLUMNS]
    assert len(moments) == 1
    moment = moments.iloc[0]
    assert moment["kind"] == SPIKE and moment["workload"] == "api" and moment["namespace"] == NAMESPACE
    assert moment["time"] == times[100] and moment["end"] == times[107]
    assert moment["value"] == pytest.approx(21) and moment["baseline"] == pytest.approx(4, abs=0.1)
    assert moment["size"] > 20
    assert moment["description"].startswith("shop/api: requests rose to 21.00/s against a usual 4.")
    assert "from 2026-11-20 01:40 to 01:47 UTC" in moment["description"]


def test_bursts_apart_stay_apart_whatever_the_time_unit() -> None:
    # Prometheus' float seconds become datetime64[s] in pandas 3; merging must not depend on the unit.
    times = pd.to_datetime(np.arange(240) * 60.0 + 1_795_000_000, unit="s", utc=True)
    rps = np.full(240, 4.0)
    rps[100:103] = 20.0
    rps[140:143] = 20.0  # 37 minutes after the first burst ended: a second moment
    rps[150:152] = 20.0  # 7 minutes after the second: the same moment
    moments = notable_moments(_history(pd.DatetimeIndex(times), rps))
    assert list(moments["kind"]) == [SPIKE, SPIKE]
    assert list(moments["time"]) == [times[140], times[100]]
    assert list(moments["end"]) == [times[151], times[102]]


def test_long_steps_get_a_longer_window_so_a_week_at_ten_minutes_is_still_judged() -> None:
    times = pd.date_range("2026-11-20T00:00:00Z", periods=7 * 144, freq="10min")
    rps = 4.0 + np.random.default_rng(4).normal(0, 0.2, len(times))
    rps[500] = 15.0
    rps[700:702] = 14.0
    moments = notable_moments(_history(times, rps))
    assert list(moments["time"]) == [times[700], times[500]]
    assert list(moments["end"]) == [times[701], times[500]]  # two steps apart at most: one moment
    assert Tuning().lookback(600) == timedelta(minutes=200) and Tuning().lookback(60) == timedelta(hours=1)


def test_times_off_a_regular_step_are_judged_the_same_way() -> None:
    # Range queries return a regular grid (the fast path); merged or hand-made frames may not.
    rng = np.random.default_rng(6)
    regular = _minutes(240)
    irregular = regular + pd.to_timedelta(rng.integers(-20, 20, len(regular)), unit="s")
    rps = 4.0 + rng.normal(0, 0.2, len(regular))
    rps[150:155] = 16.0
    rps[200] = float("nan")
    for times in (regular, irregular):
        moments = notable_moments(_history(times, rps))
        assert list(moments["kind"]) == [SPIKE] and moments["time"].iloc[0] == times[150]
        assert moments["baseline"].iloc[0] == pytest.approx(4.0, abs=0.1)


def test_flat_series_does_not_divide_by_zero_and_small_wobbles_are_not_spikes() -> None:
    times = _minutes(120)
    flat = np.full(120, 2.0)
    assert notable_moments(_history(times, flat)).empty
    wobble = flat.copy()
    wobble[90] = 2.1  # one request in 600 more: MAD is 0, the floor keeps this at 1 deviation
    assert notable_moments(_history(times, wobble)).empty
    jump = flat.copy()
    jump[90:95] = 6.0
    found = notable_moments(_history(times, jump))
    assert list(found["kind"]) == [SPIKE]
    assert math.isfinite(found["size"].iloc[0])


def test_low_traffic_error_ratio_of_one_is_not_a_burst_but_real_failures_are() -> None:
    times = _minutes(120)
    quiet = np.full(120, 0.004)  # one request every four minutes
    ratio = np.zeros(120)
    ratio[60:70] = 1.0  # that one request failed: 100 % errors, yet only one failure
    assert notable_moments(_history(times, quiet, ratio)).empty
    busy = np.full(120, 5.0)  # the same ratio at 5 requests/s is 1,500 failures in five minutes
    bursts = notable_moments(_history(times, busy, ratio))
    assert list(bursts["kind"]) == [ERROR_BURST]
    assert bursts["size"].iloc[0] == pytest.approx(1 / 0.001)  # against the floored zero baseline
    assert "100.0% of requests failed against a usual 0.0%" in bursts["description"].iloc[0]


def test_gaps_leave_no_baseline_so_nothing_is_judged_right_after_them() -> None:
    times = _minutes(240)
    rps = np.full(240, 3.0) + np.random.default_rng(2).normal(0, 0.05, 240)
    keep = np.r_[0:60, 150:240]  # Prometheus was away for 90 minutes
    rps[150] = 30.0  # the first sample after the gap: no window behind it
    history = _history(times[keep], rps[keep])
    assert notable_moments(history).empty
    # without the gap the same value is a spike
    rps_full = np.full(240, 3.0)
    rps_full[150] = 30.0
    assert list(notable_moments(_history(times, rps_full))["kind"]) == [SPIKE]


def test_drops_need_real_traffic_and_the_moments_come_newest_first() -> None:
    times = _minutes(300)
    rps = np.full(300, 6.0)
    rps[100:115] = 0.5  # an outage of sorts
    rps[200:205] = 30.0
    moments = notable_moments(_history(times, rps))
    assert list(moments["kind"]) == [SPIKE, DROP]
    assert moments["time"].iloc[1] == times[100]
    assert "requests fell to 0.50/s against a usual 6.00/s" in moments["description"].iloc[1]
    trickle = np.full(300, 0.02)  # below min_rps: going to zero is not news
    trickle[100:115] = 0.0
    assert notable_moments(_history(times, trickle)).empty


def test_tuning_is_checked_and_empty_or_irrelevant_history_gives_an_empty_typed_frame() -> None:
    with pytest.raises(TypeError, match="unknown tuning"):
        notable_moments(pd.DataFrame(), threshhold=3)
    empty = notable_moments(pd.DataFrame(columns=["time", "namespace", "workload", "metric", "value"]))
    assert list(empty.columns) == [*MOMENT_COLUMNS, *EXTRA_COLUMNS] and empty.empty
    assert str(empty["time"].dtype) == "datetime64[ns, UTC]"
    latency_only = _history(_minutes(10), [0.1] * 10).assign(metric="p95_seconds")
    assert notable_moments(latency_only).empty
    # a stricter threshold is honoured
    times = _minutes(120)
    rps = np.full(120, 4.0) + np.random.default_rng(3).normal(0, 0.2, 120)
    rps[90:93] = 9.0
    assert len(notable_moments(_history(times, rps))) == 1
    assert notable_moments(_history(times, rps), threshold=100.0, window=timedelta(hours=2)).empty


# -- precision and recall against a real Prometheus ------------------------------------------------

@dataclass(frozen=True)
class Injected:
    workload: str
    kind: str
    start: int  # seconds after the first backfilled sample (the launcher picks the end: now)
    minutes: int
    factor: float  # rate multiplier (spike, drop) or the error ratio (burst)


@dataclass(frozen=True)
class Workload:
    name: str
    night_rps: float
    peak_rps: float
    jitter: float  # size of the slow multiplicative wander
    error_ratio: float = 0.005
    poisson: bool = True  # False: an exactly flat counter (MAD = 0)


WORKLOADS = (
    Workload("checkout", 0.8, 8.0, 0.06),
    Workload("search", 0.3, 3.0, 0.08),
    Workload("flat", 2.0, 2.0, 0.0, error_ratio=0.0, poisson=False),
    # A trickle with occasional failures: a single failed request makes a 20-100 % error ratio here.
    Workload("cron", 0.02, 0.02, 0.0, error_ratio=0.05),
)


def inject_events(rng: np.random.Generator) -> list[Injected]:
    """Events on the busy workloads, at least 3 h apart per workload, none in the first 2 h (no baseline)."""
    events: list[Injected] = []
    for workload in ("checkout", "search", "flat"):
        at = 2 * 3600 + int(rng.integers(0, 3600))
        while at < HOURS * 3600 - 3600:
            kind = str(rng.choice([SPIKE, DROP, ERROR_BURST] if workload != "flat" else [SPIKE, DROP]))
            minutes = int(rng.integers(5, 16))
            factor = {SPIKE: float(rng.uniform(2.5, 6.0)), DROP: float(rng.uniform(0.05, 0.3)),
                      ERROR_BURST: float(rng.uniform(0.1, 0.4))}[kind]
            events.append(Injected(workload, kind, at - at % STEP, minutes, factor))
            at += 3 * 3600 + int(rng.integers(0, 2 * 3600))
    return events


@dataclass
class InjectedTraffic:
    """A BackfillSource: http_requests_total{namespace, app, code} with the events above built in."""

    events: Sequence[Injected]
    seed: int

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        rng = np.random.default_rng(self.seed)
        stamps = np.asarray(times, dtype=float)
        offsets = stamps - stamps[0]
        # The day is counted from the first sample, not the wall clock, so every run measures the same
        # series (the launcher ends the backfill at "now") and the printed numbers are reproducible.
        hours = (offsets % 86_400) / 3600
        busyness = (1 - np.cos(2 * np.pi * (hours - 3) / 24)) / 2
        written = 0
        for workload in WORKLOADS:
            rate = workload.night_rps + (workload.peak_rps - workload.night_rps) * busyness
            if workload.jitter:
                # an AR(1) wander: neighbouring minutes agree, as real load does
                wander = np.zeros(len(stamps))
                for index in range(1, len(stamps)):
                    wander[index] = 0.97 * wander[index - 1] + rng.normal(0, workload.jitter / 4)
                rate = rate * np.exp(wander)
            errors = np.full(len(stamps), workload.error_ratio)
            for event in self.events:
                if event.workload != workload.name:
                    continue
                inside = (offsets > event.start) & (offsets <= event.start + event.minutes * 60)
                if event.kind == ERROR_BURST:
                    errors[inside] = event.factor
                else:
                    rate[inside] *= event.factor
            expected = rate * STEP
            arrived = rng.poisson(expected) if workload.poisson else np.round(expected)
            failed = rng.binomial(arrived.astype(np.int64), errors)
            labels_ok = (("app", workload.name), ("code", "200"), ("namespace", NAMESPACE))
            labels_error = (("app", workload.name), ("code", "500"), ("namespace", NAMESPACE))
            written += write_series(out, "http_requests_total", labels_ok, times,
                                    np.cumsum(arrived - failed).tolist())
            written += write_series(out, "http_requests_total", labels_error, times,
                                    np.cumsum(failed).tolist())
        return written


@dataclass
class Measured:
    server: PrometheusServer
    events: list[Injected]  # start in Unix seconds
    start: int
    end: int


@pytest.fixture(scope="module")
def measured() -> Iterator[Measured]:
    events = inject_events(np.random.default_rng(SEED))
    source = InjectedTraffic(events, SEED)
    with PrometheusServer([], backfill=[source], backfill_hours=HOURS, rules=False) as server:
        result = server.backfill_result
        assert result is not None and result.end - result.start == HOURS * 3600
        absolute = [replace(event, start=result.start + event.start) for event in events]
        yield Measured(server, absolute, result.start, result.end)


def long_frame(server: PrometheusServer, start: int, end: int, step: int) -> pd.DataFrame:
    """red_history's long frame, asked of the real Prometheus the way the Requests page asks it."""
    prom = PromClient(server.url, timeout=30.0)
    try:
        return red_history(prom, [PROMETHEUS_CLIENT], start=datetime.fromtimestamp(start, UTC),
                           end=datetime.fromtimestamp(end, UTC), step=step)
    finally:
        prom.close()


def score(moments: pd.DataFrame, events: Sequence[Injected]) -> tuple[float, float, list[Any], list[Any]]:
    """(precision, recall, false detections, missed events); a hit: same workload, kind, +-10 min."""
    starts = [pd.Timestamp(event.start, unit="s", tz="UTC") for event in events]

    def matches(row: Any, event: Injected, event_start: pd.Timestamp) -> bool:
        return (row.workload == event.workload and row.kind == event.kind
                and abs(row.time - event_start) <= MATCH_WINDOW)

    rows = list(moments.itertuples())
    false_detections = [row for row in rows
                        if not any(matches(row, event, at) for event, at in zip(events, starts, strict=True))]
    missed = [event for event, at in zip(events, starts, strict=True)
              if not any(matches(row, event, at) for row in rows)]
    precision = 1 - len(false_detections) / len(rows) if rows else 0.0
    recall = 1 - len(missed) / len(events)
    return precision, recall, false_detections, missed


@pytest.mark.parametrize("step", [STEP, 5 * STEP], ids=["1-minute steps", "5-minute steps"])
def test_precision_and_recall_on_injected_events_in_a_real_prometheus(measured: Measured, step: int) -> None:
    """The page asks for one-minute steps over short ranges and longer steps over long ones."""
    history = long_frame(measured.server, measured.start + 300, measured.end, step)
    assert set(history["workload"]) == {workload.name for workload in WORKLOADS}
    moments = notable_moments(history)
    precision, recall, false_detections, missed = score(moments, measured.events)
    print(f"\n[spikes] {len(measured.events)} injected events over {HOURS:.0f} h, read at {step} s steps; "
          f"{len(moments)} moments found; precision {precision:.3f}, recall {recall:.3f}")
    for kind in (SPIKE, DROP, ERROR_BURST):
        events = [event for event in measured.events if event.kind == kind]
        kind_missed = sum(event in missed for event in events)
        kind_found = int((moments["kind"] == kind).sum())
        kind_false = sum(row.kind == kind for row in false_detections)
        print(f"  {kind}: {len(events)} injected, {len(events) - kind_missed} found, "
              f"{kind_found} detections of which {kind_false} false")
    for row in false_detections:
        print(f"  false detection: {row.time} {row.workload} {row.kind} size {row.size:.1f}")
    for event in missed:
        print(f"  missed: {pd.Timestamp(event.start, unit='s', tz='UTC')} {event}")
    assert len(measured.events) >= 40
    # docs/spikes.md quotes these numbers; the data is seeded and its day counted from the first sample,
    # so they are the same on every run, and a change to the detector must update the docs with them.
    row = f"| {step} s | {len(measured.events)} | {len(moments)} | {precision:.3f} | {recall:.3f} |"
    assert row in DOCS.read_text(encoding="utf-8"), f"docs/spikes.md should have the row {row}"
    assert not moments[moments["workload"] == "cron"].shape[0], "the trickle's lone failures are not bursts"
    assert precision >= PRECISION_FLOOR, (precision, false_detections)
    assert recall >= RECALL_FLOOR, (recall, missed)


def test_the_demo_finds_its_daily_spike_and_error_burst_and_nothing_else(prometheus: Any) -> None:
    """The sandbox's own Prometheus (session fixture): the traffic model's 19:30 spike (5x, 5 minutes)
    and 14:00 error burst (25 % for 10 minutes) are found for both apps over a day of backfill and the
    live minutes since, and nothing else in the backfilled day is called notable. (The live minutes
    depend on how fast a loaded machine drives the sample apps, so they are read but not judged.)"""
    server = prometheus.prometheus
    result = server.backfill_result
    prom = PromClient(prometheus.url, timeout=30.0)
    try:
        history = red_history(prom, [PROMETHEUS_CLIENT], namespace="shop",
                              start=datetime.fromtimestamp(result.end - 25 * 3600, UTC),
                              end=datetime.now(UTC), step=STEP)
    finally:
        prom.close()
    moments = notable_moments(history)
    print("\n[spikes] demo moments:\n" + "\n".join(moments["description"]))
    found = {(row.workload, row.kind) for row in moments.itertuples()}
    assert found >= {("web", SPIKE), ("api", SPIKE), ("web", ERROR_BURST), ("api", ERROR_BURST)}
    backfilled = pd.Timestamp(result.end, unit="s", tz="UTC")
    for row in moments[moments["time"] <= backfilled].itertuples():
        minute_of_day = row.time.hour * 60 + row.time.minute
        expected = (traffic.SPIKE_START if row.kind == SPIKE else traffic.ERROR_BURST_START) // 60
        assert row.kind in (SPIKE, ERROR_BURST), row.description
        assert expected <= minute_of_day <= expected + 10, row.description
