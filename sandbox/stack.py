"""The whole sandbox in one object: stand-in API server, metrics side with real Prometheus and
Alertmanager (Prometheus sends its alerts there), real S3.

    with Sandbox(workdir) as sandbox:
        subprocess.run([...], env={**os.environ, **sandbox.env()})

`make run` (through `python -m sandbox demo`) uses it to serve the demo. Each real server is optional
in the sense that a missing binary is reported and the rest keeps running, because the dashboard itself
must cope with a missing Prometheus or S3.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.cluster_loader import load_demo_objects
from sandbox.life import ClusterLife

PODS = ("", "pods")


class Sandbox:
    """Starts the demo cluster's servers; `env()` points KAMS at them."""

    def __init__(self, workdir: Path | None = None, *, with_prometheus: bool = True,
                 with_s3: bool = True, traffic_scale: float = 1.0) -> None:
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kams-sandbox-"))
        self.with_prometheus = with_prometheus
        self.with_s3 = with_s3
        self.traffic_scale = traffic_scale
        self.api: ApiServer | None = None
        self.metrics: Any = None
        self.s3: Any = None
        self.alertmanager: Any = None
        self.life: ClusterLife | None = None
        #: Components that could not start, with the reason (shown to the person running the demo).
        self.missing: dict[str, str] = {}
        self.startup_seconds: float | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin-kubeconfig"

    def pods(self) -> list[dict[str, Any]]:
        """The API server's live pods, so the exporter reports what the cluster serves."""
        assert self.api is not None
        return self.api.store.objects(PODS)

    def start(self) -> Sandbox:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.api = ApiServer(load_demo_objects()).start()
            self.api.write_kubeconfig(self.kubeconfig, demo_names.READER_TOKEN)
            self.api.write_kubeconfig(self.admin_kubeconfig, demo_names.ADMIN_TOKEN)
            self.life = ClusterLife(self.api.store).start()
            if self.with_s3:
                self._start_s3()
            if self.with_prometheus:
                self._start_metrics()
                self._start_alertmanager()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _start_s3(self) -> None:
        from sandbox.seaweed import SeaweedS3

        try:
            self.s3 = SeaweedS3(self.workdir / "s3").start()
        except (FileNotFoundError, RuntimeError) as error:
            self.missing["S3 (SeaweedFS)"] = str(error)

    def _start_metrics(self) -> None:
        if not shutil.which("prometheus") or not shutil.which("promtool"):
            self.missing["Prometheus"] = "Debian's prometheus package is not installed"
            return
        from sandbox.prometheus import MetricsSandbox

        try:
            self.metrics = MetricsSandbox(self.pods, traffic_scale=self.traffic_scale).start()
        except RuntimeError as error:
            self.missing["Prometheus"] = str(error)

    def _start_alertmanager(self) -> None:
        if self.metrics is None:
            return
        from sandbox.alertmanager import AlertmanagerError, AlertmanagerServer

        try:
            self.alertmanager = AlertmanagerServer().start()
        except AlertmanagerError as error:
            self.missing["Alertmanager"] = str(error)
            return
        self.metrics.prometheus.send_alerts_to(self.alertmanager.address)

    def env(self) -> dict[str, str]:
        """Environment for KAMS (website or CLI) to monitor this sandbox."""
        environment = {"KUBECONFIG": str(self.kubeconfig), "KAMS_DEMO": "1"}
        if self.metrics is not None:
            environment["PROMETHEUS_URL"] = self.metrics.url
        if self.alertmanager is not None:
            environment["ALERTMANAGER_URL"] = self.alertmanager.url
        if self.s3 is not None:
            environment.update(self.s3.env())
        return environment

    def describe(self) -> str:
        lines = [f"Kubernetes API (stand-in): {self.api.url if self.api else 'not running'}",
                 f"  kubectl --kubeconfig {self.admin_kubeconfig} get pods -A"]
        if self.metrics is not None:
            lines.append(f"Prometheus: {self.metrics.url}")
        if self.alertmanager is not None:
            lines.append(f"Alertmanager: {self.alertmanager.url}")
        if self.s3 is not None:
            lines.append(f"S3 (SeaweedFS): {self.s3.endpoint_url} bucket {self.s3.bucket}")
        lines += [f"{name}: not started ({reason})" for name, reason in self.missing.items()]
        return "\n".join(lines)

    def stop(self) -> None:
        for component in (self.alertmanager, self.metrics, self.s3, self.life, self.api):
            if component is None:
                continue
            try:
                component.stop()
            except Exception as error:  # keep stopping the others; report what failed
                print(f"sandbox: stopping {type(component).__name__} failed: {error}", file=sys.stderr)
        self.alertmanager = self.metrics = self.s3 = self.life = self.api = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
