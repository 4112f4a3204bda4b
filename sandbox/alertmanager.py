"""Launcher for a real Alertmanager (Debian's prometheus-alertmanager 0.25) on a free loopback port.

    with AlertmanagerServer() as alertmanager:
        prometheus_server.send_alerts_to(alertmanager.url)
        alertmanager.url  # http://127.0.0.1:PORT, API v2 under /api/v2/

Each run gets a fresh data dir (silences and the notification log live there) and clustering is off
(`--cluster.listen-address=`), so nothing listens beyond the one HTTP port. The configuration routes
every alert to a receiver without integrations (the demo must not send mail) and inhibits an
application's warnings while a critical alert fires for it, as a production setup typically does, so
the Alerts page has an inhibited alert to show during the demo's daily error burst.

`python -m sandbox.alertmanager` runs one until Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sandbox.prometheus.server import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
HTTP_TIMEOUT_SECONDS = 5.0

#: The demo configuration (also what the tests run against).
DEMO_CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "kams-demo",
        "group_by": ["alertname", "namespace"],
        # Short waits, so alerts show up in the demo and in tests within seconds.
        "group_wait": "1s",
        "group_interval": "5s",
        "repeat_interval": "1h",
    },
    "receivers": [{"name": "kams-demo"}],  # no integrations: alerts are only held and shown
    "inhibit_rules": [{
        "source_matchers": ["severity=critical"],
        "target_matchers": ["severity=warning"],
        "equal": ["namespace", "app"],
    }],
}


class AlertmanagerError(RuntimeError):
    pass


class AlertmanagerServer:
    """A real Alertmanager; `.url`, `.get_json(path)`, `.post_json(path, body)`, `.start()`, `.stop()`."""

    def __init__(self, *, config: dict[str, Any] | None = None, binary: str = ALERTMANAGER,
                 startup_timeout: float = 20.0) -> None:
        self.config = config if config is not None else DEMO_CONFIG
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log_handle: Any = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise AlertmanagerError("Alertmanager is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """host:port, the form Prometheus' alertmanager service discovery wants."""
        return self.url.removeprefix("http://")

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "alertmanager.log"

    def start(self) -> AlertmanagerServer:
        if not Path(self.binary).exists():
            raise AlertmanagerError(f"{self.binary} is not installed "
                                    "(Debian package prometheus-alertmanager)")
        self._workdir = Path(tempfile.mkdtemp(prefix="kams-alertmanager-"))
        try:
            config_path = self._workdir / "alertmanager.yml"
            config_path.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
            (self._workdir / "data").mkdir()
            self._launch(config_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._terminate_process()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def get_json(self, path: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.load(response)

    def post_json(self, path: str, body: Any, timeout: float = HTTP_TIMEOUT_SECONDS) -> Any:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    # -- start-up -----------------------------------------------------------------------------------

    def _launch(self, config_path: Path, attempts: int = 3) -> None:
        assert self._workdir is not None
        last_error = ""
        for _attempt in range(attempts):
            port = free_port()
            self._log_handle = self.log_path.open("ab")
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={config_path}", f"--storage.path={self._workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
                stdout=self._log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.port = port
            if self._wait_until_ready():
                return
            last_error = self._log_tail()
            self._terminate_process()
            if "address already in use" not in last_error:
                break  # not a port race: retrying would fail the same way
        raise AlertmanagerError(f"Alertmanager did not start: {last_error}")

    def _wait_until_ready(self) -> bool:
        """True once this port answers Alertmanager's status API (and our process still runs)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                status = self.get_json("/api/v2/status", timeout=1.0)
                if "versionInfo" in status:
                    return True
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        return False

    def _terminate_process(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
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


def main() -> int:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with AlertmanagerServer() as alertmanager:
        print(f"Alertmanager {alertmanager.url}", flush=True)
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
