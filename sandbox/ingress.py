"""An ingress-nginx controller's request metrics for the demo apps, from the same traffic model.

Real ingress-nginx publishes `nginx_ingress_controller_requests` (a counter) and
`nginx_ingress_controller_request_duration_seconds` (a histogram with Prometheus' default buckets), labelled
with the request's status, method and the Ingress rule's path (not the URL), and the Ingress's namespace,
name and backend service, plus constant controller_* labels. This module plays a controller in front of
the demo shop: Ingress `web` (path /) -> service web, Ingress `api` (path /api) -> service api. It sees
only traffic from outside: every page view, and the mobile clients' direct api calls, but not the web
front end's own calls to the api.

Values are pure functions of time (sandbox.traffic): counters integrate the model's rates minute by
minute from a fixed origin, so the backfill (IngressHistory) and the live endpoint (IngressExporter)
describe one continuous series. They are scraped like a ServiceMonitor would (honor_labels off, target
labels namespace/pod/service of the controller), so the metric's own `namespace` and `service` arrive as
`exported_namespace` and `exported_service`, as they do in a real cluster.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, TextIO

from prometheus_client.utils import floatToGoString

from sandbox import demo_names, traffic
from sandbox._http import ThreadedHTTPService
from sandbox.exporter import format_labels

REQUESTS = "nginx_ingress_controller_requests"
DURATION = "nginx_ingress_controller_request_duration_seconds"
#: prometheus.DefBuckets, which ingress-nginx uses for request durations.
DURATION_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: What nginx adds to the upstream's time (proxying, TLS is terminated elsewhere in the demo).
PROXY_SECONDS = 0.001

CONTROLLER_NAMESPACE = "ingress-nginx"
CONTROLLER_POD = "ingress-nginx-controller-6b9c7d5f8-k2v7n"
CONTROLLER_CLASS = "k8s.io/ingress-nginx"
METRICS_SERVICE = "ingress-nginx-controller-metrics"
HOST = "shop.example.com"
#: Target labels a ServiceMonitor attaches to the controller's metrics (instance fixed, not the random
#: port, so history and live scrapes are the same series).
TARGET_LABELS: dict[str, str] = {"job": "ingress-nginx", "instance": "ingress-nginx-controller:10254",
                                 "namespace": CONTROLLER_NAMESPACE, "pod": CONTROLLER_POD,
                                 "service": METRICS_SERVICE}


@dataclass(frozen=True)
class IngressRule:
    ingress: str  # the Ingress object's name (KAMS' ingress-nginx workload label)
    namespace: str
    path: str  # the rule's path, which is what ingress-nginx puts in its `path` label
    service: str  # the backend service
    app: str  # the sample app behind it (sandbox.traffic's name)


RULES: tuple[IngressRule, ...] = tuple(
    IngressRule(ingress=app.app, namespace=app.namespace, path="/api" if app.app == "api" else "/",
                service=app.app, app=app.app) for app in demo_names.SAMPLE_APPS)

Labels = tuple[tuple[str, str], ...]


def external_route_rates(app: str, at: float) -> dict[traffic.Route, float]:
    """Requests per second per route that reach `app` through the ingress at `at`."""
    if app == "web":
        return traffic.route_rates("web", at)
    pages = traffic.web_page_rate(at)
    return {route: pages * traffic.API_DIRECT_SHARE * traffic.API_DIRECT_MIX[route.path]
            for route in traffic.API_ROUTES}


def _status_shares(app: str, route: traffic.Route, at: float) -> dict[str, float]:
    errors = traffic.error_ratio(app, at)
    codes = traffic.ERROR_CODES[app]
    # As the live api picks them: two thirds 500, one third 503; the web answers 502.
    split = [2 / 3, 1 / 3] if len(codes) == 2 else [1.0] * len(codes)
    shares = {route.ok_code: 1 - errors}
    for code, share in zip(codes, split, strict=True):
        shares[code] = shares.get(code, 0.0) + errors * share
    return shares


def _request_labels(rule: IngressRule, method: str, status: str) -> dict[str, str]:
    return {"controller_class": CONTROLLER_CLASS, "controller_namespace": CONTROLLER_NAMESPACE,
            "controller_pod": CONTROLLER_POD, "host": HOST, "ingress": rule.ingress, "method": method,
            "namespace": rule.namespace, "path": rule.path, "service": rule.service, "status": status}


SeriesKey = tuple[str, Labels]


def _series_layout() -> tuple[list[SeriesKey], list[tuple[IngressRule, traffic.Route, str, list[int]]]]:
    """Every series (metric name, own labels), in a fixed order, and for each (rule, route, status) the
    positions of its request counter, count, sum and buckets (routes sharing a method add up)."""
    keys: list[SeriesKey] = []
    index: dict[SeriesKey, int] = {}

    def position(name: str, labels: dict[str, str]) -> int:
        key = (name, tuple(sorted(labels.items())))
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        return index[key]

    combos = []
    for rule in RULES:
        for route in traffic.ROUTES[rule.app]:
            for status in (route.ok_code, *traffic.ERROR_CODES[rule.app]):
                labels = _request_labels(rule, route.method, status)
                slots = [position(REQUESTS, labels), position(DURATION + "_count", labels),
                         position(DURATION + "_sum", labels)]
                slots += [position(DURATION + "_bucket", {**labels, "le": floatToGoString(bound)})
                          for bound in (*DURATION_BUCKETS, math.inf)]
                combos.append((rule, route, status, slots))
    return keys, combos


#: The ingress's series, in the order per_second and IngressTraffic.totals give their values.
SERIES, _COMBOS = _series_layout()


def per_second(at: float) -> list[float]:
    """Every series' increase per second at `at`, in SERIES order: requests, and the histogram's count,
    sum and buckets, per ingress, method and status."""
    out = [0.0] * len(SERIES)
    rates: dict[str, dict[traffic.Route, float]] = {}
    shares: dict[tuple[str, traffic.Route], dict[str, float]] = {}
    fractions: dict[tuple[str, traffic.Route], tuple[float, list[float]]] = {}
    for rule, route, status, slots in _COMBOS:
        if rule.app not in rates:
            rates[rule.app] = external_route_rates(rule.app, at)
        if (rule.app, route) not in shares:
            shares[(rule.app, route)] = _status_shares(rule.app, route, at)
            median = traffic.latency_median(rule.app, route, at) + PROXY_SECONDS
            fractions[(rule.app, route)] = (traffic.mean_latency(median), [
                traffic.fraction_at_or_below(bound, median) for bound in (*DURATION_BUCKETS, math.inf)])
        arrived = rates[rule.app][route] * shares[(rule.app, route)][status]
        mean, below = fractions[(rule.app, route)]
        out[slots[0]] += arrived
        out[slots[1]] += arrived
        out[slots[2]] += arrived * mean
        for slot, fraction in zip(slots[3:], below, strict=True):
            out[slot] += arrived * fraction
    return out


class IngressTraffic:
    """Cumulative counters of the ingress: the per-minute rates of `per_second` (taken at each minute's
    start) integrated from `origin`. Thread-safe; cheap for ascending times (it advances a cursor)."""

    def __init__(self, origin: float) -> None:
        self.origin = math.floor(origin / 60) * 60
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._minute = self.origin
        self._totals = [0.0] * len(SERIES)
        self._rates: tuple[float, list[float]] | None = None

    def _rates_at(self, minute: float) -> list[float]:
        if self._rates is None or self._rates[0] != minute:
            self._rates = (minute, per_second(minute))
        return self._rates[1]

    def totals(self, at: float) -> list[float]:
        """Every series' value at Unix time `at`, in SERIES order (0 before the origin)."""
        with self._lock:
            if at < self._minute:
                self._reset()
            at = max(at, self.origin)
            while self._minute + 60 <= at:
                rates = self._rates_at(self._minute)
                self._totals = [total + rate * 60 for total, rate in zip(self._totals, rates, strict=True)]
                self._minute += 60
            partial = at - self._minute
            rates = self._rates_at(self._minute)
            return [total + rate * partial for total, rate in zip(self._totals, rates, strict=True)]


def scraped_labels(labels: Labels, target_labels: Mapping[str, str]) -> Labels:
    """The labels Prometheus stores with honor_labels off: the metric's labels that clash with a target
    label get the `exported_` prefix, then the target labels are added."""
    renamed = [(f"exported_{key}" if key in target_labels else key, value) for key, value in labels]
    return tuple(sorted([*renamed, *target_labels.items()]))


@dataclass
class IngressHistory:
    """BackfillSource: the ingress's series at past times, labelled as the live scrape stores them.

    Only the last `hours` of the times asked for: the ingress's 150 series would otherwise add a quarter
    to the demo's backfill, and the Requests page prefers each app's own (longer) history anyway."""

    traffic: IngressTraffic
    target_labels: Mapping[str, str]
    hours: float = 6.0

    def write(self, out: TextIO, times: Sequence[int]) -> int:
        if times:
            times = [at for at in times if at > times[-1] - self.hours * 3600]
        # Imported here: sandbox.prometheus imports this module (its demo wires the ingress in).
        from sandbox.prometheus.backfill import write_series

        columns: list[list[float]] = [[] for _ in SERIES]
        for at in times:
            for column, value in zip(columns, self.traffic.totals(at), strict=True):
                column.append(value)
        written = 0
        for (name, labels), values in zip(SERIES, columns, strict=True):
            written += write_series(out, name, scraped_labels(labels, self.target_labels), times, values)
        return written


def exposition(totals: Sequence[float]) -> str:
    """Prometheus text format (values in SERIES order), as the controller's /metrics shows them."""
    lines = [f"# HELP {REQUESTS} The total number of client requests", f"# TYPE {REQUESTS} counter"]
    lines += [f"{name}{format_labels(labels)} {floatToGoString(value)}"
              for (name, labels), value in zip(SERIES, totals, strict=True) if name == REQUESTS]
    lines += [f"# HELP {DURATION} The request processing time in seconds", f"# TYPE {DURATION} histogram"]
    lines += [f"{name}{format_labels(labels)} {floatToGoString(value)}"
              for (name, labels), value in zip(SERIES, totals, strict=True) if name != REQUESTS]
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    exporter: ClassVar[IngressExporter]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        body = exposition(self.exporter.traffic.totals(self.exporter.clock())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class IngressExporter(ThreadedHTTPService):
    """Serves the ingress's /metrics on 127.0.0.1 (port 0 picks a free one), computed at scrape time."""

    def __init__(self, ingress_traffic: IngressTraffic, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.traffic = ingress_traffic
        self.clock = clock
        handler = type("IngressHandler", (_Handler,), {"exporter": self})
        super().__init__(handler, host=host, port=port, thread_name="ingress-exporter")
