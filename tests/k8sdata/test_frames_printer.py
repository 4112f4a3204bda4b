"""More branches of kubectl's pod printer, and the pods-table extensions of k8sdata.pods.frames.

Upstream source of every printer case: kubernetes/kubernetes pkg/printers/internalversion/printers.go,
func printPod (the loop over InitContainerStatuses, then the loop over ContainerStatuses *in reverse*,
then the deletionTimestamp / NodeLost tail). Each case names the statement it exercises. The helpers
build pods the way the API server serves them (tests/k8sdata/test_frames.py's builders).
"""

from __future__ import annotations

from typing import Any

import pytest

from k8sdata.pods.frames import (
    CONDITION_COLUMNS,
    CONTAINER_COLUMNS,
    labels_text,
    owner_workload,
    pod_conditions_frame,
    pod_containers_frame,
    pods_frame,
)
from tests.k8sdata.test_frames import (
    INIT_TWO,
    NOT_INITIALIZED,
    NOW,
    SIDECAR,
    pod,
    running,
    terminated,
    ts,
    waiting,
)

# (id, upstream statement, pod, STATUS, READY, RESTARTS)
CASES: list[tuple[str, str, dict[str, Any], str, str, str]] = [
    ("first-container-reason-wins",
     "for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- (the last assignment is container 0's)",
     pod(waiting("ErrImagePull", name="a"), waiting("CrashLoopBackOff", name="b"), phase="Pending"),
     "ErrImagePull", "0/2", "0"),
    ("waiting-without-reason-keeps-phase",
     'container.State.Waiting != nil && container.State.Waiting.Reason != ""',
     pod({"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {}}}, phase="Pending"),
     "Pending", "0/1", "0"),
    ("container-status-unknown",
     'container.State.Terminated != nil && container.State.Terminated.Reason != ""',
     pod(terminated("ContainerStatusUnknown", 137), phase="Failed"), "ContainerStatusUnknown", "0/1", "0"),
    ("sidecar-started-not-ready",
     "isRestartableInitContainer && container.Started != nil && *container.Started: readyContainers++ "
     "only if container.Ready",
     pod(running(), init=SIDECAR, init_statuses=[running(name="proxy", ready=False)]),
     "Running", "1/2", "0"),
    ("init-restarts-count-while-initializing",
     "restarts += int(container.RestartCount) for every init container up to the one that blocks",
     pod(waiting("PodInitializing"), phase="Pending", init=INIT_TWO, init_statuses=[
         {**terminated("Completed", name="init-a"), "restartCount": 2,
          "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(600)}}},
         {**running(name="init-b"), "ready": False}], conditions=NOT_INITIALIZED),
     "Init:1/2", "0/1", "2 (10m ago)"),
    ("initialized-app-restarts-replace-init-restarts",
     "if !initializing || isPodInitializedConditionTrue: restarts = restartableInitContainerRestarts",
     pod(running(restarts=1, last_finished=120), init=INIT_TWO, init_statuses=[
         {**terminated("Completed", name="init-a"), "restartCount": 5},
         terminated("Completed", name="init-b")]),
     "Running", "1/1", "1 (2m ago)"),
    ("completed-yields-to-a-failed-container",
     'if reason == "Completed" { ... } else if errorReason != "" (kubernetes #124766)',
     pod(terminated("Completed", name="a"), terminated("Error", 1, name="b"), phase="Failed"),
     "Error", "0/2", "0"),
    ("completed-not-ready-running-beats-error",
     'hasRunning && hasPodReadyCondition is checked before errorReason; errorReason before NotReady',
     pod(terminated("Completed", name="a"), terminated(exit_code=2, name="b"), running(name="c"),
         conditions={"Ready": "False"}),
     "ExitCode:2", "1/3", "0"),
]


@pytest.mark.parametrize(("case", "upstream", "pod_dict", "status", "ready", "restarts"), CASES,
                         ids=[c[0] for c in CASES])
def test_printer_branch(case: str, upstream: str, pod_dict: dict[str, Any], status: str, ready: str,
                        restarts: str) -> None:
    row = pods_frame([pod_dict], now=NOW).iloc[0]
    assert (row["status"], row["ready"], row["restarts_display"]) == (status, ready, restarts), upstream


@pytest.mark.parametrize(("owner", "labels", "expected"), [
    (("ReplicaSet", "web-6d8f7b9c5d"), {"pod-template-hash": "6d8f7b9c5d"}, ("Deployment", "web")),
    (("ReplicaSet", "web-6d8f7b9c5d"), {}, ("ReplicaSet", "web-6d8f7b9c5d")),  # a bare ReplicaSet
    (("ReplicaSet", "other-name"), {"pod-template-hash": "6d8f7b9c5d"}, ("ReplicaSet", "other-name")),
    (("StatefulSet", "db"), {}, ("StatefulSet", "db")),
    (("Job", "report-29453880"), {}, ("Job", "report-29453880")),
    (None, {}, ("Pod", "p")),  # no controller: the pod is its own workload
])
def test_owner_workload(owner: tuple[str, str] | None, labels: dict[str, str],
                        expected: tuple[str, str]) -> None:
    metadata = pod(running(), owner=owner, labels=labels)["metadata"]
    assert owner_workload(metadata) == expected
    assert tuple(pods_frame([pod(running(), owner=owner, labels=labels)], now=NOW).iloc[0][
        ["workload_kind", "workload"]]) == expected


def test_labels_text_is_sorted_and_searchable() -> None:
    assert labels_text({"tier": "web", "app": "shop"}) == "app=shop,tier=web"
    assert labels_text(None) == "" and labels_text({}) == ""
    row = pods_frame([pod(running(), labels={"b": "2", "a": "1"})], now=NOW).iloc[0]
    assert row["labels"] == "a=1,b=2"


def test_pod_containers_frame() -> None:
    crash = waiting("CrashLoopBackOff", restarts=11, last_finished=300)
    crash["state"]["waiting"]["message"] = "back-off 5m0s restarting failed container"
    crash["lastState"]["terminated"].update(exitCode=1, reason="Error")
    crash.update(image="registry/app:1", imageID="registry/app@sha256:abc")
    item = pod(crash, init=[{"name": "init-a", "image": "i"}, *SIDECAR],
               init_statuses=[terminated("Completed", name="init-a"), running(name="proxy")])
    item["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "50m", "memory": "64Mi"},
                                                  "limits": {"memory": "128Mi"}}
    frame = pod_containers_frame(item)
    assert list(frame.columns) == CONTAINER_COLUMNS
    assert frame["container"].tolist() == ["init-a", "proxy", "app"]
    assert frame["type"].tolist() == ["init", "sidecar", "app"]
    app = frame.iloc[2]
    assert (app["state"], app["state_reason"], app["restarts"]) == ("Waiting", "CrashLoopBackOff", 11)
    assert (app["last_reason"], app["last_exit_code"]) == ("Error", 1)
    assert (app["image"], app["image_id"]) == ("registry/app:1", "registry/app@sha256:abc")
    assert (app["cpu_request"], app["cpu_limit"], app["memory_request"], app["memory_limit"]) == (
        "50m", "", "64Mi", "128Mi")
    assert app["state_message"].startswith("back-off")
    init = frame.iloc[0]
    assert (init["state"], init["state_reason"]) == ("Terminated", "Completed")
    assert frame.iloc[1]["state"] == "Running" and frame["last_exit_code"].isna().tolist()[:2] == [True, True]


def test_pod_conditions_frame_and_empty() -> None:
    frame = pod_conditions_frame(pod(running(), conditions={"Ready": "False"},
                                     condition_reasons={"Ready": "ContainersNotReady"}))
    assert list(frame.columns) == CONDITION_COLUMNS
    assert frame[["type", "status", "reason"]].values.tolist() == [["Ready", "False", "ContainersNotReady"]]
    assert pod_conditions_frame({}).empty and list(pod_containers_frame({}).columns) == CONTAINER_COLUMNS
