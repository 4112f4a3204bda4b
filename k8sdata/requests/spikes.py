"""Notable moments: traffic spikes, traffic drops and error bursts in red_history's long frame.

Pure: a DataFrame in, a DataFrame out, no I/O.

How a moment is found, per (namespace, workload):
- the baseline of each sample is the median of the samples in the trailing window before it (default
  one hour, or 20 steps when steps are longer than 3 minutes; the sample itself excluded), and its
  spread the MAD (median absolute deviation) of those samples, times 1.4826 so that it reads like a
  standard deviation. Median and MAD ignore the outliers they are meant to find, and a trailing hour
  follows the daily rise and fall of traffic;
- a sample is judged only when its window holds enough samples (`min_samples`): after a gap or at the
  start of the range there is no baseline, and no guess is made;
- a flat series has MAD = 0, so the spread has a floor (a share of the baseline and an absolute floor):
  one request more on a perfectly flat line is not "infinitely many deviations";
- a traffic spike is a request rate at least `threshold` deviations above the baseline AND at least
  `spike_ratio` times it; a drop is at least `threshold` deviations below AND at most `drop_ratio` times
  it, and only where the baseline carries real traffic (`min_rps`);
- an error burst is an error ratio at least `threshold` deviations above its baseline, at least
  `error_factor` times it and `error_min_increase` above it, with at least `min_errors` failed
  requests per five minutes (from the request rate): one failure out of one request is a 100 % error
  ratio, not a burst;
- flagged samples of one kind and workload that follow each other within `merge_gap` become ONE moment
  (a burst is one line, not one per sample): its time is the first flagged sample, `end` the last, and
  its value, baseline and size those of the most extreme sample.

`size` is in robust deviations for traffic spikes and drops, and a ratio (value / baseline, the baseline
floored at 0.1 %) for error bursts. `description` is one plain sentence; namespace and workload names
come from the cluster, so pages must render it as text, never as Markdown.

The "same hour last week" baseline was considered and left out of the decision: the demo's spike (and
many real ones: a nightly batch, a daily newsletter) recurs every day, and a weekly baseline would call
it normal. period_comparison in k8sdata.requests.patterns shows last week next to this week instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields, replace
from datetime import timedelta

import numpy as np
import pandas as pd

from k8sdata.requests.patterns import utc_times

MOMENT_COLUMNS = ["time", "namespace", "workload", "kind", "value", "baseline", "size", "description"]
#: Extra column (the contract allows additions): the last flagged sample of the moment.
EXTRA_COLUMNS = ["end"]
SPIKE = "traffic spike"
DROP = "traffic drop"
ERROR_BURST = "error burst"
KINDS = (SPIKE, DROP, ERROR_BURST)
#: MAD times this estimates the standard deviation of normally distributed data.
MAD_TO_SIGMA = 1.4826
#: The error ratio's baseline is floored here when a size (ratio) is computed.
ERROR_BASELINE_FLOOR = 0.001
_FIVE_MINUTES = 300.0


@dataclass(frozen=True)
class Tuning:
    """The knobs of notable_moments, with defaults that suit one-minute steps of rate(...[5m])."""

    # Trailing baseline window: at least `window`, and `window_steps` steps when that is longer (a week
    # at 10-minute steps still has 20 samples behind each one). lookback(step) gives the result.
    window: timedelta = timedelta(hours=1)
    window_steps: int = 20
    min_samples: int = 10  # samples the window must hold before a sample is judged
    threshold: float = 5.0  # robust deviations from the baseline
    spike_ratio: float = 1.5  # a spike is at least this many times the baseline
    drop_ratio: float = 0.5  # a drop is at most this share of the baseline
    min_rps: float = 0.05  # requests/s: drops need a baseline this busy, spikes a value this high
    relative_floor: float = 0.05  # the spread is at least this share of the baseline (flat series)
    absolute_floor: float = 0.01  # ... and at least this much (requests/s, or error ratio)
    error_factor: float = 2.0  # an error burst is at least this many times the usual error ratio
    error_min_increase: float = 0.05  # ... and at least 5 percentage points above it
    min_errors: float = 5.0  # ... with at least this many failed requests per five minutes
    # Flagged samples closer than this (or than `merge_steps` steps, if longer) are one moment.
    merge_gap: timedelta = timedelta(minutes=10)
    merge_steps: int = 2

    def lookback(self, step: timedelta | float) -> timedelta:
        """The trailing window used at this step (seconds or a timedelta): read this much history
        before the first sample you want judged."""
        step = step if isinstance(step, timedelta) else timedelta(seconds=step)
        return max(self.window, self.window_steps * step)

    def for_step(self, step: timedelta) -> Tuning:
        """These settings with the window and merge gap widened for this step."""
        return replace(self, window=self.lookback(step),
                       merge_gap=max(self.merge_gap, self.merge_steps * step))


def notable_moments(history: pd.DataFrame, **tuning: object) -> pd.DataFrame:
    """Moments where a workload's request rate or error ratio left its robust baseline.

    `history` is red_history's long frame (time, namespace, workload, metric, value); the metrics
    "rps" and "error_ratio" are used, others ignored. Keyword arguments override Tuning's fields.
    Returns MOMENT_COLUMNS (+ end), newest first.
    """
    known = {field.name for field in fields(Tuning)}
    unknown = set(tuning) - known
    if unknown:
        raise TypeError(f"unknown tuning {sorted(unknown)}; known: {sorted(known)}")
    settings = Tuning(**tuning)  # type: ignore[arg-type]  # names checked above; values are the caller's
    moments: list[dict[str, object]] = []
    if not history.empty:
        frame = history[history["metric"].isin(["rps", "error_ratio"])].copy()
        frame["time"] = utc_times(frame["time"])
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
        frame[["namespace", "workload"]] = frame[["namespace", "workload"]].fillna("")
        for (namespace, workload), rows in frame.groupby(["namespace", "workload"], sort=True):
            wide = (rows.pivot_table(index="time", columns="metric", values="value", aggfunc="mean")
                    .sort_index())
            steps = wide.index.to_series().diff().dropna()
            step = steps.median() if not steps.empty else timedelta(minutes=1)
            moments += _workload_moments(str(namespace), str(workload), wide, settings.for_step(step))
    result = pd.DataFrame(moments, columns=[*MOMENT_COLUMNS, *EXTRA_COLUMNS])
    if result.empty:
        return result.astype({"time": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]", "value": float,
                              "baseline": float, "size": float, "namespace": str, "workload": str,
                              "kind": str, "description": str})
    return result.sort_values(["time", "namespace", "workload"], ascending=[False, True, True]
                              ).reset_index(drop=True)


def _baseline(values: pd.Series, settings: Tuning) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Trailing median, spread (1.4826 MAD, floored) and sample count, each sample's own excluded."""
    present = values.dropna()
    window = pd.Timedelta(settings.window)
    stats = _grid_median_mad(present, window)
    if stats is None:  # times not on one step (hand-made data): pandas' time-based rolling window
        rolling = present.rolling(window, closed="left")
        median = rolling.median()
        mad = rolling.apply(lambda samples: np.median(np.abs(samples - np.median(samples))), raw=True)
        count = rolling.count()
    else:
        median, mad, count = stats
    spread = np.maximum(MAD_TO_SIGMA * mad, np.maximum(settings.relative_floor * median.abs(),
                                                       settings.absolute_floor))
    return (median.reindex(values.index), pd.Series(spread, index=present.index).reindex(values.index),
            count.reindex(values.index).fillna(0))


def _grid_median_mad(present: pd.Series, window: pd.Timedelta
                     ) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """The same trailing statistics, vectorised, when every time sits on one step (as range queries
    return them): the series is laid on its grid (gaps become NaN) and each sample's window is the
    `window // step` grid points before it. None when the times are not on a grid."""
    if len(present) < 2:
        return None
    offsets = (present.index - present.index[0]) / pd.Timedelta(seconds=1)
    step = float(np.min(np.diff(offsets)))
    if step <= 0 or not np.allclose(offsets / step, np.round(offsets / step)):
        return None
    positions = np.round(offsets / step).astype(np.int64)
    if positions[-1] > 50 * len(present):  # mostly gaps: the grid would be mostly empty
        return None
    grid = np.full(positions[-1] + 1, np.nan)
    grid[positions] = present.to_numpy(dtype=float)
    size = int(window.total_seconds() // step)
    if size < 1:
        return None
    windows = np.lib.stride_tricks.sliding_window_view(np.r_[np.full(size, np.nan), grid], size)[:len(grid)]
    windows = windows[positions]  # only the samples that exist are judged
    count = np.sum(~np.isnan(windows), axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: no baseline, as intended
        median = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - median[:, None]), axis=1)
    index = present.index
    return pd.Series(median, index=index), pd.Series(mad, index=index), pd.Series(count, index=index,
                                                                                  dtype=float)


def _workload_moments(namespace: str, workload: str, wide: pd.DataFrame, settings: Tuning
                      ) -> list[dict[str, object]]:
    moments: list[dict[str, object]] = []
    rps = wide.get("rps")
    if rps is not None:
        median, spread, count = _baseline(rps, settings)
        judged = (count >= settings.min_samples) & rps.notna() & median.notna()
        deviations = (rps - median) / spread
        spikes = judged & (deviations >= settings.threshold) & (rps >= settings.spike_ratio * median) & (
            rps >= settings.min_rps)
        drops = judged & (-deviations >= settings.threshold) & (rps <= settings.drop_ratio * median) & (
            median >= settings.min_rps)
        moments += _merge(namespace, workload, SPIKE, spikes, rps, median, deviations, settings)
        moments += _merge(namespace, workload, DROP, drops, rps, median, -deviations, settings)
    # Without the request rate there is no telling 1 failure in 1 request from a real burst.
    if "error_ratio" in wide and rps is not None:
        ratio = wide["error_ratio"]
        median, spread, count = _baseline(ratio, settings)
        judged = (count >= settings.min_samples) & ratio.notna() & median.notna()
        deviations = (ratio - median) / spread
        failures_per_five_minutes = rps * ratio * _FIVE_MINUTES
        bursts = (judged & (deviations >= settings.threshold) & (ratio >= settings.error_factor * median)
                  & (ratio - median >= settings.error_min_increase)
                  & (failures_per_five_minutes >= settings.min_errors))
        size = ratio / np.maximum(median, ERROR_BASELINE_FLOOR)
        moments += _merge(namespace, workload, ERROR_BURST, bursts, ratio, median, size, settings)
    return moments


def _merge(namespace: str, workload: str, kind: str, flagged: pd.Series, values: pd.Series,
           baseline: pd.Series, size: pd.Series, settings: Tuning) -> list[dict[str, object]]:
    """One moment per run of flagged samples no further apart than merge_gap."""
    times = flagged.index[flagged.fillna(False).to_numpy(dtype=bool)]
    if len(times) == 0:
        return []
    # Compared as timedeltas: pandas 3 keeps whatever unit the times came in (s, ms, us or ns).
    run_breaks = np.flatnonzero(times[1:] - times[:-1] > pd.Timedelta(settings.merge_gap)) + 1
    moments = []
    for run in np.split(np.arange(len(times)), run_breaks):
        run_times = times[run]
        peak = size.loc[run_times].idxmax()
        moment = {"time": run_times[0], "namespace": namespace, "workload": workload, "kind": kind,
                  "value": float(values.loc[peak]), "baseline": float(baseline.loc[peak]),
                  "size": float(size.loc[peak]), "end": run_times[-1]}
        moment["description"] = describe(moment)
        moments.append(moment)
    return moments


def describe(moment: dict[str, object]) -> str:
    """One plain sentence for a moment (no Markdown: names come from the cluster)."""
    where = f"{moment['namespace']}/{moment['workload']}" if moment["namespace"] else str(moment["workload"])
    start = pd.Timestamp(moment["time"])
    end = pd.Timestamp(moment["end"])
    span = (f"at {start:%Y-%m-%d %H:%M} UTC" if start == end
            else f"from {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC" if start.date() == end.date()
            else f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    # moments hold floats under value, baseline and size (notable_moments writes them)
    value, baseline = float(moment["value"]), float(moment["baseline"])  # type: ignore[arg-type]
    if moment["kind"] == ERROR_BURST:
        return (f"{where}: {value:.1%} of requests failed against a usual {baseline:.1%} "
                f"({float(moment['size']):.0f}x), {span}.")  # type: ignore[arg-type]
    if moment["kind"] == SPIKE:
        times = f" ({value / baseline:.1f}x)" if baseline > 0 else ""
        return f"{where}: requests rose to {value:.2f}/s against a usual {baseline:.2f}/s{times}, {span}."
    return f"{where}: requests fell to {value:.2f}/s against a usual {baseline:.2f}/s, {span}."
