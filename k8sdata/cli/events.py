"""`python -m k8sdata events [--context C] [--namespace NS] [--type Warning] [--kind Pod] [--reason R]
[--security] [--format table|csv|json]`"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from k8sdata.cli.output import add_kube_options, kube_from_args, write_frame
from k8sdata.config import Settings
from k8sdata.logs.events import SECURITY_CATEGORIES, filter_events, security_events
from k8sdata.pods.frames import events_frame

EVENT_TABLE = [("NAMESPACE", "namespace"), ("LAST SEEN", "age"), ("TYPE", "type"), ("REASON", "reason"),
               ("OBJECT", "object"), ("MESSAGE", "message")]
#: With --security the category comes before the message (the column people scan).
SECURITY_TABLE = [*EVENT_TABLE[:-1], ("CATEGORY", "category"), EVENT_TABLE[-1]]


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = kube_from_args(args, settings)
    frame = events_frame(client.list_events(namespace=args.namespace))
    frame = filter_events(frame, types=[args.type] if args.type else (), kinds=args.kind or (),
                          reasons=args.reason or ())
    table = EVENT_TABLE
    if args.security:
        frame = security_events(frame)
        table = SECURITY_TABLE
    frame = frame.iloc[::-1].reset_index(drop=True)  # kubectl prints oldest first
    if args.namespace:
        table = table[1:]
    write_frame(frame, args.format, table, out)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "events", help="list events like `kubectl get events -A`",
        description="Events of the cluster, oldest first. Kubernetes keeps events for about an hour; "
                    "the KAMS archive (snapshots to S3) keeps them longer.")
    add_kube_options(parser)
    parser.add_argument("--type", choices=("Normal", "Warning"), help="only events of this type")
    parser.add_argument("--kind", action="append", metavar="KIND",
                        help="only events about objects of this kind, e.g. Pod (repeatable; any case)")
    parser.add_argument("--reason", action="append", metavar="REASON",
                        help="only events with this reason, e.g. BackOff (repeatable; any case)")
    parser.add_argument("--security", action="store_true",
                        help="only security and reliability events, with their category: "
                             + ", ".join(SECURITY_CATEGORIES))
    parser.set_defaults(handler=run)
