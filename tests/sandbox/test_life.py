"""The demo's troubled pods keep failing while the demo runs: the crash-looping pod restarts on the
kubelet's schedule, and the OOMKilled thumbnailer is killed when its memory reaches the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox import demo_names, usage
from sandbox.apiserver import ApiServer
from sandbox.cluster_loader import load_demo_objects
from sandbox.exporter import restart_count_at
from sandbox.life import BACKOFF_CAP, ClusterLife

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _crashloop(server: ApiServer) -> dict:
    pod = server.store.get(("", "pods"), demo_names.CRASHLOOP_POD.namespace, demo_names.CRASHLOOP_POD.pod)
    assert pod is not None
    return pod["status"]["containerStatuses"][0]


def _backoff_count(server: ApiServer) -> int:
    uid = server.store.get(("", "pods"), demo_names.CRASHLOOP_POD.namespace,
                           demo_names.CRASHLOOP_POD.pod)["metadata"]["uid"]
    events = [event for event in server.store.objects(("", "events"), demo_names.CRASHLOOP_POD.namespace)
              if event["involvedObject"].get("uid") == uid and event["reason"] == "BackOff"]
    assert len(events) == 1
    return events[0]["count"]


def test_crash_looping_container_restarts_every_backoff_cap_and_reports_backoff() -> None:
    server = ApiServer(load_demo_objects(now=START), tls=False)
    life = ClusterLife(server.store)
    restarts_before = _crashloop(server)["restartCount"]
    backoffs_before = _backoff_count(server)
    version_before = server.store.resource_version

    assert life.tick(START + timedelta(seconds=30)) == 0, "the last crash was just now: not due yet"
    assert _crashloop(server)["restartCount"] == restarts_before
    assert _backoff_count(server) == backoffs_before + 1

    later = START + BACKOFF_CAP + timedelta(seconds=5)
    assert life.tick(later) == 1
    status = _crashloop(server)
    assert status["restartCount"] == restarts_before + 1
    assert status["lastState"]["terminated"]["finishedAt"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert server.store.resource_version > version_before

    assert life.tick(later + timedelta(seconds=15)) == 0, "the next restart waits another back-off"


def test_healthy_pods_are_left_alone() -> None:
    server = ApiServer(load_demo_objects(now=START), tls=False)
    web_before = server.store.get(("", "pods"), demo_names.WEB.namespace, demo_names.WEB.pod)
    ClusterLife(server.store).tick(START + timedelta(hours=2))
    assert server.store.get(("", "pods"), demo_names.WEB.namespace, demo_names.WEB.pod) == web_before


def _thumbnailer(server: ApiServer) -> dict:
    pod = server.store.get(("", "pods"), demo_names.OOMKILLED_POD.namespace, demo_names.OOMKILLED_POD.pod)
    assert pod is not None
    return pod


def _thumbnailer_events(server: ApiServer) -> dict[str, dict]:
    """The thumbnailer's restart events by reason (the newest of each) and the node's OOMKilling event."""
    pod = _thumbnailer(server)
    events: dict[str, dict] = {}
    for event in server.store.objects(("", "events")):
        involved = event["involvedObject"]
        mine = involved.get("uid") == pod["metadata"]["uid"] or (
            event["reason"] == "OOMKilling" and involved["name"] == pod["spec"]["nodeName"]
            and f"({demo_names.OOMKILLED_POD.container})" in event["message"])
        if mine and event["lastTimestamp"] >= events.get(event["reason"], {}).get("lastTimestamp", ""):
            events[event["reason"]] = event
    return events


def test_oom_killed_container_is_killed_at_its_limit_once_per_period() -> None:
    container = demo_names.OOMKILLED_POD.container
    server = ApiServer(load_demo_objects(now=START), tls=False)
    life = ClusterLife(server.store)
    before = _thumbnailer(server)
    status = before["status"]["containerStatuses"][0]
    limit = 256 * usage.MIB
    due = usage.oom_kill_at(before, container)
    assert due is not None and START.timestamp() < due < START.timestamp() + 12 * 3600
    events_before = _thumbnailer_events(server)

    life.tick(datetime.fromtimestamp(due - 60, UTC))
    assert _thumbnailer(server) == before, "a minute before its limit: still running"
    assert usage.memory_bytes(before, container, due - 60) > 0.95 * limit

    kill = datetime.fromtimestamp(due + 7, UTC)  # the next tick after the limit was reached
    life.tick(kill)
    after = _thumbnailer(server)
    killed = after["status"]["containerStatuses"][0]
    assert killed["restartCount"] == status["restartCount"] + 1
    stamp = kill.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert killed["lastState"]["terminated"] == {
        "containerID": status["containerID"], "exitCode": 137, "reason": "OOMKilled",
        "startedAt": status["state"]["running"]["startedAt"], "finishedAt": stamp}
    restarted = kill + timedelta(seconds=1)
    assert killed["state"] == {"running": {"startedAt": restarted.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    assert killed["containerID"] != status["containerID"] and killed["ready"] is True
    ready = next(c for c in after["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == restarted.strftime("%Y-%m-%dT%H:%M:%SZ")
    # a new tooth: low after the restart, climbing again; the old one ended at the limit
    assert usage.memory_bytes(after, container, restarted.timestamp() + 5) < 0.4 * limit
    assert usage.memory_bytes(after, container, kill.timestamp() - 10) > 0.95 * limit
    assert restart_count_at(after, container, kill.timestamp() - 10, kill.timestamp() + 60) == 3
    assert restart_count_at(after, container, kill.timestamp() + 10, kill.timestamp() + 60) == 4

    events = _thumbnailer_events(server)
    for reason in ("OOMKilling", "Pulled", "Created", "Started"):
        assert events[reason]["count"] == events_before[reason]["count"] + 1, reason
        assert events[reason]["lastTimestamp"] == stamp
    assert "already present" in events["Pulled"]["message"]

    life.tick(kill + timedelta(seconds=15))
    assert _thumbnailer(server) == after, "one kill per period"
    days_later = kill + timedelta(days=3)
    life.tick(days_later)  # the demo was paused: killed once, not once per missed period
    restarts = _thumbnailer(server)["status"]["containerStatuses"][0]["restartCount"]
    assert restarts == status["restartCount"] + 2
    assert _thumbnailer_events(server)["OOMKilling"]["count"] == events_before["OOMKilling"]["count"] + 2
