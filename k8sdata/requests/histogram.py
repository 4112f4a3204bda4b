"""Prometheus' histogram_quantile, for buckets added up outside PromQL.

k8sdata.requests.red names some pods' workloads in Python (from the Kubernetes API or the pod's name), so
their latency buckets are summed per workload here, and the quantile must then be taken exactly as Prometheus
takes it (promql/quantile.go, bucketQuantile, for classic histograms): sort by upper bound, merge equal
bounds, make the counts monotonic, find the bucket holding rank q x total, interpolate linearly inside
it (the first bucket starting at 0 when its bound is positive), and answer the second-highest bound when
the rank falls in the +Inf bucket. tests/k8sdata/test_histogram.py holds it to a real Prometheus.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The q-quantile of cumulative (upper bound, count) buckets; NaN where Prometheus answers NaN
    (no +Inf bucket, fewer than two buckets, nothing observed)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    bounds = sorted(merged)
    if not bounds or bounds[-1] != math.inf or len(bounds) < 2:
        return math.nan
    counts: list[float] = []
    for bound in bounds:  # a count below an earlier one is a scrape artefact: Prometheus lifts it
        counts.append(max(merged[bound], counts[-1]) if counts else merged[bound])
    total = counts[-1]
    if total == 0 or math.isnan(total):
        return math.nan
    rank = q * total
    index = bisect.bisect_left(counts, rank, hi=len(counts) - 1)
    if index == len(counts) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start, below = (0.0, 0.0) if index == 0 else (bounds[index - 1], counts[index - 1])
    end, count = bounds[index], counts[index] - below
    if count == 0:  # q = 0 over an empty first bucket: Go's 0/0, which is NaN
        return math.nan
    return start + (end - start) * ((rank - below) / count)
