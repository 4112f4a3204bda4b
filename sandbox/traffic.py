"""The demo's traffic: a pure model of load, errors and latency, and a generator that plays it live.

The model is a function of absolute Unix time only, so the Prometheus backfill (history) and the live
generator (now) describe the same day and charts join without a seam:

- a daily shape: quiet nights (about 03:00 UTC), busy afternoons (about 15:00 UTC);
- a weekly shape: Saturdays and Sundays carry a bit over half a weekday's load, eased in and out over the
  quiet hours (00:00-06:00 UTC) so the change of week is a slope, not a step at midnight;
- a traffic spike: 5x for five minutes every day at 19:30 UTC;
- an error burst: the api fails a quarter of its requests (and slows down) every day 14:00-14:10 UTC,
  which the web front end passes on as 502s.

The web front end calls the api once per page, and mobile clients call the api directly, so the api's
rate is the web's rate plus the direct share. Live load stays light (a few requests per second most of
the day) because the demo shares two cores with the tests.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

DAY = 86_400.0
APPS: tuple[str, ...] = ("web", "api")

#: Seconds of the UTC day when the spike and the error burst begin, and how long they last.
SPIKE_START = 19 * 3600 + 30 * 60
SPIKE_SECONDS = 300
SPIKE_FACTOR = 5.0
ERROR_BURST_START = 14 * 3600
ERROR_BURST_SECONDS = 600
ERROR_BURST_RATIO = 0.25
BASELINE_API_ERROR_RATIO = 0.004

#: Web requests per second at the quietest and the busiest time of day.
WEB_NIGHT_RATE = 0.8
WEB_PEAK_RATE = 7.0
#: Load on Saturdays and Sundays against a weekday, and the hours (from 00:00 UTC) it takes to get there.
WEEKEND_FACTOR = 0.55
WEEKEND_EASE_HOURS = 6.0
#: Direct (mobile) api calls per web page view.
API_DIRECT_SHARE = 0.5

#: Histogram buckets shared by the live apps and the backfill (seconds).
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Spread of the log-normal latency distribution (p95 is about 2.3x the median).
LATENCY_SIGMA = 0.5
#: The web front end's own work per page, on top of its api call.
WEB_OWN_SECONDS = 0.008


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    median_seconds: float  # at latency factor 1; for web routes, the web's own work plus the api call
    api_call: tuple[str, str] | None = None  # (method, api path) the web page calls, if any
    ok_code: str = "200"


API_ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/featured", 0.025),
    Route("GET", "/api/products", 0.045),
    Route("GET", "/api/cart", 0.030),
    Route("POST", "/api/orders", 0.120, ok_code="201"),
)
_API_BY_PATH = {(route.method, route.path): route for route in API_ROUTES}

WEB_ROUTES: tuple[Route, ...] = (
    Route("GET", "/", WEB_OWN_SECONDS + 0.025, api_call=("GET", "/api/featured")),
    Route("GET", "/products", WEB_OWN_SECONDS + 0.045, api_call=("GET", "/api/products")),
    Route("GET", "/cart", WEB_OWN_SECONDS + 0.030, api_call=("GET", "/api/cart")),
    Route("POST", "/checkout", WEB_OWN_SECONDS + 0.120, api_call=("POST", "/api/orders")),
)
#: Share of each web page in page views, and of each api path in direct (mobile) calls.
WEB_MIX: dict[str, float] = {"/": 0.45, "/products": 0.30, "/cart": 0.15, "/checkout": 0.10}
API_DIRECT_MIX: dict[str, float] = {"/api/featured": 0.2, "/api/products": 0.5, "/api/cart": 0.2,
                                    "/api/orders": 0.1}

ROUTES: dict[str, tuple[Route, ...]] = {"web": WEB_ROUTES, "api": API_ROUTES}
#: Status codes each app can answer with (the backfill writes a series for each).
ERROR_CODES: dict[str, tuple[str, ...]] = {"web": ("502",), "api": ("500", "503")}


def _second_of_day(at: float) -> float:
    return at % DAY


def _in_window(at: float, start: float, length: float) -> bool:
    return 0 <= _second_of_day(at) - start < length


def busyness(at: float) -> float:
    """0 at 03:00 UTC, 1 at 15:00 UTC, smooth in between."""
    hours = _second_of_day(at) / 3600
    return (1 - math.cos(2 * math.pi * (hours - 3) / 24)) / 2


def weekday(at: float) -> int:
    """Day of the week at Unix time `at`, UTC: 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return (int(at // DAY) + 3) % 7


def weekly_factor(at: float) -> float:
    """1 on weekdays, WEEKEND_FACTOR on Saturdays and Sundays, eased (half a cosine) over the first
    WEEKEND_EASE_HOURS of Saturday (down) and of Monday (back up)."""
    day = weekday(at)
    into_day = min(1.0, _second_of_day(at) / (WEEKEND_EASE_HOURS * 3600))
    eased = (1 - math.cos(math.pi * into_day)) / 2  # 0 at midnight, 1 once the ease is over
    if day == 5:  # Saturday: from a weekday's load down to the weekend's
        return 1 + (WEEKEND_FACTOR - 1) * eased
    if day == 6:
        return WEEKEND_FACTOR
    if day == 0:  # Monday: back up
        return WEEKEND_FACTOR + (1 - WEEKEND_FACTOR) * eased
    return 1.0


def _minute_noise(app: str, at: float) -> float:
    """A stable wobble in [-1, 1] per app and minute, so history does not look machine-drawn."""
    minute = int(at // 60)
    return (zlib.crc32(f"{app}/{minute}".encode()) % 2001) / 1000 - 1


def in_spike(at: float) -> bool:
    return _in_window(at, SPIKE_START, SPIKE_SECONDS)


def in_error_burst(at: float) -> bool:
    return _in_window(at, ERROR_BURST_START, ERROR_BURST_SECONDS)


def web_page_rate(at: float) -> float:
    """Page views per second of the web front end."""
    rate = WEB_NIGHT_RATE + (WEB_PEAK_RATE - WEB_NIGHT_RATE) * busyness(at)
    rate *= weekly_factor(at) * (1 + 0.08 * _minute_noise("web", at))
    if in_spike(at):
        rate *= SPIKE_FACTOR
    return rate


def route_rates(app: str, at: float) -> dict[Route, float]:
    """Requests per second per route of `app` at Unix time `at`."""
    pages = web_page_rate(at)
    if app == "web":
        return {route: pages * WEB_MIX[route.path] for route in WEB_ROUTES}
    if app == "api":
        rates = {route: pages * API_DIRECT_SHARE * API_DIRECT_MIX[route.path] for route in API_ROUTES}
        for web_route in WEB_ROUTES:
            assert web_route.api_call is not None
            rates[_API_BY_PATH[web_route.api_call]] += pages * WEB_MIX[web_route.path]
        return rates
    raise ValueError(f"unknown app {app!r}")


def expected_rate(app: str, at: float) -> float:
    """Total requests per second of `app` at Unix time `at`."""
    return sum(route_rates(app, at).values())


def error_ratio(app: str, at: float) -> float:
    """Share of `app`'s requests answered with a 5xx at `at` (web inherits the api's failures)."""
    if app not in ROUTES:
        raise ValueError(f"unknown app {app!r}")
    return ERROR_BURST_RATIO if in_error_burst(at) else BASELINE_API_ERROR_RATIO


def latency_factor(at: float) -> float:
    """How much slower than normal the api answers: busy hours, the spike and the burst all slow it."""
    factor = 1 + 0.3 * busyness(at)
    if in_spike(at):
        factor *= 1.8
    if in_error_burst(at):
        factor *= 3.5  # the failing database makes the api slow as well: p95 goes past 0.5 s
    return factor


def latency_median(app: str, route: Route, at: float) -> float:
    """Median latency of a route at `at`: the api slows by latency_factor; the web's own work does not."""
    if app == "web" and route.api_call is not None:
        return WEB_OWN_SECONDS + _API_BY_PATH[route.api_call].median_seconds * latency_factor(at)
    return route.median_seconds * latency_factor(at)


def fraction_at_or_below(le: float, median: float, sigma: float = LATENCY_SIGMA) -> float:
    """Share of a log-normal latency distribution that is <= le (what a histogram bucket counts)."""
    if math.isinf(le):
        return 1.0
    return 0.5 * (1 + math.erf(math.log(le / median) / (sigma * math.sqrt(2))))


def mean_latency(median: float, sigma: float = LATENCY_SIGMA) -> float:
    return median * math.exp(sigma * sigma / 2)


def sample_latency(median: float, rng: random.Random, sigma: float = LATENCY_SIGMA) -> float:
    """One request's latency drawn from the same log-normal the backfill integrates (capped at 5 s)."""
    return min(5.0, median * math.exp(sigma * rng.gauss(0, 1)))


class TrafficGenerator:
    """Drives the live sample apps at the model's rate (times `scale`), in a background thread.

    Bounded: at most `max_rate` requests per second per app, and at most `max_in_flight` requests
    outstanding (extra arrivals are dropped rather than queued, so a stuck app cannot pile up work).
    Each tick it also tells the api how often to fail and how slow to be, through its control endpoint.
    """

    def __init__(self, app_urls: Mapping[str, str], *, scale: float = 1.0, max_rate: float = 25.0,
                 max_in_flight: int = 16, tick_seconds: float = 0.25, request_timeout: float = 5.0,
                 seed: int = 7) -> None:
        self.app_urls = dict(app_urls)
        self.scale = scale
        self.max_rate = max_rate
        self.max_in_flight = max_in_flight
        self.tick_seconds = tick_seconds
        self.request_timeout = request_timeout
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self.sent = 0
        self.dropped = 0
        self.failed = 0  # transport failures (refused, timeout); HTTP error codes are normal traffic

    def start(self) -> TrafficGenerator:
        if self._thread is not None:
            return self
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=self.max_in_flight, thread_name_prefix="traffic")
        self._thread = threading.Thread(target=self._run, name="traffic-generator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> TrafficGenerator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        owed: dict[str, float] = dict.fromkeys(self.app_urls, 0.0)
        last_control: tuple[float, float] | None = None
        last = time.monotonic()
        while not self._stop.wait(self.tick_seconds):
            now_mono = time.monotonic()
            elapsed, last = now_mono - last, now_mono
            at = time.time()
            # Rounded so the api is told only when something visibly changes, not on every tick.
            control = (round(error_ratio("api", at), 4), round(latency_factor(at), 2))
            if "api" in self.app_urls and control != last_control and self._set_api_control(*control):
                last_control = control
            for app in self.app_urls:
                # The web front end already calls the api once per page; drive only the api's direct share.
                rates = self._direct_api_rates(at) if app == "api" else route_rates(app, at)
                total = min(self.max_rate, self.scale * sum(rates.values()))
                owed[app] += total * elapsed
                while owed[app] >= 1 and not self._stop.is_set():
                    owed[app] -= 1
                    route = self._rng.choices(list(rates), weights=list(rates.values()))[0]
                    self._submit(app, route)

    @staticmethod
    def _direct_api_rates(at: float) -> dict[Route, float]:
        pages = web_page_rate(at)
        return {route: pages * API_DIRECT_SHARE * API_DIRECT_MIX[route.path] for route in API_ROUTES}

    def _submit(self, app: str, route: Route) -> None:
        if not self._in_flight.acquire(blocking=False):
            with self._lock:
                self.dropped += 1
            return
        assert self._pool is not None
        try:
            self._pool.submit(self._send, app, route)
        except RuntimeError:  # pool shut down while stopping
            self._in_flight.release()

    def _send(self, app: str, route: Route) -> None:
        try:
            body = b"{}" if route.method == "POST" else None
            request = urllib.request.Request(self.app_urls[app] + route.path, data=body, method=route.method)
            try:
                with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                    response.read()
            except urllib.error.HTTPError as error:  # a 5xx is part of the story, not a failure
                error.read()
                error.close()
            with self._lock:
                self.sent += 1
        except OSError:
            with self._lock:
                self.failed += 1
        finally:
            self._in_flight.release()

    def _set_api_control(self, error_ratio_value: float, latency_factor_value: float) -> bool:
        payload = json.dumps({"error_ratio": error_ratio_value, "latency_factor": latency_factor_value})
        request = urllib.request.Request(self.app_urls["api"] + "/-/control", data=payload.encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                response.read()
            return True
        except OSError:
            return False
