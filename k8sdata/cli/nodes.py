"""`python -m k8sdata nodes [--context C] [--format table|csv|json]`"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from k8sdata.cli.output import add_context_option, add_format_option, kube_from_args, write_frame
from k8sdata.config import Settings
from k8sdata.pods.frames import nodes_frame

NODE_TABLE = [("NAME", "name"), ("STATUS", "status"), ("ROLES", "roles"), ("AGE", "age"),
              ("VERSION", "version")]


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = kube_from_args(args, settings)
    write_frame(nodes_frame(client.list_nodes()), args.format, NODE_TABLE, out)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser("nodes", help="list nodes like `kubectl get nodes`")
    add_context_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)
