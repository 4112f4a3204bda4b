"""Launcher for a real Alertmanager (Debian's prometheus-alertmanager 0.25, or the 0.3x a flavour of
sandbox.prometheus.flavours names) on a free loopback port.

    flavour = newest(Flavour.has_alertmanager) or DEBIAN
    with AlertmanagerServer(binary=flavour.alertmanager) as alertmanager:
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
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sandbox.prometheus.flavours import DEBIAN, Flavour, newest
from sandbox.prometheus.server import LoopbackProcess

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


class AlertmanagerServer(LoopbackProcess):
    """A real Alertmanager; `.url`, `.get_json(path)`, `.post_json(path, body)`, `.start()`, `.stop()`."""

    name = "Alertmanager"
    start_error = AlertmanagerError

    def __init__(self, *, config: dict[str, Any] | None = None, binary: Path = DEBIAN.alertmanager,
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
        if not self.binary.exists():
            hint = ("Debian package prometheus-alertmanager" if self.binary == DEBIAN.alertmanager
                    else "scripts/real-servers.sh alertmanager builds it")
            raise AlertmanagerError(f"{self.binary} is not installed ({hint})")
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

    def _launch(self, config_path: Path) -> None:
        assert self._workdir is not None
        data_dir = self._workdir / "data"
        self._launch_on_free_port(lambda port: [
            str(self.binary), f"--config.file={config_path}", f"--storage.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"])

    def _probe(self) -> bool:
        """This port answers Alertmanager's status API."""
        return "versionInfo" in self.get_json("/api/v2/status", timeout=1.0)


def main() -> int:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    flavour = newest(Flavour.has_alertmanager) or DEBIAN
    with AlertmanagerServer(binary=flavour.alertmanager) as alertmanager:
        print(f"Alertmanager {alertmanager.url}", flush=True)
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
