"""Fixtures for the stand-in Kubernetes API server (sandbox.apiserver).

- `kube_api` (session): one server with the demo cluster (sandbox.cluster_loader.load_demo_objects()) and
  the demo log provider; `.url`, `.server`, `.admin_kubeconfig`, `.reader_kubeconfig`.
- `kube_faults` (function): the same server; afterwards its faults are cleared and every store mutation
  the test made is undone (deleted objects return, added ones go, changed ones get their old content).
- `make_api_server` (function): a factory for tests that need their own server; all are stopped after.
- `fixture_cluster_objects(now)`: a small cluster of our own with every pod state the printers know,
  for tests that must not depend on the demo data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox import demo_names
from sandbox.apiserver import ApiServer


@dataclass(frozen=True)
class KubeApi:
    server: ApiServer
    url: str
    admin_kubeconfig: Path
    reader_kubeconfig: Path


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(
    namespace: str,
    name: str,
    node: str | None,
    created: datetime,
    *,
    containers: list[str] | None = None,
    phase: str = "Running",
    statuses: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    extra_metadata: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    ip: str = "10.244.1.10",
) -> dict[str, Any]:
    containers = containers or ["main"]
    running = {"running": {"startedAt": _ts(created + timedelta(seconds=5))}}
    default_statuses = [
        {
            "name": c,
            "ready": True,
            "restartCount": 0,
            "started": True,
            "image": f"example/{c}:1.0",
            "imageID": "",
            "state": running,
        }
        for c in containers
    ]
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": c,
                "image": f"example/{c}:1.0",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }
            for c in containers
        ]
    }
    if node:
        spec["nodeName"] = node
    if init_containers:
        spec["initContainers"] = init_containers
    status: dict[str, Any] = {
        "phase": phase,
        "containerStatuses": statuses if statuses is not None else default_statuses,
        "conditions": conditions
        if conditions is not None
        else [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}],
    }
    if node and phase != "Pending":
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "creationTimestamp": _ts(created),
        "labels": labels or {"app": name.split("-")[0]},
    }
    metadata.update(extra_metadata or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def fixture_cluster_objects(now: datetime | None = None) -> list[dict[str, Any]]:
    """A small cluster covering every printer case, with the KAMS read-only RBAC of the demo."""
    now = now or datetime.now(UTC)
    day_ago = now - timedelta(days=1)
    objects: list[dict[str, Any]] = []
    for namespace in ("default", "shop", "kams", "kube-system"):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": namespace,
                    "creationTimestamp": _ts(now - timedelta(days=30)),
                    "labels": {"kubernetes.io/metadata.name": namespace},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
    for index, node in enumerate(("node-a", "node-b")):
        labels = {"kubernetes.io/hostname": node}
        if index == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node,
                    "labels": labels,
                    "creationTimestamp": _ts(now - timedelta(days=30)),
                },
                "spec": {"unschedulable": index == 1},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "addresses": [{"type": "InternalIP", "address": f"172.18.0.{index + 2}"}],
                    "nodeInfo": {
                        "kubeletVersion": "v1.30.2",
                        "osImage": "Debian GNU/Linux 12",
                        "kernelVersion": "6.1.0",
                        "containerRuntimeVersion": "containerd://1.7",
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "machineID": "",
                        "systemUUID": "",
                        "bootID": "",
                        "kubeProxyVersion": "v1.30.2",
                    },
                },
            }
        )
    five_minutes_ago = _ts(now - timedelta(minutes=5))
    objects += [
        _pod("shop", "web-1", "node-a", day_ago, labels={"app": "web", "tier": "front"}),
        _pod("shop", "api-1", "node-b", day_ago, labels={"app": "api", "tier": "back"}, ip="10.244.2.11"),
        _pod(
            "shop",
            "crash-1",
            "node-a",
            day_ago,
            labels={"app": "crash"},
            conditions=[],
            statuses=[
                {
                    "name": "main",
                    "ready": False,
                    "restartCount": 3,
                    "image": "example/main:1.0",
                    "imageID": "",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": five_minutes_ago,
                            "finishedAt": five_minutes_ago,
                        }
                    },
                }
            ],
        ),
        _pod(
            "shop",
            "oom-1",
            "node-b",
            day_ago,
            labels={"app": "oom"},
            statuses=[
                {
                    "name": "main",
                    "ready": True,
                    "restartCount": 1,
                    "image": "example/main:1.0",
                    "imageID": "",
                    "state": {"running": {"startedAt": _ts(now - timedelta(hours=2))}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled",
                            "startedAt": _ts(now - timedelta(hours=3)),
                            "finishedAt": _ts(now - timedelta(hours=2)),
                        }
                    },
                }
            ],
        ),
        _pod(
            "shop",
            "pending-1",
            None,
            now - timedelta(minutes=3),
            phase="Pending",
            statuses=[],
            labels={"app": "pending"},
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        ),
        _pod(
            "shop",
            "init-1",
            "node-a",
            now - timedelta(minutes=1),
            phase="Pending",
            labels={"app": "init"},
            init_containers=[{"name": "migrate", "image": "example/migrate:1.0"}],
            init_statuses=[
                {
                    "name": "migrate",
                    "ready": False,
                    "restartCount": 0,
                    "image": "example/migrate:1.0",
                    "imageID": "",
                    "state": {"running": {"startedAt": _ts(now)}},
                }
            ],
            statuses=[
                {
                    "name": "main",
                    "ready": False,
                    "restartCount": 0,
                    "image": "example/main:1.0",
                    "imageID": "",
                    "state": {"waiting": {"reason": "PodInitializing"}},
                }
            ],
            conditions=[{"type": "Initialized", "status": "False"}],
        ),
        _pod(
            "shop",
            "done-1",
            "node-b",
            day_ago,
            phase="Succeeded",
            labels={"app": "done"},
            conditions=[],
            statuses=[
                {
                    "name": "main",
                    "ready": False,
                    "restartCount": 0,
                    "image": "example/main:1.0",
                    "imageID": "",
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": _ts(day_ago),
                            "finishedAt": _ts(day_ago),
                        }
                    },
                }
            ],
        ),
        _pod(
            "shop",
            "leaving-1",
            "node-a",
            day_ago,
            labels={"app": "leaving"},
            extra_metadata={"deletionTimestamp": _ts(now), "deletionGracePeriodSeconds": 30},
        ),
        _pod("shop", "duo-1", "node-b", day_ago, containers=["app", "sidecar"], labels={"app": "duo"}),
        _pod("kams", "kams-1", "node-a", day_ago, labels={"app": "kams"}),
        _pod("kube-system", "coredns-1", "node-a", day_ago, labels={"k8s-app": "kube-dns"}),
    ]
    involved = {"kind": "Pod", "namespace": "shop", "name": "crash-1", "apiVersion": "v1"}
    objects += [
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "crash-1.backoff", "namespace": "shop", "creationTimestamp": _ts(day_ago)},
            "involvedObject": involved,
            "reason": "BackOff",
            "message": "Back-off restarting failed container main",
            "type": "Warning",
            "count": 4,
            "firstTimestamp": _ts(now - timedelta(minutes=30)),
            "lastTimestamp": _ts(now - timedelta(minutes=2)),
            "source": {"component": "kubelet", "host": "node-a"},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "pending-1.failed", "namespace": "shop", "creationTimestamp": _ts(now)},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "pending-1", "apiVersion": "v1"},
            "reason": "FailedScheduling",
            "message": "0/2 nodes are available: 2 Insufficient memory.",
            "type": "Warning",
            "count": 1,
            "firstTimestamp": _ts(now - timedelta(minutes=3)),
            "lastTimestamp": _ts(now - timedelta(minutes=1)),
            "source": {"component": "default-scheduler"},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-1.pulled", "namespace": "shop", "creationTimestamp": _ts(day_ago)},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1", "apiVersion": "v1"},
            "reason": "Pulled",
            "message": "Container image already present on machine",
            "type": "Normal",
            "count": 1,
            "firstTimestamp": _ts(day_ago),
            "lastTimestamp": _ts(day_ago),
            "source": {"component": "kubelet"},
        },
    ]
    meta = {"namespace": "shop", "creationTimestamp": _ts(day_ago)}
    selector = {"matchLabels": {"app": "web"}}
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "example/web:1.0"}]},
    }
    objects += [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", **meta},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "type": "ClusterIP",
                "clusterIP": "10.96.0.20",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web", **meta},
            "subsets": [{"addresses": [{"ip": "10.244.1.10"}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "kams", "namespace": "kams", "creationTimestamp": _ts(day_ago)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-config", **meta},
            "data": {"A": "1"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-secret", **meta},
            "type": "Opaque",
            "data": {"password": "c2VjcmV0"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", **meta},
            "spec": {"replicas": 1, "selector": selector, "template": template},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-1", **meta},
            "spec": {"replicas": 1, "selector": selector, "template": template},
            "status": {"replicas": 1},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", **meta},
            "spec": {"replicas": 1, "serviceName": "db", "selector": selector, "template": template},
            "status": {"replicas": 1},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", **meta},
            "spec": {"selector": selector, "template": template},
            "status": {
                "currentNumberScheduled": 2,
                "desiredNumberScheduled": 2,
                "numberMisscheduled": 0,
                "numberReady": 2,
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "report", **meta},
            "spec": {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}},
            "status": {"succeeded": 1},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", **meta},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}
                },
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-all", **meta},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", **meta},
            "spec": {
                "rules": [
                    {
                        "host": "shop.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
        {
            "apiVersion": "aquasecurity.github.io/v1alpha1",
            "kind": "VulnerabilityReport",
            "metadata": {"name": "replicaset-web-1-web", **meta},
            "report": {
                "artifact": {"repository": "example/web", "tag": "1.0"},
                "summary": {"criticalCount": 1, "highCount": 2, "mediumCount": 0, "lowCount": 0},
                "vulnerabilities": [],
            },
        },
        # RBAC: the KAMS read-only role (no secrets), a namespaced role, and a role with resourceNames.
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kams-read-only", "creationTimestamp": _ts(day_ago)},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": [
                        "pods",
                        "pods/log",
                        "nodes",
                        "namespaces",
                        "events",
                        "services",
                        "endpoints",
                        "serviceaccounts",
                        "configmaps",
                    ],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": [
                        "apps",
                        "batch",
                        "networking.k8s.io",
                        "rbac.authorization.k8s.io",
                        "aquasecurity.github.io",
                        "metrics.k8s.io",
                    ],
                    "resources": ["*"],
                    "verbs": ["get", "list", "watch"],
                },
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "kams-read-only", "creationTimestamp": _ts(day_ago)},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "kams-read-only",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "kams", "namespace": "kams"}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "one-secret", "namespace": "kams", "creationTimestamp": _ts(day_ago)},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": ["kams-config"],
                    "verbs": ["get"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "one-secret", "namespace": "kams", "creationTimestamp": _ts(day_ago)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one-secret"},
            "subjects": [{"kind": "ServiceAccount", "name": "kams"}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kams-config", "namespace": "kams", "creationTimestamp": _ts(day_ago)},
            "type": "Opaque",
            "data": {},
        },
    ]
    return objects


def _write_kubeconfigs(server: ApiServer, folder: Path) -> tuple[Path, Path]:
    admin = server.write_kubeconfig(folder / "admin.kubeconfig", demo_names.ADMIN_TOKEN)
    reader = server.write_kubeconfig(folder / "reader.kubeconfig", demo_names.READER_TOKEN)
    return admin, reader


def _demo_objects() -> list[dict[str, Any]]:
    from sandbox.cluster_loader import load_demo_objects

    objects = load_demo_objects()
    # Until the demo YAML exists, serve our own small cluster so dependent tests have something real.
    return objects or fixture_cluster_objects()


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    server = ApiServer(_demo_objects()).start()
    try:
        admin, reader = _write_kubeconfigs(server, tmp_path_factory.mktemp("kube_api"))
        yield KubeApi(server=server, url=server.url, admin_kubeconfig=admin, reader_kubeconfig=reader)
    finally:
        server.stop()


@pytest.fixture
def kube_faults(kube_api: KubeApi) -> Iterator[ApiServer]:
    """The session server, for a test that injects faults or mutates objects; both are undone after."""
    server = kube_api.server
    snapshot = server.store.snapshot()
    try:
        yield server
    finally:
        server.clear_faults()
        server.store.restore(snapshot)


@pytest.fixture
def make_api_server() -> Iterator[Callable[..., ApiServer]]:
    """make_api_server(objects=None, **ApiServer kwargs) -> a started server (fixture objects by default)."""
    started: list[ApiServer] = []

    def make(objects: list[dict[str, Any]] | None = None, **kwargs: Any) -> ApiServer:
        server = ApiServer(fixture_cluster_objects() if objects is None else objects, **kwargs).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
