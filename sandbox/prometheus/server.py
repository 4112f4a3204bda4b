"""Launcher for a real Prometheus (Debian's 2.42 or a built 3.x: sandbox.prometheus.flavours) on a free
loopback port.

Order matters: the history is backfilled into a fresh data dir *before* the server starts (the server
loads blocks at start-up), then the server scrapes live, and it is declared ready only once every
target's first scrape has landed (`up` has a sample for each), so callers never see an empty server.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from sandbox._process import end_process
from sandbox.demo_names import CLUSTER_NAME
from sandbox.prometheus.backfill import BackfillResult, BackfillSource
from sandbox.prometheus.backfill import backfill as run_backfill
from sandbox.prometheus.flavours import DEBIAN, Flavour

RULES_FILE = Path(__file__).with_name("rules.yml")
HTTP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ScrapeTarget:
    """One static scrape target. `labels` become target labels (namespace, pod, app, instance...)."""

    job: str
    address: str  # host:port
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    honor_labels: bool = False


class PrometheusError(RuntimeError):
    pass


class LoopbackProcess:
    """A server binary on a free 127.0.0.1 port, logging to a file: started again on another port when
    some other program took the port first, declared up by a readiness probe, stopped gently (then
    killed). PrometheusServer and sandbox.alertmanager.AlertmanagerServer share it.

    Subclasses set `name`, `start_error`, `startup_timeout`, and provide `log_path` and `_probe()`.
    """

    name = "server"
    start_error: type[RuntimeError] = RuntimeError
    startup_timeout: float = 30.0
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None
    _log_handle: Any = None
    _workdir: Path | None = None  # a fresh temporary folder per start, removed by stop()

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop_process()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    def _probe(self) -> bool:
        """True once the port answers as this kind of server (may raise OSError/ValueError/RuntimeError)."""
        raise NotImplementedError

    def _launch_on_free_port(self, command: Callable[[int], list[str]], attempts: int = 3) -> None:
        last_error = ""
        for _attempt in range(attempts):
            port = free_port()
            self._log_handle = self.log_path.open("ab")
            self.process = subprocess.Popen(command(port), stdout=self._log_handle, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
            self.port = port
            if self._wait_until_ready():
                return
            last_error = self._log_tail()
            self._stop_process()
            if "address already in use" not in last_error:
                break  # not a port race: retrying would only fail the same way
        raise self.start_error(f"{self.name} did not start: {last_error}")

    def _wait_until_ready(self) -> bool:
        """True once the probe succeeds while our process is still the one running."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                if self._probe():
                    return True
            except (OSError, ValueError, RuntimeError):
                pass
            time.sleep(0.1)
        return False

    def _stop_process(self) -> None:
        if self.process is not None:
            end_process(self.process, grace=10)
            self.process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        self.port = None

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""


def free_port() -> int:
    """A port the kernel just handed out; it may be taken again before we use it, so callers retry."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape_timeout(scrape_interval: str) -> str:
    """4 s, or the interval when shorter: Prometheus refuses a timeout longer than the interval (the
    instrumented-library tests scrape every second)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    number = scrape_interval.rstrip("smh")
    seconds = float(number) * units[scrape_interval[len(number):]]
    return scrape_interval if seconds < 4 else "4s"


def render_config(targets: Sequence[ScrapeTarget], *, scrape_interval: str, evaluation_interval: str,
                  rule_files: Sequence[Path], alertmanagers_file: Path | None = None,
                  query_log_file: Path | None = None) -> dict[str, Any]:
    """prometheus.yml as a dict: one scrape config per (job, path, honor_labels), static targets, and,
    with `alertmanagers_file`, Alertmanagers discovered from that file (file_sd: Prometheus watches it,
    so an Alertmanager started later is picked up without a reload)."""
    jobs: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    for target in targets:
        jobs.setdefault((target.job, target.metrics_path, target.honor_labels), []).append(
            {"targets": [target.address], "labels": dict(target.labels)})
    names = [job for job, _path, _honor in jobs]
    scrape_configs = []
    for (job, path, honor), statics in jobs.items():
        # Prometheus wants unique job_name values; the `job` label itself is what users see.
        job_name = job if names.count(job) == 1 else f"{job}{path.replace('/', '-')}"
        config: dict[str, Any] = {"job_name": job_name, "metrics_path": path, "honor_labels": honor,
                                  "scrape_interval": scrape_interval,
                                  "scrape_timeout": scrape_timeout(scrape_interval),
                                  "static_configs": statics}
        if job_name != job:
            config["relabel_configs"] = [{"target_label": "job", "replacement": job}]
        scrape_configs.append(config)
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                   "external_labels": {"cluster": CLUSTER_NAME},
                   # Every query the HTTP API answers, one JSON line each: tests read what KAMS asked.
                   **({"query_log_file": str(query_log_file)} if query_log_file else {})},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": scrape_configs,
    }
    if alertmanagers_file is not None:
        config["alerting"] = {"alertmanagers": [{
            "api_version": "v2", "timeout": "5s",
            "file_sd_configs": [{"files": [str(alertmanagers_file)], "refresh_interval": "5s"}],
        }]}
    return config


class PrometheusServer(LoopbackProcess):
    """A real Prometheus with optional backfilled history and the demo alert rules.

    `with PrometheusServer(targets, backfill=[...]) as prom: prom.url` -> http://127.0.0.1:PORT
    """

    name = "Prometheus"
    start_error = PrometheusError

    def __init__(self, scrape_targets: Sequence[ScrapeTarget], *, backfill: Sequence[BackfillSource] = (),
                 backfill_hours: float = 26.0, data_dir: Path | None = None, rules: bool | Path = True,
                 scrape_interval: str = "5s", evaluation_interval: str = "5s",
                 retention: str = "3650d", flavour: Flavour = DEBIAN, startup_timeout: float = 30.0,
                 wait_for_targets: bool = True, web_config: Mapping[str, Any] | None = None,
                 ca_file: Path | None = None, extra_flags: Sequence[str] = ()) -> None:
        """`web_config` is Prometheus' --web.config.file content (e.g. tls_server_config);
        with TLS, `ca_file` is the CA this launcher trusts for its own readiness checks. `extra_flags`
        go to the command line as given (e.g. --web.enable-remote-write-receiver)."""
        self.scrape_targets = list(scrape_targets)
        self.backfill_sources = list(backfill)
        self.backfill_hours = backfill_hours
        self._own_dir = data_dir is None
        self._given_dir = data_dir
        self.rules_file: Path | None = (RULES_FILE if rules is True else Path(rules) if rules else None)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.retention = retention
        self.flavour = flavour
        self.startup_timeout = startup_timeout
        self.wait_for_targets = wait_for_targets
        self.web_config = dict(web_config) if web_config else None
        self.extra_flags = list(extra_flags)
        self._ssl_context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.backfill_result: BackfillResult | None = None
        self.startup_seconds: float | None = None
        self._workdir: Path | None = None
        self._log_handle: Any = None

    # -- public surface ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("Prometheus is not running")
        scheme = "https" if self.web_config and "tls_server_config" in self.web_config else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        assert self._workdir is not None
        return self._given_dir if self._given_dir is not None else self._workdir / "data"

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "prometheus.log"

    def start(self) -> PrometheusServer:
        began = time.monotonic()
        self._workdir = Path(tempfile.mkdtemp(prefix="kams-prometheus-"))
        try:
            data_dir = self.data_dir
            if data_dir.exists() and any(data_dir.iterdir()):
                raise PrometheusError(f"data dir {data_dir} is not empty; backfill needs a fresh one")
            data_dir.mkdir(parents=True, exist_ok=True)
            if self.backfill_sources:
                self.backfill_result = run_backfill(self.backfill_sources, data_dir,
                                                    hours=self.backfill_hours, scratch_dir=self._workdir,
                                                    promtool=str(self.flavour.promtool))
            config_path = self._workdir / "prometheus.yml"
            rule_files = [self.rules_file] if self.rules_file else []
            self.send_alerts_to()  # no Alertmanager yet: an empty target list for file_sd to watch
            config = render_config(self.scrape_targets, scrape_interval=self.scrape_interval,
                                   evaluation_interval=self.evaluation_interval, rule_files=rule_files,
                                   alertmanagers_file=self.alertmanagers_file,
                                   query_log_file=self.query_log_path)
            config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            self._launch(config_path, data_dir)
            if self.wait_for_targets:
                self._wait_for_first_scrapes()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    @property
    def query_log_path(self) -> Path:
        """Prometheus' query log: one JSON object per line, the query under params.query."""
        assert self._workdir is not None
        return self._workdir / "queries.log"

    def query_log_lines(self) -> int:
        """How many lines the query log has: a mark for logged_queries(since=...)."""
        try:
            return len(self.query_log_path.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:
            return 0

    def logged_queries(self, since: int = 0) -> list[str]:
        """The queries clients sent through the HTTP API, logged after the first `since` lines."""
        try:
            lines = self.query_log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = [json.loads(line) for line in lines[since:] if line]
        # Rule evaluations are logged too (with ruleGroup); only the HTTP API's come from a client.
        return [str(entry.get("params", {}).get("query", "")) for entry in entries if "httpRequest" in entry]

    @property
    def alertmanagers_file(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "alertmanagers.json"

    def send_alerts_to(self, *alertmanager_addresses: str) -> None:
        """Point this Prometheus' alerts at these Alertmanagers (host:port or http URLs; none = stop).

        Written atomically (rename), since Prometheus watches the file and may read it at any moment.
        Firing alerts reach a new Alertmanager within the resend delay (5 s here)."""
        hosts = [address.removeprefix("http://").rstrip("/") for address in alertmanager_addresses]
        groups = [{"targets": hosts, "labels": {}}] if hosts else []
        scratch = self.alertmanagers_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(groups), encoding="utf-8")
        scratch.replace(self.alertmanagers_file)

    def alertmanagers(self) -> list[str]:
        """URLs of the Alertmanagers Prometheus currently sends to (/api/v1/alertmanagers)."""
        data = self.get_json("/api/v1/alertmanagers")
        return [entry["url"] for entry in data.get("activeAlertmanagers") or []]

    def get_json(self, path: str, params: Mapping[str, str | float] | None = None,
                 timeout: float = HTTP_TIMEOUT_SECONDS) -> Any:
        """GET an API path (e.g. /api/v1/query) and return its `data`, raising on error status."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=timeout,
                                    context=self._ssl_context) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | float] = {"query": promql}
        if at is not None:
            params["time"] = at
        return list(self.get_json("/api/v1/query", params)["result"])

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": promql, "start": start, "end": end, "step": step}
        data = self.get_json("/api/v1/query_range", params)
        return list(data["result"])

    # -- start-up ---------------------------------------------------------------------------------

    def _launch(self, config_path: Path, data_dir: Path) -> None:
        assert self._workdir is not None
        web_flags = []
        if self.web_config:
            web_config_path = self._workdir / "web.yml"
            web_config_path.write_text(yaml.safe_dump(self.web_config), encoding="utf-8")
            web_flags = [f"--web.config.file={web_config_path}"]
        self._launch_on_free_port(lambda port: [
            str(self.flavour.prometheus), f"--config.file={config_path}", f"--storage.tsdb.path={data_dir}",
            *web_flags,
            f"--storage.tsdb.retention.time={self.retention}", f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle", "--log.level=warn",
            # Resend firing alerts every 5 s instead of every minute, so an Alertmanager that starts
            # after Prometheus (the demo, the test fixture) has them within seconds.
            "--rules.alert.resend-delay=5s", *self.extra_flags])

    def _probe(self) -> bool:
        """This port answers like a Prometheus."""
        return "version" in self.get_json("/api/v1/status/buildinfo", timeout=1.0)

    def _wait_for_first_scrapes(self) -> None:
        """Poll `up` until every target has been scraped once (up == 0 counts: it was scraped).

        This takes 5-10 s: Prometheus hands targets to its scrape manager on a 5 s tick (not
        configurable below 5 s), and each target's first scrape waits a random offset within its
        interval. Starting with 1 s scrapes and reloading the config with 5 s was tried: the reload
        drops and re-adds the targets, leaving a ~2 s hole in `up` a few seconds later.
        """
        deadline = time.monotonic() + self.startup_timeout
        expected = len(self.scrape_targets)
        seen = 0
        while time.monotonic() < deadline:
            try:
                seen = len(self.query("up"))
            except (OSError, ValueError, PrometheusError):
                seen = 0
            if seen >= expected:
                return
            time.sleep(0.25)
        raise PrometheusError(f"only {seen} of {expected} targets scraped within {self.startup_timeout}s")
