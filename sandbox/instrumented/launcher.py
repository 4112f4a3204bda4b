"""Start and stop the instrumented apps of sandbox.instrumented, each its own process on a free port.

An app prints one JSON line once its port is bound ({"app": URL, "metrics": URL}); it is up once its
metrics URL answers 200. Each app is scraped as the Prometheus Operator's ServiceMonitor would scrape
it: target labels namespace, pod, service, endpoint (the Service's port name) and container, `job` the
Service's name, and no `app` label (the Operator copies pod labels only when told to).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sandbox._process import end_process, ready_line
from sandbox.prometheus.server import ScrapeTarget

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_DIR = HERE / "node"
START_TIMEOUT_SECONDS = 30.0
HTTP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Library:
    """One instrumentation library: how its app starts, the pod it plays, and its label names."""

    convention: str  # the name of the k8sdata.requests.conventions convention it proves
    command: tuple[str, ...]  # "{python}" stands for this interpreter
    namespace: str
    pod: str
    service: str
    endpoint: str  # the Service port's name the ServiceMonitor scrapes
    workload: str  # the pod's owner, as KAMS should name it (from the pod's name: no kube-state-metrics)
    #: The values the library gives our two routes in its path label (GET /orders/{id}, POST /orders).
    routes: tuple[str, str]
    #: Driven by sandbox.instrumented.driver; False for the Micrometer fixture, whose traffic is its own.
    driven: bool = True


PY = "{python}"
LIBRARIES: tuple[Library, ...] = (
    Library("fastapi-instrumentator", (PY, "-m", "sandbox.instrumented.asgi_apps", "fastapi-instrumentator"),
            "shop", "checkout-7d9c8b6f5d-x2k4p", "checkout", "http", "checkout",
            ("/orders/{order_id}", "/orders")),
    Library("starlette-exporter", (PY, "-m", "sandbox.instrumented.asgi_apps", "starlette-exporter"),
            "shop", "catalog-5f6d7c8b9-m4n7q", "catalog", "http", "catalog",
            ("/orders/{order_id}", "/orders")),
    Library("django-prometheus", (PY, "-m", "sandbox.instrumented.django_app"),
            "billing", "ledger-0", "ledger", "http", "ledger", ("order", "orders")),
    # The exporter serves on a port of its own, which the Service names `metrics`.
    Library("opentelemetry", (PY, "-m", "sandbox.instrumented.asgi_apps", "opentelemetry"),
            "shop", "cart-6b8f9d7c4-t5r2w", "cart", "metrics", "cart", ("/orders/{order_id}", "/orders")),
    # express-prom-bundle's path is the URL with id-like segments replaced (url-value-parser), not a route.
    Library("express-prom-bundle", ("node", str(NODE_DIR / "app.js")),
            "web", "storefront-84c7b9f6d-j8h4v", "storefront", "http", "storefront",
            ("/orders/#val", "/orders")),
    Library("micrometer", (PY, "-m", "sandbox.instrumented.micrometer"),
            "billing", "invoices-7c5d8f9b6-p2l9z", "invoices", "http", "invoices",
            ("/api/invoices/{id}", "/api/invoices"), driven=False),
)


def node_missing_reason() -> str | None:
    """Why the Express app cannot run here (no node, or its packages not installed), or None."""
    if shutil.which("node") is None:
        return "node is not installed (make test installs it: scripts/system-deps.sh nodejs npm)"
    if not (NODE_DIR / "node_modules" / "express-prom-bundle").is_dir():
        return f"{NODE_DIR.relative_to(ROOT)}/node_modules is missing (make test runs npm ci there)"
    return None


class InstrumentedApp:
    """One library's app as a child process; `url` and `metrics_url` once started."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.metrics_url = ""
        self._workdir = Path(tempfile.mkdtemp(prefix=f"kams-{library.convention}-"))
        self.log_path = self._workdir / "app.log"
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> InstrumentedApp:
        command = [sys.executable if part == PY else part for part in self.library.command]
        self._log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._log)
        deadline = time.monotonic() + timeout
        try:
            ready = json.loads(self._first_line(deadline))
            self.url, self.metrics_url = ready["app"], ready["metrics"]
            self._wait_for_metrics(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _first_line(self, deadline: float) -> str:
        assert self.process is not None
        return ready_line(self.process, deadline, f"{self.library.convention} app", self.log_tail)

    def _wait_for_metrics(self, deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.library.convention} app exited: {self.log_tail()}")
            try:
                self.scrape(timeout=1.0)
                return
            except OSError as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"{self.library.convention} /metrics did not answer: {last} {self.log_tail()}")

    def scrape(self, timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
        """The metrics page's text, as Prometheus gets it."""
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as response:
            return str(response.read().decode("utf-8"))

    def scrape_target(self) -> ScrapeTarget:
        """What a ServiceMonitor on this app's Service makes of it."""
        library = self.library
        address = self.metrics_url.removeprefix("http://").split("/", 1)[0]
        path = "/" + self.metrics_url.removeprefix("http://").split("/", 1)[1]
        return ScrapeTarget(job=library.service, address=address, metrics_path=path, labels={
            "namespace": library.namespace, "pod": library.pod, "service": library.service,
            "endpoint": library.endpoint, "container": library.service})

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self._workdir, ignore_errors=True)


@contextlib.contextmanager
def start_apps(libraries: Sequence[Library]) -> Iterator[dict[str, InstrumentedApp]]:
    """Every library's app, started side by side (imports take seconds each), stopped at the end."""
    apps = {library.convention: InstrumentedApp(library) for library in libraries}
    try:
        with ThreadPoolExecutor(max_workers=len(apps) or 1) as pool:
            for future in [pool.submit(app.start) for app in apps.values()]:
                future.result()
        yield apps
    finally:
        for app in apps.values():
            app.stop()


