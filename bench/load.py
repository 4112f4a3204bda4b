"""`make load`: the whole website at scale, in a real browser beside kubectl (issue 16).

For each size (default 5,000 and 100,000 synthetic pods) the stand-in API server runs in its own process
(bench.load_apiserver: sandbox.apiserver with --synthetic-pods N, plus a log of every request as it
starts), a real Prometheus (one for the whole run) answers with its query log on, and `streamlit run
app.py` is started afresh for each measurement so that "cold" means the first visitor after a start.
Debian's Chromium is driven by Playwright; every websocket frame the page receives is decoded as
Streamlit's ForwardMsg, which gives each script run's start (new_session), end (script_finished) and the
bytes sent to the browser.

    python -m bench.load             # the full run (make load): about 15 minutes on 2 cores
    python -m bench.load --quick     # 1,000 and 5,000 pods, 4 viewers, 35 s: a few minutes

Prints a Markdown table and writes it to bench/load-results.md (or --out). A benchmark, not a test:
nothing here fails on a slow figure; the table says pass or fail per target.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# The targets (issue 16, item 2).
TARGET_PODS_COLD_SHARE = 0.15  # of kubectl's time, first rows, 100,000 pods
TARGET_PODS_WARM_S = 1.5
TARGET_RERUN_MB = 2.0
TARGET_OVERVIEW_WARM_S = 3.0
TARGET_SECURITY_COLD_S = 15.0
TARGET_SECURITY_MB = 1024.0
TARGET_P95_REFRESH_S = 2.0  # at 5,000 pods
TARGET_RSS_GROWTH = 1.3
BIG, SMALL = 100_000, 5_000

AUTO_REFRESH_LABEL = "Every 30 seconds"  # ui.filters.AUTO_REFRESH
REFRESH_INTERVAL_S = 30.0
MB = 1024 * 1024
PAGES = ("pods", "overview", "security")
#: After the viewers' window, how long runs that started in it may take to finish before they are dropped.
GRACE_S = 45.0


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    viewers: int
    seconds: float  # the viewers' window
    log_pods: int
    log_seconds: float
    log_sizes: tuple[int, ...]
    page_timeout: float  # one page view, cold included
    security_timeout: float
    setup_timeout: float  # all viewers open with auto-refresh on


FULL = Plan(sizes=(SMALL, BIG), viewers=30, seconds=60, log_pods=20, log_seconds=60, log_sizes=(SMALL,),
            page_timeout=150, security_timeout=150, setup_timeout=240)
QUICK = Plan(sizes=(1_000, SMALL), viewers=4, seconds=35, log_pods=5, log_seconds=20, log_sizes=(1_000,),
             page_timeout=120, security_timeout=120, setup_timeout=120)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ============================================================================ processes and /proc
def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def rss_kb(pid: int) -> int:
    """VmRSS of the process and its descendants, in KiB (0 when gone)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its live descendants (/proc/PID/stat fields 14 and 15)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # fields after the command: state is [0]
    return total / CLOCK_TICKS


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every `interval` seconds; peak(t0, t1) is the highest in a span."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name=f"rss-{pid}")
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.monotonic(), rss_kb(self.pid)))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def peak_mb(self, start: float = 0.0, end: float = float("inf")) -> float:
        values = [kb for when, kb in list(self.samples) if start <= when <= end]
        return max(values, default=0) / 1024


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def memory_gb() -> float:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


# ======================================================================================== servers
class StandIn:
    """bench.load_apiserver in its own process group, driven through stdin/stdout."""

    def __init__(self, pods: int, folder: Path) -> None:
        self.pods = pods
        self.kubeconfig = folder / f"admin-{pods}.kubeconfig"
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.load_apiserver", "--synthetic-pods", str(pods),
             "--admin-kubeconfig-out", str(self.kubeconfig)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        first = self._line(timeout=300)  # 100,000 pods take ~20-30 s to generate
        self.url = json.loads(first)["url"]

    def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            stderr = ""
            if self.process.poll() is not None and self.process.stderr is not None:
                stderr = self.process.stderr.read()[-2000:]
            self.stop()
            raise RuntimeError(f"the stand-in API server ({self.pods} pods) did not answer: {stderr}")
        return box[0]

    def ask(self, command: str, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line(timeout))
        return answer

    def requests(self, folder: Path) -> list[dict[str, Any]]:
        path = folder / "requests.jsonl"
        self.ask(f"requests {path}")
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_prometheus() -> Any:
    from sandbox.prometheus.flavours import newest
    from sandbox.prometheus.server import PrometheusServer

    flavour = newest()
    if flavour is None:
        raise RuntimeError("no Prometheus here: scripts/system-deps.sh prometheus (or make real-servers)")
    # No scrape targets: the synthetic pods have no series, so every query KAMS sends is answered (empty)
    # and logged; what is measured is how many queries a page sends, not what they find.
    return PrometheusServer([], wait_for_targets=False, flavour=flavour).start()


@contextlib.contextmanager
def streamlit_app(env: dict[str, str], folder: Path, name: str) -> Iterator[tuple[Any, RssSampler]]:
    """`streamlit run app.py` (tests.plugins.app: free loopback port, own process group, health-checked),
    with an RSS sampler on its process tree; both stopped on exit."""
    from tests.plugins.app import _stop, start_app_server

    server = start_app_server(env, folder / f"streamlit-{name}.log")
    sampler = RssSampler(server.process.pid)
    sampler.start()
    try:
        yield server, sampler
    finally:
        sampler.stop()
        _stop(server.process)


def time_kubectl(kubeconfig: Path, timeout: float) -> dict[str, Any]:
    """`kubectl get pods -A` through bench.measure (its own process: wall time, rows, peak RSS)."""
    completed = subprocess.run([PYTHON, "-m", "bench.measure", "kubectl", str(kubeconfig)], cwd=ROOT,
                               capture_output=True, text=True, timeout=timeout,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    if completed.returncode != 0:
        raise RuntimeError(f"kubectl failed: {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# ======================================================================================== browser
@dataclass
class Run:
    """One full script run as the browser saw it: from new_session to script_finished (successfully)."""

    start: float
    end: float
    bytes: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


# ForwardMsg.ScriptFinishedStatus
FINISHED_SUCCESSFULLY, FINISHED_EARLY_FOR_RERUN, FINISHED_FRAGMENT = 0, 2, 3


def runs_from_frames(frames: list[tuple[float, int, str, int]]) -> list[Run]:
    """Full runs from (time, bytes, ForwardMsg type, script_finished status) frames: a run starts at a
    new_session while no run is open and ends at the first successful script_finished; a run ended early
    for a rerun (st.rerun, a newer widget change) continues into the rerun. Fragment runs (the
    auto-refresh timer, the Logs page's follow step) are not runs of the page, unless they end early for
    a full rerun (the auto-refresh timer's st.rerun): then the run is timed from the timer's start."""
    runs: list[Run] = []
    start: float | None = None
    size = 0
    for when, nbytes, kind, status in frames:
        if start is None:
            if kind == "new_session":
                start, size = when, 0
            else:
                continue
        size += nbytes
        if kind == "script_finished" and status == FINISHED_SUCCESSFULLY:
            runs.append(Run(start, when, size))
            start = None
        elif kind == "script_finished" and status == FINISHED_FRAGMENT:
            start = None  # a fragment's own run (a timer, live log lines), not a run of the page
    return runs


#: Chromium's console line for an HTTP error answer; such answers are recorded with their URL instead.
FAILED_RESOURCE = "Failed to load resource"


class Viewer:
    """One visitor: a fresh browser context and page, with every websocket frame recorded."""

    def __init__(self, browser: Any, name: str, width: int = 1440, height: int = 1200, *,
                 context: Any = None) -> None:
        """A new browser context, or a new tab in `context` (its HTTP cache warm: a returning person)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.name = name
        self.owns_context = context is None
        self.context = context or browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.frames: list[tuple[float, int, str, int]] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.closed_sockets = 0

        def on_frame(payload: bytes | str) -> None:
            when = time.monotonic()
            if isinstance(payload, str):
                self.frames.append((when, len(payload.encode()), "text", -1))
                return
            message = ForwardMsg.FromString(payload)
            kind = message.WhichOneof("type") or ""
            status = int(message.script_finished) if kind == "script_finished" else -1
            self.frames.append((when, len(payload), kind, status))

        def on_socket(socket: Any) -> None:
            socket.on("framereceived", on_frame)
            socket.on("close", lambda _socket: self._closed())

        self.page.on("websocket", on_socket)
        self.failed_responses: list[str] = []
        self.page.on("console", lambda message: self.console_errors.append(message.text)
                     if message.type == "error" and not message.text.startswith(FAILED_RESOURCE) else None)
        self.page.on("response", lambda response: self.failed_responses.append(
            f"{response.status} {response.url.split('?')[0]}") if response.status >= 400 else None)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _closed(self) -> None:
        self.closed_sockets += 1

    def runs(self, since: float = 0.0) -> list[Run]:
        return [run for run in runs_from_frames(list(self.frames)) if run.start >= since]

    def bytes_between(self, start: float, end: float) -> int:
        return sum(nbytes for when, nbytes, _kind, _status in list(self.frames) if start <= when <= end)

    def exceptions(self) -> int:
        return int(self.page.locator('[data-testid="stException"]').count())

    def error_alerts(self) -> list[str]:
        alerts = self.page.locator('[data-testid="stAlertContentError"]')
        return [text[:200] for text in alerts.all_inner_texts()]

    def wait_run(self, since: float, timeout: float) -> Run | None:
        """The first full run that started at `since` or later, once finished; None after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.runs(since)
            if done:
                return done[0]
            self.page.wait_for_timeout(50)
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.owns_context:
                self.context.close()
            else:
                self.page.close()


#: The pods table has rows: Streamlit's grid draws on a canvas and keeps an accessible table of the rows
#: it draws (hidden), whose second row is the first data row.
FIRST_ROWS_JS = """() => {
  const grid = document.querySelector('[data-testid="stDataFrame"]');
  if (!grid || grid.getBoundingClientRect().height < 100) return false;
  const cell = grid.querySelector('tr[aria-rowindex="2"] td');
  return !!cell && cell.textContent.trim().length > 0;
}"""


@dataclass
class View:
    seconds: float | None  # navigation -> first rows (Pods) or the page settled (others); None = timeout
    settled: float | None  # navigation -> the run finished
    bytes: int  # received from navigation to settled
    connected: float | None = None  # navigation -> the first websocket frame (the browser's part before)
    prometheus_queries: int = 0
    api_requests: dict[str, int] = field(default_factory=dict)


def open_view(viewer: Viewer, url: str, *, rows: bool, timeout: float) -> View:
    """Navigate and time it: to the first table rows (rows=True) or to the page's finished run."""
    started = time.monotonic()
    shown: float | None = None
    viewer.page.goto(url, wait_until="commit", timeout=timeout * 1000)
    if rows:
        with contextlib.suppress(Exception):
            viewer.page.wait_for_function(FIRST_ROWS_JS, timeout=timeout * 1000, polling=50)
            shown = time.monotonic() - started
    run = viewer.wait_run(started, max(1.0, timeout - (time.monotonic() - started)))
    settled = None if run is None else run.end - started
    if not rows:
        shown = settled
    end = started + (settled if settled is not None else timeout)
    first = next((when for when, *_rest in list(viewer.frames) if when >= started), None)
    return View(shown, settled, viewer.bytes_between(started, end),
                None if first is None else first - started)


def rerun_bytes(viewer: Viewer, timeout: float) -> Run | None:
    """Streamlit's "rerun" key on a settled page: the bytes and time of one rerun."""
    started = time.monotonic()
    viewer.page.locator("body").press("r")
    return viewer.wait_run(started, timeout)


def set_auto_refresh(viewer: Viewer, label: str = AUTO_REFRESH_LABEL, attempts: int = 4) -> None:
    """Choose `label` in the sidebar's Auto-refresh box (a rerun that redraws the sidebar may close the
    list while it opens: then again)."""
    page = viewer.page
    for attempt in range(attempts):
        try:
            page.get_by_test_id("stSelectbox").filter(has_text="Auto-refresh").locator("input").click(
                timeout=30_000)
            page.get_by_role("option", name=label, exact=True).click(timeout=10_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            page.wait_for_timeout(1000)


# ====================================================================================== measuring
def collection_requests(records: list[dict[str, Any]], start: float, end: float) -> dict[str, dict[str, int]]:
    """GETs of collections (no object name) per path in [start, end]: {"lists": n, "watches": n}. A list
    read in pages (limit/continue) counts once: its later pages carry a continue token."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: {"lists": 0, "watches": 0})
    for record in records:
        if not start <= record["time"] <= end or record["method"] != "GET":
            continue
        path = record["path"].rstrip("/")
        if not _is_collection(path) or re.search(r"(^|&)continue=[^&]", record["query"]):
            continue
        watch = bool(re.search(r"(^|&)watch=(1|true)(&|$)", record["query"]))
        found[path]["watches" if watch else "lists"] += 1
    return dict(found)


def open_watches(records: list[dict[str, Any]], start: float, end: float) -> dict[str, int]:
    """Per collection path, the most watch streams open at once in [start, end] (a stream the server
    ends after its timeoutSeconds and the client renews is one stream at a time)."""
    events: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for record in records:
        path = record["path"].rstrip("/")
        if record["method"] != "GET" or not _is_collection(path) or not re.search(
                r"(^|&)watch=(1|true)(&|$)", record["query"]):
            continue
        closed = record.get("end") or float("inf")
        if closed < start or record["time"] > end:
            continue
        events[path] += [(record["time"], 1), (closed, -1)]
    most: dict[str, int] = {}
    for path, changes in events.items():
        current = peak = 0
        for _when, change in sorted(changes, key=lambda item: (item[0], item[1])):
            current += change
            peak = max(peak, current)
        most[path] = peak
    return most


def _is_collection(path: str) -> bool:
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        rest = parts[3:]
    else:
        return False
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    return len(rest) == 1


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def app_env(kubeconfig: Path, prometheus_url: str, home: Path) -> dict[str, str]:
    return {"HOME": str(home), "KUBECONFIG": str(kubeconfig), "PROMETHEUS_URL": prometheus_url}


class Bench:
    def __init__(self, plan: Plan, folder: Path) -> None:
        self.plan, self.folder = plan, folder
        self.prometheus: Any = None
        self.playwright: Any = None
        self.browser: Any = None

    def __enter__(self) -> Bench:
        from playwright.sync_api import sync_playwright

        from tests.plugins.browser import CHROMIUM, CHROMIUM_ARGS

        self.prometheus = start_prometheus()
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                       headless=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()
        with contextlib.suppress(Exception):
            self.playwright.stop()
        with contextlib.suppress(Exception):
            self.prometheus.stop()

    # ------------------------------------------------------------------------------------------ size
    def measure_size(self, pods: int) -> dict[str, Any]:
        started = time.monotonic()
        log(f"{pods:,} pods: starting the stand-in API server")
        stand_in = StandIn(pods, self.folder)
        result: dict[str, Any] = {"size": pods}
        try:
            result["server_start_s"] = time.monotonic() - started
            log(f"{pods:,} pods: kubectl get pods -A")
            result["kubectl"] = time_kubectl(stand_in.kubeconfig, timeout=600)
            env = app_env(stand_in.kubeconfig, self.prometheus.url, self.folder)
            phases: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                (page, functools.partial(self.measure_page, page, env, stand_in)) for page in PAGES]
            phases.append(("viewers", functools.partial(self.measure_viewers, env, stand_in)))
            if pods in self.plan.log_sizes:
                phases.append(("logs", functools.partial(self.measure_logs, env, stand_in)))
            for name, measure in phases:
                log(f"{pods:,} pods: {name}")
                try:
                    result[name] = measure()
                except Exception as error:  # one phase failing must not lose the others' figures
                    log(f"{pods:,} pods: {name} failed: {error}")
                    result[name] = {"failed": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
        finally:
            stand_in.stop()
        result["total_s"] = time.monotonic() - started
        log(f"{pods:,} pods: done in {result['total_s']:.0f} s")
        return result

    def _page_url(self, base: str, page: str) -> str:
        return base + ("/" if page == "overview" else f"/{page}")

    def measure_page(self, page: str, env: dict[str, str], stand_in: StandIn) -> dict[str, Any]:
        timeout = self.plan.security_timeout if page == "security" else self.plan.page_timeout
        rows = page == "pods"
        out: dict[str, Any] = {}
        with streamlit_app(env, self.folder, page) as (server, sampler):
            url = self._page_url(server.url, page)
            cold: Viewer | None = None
            for which in ("cold", "warm"):
                # The later visitor opens a new tab beside the first one's (a new session, assets cached).
                viewer = Viewer(self.browser, f"{page}-{which}", context=cold.context if cold else None)
                # A background tab does not draw the grid (nor its accessible rows): the new tab in front.
                viewer.page.bring_to_front()
                cold = cold or viewer
                if which == "warm" and out["cold"]["settled"] is None:
                    out["warm"] = asdict(View(None, None, 0))  # the cold view never finished: no warm one
                    out["exceptions_warm"] = 0
                    viewer.close()
                    break
                try:
                    mark = self.prometheus.query_log_lines()
                    began = time.time()
                    view = open_view(viewer, url, rows=rows, timeout=timeout)
                    ended = time.time()
                    view.prometheus_queries = len(self.prometheus.logged_queries(mark))
                    view.api_requests = {path: sum(kinds.values()) for path, kinds in collection_requests(
                        stand_in.requests(self.folder), began, ended).items()}
                    if which == "warm" and view.settled is not None:
                        again = rerun_bytes(viewer, timeout)
                        out["rerun"] = None if again is None else {"seconds": again.seconds,
                                                                   "bytes": again.bytes}
                    out["exceptions_" + which] = viewer.exceptions()
                finally:
                    if viewer is not cold:
                        viewer.close()
                out[which] = asdict(view)
            if cold is not None:
                cold.close()
            out["peak_rss_mb"] = sampler.peak_mb()
            out["tracebacks"] = tracebacks(server.log_path)
        return out

    # --------------------------------------------------------------------------------------- viewers
    def measure_viewers(self, env: dict[str, str], stand_in: StandIn) -> dict[str, Any]:
        plan = self.plan
        out: dict[str, Any] = {"asked": plan.viewers}
        viewers: list[Viewer] = []
        phase_start = time.time()
        with streamlit_app(env, self.folder, "viewers") as (server, sampler):
            try:
                # One viewer first, on both pages (the Overview, then the Pods page in the same session, via
                # the sidebar), with auto-refresh on: the server's RSS with one viewer.
                first = Viewer(self.browser, "viewer-0", width=1280, height=900)
                viewers.append(first)
                open_view(first, server.url + "/", rows=False, timeout=plan.page_timeout)
                clicked = time.monotonic()
                first.page.get_by_role("link", name="Pods").first.click(timeout=30_000)
                first.wait_run(clicked, plan.page_timeout)
                clicked = time.monotonic()
                set_auto_refresh(first)
                first.wait_run(clicked, plan.page_timeout)
                first.page.wait_for_timeout(3000)
                out["rss_one_mb"] = sampler.peak_mb()
                grown = time.monotonic()
                # The others: alternately the Overview and the Pods page (viewer 0 is on Pods).
                pages = ["overview" if index % 2 else "pods" for index in range(plan.viewers)]
                opened = []
                for index in range(1, plan.viewers):
                    try:
                        viewer = Viewer(self.browser, f"viewer-{index}", width=1280, height=900)
                    except Exception as error:  # Chromium could not hold more: say so, measure these
                        out["browser_limit"] = f"viewer {index}: {error}"
                        break
                    viewers.append(viewer)
                    navigated = time.monotonic()
                    viewer.page.goto(self._page_url(server.url, pages[index]), wait_until="commit",
                                     timeout=plan.page_timeout * 1000)
                    opened.append((viewer, navigated))
                # Each viewer turns auto-refresh on once its page has settled; then all those reruns are
                # awaited together, within one deadline for the whole setup.
                setup_failures = []
                deadline = time.monotonic() + plan.setup_timeout
                clicks = []
                for viewer, navigated in opened:
                    try:
                        if viewer.wait_run(navigated, max(1.0, deadline - time.monotonic())) is None:
                            raise TimeoutError("the page did not settle")
                        clicks.append((viewer, time.monotonic()))
                        set_auto_refresh(viewer)
                    except Exception as error:
                        setup_failures.append(f"{viewer.name}: {str(error).splitlines()[0][:160]}")
                for viewer, clicked in clicks:
                    if viewer.wait_run(clicked, max(1.0, deadline - time.monotonic())) is None:
                        setup_failures.append(f"{viewer.name}: the auto-refresh rerun did not settle in time")
                out["setup_s"] = time.monotonic() - grown
                out["setup_failures"] = setup_failures
                out["held"] = len(viewers)
                mark = self.prometheus.query_log_lines()
                window_start, wall_start = time.monotonic(), time.time()
                closed_before = sum(viewer.closed_sockets for viewer in viewers)
                while time.monotonic() - window_start < plan.seconds:
                    first.page.wait_for_timeout(500)
                window_end, wall_end = time.monotonic(), time.time()
                # Runs that started in the window may still be running: give them time to finish.
                grace_end = window_end + GRACE_S
                while time.monotonic() < grace_end and any(_open_run(viewer, window_start)
                                                           for viewer in viewers):
                    first.page.wait_for_timeout(250)
                out["rss_many_mb"] = sampler.peak_mb(grown)
                out["window_s"] = window_end - window_start
                queries = self.prometheus.logged_queries(mark)
                records = stand_in.requests(self.folder)
                out["requests"] = collection_requests(records, wall_start, wall_end)
                # Watch streams stay open: count every one opened since this server started.
                since_start = collection_requests(records, phase_start, wall_end)
                out["watches"] = {path: kinds["watches"] for path, kinds in since_start.items()
                                  if kinds["watches"]}
                out["open_watches"] = open_watches(records, wall_start, wall_end)
                per_page: dict[str, dict[str, Any]] = {}
                all_seconds: list[float] = []
                total_runs = 0
                for viewer, page in zip(viewers, pages, strict=False):
                    runs = [run for run in viewer.runs(window_start) if run.start <= window_end]
                    total_runs += len(runs)
                    entry = per_page.setdefault(page, {"runs": 0, "seconds": [], "bytes": []})
                    entry["runs"] += len(runs)
                    entry["seconds"] += [run.seconds for run in runs]
                    entry["bytes"] += [run.bytes for run in runs]
                    all_seconds += [run.seconds for run in runs]
                for entry in per_page.values():
                    entry["p50_s"] = percentile(entry["seconds"], 0.5)
                    entry["p95_s"] = percentile(entry["seconds"], 0.95)
                    entry["median_bytes"] = statistics.median(entry["bytes"]) if entry["bytes"] else None
                out["pages"] = per_page
                out["runs"] = total_runs
                out["p50_s"] = percentile(all_seconds, 0.5)
                out["p95_s"] = percentile(all_seconds, 0.95)
                out["prometheus_queries"] = len(queries)
                out["prometheus_queries_per_view"] = len(queries) / total_runs if total_runs else None
                out["errors"] = {
                    "exceptions": sum(viewer.exceptions() for viewer in viewers),
                    "console": sum(len(viewer.console_errors) for viewer in viewers),
                    "page_errors": sum(len(viewer.page_errors) for viewer in viewers),
                    "sockets_closed": sum(viewer.closed_sockets for viewer in viewers) - closed_before,
                    "setup": len(setup_failures),
                }
                alerts = Counter(text for viewer in viewers for text in viewer.error_alerts())
                out["error_alerts"] = dict(alerts.most_common(5))
                out["console_samples"] = sorted({text[:200] for viewer in viewers
                                                 for text in viewer.console_errors})[:5]
                out["tracebacks"] = tracebacks(server.log_path)
                out["failed_responses"] = dict(Counter(text for viewer in viewers
                                                       for text in viewer.failed_responses))
            finally:
                for viewer in viewers:
                    viewer.close()
        return out

    # ------------------------------------------------------------------------------------------ logs
    def measure_logs(self, env: dict[str, str], stand_in: StandIn) -> dict[str, Any]:
        plan = self.plan
        chosen = running_pods(stand_in.kubeconfig, plan.log_pods)
        out: dict[str, Any] = {"pods": len(chosen)}
        with streamlit_app(env, self.folder, "logs") as (server, _sampler):
            viewer = Viewer(self.browser, "logs", height=1600)
            try:
                page = viewer.page
                open_view(viewer, server.url + "/logs", rows=False, timeout=plan.page_timeout)
                picker = page.get_by_test_id("stMultiSelect").filter(has_text="Pods").locator("input")
                for key in chosen:
                    picker.click(timeout=30_000)
                    picker.fill(key, timeout=30_000)
                    page.get_by_role("option", name=key, exact=True).click(timeout=60_000)
                    page.keyboard.press("Escape")
                page.wait_for_timeout(1000)
                _wait_quiet(viewer, plan.page_timeout)
                log(f"  logs: {len(chosen)} pods picked")
                # Counted from here: a fresh read of exactly this selection, then following.
                clicked = time.monotonic()
                page.get_by_role("button", name="Read again").click(timeout=30_000)
                viewer.wait_run(clicked, plan.page_timeout)
                caption = page.get_by_text(re.compile(r"lines from \d+ of \d+ containers"))
                out["read"] = parse_logs_caption(caption.first.inner_text(timeout=30_000))
                stand_in.ask("logmark")
                log(f"  logs: read {out['read']}; following")
                page.get_by_text("Follow live", exact=True).click(timeout=30_000)
                cpu_start, wall_start = cpu_seconds(server.process.pid), time.monotonic()
                bytes_start = viewer.bytes_between(0, wall_start)
                while time.monotonic() - wall_start < plan.log_seconds:
                    page.wait_for_timeout(500)
                cpu_end, wall_end = cpu_seconds(server.process.pid), time.monotonic()
                out["cpu_share"] = (cpu_end - cpu_start) / (wall_end - wall_start)
                sent = viewer.bytes_between(0, wall_end) - bytes_start
                out["bytes_per_s"] = sent / (wall_end - wall_start)
                out["seconds"] = wall_end - wall_start
                out["following"] = parse_logs_caption(caption.first.inner_text(timeout=30_000))
                clicked = time.monotonic()
                page.get_by_text("Follow live", exact=True).click(timeout=30_000)
                viewer.wait_run(clicked, plan.page_timeout)
                _wait_quiet(viewer, 10)
                served = stand_in.ask("loglines")
                log("  logs: stopped following")
                out["shown"] = parse_logs_caption(caption.first.inner_text(timeout=30_000))
                out["served"] = served["served"]
                out["served_distinct"] = served["distinct"]
                # The text view (the newest 2,000 lines): is every followed line there, once?
                # (The view switch is inside the lines' fragment: a fragment run, no full run to wait for.)
                page.get_by_role("radio", name="Text", exact=True).click(timeout=30_000)
                code = page.locator('[data-testid="stCode"]').first
                code.wait_for(timeout=plan.page_timeout * 1000)
                _wait_quiet(viewer, 10)
                text = code.inner_text(timeout=30_000)
                out.update(compare_lines(served["lines"], text))
                out["exceptions"] = viewer.exceptions()
                out["tracebacks"] = tracebacks(server.log_path)
            finally:
                viewer.close()
        return out


def _open_run(viewer: Viewer, since: float) -> bool:
    """Whether a run that started at `since` or later has not finished yet."""
    running = False
    for when, _nbytes, kind, status in list(viewer.frames):
        if when < since:
            continue
        if kind == "new_session":
            running = True
        elif kind == "script_finished" and status != FINISHED_EARLY_FOR_RERUN:
            running = False
    return running


def _wait_quiet(viewer: Viewer, timeout: float) -> None:
    """Until no full run is open (the last widget change's rerun has finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _open_run(viewer, 0.0):
        viewer.page.wait_for_timeout(100)


def running_pods(kubeconfig: Path, count: int) -> list[str]:
    """`count` Running pods ("namespace/name") of the first namespace that has enough, in name order
    (the Logs page's picker offers the first 2,000 pods of the cluster in that order)."""
    from k8sdata.config import Settings
    from k8sdata.sources.kube import KubeClient

    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "60"}))
    try:
        for namespace in client.list_namespaces():
            pods = client.list_pods(namespace)
            running = sorted(f"{namespace}/{pod['metadata']['name']}" for pod in pods
                             if (pod.get("status") or {}).get("phase") == "Running")
            if len(running) >= count:
                return running[:count]
    finally:
        client.close()
    raise RuntimeError(f"no namespace has {count} running pods")


LINE_TOKEN = re.compile(r"(\S+/\S+/\S+) seq=(\d+)")


def compare_lines(served: list[str], shown_text: str) -> dict[str, int]:
    """Lines the stand-in served since the mark (each unique: pod/container and second) against the page's
    text view, which holds the newest 2,000 lines: how many of the served lines new enough to be in it
    are there, how many are missing, and how many lines the page shows twice."""
    shown = [(who, int(seq)) for who, seq in LINE_TOKEN.findall(shown_text)]
    served_tokens = {(who, int(seq)) for line in served for who, seq in LINE_TOKEN.findall(line)}
    if not shown:
        return {"followed_served": len(served_tokens), "followed_checked": 0, "followed_missing": 0,
                "shown_twice": 0}
    oldest = min(seq for _who, seq in shown)
    checked = {token for token in served_tokens if token[1] > oldest}
    present = set(shown)
    return {"followed_served": len(served_tokens), "followed_checked": len(checked),
            "followed_missing": len(checked - present), "shown_twice": len(shown) - len(present)}


def tracebacks(log_path: Path, most: int = 3) -> list[str]:
    """The last line of each traceback in a streamlit log (the exception), at most `most` distinct."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    inside = False
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line.startswith((" ", "\t")):
            inside = False
            entry = f"{line.strip()[:240]} (log line {index + 1})"
            if line.strip()[:240] not in {item.rsplit(" (log line", 1)[0] for item in found}:
                found.append(entry)
    return found[-most:]


LOGS_CAPTION = re.compile(r"(?P<visible>[\d,]+) of (?P<kept>[\d,]+) lines from (?P<read>\d+) of "
                          r"(?P<asked>\d+) containers(?:; the oldest (?P<dropped>[\d,]+) were let go)?"
                          r"(?:.*?(?P<appended>[\d,]+) new since the read)?")


def parse_logs_caption(text: str) -> dict[str, int]:
    """The Logs page's summary line -> visible, kept, read, asked, dropped, appended (0 when absent)."""
    found = LOGS_CAPTION.search(text.replace("\\", ""))
    if found is None:
        return {}
    return {name: int((value or "0").replace(",", "")) for name, value in found.groupdict().items()}


# ======================================================================================= verdicts
@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    ok: bool | None  # None: not measured in this run


def _get(data: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _fmt_s(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.2f} s"


def _fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value / MB:.2f} MB"


def request_shares(result: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Per collection path the viewers read: its reads as text and whether they are one per refresh
    interval, or one watch stream (opened since the server started) and no lists in the window."""
    viewers = result.get("viewers") or {}
    requests, watches = viewers.get("requests") or {}, viewers.get("watches") or {}
    concurrent = viewers.get("open_watches")  # absent in runs before it was recorded
    intervals = max(1.0, (viewers.get("window_s") or 0) / REFRESH_INTERVAL_S)
    shares: dict[str, tuple[str, bool]] = {}
    for path in sorted(set(requests) | set(watches)):
        lists, opened = requests.get(path, {}).get("lists", 0), watches.get(path, 0)
        text = f"{lists / intervals:.1f} lists per {REFRESH_INTERVAL_S:g} s"
        ok = lists / intervals <= 1.0
        if opened:
            # WatchedList renews its stream every 300 s (timeoutSeconds): requests opened != streams.
            at_once = None if concurrent is None else concurrent.get(path, 0)
            text += f", {opened} watch request{'s' if opened > 1 else ''} since start" + (
                "" if at_once is None else f" (at most {at_once} open at once)")
            ok = lists == 0 and (at_once is None or at_once <= 1)
        shares[path] = (text, ok)
    return shares


def evaluate(results: list[dict[str, Any]]) -> list[Verdict]:
    """Each target of issue 16 against this run's figures (pure: the smoke test checks it)."""
    by_size = {result["size"]: result for result in results}
    big, small = by_size.get(BIG), by_size.get(SMALL)
    verdicts: list[Verdict] = []

    def missing(target: str, size: int) -> None:
        verdicts.append(Verdict(target, f"{size:,} pods not measured in this run", None))

    target = f"Pods page at 100,000: first rows cold <= {TARGET_PODS_COLD_SHARE}x kubectl"
    if big:
        cold, kubectl = _get(big, "pods", "cold", "seconds"), _get(big, "kubectl", "seconds")
        share = None if cold is None or not kubectl else cold / kubectl
        verdicts.append(Verdict(target, f"{_fmt_s(cold)} / {_fmt_s(kubectl)} = "
                                + ("-" if share is None else f"{share:.3f}x"),
                                share is not None and share <= TARGET_PODS_COLD_SHARE))
    else:
        missing(target, BIG)
    target = f"Pods page at 100,000: first rows warm < {TARGET_PODS_WARM_S} s"
    if big:
        warm = _get(big, "pods", "warm", "seconds")
        verdicts.append(Verdict(target, _fmt_s(warm), warm is not None and warm < TARGET_PODS_WARM_S))
    else:
        missing(target, BIG)
    target = f"Pods page at 100,000: <= {TARGET_RERUN_MB:g} MB to the browser per rerun"
    if big:
        rerun = _get(big, "pods", "rerun", "bytes")
        refresh = _get(big, "viewers", "pages", "pods", "median_bytes")
        worst = max((value for value in (rerun, refresh) if value is not None), default=None)
        verdicts.append(Verdict(target, f"rerun {_fmt_mb(rerun)}; auto-refresh median {_fmt_mb(refresh)}",
                                worst is not None and worst <= TARGET_RERUN_MB * MB))
    else:
        missing(target, BIG)
    target = f"Overview at 100,000: warm < {TARGET_OVERVIEW_WARM_S:g} s"
    if big:
        warm = _get(big, "overview", "warm", "seconds")
        verdicts.append(Verdict(target, _fmt_s(warm), warm is not None and warm < TARGET_OVERVIEW_WARM_S))
    else:
        missing(target, BIG)
    target = f"Security at 100,000: cold < {TARGET_SECURITY_COLD_S:g} s"
    if big:
        cold = _get(big, "security", "cold", "seconds")
        verdicts.append(Verdict(target, _fmt_s(cold), cold is not None and cold < TARGET_SECURITY_COLD_S))
    else:
        missing(target, BIG)
    target = "Security at 100,000: then cached (the warm view lists nothing and is faster)"
    if big:
        warm, cold = _get(big, "security", "warm", "seconds"), _get(big, "security", "cold", "seconds")
        lists = _get(big, "security", "warm", "api_requests") or {}
        verdicts.append(Verdict(target, f"warm {_fmt_s(warm)}, {sum(lists.values())} API lists",
                                warm is not None and cold is not None and warm < cold and not lists))
    else:
        missing(target, BIG)
    target = f"Security at 100,000: server memory < {TARGET_SECURITY_MB / 1024:g} GB"
    if big:
        peak = _get(big, "security", "peak_rss_mb")
        verdicts.append(Verdict(target, "-" if peak is None else f"{peak:.0f} MB peak RSS",
                                peak is not None and peak < TARGET_SECURITY_MB))
    else:
        missing(target, BIG)
    for result in results:
        pods = result["size"]
        viewers = result.get("viewers") or {}
        held, asked = viewers.get("held"), viewers.get("asked")
        errors = dict(viewers.get("errors") or {})
        if errors:  # KAMS's own error sentences on the pages count too (a timeout shown to a viewer)
            errors["error alerts"] = sum((viewers.get("error_alerts") or {}).values())
        count = sum(errors.values()) if errors else None
        verdicts.append(Verdict(
            f"{asked} viewers at {pods:,}: no errors",
            "-" if count is None else f"{count} ({', '.join(f'{k} {v}' for k, v in errors.items())}); "
                                      f"{held} of {asked} viewers held", count == 0 and held == asked))
    target = f"{FULL.viewers} viewers: p95 refresh < {TARGET_P95_REFRESH_S:g} s at 5,000"
    if small:
        p95 = _get(small, "viewers", "p95_s")
        runs = _get(small, "viewers", "runs")
        verdicts.append(Verdict(target, f"{_fmt_s(p95)} over {runs} refreshes",
                                p95 is not None and p95 < TARGET_P95_REFRESH_S))
    else:
        missing(target, SMALL)
    for result in results:
        shares = request_shares(result)
        bad = [f"{path} {text}" for path, (text, ok) in shares.items() if not ok]
        verdicts.append(Verdict(
            f"viewers at {result['size']:,}: one API list per resource per {REFRESH_INTERVAL_S:g} s refresh, "
            "or one watch stream",
            "-" if not shares else ("; ".join(bad) if bad else "every resource: at most one"),
            None if not shares else not bad))
    target = "Prometheus queries per page view equal at 5,000 and 100,000 (first view of each page)"
    if big and small:
        pairs = {page: (_get(small, page, "cold", "prometheus_queries"),
                        _get(big, page, "cold", "prometheus_queries")) for page in ("pods", "overview")}
        verdicts.append(Verdict(target, "; ".join(f"{page} {a} vs {b}" for page, (a, b) in pairs.items()),
                                all(a == b and a is not None for a, b in pairs.values())))
    else:
        missing(target, BIG if not big else SMALL)
    for result in results:
        one, many = _get(result, "viewers", "rss_one_mb"), _get(result, "viewers", "rss_many_mb")
        held = _get(result, "viewers", "held")
        ratio = many / one if one and many else None
        verdicts.append(Verdict(
            f"viewers at {result['size']:,}: RSS with all <= {TARGET_RSS_GROWTH}x RSS with one",
            "-" if ratio is None else f"{one:.0f} -> {many:.0f} MB with {held} = {ratio:.2f}x",
            ratio is not None and ratio <= TARGET_RSS_GROWTH))
    return verdicts


def _mark(ok: bool | None) -> str:
    return "not measured" if ok is None else "PASS" if ok else "**FAIL**"


def _cell_s(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.2f}"


def render(results: list[dict[str, Any]], machine: dict[str, Any], plan_name: str) -> str:
    """The Markdown report: machine, the figures per size, the targets with PASS/FAIL, how measured."""
    sizes = [result["size"] for result in results]
    head = "| measure | " + " | ".join(f"{size:,} pods" for size in sizes) + " |"
    rule = "|---|" + "---:|" * len(sizes)

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> str:
        cells = []
        for result in results:
            try:
                cells.append(cell(result))
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                cells.append("-")
        return f"| {label} | " + " | ".join(cells) + " |"

    def kubectl_share(result: dict[str, Any]) -> str:
        cold = result["pods"]["cold"]["seconds"]
        return f"{cold / result['kubectl']['seconds']:.3f}x" if cold is not None else "timeout"

    def page_times(page: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: (f"{_cell_s(r[page]['cold']['seconds'])} / {_cell_s(r[page]['warm']['seconds'])}")

    def requests_text(result: dict[str, Any]) -> str:
        shares = request_shares(result)
        return "<br>".join(f"{path}: {text}" for path, (text, _ok) in shares.items()) or "none"

    def page_refresh(page: str) -> Callable[[dict[str, Any]], str]:
        def cell(result: dict[str, Any]) -> str:
            entry = result["viewers"]["pages"][page]
            return (f"{_cell_s(entry['p50_s'])} / {_cell_s(entry['p95_s'])} ({entry['runs']} runs, "
                    f"{_fmt_mb(entry['median_bytes'])} each)")
        return cell

    def logs_cell(result: dict[str, Any]) -> str:
        found = result.get("logs")
        if not found:
            return "not measured"
        following = found["following"]
        return (f"{found['pods']} pods, {following.get('asked', 0)} containers: server CPU "
                f"{found['cpu_share']:.0%} of a core, {found['bytes_per_s'] / 1024:.0f} KB/s to the browser; "
                f"followed lines served {found['followed_served']:,} (distinct; {found['served']:,} with "
                f"repeats), the page said {following.get('appended', 0):,} new; of "
                f"{found['followed_checked']:,} checked in the text view {found['followed_missing']:,} "
                f"missing, {found['shown_twice']:,} shown twice")

    lines = [
        "# `make load`: the website at scale, in a real browser beside kubectl",
        "",
        f"Run {machine['date']} UTC ({plan_name}) on {machine['cores']} cores, {machine['memory_gb']:.1f} GB "
        f"of memory, Python {machine['python']}, {machine['system']}; load average (1, 5, 15 min) "
        f"{machine['load_before']} before and {machine['load_after']} after; {machine['prometheus']}; "
        f"Chromium {machine['chromium']}. Whole run: {machine['total_s'] / 60:.1f} min.",
        "",
        "Pod counts: " + ", ".join(f"{size:,}" for size in sizes) + ". kubectl: "
        + "; ".join(f"`kubectl get pods -A` at {r['size']:,} pods took {r['kubectl']['seconds']:.2f} s "
                    f"({r['kubectl']['rows']:,} rows, {r['kubectl']['peak_mb']:.0f} MB peak RSS)"
                    for r in results if "kubectl" in r) + ".",
        "",
        head,
        rule,
        row("This size's share of the run (s): server start / all", lambda r: f"{r['server_start_s']:.0f} / "
            f"{r['total_s']:.0f}"),
        row("kubectl get pods -A (s)", lambda r: f"{r['kubectl']['seconds']:.2f}"),
        row("Pods: first rows cold / warm (s)", page_times("pods")),
        row("Pods: cold first rows / kubectl", kubectl_share),
        row("Pods: bytes per rerun (key R) / warm first view",
            lambda r: f"{_fmt_mb(r['pods']['rerun']['bytes'])} / {_fmt_mb(r['pods']['warm']['bytes'])}"),
        row("Pods: server peak RSS (MB)", lambda r: f"{r['pods']['peak_rss_mb']:.0f}"),
        row("Overview: settled cold / warm (s)", page_times("overview")),
        row("Overview: server peak RSS (MB)", lambda r: f"{r['overview']['peak_rss_mb']:.0f}"),
        row("Security: settled cold / warm (s)", page_times("security")),
        row("Security: server peak RSS (MB)", lambda r: f"{r['security']['peak_rss_mb']:.0f}"),
        row("Pods / Overview / Security: navigation -> first websocket frame, warm (s)",
            lambda r: " / ".join(_cell_s(r[page]["warm"]["connected"]) for page in PAGES)),
        row("Pods / Overview / Security: exceptions shown, cold + warm",
            lambda r: " / ".join(str(r[page]["exceptions_cold"] + r[page]["exceptions_warm"])
                                 for page in ("pods", "overview", "security"))),
        row("Prometheus queries, first view: Pods / Overview / Security",
            lambda r: " / ".join(str(r[page]["cold"]["prometheus_queries"])
                                 for page in ("pods", "overview", "security"))),
        row("Viewers held (asked)", lambda r: f"{r['viewers']['held']} ({r['viewers']['asked']})"),
        row("Viewers: setup (s)", lambda r: f"{r['viewers']['setup_s']:.0f}"),
        row("Viewers: errors", lambda r: ", ".join(f"{k} {v}" for k, v in r["viewers"]["errors"].items())),
        row("Viewers: refresh p50 / p95 (s), all", lambda r: f"{_cell_s(r['viewers']['p50_s'])} / "
            f"{_cell_s(r['viewers']['p95_s'])} ({r['viewers']['runs']} runs)"),
        row("Viewers: refresh p50 / p95, Pods", page_refresh("pods")),
        row("Viewers: refresh p50 / p95, Overview", page_refresh("overview")),
        row("Viewers: server peak RSS, one / all (MB)",
            lambda r: f"{r['viewers']['rss_one_mb']:.0f} / {r['viewers']['rss_many_mb']:.0f}"),
        row(f"Viewers: API collection GETs per {REFRESH_INTERVAL_S:g} s", requests_text),
        row("Viewers: Prometheus queries per page view",
            lambda r: f"{r['viewers']['prometheus_queries_per_view']:.2f} "
                      f"({r['viewers']['prometheus_queries']} / {r['viewers']['runs']} runs)"),
        row("Logs: follow, server CPU, lines", logs_cell),
        "",
        "## Targets (issue 16)",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {v.target} | {v.measured} | {_mark(v.ok)} |" for v in evaluate(results)]
    notes = []
    for result in results:
        for part in (*PAGES, "viewers", "logs"):
            if _get(result, part, "failed"):
                notes.append(f"- {result['size']:,} pods, {part}: not measured, {result[part]['failed']}")
        viewers = result.get("viewers") or {}
        for key in ("browser_limit",):
            if viewers.get(key):
                notes.append(f"- {result['size']:,} pods: {viewers[key]}")
        for failure in viewers.get("setup_failures") or []:
            notes.append(f"- {result['size']:,} pods, viewer setup: {failure}")
        for text, count in (viewers.get("error_alerts") or {}).items():
            notes.append(f"- {result['size']:,} pods, error shown {count}x: {text!r}")
        for text, count in (viewers.get("failed_responses") or {}).items():
            notes.append(f"- {result['size']:,} pods, HTTP error answer to the browser {count}x "
                         f"(not counted as an error): {text}")
        for text in viewers.get("console_samples") or []:
            notes.append(f"- {result['size']:,} pods, console error: {text!r}")
        for part in ("pods", "overview", "security", "viewers", "logs"):
            for text in _get(result, part, "tracebacks") or []:
                notes.append(f"- {result['size']:,} pods, {part}: the server logged {text}")
    if notes:
        lines += ["", "Noticed during the run:", "", *notes]
    lines += ["", HOW_MEASURED]
    return "\n".join(lines) + "\n"


HOW_MEASURED = """## How each number is measured (bench/load.py)

- Servers: the stand-in API server (bench/load_apiserver.py: sandbox.apiserver with --synthetic-pods N,
  admin kubeconfig, its own process) per size; one real Prometheus for the whole run (no scrape targets,
  so queries return nothing; its query log counts what KAMS asks); `streamlit run app.py` started afresh
  (free loopback port, own process group) for each page's cold/warm pair, for the viewers and for the
  logs. All on this machine's cores, beside Chromium.
- kubectl: `kubectl get pods -A` (server-side Table) against the same stand-in, once per size, before
  Streamlit starts (bench.measure kubectl: wall time, rows, peak RSS).
- Cold / warm: cold is the first visitor after the server started (a deep link to the page); warm is a
  second visitor right after, in a new tab of the first one's browser (a new Streamlit session; the
  browser's HTTP cache warm). A page that shows no rows (or never finishes) within the page timeout is
  "timeout". Pods: from navigation to the first data row of the
  pods table (Streamlit's grid keeps an accessible table of the rows it draws: its first data row has
  text). Overview and Security: from navigation to the page's finished script run (the ForwardMsg
  script_finished the browser receives).
- Bytes: the websocket frames the page received (Playwright framereceived). "Per rerun": Streamlit's
  rerun key (R) on the settled warm page; big unchanged elements are then sent as ref_hash references.
  The auto-refresh reruns of the viewers are measured the same way.
- Server memory: VmRSS of the streamlit process and its descendants, sampled every 0.2 s (no psutil in
  the venv); peak over the server's life (cold and warm) for the pages.
- Viewers: one Playwright browser context per viewer in one Chromium. Viewer 0 opens the Overview, then
  the Pods page through the sidebar, and turns Auto-refresh to "Every 30 seconds": the peak RSS until then
  (plus 3 s) is "one". The others open the Pods page (even) or the Overview (odd) and turn auto-refresh
  on; the window then runs for its seconds; "all" is the peak RSS from the second viewer on. A refresh
  is a full script run that started in the window: from the browser's new_session to its successful
  script_finished (runs ended early for a rerun continue), as timed when Playwright delivers the frames.
  Errors: stException elements on the pages at the end, KAMS's own error alerts shown on them then
  (st.error: e.g. a source that timed out), console errors, page errors, websockets closed during the
  window, viewers whose setup failed. API requests: every GET of a collection
  (no object name) the stand-in saw start in the window, per path, watches (watch=1/true) apart, divided
  by the number of 30 s refresh intervals in the window. Prometheus queries per page view: queries logged
  in the window divided by the viewers' full runs in it; "first view" counts the queries logged while the
  cold visitor's page ran (caches empty), for each page.
- Logs: the synthetic pods log one line a second per container in this stand-in, each line unique. The
  viewer picks N running pods of one namespace in the Pods picker, presses Read again (counted from
  there), turns Follow live on for the window, then off. Server CPU share: utime+stime of the streamlit
  process tree (/proc/PID/stat) over the window divided by its wall time (1.0 = one core). Lines shown:
  the page's own summary ("X of Y lines ...; the oldest D were let go; N new since the read"), kept Y plus
  dropped D; lines served: the lines the stand-in wrote into pods/log answers from the Read again on
  (counted in the server), distinct and with the repeats that following by whole seconds re-sends.
"""


def machine_facts(prometheus: Any, browser: Any) -> dict[str, Any]:
    return {"cores": os.cpu_count(), "memory_gb": memory_gb(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.machine()}",
            "prometheus": f"Prometheus {prometheus.flavour.name}", "chromium": browser.version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 and 5,000 pods, 4 viewers for 35 s, logs of 5 pods for 20 s")
    parser.add_argument("--sizes", help="comma-separated pod counts (default 5000,100000)")
    parser.add_argument("--viewers", type=int)
    parser.add_argument("--seconds", type=float, help="the viewers' window")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "load-results.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--render-from", type=Path, metavar="JSON",
                        help="measure nothing: write the table again from a --json file of an earlier run")
    args = parser.parse_args(argv)
    if args.render_from:
        saved = json.loads(args.render_from.read_text())
        table = render(saved["results"], saved["machine"], saved.get("plan", "earlier run"))
        print(table)
        args.out.write_text(table)
        return 0
    plan = QUICK if args.quick else FULL
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
        plan = Plan(**{**asdict(plan), "sizes": sizes, "log_sizes": sizes[:1]})
    if args.viewers:
        plan = Plan(**{**asdict(plan), "viewers": args.viewers})
    if args.seconds:
        plan = Plan(**{**asdict(plan), "seconds": args.seconds})
    began = time.monotonic()
    before = loadavg()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kams-load-") as scratch, Bench(plan, Path(scratch)) as bench:
        machine = machine_facts(bench.prometheus, bench.browser)
        for pods in plan.sizes:
            results.append(bench.measure_size(pods))
            if args.json:
                args.json.write_text(json.dumps(results, indent=1, default=str))
    machine.update(date=f"{datetime.now(UTC):%Y-%m-%d %H:%M}", load_before=before, load_after=loadavg(),
                   total_s=time.monotonic() - began)
    name = "quick mode" if args.quick else "full run"
    if plan != (QUICK if args.quick else FULL):
        name += f", sizes {','.join(str(s) for s in plan.sizes)}, {plan.viewers} viewers, {plan.seconds:g} s"
    table = render(results, machine, name)
    print(table)
    args.out.write_text(table)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results, "plan": name}, indent=1,
                                        default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
