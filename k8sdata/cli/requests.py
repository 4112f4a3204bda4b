"""`python -m k8sdata requests [--prometheus-url URL] [--namespace NS] [--window 5m] [--at RFC3339]
[--format table|csv|json]`: request rate, error share and p95 latency per application."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, TextIO

import pandas as pd

from k8sdata.cli.output import add_format_option, moment, write_frame
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured
from k8sdata.prom import PromClient
from k8sdata.queries import ERROR_RATIO, LATENCY_P95, REQUEST_RATE

REQUEST_TABLE = [("NAMESPACE", "namespace"), ("APP", "app"), ("REQ/S", "req_per_s"), ("ERRORS", "errors"),
                 ("P95", "p95")]


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


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def register(commands: Any) -> None:
    parser = commands.add_parser("requests", help="request rate, error share and p95 latency per app")
    parser.add_argument("--prometheus-url", help="default: $PROMETHEUS_URL")
    parser.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    parser.add_argument("--window", default="5m", help="rate window, a PromQL duration (default 5m)")
    parser.add_argument("--at", type=moment, help="evaluate at this RFC 3339 time (default: now)")
    add_format_option(parser)
    parser.set_defaults(handler=run)
