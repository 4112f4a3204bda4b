"""Every page, walked in AppTest against a stand-in API server whose free-text fields carry the
untrusted-text corpus (tests/app/untrusted.py): no text that reached a Markdown-rendering element
(markdown, captions, alerts, headings, metric values, labels, tooltips, tabs, expanders) carries the
corpus unescaped, and the corpus does reach the page where a page shows that field (so the walk is not
vacuous). Chromium's view of the same is tests/app/test_untrusted_text_browser.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.untrusted import (
    ALL,
    CORPUS,
    IMAGE,
    LOG_LINES,
    LONG,
    NAMESPACE,
    NO_LOG_POD,
    ONE_FLAVOUR,
    REASON_POD,
    SHORT,
    WAITING_POD,
    corpus_api_server,
    corpus_environment,
    flat,
    markdown_texts,
    plain_texts,
    unescaped_corpus,
)
from tests.plugins.app import (
    page_script,
    rerun,
    run_app_test,
    set_app_environment,
    table_with,
    unescape,
    widget,
)

PAGES_WITH_HISTORY = page_script("history").exists()


pytestmark = ONE_FLAVOUR


@pytest.fixture(scope="module")
def corpus_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One stand-in API server for the module, holding the corpus cluster; its reader's kubeconfig."""
    with corpus_api_server(tmp_path_factory.mktemp("corpus")) as kubeconfig:
        yield kubeconfig


@pytest.fixture
def corpus_env(corpus_kubeconfig: Path, prometheus_flavour: Any, request: pytest.FixtureRequest, s3: Any,
               tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streamlit_caches: None) -> None:
    """KAMS pointed at the corpus cluster, the session's Prometheus and S3 (as `make run` wires them)."""
    prometheus: Any = request.getfixturevalue("prometheus")
    set_app_environment(monkeypatch, corpus_environment(corpus_kubeconfig, prometheus, s3.env(), tmp_path))


def markdown_shown(at: AppTest) -> str:
    """Every Markdown text of the page, unescaped (as a reader sees it), one per line."""
    return "\n".join(unescape(text) for _, text in markdown_texts(at))


def plain_shown(at: AppTest) -> str:
    return "\n".join(plain_texts(at))


def metric_value(at: AppTest, label: str) -> str:
    return next(unescape(str(metric.proto.body)) for metric in at.metric if metric.label == label)


# --- what each page must show of the corpus ------------------------------------------------------------
def pods_list(at: AppTest) -> None:
    assert ALL in table_with(at, "Name", "Status")["Status"].tolist()


def waiting_pod_detail(at: AppTest) -> None:
    # The Status box is kubectl's STATUS: the container's waiting reason, shown literally.
    assert metric_value(at, "Status") == flat(ALL)
    containers = table_with(at, "Container", "Image", "Reason")
    assert containers["Image"].tolist() == [IMAGE]
    assert containers["Reason"].tolist() == [ALL]
    assert containers["Message"].tolist() == [ALL]
    assert containers["Last termination"].tolist() == [ALL]
    conditions = table_with(at, "Condition", "Message")
    assert {ALL, LONG} <= set(conditions["Message"]) and SHORT in set(conditions["Reason"])
    events = table_with(at, "Reason", "Last seen", "Message")
    assert {ALL, LONG} <= set(events["Message"]) and SHORT in set(events["Reason"])


def evicted_pod_detail(at: AppTest) -> None:
    assert metric_value(at, "Status") == flat(ALL)  # the pod's own status.reason


def waiting_pod_logs(at: AppTest) -> None:
    lines = table_with(at, "line")["line"].tolist()
    assert set(LOG_LINES) <= set(lines)
    widget(at.button_group, "View").set_value("Text")  # the lines as one block of text
    rerun(at)
    assert unescaped_corpus(at) == []
    code = "\n".join(str(element.value) for element in at.code)
    assert [line[:60] for line in LOG_LINES if line not in code] == []


def unlogged_pod_logs(at: AppTest) -> None:
    # The kubelet's answer quotes the waiting reason: it reaches a sentence, escaped.
    assert flat(ALL) in markdown_shown(at)


def events_tab(at: AppTest) -> None:
    assert {ALL, LONG} <= set(table_with(at, "Reason", "Message")["Message"])


def security_events_tab(at: AppTest) -> None:
    assert ALL in plain_shown(at)


def anywhere(*texts: str) -> Callable[[AppTest], None]:
    """The page shows each of `texts` somewhere (a table cell, code, or a Markdown text)."""
    def check(at: AppTest) -> None:
        shown = plain_shown(at) + "\n" + markdown_shown(at)
        for text in texts:
            assert text in shown or flat(text) in shown, text[:80]
    return check


def nothing(at: AppTest) -> None:
    """A page that shows no cluster free text (Prometheus data, tabs of counts)."""


POD = f"{NAMESPACE}/{WAITING_POD}"
WALK: list[tuple[str, dict[str, str], Callable[[AppTest], None]]] = [
    ("overview", {}, anywhere(ALL, LONG, SHORT)),  # lights' reasons, warning events
    ("health", {}, anywhere(CORPUS[0], CORPUS[1])),  # lights' reasons (a card's caption and the table)
    ("pods", {}, pods_list),
    ("pods", {"pod": POD}, waiting_pod_detail),
    ("pods", {"pod": f"{NAMESPACE}/{REASON_POD}"}, evicted_pod_detail),
    ("pods", {"tab": "Workloads"}, anywhere('deployment "corpus" exceeded its progress deadline')),
    ("pods", {"tab": "Nodes"}, nothing),
    ("pods", {"tab": "Right-sizing"}, nothing),
    ("requests", {"tab": "Applications"}, nothing),
    ("requests", {"tab": "Charts"}, nothing),
    ("requests", {"tab": "Endpoints"}, nothing),
    ("requests", {"tab": "Traffic patterns"}, nothing),
    ("logs", {"pod": POD}, waiting_pod_logs),
    ("logs", {"pod": f"{NAMESPACE}/{NO_LOG_POD}"}, unlogged_pod_logs),
    ("logs", {"tab": "Events"}, events_tab),
    ("logs", {"tab": "Security & reliability"}, security_events_tab),
    ("security", {}, anywhere(ALL, IMAGE)),  # annotations, images in findings
    ("alerts", {}, nothing),
    *([("history", {}, nothing)] if PAGES_WITH_HISTORY else []),
]


@pytest.mark.parametrize(("page", "params", "shows"), WALK,
                         ids=[f"{page}-{'-'.join(params.values()) or 'default'}" for page, params, _ in WALK])
def test_no_page_draws_the_corpus_as_markdown(corpus_env: None, page: str, params: dict[str, str],
                                              shows: Callable[[AppTest], None]) -> None:
    at = run_app_test(page_script(page), **params)
    assert unescaped_corpus(at) == []
    shows(at)
