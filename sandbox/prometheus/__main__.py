"""`python -m sandbox.prometheus`: the metrics side alone (sample apps, traffic, exporter, a backfilled
real Prometheus) for the demo pods, until Ctrl-C or SIGTERM. Prints where everything listens."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.cluster_loader import load_demo_objects
from sandbox.prometheus.demo import MetricsSandbox
from sandbox.prometheus.flavours import newest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.prometheus", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=26.0, help="hours of history to backfill")
    parser.add_argument("--traffic-scale", type=float, default=1.0, help="live traffic relative to the model")
    args = parser.parse_args(argv)
    pods = [obj for obj in load_demo_objects() if obj.get("kind") == "Pod"]
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    flavour = newest()
    if flavour is None:
        print("No Prometheus here: install Debian's prometheus package or run scripts/real-servers.sh "
              "prometheus", file=sys.stderr)
        return 1
    with MetricsSandbox(pods, traffic_scale=args.traffic_scale, backfill_hours=args.hours,
                        flavour=flavour) as metrics:
        assert metrics.prometheus is not None and metrics.exporter is not None
        print(f"Prometheus  {metrics.url}  ({flavour.name}, started in {metrics.startup_seconds:.1f}s, "
              f"{metrics.prometheus.backfill_result})", flush=True)
        for name, app in metrics.apps.items():
            print(f"sample app {name:4} {app.url}", flush=True)
        print(f"exporter    {metrics.exporter.url}/metrics", flush=True)
        try:
            while not stopped.wait(0.5):  # a timed wait lets signal handlers run promptly
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
