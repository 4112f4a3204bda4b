"""`python -m k8sdata logs NAMESPACE/POD [-c C] [--tail N] [--since 10m] [--previous] [--grep PATTERN]
[--regex] [--case-sensitive] [--timestamps] [--follow]`

Like `kubectl logs`, bounded: the last 500 lines by default (never the whole log), at most 2 MB per
container. Without -c a pod with several containers prints all of them merged in time order, each
line prefixed with its container. Control characters (ANSI escapes included) are printed escaped, so a
log line cannot rewrite the terminal. Exit 1 when a container's log could not be read.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC
from typing import Any, TextIO

from k8sdata.cli.output import add_context_option, kube_from_args
from k8sdata.config import Settings
from k8sdata.errors import NotInstalled, PodGone
from k8sdata.logs.containers import (
    LogBatch,
    LogLine,
    LogRequest,
    LogTarget,
    Search,
    compile_search,
    filter_lines,
    follow,
    log_targets,
    read_logs,
)
from k8sdata.sources.protocols import ResourceSource

_DURATION = re.compile(r"(\d+)(h|m|s)")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FOLLOW_INTERVAL = 2.0  # seconds between polls, as the Logs page


def duration_seconds(text: str) -> int:
    """'10m', '1h30m', '45s' -> seconds (argparse type; kubectl's --since units)."""
    parts = _DURATION.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration like 10m, 1h or 1h30m: {text!r}")
    seconds = sum(int(number) * {"h": 3600, "m": 60, "s": 1}[unit] for number, unit in parts)
    if seconds < 1:
        raise argparse.ArgumentTypeError("the duration must be at least 1s")
    return seconds


def pod_reference(text: str) -> tuple[str, str]:
    """NAMESPACE/POD (argparse type)."""
    namespace, _, pod = text.partition("/")
    # Kubernetes names (DNS subdomains): nothing that could change the request's path.
    if not _NAME.fullmatch(namespace) or not _NAME.fullmatch(pod):
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/POD, got {text!r}")
    return namespace, pod


def _escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _write(lines: list[LogLine], out: TextIO, *, timestamps: bool, prefix: bool) -> None:
    for line in lines:
        head = ""
        if timestamps:
            head += line.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + " "
        if prefix:
            head += f"[{line.pod}/{line.container}] "
        out.write(head + _escape_controls(line.text) + "\n")
    out.flush()


def _report(batch: LogBatch, err: TextIO) -> bool:
    for target, error in batch.errors.items():
        err.write(f"{target.label}: {error.sentence}\n")
    return bool(batch.errors)


def _targets(client: ResourceSource, namespace: str, pod: str, container: str | None) -> list[LogTarget]:
    if container:
        return [LogTarget(namespace, pod, container)]
    try:
        pod_object = client.get_json(f"/api/v1/namespaces/{namespace}/pods/{pod}")
    except NotInstalled:  # a 404 on a pod: it does not exist
        raise PodGone("kubernetes", f"{namespace}/{pod}", hint="No pod by that name.") from None
    # Like `kubectl logs` with one container; with several, all of them merged (kubectl would refuse).
    return log_targets([pod_object], include_init=False)


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    namespace, pod = args.pod
    search: Search | None = None
    if args.grep:
        search = compile_search(args.grep, regex=args.regex, case_sensitive=args.case_sensitive)
    if args.tail is not None and args.tail < 0:
        raise ValueError("--tail must be 0 or more")
    # Bounded like the page: 500 lines unless a window or a count is given.
    tail = args.tail if args.tail is not None else (None if args.since else LogRequest.tail_lines)
    request = LogRequest(tail_lines=tail, since_seconds=args.since, previous=args.previous)
    client = kube_from_args(args, settings)
    targets = _targets(client, namespace, pod, args.container)
    prefix = len(targets) > 1
    batch = read_logs(client, targets, request)
    if len(targets) == 1 and batch.errors:
        raise next(iter(batch.errors.values()))
    failed = _report(batch, err)
    _write(filter_lines(batch.lines, search), out, timestamps=args.timestamps, prefix=prefix)
    if args.follow and not args.previous:
        deadline = time.monotonic() + args.follow_for if args.follow_for else None
        cursor = batch.cursor
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(args.interval)
                batch = follow(client, targets, cursor, request)
                cursor = batch.cursor
                _write(filter_lines(batch.lines, search), out, timestamps=args.timestamps, prefix=prefix)
                if len(batch.errors) == len(targets):  # every container gone or unreadable
                    failed = _report(batch, err) or failed
                    break
        except KeyboardInterrupt:
            pass
    return 1 if failed else 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "logs", help="print a pod's logs like `kubectl logs` (bounded), with search",
        description="Print a pod's container logs. Bounded: the last 500 lines unless --tail or --since "
                    "says otherwise, at most 2 MB per container.")
    parser.add_argument("pod", type=pod_reference, metavar="NAMESPACE/POD")
    add_context_option(parser)
    parser.add_argument("-c", "--container", help="one container (default: all of the pod's containers)")
    parser.add_argument("--tail", type=int, default=None, metavar="N",
                        help="the last N lines (default 500, or all lines of the --since window)")
    parser.add_argument("--since", type=duration_seconds, metavar="DURATION",
                        help="only lines newer than this, e.g. 10m, 1h, 1h30m")
    parser.add_argument("-p", "--previous", action="store_true",
                        help="the previous (crashed) run of the container")
    parser.add_argument("--grep", metavar="PATTERN", help="only lines containing PATTERN (plain text)")
    parser.add_argument("--regex", action="store_true", help="PATTERN is a regular expression (RE2)")
    parser.add_argument("--case-sensitive", action="store_true", help="match case (default: ignore case)")
    parser.add_argument("--timestamps", action="store_true", help="prefix each line with its time (UTC)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    parser.add_argument("--interval", type=float, default=FOLLOW_INTERVAL, help=argparse.SUPPRESS)
    parser.add_argument("--follow-for", type=float, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)
