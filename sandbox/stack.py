"""The whole sandbox in one object: stand-in API server, metrics side with real Prometheus and
Alertmanager (Prometheus sends its alerts there), real S3.

    with Sandbox(workdir) as sandbox:
        subprocess.run([...], env={**os.environ, **sandbox.env()})

`make run` (through `python -m sandbox demo`) uses it to serve the demo. Each real server is optional
in the sense that a missing binary is reported and the rest keeps running, because the dashboard itself
must cope with a missing Prometheus or S3.

With S3 running, the demo archives a snapshot (k8sdata.archive.snapshot, the same tables the kams-snapshot
CronJob writes) right after start and then every `snapshot_interval` seconds (5 minutes), so the
archive and the Security page's score trend have data. A failed snapshot is logged, never fatal.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.cluster_loader import load_demo_objects
from sandbox.life import ClusterLife

PODS = ("", "pods")
#: How often the demo archives a snapshot (a real installation's CronJob: every 15 minutes).
SNAPSHOT_INTERVAL_SECONDS = 300.0


def _log(line: str) -> None:
    print(f"sandbox: {line}", file=sys.stderr, flush=True)


class Snapshotter:
    """Calls `take` now and then every `interval` seconds in a daemon thread until stop().

    `take` returns a line to log; whatever it raises is logged too, and the next run still comes (a
    snapshot must never take the demo down)."""

    def __init__(self, take: Callable[[], str], interval: float = SNAPSHOT_INTERVAL_SECONDS) -> None:
        self.take = take
        self.interval = interval
        self.runs = 0
        self.failures = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kams-demo-snapshots", daemon=True)

    def start(self) -> Snapshotter:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                _log(self.take())
            except Exception as error:  # logged, and the demo goes on
                self.failures += 1
                _log(f"snapshot failed: {type(error).__name__}: {getattr(error, 'sentence', error)}")
            self.runs += 1
            self._stopping.wait(self.interval)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the snapshot in progress (each of its requests has a timeout)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


class Sandbox:
    """Starts the demo cluster's servers; `env()` points KAMS at them."""

    def __init__(self, workdir: Path | None = None, *, with_prometheus: bool = True,
                 with_s3: bool = True, traffic_scale: float = 1.0,
                 snapshot_interval: float | None = SNAPSHOT_INTERVAL_SECONDS) -> None:
        """`snapshot_interval`: seconds between archived snapshots (None: take none)."""
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kams-sandbox-"))
        self.with_prometheus = with_prometheus
        self.with_s3 = with_s3
        self.traffic_scale = traffic_scale
        self.snapshot_interval = snapshot_interval
        self.snapshots: Snapshotter | None = None
        self.api: ApiServer | None = None
        self.metrics: Any = None
        self.s3: Any = None
        self.alertmanager: Any = None
        self.clair: Any = None
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
            self._start_clair()
            if self.with_s3:
                self._start_s3()
            if self.with_prometheus:
                self._start_metrics()
                self._start_alertmanager()
            self._start_snapshots()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _start_clair(self) -> None:
        # Clair cannot run here (no container engine, not packaged): a stand-in answers for the demo's
        # images, like the Kubernetes API's.
        from sandbox.clair import ClairStandIn

        self.clair = ClairStandIn().start()

    def _start_s3(self) -> None:
        from sandbox.seaweed import SeaweedS3

        try:
            self.s3 = SeaweedS3(self.workdir / "s3").start()
        except (FileNotFoundError, RuntimeError) as error:
            self.missing["S3 (SeaweedFS)"] = str(error)

    def _start_metrics(self) -> None:
        from sandbox.prometheus import MetricsSandbox
        from sandbox.prometheus.flavours import newest

        flavour = newest()
        if flavour is None:
            self.missing["Prometheus"] = ("Debian's prometheus package is not installed, and "
                                          "scripts/real-servers.sh prometheus has not built one")
            return
        try:
            self.metrics = MetricsSandbox(self.pods, traffic_scale=self.traffic_scale,
                                          flavour=flavour).start()
        except RuntimeError as error:
            self.missing["Prometheus"] = str(error)

    def _start_alertmanager(self) -> None:
        if self.metrics is None:
            return
        from sandbox.alertmanager import AlertmanagerError, AlertmanagerServer
        from sandbox.prometheus.flavours import Flavour, newest

        # The Prometheus' own flavour's when it has one, since that is the pair tested together.
        flavour = self.metrics.flavour if self.metrics.flavour.has_alertmanager() else newest(
            Flavour.has_alertmanager)
        if flavour is None:
            self.missing["Alertmanager"] = "Debian's prometheus-alertmanager package is not installed"
            return
        try:
            self.alertmanager = AlertmanagerServer(binary=flavour.alertmanager).start()
        except AlertmanagerError as error:
            self.missing["Alertmanager"] = str(error)
            return
        self.metrics.prometheus.send_alerts_to(self.alertmanager.address)

    def _start_snapshots(self) -> None:
        if self.snapshot_interval is None:
            return
        if self.s3 is None:
            _log("no snapshots are archived: S3 is not running")
            return
        self.snapshots = Snapshotter(self.take_snapshot, self.snapshot_interval).start()

    def take_snapshot(self) -> str:
        """Archive one snapshot of the demo into its S3; return what was written, as a log line."""
        import boto3

        from k8sdata.archive.snapshot import NOTES_TABLE, cluster_name, take_snapshot
        from k8sdata.archive.spool import Spool, deliver_snapshot
        from k8sdata.config import Settings
        from k8sdata.sources.archive import S3Archive
        from k8sdata.sources.kube import KubeClient
        from k8sdata.sources.prom import client_from_settings

        store = self.s3
        if store is None:
            raise RuntimeError("S3 is not running")
        settings = Settings.from_env({**self.env(), "HOME": str(self.workdir)})
        # boto3's chain would read this process's environment, which does not hold the demo's keys.
        session = boto3.session.Session(aws_access_key_id=store.access_key,
                                        aws_secret_access_key=store.secret_key, region_name=store.region)
        archive = S3Archive(settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=store.endpoint_url,
                            timeout=settings.request_timeout, session=session)
        kube = KubeClient(settings)
        prom = client_from_settings(settings) if settings.prometheus_url else None
        at = datetime.now(UTC).replace(microsecond=0)
        try:
            tables = take_snapshot(kube, prom, settings, at=at)
        finally:
            kube.close()
            if prom is not None:
                prom.close()
        # Spooled (S3 down) raises with its sentence, which the Snapshotter logs; the next one uploads it.
        delivery = deliver_snapshot(archive, Spool.from_settings(settings), tables,
                                    cluster_name(settings, None), kube.context, at)
        keys = delivery.keys
        notes = len(tables[NOTES_TABLE]) if NOTES_TABLE in tables else 0
        backlog = len(delivery.drained.uploaded)
        return (f"snapshot archived: {len(keys) - 1} tables, manifest s3://{store.bucket}/{keys[-1]}"
                + (f" ({notes} note(s))" if notes else "")
                + (f"; {backlog} spooled snapshot(s) uploaded first" if backlog else ""))

    def env(self) -> dict[str, str]:
        """Environment for KAMS (website or CLI) to monitor this sandbox."""
        # One spool for the demo's snapshotter and its website, so the Connections panel counts its backlog.
        environment = {"KUBECONFIG": str(self.kubeconfig), "KAMS_DEMO": "1",
                       "KAMS_SPOOL_DIR": str(self.workdir / "spool")}
        if self.metrics is not None:
            environment["PROMETHEUS_URL"] = self.metrics.url
        if self.alertmanager is not None:
            environment["ALERTMANAGER_URL"] = self.alertmanager.url
        if self.clair is not None:
            environment["CLAIR_URL"] = self.clair.url
        if self.s3 is not None:
            environment.update(self.s3.env())
        return environment

    def describe(self) -> str:
        lines = [f"Kubernetes API (stand-in): {self.api.url if self.api else 'not running'}",
                 f"  kubectl --kubeconfig {self.admin_kubeconfig} get pods -A"]
        if self.metrics is not None:
            lines.append(f"Prometheus: {self.metrics.url} ({self.metrics.flavour.name})")
        if self.alertmanager is not None:
            lines.append(f"Alertmanager: {self.alertmanager.url}")
        if self.clair is not None:
            lines.append(f"Clair (stand-in): {self.clair.url}")
        if self.s3 is not None:
            lines.append(f"S3 (SeaweedFS): {self.s3.endpoint_url} bucket {self.s3.bucket}")
        if self.snapshots is not None:
            lines.append(f"Snapshots: into S3 now and every {self.snapshots.interval / 60:g} minutes")
        lines += [f"{name}: not started ({reason})" for name, reason in self.missing.items()]
        return "\n".join(lines)

    def stop(self) -> None:
        if self.snapshots is not None:  # first: it talks to the servers stopped below
            self.snapshots.stop()
            self.snapshots = None
        for component in (self.alertmanager, self.metrics, self.s3, self.clair, self.life, self.api):
            if component is None:
                continue
            try:
                component.stop()
            except Exception as error:  # keep stopping the others; report what failed
                print(f"sandbox: stopping {type(component).__name__} failed: {error}", file=sys.stderr)
        self.alertmanager = self.metrics = self.s3 = self.clair = self.life = self.api = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
