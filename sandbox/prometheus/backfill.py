"""History for the demo Prometheus: OpenMetrics written from the same models that drive the live data.

`promtool tsdb create-blocks-from openmetrics` turns the file into TSDB blocks in a fresh data dir
before the server starts. Rules promtool enforces: timestamps in seconds, every series ascending, all
samples in the past, `# EOF` last. Samples are written without TYPE lines (type "unknown"): blocks do
not keep metric types anyway, and it spares OpenMetrics' suffix rules for counters and histograms.

Backfilled series carry exactly the labels the live scrape produces (job, instance and the target
labels), so a chart is one line from yesterday into the live data.
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from prometheus_client.utils import floatToGoString

from sandbox import traffic
from sandbox.exporter import FAMILIES, cluster_series, format_labels

STEP_SECONDS = 60
#: promtool rounds this down to one of TSDB's block ranges (2h, 6h, 18h, 54h, ...); 54h blocks hold a
#: 26 h history in one or two blocks, so promtool reads the input once or twice instead of 13 times.
MAX_BLOCK_DURATION = "54h"
PROMTOOL = "/usr/bin/promtool"


class BackfillSource(Protocol):
    """Anything that can write its history for the given sample times (ascending Unix seconds)."""

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        """Write OpenMetrics sample lines (no `# EOF`); return the number of samples written."""
        ...


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
    """

    app: str
    target_labels: Mapping[str, str]  # job, instance, namespace, pod, container, app

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        extra = sorted(self.target_labels.items())
        routes = traffic.ROUTES[self.app]
        error_codes = traffic.ERROR_CODES[self.app]
        # Running totals per series, appended to per step, then written series by series.
        requests: dict[tuple[str, str, str], list[float]] = {}
        buckets: dict[tuple[str, str, float], list[float]] = {}
        sums: dict[tuple[str, str], list[float]] = {}
        totals = {key: 0.0 for key in self._keys(routes, error_codes)}
        bounds = (*traffic.LATENCY_BUCKETS, math.inf)
        previous = None
        for at in times:
            step = STEP_SECONDS if previous is None else at - previous
            previous = at
            rates = traffic.route_rates(self.app, at)
            errors = traffic.error_ratio(self.app, at)
            for route in routes:
                arrived = rates[route] * step
                failed = arrived * errors
                totals[("req", route.method, route.path, route.ok_code)] += arrived - failed
                for index, code in enumerate(error_codes):
                    # api: two thirds 500, one third 503 (as the live api picks them)
                    share = (2 / 3 if index == 0 else 1 / 3) if len(error_codes) == 2 else 1.0
                    totals[("req", route.method, route.path, code)] += failed * share
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
        written = 0
        for (method, path, code), values in requests.items():
            labels = (("code", code), ("method", method), ("path", path), *extra)
            written += write_series(out, "http_requests_total", labels, times, values)
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
    start: int  # first and last sample timestamps (Unix seconds)
    end: int
    blocks: int


def backfill(sources: Sequence[BackfillSource], data_dir: Path, *, hours: float = 26.0,
             end: float | None = None, promtool: str = PROMTOOL, timeout: float = 120.0,
             scratch_dir: Path | None = None) -> BackfillResult:
    """Write `hours` of history from `sources` and turn it into TSDB blocks inside `data_dir`.

    One file and one promtool process per source, started as soon as that file is written: promtool
    converts one source while Python writes the next, and two cores convert in parallel. The blocks
    overlap in time, which Prometheus 2.39+ accepts and merges by itself. The OpenMetrics files go to
    `scratch_dir` (default: next to data_dir) and are deleted afterwards.
    """
    began = time.monotonic()
    end = time.time() - 1 if end is None else end
    times = sample_times(end, hours)
    data_dir.mkdir(parents=True, exist_ok=True)
    samples = 0
    write_seconds = 0.0
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for index, source in enumerate(sources):
            writing = time.monotonic()
            path = (scratch_dir or data_dir.parent) / f"{data_dir.name}-backfill-{index}.om"
            with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
                count = source.write(out, times)
                out.write("# EOF\n")
            write_seconds += time.monotonic() - writing
            if count == 0:
                path.unlink()
                continue
            samples += count
            process = subprocess.Popen(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                 f"--max-block-duration={MAX_BLOCK_DURATION}", str(path), str(data_dir)],
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
    return BackfillResult(samples, time.monotonic() - began, write_seconds, times[0], times[-1], blocks)
