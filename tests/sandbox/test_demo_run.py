"""`make run` without a kubeconfig: `python -m sandbox demo` serves the dashboard, and Ctrl-C stops
every process it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.prometheus.flavours import newest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(root: int) -> dict[int, str]:
    """Every process below `root`, even those that moved to a session of their own."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True)
    rows = [line.split(None, 2) for line in listing.stdout.splitlines()]
    children: dict[int, list[tuple[int, str]]] = {}
    for row in rows:
        if len(row) == 3:
            children.setdefault(int(row[1]), []).append((int(row[0]), row[2]))
    found: dict[int, str] = {}
    pending = [root]
    while pending:
        for pid, args in children.get(pending.pop(), []):
            found[pid] = args
            pending.append(pid)
    return found


def _alive(pids: dict[int, str]) -> list[str]:
    alive = []
    for pid, args in pids.items():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(args)
    return alive


def _wait_for_health(url: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the demo exited early with code {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within the deadline")


@pytest.mark.slow
def test_demo_serves_the_dashboard_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"KUBECONFIG", "PROMETHEUS_URL"}}
    log = (tmp_path / "demo.log").open("w+")
    # A new session stands in for the terminal: Ctrl-C signals the whole foreground group.
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "demo", "--port", str(port), "--workdir", str(tmp_path / "sbx")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        started = time.monotonic()
        _wait_for_health(f"http://localhost:{port}/_stcore/health", process, started + 90)
        assert time.monotonic() - started < 90
        started_processes = _descendants(process.pid)
        commands = " ".join(started_processes.values())
        assert "streamlit" in commands and "prometheus" in commands and "weed" in commands, commands
        assert "alertmanager" in commands, commands
        # The demo archives a snapshot right after start (in a thread); wait for its log line.
        deadline = time.monotonic() + 60
        while "snapshot archived:" not in (tmp_path / "demo.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.5)

        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        time.sleep(1)
        assert _alive(started_processes) == [], "processes left running after Ctrl-C"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.seek(0)
        output = log.read()
        log.close()
    assert "KAMS demo dashboard" in output
    preferred = newest()  # the demo runs the built Prometheus 3 where there is one
    assert preferred is not None
    assert re.search(rf"Prometheus: http://127\.0\.0\.1:\d+ \({re.escape(preferred.name)}\)", output), output
    assert "S3 (SeaweedFS): http://127.0.0.1:" in output
    assert "Alertmanager: http://127.0.0.1:" in output
    assert "Clair (stand-in): http://127.0.0.1:" in output
    assert "snapshot archived:" in output
