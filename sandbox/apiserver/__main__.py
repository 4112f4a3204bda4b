"""python -m sandbox.apiserver [--host H] [--port P] [--demo] [--synthetic-pods N] [--kubeconfig-out PATH]
[--admin-kubeconfig-out PATH]

Prints the server URL as the first line of stdout, then serves until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from sandbox import demo_names

from .server import ApiServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.apiserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("--demo", action="store_true", help="serve the demo cluster (sandbox/cluster/*.yaml)")
    parser.add_argument("--synthetic-pods", type=int, default=0, metavar="N", help="add N generated pods")
    parser.add_argument(
        "--kubeconfig-out", metavar="PATH", help="write a kubeconfig with the read-only token"
    )
    parser.add_argument(
        "--admin-kubeconfig-out", metavar="PATH", help="write a kubeconfig with the admin token"
    )
    args = parser.parse_args(argv)

    objects: list[dict[str, Any]] = []
    if args.demo:
        from sandbox.cluster_loader import load_demo_objects

        objects = load_demo_objects()
    server = ApiServer(objects, host=args.host, port=args.port, synthetic_pods=args.synthetic_pods).start()
    print(server.url, flush=True)
    if args.kubeconfig_out:
        server.write_kubeconfig(args.kubeconfig_out, demo_names.READER_TOKEN)
    if args.admin_kubeconfig_out:
        server.write_kubeconfig(args.admin_kubeconfig_out, demo_names.ADMIN_TOKEN)

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
