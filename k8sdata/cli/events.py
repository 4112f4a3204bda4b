"""`python -m k8sdata events [--context C] [--namespace NS] [--type Warning] [--format table|csv|json]`"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from k8sdata.cli.output import add_kube_options, kube_from_args, write_frame
from k8sdata.config import Settings
from k8sdata.frames import events_frame

EVENT_TABLE = [("NAMESPACE", "namespace"), ("LAST SEEN", "age"), ("TYPE", "type"), ("REASON", "reason"),
               ("OBJECT", "object"), ("MESSAGE", "message")]


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = kube_from_args(args, settings)
    frame = events_frame(client.list_events(namespace=args.namespace))
    if args.type:
        frame = frame[frame["type"] == args.type].reset_index(drop=True)
    frame = frame.iloc[::-1].reset_index(drop=True)  # kubectl prints oldest first
    table = EVENT_TABLE if not args.namespace else EVENT_TABLE[1:]
    write_frame(frame, args.format, table, out)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser("events", help="list events like `kubectl get events -A`")
    add_kube_options(parser)
    parser.add_argument("--type", choices=("Normal", "Warning"), help="only events of this type")
    parser.set_defaults(handler=run)
