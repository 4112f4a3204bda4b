"""The command line: `python -m k8sdata <command>`, the same data the pages show, for scripts and CI.

    python -m k8sdata pods   [--context C] [--namespace NS] [--selector S] [--format table|csv|json]
    python -m k8sdata events [--context C] [--namespace NS] [--type Warning] [--format table|csv|json]

Failures print the SourceError's sentence to stderr and exit 1. Subcommands register themselves in
`build_parser`, so requests/logs/scan/snapshot can be added without touching the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import pandas as pd

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.frames import events_frame, pods_frame

#: kubectl's table columns for `get pods -A`: (header, frame column).
POD_TABLE = [("NAMESPACE", "namespace"), ("NAME", "name"), ("READY", "ready"), ("STATUS", "status"),
             ("RESTARTS", "restarts_display"), ("AGE", "age")]
EVENT_TABLE = [("NAMESPACE", "namespace"), ("LAST SEEN", "age"), ("TYPE", "type"), ("REASON", "reason"),
               ("OBJECT", "object"), ("MESSAGE", "message")]


def format_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> str:
    """Columns padded like kubectl's tabwriter: each as wide as its longest cell plus 3 spaces."""
    headers = [header for header, _ in columns]
    cells = [[_one_line(value) for value in frame[name].tolist()] for _, name in columns]
    widths = [max([len(header), *(len(cell) for cell in column)]) for header, column in zip(
        headers, cells, strict=True)]
    lines = []
    for row in [headers, *zip(*cells, strict=True)]:
        padded = [value.ljust(width + 3) for value, width in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("".join(padded) + row[-1])
    return "\n".join(lines) + "\n"


def _one_line(value: Any) -> str:
    # Untrusted text (names, messages) is printed verbatim but never allowed to break the table's rows.
    return str(value).replace("\r", " ").replace("\n", " ")


def write_frame(frame: pd.DataFrame, fmt: str, table: Sequence[tuple[str, str]], out: TextIO) -> None:
    if fmt == "csv":
        out.write(frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
    elif fmt == "json":
        records = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
        out.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    elif frame.empty:
        out.write("No resources found.\n")
    else:
        out.write(format_table(frame, table))


def _kube(args: argparse.Namespace, settings: Settings) -> Any:
    from k8sdata.kube import KubeClient  # imported here so `--help` does not load the client

    return KubeClient(settings, context=args.context)


def cmd_pods(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = _kube(args, settings)
    frame = pods_frame(client.list_pods(namespace=args.namespace, label_selector=args.selector))
    # Like kubectl: the NAMESPACE column only when listing across namespaces.
    table = POD_TABLE if not args.namespace else POD_TABLE[1:]
    write_frame(frame, args.format, table, out)
    return 0


def cmd_events(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = _kube(args, settings)
    frame = events_frame(client.list_events(namespace=args.namespace))
    if args.type:
        frame = frame[frame["type"] == args.type].reset_index(drop=True)
    frame = frame.iloc[::-1].reset_index(drop=True)  # kubectl prints oldest first
    table = EVENT_TABLE if not args.namespace else EVENT_TABLE[1:]
    write_frame(frame, args.format, table, out)
    return 0


def _add_kube_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", help="kubeconfig context (default: $KAMS_CONTEXT, else current)")
    parser.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m k8sdata",
                                     description="KAMS data on the command line (read-only).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pods = commands.add_parser("pods", help="list pods like `kubectl get pods -A`")
    _add_kube_options(pods)
    pods.add_argument("--selector", "-l", help="label selector, e.g. app=web")
    pods.set_defaults(handler=cmd_pods)

    events = commands.add_parser("events", help="list events like `kubectl get events -A`")
    _add_kube_options(events)
    events.add_argument("--type", choices=("Normal", "Warning"), help="only events of this type")
    events.set_defaults(handler=cmd_events)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         environ: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    handler: Callable[[argparse.Namespace, Settings, TextIO], int] = args.handler
    try:
        return handler(args, Settings.from_env(environ), out)
    except SourceError as error:
        err.write(error.sentence + "\n")
        return 1
    except ValueError as error:  # e.g. an invalid namespace name given on the command line
        err.write(f"{error}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
