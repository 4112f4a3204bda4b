"""The demo's crash-looping pod keeps restarting on the kubelet's schedule while the demo runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.cluster_loader import load_demo_objects
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
