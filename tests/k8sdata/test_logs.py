"""k8sdata.logs.containers against the stand-in API server (pods/log over HTTP, the read-only ServiceAccount,
real RBAC and fault injection), plus its pure parts: levels, RE2 search, downloads.

Most tests use a server of their own (make_api_server) whose log provider is a pure function of time:
every pod/container writes a line pair sharing one timestamp every 0.1 s, with a counter in the text, so
"no duplicate and no loss" is checked line for line against the provider's own truth."""

from __future__ import annotations

import copy
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, KubeletUnreachable, LogNotAvailable, PodGone, SourceError, Timeout
from k8sdata.export import frame_to_csv
from k8sdata.logs.containers import (
    TRUNCATION_MARKER,
    FollowCursor,
    LogLine,
    LogRequest,
    LogTarget,
    compile_search,
    detect_level,
    filter_lines,
    follow,
    keep_newest,
    level_counts,
    lines_frame,
    lines_text,
    log_targets,
    match_spans,
    parse_log,
    read_logs,
)
from k8sdata.sources.kube import KubeClient
from sandbox import demo_names
from sandbox.apiserver import ApiServer
from tests.plugins.kube_api import fixture_cluster_objects

STEP = 0.1  # seconds between ticks; each tick writes two lines with the same timestamp
HISTORY = 30.0  # seconds of log before the server starts


class GrowingLog:
    """A log provider: lines grow with time; each pod's ticks are offset so merged pods interleave."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC) - timedelta(seconds=HISTORY)
        self.extra: dict[tuple[str, str], list[tuple[datetime, str]]] = {}

    def offset(self, pod: str) -> float:
        return (sum(map(ord, pod)) % 10) / 100  # 0-90 ms: different pods never share a timestamp

    def truth(self, pod: str, container: str, now: datetime) -> list[tuple[datetime, str]]:
        start = self.started + timedelta(seconds=self.offset(pod))
        ticks = int((now - start).total_seconds() / STEP)
        lines: list[tuple[datetime, str]] = []
        for tick in range(max(ticks + 1, 0)):
            moment = start + timedelta(seconds=tick * STEP)
            level = "ERROR" if tick % 10 == 0 else "INFO"
            lines.append((moment, f"{level} {pod}/{container} tick {tick} a"))
            lines.append((moment, f"{level} {pod}/{container} tick {tick} b"))
        return sorted(lines + self.extra.get((pod, container), []), key=lambda line: line[0])

    def __call__(self, pod: dict[str, Any], container: str, previous: bool, now: datetime
                 ) -> list[tuple[datetime, str]] | None:
        name = pod["metadata"]["name"]
        if previous:
            status = next((s for s in pod["status"].get("containerStatuses") or [] if s["name"] == container),
                          {})
            if not (status.get("lastState") or {}).get("terminated"):
                return None
            return [(now - timedelta(hours=2, seconds=10 - i), f"{name}/{container} previous run line {i}")
                    for i in range(10)]
        return self.truth(name, container, now)


@pytest.fixture
def growing() -> GrowingLog:
    return GrowingLog()


def client_for(server: ApiServer, folder: Path, token: str = demo_names.READER_TOKEN) -> KubeClient:
    kubeconfig = server.write_kubeconfig(folder / "kubeconfig", token)
    return KubeClient(Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"}))


@pytest.fixture
def logs_api(make_api_server: Callable[..., ApiServer], growing: GrowingLog, tmp_path: Path
             ) -> tuple[ApiServer, KubeClient]:
    server = make_api_server(log_provider=growing)
    client = client_for(server, tmp_path)
    yield server, client
    client.close()


def target(pod: str, container: str = "main", namespace: str = "shop", init: bool = False) -> LogTarget:
    return LogTarget(namespace, pod, container, init)


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def logged(server: ApiServer, path_regex: str, at_least: int = 1) -> list[Any]:
    """The server's records for path_regex (it logs a request just after answering it)."""
    deadline = time.monotonic() + 5
    while len(records := server.requests_to(path_regex)) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return records


# ------------------------------------------------------------------------------------------ targets

def test_log_targets_lists_init_containers_first_and_filters() -> None:
    pods = [pod for pod in fixture_cluster_objects() if pod["kind"] == "Pod"]
    by_pod = {(t.pod, t.container): t for t in log_targets(pods)}
    assert by_pod[("init-1", "migrate")].init and not by_pod[("init-1", "main")].init
    init_targets = [t for t in log_targets(pods) if t.pod == "init-1"]
    assert [t.container for t in init_targets] == ["migrate", "main"]
    assert ("duo-1", "app") in by_pod and ("duo-1", "sidecar") in by_pod
    assert all(not t.init for t in log_targets(pods, include_init=False))
    assert {t.container for t in log_targets(pods, containers=["sidecar"])} == {"sidecar"}


# ------------------------------------------------------------------------------------------ reading

def test_tail_and_timestamps(logs_api: tuple[ApiServer, KubeClient], growing: GrowingLog) -> None:
    server, client = logs_api
    batch = read_logs(client, [target("web-1")], LogRequest(tail_lines=7))
    assert not batch.errors and len(batch.lines) == 7
    truth = growing.truth("web-1", "main", datetime.now(UTC) + timedelta(seconds=1))
    by_text = dict((text, moment) for moment, text in truth)
    for line in batch.lines:
        # the kubelet's RFC3339Nano prefix parsed to the exact instant the provider wrote
        assert line.time == by_text[line.text] and line.time.tzinfo is not None
        assert (line.namespace, line.pod, line.container) == ("shop", "web-1", "main")
    assert texts(batch.lines) == [text for _, text in truth if text in set(texts(batch.lines))]
    query = logged(server, r"/pods/web-1/log")[-1].query
    assert query["timestamps"] == "true" and query["limitBytes"] == "2000000" and query["tailLines"] == "7"


def test_since_window(logs_api: tuple[ApiServer, KubeClient]) -> None:
    server, client = logs_api
    before = datetime.now(UTC)
    batch = read_logs(client, [target("web-1")], LogRequest(tail_lines=None, since_seconds=2))
    assert batch.lines and not batch.errors
    # 2 s of ticks, two lines each (a tick at the window's edge may or may not be in)
    assert 36 <= len(batch.lines) <= 44
    assert min(line.time for line in batch.lines) >= before - timedelta(seconds=2.5)
    query = logged(server, r"/pods/web-1/log")[-1].query
    assert query["sinceSeconds"] == "2" and "tailLines" not in query
    with pytest.raises(ValueError, match="tail_lines or since_seconds"):
        read_logs(client, [target("web-1")], LogRequest(tail_lines=None))


def test_previous_run_and_its_absence(logs_api: tuple[ApiServer, KubeClient]) -> None:
    _, client = logs_api
    batch = read_logs(client, [target("oom-1"), target("web-1")], LogRequest(previous=True))
    assert texts(batch.lines) == [f"oom-1/main previous run line {i}" for i in range(10)]
    error = batch.errors[target("web-1")]
    assert isinstance(error, LogNotAvailable) and error.kind == "not_available"
    assert "revious terminated container" in error.sentence and "no previous log" in error.sentence
    # a previous run never grows: following it asks nothing
    assert follow(client, [target("oom-1")], batch.cursor, LogRequest(previous=True)).lines == []


def test_limit_bytes_keeps_whole_lines_and_cuts_a_giant_one(
        logs_api: tuple[ApiServer, KubeClient], growing: GrowingLog) -> None:
    server, client = logs_api
    batch = read_logs(client, [target("web-1")], LogRequest(tail_lines=100, limit_bytes=500))
    assert 1 <= len(batch.lines) < 100 and not any(line.truncated for line in batch.lines)
    assert all(line.text.endswith((" a", " b")) for line in batch.lines)  # no partial line
    assert logged(server, r"/pods/web-1/log")[-1].query["limitBytes"] == "500"
    # One line larger than the whole budget: shown cut, with the marker, never silently dropped.
    growing.extra[("api-1", "main")] = [(datetime.now(UTC) + timedelta(days=1), "x" * 5_000)]
    huge = read_logs(client, [target("api-1")], LogRequest(tail_lines=1, limit_bytes=1_000))
    [line] = huge.lines
    assert line.truncated and line.text.startswith("x" * 900) and "line cut" in line.text
    assert len(line.text) < 1_100


def test_long_lines_are_cut_with_a_marker(logs_api: tuple[ApiServer, KubeClient],
                                          growing: GrowingLog) -> None:
    _, client = logs_api
    growing.extra[("api-1", "main")] = [(datetime.now(UTC) + timedelta(days=1), "y" * 25_000)]
    batch = read_logs(client, [target("api-1")], LogRequest(tail_lines=2, max_line_chars=10_000))
    last = batch.lines[-1]
    assert last.truncated and last.text == "y" * 10_000 + TRUNCATION_MARKER.format(limit=10_000)
    assert "10,000 characters" in last.text and not batch.lines[0].truncated


def test_several_containers_including_init(logs_api: tuple[ApiServer, KubeClient]) -> None:
    _, client = logs_api
    pods = [client.get_json(f"/api/v1/namespaces/shop/pods/{name}") for name in ("duo-1", "init-1")]
    targets = log_targets(pods)
    batch = read_logs(client, targets, LogRequest(tail_lines=4))
    containers = {(line.pod, line.container) for line in batch.lines}
    assert containers == {("duo-1", "app"), ("duo-1", "sidecar"), ("init-1", "migrate")}
    # the app container of init-1 waits for its init container: an error for it alone, as a sentence
    error = batch.errors[LogTarget("shop", "init-1", "main")]
    assert isinstance(error, LogNotAvailable) and "is waiting to start: PodInitializing" in error.sentence
    assert error.sentence.startswith("Container ") and len(batch.errors) == 1


def test_several_pods_merged_in_time_order(logs_api: tuple[ApiServer, KubeClient]) -> None:
    _, client = logs_api
    pods = ("web-1", "api-1", "oom-1", "leaving-1")
    batch = read_logs(client, [target(pod) for pod in pods], LogRequest(tail_lines=30), max_workers=3)
    assert len(batch.lines) == 120 and not batch.errors
    times = [line.time_ns for line in batch.lines]
    assert times == sorted(times)
    assert [line.time for line in batch.lines] == sorted(line.time for line in batch.lines)
    # interleaved (as stern shows them), not pod after pod
    switches = sum(1 for a, b in zip(batch.lines, batch.lines[1:], strict=False) if a.pod != b.pod)
    assert switches > 20
    # equal timestamps keep the kubelet's order (the a line before the b line of a tick)
    for first, second in zip(batch.lines, batch.lines[1:], strict=False):
        if first.time_ns == second.time_ns:
            assert first.pod == second.pod and first.text.endswith(" a") and second.text.endswith(" b")


def test_memory_stays_bounded_for_a_chatty_pod(logs_api: tuple[ApiServer, KubeClient],
                                               growing: GrowingLog) -> None:
    _, client = logs_api
    now = datetime.now(UTC)
    growing.extra[("web-1", "main")] = [(now - timedelta(seconds=20, microseconds=-i), "z" * 2_000)
                                        for i in range(3_000)]  # 6 MB written in the window
    request = LogRequest(tail_lines=None, since_seconds=3600, limit_bytes=200_000, max_lines=50)
    batch = read_logs(client, [target("web-1")], request)
    assert len(batch.lines) == 50  # newest 50 of the ~95 whole lines that fit in 200 kB
    assert sum(len(line.text) for line in batch.lines) <= 200_000
    buffer = keep_newest(batch.lines, batch.lines, 60)
    assert len(buffer) == 60 and buffer[-1] is batch.lines[-1]


# ------------------------------------------------------------------------------------------ follow

def test_follow_has_no_duplicates_and_no_loss_across_seams(
        logs_api: tuple[ApiServer, KubeClient], growing: GrowingLog) -> None:
    server, client = logs_api
    targets = [target("web-1"), target("api-1"), target("duo-1", "app")]
    batch = read_logs(client, targets, LogRequest(tail_lines=5))
    seen = list(batch.lines)
    cursor = batch.cursor
    for _ in range(6):  # ~2 s: every poll re-reads the last second (sinceTime is whole seconds)
        time.sleep(0.3)
        batch = follow(client, targets, cursor)
        assert not batch.errors
        assert [line.time_ns for line in batch.lines] == sorted(line.time_ns for line in batch.lines)
        seen.extend(batch.lines)
        cursor = batch.cursor
    follow_requests = logged(server, r"/pods/web-1/log", at_least=7)[1:]
    # whole seconds, as kube-apiserver passes it on; oldest first (no tail), so a burst is not skipped
    assert len(follow_requests) == 6
    assert all("." not in r.query["sinceTime"] and "tailLines" not in r.query for r in follow_requests)
    later = datetime.now(UTC) + timedelta(seconds=5)
    for one in targets:
        got = [line.text for line in seen if (line.pod, line.container) == (one.pod, one.container)]
        truth = [text for _, text in growing.truth(one.pod, one.container, later)]
        start = truth.index(got[0])
        assert got == truth[start:start + len(got)], f"{one.label}: duplicated or lost lines"
        assert len(got) > 5 + 2 * 10  # it really followed (10 ticks a second, two lines each)


def test_follow_reuses_an_old_cursor_without_skipping(logs_api: tuple[ApiServer, KubeClient]) -> None:
    _, client = logs_api
    batch = read_logs(client, [target("web-1")], LogRequest(tail_lines=3))
    time.sleep(0.35)
    first = follow(client, [target("web-1")], batch.cursor)
    again = follow(client, [target("web-1")], batch.cursor)  # a page rerun with the same cursor
    assert first.lines and texts(again.lines)[: len(first.lines)] == texts(first.lines)
    assert not set(texts(first.lines)) & set(texts(batch.lines))


def test_pod_deleted_mid_follow_is_an_error_for_that_target_only(
        logs_api: tuple[ApiServer, KubeClient]) -> None:
    server, client = logs_api
    targets = [target("web-1"), target("api-1")]
    batch = read_logs(client, targets, LogRequest(tail_lines=2))
    server.store.delete(("", "pods"), "shop", "api-1")
    time.sleep(0.3)
    batch = follow(client, targets, batch.cursor)
    error = batch.errors[target("api-1")]
    assert isinstance(error, PodGone) and error.kind == "gone" and "shop/api-1 is gone" in error.sentence
    assert batch.lines and {line.pod for line in batch.lines} == {"web-1"}
    asked = len(logged(server, r"/pods/api-1/log", at_least=2))
    time.sleep(0.2)
    again = follow(client, targets, batch.cursor)
    assert target("api-1") in again.errors and again.lines  # still reported, web-1 still flows
    assert len(server.requests_to(r"/pods/api-1/log")) == asked  # a gone pod is not asked again


def test_forbidden_fault_on_one_pod_leaves_the_others(logs_api: tuple[ApiServer, KubeClient]) -> None:
    server, client = logs_api
    server.set_fault(r"/pods/api-1/log$", "forbidden")
    batch = read_logs(client, [target("web-1"), target("api-1"), target("oom-1")], LogRequest(tail_lines=3))
    assert set(batch.errors) == {target("api-1")} and isinstance(batch.errors[target("api-1")], Forbidden)
    assert {line.pod for line in batch.lines} == {"web-1", "oom-1"} and len(batch.lines) == 6
    # following keeps going for the readable pods, and keeps reporting the forbidden one
    later = follow(client, [target("web-1"), target("api-1"), target("oom-1")], batch.cursor)
    assert isinstance(later.errors[target("api-1")], Forbidden)


@pytest.mark.parametrize(("message", "detail"), [
    ('Get "https://10.0.3.7:10250/containerLogs/shop/api-1/main?tailLines=3&timestamps=true": dial tcp '
     "10.0.3.7:10250: connect: connection refused",
     "kubelet 10.0.3.7:10250: dial tcp 10.0.3.7:10250: connect: connection refused"),
    ('Get "https://[fd00::7]:10250/containerLogs/shop/api-1/main": context deadline exceeded',
     "kubelet [fd00::7]:10250: context deadline exceeded"),
])
def test_a_kubelet_the_api_server_cannot_reach_is_named(logs_api: tuple[ApiServer, KubeClient], message: str,
                                                        detail: str) -> None:
    """kube-apiserver proxies a log read to the pod's kubelet; when that fails it answers 500 with Go's
    error (seen against the real server, whose nodes have no kubelet): the sentence says so in words."""
    server, client = logs_api
    server.set_fault(r"/pods/api-1/log$", "error", message=message)
    batch = read_logs(client, [target("web-1"), target("api-1")], LogRequest(tail_lines=3))
    error = batch.errors[target("api-1")]
    assert isinstance(error, KubeletUnreachable) and error.detail == detail
    assert error.sentence.startswith(
        f"The API server could not reach the kubelet that keeps this log ({detail}). The pod's node may ")
    assert {line.pod for line in batch.lines} == {"web-1"}


def test_another_server_error_on_a_log_stays_a_plain_server_error(
        logs_api: tuple[ApiServer, KubeClient]) -> None:
    server, client = logs_api
    server.set_fault(r"/pods/api-1/log$", "error", message="etcdserver: request timed out")
    error = read_logs(client, [target("api-1")], LogRequest(tail_lines=3)).errors[target("api-1")]
    assert type(error) is SourceError and "etcdserver: request timed out" in error.sentence


def test_rbac_denies_one_namespaces_logs(make_api_server: Callable[..., ApiServer],
                                         growing: GrowingLog, tmp_path: Path) -> None:
    """Real RBAC: the ServiceAccount may read pods/log in `shop` only (a Role there), not kube-system."""
    objects = copy.deepcopy(fixture_cluster_objects())
    for obj in objects:
        if obj["kind"] == "ClusterRole" and obj["metadata"]["name"] == "kams-read-only":
            obj["rules"][0]["resources"].remove("pods/log")
    objects += [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "shop-logs", "namespace": "shop"},
         "rules": [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "shop-logs", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shop-logs"},
         "subjects": [{"kind": "ServiceAccount", "name": "kams", "namespace": "kams"}]},
    ]
    server = make_api_server(objects, log_provider=growing)
    client = client_for(server, tmp_path)
    try:
        targets = [target("web-1"), target("coredns-1", namespace="kube-system")]
        batch = read_logs(client, targets, LogRequest(tail_lines=4))
        error = batch.errors[targets[1]]
        assert isinstance(error, Forbidden) and 'cannot get resource "pods/log"' in error.sentence
        assert len(batch.lines) == 4 and {line.pod for line in batch.lines} == {"web-1"}
    finally:
        client.close()


# ------------------------------------------------------------------------------------------ parsing

def test_parse_log_handles_offsets_short_fractions_and_cut_bodies() -> None:
    one = target("p")
    raw = (b"2026-01-01T12:00:00.5Z first\n"
           b"2026-01-01T14:00:00.500000001+02:00 second\n"
           b"no stamp continuation\n"
           b"2026-01-01T12:00:01Z third\r\n"
           b"2026-01-01T12:00:02.000000000Z four")
    parsed = parse_log(raw, one, limit_bytes=len(raw))
    assert [line.text for _, line in parsed] == ["first", "second", "no stamp continuation", "third"]
    assert [ns % 10**9 for ns, _ in parsed] == [500_000_000, 500_000_001, 500_000_001, 0]
    assert parsed[1][1].time == datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    complete = parse_log(raw + b"\n", one)
    assert complete[-1][1].text == "four" and not complete[-1][1].truncated


# ------------------------------------------------------------------------------------------ levels

@pytest.mark.parametrize(("text", "level"), [
    ('{"level":"error","msg":"db down"}', "ERROR"),
    ('{"severity":"WARNING","message":"slow"}', "WARN"),
    ('{"lvl":"dbug","msg":"x"}', ""),
    ('{"lvl":"debug","msg":"x"}', "DEBUG"),
    ('{"level":30,"msg":"pino info"}', "INFO"),
    ('{"level":50,"msg":"pino error"}', "ERROR"),
    ('{"log":{"level":"warn"},"message":"ecs"}', "WARN"),
    ('{"msg":"no level here"}', ""),
    ('ts=2026-01-01T12:00:00Z level=info msg="request handled"', "INFO"),
    ('time=now lvl=warn msg=x', "WARN"),
    ('level="error" msg="quoted"', "ERROR"),
    ("E0101 12:00:00.000000       1 reflector.go:1] failed to list", "ERROR"),
    ("W0101 12:00:00.000000       1 warnings.go:70] deprecated", "WARN"),
    ("I0101 12:00:00.000000       1 server.go:1] serving", "INFO"),
    ("2026-01-01 12:00:00 ERROR Something broke", "ERROR"),
    ("2026-01-01 12:00:00.123  WARN 1 --- [main] o.s.Foo : careful", "WARN"),
    ("[INFO] started", "INFO"),
    ("DEBUG:root:details", "DEBUG"),
    ('2026/01/01 12:00:00 [error] 29#29: *1 upstream timed out', "ERROR"),
    ('2026/01/01 12:00:00 [warn] 29#29: buffered', "WARN"),
    ("Traceback (most recent call last):", "ERROR"),
    ("panic: runtime error: index out of range", "ERROR"),
    ("INFO retrying after an ERROR upstream", "INFO"),  # the first level word wins
    ("all good, 0 errors", ""),
    ('10.0.0.1 - - [01/Jan/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 12', ""),
])
def test_detect_level(text: str, level: str) -> None:
    assert detect_level(text) == level


# ------------------------------------------------------------------------------------------ search

def line(text: str, level: str = "") -> LogLine:
    return LogLine(datetime(2026, 1, 1, tzinfo=UTC), "ns", "pod", "c", text, level, False)  # type: ignore[arg-type]


def test_plain_search_is_literal_and_case_insensitive_by_default() -> None:
    lines = [line("GET /api/v1 200"), line("get /API/v2 500"), line("POST /api.v1")]
    search = compile_search("api/v")
    assert texts(filter_lines(lines, search)) == ["GET /api/v1 200", "get /API/v2 500"]
    assert texts(filter_lines(lines, compile_search("api.v1"))) == ["POST /api.v1"]  # "." is literal
    assert texts(filter_lines(lines, compile_search("API", case_sensitive=True))) == ["get /API/v2 500"]
    assert texts(filter_lines(lines, compile_search("[", regex=False))) == []  # no error: plain text
    assert len(filter_lines(lines, compile_search(""))) == 3


def test_regex_search_levels_and_spans() -> None:
    lines = [line("GET /a 200", "INFO"), line("GET /b 503", "ERROR"), line("timeout", "WARN")]
    search = compile_search(r"\s5\d\d$", regex=True)
    assert texts(filter_lines(lines, search)) == ["GET /b 503"]
    assert texts(filter_lines(lines, None, {"WARN", "ERROR"})) == ["GET /b 503", "timeout"]
    assert texts(filter_lines(lines, compile_search("get", regex=True), {"INFO"})) == ["GET /a 200"]
    assert match_spans(compile_search("ab"), "xxABxab") == [(2, 4), (5, 7)]
    assert match_spans(compile_search("é", regex=True), "cafÉ é") == [(3, 4), (5, 6)]  # characters
    assert match_spans(compile_search("x*", regex=True), "abc") == []  # empty matches are no highlight


def test_bad_patterns_are_plain_sentences() -> None:
    with pytest.raises(ValueError, match=r"^The search is not a valid regular expression: missing \)"):
        compile_search("error(", regex=True)
    with pytest.raises(ValueError, match="backreferences and lookaround are not supported"):
        compile_search(r"(a)\1", regex=True)
    with pytest.raises(ValueError, match="lookaround"):
        compile_search(r"(?<=user=)\w+", regex=True)


def test_catastrophic_regex_returns_at_once_on_a_long_line() -> None:
    """(a+)+$ backtracks exponentially in Python's re; RE2 is linear, so a 100k-char line is instant."""
    search = compile_search("(a+)+$", regex=True)
    text = "a" * 100_000 + "!"
    started = time.perf_counter()
    for _ in range(10):
        assert not search.matches(text)
        assert match_spans(search, text) == []
    assert time.perf_counter() - started < 0.5
    assert search.matches("a" * 100_000)


# ------------------------------------------------------------------------------------------ downloads

def test_downloads_and_level_counts() -> None:
    start = datetime(2026, 1, 1, 12, 0, 30, 123456, tzinfo=UTC)
    lines = [
        LogLine(start, "shop", "web-1", "main", "=HYPERLINK(\"http://x\")", "INFO", False),
        LogLine(start + timedelta(seconds=10), "shop", "api-1", "app", "boom\nsecond", "ERROR", False),
        LogLine(start + timedelta(seconds=50), "shop", "api-1", "app", "plain", "", False),
    ]
    frame = lines_frame(lines)
    assert list(frame.columns) == ["time", "pod", "container", "level", "line"]
    assert frame["time"].iloc[0] == pd.Timestamp(start) and frame["line"].iloc[1] == "boom\nsecond"
    csv = frame_to_csv(frame).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv and "time,pod,container,level,line" in csv.splitlines()[0]
    assert lines_text(lines).splitlines() == [
        '2026-01-01T12:00:30.123456Z web-1/main =HYPERLINK("http://x")',
        "2026-01-01T12:00:40.123456Z api-1/app boom\\nsecond",
        "2026-01-01T12:01:20.123456Z api-1/app plain",
    ]
    counts = level_counts(lines)
    assert counts.to_dict("records") == [
        {"time": pd.Timestamp("2026-01-01T12:00:00Z"), "level": "ERROR", "lines": 1},
        {"time": pd.Timestamp("2026-01-01T12:00:00Z"), "level": "INFO", "lines": 1},
        {"time": pd.Timestamp("2026-01-01T12:01:00Z"), "level": "OTHER", "lines": 1},
    ]
    assert list(level_counts([]).columns) == ["time", "level", "lines"]
    assert lines_frame([]).empty


def test_empty_cursor_follow_reads_the_tail(logs_api: tuple[ApiServer, KubeClient]) -> None:
    """A target with no position yet (its log was empty or failed) gets its tail: all of it is new."""
    _, client = logs_api
    batch = follow(client, [target("web-1")], FollowCursor(), LogRequest(tail_lines=4))
    assert len(batch.lines) == 4 and target("web-1") in batch.cursor.positions


def test_a_hung_log_read_times_out_for_that_target_only(
        make_api_server: Callable[..., ApiServer], growing: GrowingLog, tmp_path: Path) -> None:
    server = make_api_server(log_provider=growing)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", demo_names.READER_TOKEN)
    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "0.5"}))
    try:
        server.set_fault(r"/pods/api-1/log$", "hang")
        started = time.monotonic()
        batch = read_logs(client, [target("web-1"), target("api-1")], LogRequest(tail_lines=2))
        assert time.monotonic() - started < 3
        assert isinstance(batch.errors[target("api-1")], Timeout) and len(batch.lines) == 2
    finally:
        client.close()


def test_stand_in_cuts_since_time_to_whole_seconds_like_kube_apiserver(
        logs_api: tuple[ApiServer, KubeClient], growing: GrowingLog) -> None:
    """kube-apiserver forwards sinceTime with time.RFC3339 (no fraction): asking from x.95 s returns the
    lines of that whole second, which is why follow() must drop the seam itself."""
    server, _ = logs_api
    # x.950 of a whole second: ~9 ticks of that second come before it, whatever the clock's fraction
    # when the log started (started + 10.95 s could fall at x.03, before any line of its second).
    moment = (growing.started + timedelta(seconds=10)).replace(microsecond=950_000)
    query = urllib.parse.urlencode({"sinceTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z",
                                    "timestamps": "true", "limitBytes": 4000})
    request = urllib.request.Request(f"{server.url}/api/v1/namespaces/shop/pods/web-1/log?{query}",
                                     headers={"Authorization": f"Bearer {demo_names.READER_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    first = parse_log(raw, target("web-1"))[0][1]
    assert first.time < moment and first.time >= moment.replace(microsecond=0)
