"""Table-driven tests: our STATUS/READY/RESTARTS/AGE columns follow kubectl's printPod rules.

Each case builds the pod dict the API server would serve for that situation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from k8sdata.pods.frames import (
    EVENT_COLUMNS,
    NODE_COLUMNS,
    POD_COLUMNS,
    events_frame,
    human_duration,
    nodes_frame,
    pod_summary,
    pods_frame,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(ready: bool = True, restarts: int = 0, name: str = "app", last_finished: float | None = None,
            last_reason: str = "Error") -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "started": True,
                              "state": {"running": {"startedAt": ts(60)}}}
    if last_finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": last_reason,
                                              "finishedAt": ts(last_finished)}}
    return status


def waiting(reason: str, restarts: int = 0, name: str = "app", last_finished: float | None = None,
            last_reason: str = "Error") -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": False, "restartCount": restarts,
                              "state": {"waiting": {"reason": reason}}}
    if last_finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 137, "reason": last_reason,
                                              "finishedAt": ts(last_finished)}}
    return status


def terminated(reason: str = "", exit_code: int = 0, signal: int = 0, name: str = "app") -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, "finishedAt": ts(30)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod(*statuses: dict[str, Any], phase: str = "Running", containers: int | None = None,
        init: list[dict[str, Any]] | None = None, init_statuses: list[dict[str, Any]] | None = None,
        conditions: dict[str, str] | None = None, reason: str = "", deleting: bool = False,
        condition_reasons: dict[str, str] | None = None, created_ago: float = 5 * 86400 + 3 * 3600,
        labels: dict[str, str] | None = None, owner: tuple[str, str] | None = None) -> dict[str, Any]:
    count = containers if containers is not None else max(1, len(statuses))
    names = [s["name"] for s in statuses] + [f"c{i}" for i in range(len(statuses), count)]
    if conditions is None:
        all_ready = bool(statuses) and all(s.get("ready") for s in statuses)
        conditions = {"Initialized": "True", "Ready": "True" if all_ready else "False",
                      "PodScheduled": "True"}
    metadata: dict[str, Any] = {"name": "p", "namespace": "ns", "creationTimestamp": ts(created_ago),
                                "labels": labels or {}}
    if deleting:
        metadata["deletionTimestamp"] = ts(10)
    if owner:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": t, "status": s, **({"reason": condition_reasons[t]}
                                                   if condition_reasons and t in condition_reasons else {})}
                       for t, s in conditions.items()],
        "containerStatuses": list(statuses),
    }
    if reason:
        status["reason"] = reason
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    spec: dict[str, Any] = {"containers": [{"name": n, "image": "x"} for n in names]}
    if init is not None:
        spec["initContainers"] = init
    return {"metadata": metadata, "spec": spec, "status": status}


INIT_TWO = [{"name": "init-a", "image": "x"}, {"name": "init-b", "image": "x"}]
SIDECAR = [{"name": "proxy", "image": "x", "restartPolicy": "Always"}]
NOT_INITIALIZED = {"Initialized": "False", "Ready": "False", "PodScheduled": "True"}

# (id, pod, expected STATUS, expected READY, expected RESTARTS cell)
CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("running", pod(running()), "Running", "1/1", "0"),
    ("running-2-containers-1-ready", pod(running(), running(ready=False, name="b")), "Running", "1/2", "0"),
    ("pending-unscheduled", pod(phase="Pending", containers=1,
                                conditions={"PodScheduled": "False"}), "Pending", "0/1", "0"),
    ("container-creating", pod(waiting("ContainerCreating"), phase="Pending"),
     "ContainerCreating", "0/1", "0"),
    ("crashloop", pod(waiting("CrashLoopBackOff", restarts=7, last_finished=300)),
     "CrashLoopBackOff", "0/1", "7 (5m ago)"),
    ("image-pull-backoff", pod(waiting("ImagePullBackOff"), phase="Pending"), "ImagePullBackOff", "0/1", "0"),
    ("err-image-pull", pod(waiting("ErrImagePull"), phase="Pending"), "ErrImagePull", "0/1", "0"),
    ("oomkilled-now", pod({**terminated("OOMKilled", 137), "restartCount": 2,
                           "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                                        "finishedAt": ts(3 * 3600)}}}),
     "OOMKilled", "0/1", "2 (3h ago)"),
    ("oomkilled-restarted-running", pod(running(restarts=1, last_finished=90, last_reason="OOMKilled")),
     "Running", "1/1", "1 (90s ago)"),
    ("error", pod(terminated("Error", 1), phase="Failed"), "Error", "0/1", "0"),
    ("completed", pod(terminated("Completed", 0), phase="Succeeded",
                      conditions={"Initialized": "True", "Ready": "False"}), "Completed", "0/1", "0"),
    ("completed-but-other-running-ready", pod(running(name="a"), terminated("Completed", name="b"),
                                              conditions={"Initialized": "True", "Ready": "True"}),
     "Running", "1/2", "0"),
    ("completed-but-other-running-notready",
     pod(running(name="a"), terminated("Completed", name="b"),
         conditions={"Initialized": "True", "Ready": "False"}), "NotReady", "1/2", "0"),
    ("evicted", pod(phase="Failed", reason="Evicted", containers=1), "Evicted", "0/1", "0"),
    ("terminating", pod(running(), deleting=True), "Terminating", "1/1", "0"),
    ("terminating-but-terminal", pod(terminated("Completed"), phase="Succeeded", deleting=True,
                                     conditions={"Ready": "False"}), "Completed", "0/1", "0"),
    ("nodelost-deleting", pod(running(), reason="NodeLost", deleting=True), "Unknown", "1/1", "0"),
    ("nodelost", pod(phase="Unknown", reason="NodeLost", containers=1), "NodeLost", "0/1", "0"),
    ("unknown-phase", pod(phase="Unknown", containers=1), "Unknown", "0/1", "0"),
    ("scheduling-gated", pod(phase="Pending", containers=1, conditions={"PodScheduled": "False"},
                             condition_reasons={"PodScheduled": "SchedulingGated"}),
     "SchedulingGated", "0/1", "0"),
    ("signal", pod(terminated(exit_code=137, signal=9)), "Signal:9", "0/1", "0"),
    ("exitcode", pod(terminated(exit_code=3)), "ExitCode:3", "0/1", "0"),
    ("init-0-of-2", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                        init_statuses=[waiting("PodInitializing", name="init-a"),
                                       waiting("PodInitializing", name="init-b")],
                        conditions=NOT_INITIALIZED), "Init:0/2", "0/1", "0"),
    ("init-1-of-2", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                        init_statuses=[terminated("Completed", name="init-a"),
                                       {**running(name="init-b"), "ready": False}],
                        conditions=NOT_INITIALIZED), "Init:1/2", "0/1", "0"),
    ("init-crashloop", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                           init_statuses=[waiting("CrashLoopBackOff", restarts=4, name="init-a",
                                                  last_finished=600),
                                          waiting("PodInitializing", name="init-b")],
                           conditions=NOT_INITIALIZED), "Init:CrashLoopBackOff", "0/1", "4 (10m ago)"),
    ("init-error", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                       init_statuses=[terminated("Error", 1, name="init-a"),
                                      waiting("PodInitializing", name="init-b")],
                       conditions=NOT_INITIALIZED), "Init:Error", "0/1", "0"),
    ("init-signal", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                        init_statuses=[terminated(exit_code=137, signal=9, name="init-a")],
                        conditions=NOT_INITIALIZED), "Init:Signal:9", "0/1", "0"),
    ("init-exitcode", pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO,
                          init_statuses=[terminated(exit_code=2, name="init-a")],
                          conditions=NOT_INITIALIZED), "Init:ExitCode:2", "0/1", "0"),
    ("sidecar-running", pod(running(), init=SIDECAR,
                            init_statuses=[running(name="proxy", restarts=2, last_finished=7200)]),
     "Running", "2/2", "2 (120m ago)"),  # HumanDuration: minutes until 3h
    ("sidecar-not-started", pod(waiting("PodInitializing"), phase="Pending", init=SIDECAR,
                                init_statuses=[{**waiting("ContainerCreating", name="proxy")}],
                                conditions=NOT_INITIALIZED), "Init:ContainerCreating", "0/2", "0"),
    ("sidecar-plus-main-restarts", pod(running(restarts=1, last_finished=30), init=SIDECAR,
                                       init_statuses=[running(name="proxy", restarts=2, last_finished=7200)]),
     "Running", "2/2", "3 (30s ago)"),
]


@pytest.mark.parametrize(("case", "pod_dict", "status", "ready", "restarts"), CASES,
                         ids=[c[0] for c in CASES])
def test_pod_columns_match_kubectl_rules(case: str, pod_dict: dict[str, Any], status: str, ready: str,
                                         restarts: str) -> None:
    frame = pods_frame([pod_dict], now=NOW)
    row = frame.iloc[0]
    assert (row["status"], row["ready"], row["restarts_display"]) == (status, ready, restarts)
    assert row["restarts"] == pod_summary(pod_dict).restarts


def test_every_named_status_is_covered() -> None:
    covered = {c[2].split(":")[0] if c[2].startswith(("Signal", "ExitCode")) else c[2] for c in CASES}
    required = {"Running", "Pending", "ContainerCreating", "CrashLoopBackOff", "ImagePullBackOff",
                "ErrImagePull", "OOMKilled", "Error", "Completed", "Evicted", "Terminating", "NodeLost",
                "Unknown", "SchedulingGated", "Signal", "ExitCode", "Init:0/2", "Init:CrashLoopBackOff"}
    assert required <= covered


@pytest.mark.parametrize(("seconds", "expected"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (125, "2m5s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
    (8 * 3600, "8h"), (47 * 3600 + 3599, "47h"), (48 * 3600, "2d"), (5 * 86400 + 3 * 3600, "5d3h"),
    (8 * 86400, "8d"), (400 * 86400, "400d"), (2 * 365 * 86400, "2y"), (2 * 365 * 86400 + 5 * 86400, "2y5d"),
    (9 * 365 * 86400, "9y"),
])
def test_human_duration_matches_apimachinery(seconds: int, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_pods_frame_columns_types_and_order() -> None:
    b = pod(running(), labels={"app": "web"}, owner=("ReplicaSet", "web-6d8f7b9c5d"))
    b["metadata"].update(name="b", namespace="shop")
    b["spec"]["nodeName"] = "node-1"
    b["status"].update(podIP="10.0.0.7", podIPs=[{"ip": "10.0.0.7"}], qosClass="Burstable")
    a = pod(running(), owner=("ReplicaSet", "api-7c9d5f4b8"))
    a["metadata"].update(name="a", namespace="shop", labels={"pod-template-hash": "7c9d5f4b8"})
    z = pod(running(), labels={"app.kubernetes.io/name": "kams", "app": "other"})
    z["metadata"]["namespace"] = "kams"
    frame = pods_frame([b, a, z], now=NOW)
    assert list(frame.columns) == POD_COLUMNS
    assert list(zip(frame["namespace"], frame["name"], strict=True)) == [("kams", "p"), ("shop", "a"),
                                                                          ("shop", "b")]
    row = frame.iloc[2]
    assert (row["node"], row["ip"], row["qos_class"], row["owner_kind"], row["owner_name"], row["app"]) == (
        "node-1", "10.0.0.7", "Burstable", "ReplicaSet", "web-6d8f7b9c5d", "web")
    assert frame.iloc[1]["app"] == "api"  # deployment name from the ReplicaSet minus pod-template-hash
    assert frame.iloc[0]["app"] == "kams"  # app.kubernetes.io/name wins over app
    assert row["age"] == "5d3h"
    assert row["created"] == NOW - timedelta(days=5, hours=3)
    assert bool(row["is_ready"]) is True
    assert str(frame["restarts"].dtype) == "int64"


def test_empty_inputs_give_typed_empty_frames() -> None:
    assert list(pods_frame([], now=NOW).columns) == POD_COLUMNS
    assert list(events_frame([], now=NOW).columns) == EVENT_COLUMNS
    assert list(nodes_frame([], now=NOW).columns) == NODE_COLUMNS


def test_events_frame() -> None:
    events = [
        {"metadata": {"name": "e1", "namespace": "shop"}, "type": "Warning", "reason": "FailedScheduling",
         "involvedObject": {"kind": "Pod", "name": "pending-1"}, "message": "0/3 nodes are available",
         "lastTimestamp": ts(120), "count": 4},
        {"metadata": {"name": "e2", "namespace": "shop"}, "type": "Normal", "reason": "Pulled",
         "involvedObject": {"kind": "Pod", "name": "web"}, "message": "pulled\n",
         "eventTime": (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
         "series": {"count": 3, "lastObservedTime": ts(10)}},
    ]
    frame = events_frame(events, now=NOW)
    assert list(frame.columns) == EVENT_COLUMNS
    assert frame["object"].tolist() == ["pod/web", "pod/pending-1"]  # newest first
    assert frame["count"].tolist() == [3, 4]
    assert frame["age"].tolist() == ["10s", "2m"]
    assert frame["message"].tolist() == ["pulled", "0/3 nodes are available"]


def test_nodes_frame() -> None:
    node = {"metadata": {"name": "node-1", "creationTimestamp": ts(30 * 86400),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.0"},
                       "capacity": {"cpu": "4", "memory": "16Gi"},
                       "allocatable": {"cpu": "3800m", "memory": "15Gi"}}}
    worker = {"metadata": {"name": "node-2"},
              "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    frame = nodes_frame([worker, node], now=NOW)
    first = frame.iloc[0]
    assert (first["name"], first["status"], first["roles"], first["version"], first["cpu_allocatable"],
            first["memory_capacity"], first["age"]) == (
        "node-1", "Ready,SchedulingDisabled", "control-plane", "v1.31.0", "3800m", "16Gi", "30d")
    assert (frame.iloc[1]["status"], frame.iloc[1]["roles"]) == ("NotReady", "<none>")
