"""The command line: `python -m k8sdata <command>`, the same data the pages show, for scripts and CI.

    python -m k8sdata pods   [--context C] [--namespace NS] [--selector S] [--format table|csv|json]
    python -m k8sdata events [--context C] [--namespace NS] [--type Warning] [--format table|csv|json]
    python -m k8sdata nodes  [--context C] [--format table|csv|json]
    python -m k8sdata requests [--prometheus-url URL] [--namespace NS] [--window 5m] [--at RFC3339]

Failures print the SourceError's sentence to stderr and exit 1. Subcommands register themselves in
`build_parser`, so requests/logs/scan/snapshot can be added without touching the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import pandas as pd

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.frames import events_frame, nodes_frame, pods_frame
from k8sdata.prom import PromClient
from k8sdata.queries import ERROR_RATIO, LATENCY_P95, REQUEST_RATE

#: kubectl's table columns for `get pods -A`: (header, frame column).
POD_TABLE = [("NAMESPACE", "namespace"), ("NAME", "name"), ("READY", "ready"), ("STATUS", "status"),
             ("RESTARTS", "restarts_display"), ("AGE", "age")]
NODE_TABLE = [("NAME", "name"), ("STATUS", "status"), ("ROLES", "roles"), ("AGE", "age"),
              ("VERSION", "version")]
REQUEST_TABLE = [("NAMESPACE", "namespace"), ("APP", "app"), ("REQ/S", "req_per_s"), ("ERRORS", "errors"),
                 ("P95", "p95")]
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


def cmd_nodes(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    client = _kube(args, settings)
    write_frame(nodes_frame(client.list_nodes()), args.format, NODE_TABLE, out)
    return 0


def request_metrics(prom: PromClient, *, namespace: str = "", window: str = "5m", app_label: str = "app",
                    at: datetime | None = None) -> pd.DataFrame:
    """Per application: request_rate (req/s), error_ratio (0..1), latency_p95 (s); three queries in all."""
    key = ["namespace", app_label]
    merged: pd.DataFrame | None = None
    for query in (REQUEST_RATE, ERROR_RATIO, LATENCY_P95):
        frame = prom.instant(query.render(namespace=namespace, window=window, app_label=app_label), at)
        for column in key:
            if column not in frame.columns:
                frame[column] = pd.Series(dtype=str)
        frame = frame[[*key, "value"]].rename(columns={"value": query.name})
        merged = frame if merged is None else merged.merge(frame, on=key, how="outer")
    assert merged is not None
    merged = merged.rename(columns={app_label: "app"})
    return merged.sort_values(["namespace", "app"], kind="stable").reset_index(drop=True)


def _for_people(frame: pd.DataFrame) -> pd.DataFrame:
    def number(value: float, fmt: str) -> str:
        return "-" if pd.isna(value) else fmt.format(value)

    shown = frame.copy()
    shown["req_per_s"] = [number(v, "{:.2f}") for v in frame["request_rate"]]
    shown["errors"] = [number(v * 100 if pd.notna(v) else v, "{:.1f}%") for v in frame["error_ratio"]]
    shown["p95"] = [number(v * 1000 if pd.notna(v) else v, "{:.0f}ms") for v in frame["latency_p95"]]
    return shown


def cmd_requests(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    url = args.prometheus_url or settings.prometheus_url
    if not url:
        raise NotConfigured("prometheus")
    prom = PromClient(url, settings.request_timeout)
    try:
        frame = request_metrics(prom, namespace=args.namespace or "", window=args.window,
                                app_label=settings.app_label, at=args.at)
    finally:
        prom.close()
    if args.format == "table":
        frame = _for_people(frame)
    write_frame(frame, args.format, REQUEST_TABLE, out)
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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

    nodes = commands.add_parser("nodes", help="list nodes like `kubectl get nodes`")
    nodes.add_argument("--context", help="kubeconfig context (default: $KAMS_CONTEXT, else current)")
    nodes.add_argument("--format", choices=("table", "csv", "json"), default="table")
    nodes.set_defaults(handler=cmd_nodes)

    requests = commands.add_parser("requests", help="request rate, error share and p95 latency per app")
    requests.add_argument("--prometheus-url", help="default: $PROMETHEUS_URL")
    requests.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    requests.add_argument("--window", default="5m", help="rate window, a PromQL duration (default 5m)")
    requests.add_argument("--at", type=_moment, help="evaluate at this RFC 3339 time (default: now)")
    requests.add_argument("--format", choices=("table", "csv", "json"), default="table")
    requests.set_defaults(handler=cmd_requests)
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
