"""Issue 14, item 7: the fault matrix. Every page (app.py's PAGES, each through the whole frame: sidebar,
banner, Connections panel), with every fault on every Kubernetes API path it reads, and with each other
source down, must settle honestly.

Cells (`make faults`; marker `faults`):

- `test_api_path_faults[VIEW-KIND]`: KIND is 403 (forbidden), 429 (throttle, Retry-After 1), 500 (error)
  or a hang, injected by the stand-in API server on ONE path at a time, for every path the view reads.
  The paths are not a hand-kept list: each view is run cleanly first and the stand-in's request log gives
  them, normalised to one pattern per resource path (`^/api/v1/pods$`, `^/api/v1/namespaces/[^/]+/pods/
  [^/]+/log$`). The frame's own paths (read by every view: the sidebar's `/version` and namespaces) are
  tried on the first view of each page script only; a page's own paths on every one of its views.
- `test_source_outages[VIEW-OUTAGE]`: the API server refusing connections (a kubeconfig naming a closed
  port), Prometheus refusing or hanging (a socket that accepts and never answers), Alertmanager refusing,
  S3 refusing.

Each run asserts:

(a) no exception element;
(b) a sentence: an st.warning/error/info (page or sidebar) that names the failing source ("Kubernetes",
    "Prometheus", "Alertmanager", "S3" or "archive"), starts with a capital letter and ends with one full
    stop. When no element names the source, the page must look exactly as it does cleanly (headings,
    messages with digits blanked, table columns and whether they have rows, sidebar choices): the page
    does not show that path's data. Every message the fault added must be a sentence of that shape.
(c) the unaffected panels present. Headings are the titles, headers, subheaders, tab labels and metric
    labels of page and sidebar. The page title and the sidebar's "Connections" are always required
    (tabs are not: a page whose every panel reads one source may say so instead of drawing tabs).
    Beyond those, a heading of the clean run may be missing only if it belongs to the failed source's
    own panel, decided from the outages themselves, with no hand-kept map:
    - a heading that disappears when source X is down belongs to X only if it survives every OTHER
      source's outage (a heading that disappears for two sources is a coupled panel, and fails both
      outage cells);
    - with one API path failing, only headings that also disappear when the whole Kubernetes API is down
      may be missing.
(d) settled within the bound: the AppTest run takes at most KAMS_REQUEST_TIMEOUT (1 s here) + 2 s.
    AppTest's cold first run (imports) is excluded: the module warms up with the clean runs first.

A cell that loops over paths reports every failing path with what failed and the time it took; the
summary at the end of the module lists every run.
"""

from __future__ import annotations

import ast
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo_names import WEB
from sandbox.prometheus.flavours import DEBIAN, newest
from tests.faults.conftest import SUMMARY
from tests.plugins.app import (
    ROOT,
    _behave_like_streamlit_run,
    app_test,
    clear_streamlit_caches,
    closed_port_url,
    sandbox_environment,
    set_app_environment,
    unescape,
)
from tests.plugins.silent import silent_server

#: One Prometheus flavour is enough here (the newest on this machine): the matrix is about KAMS, and it is
#: long already. Other tests cover both majors.
FLAVOUR = newest() or DEBIAN
pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.parametrize("prometheus_flavour", [FLAVOUR], ids=[FLAVOUR.name], indirect=True),
]

REQUEST_TIMEOUT = 1.0
BOUND = REQUEST_TIMEOUT + 2.0
KINDS = ("forbidden", "throttle", "error", "hang")
FAULT_PARAMS: dict[str, dict[str, Any]] = {"throttle": {"retry_after": 1}}
#: Each outage and the source it takes down.
OUTAGES = {
    "api-refused": "kubernetes",
    "prometheus-refused": "prometheus",
    "prometheus-hang": "prometheus",
    "alertmanager-refused": "alertmanager",
    "s3-refused": "s3",
}
#: The words by which a sentence names a source (k8sdata.errors.SOURCE_NAMES and the page's own wording).
SOURCE_WORDS = {
    "kubernetes": ("Kubernetes",),
    "prometheus": ("Prometheus",),
    "alertmanager": ("Alertmanager",),
    "s3": ("S3", "archive"),
}
POD = f"{WEB.namespace}/{WEB.pod}"
#: The views beyond a page's default one: its tabs bound to the `tab` query parameter (only the open one
#: runs; test_every_tab_is_a_view fails when a page gains a tab missing here) and the pod links.
EXTRA_VIEWS: dict[str, tuple[dict[str, str], ...]] = {
    "pods": ({"tab": "Workloads"}, {"tab": "Nodes"}, {"tab": "Right-sizing"}, {"pod": POD}),
    "requests": ({"tab": "Charts"}, {"tab": "Endpoints"}, {"tab": "Traffic patterns"}),
    "logs": ({"tab": "Events"}, {"tab": "Security & reliability"}, {"pod": POD}),
}
ALWAYS_REQUIRED = frozenset({"Connections"})


def app_pages() -> list[str]:
    """The page scripts of app.py's PAGES, in order (read from the source: importing app.py runs it)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "PageSpec"
                and node.args and isinstance(node.args[0], ast.Constant)):
            found.append(Path(str(node.args[0].value)).stem)
    assert found, "app.py names no PageSpec"
    return found


@dataclass(frozen=True)
class View:
    page: str
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        shown = ",".join("pod" if name == "pod" else value for name, value in self.params)
        return f"{self.page}[{shown}]" if shown else self.page


VIEWS = [view for page in app_pages()
         for view in (View(page), *(View(page, tuple(extra.items())) for extra in EXTRA_VIEWS.get(page, ())))]


def path_pattern(path: str) -> str:
    """One pattern per resource path: namespace and object names become `[^/]+`."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        head, rest = parts[:2], parts[2:]
    elif parts[0] == "apis":
        head, rest = parts[:3], parts[3:]
    else:
        return f"^{re.escape(path)}$"
    out = [re.escape(part) for part in head]
    if len(rest) >= 3 and rest[0] == "namespaces":
        out += ["namespaces", "[^/]+"]
        rest = rest[2:]
    if rest:
        out.append(re.escape(rest[0]))
    if len(rest) >= 2:
        out.append("[^/]+")
    out += [re.escape(part) for part in rest[2:]]
    return "^/" + "/".join(out) + "$"


def is_sentence(text: str) -> bool:
    text = text.strip()
    return (bool(text) and text[0].isupper() and text.endswith(".") and not text.endswith("..")
            and not re.search(r"(?<!\.)\.\)?[.:]|\.\)\.", text))


def _digits_blanked(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "#", text)


@dataclass
class Seen:
    """What one run of a view showed."""

    elapsed: float
    exceptions: list[str]
    headings: frozenset[str]
    required: frozenset[str]  # the page title and the sidebar's Connections
    messages: list[str]  # warning, error and info texts, unescaped (page and sidebar)
    look: frozenset[str]  # headings, messages (digits blanked), tables, sidebar choices
    paths: set[str] = field(default_factory=set)
    undrawn_tabs: list[str] = field(default_factory=list)


def _seen(at: Any, elapsed: float, paths: set[str]) -> Seen:
    titles = {str(element.value) for element in at.title}
    tabs = {tab.label for tab in at.tabs}
    headings = frozenset({unescape(h) for h in titles | tabs
                          | {str(e.value) for e in [*at.header, *at.subheader]}
                          | {str(m.label) for m in at.metric}})
    messages = [unescape(str(e.value)) for e in [*at.warning, *at.error, *at.info]]
    tables = {f"table:{','.join(map(str, frame.value.columns))}:{bool(len(frame.value))}"
              for frame in at.dataframe}
    choices = {f"choice:{box.label}:{box.options}" for box in at.sidebar.selectbox}
    look = frozenset(headings | {f"said:{_digits_blanked(m)}" for m in messages} | tables | choices)
    return Seen(elapsed=elapsed, exceptions=[str(e.value) for e in at.exception], headings=headings,
                required=frozenset({unescape(t) for t in titles} | ALWAYS_REQUIRED), messages=messages,
                look=look, paths=paths, undrawn_tabs=[tab.label for tab in at.tabs if not tab.children])


@dataclass
class Outcome:
    view: View
    what: str  # "PATTERN kind" or the outage
    elapsed: float
    problems: list[str]


class Matrix:
    """Runs views through app.py with one fault at a time and judges what they show."""

    def __init__(self, kube_api: Any, env: dict[str, str], outage_env: dict[str, dict[str, str]]) -> None:
        self.server = kube_api.server
        self.env = env
        self.outage_env = outage_env
        self.clean: dict[View, Seen] = {}
        self.outages: dict[tuple[View, str], Seen] = {}
        self.outcomes: list[Outcome] = []

    def run(self, view: View, *, fault: tuple[str, str] | None = None,
            env: dict[str, str] | None = None) -> Seen:
        """One run of the view with the fault; a run over the bound is timed once more and the faster
        time counts: the bound is about the page, and a 2-core machine running other work (CI, another
        test process) can stall any single run by a few hundred milliseconds."""
        seen = self._run_once(view, fault=fault, env=env)
        if seen.elapsed > BOUND:
            again = self._run_once(view, fault=fault, env=env)
            seen.elapsed = min(seen.elapsed, again.elapsed)
        return seen

    def _run_once(self, view: View, *, fault: tuple[str, str] | None = None,
                  env: dict[str, str] | None = None) -> Seen:
        clear_streamlit_caches()
        self.server.clear_faults()
        self.server.clear_request_log()
        try:
            with pytest.MonkeyPatch.context() as patch:
                for name, value in (env or {}).items():
                    patch.setenv(name, value)
                if fault is not None:
                    pattern, kind = fault
                    self.server.set_fault(pattern, kind, **FAULT_PARAMS.get(kind, {}))
                at = app_test(ROOT / "app.py", timeout=60)
                at.switch_page(f"pages/{view.page}.py")
                for name, value in view.params:
                    at.query_params[name] = value
                started = time.monotonic()
                at.run()
                elapsed = time.monotonic() - started
        finally:
            self.server.clear_faults()
        paths = {record.path for record in self.server.request_log}
        return _seen(at, elapsed, paths)

    def baseline(self) -> None:
        """Each view run cleanly twice: the paths it reads (either run), the headings it shows (both)."""
        self.run(VIEWS[0])  # AppTest's cold first run: imports, not KAMS
        for view in VIEWS:
            first, second = self.run(view), self.run(view)
            assert not first.exceptions and not second.exceptions, (view, first.exceptions, second.exceptions)
            second.paths |= first.paths
            second.headings &= first.headings
            self.clean[view] = second

    @property
    def frame_patterns(self) -> set[str]:
        every = [{path_pattern(path) for path in seen.paths} for seen in self.clean.values()]
        return set.intersection(*every) if every else set()

    def patterns(self, view: View) -> list[str]:
        """The patterns to fault on this view: its own paths, and the frame's on a page's first view."""
        mine = {path_pattern(path) for path in self.clean[view].paths}
        if view.params:
            mine -= self.frame_patterns
        return sorted(mine)

    def outage(self, view: View, name: str) -> Seen:
        if (view, name) not in self.outages:
            self.outages[view, name] = self.run(view, env=self.outage_env[name])
        return self.outages[view, name]

    def lost_to(self, view: View, name: str) -> frozenset[str]:
        """The clean run's headings that the outage `name` takes away."""
        return self.clean[view].headings - self.outage(view, name).headings

    def judge(self, view: View, seen: Seen, source: str, may_lose: frozenset[str]) -> list[str]:
        clean = self.clean[view]
        problems = [f"exception: {text[:300]}" for text in seen.exceptions]
        words = SOURCE_WORDS[source]
        naming = [m for m in seen.messages if any(word in m for word in words)]
        added = [m for m in seen.messages if m not in clean.messages]
        problems += [f"not a sentence: {m[:200]!r}" for m in added if not is_sentence(m)]
        if not any(is_sentence(m) for m in naming) and seen.look != clean.look:
            gone, new = sorted(clean.look - seen.look)[:6], sorted(seen.look - clean.look)[:6]
            changes = [*gone, *(f"+{x}" for x in new)]
            problems.append(f"no sentence naming {'/'.join(words)}, yet the page changed: {changes}")
        required = clean.required & clean.headings
        missing = (clean.headings - seen.headings)
        lost = sorted((missing - may_lose) | (required & missing))
        if lost:
            problems.append(f"headings gone: {lost}")
        if seen.elapsed > BOUND:
            problems.append(f"settled in {seen.elapsed:.1f} s (bound {BOUND:.0f} s)")
        return problems

    def record(self, view: View, what: str, seen: Seen, problems: list[str]) -> str | None:
        self.outcomes.append(Outcome(view, what, seen.elapsed, problems))
        if not problems:
            return None
        return f"{view} | {what} | {seen.elapsed:.1f} s | " + "; ".join(problems)

    def summary(self) -> list[str]:
        lines = [f"fault matrix: {len(self.outcomes)} runs, "
                 f"{sum(1 for o in self.outcomes if o.problems)} failing, "
                 f"slowest {max((o.elapsed for o in self.outcomes), default=0):.1f} s (bound {BOUND:.0f} s)"]
        lines += [f"  FAIL {o.view} | {o.what} | {o.elapsed:.1f} s | {'; '.join(o.problems)}"
                  for o in self.outcomes if o.problems]
        return lines


def _write_history(env: dict[str, str]) -> None:
    """Two snapshots in this module's own prefix, so the History page has trends and tables to lose."""
    from k8sdata.config import Settings
    from k8sdata.sources.archive import archive_from_settings
    from tests.k8sdata.test_archive_trends import events, pods, requests_table, scores

    archive = archive_from_settings(Settings.from_env(env))
    assert archive is not None
    now = datetime.now(UTC)
    for back, overall in ((1, 70.0), (0, 80.0)):
        at = now - timedelta(days=back, minutes=5)
        archive.upload_snapshot({"pods": pods((0, 1, 0), "Running"), "events": events(at.day),
                                 "requests": requests_table(2.0), "security_scores": scores(overall)},
                                cluster="prod", context=None, at=at)


@pytest.fixture(scope="module")
def matrix(kube_api: Any, prometheus: Any, s3: Any, alertmanager: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    home = tmp_path_factory.mktemp("faults")
    env = sandbox_environment(kube_api, prometheus, s3, home)
    env.update({"ALERTMANAGER_URL": alertmanager.url, "KAMS_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
                "KAMS_S3_PREFIX": f"faults-{uuid.uuid4().hex[:8]}",
                "KAMS_ARCHIVE_MIRROR": str(home / "mirror"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    dead_kubeconfig = home / "dead.kubeconfig"
    live = kube_api.reader_kubeconfig.read_text(encoding="utf-8")
    port = f"127.0.0.1:{kube_api.server.port}"
    assert port in live, live
    dead = closed_port_url().removeprefix("http://")
    dead_kubeconfig.write_text(live.replace(port, dead), encoding="utf-8")
    patch = pytest.MonkeyPatch()
    with silent_server() as (hung_url, _accepted):
        try:
            set_app_environment(patch, env)
            _behave_like_streamlit_run(patch)
            _write_history(env)
            outage_env = {
                "api-refused": {"KUBECONFIG": str(dead_kubeconfig)},
                "prometheus-refused": {"PROMETHEUS_URL": closed_port_url()},
                "prometheus-hang": {"PROMETHEUS_URL": hung_url},
                "alertmanager-refused": {"ALERTMANAGER_URL": closed_port_url()},
                "s3-refused": {"AWS_ENDPOINT_URL_S3": closed_port_url()},
            }
            runs = Matrix(kube_api, env, outage_env)
            runs.baseline()
            yield runs
        finally:
            clear_streamlit_caches()
            patch.undo()
            if "runs" in locals():
                SUMMARY.extend(runs.summary())


def test_every_tab_is_a_view(matrix: Matrix) -> None:
    """A tab that is not drawn on a page's default view (only the open tab runs) must be a view here."""
    declared = {(view.page, value) for view in VIEWS for name, value in view.params if name == "tab"}
    missing = {(view.page, tab) for view, seen in matrix.clean.items() if not view.params
               for tab in seen.undrawn_tabs if (view.page, tab) not in declared}
    assert not missing, f"add these tabs to EXTRA_VIEWS: {sorted(missing)}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_api_path_faults(matrix: Matrix, view: View, kind: str) -> None:
    """KIND on each Kubernetes API path the view reads, one path at a time."""
    may_lose = matrix.lost_to(view, "api-refused")
    failures = []
    for pattern in matrix.patterns(view):
        seen = matrix.run(view, fault=(pattern, kind))
        problems = matrix.judge(view, seen, "kubernetes", may_lose)
        failure = matrix.record(view, f"{pattern} {kind}", seen, problems)
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("outage", list(OUTAGES))
@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_source_outages(matrix: Matrix, view: View, outage: str) -> None:
    """One source down (refusing connections, or Prometheus hanging); the others answer."""
    source = OUTAGES[outage]
    seen = matrix.outage(view, outage)
    # A heading may vanish for one source only: lost to another source's outage too, it is a coupled panel.
    others = [other for other, its in OUTAGES.items() if its != source]
    coupled = frozenset().union(*(matrix.lost_to(view, other) for other in others))
    may_lose = (matrix.clean[view].headings - seen.headings) - coupled
    failure = matrix.record(view, outage, seen, matrix.judge(view, seen, source, may_lose))
    assert failure is None, failure
