"""The stand-in API server for `make load`, in its own process, with what the load benchmark reads from it.

    python -m bench.load_apiserver --synthetic-pods N --admin-kubeconfig-out PATH

Prints the server's URL once it listens, then answers one command per line on stdin, one JSON line each
on stdout:

    requests PATH   write every request started so far to PATH (JSON lines: time, method, path, query,
                    end: when it was answered, null while open)
    logmark         start counting pods/log lines afresh
    loglines        {"served": lines written in pods/log answers since the mark, "distinct": how many
                    distinct lines, "lines": those lines}
    quit            stop

Requests are recorded when they start (sandbox.apiserver's own request_log records them when they end,
so a watch still open would be missing). Synthetic pods log one line a second per container (the stand-in's
generic log writes one every 30 s), each line unique (pod, container, sequence number), so lines served
can be counted exactly and compared with the lines the Logs page shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import demo_names
from sandbox.apiserver import podlogs, server

#: Seconds of history a container's log holds (one line a second).
LOG_HISTORY_SECONDS = 600

_lock = threading.Lock()
_started: list[dict[str, Any]] = []
_served = 0
_distinct: set[str] = set()  # since the last `logmark`


def chatty_log_lines(pod: dict[str, Any], container: str, previous: bool, now: datetime
                     ) -> list[tuple[datetime, str]] | None:
    """One line a second for the last LOG_HISTORY_SECONDS, each naming its pod, container and second."""
    if previous:
        return podlogs.generic_log_lines(pod, container, previous, now)
    metadata = pod.get("metadata") or {}
    who = f"{metadata.get('namespace')}/{metadata.get('name')}/{container}"
    seed = zlib.crc32(who.encode())
    last = int(now.timestamp())
    lines = []
    for second in range(last - LOG_HISTORY_SECONDS + 1, last + 1):
        number = (seed + second) % 1000
        level = "WARN" if number % 17 == 0 else "INFO"
        lines.append((datetime.fromtimestamp(second, UTC),
                      f"{level} {who} seq={second} handled request id={number:03d} ms={number % 90 + 3}"))
    return lines


def _install_counters() -> None:
    original_dispatch = server._Handler._dispatch
    original_render = podlogs.LogOptions.render

    def dispatch(handler: Any) -> None:
        path, _, query = handler.path.partition("?")
        record = {"time": time.time(), "method": handler.command, "path": path, "query": query, "end": None}
        with _lock:
            _started.append(record)
        try:
            original_dispatch(handler)
        finally:
            record["end"] = time.time()  # a watch ends when its stream does

    def render(options: podlogs.LogOptions, lines: list[tuple[datetime, str]]) -> bytes:
        global _served
        with _lock:
            _served += len(lines)
            _distinct.update(text for _, text in lines)
        return original_render(options, lines)

    server._Handler._dispatch = dispatch  # type: ignore[method-assign, assignment]
    podlogs.LogOptions.render = render  # type: ignore[method-assign, assignment]


def _answer(command: str) -> dict[str, Any]:
    word, _, argument = command.strip().partition(" ")
    if word == "requests":
        with _lock:
            records = list(_started)
        with open(argument, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(record) + "\n" for record in records)
        return {"requests": len(records)}
    if word == "logmark":
        global _served
        with _lock:
            _served = 0
            _distinct.clear()
        return {"marked": True}
    if word == "loglines":
        with _lock:
            return {"served": _served, "distinct": len(_distinct), "lines": sorted(_distinct)}
    return {"error": f"unknown command {word!r}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_apiserver",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-pods", type=int, required=True)
    parser.add_argument("--admin-kubeconfig-out", required=True)
    args = parser.parse_args(argv)
    _install_counters()
    api = server.ApiServer(synthetic_pods=args.synthetic_pods, log_provider=chatty_log_lines,
                           max_follow_seconds=timedelta(minutes=30).total_seconds()).start()
    api.write_kubeconfig(args.admin_kubeconfig_out, demo_names.ADMIN_TOKEN)
    print(json.dumps({"url": api.https_url or api.url}), flush=True)
    try:
        for line in sys.stdin:  # EOF (the harness went away) stops the server too
            if line.strip() == "quit":
                break
            if line.strip():
                print(json.dumps(_answer(line)), flush=True)
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
