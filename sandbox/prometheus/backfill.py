"""History for the demo Prometheus: OpenMetrics written from the same models that drive the live data.

`promtool tsdb create-blocks-from openmetrics` turns the file into TSDB blocks in a fresh data dir
before the server starts. Rules promtool enforces: timestamps in seconds, every series ascending, all
samples in the past, `# EOF` last. Samples are written without TYPE lines (type "unknown"): blocks do
not keep metric types anyway, and it spares OpenMetrics' suffix rules for counters and histograms.

Backfilled series carry exactly the labels the live scrape produces (job, instance and the target
labels), so a chart is one line from yesterday into the live data.

Two depths of history: everything covers `hours` (26 h) at one-minute steps; the request counters
alone reach back `long_hours` (8 days) at two-minute steps, so the Requests page's weekly heatmap and
its "same period last week" have data, at a few seconds' cost (a small separate file, converted while
the big ones are written).
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from prometheus_client.utils import floatToGoString

from sandbox import traffic
from sandbox.exporter import FAMILIES, cluster_series, format_labels

STEP_SECONDS = 60
#: The request counters' longer, coarser history (LongHistorySource). Two minutes keep at least two
#: samples in a 5-minute rate() window, so rates over the old part never vanish.
LONG_HISTORY_HOURS = 8 * 24.0
LONG_STEP_SECONDS = 120
#: promtool rounds this down to one of TSDB's block ranges (2h, 6h, 18h, 54h, ...); 54h blocks hold a
#: 26 h history in one or two blocks, so promtool reads the input once or twice instead of 13 times.
MAX_BLOCK_DURATION = "54h"
#: The long history's own file spans 8 days: 486 h blocks let promtool read it once or twice instead
#: of four or five times (measured 1.3 s against 5 s). Prometheus merges overlapping blocks itself.
LONG_MAX_BLOCK_DURATION = "486h"
PROMTOOL = "/usr/bin/promtool"


class BackfillSource(Protocol):
    """Anything that can write its history for the given sample times (ascending Unix seconds)."""

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        """Write OpenMetrics sample lines (no `# EOF`); return the number of samples written."""
        ...


@runtime_checkable
class LongHistorySource(Protocol):
    """A source with a few series that reach further back than `hours` (request counters)."""

    def write_long(self, out: TextIO, times: Sequence[int]) -> int:
        """Write those series at `times` (ascending, all before the main times). backfill() calls it
        before `write`, which then continues the same counters."""
        ...


def long_sources(sources: Sequence[BackfillSource]) -> list[LongHistorySource]:
    """The sources (also inside SourceGroups) that have a longer history."""
    found: list[LongHistorySource] = []
    for source in sources:
        if isinstance(source, SourceGroup):
            found += long_sources(source.sources)
        elif isinstance(source, LongHistorySource):
            found.append(source)
    return found


def long_sample_times(first: int, hours: float, long_hours: float, step: int = LONG_STEP_SECONDS
                      ) -> list[int]:
    """The long history's times: every `step` seconds, ending one step before `first` (the first main
    sample), reaching back `long_hours` from the end of the main history (`hours` after `first`)."""
    older_hours = long_hours - hours
    if older_hours <= 0:
        return []
    return sample_times(first - step, older_hours - step / 3600, step)


def sample_times(end: float, hours: float, step: int = STEP_SECONDS) -> list[int]:
    """Whole-second timestamps every `step` seconds, the last one at or before `end`."""
    last = int(end)
    count = int(hours * 3600 // step) + 1
    return [last - (count - 1 - index) * step for index in range(count)]


def _format(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def write_series(out: TextIO, name: str, labels: Iterable[tuple[str, str]], times: Sequence[int],
                 values: Sequence[float]) -> int:
    prefix = name + format_labels(labels) + " "
    out.write("".join(f"{prefix}{_format(value)} {at}\n" for at, value in zip(times, values, strict=True)))
    return len(times)


@dataclass
class ExporterHistory:
    """The cluster exporter's series (sandbox.exporter) for `pods`, evaluated at past times."""

    pods: Sequence[dict[str, Any]]
    target_labels: Mapping[str, Mapping[str, str]]  # section (cadvisor, kube-state-metrics) -> job/instance
    now: float
    sections: tuple[str, ...] | None = None  # only these sections (None: every one in target_labels)

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        written = 0
        wanted = set(self.sections or self.target_labels)
        for one in cluster_series(self.pods, self.now):
            section = FAMILIES[one.name][0]
            if section not in wanted:
                continue
            labels = (*one.labels, *sorted(self.target_labels[section].items()))
            kept = [at for at in times if at >= one.begins]
            if not kept:
                continue
            if one.constant:
                values: list[float] = [one.value(kept[0])] * len(kept)
            else:
                values = [one.value(at) for at in kept]
            written += write_series(out, one.name, labels, kept, values)
        return written


@dataclass
class SampleAppHistory:
    """http_requests_total and http_request_duration_seconds of one sample app, from sandbox.traffic.

    Counters are integrals of the model's rates (one step's worth added per sample), split by status
    code with the model's error ratio; histogram buckets count the log-normal latency model's share
    at or below each bound.

    A LongHistorySource: `write_long` writes http_requests_total alone for the older, coarser times;
    `write` then carries on from those totals, so each counter is one unbroken series.
    """

    app: str
    target_labels: Mapping[str, str]  # job, instance, namespace, pod, container, app
    # Request totals (and the time) where write_long stopped; write continues from them.
    _carried: dict[tuple[str, str, str, Any], float] | None = field(default=None, init=False, repr=False)
    _carried_at: int | None = field(default=None, init=False, repr=False)

    def _add_requests(self, totals: dict[tuple[str, str, str, Any], float], at: int, step: float) -> None:
        """Add one step's requests of every route and status code at `at` to `totals`."""
        rates = traffic.route_rates(self.app, at)
        errors = traffic.error_ratio(self.app, at)
        error_codes = traffic.ERROR_CODES[self.app]
        for route in traffic.ROUTES[self.app]:
            arrived = rates[route] * step
            failed = arrived * errors
            totals[("req", route.method, route.path, route.ok_code)] += arrived - failed
            for index, code in enumerate(error_codes):
                # api: two thirds 500, one third 503 (as the live api picks them)
                share = (2 / 3 if index == 0 else 1 / 3) if len(error_codes) == 2 else 1.0
                totals[("req", route.method, route.path, code)] += failed * share

    def _request_series(self, out: TextIO, requests: Mapping[tuple[str, str, str], list[float]],
                        times: Sequence[int]) -> int:
        written = 0
        extra = sorted(self.target_labels.items())
        for (method, path, code), values in requests.items():
            labels = (("code", code), ("method", method), ("path", path), *extra)
            written += write_series(out, "http_requests_total", labels, times, values)
        return written

    def write_long(self, out: TextIO, times: Sequence[int]) -> int:
        routes = traffic.ROUTES[self.app]
        totals = {key: 0.0 for key in self._keys(routes, traffic.ERROR_CODES[self.app]) if key[0] == "req"}
        requests: dict[tuple[str, str, str], list[float]] = {}
        previous = None
        for at in times:
            self._add_requests(totals, at, LONG_STEP_SECONDS if previous is None else at - previous)
            previous = at
            for (_kind, method, path, code), total in totals.items():
                requests.setdefault((method, path, str(code)), []).append(total)
        self._carried, self._carried_at = (dict(totals), times[-1]) if times else (None, None)
        return self._request_series(out, requests, times)

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        extra = sorted(self.target_labels.items())
        routes = traffic.ROUTES[self.app]
        error_codes = traffic.ERROR_CODES[self.app]
        # Running totals per series, appended to per step, then written series by series.
        requests: dict[tuple[str, str, str], list[float]] = {}
        buckets: dict[tuple[str, str, float], list[float]] = {}
        sums: dict[tuple[str, str], list[float]] = {}
        totals = {key: 0.0 for key in self._keys(routes, error_codes)}
        previous = None
        carried_at = self._carried_at
        if self._carried is not None and carried_at is not None and times and carried_at < times[0]:
            totals.update(self._carried)
            previous = carried_at
        bounds = (*traffic.LATENCY_BUCKETS, math.inf)
        for at in times:
            step = STEP_SECONDS if previous is None else at - previous
            previous = at
            self._add_requests(totals, at, step)
            rates = traffic.route_rates(self.app, at)
            for route in routes:
                arrived = rates[route] * step
                median = traffic.latency_median(self.app, route, at)
                for bound in bounds:
                    totals[("le", route.method, route.path, bound)] += arrived * traffic.fraction_at_or_below(
                        bound, median)
                totals[("sum", route.method, route.path, 0)] += arrived * traffic.mean_latency(median)
            for key, total in totals.items():
                kind, method, path, detail = key
                if kind == "req":
                    requests.setdefault((method, path, str(detail)), []).append(total)
                elif kind == "le":
                    buckets.setdefault((method, path, float(detail)), []).append(total)
                else:
                    sums.setdefault((method, path), []).append(total)
        written = self._request_series(out, requests, times)
        for (method, path, bound), values in buckets.items():
            labels = (("le", floatToGoString(bound)), ("method", method), ("path", path), *extra)
            written += write_series(out, "http_request_duration_seconds_bucket", labels, times, values)
        for (method, path), values in sums.items():
            labels = (("method", method), ("path", path), *extra)
            written += write_series(out, "http_request_duration_seconds_sum", labels, times, values)
            written += write_series(out, "http_request_duration_seconds_count", labels, times,
                                    buckets[(method, path, math.inf)])
        return written

    @staticmethod
    def _keys(routes: Sequence[traffic.Route], error_codes: Sequence[str]) -> list[tuple[str, str, str, Any]]:
        keys: list[tuple[str, str, str, Any]] = []
        bounds = (*traffic.LATENCY_BUCKETS, math.inf)
        for route in routes:
            keys += [("req", route.method, route.path, code) for code in (route.ok_code, *error_codes)]
            keys += [("le", route.method, route.path, bound) for bound in bounds]
            keys.append(("sum", route.method, route.path, 0))
        return keys


@dataclass
class SourceGroup:
    """Several sources written into one file (and so converted by one promtool process)."""

    sources: Sequence[BackfillSource]

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        return sum(source.write(out, times) for source in self.sources)


@dataclass(frozen=True)
class BackfillResult:
    samples: int
    seconds: float  # wall time of the whole backfill
    write_seconds: float  # time spent writing OpenMetrics in Python
    start: int  # first and last sample timestamps of the full history (Unix seconds)
    end: int
    blocks: int
    long_start: int | None = None  # first sample of the request counters' longer history, if any


def backfill(sources: Sequence[BackfillSource], data_dir: Path, *, hours: float = 26.0,
             end: float | None = None, promtool: str = PROMTOOL, timeout: float = 120.0,
             scratch_dir: Path | None = None, long_hours: float = LONG_HISTORY_HOURS) -> BackfillResult:
    """Write `hours` of history from `sources` and turn it into TSDB blocks inside `data_dir`.

    One file and one promtool process per source, started as soon as that file is written: promtool
    converts one source while Python writes the next, and two cores convert in parallel. The blocks
    overlap in time, which Prometheus 2.39+ accepts and merges by itself. The OpenMetrics files go to
    `scratch_dir` (default: next to data_dir) and are deleted afterwards.

    Sources that are LongHistorySources (the sample apps' request counters) also write their older
    history, back to `long_hours` before `end` at LONG_STEP_SECONDS, into one more file, written
    first: it is small, and it must come first so their counters run on unbroken into `write`.
    """
    began = time.monotonic()
    end = time.time() - 1 if end is None else end
    times = sample_times(end, hours)
    longs = long_sources(sources)
    long_times = long_sample_times(times[0], hours, long_hours) if longs else []
    # (file name, writer, promtool's max block duration)
    jobs: list[tuple[str, Callable[[TextIO], int], str]] = []
    if long_times:
        jobs.append(("long", lambda out: sum(source.write_long(out, long_times) for source in longs),
                     LONG_MAX_BLOCK_DURATION))
    jobs += [(str(index), partial(_write_source, source, times), MAX_BLOCK_DURATION)
             for index, source in enumerate(sources)]
    data_dir.mkdir(parents=True, exist_ok=True)
    samples = 0
    write_seconds = 0.0
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for name, write, max_block_duration in jobs:
            writing = time.monotonic()
            path = (scratch_dir or data_dir.parent) / f"{data_dir.name}-backfill-{name}.om"
            with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
                count = write(out)
                out.write("# EOF\n")
            write_seconds += time.monotonic() - writing
            if count == 0:
                path.unlink()
                continue
            samples += count
            process = subprocess.Popen(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                 f"--max-block-duration={max_block_duration}", str(path), str(data_dir)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            running.append((process, path))
        deadline = time.monotonic() + timeout
        for process, _path in running:
            output, _ = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            if process.returncode != 0:
                message = output.decode(errors="replace").strip()[-2000:]
                raise RuntimeError(f"promtool backfill failed ({process.returncode}): {message}")
    finally:
        for process, path in running:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=5)
            path.unlink(missing_ok=True)
    blocks = sum(1 for child in data_dir.iterdir() if (child / "meta.json").exists())
    return BackfillResult(samples, time.monotonic() - began, write_seconds, times[0], times[-1], blocks,
                          long_times[0] if long_times else None)


def _write_source(source: BackfillSource, times: Sequence[int], out: TextIO) -> int:
    return source.write(out, times)
