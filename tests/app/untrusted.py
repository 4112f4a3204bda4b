"""The untrusted-text corpus and a cluster that carries it in every free-text field a page shows, for
the walk over every page (test_untrusted_text.py in AppTest, test_untrusted_text_browser.py in Chromium).

Names and label values must stay valid Kubernetes names, so the corpus goes where the API takes free
text: annotations, container images, status reasons and messages (the pod's and its containers'),
termination messages, condition reasons and messages, event reasons and messages, and log lines.

Each corpus item carries a word of its own (boldcorpus, headingcorpus, ...) so that a test can tell the
corpus from KAMS's own Markdown (which has bold, icons and colour badges of its own).
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf.json_format import MessageToDict

from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.apiserver.podlogs import generic_log_lines
from sandbox.prometheus.flavours import FLAVOURS
from tests.plugins.kube_api import fixture_cluster_objects

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

    from sandbox.prometheus import MetricsSandbox

NAMESPACE = "shop"
#: Waiting in CrashLoopBackOff-like state with the corpus as its reason; its log is the corpus.
WAITING_POD = "corpus-1"
#: Failed with the corpus as the pod's own status.reason (what kubectl shows for an evicted pod).
REASON_POD = "corpus-2"
#: Waiting with no previous run: asking for its log gets the kubelet's sentence quoting the reason.
NO_LOG_POD = "corpus-3"
APP = "corpus"
LONG_CHARS = 10_000

#: Markdown, HTML, LaTeX, Streamlit directives and ANSI escapes, each with a word of its own.
CORPUS = (
    "[linkcorpus](http://evil.example/link)",
    "**boldcorpus**",
    "# headingcorpus",
    "![imagecorpus](http://evil.example/x.png)",
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=alert(1)>",
    "<b>htmlbold</b>",
    "$x^2$",
    "$$\\frac{a}{b}$$",
    ":red[boom]",
    ":material/bug_report:",
    "\x1b[31mansired\x1b[0m",
)
#: All of it in one field, one item a line (a heading only starts a line).
ALL = "\n".join(CORPUS)
#: 10,000 characters that would still be drawn as Markdown if any of it were.
LONG = ("**longcorpus** [x](http://evil.example/long) $y^3$ :red[boom] <b>htmlbold</b> "
        * (LONG_CHARS // 60 + 1))[:LONG_CHARS]
#: A short reason (event reasons are at most 128 characters in events.k8s.io).
SHORT = "**boldcorpus**:red[boom]$x^2$[linkcorpus](http://evil.example/r)"
#: Images: the API refuses only leading or trailing white space.
IMAGE = "example/corpus:1.0 " + " ".join(item for item in CORPUS if "\x1b" not in item)

#: Fragments that appear in a Markdown-rendering element only when the corpus reached it unescaped:
#: escape_markdown puts a backslash before every ASCII punctuation mark, which breaks each of these.
UNESCAPED = tuple(re.compile(pattern) for pattern in (
    r"\]\(http://evil",  # links and images
    r"\*\*(bold|long)corpus",
    r"(?<!\\)# headingcorpus",
    r"(?<!\\)<(script|img|b)\b",
    r"\$x\^2\$", r"\$y\^3\$", r"\$\$\\frac",
    r":red\[boom",
    r":material/bug_report:",
    "\x1b\\[",
))


#: The walk runs with one Prometheus flavour: the corpus lives in Kubernetes, and the flavours' own tests
#: cover both. A module marks itself with this, so the other flavour is not collected at all.
ONE_FLAVOUR = pytest.mark.parametrize("prometheus_flavour", [FLAVOURS[0]], indirect=True,
                                      ids=[FLAVOURS[0].name])


def flat(text: str) -> str:
    """Text as escape_markdown shows it, once unescaped: white space runs become one space."""
    return " ".join(text.split())


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(base: dict[str, Any], name: str, status: dict[str, Any]) -> dict[str, Any]:
    pod = copy.deepcopy(base)
    pod["metadata"] = {
        "name": name, "namespace": NAMESPACE, "creationTimestamp": base["metadata"]["creationTimestamp"],
        "labels": {"app": APP},
        "annotations": {
            "kams.io/exempt": "liveness-probe-missing", "kams.io/exempt-reason": ALL,
            "container.apparmor.security.beta.kubernetes.io/main": ALL,
            "description": LONG,
        },
    }
    pod["spec"]["containers"][0]["image"] = IMAGE
    pod["status"] = status
    return pod


def corpus_objects(now: datetime | None = None) -> list[dict[str, Any]]:
    """The tests' small cluster (tests.plugins.kube_api) plus three pods, a Deployment and events that
    carry the corpus; node-a's Ready condition says it too."""
    now = now or datetime.now(UTC)
    objects = fixture_cluster_objects(now)
    base = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "web-1")
    node = next(o for o in objects if o["kind"] == "Node" and o["metadata"]["name"] == "node-a")
    node["status"]["conditions"][0].update(reason=SHORT, message=ALL)
    started = _ts(now - timedelta(hours=1))
    conditions = [
        {"type": "Ready", "status": "False", "reason": SHORT, "message": ALL, "lastTransitionTime": started},
        {"type": "PodScheduled", "status": "True", "message": LONG, "lastTransitionTime": started},
    ]
    container = {"name": "main", "ready": False, "restartCount": 3, "image": IMAGE, "imageID": ALL}
    waiting = _pod(base, WAITING_POD, {
        "phase": "Running", "podIP": "10.244.1.30", "conditions": conditions, "message": ALL,
        "containerStatuses": [{
            **container, "state": {"waiting": {"reason": ALL, "message": ALL}},
            "lastState": {"terminated": {"exitCode": 1, "reason": ALL, "message": LONG, "startedAt": started,
                                         "finishedAt": _ts(now - timedelta(minutes=5))}},
        }],
    })
    evicted = _pod(base, REASON_POD, {"phase": "Failed", "reason": ALL, "message": ALL,
                                      "conditions": conditions, "containerStatuses": []})
    no_log = _pod(base, NO_LOG_POD, {
        "phase": "Pending", "conditions": conditions,
        "containerStatuses": [{**container, "restartCount": 0,
                               "state": {"waiting": {"reason": ALL, "message": LONG}}}],
    })
    events = [
        ("BackOff", ALL), (SHORT, LONG), ("FailedMount", ALL), ("Unhealthy", ALL), ("Killing", LONG),
    ]
    objects += [waiting, evicted, no_log, _deployment(now)]
    objects += [{
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{pod}.corpus{index}", "namespace": NAMESPACE, "creationTimestamp": _ts(now)},
        "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": pod, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": "Warning", "count": index + 1,
        "firstTimestamp": _ts(now - timedelta(minutes=20)),
        "lastTimestamp": _ts(now - timedelta(minutes=index + 1)),
        "source": {"component": "kubelet", "host": "node-a"},
    } for pod in (WAITING_POD, REASON_POD) for index, (reason, message) in enumerate(events)]
    return objects


def _deployment(now: datetime) -> dict[str, Any]:
    """A Deployment stuck past its progress deadline, with the corpus in its conditions and template."""
    template = {"metadata": {"labels": {"app": APP}, "annotations": {"description": ALL}},
                "spec": {"containers": [{"name": "main", "image": IMAGE}]}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": APP, "namespace": NAMESPACE, "creationTimestamp": _ts(now - timedelta(days=1)),
                     "annotations": {"description": ALL}, "generation": 1},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": APP}}, "template": template},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 0,
                   "conditions": [{"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded", "message": ALL},
                                  {"type": "Available", "status": "False", "reason": SHORT,
                                   "message": LONG}]},
    }


#: The log of the waiting pod: every corpus item a line (a log line has no newline), then LONG.
LOG_LINES = (*CORPUS, LONG)


def corpus_log_provider(pod: dict[str, Any], container: str, previous: bool, now: datetime
                        ) -> list[tuple[datetime, str]] | None:
    if pod["metadata"]["name"] != WAITING_POD:
        return generic_log_lines(pod, container, previous, now)
    start = now - timedelta(minutes=5)
    return [(start + timedelta(seconds=index), line) for index, line in enumerate(LOG_LINES)]


@contextlib.contextmanager
def corpus_api_server(folder: Path) -> Iterator[Path]:
    """A stand-in API server holding the corpus cluster, stopped on exit; yields its reader's kubeconfig."""
    server = ApiServer(corpus_objects(), log_provider=corpus_log_provider).start()
    try:
        yield server.write_kubeconfig(folder / "reader", demo_names.READER_TOKEN)
    finally:
        server.stop()


def corpus_environment(kubeconfig: Path, prometheus: MetricsSandbox, s3_env: dict[str, str],
                       home: Path) -> dict[str, str]:
    """KAMS's settings for the corpus cluster with the session's Prometheus and S3 (as `make run`)."""
    return {"HOME": str(home), "KUBECONFIG": str(kubeconfig), "PROMETHEUS_URL": prometheus.url,
            "KAMS_DEMO": "1", **s3_env}


# --- what a page drew ----------------------------------------------------------------------------------
#: Elements whose text is never Markdown (st.text, st.code, st.json, tables and charts carry no such keys).
PLAIN_ELEMENTS = frozenset({"Text", "Code", "Json", "Exception"})
#: Fields of Streamlit's element messages that the browser draws as Markdown: bodies (markdown, caption,
#: alerts, headings, metric values, toasts), labels (widgets, expanders, tabs, metrics, buttons, page
#: links), tooltips, metric deltas, and the options of radios, pills and segmented controls.
MARKDOWN_FIELDS = frozenset({"body", "label", "help", "delta", "captions", "content"})
#: Option lists drawn as Markdown (selectbox and multiselect options are plain text).
MARKDOWN_OPTIONS = frozenset({"Radio"})


def _strings(value: Any, key: str, kind: str) -> Iterator[str]:
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            yield from _strings(inner, inner_key, kind)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner, key, kind)
    elif isinstance(value, str) and (
            key in MARKDOWN_FIELDS or (key == "options" and kind in MARKDOWN_OPTIONS)):
        yield value


def markdown_texts(at: AppTest) -> list[tuple[str, str]]:
    """(element kind, text) for every text the page drew as Markdown, as sent to the browser."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            kind = proto.DESCRIPTOR.name
            if kind not in PLAIN_ELEMENTS:
                found.extend((kind, text) for text in _strings(MessageToDict(proto), "", kind))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def unescaped_corpus(at: AppTest) -> list[tuple[str, str, str]]:
    """(element kind, fragment, text) wherever the corpus reached a Markdown element unescaped."""
    return [(kind, match.group(0), text[:300]) for kind, text in markdown_texts(at)
            for pattern in UNESCAPED for match in [pattern.search(text)] if match]


def plain_texts(at: AppTest) -> list[str]:
    """What the page drew as plain text: st.code, st.text, and every cell of every table."""
    texts = [str(element.value) for element in (*at.code, *at.text)]
    for frame in at.dataframe:
        texts.extend(str(cell) for column in frame.value.columns for cell in frame.value[column].tolist())
    return texts
