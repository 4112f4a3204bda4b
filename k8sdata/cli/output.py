"""What every command shares: kubectl-like tables, CSV and JSON output, and common options."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import pandas as pd

from k8sdata.config import Settings
from k8sdata.export import frame_to_csv

FORMATS = ("table", "csv", "json")


def format_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> str:
    """Columns padded like kubectl's tabwriter: each as wide as its longest cell plus 3 spaces."""
    headers = [header for header, _ in columns]
    cells = [[one_line(value) for value in frame[name].tolist()] for _, name in columns]
    widths = [max([len(header), *(len(cell) for cell in column)]) for header, column in zip(
        headers, cells, strict=True)]
    lines = []
    for row in [headers, *zip(*cells, strict=True)]:
        padded = [value.ljust(width + 3) for value, width in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("".join(padded) + row[-1])
    return "\n".join(lines) + "\n"


def one_line(value: Any) -> str:
    # Untrusted text (names, messages) is printed verbatim but never allowed to break the table's rows.
    return str(value).replace("\r", " ").replace("\n", " ")


def write_frame(frame: pd.DataFrame, fmt: str, table: Sequence[tuple[str, str]], out: TextIO) -> None:
    if fmt == "csv":
        # The downloads' writer: names and messages from the cluster never become spreadsheet formulas.
        out.write(frame_to_csv(frame).decode("utf-8"))
    elif fmt == "json":
        records = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
        out.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    elif frame.empty:
        out.write("No resources found.\n")
    else:
        out.write(format_table(frame, table))


def kube_from_args(args: argparse.Namespace, settings: Settings) -> Any:
    from k8sdata.sources.kube import KubeClient  # imported here so `--help` does not load the client

    return KubeClient(settings, context=args.context)


def moment(text: str) -> datetime:
    """An RFC 3339 time from the command line (argparse type)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_context_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", help="kubeconfig context (default: $KAMS_CONTEXT, else current)")


def add_format_option(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    parser.add_argument("--format", choices=tuple(formats), default=formats[0])


def add_kube_options(parser: argparse.ArgumentParser) -> None:
    add_context_option(parser)
    parser.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    add_format_option(parser)
