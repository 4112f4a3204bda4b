"""Independent reads side by side: a page that needs twenty lists waits for the slowest, not for their sum.

Each read runs in a worker thread of its own with a copy of the caller's context variables, so the
viewer's namespace scope (k8sdata.access) holds in the workers exactly as in the caller. A SourceError
is that read's answer, not the batch's: the other reads go on. The clients are thread-safe (KubeClient,
PromClient); one timeout per source still holds through their circuit breaker (k8sdata.sources.breaker).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from k8sdata.errors import SourceError

K = TypeVar("K")
T = TypeVar("T")

#: At most this many reads at once: enough for a page's lists, few enough to be polite to the server.
MAX_PARALLEL_READS = 8


def read_side_by_side(reads: Mapping[K, Callable[[], T]], *, workers: int = MAX_PARALLEL_READS
                      ) -> dict[K, T | SourceError]:
    """Run every read at once (up to `workers`); each key gets its value or the SourceError it met, in
    the order of `reads`. Any other exception is a bug and is raised."""
    if not reads:
        return {}

    def guarded(read: Callable[[], T]) -> T | SourceError:
        try:
            return read()
        except SourceError as error:
            return error

    with ThreadPoolExecutor(min(workers, len(reads)), thread_name_prefix="kams-read") as pool:
        # A context copy per read: one Context cannot be entered by two threads at once.
        futures = {key: pool.submit(contextvars.copy_context().run, guarded, read)
                   for key, read in reads.items()}
        return {key: future.result() for key, future in futures.items()}
