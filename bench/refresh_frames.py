"""Time the watch-cache refresh of the pods table: snapshot -> DataFrame, with and without row reuse.

    python -m bench.refresh_frames [PODS=100000] [CHANGES=10] [ROUNDS=5]

No server and no network: the timed part of a refresh is CPU only (WatchedList.snapshot() is a locked
list copy, ~3 ms at 100,000 pods). Pods are sandbox.synthetic pods slimmed by watchcache.slim_pod
(msgspec structs), as the website's WatchedList keeps them. Each round replaces CHANGES pods with new
objects of a new resourceVersion (what a watch MODIFIED event does to the WatchedList), then times
`PodsFrameBuilder.frame(snapshot)` (what ui.data does for big clusters); `pods_frame(snapshot)` (every row
rebuilt, the old refresh) is timed once for comparison. Prints one Markdown table.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from datetime import UTC, datetime

from k8sdata.gcpause import gc_paused
from k8sdata.pods.frames import PodsFrameBuilder, pods_frame
from k8sdata.pods.podshape import as_dict
from k8sdata.sources.watchcache import slim_pod
from sandbox.synthetic import synthetic_objects


def main(pods_wanted: int = 100_000, changes: int = 10, rounds: int = 5) -> None:
    with gc_paused():
        pods = [slim_pod(item) for item in synthetic_objects(pods_wanted, seed=0)
                if item.get("kind") == "Pod"]
    builder = PodsFrameBuilder()
    started = time.perf_counter()
    builder.frame(pods)
    first = time.perf_counter() - started

    refreshes: list[float] = []
    version = 10**12  # above any synthetic resourceVersion
    for round_number in range(rounds):
        for index in range(changes):
            where = (round_number * changes + index) * 7919 % len(pods)
            changed = as_dict(pods[where])
            version += 1
            changed["metadata"]["resourceVersion"] = str(version)
            changed["metadata"].setdefault("labels", {})["kams-bench"] = str(round_number)
            pods[where] = slim_pod(changed)  # as WatchedList stores a MODIFIED event's object
        snapshot = list(pods)  # what WatchedList.snapshot() returns: a new list of the cache's dicts
        started = time.perf_counter()
        frame = builder.frame(snapshot)
        refreshes.append(time.perf_counter() - started)
        assert builder.last_built == changes and len(frame) == len(pods)
    started = time.perf_counter()
    builder.frame(list(pods))
    unchanged = time.perf_counter() - started
    started = time.perf_counter()
    pods_frame(list(pods))
    full = time.perf_counter() - started

    print(f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
          f"{len(pods):,} pods, {changes} changed per refresh, {rounds} refreshes.\n")
    print("| step | seconds |\n|---|---:|")
    print(f"| first frame (every row built) | {first:.3f} |")
    print(f"| refresh after {changes} changes, median (max) | {statistics.median(refreshes):.3f} "
          f"({max(refreshes):.3f}) |")
    print(f"| refresh with no change (clock columns only) | {unchanged:.3f} |")
    print(f"| pods_frame, every row rebuilt (the old refresh) | {full:.3f} |")


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:4]))
