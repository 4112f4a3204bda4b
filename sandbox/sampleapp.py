"""The two sample applications of the demo: a web front end and the JSON api behind it.

Both are small standard-library HTTP servers instrumented with prometheus_client the way a real service
would be: `http_requests_total{method,path,code}` and `http_request_duration_seconds{method,path}`, served
on /metrics. The web front end renders a few pages and calls the api for each (with a timeout), turning
api failures into 502s. The api sleeps for realistic latencies and can be told, through POST /-/control
(or `app.control` in-process), to fail a share of its requests with 5xx and to slow down; the traffic
generator does that to play the demo's error burst.

In-process: `with SampleApp("api") as api, SampleApp("web", api_url=api.url) as web: ...`
As a process: `python -m sandbox.sampleapp api --port 0` prints `listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Literal

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram

from sandbox import traffic
from sandbox._http import ThreadedHTTPService

# `_created` series would double the number of series for no value in the demo (and the backfill does
# not write them), so switch them off for every registry in this process.
prometheus_client.disable_created_metrics()

AppKind = Literal["web", "api"]
API_CALL_TIMEOUT_SECONDS = 2.0
#: Paths that are about the process itself, not user traffic: served but not counted.
_UNCOUNTED = frozenset({"/metrics", "/-/control", "/healthz"})

_PRODUCTS = [{"id": index, "name": name, "price": price} for index, (name, price) in enumerate(
    [("mug", 9.5), ("t-shirt", 19.0), ("sticker pack", 4.0), ("hoodie", 39.0), ("cap", 15.0)], start=1)]


@dataclass
class ApiControl:
    """How the api misbehaves right now; changed by the traffic generator, read per request."""

    error_ratio: float = 0.0
    latency_factor: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {"error_ratio": self.error_ratio, "latency_factor": self.latency_factor}


class _Handler(BaseHTTPRequestHandler):
    server_version = "kams-sampleapp/1.0"
    protocol_version = "HTTP/1.0"  # one request per connection keeps the thread-per-request server simple
    app: ClassVar[SampleApp]  # set on a per-app subclass

    def log_message(self, format: str, *args: Any) -> None:
        return  # access logs would flood test output

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        code, content_type, payload = self.app.handle(method, path, body)
        if path not in _UNCOUNTED:
            self.app.observe(method, path, code, time.perf_counter() - started)
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up; nothing to tell it
            pass


class SampleApp(ThreadedHTTPService):
    """One sample application on 127.0.0.1, served from a background thread."""

    def __init__(self, kind: AppKind, *, host: str = "127.0.0.1", port: int = 0, api_url: str | None = None,
                 seed: int | None = None) -> None:
        if kind not in ("web", "api"):
            raise ValueError(f"unknown sample app {kind!r}")
        if kind == "web" and not api_url:
            raise ValueError("the web front end needs api_url")
        self.kind: AppKind = kind
        self.api_url = api_url.rstrip("/") if api_url else None
        self.control = ApiControl()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests handled, by method, route and status code.",
                                ["method", "path", "code"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.",
                                  ["method", "path"], buckets=traffic.LATENCY_BUCKETS, registry=self.registry)
        self._routes = {(route.method, route.path): route for route in traffic.ROUTES[kind]}
        handler = type(f"{kind.title()}Handler", (_Handler,), {"app": self})
        super().__init__(handler, host=host, port=port, thread_name=f"sampleapp-{kind}")

    # -- request handling -------------------------------------------------------------------------

    def observe(self, method: str, path: str, code: int, seconds: float) -> None:
        # Unknown paths share one label value so a scanner cannot blow up the series count.
        label_path = path if (method, path) in self._routes else "other"
        self.requests.labels(method, label_path, str(code)).inc()
        self.duration.labels(method, label_path).observe(seconds)

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path == "/metrics" and method == "GET":
            exposition = prometheus_client.generate_latest(self.registry)
            return 200, prometheus_client.CONTENT_TYPE_LATEST, exposition
        if path == "/healthz":
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/-/control" and self.kind == "api":
            return self._handle_control(method, body)
        route = self._routes.get((method, path))
        if route is None:
            return 404, "text/plain; charset=utf-8", b"not found\n"
        return self._handle_api(route) if self.kind == "api" else self._handle_web(route)

    def _handle_control(self, method: str, body: bytes) -> tuple[int, str, bytes]:
        if method == "POST":
            try:
                update = json.loads(body or b"{}")
                error_ratio = float(update.get("error_ratio", self.control.error_ratio))
                latency_factor = float(update.get("latency_factor", self.control.latency_factor))
            except (ValueError, TypeError, AttributeError):
                return 400, "text/plain; charset=utf-8", b"expected JSON {error_ratio, latency_factor}\n"
            if not (0 <= error_ratio <= 1 and 0 < latency_factor <= 100):
                return 400, "text/plain; charset=utf-8", b"error_ratio: 0..1, latency_factor: 0..100\n"
            self.control = ApiControl(error_ratio, latency_factor)
        return 200, "application/json", json.dumps(self.control.as_dict()).encode()

    def _handle_api(self, route: traffic.Route) -> tuple[int, str, bytes]:
        control = self.control  # one consistent snapshot per request
        with self._rng_lock:
            delay = traffic.sample_latency(route.median_seconds * control.latency_factor, self._rng)
            fails = self._rng.random() < control.error_ratio
            code = self._rng.choice((500, 500, 503)) if fails else int(route.ok_code)
        time.sleep(delay)
        if fails:
            return code, "application/json", json.dumps({"error": "upstream database unavailable"}).encode()
        if route.path == "/api/orders":
            payload: Any = {"order": int(time.time() * 1000) % 1_000_000, "status": "accepted"}
        elif route.path == "/api/cart":
            payload = {"items": _PRODUCTS[:2], "total": _PRODUCTS[0]["price"] + _PRODUCTS[1]["price"]}
        elif route.path == "/api/featured":
            payload = {"featured": _PRODUCTS[3]}
        else:
            payload = {"products": _PRODUCTS}
        return code, "application/json", json.dumps(payload).encode()

    def _handle_web(self, route: traffic.Route) -> tuple[int, str, bytes]:
        with self._rng_lock:
            own_work = traffic.sample_latency(traffic.WEB_OWN_SECONDS, self._rng)
        time.sleep(own_work)
        assert route.api_call is not None and self.api_url is not None
        api_method, api_path = route.api_call
        request = urllib.request.Request(self.api_url + api_path, method=api_method,
                                         data=b"{}" if api_method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=API_CALL_TIMEOUT_SECONDS) as response:
                data = response.read()
        except urllib.error.HTTPError as error:
            error.close()
            return 502, "text/html; charset=utf-8", b"<h1>Bad gateway</h1><p>The shop api failed.</p>\n"
        except TimeoutError:
            return 504, "text/html; charset=utf-8", b"<h1>Gateway timeout</h1>\n"
        except OSError:
            return 502, "text/html; charset=utf-8", b"<h1>Bad gateway</h1><p>The shop api is down.</p>\n"
        page = f"<html><body><h1>Shop {route.path}</h1><p>{len(data)} bytes from the api</p></body></html>\n"
        return 200, "text/html; charset=utf-8", page.encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sampleapp", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["web", "api"])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--api-url", help="base URL of the api (required for web)")
    args = parser.parse_args(argv)
    if args.kind == "web" and not args.api_url:
        parser.error("web needs --api-url (the base URL of a running api)")
    app = SampleApp(args.kind, port=args.port, api_url=args.api_url).start()
    print(f"listening on {app.url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):  # a timed wait lets signal handlers run promptly
            pass
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
