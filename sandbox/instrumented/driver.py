"""A known mix of requests for the instrumented apps: two routes, 2xx, 4xx and 5xx answers, latencies
spread over the libraries' buckets, paced evenly over a few seconds, every app at once.

The mix is fixed by a seed, so a run asks for the same statuses every time; the report counts what
each app really answered, for a test to hold each library's counters to it.
"""

from __future__ import annotations

import random
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sandbox.instrumented.launcher import InstrumentedApp

#: Statuses and their weights: mostly 200, some client errors, a few server errors of two kinds.
STATUSES: dict[int, float] = {200: 0.78, 404: 0.12, 500: 0.07, 503: 0.03}
#: Latencies in milliseconds: across every library's default buckets (the instrumentator's are 0.1, 0.5
#: and 1 s; OpenTelemetry's and Django's start at 5 and 10 ms), none past a second.
LATENCIES_MS: tuple[float, ...] = (1, 4, 12, 30, 60, 90, 140, 260, 420, 700)
REQUEST_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Request:
    method: str  # GET /orders/{id} or POST /orders
    status: int
    ms: float

    def path(self, index: int) -> str:
        base = f"/orders/{1000 + index}" if self.method == "GET" else "/orders"
        return f"{base}?ms={self.ms:g}&status={self.status}"


@dataclass
class DriveReport:
    """What each app answered: app -> Counter of (method, status); failures as sentences."""

    answered: dict[str, Counter[tuple[str, int]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_class(self, app: str) -> Counter[str]:
        """Answers per status class ("2xx", "4xx", "5xx")."""
        classes: Counter[str] = Counter()
        for (_method, status), count in self.answered.get(app, Counter()).items():
            classes[f"{str(status)[0]}xx"] += count
        return classes


def plan(count: int, seed: int) -> list[Request]:
    """`count` requests: 70 % GET, 30 % POST, statuses and latencies drawn with a fixed seed."""
    rng = random.Random(seed)
    statuses, weights = list(STATUSES), list(STATUSES.values())
    return [Request("GET" if rng.random() < 0.7 else "POST", rng.choices(statuses, weights)[0],
                    rng.choice(LATENCIES_MS)) for _ in range(count)]


def _send(app: InstrumentedApp, request: Request, index: int) -> int:
    """The status the app answered (urllib raises for 4xx and 5xx; those are answers too)."""
    call = urllib.request.Request(app.url + request.path(index), method=request.method,
                                  data=b"{}" if request.method == "POST" else None)
    try:
        with urllib.request.urlopen(call, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)


def drive(apps: Mapping[str, InstrumentedApp], *, seconds: float = 20.0, per_second: float = 10.0,
          seed: int = 11, workers: int = 32) -> DriveReport:
    """Send every app its plan, paced evenly over `seconds`, all apps in parallel; bounded in count
    (seconds x per_second per app) and in time (each call times out)."""
    count = max(1, int(seconds * per_second))
    schedule: list[tuple[float, str, int, Request]] = []
    for offset, name in enumerate(sorted(apps)):
        for index, request in enumerate(plan(count, seed + offset)):
            schedule.append((index * seconds / count, name, index, request))
    schedule.sort(key=lambda item: item[0])
    report = DriveReport(answered={name: Counter() for name in apps})
    began = time.monotonic()

    def run(item: tuple[float, str, int, Request]) -> None:
        at, name, index, request = item
        time.sleep(max(0.0, began + at - time.monotonic()))
        try:
            status = _send(apps[name], request, index)
        except OSError as error:
            report.failures.append(f"{name} {request.method} {request.path(index)}: {error}")
            return
        if status != request.status:
            report.failures.append(f"{name} {request.method} {request.path(index)} answered {status}")
        report.answered[name][(request.method, status)] += 1

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drive") as pool:
        list(pool.map(run, schedule))
    report.seconds = time.monotonic() - began
    return report


def expected_by_class(requests: Sequence[Request]) -> Counter[str]:
    return Counter(f"{str(request.status)[0]}xx" for request in requests)
