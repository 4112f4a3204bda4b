"""AppTest of the Logs page (pages/logs.py, ui.logs_view, ui.logs_data) against stand-in API servers:
the demo cluster (kube_api) and a small cluster of our own whose log provider and events carry an
injection corpus (Markdown, HTML, LaTeX, Streamlit directives, ANSI escapes, a very long line).

The page needs no Prometheus, so these tests set only KUBECONFIG (fast, no session Prometheus)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.logs.containers import TRUNCATION_MARKER
from sandbox import demo_names
from sandbox.apiserver.podlogs import generic_log_lines
from sandbox.demo_names import CRASHLOOP_POD, OOMKILLED_POD
from tests.plugins.app import (
    page_script,
    rerun,
    run_app_test,
    set_app_environment,
    table_with,
    unescape,
    widget,
)
from tests.plugins.kube_api import fixture_cluster_objects

PAGE = page_script("logs")
LONG_LINE_CHARS = 25_000

#: Text that would become links, images, HTML, maths, colours or headings if it were ever rendered as
#: Markdown or HTML. Each must reach the page unchanged, as text.
CORPUS = [
    "[click me](https://evil.example/phish)",
    "![tracker](https://evil.example/pixel.png)",
    "<script>document.title='pwned'</script>",
    '<img src="x" onerror="document.title=\'pwned\'">',
    '<a href="https://evil.example/a">a link</a>',
    "$$x^2 + \\frac{a}{b}$$",
    ":red[alarm] :color[green]{text} :blue-background[badge] :material/warning:",
    "\x1b[31mANSI red\x1b[0m and \x1b[1mbold\x1b[0m",
    "# Heading **bold** _italic_ `code` ~~strike~~",
    "ERROR <b>unclosed bold and javascript:alert(1)",
]
#: Fragments that must appear in no Markdown-rendering element of the page.
DANGEROUS = ["evil.example", "<script", "onerror", "$$x", ":red[", "\x1b[31m", "<b>", "**bold**"]


def corpus_provider(pod: dict[str, Any], container: str, previous: bool, now: datetime
                    ) -> list[tuple[datetime, str]] | None:
    """The injection corpus for the pod "inject-1"; the sandbox's plain generic log for the others."""
    if pod["metadata"]["name"] != "inject-1":
        return generic_log_lines(pod, container, previous, now)
    start = now - timedelta(minutes=5)
    lines = [(start + timedelta(seconds=index), text) for index, text in enumerate(CORPUS)]
    lines.append((start + timedelta(seconds=len(CORPUS)), "A" * LONG_LINE_CHARS))
    return lines


def injection_objects() -> list[dict[str, Any]]:
    objects = fixture_cluster_objects()
    web = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "web-1")
    pod = {**web, "metadata": {**web["metadata"], "name": "inject-1", "labels": {"app": "inject"}}}
    now = datetime.now(UTC)
    events = [{
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"inject-1.{index}", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "inject-1", "apiVersion": "v1"},
        "reason": "FailedMount" if index % 2 else "Unhealthy", "message": text, "type": "Warning",
        "count": 1, "lastTimestamp": (now - timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    } for index, text in enumerate(CORPUS)]
    return [*objects, pod, *events]


def use_kubeconfig(monkeypatch: pytest.MonkeyPatch, kubeconfig: Path | str, home: Path) -> None:
    """Only Kubernetes configured (the page needs nothing else), with no ~/.kube/config of the machine."""
    set_app_environment(monkeypatch, {"HOME": str(home), "KUBECONFIG": str(kubeconfig)})


@pytest.fixture
def demo(kube_api: Any, monkeypatch: pytest.MonkeyPatch, streamlit_caches: None, tmp_path: Path) -> Any:
    use_kubeconfig(monkeypatch, kube_api.reader_kubeconfig, tmp_path)
    return kube_api


@pytest.fixture
def injection(make_api_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, streamlit_caches: None,
              tmp_path: Path) -> Any:
    server = make_api_server(injection_objects(), log_provider=corpus_provider)
    kubeconfig = server.write_kubeconfig(tmp_path / "reader", demo_names.READER_TOKEN)
    use_kubeconfig(monkeypatch, kubeconfig, tmp_path)
    return server


def run_page(namespace: str | None = None, **params: str) -> AppTest:
    """The Logs page, run once (the sidebar's namespace and query parameters set first)."""
    return run_app_test(PAGE, namespace, **params)


def rendered_markdown(at: AppTest) -> list[str]:
    """Everything the page drew through a Markdown-rendering element (raw, as sent to the browser)."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success, *at.title,
                *at.header, *at.subheader, *at.latex]
    return [str(element.value) for element in elements]


def sentences(at: AppTest) -> str:
    return unescape(" ".join(rendered_markdown(at)))


def assert_no_markup(at: AppTest) -> None:
    for text in rendered_markdown(at):
        for fragment in DANGEROUS:
            assert fragment not in text, (fragment, text[:300])


# ------------------------------------------------------------------------------------------- logs


def test_linked_pod_opens_its_logs_merged_with_pod_and_container(demo: Any) -> None:
    at = run_page(pod=f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}")
    assert widget(at.multiselect, "Pods").value == [f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"]
    assert widget(at.multiselect, "Containers").value == [(CRASHLOOP_POD.container, False)]
    lines = table_with(at, "line")
    assert list(lines.columns) == ["time", "pod", "container", "level", "line"]
    assert 0 < len(lines) <= 500
    assert set(lines["pod"]) == {CRASHLOOP_POD.pod} and set(lines["container"]) == {CRASHLOOP_POD.container}
    assert lines["time"].is_monotonic_decreasing  # newest first by default
    assert {b.label for b in at.get("download_button")} == {"Download these lines (.txt)",
                                                            "Download these lines (.csv)"}
    assert len(at.get("vega_lite_chart")) == 1  # lines per level over time

    # The previous container (before the crash) ends with the panic that explains it.
    widget(at.checkbox, "Previous container").check()
    previous = table_with(rerun(at), "line")
    assert "ERROR" in set(previous["level"])
    # Timestamps off: no time column; oldest first.
    widget(at.checkbox, "Timestamps").uncheck()
    widget(at.toggle, "Newest first").set_value(False)
    plain = table_with(rerun(at), "line")
    assert "time" not in plain.columns and plain["line"].tolist() == previous["line"].iloc[::-1].tolist()


def test_a_link_to_a_pod_newer_than_the_cached_list_opens_it(injection: Any) -> None:
    """The list is cached for a while; a link to a pod created since (from an alert, a chat) lists again
    rather than calling the pod gone, and a pod that really is gone is still said to be."""
    assert widget(run_page(pod="shop/web-1").multiselect, "Pods").value == ["shop/web-1"]  # caches the list
    web = injection.store.get(("", "pods"), "shop", "web-1")
    newer = copy.deepcopy(web)
    newer["metadata"] = {"name": "web-new", "namespace": "shop", "labels": web["metadata"].get("labels", {})}
    injection.store.add(newer)
    at = run_page(pod="shop/web-new")
    assert "not there any more" not in sentences(at)
    assert widget(at.multiselect, "Pods").value == ["shop/web-new"]
    assert set(table_with(at, "line")["pod"]) == {"web-new"}
    assert "The linked pod shop/nowhere is not there any more." in sentences(run_page(pod="shop/nowhere"))


def test_several_pods_merge_in_time_and_search_highlights(demo: Any) -> None:
    at = run_page(namespace=demo_names.APP_NAMESPACE)
    widget(at.multiselect, "Pods").set_value([f"shop/{demo_names.WEB.pod}", f"shop/{demo_names.API.pod}"])
    rerun(at)
    widget(at.number_input, "Lines per container").set_value(200)
    lines = table_with(rerun(at), "line")
    assert set(lines["pod"]) == {demo_names.WEB.pod, demo_names.API.pod}
    assert len(lines) <= 400 and lines["time"].is_monotonic_decreasing
    # Plain, case-insensitive search: a "match" column holds the matched text (no markup anywhere).
    word = "GET"
    widget(at.text_input, "Search").input(word.lower())
    found = table_with(rerun(at), "match")
    assert len(found) > 0 and all(word.lower() in line.lower() for line in found["line"])
    assert set(found["match"]) <= {"GET", "get", "Get"}
    # A regex through RE2: a catastrophic pattern for backtracking engines returns at once.
    widget(at.toggle, "Regex").set_value(True)
    widget(at.text_input, "Search").input("(a+)+$")
    rerun(at)
    widget(at.text_input, "Search").input("(unclosed")
    assert "The search cannot be used" in sentences(rerun(at))
    # Level filter.
    widget(at.text_input, "Search").input("")
    widget(at.multiselect, "Levels").set_value(["ERROR", "WARN"])
    levels = table_with(rerun(at), "line")
    assert set(levels["level"]) <= {"ERROR", "WARN"}


def test_workload_picks_its_pods_and_time_window(demo: Any) -> None:
    at = run_page(namespace=OOMKILLED_POD.namespace)
    workloads = widget(at.multiselect, "Workloads")
    choice = next(option for option in workloads.options if "thumbnailer" in option)
    workloads.set_value([choice])
    rerun(at)
    widget(at.segmented_control, "Read").set_value("Time window")
    rerun(at)
    widget(at.selectbox, "Since").set_value("5 minutes")
    lines = table_with(rerun(at), "line")
    assert set(lines["pod"]) == {OOMKILLED_POD.pod}
    cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5, seconds=30)
    assert (lines["time"] >= cutoff).all()


def test_follow_appends_new_lines_without_duplicates(demo: Any) -> None:
    at = run_page(pod=f"shop/{demo_names.WEB.pod}")
    first = table_with(at, "line")
    widget(at.toggle, "Follow live").set_value(True)
    followed = table_with(rerun(at), "line")
    deadline = time.monotonic() + 15  # the web log writes a line every few seconds
    while len(followed) <= len(first) and time.monotonic() < deadline:
        time.sleep(1)
        followed = table_with(rerun(at), "line")
    assert len(followed) > len(first)
    keys = list(zip(followed["time"], followed["line"], strict=True))
    assert len(keys) == len(set(keys)), "a line appeared twice at a follow seam"
    assert set(first["line"]) <= set(followed["line"])
    assert "following every" in sentences(at)


def test_forbidden_pod_shows_a_sentence_while_others_show(injection: Any) -> None:
    injection.set_fault(r"/namespaces/shop/pods/api-1/log$", "forbidden")
    at = run_page(namespace="shop")
    widget(at.multiselect, "Pods").set_value(["shop/web-1", "shop/api-1"])
    lines = table_with(rerun(at), "line")
    assert set(lines["pod"]) == {"web-1"}
    text = sentences(at)
    assert "Logs of shop/api-1 (container main) are unavailable" in text
    assert "not allowed" in text


def test_a_pod_deleted_while_following_says_so_and_the_others_go_on(injection: Any) -> None:
    at = run_page(namespace="shop")
    widget(at.multiselect, "Pods").set_value(["shop/web-1", "shop/api-1"])
    rerun(at)
    widget(at.toggle, "Follow live").set_value(True)
    before = table_with(rerun(at), "line")
    assert set(before["pod"]) == {"web-1", "api-1"}
    injection.store.delete(("", "pods"), "shop", "api-1")
    after = table_with(rerun(at), "line")
    assert "The pod shop/api-1 is gone" in sentences(at)
    assert set(after["pod"]) == {"web-1", "api-1"}  # lines read before stay; web-1 still follows
    assert len(after) >= len(before)


# ------------------------------------------------------------------------------------ injection


def test_injection_corpus_in_log_lines_stays_plain_text(injection: Any) -> None:
    at = run_page(pod="shop/inject-1")
    lines = table_with(at, "line")
    shown = lines["line"].tolist()
    for text in CORPUS:
        assert text in shown, text
    long = next(line for line in shown if line.startswith("AAAA"))
    assert long == "A" * 10_000 + TRUNCATION_MARKER.format(limit=10_000)
    assert_no_markup(at)
    # The text view puts the same lines in a code block (text, never Markdown).
    widget(at.segmented_control, "View").set_value("Text")
    rerun(at)
    code = "\n".join(block.value for block in at.code)
    for text in CORPUS:
        assert text in code, text
    assert_no_markup(at)
    # Searching for markup highlights it as text.
    widget(at.text_input, "Search").input("<script>")
    rerun(at)
    widget(at.segmented_control, "View").set_value("Table")
    found = table_with(rerun(at), "match")
    assert found["match"].tolist() == ["<script>"]
    assert_no_markup(at)


def test_injection_corpus_in_events_stays_plain_text(injection: Any) -> None:
    at = run_page(tab="Events")
    events = table_with(at, "Message")
    for text in CORPUS:
        assert text in events["Message"].tolist(), text
    assert_no_markup(at)
    at = run_page(tab="Security & reliability")
    security = table_with(at, "Category", "Message")
    assert set(CORPUS) <= set(security["Message"])
    assert_no_markup(at)


# ------------------------------------------------------------------------------------------- events


def test_events_tab_filters_timeline_and_retention_note(demo: Any) -> None:
    at = run_page(tab="Events")
    assert "Kubernetes keeps events for about an hour" in sentences(at)
    assert "archive" in sentences(at)
    assert "over the last hour (the sidebar's time range)" in sentences(at)
    everything = table_with(at, "Message")
    assert {"Warning", "Normal"} <= set(everything["Type"])
    assert len(at.get("vega_lite_chart")) == 1
    widget(at.multiselect, "Type").set_value(["Warning"])
    widget(at.multiselect, "Object kind").set_value(["node"])
    warnings = table_with(rerun(at), "Message")
    assert set(warnings["Type"]) == {"Warning"} and all(o.startswith("node/") for o in warnings["Object"])
    assert "OOMKilling" in set(warnings["Reason"])
    widget(at.multiselect, "Object kind").set_value([])
    widget(at.multiselect, "Reason").set_value(["BackOff"])
    backoff = table_with(rerun(at), "Message")
    assert set(backoff["Reason"]) == {"BackOff"}
    assert [b.label for b in at.get("download_button")] == ["Download these events (CSV)"]


def test_security_tab_counts_per_category(demo: Any) -> None:
    at = run_page(tab="Security & reliability")
    counts = table_with(at, "What it means").set_index("Category")
    assert counts.loc["BackOff", "Events"] >= 1 and counts.loc["OOM", "Events"] >= 1
    assert counts.loc["Scheduling", "Events"] >= 1 and counts.loc["Probe", "Events"] >= 1
    events = table_with(at, "Category", "Message")
    assert "Scheduled" not in set(events["Reason"])
    widget(at.multiselect, "Category").set_value(["OOM"])
    oom = table_with(rerun(at), "Category", "Message")
    assert set(oom["Category"]) == {"OOM"} and set(oom["Reason"]) == {"OOMKilling"}


def test_switching_pods_offers_the_new_pods_containers(demo: Any) -> None:
    at = run_page(pod=f"shop/{demo_names.WEB.pod}")
    assert widget(at.multiselect, "Containers").value == [(demo_names.WEB.container, False)]
    widget(at.multiselect, "Pods").set_value([f"shop/{demo_names.API.pod}"])
    rerun(at)
    assert widget(at.multiselect, "Containers").value == [(demo_names.API.container, False)]
    assert set(table_with(at, "line")["pod"]) == {demo_names.API.pod}
    # Adding a pod adds its containers; a container the viewer took away stays away.
    widget(at.multiselect, "Containers").set_value([])
    widget(at.multiselect, "Pods").set_value([f"shop/{demo_names.API.pod}", f"shop/{demo_names.WEB.pod}"])
    rerun(at)
    assert widget(at.multiselect, "Containers").value == [(demo_names.WEB.container, False)]
