"""`python -m k8sdata requests [--prometheus-url URL] [--namespace NS] [--window 5m] [--at RFC3339]
[--context NAME] [--format table|csv|json]`: request rate, error ratio and latency quantiles per namespace,
workload and pod, from whichever request-metric conventions Prometheus has (k8sdata.requests.conventions).

Prometheus alone is enough. When a kubeconfig (or the pod's ServiceAccount) reaches a cluster, pods
whose series and kube-state-metrics name no workload are named by their owner references; otherwise by
their names, marked as a guess (the NAMED BY column; workload_source in CSV and JSON; SOURCE is the
metrics' convention). A workload nothing
names is empty in the table and CSV, and null in JSON."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TextIO

import pandas as pd

from k8sdata.cli.output import add_context_option, add_format_option, kube_from_args, moment, write_frame
from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.pods.owners import OwnerLookup, lookup_from_kube
from k8sdata.requests.conventions import conventions_from_settings, detect_conventions, how_to_expose_metrics
from k8sdata.requests.queries import validate_duration
from k8sdata.requests.red import red_summary
from k8sdata.sources.prom import client_from_settings

REQUEST_TABLE = [("NAMESPACE", "namespace"), ("WORKLOAD", "workload"), ("POD", "pod"),
                 ("SOURCE", "convention"), ("REQ/S", "req_per_s"), ("5XX", "errors_5xx"),
                 ("4XX", "errors_4xx"), ("P50", "p50"), ("P95", "p95"), ("P99", "p99"),
                 ("NAMED BY", "workload_source")]


def _for_people(frame: pd.DataFrame) -> pd.DataFrame:
    def number(value: float, scale: float, fmt: str) -> str:
        return "-" if pd.isna(value) else fmt.format(value * scale)

    shown = frame.copy()
    for column in ("workload", "workload_source", "pod"):
        shown[column] = [text or "-" for text in frame[column]]
    shown["req_per_s"] = [number(v, 1, "{:.2f}") for v in frame["rps"]]
    shown["errors_5xx"] = [number(v, 100, "{:.1f}%") for v in frame["error_ratio_5xx"]]
    shown["errors_4xx"] = [number(v, 100, "{:.1f}%") for v in frame["error_ratio_4xx"]]
    for column in ("p50", "p95", "p99"):
        shown[column] = [number(v, 1000, "{:.0f}ms") for v in frame[f"{column}_seconds"]]
    return shown


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    window = validate_duration(args.window)  # before any request, so a typo exits 2 at once
    if args.prometheus_url:
        settings = dataclasses.replace(settings, prometheus_url=args.prometheus_url)
    candidates = conventions_from_settings(settings)
    prom = client_from_settings(settings)
    kube = _kube_or_none(args, settings)
    try:
        conventions = detect_conventions(prom, candidates, at=args.at, namespace=args.namespace or "")
        owners = _owners_or_nothing(lookup_from_kube(kube, args.namespace or "")) if kube else None
        frame = red_summary(prom, conventions, level="pod", namespace=args.namespace or "", window=window,
                            at=args.at, owners=owners)
    finally:
        prom.close()
        if kube is not None:
            kube.close()
    if args.format == "json":
        frame = frame.astype({"workload": "object"})
        frame.loc[frame["workload"] == "", "workload"] = None
    if args.format == "table":
        if frame.empty:
            out.write(how_to_expose_metrics() + "\n")
            return 0
        frame = _for_people(frame)
    write_frame(frame, args.format, REQUEST_TABLE, out)
    return 0


def _kube_or_none(args: argparse.Namespace, settings: Settings) -> Any:
    """The cluster's client, or None with no kubeconfig and no ServiceAccount: Prometheus is enough."""
    try:
        return kube_from_args(args, settings)
    except SourceError:
        return None


def _owners_or_nothing(lookup: OwnerLookup) -> OwnerLookup:
    """`lookup`, or no names when the cluster cannot be read (the pods' names are the fallback)."""
    def asking(keys: Any) -> Any:
        try:
            return lookup(keys)
        except SourceError:
            return {}
    return asking


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "requests", help="request rate, error ratio and latency per workload and pod",
        description="One row per namespace, workload and pod: rps, error_ratio (5xx share; 4xx apart), "
                    "p50/p95/p99_seconds, from every request-metric convention found (see docs/requests.md).")
    parser.add_argument("--prometheus-url", help="default: $PROMETHEUS_URL")
    parser.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    parser.add_argument("--window", default="5m", help="rate window, a PromQL duration (default 5m)")
    parser.add_argument("--at", type=moment, help="evaluate at this RFC 3339 time (default: now)")
    add_context_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)
