"""Micrometer's Spring Boot exposition, served live from a fixture file (no JVM here): the file
micrometer_spring_boot3.prom holds what /actuator/prometheus shows after FIXTURE_SECONDS of traffic;
this server serves it with every counter (buckets, _count, _sum) scaled by the time since start over
FIXTURE_SECONDS, so Prometheus scrapes counters that grow at the fixture's constant rates, in Micrometer's
own text format and with its own content type. The `_max` gauge is served as it is.

    python -m sandbox.instrumented.micrometer
    -> {"app": "http://127.0.0.1:PORT", "metrics": "http://127.0.0.1:PORT/actuator/prometheus"}
"""

from __future__ import annotations

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from sandbox._http import ThreadedHTTPService

FIXTURE = Path(__file__).with_name("micrometer_spring_boot3.prom")
#: The fixture's counts are the requests of this many seconds.
FIXTURE_SECONDS = 60.0
METRICS_PATH = "/actuator/prometheus"
#: What Micrometer's Prometheus registry (simpleclient) answers with.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{.*\})? (?P<value>\S+)$")
_COUNTER_SUFFIXES = ("_bucket", "_count", "_sum")


def fixture_lines(path: Path = FIXTURE) -> list[str]:
    """The exposition as Spring Boot serves it: the file without its leading provenance comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if not line.startswith("# ") or line.startswith(("# HELP ", "# TYPE "))]


def exposition(lines: list[str], elapsed: float) -> str:
    """The fixture `elapsed` seconds after the counters started at zero."""
    scale = max(0.0, elapsed) / FIXTURE_SECONDS
    out = []
    for line in lines:
        match = _SAMPLE.match(line)
        if match and match["name"].endswith(_COUNTER_SUFFIXES):
            line = f"{match['name']}{match['labels'] or ''} {float(match['value']) * scale!r}"
        out.append(line)
    return "\n".join(out) + "\n"


def serve() -> None:
    lines = fixture_lines()
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != METRICS_PATH:
                self.send_error(404)
                return
            body = exposition(lines, time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape would fill the log

    service = ThreadedHTTPService(Handler, thread_name="micrometer-fixture")
    print(json.dumps({"app": service.url, "metrics": service.url + METRICS_PATH}), flush=True)
    service.start()
    while True:  # until the launcher's SIGTERM
        time.sleep(3600)


if __name__ == "__main__":
    serve()
    sys.exit(0)
