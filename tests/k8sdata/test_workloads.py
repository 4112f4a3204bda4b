"""k8sdata.pods.workloads: rollout status case by case as kubectl decides it (kubernetes/kubectl
pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer / StatefulSetStatusViewer /
DaemonSetStatusViewer), the counts kubectl get prints (kubernetes/pkg/printers/internalversion/printers.go
printDeployment / printStatefulSet / printDaemonSet), and node allocation like `kubectl describe node`
(Allocated resources: requests of non-terminated pods), against the stand-in API server."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from k8sdata.config import Settings
from k8sdata.pods.resources import SOURCE_METRICS_API, SOURCE_PROMETHEUS
from k8sdata.pods.workloads import (
    NODE_USAGE_COLUMNS,
    WORKLOAD_COLUMNS,
    daemonset_rollout,
    deployment_rollout,
    node_usage,
    node_usage_from_prometheus,
    nodes_usage_frame,
    statefulset_rollout,
    workloads_frame,
)
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.prom import PromClient
from sandbox.cluster_loader import load_demo_objects

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _deployment(
    *,
    generation: int = 2,
    observed: int = 2,
    replicas: int | None = 3,
    updated: int = 3,
    current: int = 3,
    available: int = 3,
    ready: int = 3,
    paused: bool = False,
    progressing_reason: str | None = "NewReplicaSetAvailable",
    revision: str | None = "4",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"paused": paused}
    if replicas is not None:
        spec["replicas"] = replicas
    conditions = (
        [{"type": "Progressing", "status": "True", "reason": progressing_reason}]
        if progressing_reason
        else []
    )
    annotations = {"deployment.kubernetes.io/revision": revision} if revision else {}
    return {
        "metadata": {
            "namespace": "ns",
            "name": "d",
            "generation": generation,
            "uid": "u-d",
            "creationTimestamp": "2026-01-01T11:00:00Z",
            "annotations": annotations,
        },
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": current,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "readyReplicas": ready,
            "conditions": conditions,
        },
    }


# One case per branch of DeploymentStatusViewer.Status, plus paused (ours, see the module doc).
DEPLOYMENT_CASES = [
    ("complete", _deployment(), "complete", 'deployment "d" successfully rolled out'),
    (
        "spec not observed",
        _deployment(generation=3, observed=2),
        "progressing",
        "Waiting for deployment spec update to be observed...",
    ),
    (
        "deadline exceeded",
        _deployment(progressing_reason="ProgressDeadlineExceeded", updated=1),
        "stalled",
        'deployment "d" exceeded its progress deadline',
    ),
    (
        "new replicas being updated",
        _deployment(updated=1),
        "progressing",
        'Waiting for deployment "d" rollout to finish: 1 out of 3 new replicas have been updated...',
    ),
    (
        "old replicas terminating",
        _deployment(current=5),
        "progressing",
        'Waiting for deployment "d" rollout to finish: 2 old replicas are pending termination...',
    ),
    (
        "updated not yet available",
        _deployment(available=2),
        "progressing",
        'Waiting for deployment "d" rollout to finish: 2 of 3 updated replicas are available...',
    ),
    (
        "no spec.replicas skips the updated check",
        _deployment(replicas=None, updated=0, current=0, available=0),
        "complete",
        'deployment "d" successfully rolled out',
    ),
    ("paused", _deployment(paused=True, updated=1, progressing_reason="DeploymentPaused"), "paused", None),
]


@pytest.mark.parametrize(
    ("case", "deployment", "rollout", "message"), DEPLOYMENT_CASES, ids=[c[0] for c in DEPLOYMENT_CASES]
)
def test_deployment_rollout_like_kubectl(
    case: str, deployment: dict[str, Any], rollout: str, message: str | None
) -> None:
    got_rollout, got_message = deployment_rollout(deployment)
    assert got_rollout == rollout, case
    if message is not None:
        assert got_message == message


def _statefulset(
    *,
    generation: int = 1,
    observed: int = 1,
    replicas: int | None = 3,
    ready: int = 3,
    updated: int = 3,
    current: int = 3,
    strategy: dict[str, Any] | None = None,
    update_revision: str = "s-2",
    current_revision: str = "s-2",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"updateStrategy": strategy if strategy is not None else {"type": "RollingUpdate"}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "metadata": {
            "namespace": "ns",
            "name": "s",
            "generation": generation,
            "creationTimestamp": "2026-01-01T10:00:00Z",
        },
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "currentReplicas": current,
            "availableReplicas": ready,
            "updateRevision": update_revision,
            "currentRevision": current_revision,
        },
    }


# One case per branch of StatefulSetStatusViewer.Status.
STATEFULSET_CASES = [
    (
        "OnDelete",
        _statefulset(strategy={"type": "OnDelete"}),
        "not tracked",
        "rollout status is only available for RollingUpdate strategy type",
    ),
    (
        "never observed",
        _statefulset(observed=0),
        "progressing",
        "Waiting for statefulset spec update to be observed...",
    ),
    (
        "spec not observed",
        _statefulset(generation=2),
        "progressing",
        "Waiting for statefulset spec update to be observed...",
    ),
    ("pods not ready", _statefulset(ready=1), "progressing", "Waiting for 2 pods to be ready..."),
    (
        "partition waiting",
        _statefulset(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}, updated=1),
        "progressing",
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
    ),
    (
        "partition done",
        _statefulset(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}, updated=2),
        "complete",
        "partitioned roll out complete: 2 new pods have been updated...",
    ),
    (
        "revisions differ",
        _statefulset(update_revision="s-3", updated=1),
        "progressing",
        "waiting for statefulset rolling update to complete 1 pods at revision s-3...",
    ),
    ("complete", _statefulset(), "complete", "statefulset rolling update complete 3 pods at revision s-2..."),
]


@pytest.mark.parametrize(
    ("case", "statefulset", "rollout", "message"), STATEFULSET_CASES, ids=[c[0] for c in STATEFULSET_CASES]
)
def test_statefulset_rollout_like_kubectl(
    case: str, statefulset: dict[str, Any], rollout: str, message: str
) -> None:
    assert statefulset_rollout(statefulset) == (rollout, message), case


def _daemonset(
    *,
    generation: int = 1,
    observed: int = 1,
    desired: int = 3,
    updated: int = 3,
    available: int = 3,
    ready: int = 3,
    strategy: str = "RollingUpdate",
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": "ds",
            "generation": generation,
            "creationTimestamp": "2025-12-31T12:00:00Z",
        },
        "spec": {"updateStrategy": {"type": strategy}},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberReady": ready,
        },
    }


# One case per branch of DaemonSetStatusViewer.Status.
DAEMONSET_CASES = [
    (
        "OnDelete",
        _daemonset(strategy="OnDelete"),
        "not tracked",
        "rollout status is only available for RollingUpdate strategy type",
    ),
    (
        "spec not observed",
        _daemonset(generation=2),
        "progressing",
        "Waiting for daemon set spec update to be observed...",
    ),
    (
        "pods being updated",
        _daemonset(updated=1),
        "progressing",
        'Waiting for daemon set "ds" rollout to finish: 1 out of 3 new pods have been updated...',
    ),
    (
        "updated not available",
        _daemonset(available=2),
        "progressing",
        'Waiting for daemon set "ds" rollout to finish: 2 of 3 updated pods are available...',
    ),
    ("complete", _daemonset(), "complete", 'daemon set "ds" successfully rolled out'),
]


@pytest.mark.parametrize(
    ("case", "daemonset", "rollout", "message"), DAEMONSET_CASES, ids=[c[0] for c in DAEMONSET_CASES]
)
def test_daemonset_rollout_like_kubectl(
    case: str, daemonset: dict[str, Any], rollout: str, message: str
) -> None:
    assert daemonset_rollout(daemonset) == (rollout, message), case


def test_workloads_frame_counts_like_kubectl_get() -> None:
    frame = workloads_frame(
        [_deployment(ready=2, available=2)],
        [_statefulset(ready=1)],
        [_daemonset(ready=2, updated=1)],
        now=NOW,
    )
    assert list(frame.columns) == WORKLOAD_COLUMNS
    rows = frame.set_index("kind")
    deploy = rows.loc["Deployment"]
    assert (deploy.desired, deploy.ready, deploy.ready_display, deploy.up_to_date, deploy.available) == (
        3,
        2,
        "2/3",
        3,
        2,
    )
    assert (deploy.revision, deploy.age) == ("4", "60m")
    sts = rows.loc["StatefulSet"]
    assert (sts.ready_display, sts.revision, sts.rollout) == ("1/3", "s-2", "progressing")
    ds = rows.loc["DaemonSet"]
    assert (ds.desired, ds.ready, ds.up_to_date, ds.available, ds.age) == (3, 2, 1, 3, "24h")


def test_deployment_revision_falls_back_to_its_newest_replicaset() -> None:
    deployment = _deployment(revision=None)
    replicasets = [
        {
            "metadata": {
                "name": f"d-{rev}",
                "annotations": {"deployment.kubernetes.io/revision": rev},
                "ownerReferences": [{"uid": owner}],
            }
        }
        for rev, owner in (("2", "u-d"), ("7", "u-d"), ("9", "someone-else"))
    ]
    assert workloads_frame([deployment], [], [], replicasets, now=NOW).loc[0, "revision"] == "7"
    assert workloads_frame([deployment], [], [], now=NOW).loc[0, "revision"] == ""


def test_empty_workloads_frame_has_the_columns() -> None:
    frame = workloads_frame([], [], [])
    assert frame.empty and list(frame.columns) == WORKLOAD_COLUMNS


# ------------------------------------------------------------------------------------------ nodes


def _node(name: str, cpu: str = "4", memory: str = "8Gi") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {}},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory},
            "allocatable": {"cpu": "3500m", "memory": "7Gi"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pod_on(node: str | None, name: str, cpu: str, memory: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "c",
                    "resources": {
                        "requests": {"cpu": cpu, "memory": memory},
                        "limits": {"cpu": "1", "memory": memory},
                    },
                }
            ],
        },
        "status": {"phase": phase},
    }


def test_node_requests_count_non_terminated_pods_only() -> None:
    pods = [
        _pod_on("n1", "a", "500m", "1Gi"),
        _pod_on("n1", "b", "250m", "512Mi", phase="Pending"),
        _pod_on("n1", "done", "2", "2Gi", phase="Succeeded"),
        _pod_on("n1", "failed", "2", "2Gi", phase="Failed"),
        _pod_on(None, "unscheduled", "3", "3Gi", phase="Pending"),
        _pod_on("n2", "c", "1", "1Gi"),
    ]
    usage = pd.DataFrame({"node": ["n1"], "cpu_used": [0.7], "memory_used": [float(2**30)]})
    frame = nodes_usage_frame([_node("n1"), _node("n2")], pods, usage).set_index("node")
    assert list(frame.reset_index().columns) == NODE_USAGE_COLUMNS
    n1 = frame.loc["n1"]
    assert n1.pods == 2
    assert (n1.cpu_capacity, n1.cpu_allocatable, n1.cpu_requested, n1.cpu_limits) == (4.0, 3.5, 0.75, 2.0)
    assert n1.memory_requested == 1.5 * 2**30 and n1.memory_allocatable == 7 * 2**30
    assert n1.cpu_requested_pct == pytest.approx(0.75 / 3.5 * 100)
    assert n1.cpu_used_pct == pytest.approx(20.0) and n1.memory_used_pct == pytest.approx(100 / 7)
    n2 = frame.loc["n2"]
    assert n2.cpu_requested == 1.0 and math.isnan(n2.cpu_used) and math.isnan(n2.memory_used_pct)


def test_nodes_frame_without_usage_or_pods() -> None:
    frame = nodes_usage_frame([_node("n1")], [], None)
    assert frame.loc[0, "pods"] == 0 and frame.loc[0, "cpu_requested"] == 0.0
    assert frame["cpu_used"].isna().all()


# ------------------------------------------------------------------------------------------ integration


def _reader(kube_api: Any) -> KubeClient:
    return KubeClient(
        Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"})
    )


def _demo(kind: str) -> list[dict[str, Any]]:
    return [o for o in load_demo_objects() if o.get("kind") == kind]


def test_demo_workloads_through_the_api(kube_api: Any) -> None:
    kube = _reader(kube_api)
    try:
        frame = workloads_frame(
            kube.list_deployments(),
            kube.list_resource("apps/v1", "statefulsets"),
            kube.list_resource("apps/v1", "daemonsets"),
            kube.list_resource("apps/v1", "replicasets"),
        )
    finally:
        kube.close()
    assert set(frame["kind"]) == {"Deployment", "StatefulSet", "DaemonSet"}
    expected = {
        ("Deployment", o["metadata"]["namespace"], o["metadata"]["name"]) for o in _demo("Deployment")
    }
    expected |= {
        ("StatefulSet", o["metadata"]["namespace"], o["metadata"]["name"]) for o in _demo("StatefulSet")
    }
    expected |= {("DaemonSet", o["metadata"]["namespace"], o["metadata"]["name"]) for o in _demo("DaemonSet")}
    assert set(map(tuple, frame[["kind", "namespace", "name"]].values)) == expected
    web = frame[(frame["namespace"] == "shop") & (frame["name"] == "web")].iloc[0]
    assert web.rollout == "complete" and web.revision != ""
    # the demo's crash-looping workload is honestly not rolled out
    assert (frame["rollout"] == "progressing").any()
    assert (frame[frame["kind"] == "StatefulSet"]["revision"] != "").all()


def test_demo_nodes_with_usage_from_metrics_api(kube_api: Any) -> None:
    kube = _reader(kube_api)
    try:
        pods = kube.list_pods()
        usage, source = node_usage(None, kube, pods)
        frame = nodes_usage_frame(kube.list_nodes(), pods, usage)
    finally:
        kube.close()
    assert source == SOURCE_METRICS_API
    assert len(frame) == len(_demo("Node"))
    assert (frame["cpu_used"] > 0).all() and (frame["memory_used"] > 0).all()
    assert (frame["cpu_requested"] > 0).all()
    assert (frame["cpu_requested_pct"] < 100).all()


def test_node_usage_from_prometheus_sums_the_demo_containers(prometheus: Any, kube_api: Any) -> None:
    prom = PromClient(prometheus.url, timeout=10.0)
    kube = _reader(kube_api)
    try:
        pods = kube.list_pods()
        from_prom = node_usage_from_prometheus(prom, pods, window="2m").set_index("node")
        usage, source = node_usage(prom, None, pods)
        from_api = node_usage(None, kube, pods)[0].set_index("node")
    finally:
        prom.close()
        kube.close()
    assert source == SOURCE_PROMETHEUS and not usage.empty
    assert set(from_prom.index) <= set(from_api.index)
    # NodeMetrics add the node's own overhead (system daemons) to its pods: never less than the pods' sum
    for node, row in from_prom.iterrows():
        assert from_api.loc[node, "memory_used"] >= row.memory_used * 0.9
