"""python -m sandbox demo [--port 8501]: start the sandbox and serve the dashboard against it.

Ctrl-C (or SIGTERM) stops the dashboard and every server the sandbox started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sandbox.stack import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def _serve_dashboard(sandbox: Sandbox, port: int) -> int:
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
               "--server.headless", "true",
               # The demo binds to this machine only; a real deployment serves through its Service.
               "--server.address", "localhost", "--browser.gatherUsageStats", "false"]
    dashboard = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **sandbox.env()})
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while dashboard.poll() is None and not stop_requested:
        time.sleep(0.3)
    if dashboard.poll() is None:
        dashboard.terminate()
        try:
            dashboard.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dashboard.kill()
    return 0 if stop_requested else (dashboard.returncode or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the sandbox and serve the dashboard")
    demo.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    demo.add_argument("--workdir", type=Path, default=None, help="where the sandbox keeps its files")
    servers = commands.add_parser("servers", help="start the sandbox only and print how to reach it")
    servers.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    print("Starting the KAMS sandbox (stand-in Kubernetes API, Prometheus with a day of history, S3)...",
          flush=True)
    with Sandbox(args.workdir) as sandbox:  # None: Sandbox makes a temporary folder
        print(sandbox.describe(), flush=True)
        print(f"Started in {sandbox.startup_seconds:.1f} s.", flush=True)
        if args.command == "demo":
            print(f"\nKAMS demo dashboard: http://localhost:{args.port}   (Ctrl-C stops everything)\n",
                  flush=True)
            return _serve_dashboard(sandbox, args.port)
        for key, value in sandbox.env().items():
            print(f"export {key}={value}")
        # Block the signals so that sigwait, not the default handler, receives them.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())
