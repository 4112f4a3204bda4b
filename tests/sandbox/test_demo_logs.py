"""Demo logs: deterministic, ascending, growing live, bounded in work, and telling each pod's story."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from sandbox import demo_names, usage
from sandbox.cluster_loader import DEMO_ANCHOR, load_demo_objects
from sandbox.demo_logs import MAX_LINES, demo_log_lines

NOW = DEMO_ANCHOR + timedelta(hours=2)
Pods = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def pods() -> Pods:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in load_demo_objects(DEMO_ANCHOR) if o["kind"] == "Pod"}


def the_pod(pods: Pods, ref: Any) -> dict[str, Any]:
    return pods[(ref.namespace, ref.pod)]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def running_since(pod: dict[str, Any], container: str) -> datetime:
    status = next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)
    return parse(status["state"]["running"]["startedAt"])


def test_every_container_log_is_ascending_and_inside_its_run(pods: Pods) -> None:
    with_logs = 0
    for pod in pods.values():
        for container in pod["spec"]["containers"]:
            lines = demo_log_lines(pod, container["name"], False, NOW)
            if lines is None:
                continue
            with_logs += 1
            assert lines, pod["metadata"]["name"]
            times = [moment for moment, _ in lines]
            assert times == sorted(times) and len(set(times)) == len(times)
            assert times[-1] <= NOW
            assert all(isinstance(text, str) and "\n" not in text for _, text in lines)
            assert len(lines) <= MAX_LINES
    assert with_logs >= 18


def test_logs_grow_live_and_are_deterministic(pods: Pods) -> None:
    web = the_pod(pods, demo_names.WEB)
    since = NOW - timedelta(minutes=10)
    first = demo_log_lines(web, "web", False, NOW, since=since)
    again = demo_log_lines(web, "web", False, NOW, since=since)
    later = demo_log_lines(web, "web", False, NOW + timedelta(seconds=60), since=since)
    assert first == again
    assert len(later) > len(first) + 10  # a line every couple of seconds
    assert later[: len(first)] == first  # a later `now` only appends


def test_a_fresh_container_starts_with_its_startup_lines(pods: Pods) -> None:
    web = the_pod(pods, demo_names.WEB)
    started = running_since(web, "web")
    lines = demo_log_lines(web, "web", False, started + timedelta(seconds=30))
    assert lines[0][0] == started
    assert "docker-entrypoint.sh" in lines[0][1]
    assert any("[notice] 1#1: nginx/1.25.3" in text for _, text in lines)
    assert demo_log_lines(web, "web", False, started - timedelta(seconds=5)) == []


def test_tail_and_since_agree_with_the_full_log(pods: Pods) -> None:
    api = the_pod(pods, demo_names.API)
    full = demo_log_lines(api, "api", False, NOW)
    assert len(full) == MAX_LINES  # running for days: capped like a rotated kubelet log
    assert demo_log_lines(api, "api", False, NOW, tail_lines=100) == full[-100:]
    since = NOW - timedelta(minutes=5)
    assert demo_log_lines(api, "api", False, NOW, since=since) == [line for line in full if line[0] >= since]
    assert demo_log_lines(api, "api", False, NOW, tail_lines=0) == []


def test_the_last_thousand_lines_are_cheap_even_after_thirty_days(pods: Pods) -> None:
    web = the_pod(pods, demo_names.WEB)
    month_later = NOW + timedelta(days=30)  # ~1.3 million lines since the container started
    started = time.perf_counter()
    lines = demo_log_lines(web, "web", False, month_later, tail_lines=1000)
    elapsed = time.perf_counter() - started
    assert len(lines) == 1000 and lines[-1][0] <= month_later
    assert lines[-1][0] > month_later - timedelta(seconds=10)
    assert elapsed < 0.5


def test_previous_is_none_without_a_terminated_run(pods: Pods) -> None:
    assert demo_log_lines(the_pod(pods, demo_names.WEB), "web", True, NOW) is None
    pending = the_pod(pods, demo_names.PENDING_POD)
    assert demo_log_lines(pending, demo_names.PENDING_POD.container, False, NOW) is None
    assert demo_log_lines(pending, demo_names.PENDING_POD.container, True, NOW) is None
    assert demo_log_lines(the_pod(pods, demo_names.WEB), "no-such-container", False, NOW) is None


def test_crash_loop_previous_log_explains_the_crash(pods: Pods) -> None:
    ref = demo_names.CRASHLOOP_POD
    pod = the_pod(pods, ref)
    previous = demo_log_lines(pod, ref.container, True, NOW)
    assert previous is not None
    texts = [text for _, text in previous]
    assert "Traceback (most recent call last):" in texts
    assert texts[-1].startswith("invoice_sync.db.DatabaseUnavailable")
    assert any("could not translate host name" in text for text in texts)
    assert any(" WARNING " in text for text in texts) and any(" CRITICAL " in text for text in texts)
    status = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert previous[0][0] == parse(status["startedAt"]) and previous[-1][0] <= parse(status["finishedAt"])
    # the container is waiting in back-off: like the kubelet, its current log is the last run's
    assert demo_log_lines(pod, ref.container, False, NOW) == previous


def test_oom_killed_previous_log_shows_memory_growing(pods: Pods) -> None:
    ref = demo_names.OOMKILLED_POD
    pod = the_pod(pods, ref)
    previous = demo_log_lines(pod, ref.container, True, NOW)
    found = (re.search(r"rss_mb=(\d+)", text) for _, text in previous)
    rss = [int(match.group(1)) for match in found if match]
    assert len(rss) > 100
    assert rss[-1] > rss[0]
    limit_mib = 256
    assert rss[-1] >= 0.9 * limit_mib
    assert any("memory high" in text and "WARNING" in text for _, text in previous[-50:])
    # the numbers are the ones the usage model (and so Prometheus) reports at the same moments
    moment, text = next((m, t) for m, t in reversed(previous) if "rss_mb=" in t)
    expected = usage.memory_bytes(pod, ref.container, moment.timestamp()) / usage.MIB
    assert int(re.search(r"rss_mb=(\d+)", text).group(1)) == round(expected)
    # The current run began at its restart (its first line then) and has run for hours since: the
    # kubelet keeps only the newest MAX_LINES of it.
    started = running_since(pod, ref.container)
    early = demo_log_lines(pod, ref.container, False, started + timedelta(minutes=10))
    assert early[0][0] == started and "starting thumbnailer" in early[0][1]
    current = demo_log_lines(pod, ref.container, False, NOW)
    assert len(current) == MAX_LINES and started < current[0][0] and current[-1][0] <= NOW


def test_completed_job_log_ends_with_its_result(pods: Pods) -> None:
    ref = demo_names.COMPLETED_POD
    lines = demo_log_lines(the_pod(pods, ref), ref.container, False, NOW)
    assert lines[-1][1].endswith("s") and "done in" in lines[-1][1]
    assert demo_log_lines(the_pod(pods, ref), ref.container, False, NOW + timedelta(hours=5)) == lines


def test_each_app_has_its_own_format_with_levels(pods: Pods) -> None:
    web = demo_log_lines(the_pod(pods, demo_names.WEB), "web", False, NOW)
    access = re.compile(r'^[\d.]+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                        r'"(GET|POST) \S+ HTTP/1\.1" \d{3} ')
    assert sum(bool(access.match(text)) for _, text in web) > 0.9 * len(web)
    assert any("[warn]" in text for _, text in web) and any("[error]" in text for _, text in web)

    api = demo_log_lines(the_pod(pods, demo_names.API), "api", False, NOW)
    records = [json.loads(text) for _, text in api]
    assert {record["level"] for record in records} == {"info", "warning", "error"}

    coredns = next(p for (ns, name), p in pods.items() if name.startswith("coredns-"))
    dns = demo_log_lines(coredns, "coredns", False, NOW)
    assert any("NXDOMAIN" in text and "invoices-db.legacy" in text for _, text in dns)

    apiserver = pods[("kube-system", f"kube-apiserver-{demo_names.NODES[0]}")]
    klog = demo_log_lines(apiserver, "kube-apiserver", False, NOW)
    assert all(re.match(r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ \S+\] ", text) for _, text in klog[20:])


def test_synthetic_pods_get_plausible_logs_too() -> None:
    from sandbox.synthetic import synthetic_objects

    now = DEMO_ANCHOR
    pods = [o for o in synthetic_objects(400, seed=1, now=now) if o["kind"] == "Pod"]
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        by_phase.setdefault(pod["status"]["phase"], []).append(pod)
    running = next(p for p in by_phase["Running"] if p["metadata"]["labels"]["app"] == "frontend")
    lines = demo_log_lines(running, "frontend", False, now)
    assert lines and all(re.match(r"^ts=\S+Z level=(info|warn|error) msg=", text) for _, text in lines)
    pending = by_phase["Pending"][0]
    assert demo_log_lines(pending, pending["spec"]["containers"][0]["name"], False, now) is None
    crashing = next(p for p in pods
                    if "waiting" in p["status"].get("containerStatuses", [{}])[0].get("state", {}))
    previous = demo_log_lines(crashing, crashing["spec"]["containers"][0]["name"], True, now)
    assert previous and previous[-1][0] <= now
