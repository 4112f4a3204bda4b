"""`python -m k8sdata pods [--context C] [--namespace NS] [--selector S] [--format table|csv|json]`"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from k8sdata.cli.output import add_kube_options, kube_from_args, write_frame
from k8sdata.config import Settings
from k8sdata.pods.frames import pods_frame

#: kubectl's table columns for `get pods -A`: (header, frame column).
POD_TABLE = [("NAMESPACE", "namespace"), ("NAME", "name"), ("READY", "ready"), ("STATUS", "status"),
             ("RESTARTS", "restarts_display"), ("AGE", "age")]


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = kube_from_args(args, settings)
    # Slim pods (k8sdata.pods.podshape): the table reads only fields they keep, at a fraction of the cost.
    frame = pods_frame(client.list_pods(namespace=args.namespace, label_selector=args.selector, slim=True))
    # Like kubectl: the NAMESPACE column only when listing across namespaces.
    table = POD_TABLE if not args.namespace else POD_TABLE[1:]
    write_frame(frame, args.format, table, out)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser("pods", help="list pods like `kubectl get pods -A`")
    add_kube_options(parser)
    parser.add_argument("--selector", "-l", help="label selector, e.g. app=web")
    parser.set_defaults(handler=run)
