"""Synthetic clusters for benchmarks: namespaces, nodes, N realistic pods and their owners, generated fast.

`synthetic_objects(n_pods, seed=0, now=None)` yields Namespaces first, then Nodes (about one per 100
pods, at most MAX_NODES), then the pods, then the pods' owners. Each pod is what a real API server
returns: full metadata (labels, annotations, ownerReferences to a ReplicaSet/StatefulSet/Job,
managedFields from the controller and the kubelet), a defaulted spec and a status from a realistic mix
(mostly Running and ready; some Pending, CrashLoopBackOff, restarted after OOMKilled, not ready,
Completed). A pod is 5-8 KB of JSON.

The owners come last, in the order Deployments, ReplicaSets, StatefulSets, CronJobs, Jobs: exactly the
objects the pods' controller ownerReferences name (kind, apiVersion, namespace, name, uid), each
ReplicaSet controlled by a Deployment named after the app and each Job (named `<app>-<number>`, as a
CronJob names them) by a CronJob. Their pod templates are the pods' own labels, annotations and spec
less what admission, the scheduler and the controller add per pod; replica counts and statuses agree
with the pods'. Nothing else (Services, PersistentVolumeClaims, old ReplicaSets scaled to 0) is made.
Workload scans (k8sdata/security) scan controllers instead of the pods they own, so without owners
every synthetic pod would look like a naked pod. The owners are yielded after the pods and drawn from
the same random stream only after the last pod, so the pods are what they were before owners existed.

Speed: 100,000 pods in a few seconds. Every (app, state) pair has one JSON text with %-placeholders,
rendered once; a pod costs one `%` substitution and one `orjson.loads`, so every yielded dict is
fresh (nothing is shared between pods, callers may mutate them).

Deterministic: the same (n_pods, seed, now) gives the same objects. `now` defaults to the current
time; pass it explicitly for reproducible output.
"""

from __future__ import annotations

import gc
import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAX_NODES = 5_000  # the upstream scalability limit for one cluster
PODS_PER_NODE = 100
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names

#: Share of pods in each state; the rest are Running and ready.
STATE_WEIGHTS: dict[str, float] = {
    "running": 0.88,
    "restarted": 0.04,  # Running, ready, lastState OOMKilled
    "pending": 0.025,
    "crashloop": 0.02,
    "completed": 0.02,
    "not_ready": 0.015,
}

_NAMESPACE_WORDS = (
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "billing",
    "analytics",
    "notifications",
    "media",
    "platform",
    "ml",
    "ingest",
    "reporting",
    "inventory",
    "orders",
    "fraud",
    "recommendations",
    "support",
    "growth",
    "data",
)


@dataclass(frozen=True)
class _App:
    name: str
    image: str
    port: int
    cpu: str
    memory: str
    cpu_limit: str | None
    memory_limit: str | None
    sidecar: bool
    owner_kind: str  # ReplicaSet, StatefulSet or Job


_APPS: tuple[_App, ...] = (
    _App(
        "frontend", "ghcr.io/acme/frontend:4.12.0", 8080, "200m", "256Mi", "1", "512Mi", False, "ReplicaSet"
    ),
    _App(
        "api-gateway",
        "docker.io/envoyproxy/envoy:v1.30.2",
        8080,
        "250m",
        "256Mi",
        None,
        "512Mi",
        False,
        "ReplicaSet",
    ),
    _App("orders", "ghcr.io/acme/orders:2.8.3", 8000, "100m", "256Mi", "500m", "512Mi", True, "ReplicaSet"),
    _App(
        "payments", "ghcr.io/acme/payments:1.19.0", 8000, "100m", "192Mi", "500m", "384Mi", True, "ReplicaSet"
    ),
    _App("search", "ghcr.io/acme/search:3.2.1", 9200, "500m", "1Gi", "2", "2Gi", False, "ReplicaSet"),
    _App("worker", "ghcr.io/acme/worker:5.0.7", 9090, "250m", "512Mi", None, "1Gi", False, "ReplicaSet"),
    _App(
        "cache", "docker.io/library/redis:7.2.4", 6379, "100m", "128Mi", "100m", "128Mi", False, "StatefulSet"
    ),
    _App(
        "postgres",
        "docker.io/library/postgres:16.2",
        5432,
        "500m",
        "1Gi",
        "500m",
        "1Gi",
        False,
        "StatefulSet",
    ),
    _App("report", "ghcr.io/acme/report:0.14.2", 8080, "100m", "128Mi", "1", "512Mi", False, "Job"),
    _App("web", "docker.io/library/nginx:1.25.3", 8080, "50m", "64Mi", "200m", "128Mi", False, "ReplicaSet"),
)


#: How often each app appears (indices into _APPS): Job pods are a small share, as in real clusters.
_APP_WEIGHTS = (4, 2, 3, 3, 2, 4, 2, 1, 1, 3)
_APP_CYCLE: tuple[int, ...] = tuple(index for index, weight in enumerate(_APP_WEIGHTS) for _ in range(weight))


def _suffix(number: int, length: int) -> str:
    base = len(_SUFFIX_ALPHABET)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(_SUFFIX_ALPHABET[digit])
    return "".join(chars)


def _unique_suffix(index: int) -> str:
    """A 5-character generated-looking suffix, different for every index below 27**5 (14 million)."""
    space = len(_SUFFIX_ALPHABET) ** 5
    return _suffix((index * 7_368_787 + 1_234_567) % space, 5)  # multiplier coprime to 27**5: bijective


def _uid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{'89ab'[int(text[16], 16) % 4]}{text[17:20]}-{text[20:]}"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _qos(app: _App) -> str:
    if app.cpu_limit == app.cpu and app.memory_limit == app.memory and not app.sidecar:
        return "Guaranteed"
    return "Burstable"


# ------------------------------------------------------------------------------------------------
# templates: built as dicts with "@@KEY@@" markers, turned into %-format JSON text once


def _marker(key: str) -> str:
    return f"@@{key}@@"


def _container_spec(app: _App) -> list[dict[str, Any]]:
    resources: dict[str, Any] = {"requests": {"cpu": app.cpu, "memory": app.memory}}
    limits = {key: value for key, value in (("cpu", app.cpu_limit), ("memory", app.memory_limit)) if value}
    if limits:
        resources["limits"] = limits
    mounts = [
        {
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "name": f"kube-api-access-{_marker('vol')}",
            "readOnly": True,
        }
    ]
    main: dict[str, Any] = {
        "name": app.name,
        "image": app.image,
        "env": [
            {
                "name": "POD_NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            },
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability:4317"},
        ],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": app.port, "name": "http", "protocol": "TCP"}],
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 10001,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
    }
    if app.owner_kind != "Job":
        probe = {
            "failureThreshold": 3,
            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        }
        main["livenessProbe"] = dict(probe, initialDelaySeconds=10)
        main["readinessProbe"] = dict(probe, periodSeconds=5)
    containers = [main]
    if app.sidecar:
        containers.append(
            {
                "name": "envoy",
                "image": "docker.io/envoyproxy/envoy:v1.30.2",
                "imagePullPolicy": "IfNotPresent",
                "args": ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                "ports": [{"containerPort": 15001, "name": "proxy", "protocol": "TCP"}],
                "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": mounts,
            }
        )
    return containers


def _managed_fields(app: _App, containers: list[dict[str, Any]], owner_manager: str) -> list[dict[str, Any]]:
    """What server-side field tracking records: the controller wrote the spec, the kubelet the status."""
    spec_containers: dict[str, Any] = {}
    for container in containers:
        entry: dict[str, Any] = {
            ".": {},
            "f:image": {},
            "f:imagePullPolicy": {},
            "f:name": {},
            "f:resources": {".": {}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
            "f:terminationMessagePath": {},
            "f:terminationMessagePolicy": {},
        }
        if "limits" in container["resources"]:
            entry["f:resources"]["f:limits"] = {
                ".": {},
                **{f"f:{key}": {} for key in container["resources"]["limits"]},
            }
        if "env" in container:
            entry["f:env"] = {
                ".": {},
                **{f'k:{{"name":"{e["name"]}"}}': {".": {}, "f:name": {}} for e in container["env"]},
            }
        if "ports" in container:
            entry["f:ports"] = {
                ".": {},
                **{
                    f'k:{{"containerPort":{p["containerPort"]},"protocol":"TCP"}}': {
                        ".": {},
                        "f:containerPort": {},
                        "f:name": {},
                        "f:protocol": {},
                    }
                    for p in container["ports"]
                },
            }
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in container:
                entry[f"f:{probe}"] = {
                    ".": {},
                    "f:failureThreshold": {},
                    "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}},
                    "f:periodSeconds": {},
                    "f:successThreshold": {},
                    "f:timeoutSeconds": {},
                }
        if "securityContext" in container:
            entry["f:securityContext"] = {
                ".": {},
                "f:allowPrivilegeEscalation": {},
                "f:capabilities": {".": {}, "f:drop": {}},
                "f:readOnlyRootFilesystem": {},
                "f:runAsNonRoot": {},
                "f:runAsUser": {},
            }
        spec_containers[f'k:{{"name":"{container["name"]}"}}'] = entry
    controller = {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "manager": owner_manager,
        "operation": "Update",
        "time": _marker("created"),
        "fieldsV1": {
            "f:metadata": {
                "f:annotations": {".": {}, "f:kubectl.kubernetes.io/restartedAt": {}},
                "f:generateName": {},
                "f:labels": {
                    ".": {},
                    "f:app": {},
                    "f:app.kubernetes.io/name": {},
                    "f:app.kubernetes.io/part-of": {},
                },
                "f:ownerReferences": {".": {}, f'k:{{"uid":"{_marker("owner_uid")}"}}': {}},
            },
            "f:spec": {
                "f:containers": spec_containers,
                "f:dnsPolicy": {},
                "f:enableServiceLinks": {},
                "f:restartPolicy": {},
                "f:schedulerName": {},
                "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    }
    kubelet = {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "manager": "kubelet",
        "operation": "Update",
        "subresource": "status",
        "time": _marker("status_time"),
        "fieldsV1": {
            "f:status": {
                "f:conditions": {
                    f'k:{{"type":"{kind}"}}': {
                        ".": {},
                        "f:lastProbeTime": {},
                        "f:lastTransitionTime": {},
                        "f:status": {},
                        "f:type": {},
                    }
                    for kind in ("ContainersReady", "Initialized", "PodReadyToStartContainers", "Ready")
                },
                "f:containerStatuses": {},
                "f:hostIP": {},
                "f:hostIPs": {},
                "f:phase": {},
                "f:podIP": {},
                "f:podIPs": {".": {}, f'k:{{"ip":"{_marker("pod_ip")}"}}': {".": {}, "f:ip": {}}},
                "f:startTime": {},
            }
        },
    }
    return [controller, kubelet]


def _condition(
    kind: str, status: str, at: str, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "lastProbeTime": None,
        "lastTransitionTime": at,
        "status": status,
        "type": kind,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _container_status(container: dict[str, Any], index: int, state: str, app: _App) -> dict[str, Any]:
    status: dict[str, Any] = {
        "containerID": f"containerd://{_marker(f'cid{index}')}",
        "image": container["image"],
        "imageID": f"{container['image'].rsplit(':', 1)[0]}@sha256:{_marker(f'digest{index}')}",
        "lastState": {},
        "name": container["name"],
        "ready": True,
        "restartCount": 0,
        "started": True,
        "state": {"running": {"startedAt": _marker("started")}},
    }
    main = index == 0
    if state == "crashloop" and main:
        status.update(ready=False, started=False, restartCount=_marker("restarts"))
        status["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": (
                    f"back-off 5m0s restarting failed container={container['name']} pod={_marker('name')}_"
                    f"{_marker('namespace')}({_marker('uid')})"
                ),
            }
        }
        status["lastState"] = {
            "terminated": {
                "containerID": f"containerd://{_marker('last_cid')}",
                "exitCode": 1,
                "finishedAt": _marker("last_finished"),
                "reason": "Error",
                "startedAt": _marker("last_started"),
            }
        }
    elif state == "restarted" and main:
        status["restartCount"] = _marker("restarts")
        status["lastState"] = {
            "terminated": {
                "containerID": f"containerd://{_marker('last_cid')}",
                "exitCode": 137,
                "finishedAt": _marker("last_finished"),
                "reason": "OOMKilled",
                "startedAt": _marker("last_started"),
            }
        }
    elif state == "not_ready" and main:
        status["ready"] = False
    elif state == "completed":
        status.update(ready=False, started=False)
        status["state"] = {
            "terminated": {
                "containerID": status["containerID"],
                "exitCode": 0,
                "finishedAt": _marker("finished"),
                "reason": "Completed",
                "startedAt": _marker("started"),
            }
        }
    return status


def _pod_template(app: _App, state: str) -> dict[str, Any]:
    containers = _container_spec(app)
    owner_kind = app.owner_kind
    owner_manager = {
        "ReplicaSet": "kube-controller-manager",
        "StatefulSet": "kube-controller-manager",
        "Job": "kube-controller-manager",
    }[owner_kind]
    labels: dict[str, Any] = {
        "app": app.name,
        "app.kubernetes.io/name": app.name,
        "app.kubernetes.io/part-of": _marker("namespace"),
        "app.kubernetes.io/version": app.image.rsplit(":", 1)[1],
    }
    if owner_kind == "ReplicaSet":
        labels["pod-template-hash"] = _marker("hash")
    elif owner_kind == "StatefulSet":
        labels["controller-revision-hash"] = f"{app.name}-{_marker('hash')}"
        labels["statefulset.kubernetes.io/pod-name"] = _marker("name")
    else:
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": _marker("owner_uid"),
                "batch.kubernetes.io/job-name": _marker("owner_name"),
                "controller-uid": _marker("owner_uid"),
                "job-name": _marker("owner_name"),
            }
        )
    metadata: dict[str, Any] = {
        "annotations": {
            "kubectl.kubernetes.io/restartedAt": _marker("created"),
            "prometheus.io/port": str(app.port),
            "prometheus.io/scrape": "true",
            "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        },
        "creationTimestamp": _marker("created"),
        "generateName": f"{_marker('owner_name')}-",
        "labels": labels,
        "managedFields": _managed_fields(app, containers, owner_manager),
        "name": _marker("name"),
        "namespace": _marker("namespace"),
        "ownerReferences": [
            {
                "apiVersion": "batch/v1" if owner_kind == "Job" else "apps/v1",
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": owner_kind,
                "name": _marker("owner_name"),
                "uid": _marker("owner_uid"),
            }
        ],
        "resourceVersion": _marker("rv"),
        "uid": _marker("uid"),
    }
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "OnFailure" if owner_kind == "Job" else "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": [
            {
                "name": f"kube-api-access-{_marker('vol')}",
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                "name": "kube-root-ca.crt",
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        ],
    }
    if owner_kind == "StatefulSet":
        spec["hostname"] = _marker("name")
        spec["subdomain"] = app.name
    if state == "pending":
        status: dict[str, Any] = {
            "conditions": [
                _condition(
                    "PodScheduled",
                    "False",
                    _marker("created"),
                    "Unschedulable",
                    "0/"
                    + _marker("nodes")
                    + " nodes are available: "
                    + _marker("nodes")
                    + " Insufficient cpu. preemption: 0/"
                    + _marker("nodes")
                    + " nodes are available: "
                    + _marker("nodes")
                    + " No preemption victims found for incoming pod.",
                )
            ],
            "phase": "Pending",
            "qosClass": _qos(app),
        }
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
    spec["nodeName"] = _marker("node")
    ready = state in ("running", "restarted")
    if state == "completed":
        conditions = [
            _condition("PodReadyToStartContainers", "False", _marker("finished")),
            _condition("Initialized", "True", _marker("created"), "PodCompleted"),
            _condition("Ready", "False", _marker("finished"), "PodCompleted"),
            _condition("ContainersReady", "False", _marker("finished"), "PodCompleted"),
            _condition("PodScheduled", "True", _marker("created")),
        ]
    else:
        not_ready = (
            None if ready else "ContainersNotReady",
            None if ready else f"containers with unready status: [{app.name}]",
        )
        conditions = [
            _condition("PodReadyToStartContainers", "True", _marker("created")),
            _condition("Initialized", "True", _marker("created")),
            _condition("Ready", "True" if ready else "False", _marker("ready_time"), *not_ready),
            _condition("ContainersReady", "True" if ready else "False", _marker("ready_time"), *not_ready),
            _condition("PodScheduled", "True", _marker("created")),
        ]
    status = {
        "conditions": conditions,
        "containerStatuses": [_container_status(c, i, state, app) for i, c in enumerate(containers)],
        "hostIP": _marker("host_ip"),
        "hostIPs": [{"ip": _marker("host_ip")}],
        "phase": "Succeeded" if state == "completed" else "Running",
        "podIP": _marker("pod_ip"),
        "podIPs": [{"ip": _marker("pod_ip")}],
        "qosClass": _qos(app),
        "startTime": _marker("created"),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


_INTEGER_KEYS = ("restarts",)
Renderer = Callable[[dict[str, str]], str]


def _compile_renderer(template: dict[str, Any], integer_keys: tuple[str, ...] = _INTEGER_KEYS) -> Renderer:
    """A function that fills the template's markers from a dict of strings and returns JSON text.

    The template (our own constants, never outside input) becomes one generated `"".join((...))` of
    literal chunks and `values[key]` lookups: about 5x faster than %-formatting the same text.
    """
    text = json.dumps(template, separators=(",", ":"))
    for key in integer_keys:  # numbers: drop the quotes around the marker
        text = text.replace(f'"{_marker(key)}"', _marker(key))
    parts = text.split("@@")  # literal, key, literal, key, ..., literal
    pieces = [
        repr(part) if index % 2 == 0 else f"values[{part!r}]" for index, part in enumerate(parts) if part
    ]
    namespace: dict[str, Any] = {}
    exec(f"def render(values):\n    return ''.join(({', '.join(pieces)},))\n", namespace)
    return namespace["render"]


_RENDERERS: dict[tuple[int, str], Renderer] = {}


def _renderer(app_index: int, state: str) -> Renderer:
    key = (app_index, state)
    if key not in _RENDERERS:
        _RENDERERS[key] = _compile_renderer(_pod_template(_APPS[app_index], state))
    return _RENDERERS[key]


# ------------------------------------------------------------------------------------------------
# owners: the controllers named by the pods' ownerReferences, built after the pods from what each pod
# recorded, so that the pods' bytes and random draws are the same as when no owners were generated

#: What admission and the scheduler add to each pod: never part of a controller's pod template.
_POD_ONLY_SPEC_FIELDS = frozenset(
    {
        "enableServiceLinks",
        "hostname",
        "nodeName",
        "preemptionPolicy",
        "priority",
        "serviceAccount",
        "serviceAccountName",
        "subdomain",
        "tolerations",
        "volumes",
    }
)
#: Labels a StatefulSet controller sets per pod, on top of its template's.
_STATEFULSET_POD_LABELS = ("controller-revision-hash", "statefulset.kubernetes.io/pod-name")
#: Labels the Job strategy adds to a Job's template (so a CronJob's jobTemplate has none of them).
_JOB_LABELS = (
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
)
_READY_STATES = frozenset({"running", "restarted"})
_OWNER_INTEGER_KEYS = ("generation", "replicas", "success_limit")
_OWNER_ORDER = ("Deployment", "ReplicaSet", "StatefulSet", "CronJob", "Job")


@dataclass(slots=True)
class _OwnedPods:
    """The pods of one owner, as far as the owner's spec and status must agree with them."""

    app_index: int
    namespace: str
    name: str
    uid: str
    hash: str
    first_created: int  # epoch seconds of the oldest pod
    states: list[str]
    first_values: dict[str, str]  # the first pod's placeholders: a Job's timestamps are its one pod's


def _app_labels(app: _App) -> dict[str, str]:
    """The labels a person writes on the workload itself."""
    return {
        "app": app.name,
        "app.kubernetes.io/name": app.name,
        "app.kubernetes.io/part-of": _marker("namespace"),
    }


def _controller_pod_template(app: _App, without_labels: tuple[str, ...] = ()) -> dict[str, Any]:
    """The `template` the pods were made from: their labels, annotations and spec, less what admission,
    the scheduler and the controller add per pod. Derived from the pod template so the two cannot drift."""
    pod = _pod_template(app, "running")
    dropped = set(without_labels) | (
        set(_STATEFULSET_POD_LABELS) if app.owner_kind == "StatefulSet" else set()
    )
    labels = {key: value for key, value in pod["metadata"]["labels"].items() if key not in dropped}
    # One value per template, where each pod carries its own: a restart (a new template) predates its pods.
    annotations = dict(
        pod["metadata"]["annotations"], **{"kubectl.kubernetes.io/restartedAt": _marker("restarted_at")}
    )
    spec = {key: value for key, value in pod["spec"].items() if key not in _POD_ONLY_SPEC_FIELDS}
    for container in spec["containers"]:
        mounts = [
            mount
            for mount in container.pop("volumeMounts", [])
            if not mount["name"].startswith("kube-api-access-")
        ]
        if mounts:
            container["volumeMounts"] = mounts
    return {"metadata": {"annotations": annotations, "labels": labels}, "spec": spec}


def _owner_metadata(**extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "creationTimestamp": _marker("created"),
        "generation": _marker("generation"),
        "name": _marker("owner_name"),
        "namespace": _marker("namespace"),
        "uid": _marker("owner_uid"),
    }  # resourceVersion: set when yielded, in yield order
    metadata.update(extra)
    return dict(sorted(metadata.items()))


def _controller_reference(api_version: str, kind: str, name: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": api_version,
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": kind,
            "name": name,
            "uid": _marker("parent_uid"),
        }
    ]


def _owner_template(app: _App, kind: str) -> dict[str, Any]:
    """Metadata and spec of one kind of owner of `app`'s pods; the status is built per object."""
    if kind == "Deployment":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": _owner_metadata(
                annotations={"deployment.kubernetes.io/revision": _marker("revision")},
                labels=_app_labels(app),
            ),
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": _marker("replicas"),
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": app.name}},
                "strategy": {
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    "type": "RollingUpdate",
                },
                "template": _controller_pod_template(app, ("pod-template-hash",)),
            },
        }
    if kind == "ReplicaSet":
        template = _controller_pod_template(app)
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": _owner_metadata(
                annotations={
                    "deployment.kubernetes.io/desired-replicas": _marker("replicas_text"),
                    "deployment.kubernetes.io/max-replicas": _marker("max_replicas"),
                    "deployment.kubernetes.io/revision": _marker("revision"),
                },
                labels=template["metadata"]["labels"],
                ownerReferences=_controller_reference("apps/v1", "Deployment", app.name),
            ),
            "spec": {
                "replicas": _marker("replicas"),
                "selector": {"matchLabels": {"app": app.name, "pod-template-hash": _marker("hash")}},
                "template": template,
            },
        }
    if kind == "StatefulSet":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": _owner_metadata(labels=_app_labels(app)),
            "spec": {
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "podManagementPolicy": "OrderedReady",
                "replicas": _marker("replicas"),
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": app.name}},
                "serviceName": app.name,  # the pods' subdomain
                "template": _controller_pod_template(app),
                "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
            },
        }
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": _owner_metadata(labels=_app_labels(app)),
            "spec": {
                "concurrencyPolicy": "Allow",
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {
                    "metadata": {"labels": _app_labels(app)},
                    "spec": {"backoffLimit": 6, "template": _controller_pod_template(app, _JOB_LABELS)},
                },
                "schedule": "*/15 * * * *",
                "successfulJobsHistoryLimit": _marker("success_limit"),
                "suspend": False,
            },
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _owner_metadata(
            annotations={"batch.kubernetes.io/job-tracking": ""},
            labels=_app_labels(app),
            ownerReferences=_controller_reference("batch/v1", "CronJob", app.name),
        ),
        "spec": {
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "completions": 1,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": _marker("owner_uid")}},
            "suspend": False,
            "template": _controller_pod_template(app),
        },
    }


_OWNER_RENDERERS: dict[tuple[int, str], Renderer] = {}


def _render_owner(app_index: int, kind: str, values: dict[str, str]) -> dict[str, Any]:
    key = (app_index, kind)
    if key not in _OWNER_RENDERERS:
        _OWNER_RENDERERS[key] = _compile_renderer(
            _owner_template(_APPS[app_index], kind), _OWNER_INTEGER_KEYS
        )
    obj: dict[str, Any] = orjson.loads(_OWNER_RENDERERS[key](values))
    return obj


def _owners(
    owned: Iterable[_OwnedPods],
    now_epoch: int,
    stamp: Callable[[int], str],
    rng: random.Random,
    first_rv: int,
) -> Iterator[dict[str, Any]]:
    """Deployments, ReplicaSets, StatefulSets, CronJobs and Jobs for the pods recorded in `owned`."""
    made: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _OWNER_ORDER}
    jobs_by_cronjob: dict[tuple[str, int], list[_OwnedPods]] = {}
    for pods in owned:
        app = _APPS[pods.app_index]
        if app.owner_kind == "Job":
            jobs_by_cronjob.setdefault((pods.namespace, pods.app_index), []).append(pods)
            continue
        replicas = len(pods.states)
        ready = sum(state in _READY_STATES for state in pods.states)
        created = pods.first_created - 5 - rng.getrandbits(6)
        values = {
            "namespace": pods.namespace,
            "owner_name": pods.name,
            "owner_uid": pods.uid,
            "hash": pods.hash,
            "created": stamp(created),
            "restarted_at": stamp(created),
            "replicas": str(replicas),
            "replicas_text": str(replicas),
            "max_replicas": str(replicas + math.ceil(replicas / 4)),  # maxSurge 25%
        }
        if app.owner_kind == "StatefulSet":
            generation = 1 + rng.getrandbits(2)
            controller_revision = f"{app.name}-{pods.hash}"  # the pods' controller-revision-hash label
            statefulset = _render_owner(
                pods.app_index, "StatefulSet", dict(values, generation=str(generation))
            )
            statefulset["status"] = {
                "availableReplicas": ready,
                "collisionCount": 0,
                "currentReplicas": replicas,
                "currentRevision": controller_revision,
                "observedGeneration": generation,
                **({"readyReplicas": ready} if ready else {}),
                "replicas": replicas,
                "updateRevision": controller_revision,
                "updatedReplicas": replicas,
            }
            made["StatefulSet"].append(statefulset)
            continue
        revision = 1 + rng.getrandbits(4)
        deployment_created = created if revision == 1 else created - 3_600 * (1 + rng.getrandbits(12))
        deployment_uid = _uid(rng)
        deployment_generation = revision + rng.getrandbits(2)
        values["revision"] = str(revision)
        replicaset = _render_owner(
            pods.app_index, "ReplicaSet", dict(values, generation="1", parent_uid=deployment_uid)
        )
        replicaset["status"] = {
            **({"availableReplicas": ready} if ready else {}),
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
            **({"readyReplicas": ready} if ready else {}),
            "replicas": replicas,
        }
        made["ReplicaSet"].append(replicaset)
        deployment = _render_owner(
            pods.app_index,
            "Deployment",
            dict(
                values,
                owner_name=app.name,
                owner_uid=deployment_uid,
                created=stamp(deployment_created),
                generation=str(deployment_generation),
            ),
        )
        available = ready >= replicas - replicas // 4  # maxUnavailable 25%
        rolled_out = stamp(created + 20)
        went_unavailable = stamp(max(created + 20, now_epoch - 300))
        deployment["status"] = {
            **({"availableReplicas": ready} if ready else {}),
            "conditions": [
                {
                    "lastTransitionTime": rolled_out if available else went_unavailable,
                    "lastUpdateTime": rolled_out if available else went_unavailable,
                    "message": f"Deployment {'has' if available else 'does not have'} minimum availability.",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "status": "True" if available else "False",
                    "type": "Available",
                },
                {
                    "lastTransitionTime": stamp(deployment_created + 10),
                    "lastUpdateTime": rolled_out,
                    "message": f'ReplicaSet "{pods.name}" has successfully progressed.',
                    "reason": "NewReplicaSetAvailable",
                    "status": "True",
                    "type": "Progressing",
                },
            ],
            "observedGeneration": deployment_generation,
            **({"readyReplicas": ready} if ready else {}),
            "replicas": replicas,
            **({"unavailableReplicas": replicas - ready} if replicas > ready else {}),
            "updatedReplicas": replicas,
        }
        made["Deployment"].append(deployment)

    for (namespace, app_index), jobs in jobs_by_cronjob.items():
        app = _APPS[app_index]
        cronjob_uid = _uid(rng)
        active: list[dict[str, Any]] = []
        succeeded = 0
        last_scheduled = last_succeeded = ""
        for pods in jobs:
            created = pods.first_created - 1
            values = {
                "namespace": namespace,
                "owner_name": pods.name,
                "owner_uid": pods.uid,
                "created": stamp(created),
                "restarted_at": pods.first_values["created"],
                "generation": "1",
                "parent_uid": cronjob_uid,
            }
            job = _render_owner(app_index, "Job", values)
            status: dict[str, Any] = {"ready": 0, "startTime": values["created"], "terminating": 0}
            if pods.states[0] == "completed":
                finished = pods.first_values["finished"]
                condition = {"lastProbeTime": finished, "lastTransitionTime": finished, "status": "True"}
                status.update(
                    completionTime=finished, conditions=[dict(condition, type="Complete")], succeeded=1
                )
                succeeded += 1
                last_succeeded = max(last_succeeded, finished)
            else:
                status["active"] = 1
                active.append(
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": pods.name,
                        "namespace": namespace,
                        "uid": pods.uid,
                    }
                )
            status["uncountedTerminatedPods"] = {}
            job["status"] = dict(sorted(status.items()))
            last_scheduled = max(last_scheduled, values["created"])
            made["Job"].append(job)
        created = min(pods.first_created for pods in jobs) - 86_400 * (1 + rng.getrandbits(6))
        cronjob = _render_owner(
            app_index,
            "CronJob",
            {
                "namespace": namespace,
                "owner_name": app.name,
                "owner_uid": cronjob_uid,
                "created": stamp(created),
                "restarted_at": stamp(created),
                "generation": str(1 + rng.getrandbits(2)),
                "success_limit": str(max(3, succeeded)),  # every succeeded Job is still kept
            },
        )
        cronjob["status"] = {
            **({"active": active} if active else {}),
            "lastScheduleTime": last_scheduled,
            **({"lastSuccessfulTime": last_succeeded} if last_succeeded else {}),
        }
        made["CronJob"].append(cronjob)

    rv = first_rv
    for kind in _OWNER_ORDER:
        for obj in made[kind]:
            rv += 1
            obj["metadata"]["resourceVersion"] = str(rv)
            yield obj


# ------------------------------------------------------------------------------------------------


def _namespaces(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    objects = []
    for index in range(count):
        word = _NAMESPACE_WORDS[index % len(_NAMESPACE_WORDS)]
        name = f"{word}-{index // len(_NAMESPACE_WORDS) + 1:02d}"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "creationTimestamp": _ts(now - timedelta(days=rng.randint(30, 400))),
                    "labels": {"kubernetes.io/metadata.name": name, "team": word},
                    "name": name,
                    "resourceVersion": str(10_000 + index),
                    "uid": _uid(rng),
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
    return objects


def _node(index: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    name = f"synthetic-node-{index:04d}"
    created = _ts(now - timedelta(days=rng.randint(1, 90), seconds=rng.randint(0, 86_399)))
    heartbeat = _ts(now - timedelta(seconds=rng.randint(1, 40)))
    ip = f"10.1.{index // 250}.{index % 250 + 4}"
    zone = f"zone-{'abc'[index % 3]}"
    conditions = [
        {
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": created,
            "message": message,
            "reason": reason,
            "status": status,
            "type": kind,
        }
        for kind, status, reason, message in (
            (
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        )
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "creationTimestamp": created,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m6i.2xlarge",
                "topology.kubernetes.io/region": "demo-region-1",
                "topology.kubernetes.io/zone": zone,
            },
            "name": name,
            "resourceVersion": str(20_000 + index),
            "uid": _uid(rng),
        },
        "spec": {
            "podCIDR": _node_cidr(index),
            "podCIDRs": [_node_cidr(index)],
            "providerID": f"synthetic://{zone}/{name}",
        },
        "status": {
            "addresses": [{"address": ip, "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
            "allocatable": {
                "cpu": "7910m",
                "ephemeral-storage": "95491281146",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": "31574668Ki",
                "pods": "110",
            },
            "capacity": {
                "cpu": "8",
                "ephemeral-storage": "104845292Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": "32574668Ki",
                "pods": "110",
            },
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": _uid(rng),
                "containerRuntimeVersion": "containerd://1.7.15",
                "kernelVersion": "6.1.0-21-amd64",
                "kubeProxyVersion": "v1.30.2",
                "kubeletVersion": "v1.30.2",
                "machineID": f"{rng.getrandbits(128):032x}",
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": _uid(rng),
            },
        },
    }


def _node_cidr(index: int) -> str:
    return f"10.{64 + index // 256}.{index % 256}.0/24"


def node_count(n_pods: int) -> int:
    """About one node per PODS_PER_NODE pods, at least one, at most MAX_NODES."""
    return max(1, min(MAX_NODES, math.ceil(n_pods / PODS_PER_NODE)))


def namespace_count(n_pods: int) -> int:
    return max(1, min(500, math.ceil(n_pods / 400)))


def synthetic_objects(n_pods: int, seed: int = 0, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Namespaces, then nodes, then `n_pods` pods, then their owners (see the module docstring).

    Python's cyclic garbage collector is paused while the generator runs (and restored when it ends or
    is closed): a caller that keeps 100,000 fresh pods would otherwise spend most of its time in
    collections that find nothing to free (see DESIGN.md on bulk parsing).
    """
    collector_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield from _generate(n_pods, seed, now)
    finally:
        if collector_was_enabled:
            gc.enable()


def _generate(n_pods: int, seed: int, now: datetime | None) -> Iterator[dict[str, Any]]:
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    namespaces = _namespaces(namespace_count(n_pods), now, rng)
    yield from namespaces
    nodes = node_count(n_pods)
    node_ips = []
    for index in range(nodes):
        node = _node(index, now, rng)
        node_ips.append((node["metadata"]["name"], node["status"]["addresses"][0]["address"]))
        yield node

    states = list(STATE_WEIGHTS)
    thresholds = []
    total = 0.0
    for state in states:
        total += STATE_WEIGHTS[state]
        thresholds.append(total / sum(STATE_WEIGHTS.values()))
    now_epoch = int(now.timestamp())
    day_prefixes: dict[int, str] = {}

    def stamp(epoch: int) -> str:
        """RFC 3339 in UTC; the date part is cached per day, strftime per call would dominate."""
        day, second = divmod(epoch, 86_400)
        prefix = day_prefixes.get(day)
        if prefix is None:
            prefix = day_prefixes[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")
        hour, rest = divmod(second, 3600)
        return f"{prefix}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"

    namespace_names = [ns["metadata"]["name"] for ns in namespaces]
    owner_uids: dict[tuple[str, int], tuple[str, str]] = {}
    owned_pods: dict[str, _OwnedPods] = {}  # by owner uid, in the order the owners first appear
    node_count_str = str(nodes)
    getrandbits, random_float = rng.getrandbits, rng.random
    for index in range(n_pods):
        namespace = namespace_names[index % len(namespace_names)]
        app_index = _APP_CYCLE[(index // len(namespace_names)) % len(_APP_CYCLE)]
        app = _APPS[app_index]
        roll = random_float()
        state = next(s for s, limit in zip(states, thresholds, strict=True) if roll <= limit)
        if app.owner_kind == "Job":
            state = "completed" if state in ("running", "restarted", "not_ready") else state
        elif state == "completed":
            state = "running"
        owner = owner_uids.get((namespace, app_index))
        if owner is None or app.owner_kind == "Job":
            owner_hash = _suffix(getrandbits(40), 10 if app.owner_kind == "ReplicaSet" else 8)
            owner = (owner_hash, _uid(rng))
            owner_uids[(namespace, app_index)] = owner
        owner_hash, owner_uid = owner
        if app.owner_kind == "ReplicaSet":
            owner_name = f"{app.name}-{owner_hash}"
            name = f"{owner_name}-{_unique_suffix(index)}"
        elif app.owner_kind == "StatefulSet":
            owner_name = app.name
            name = f"{app.name}-{index}"
        else:
            owner_name = f"{app.name}-{29_000_000 + index}"
            name = f"{owner_name}-{_unique_suffix(index)}"
        age = 300 + getrandbits(22)  # up to ~48 days
        created = now_epoch - age
        started = created + 3 + getrandbits(4)
        node_index = index % nodes
        node_name, host_ip = node_ips[node_index]
        slot = index // nodes
        cidr = _node_cidr(node_index)
        pod_ip = f"{cidr.rsplit('.', 1)[0]}.{slot % 253 + 2}"
        restarts = 0
        last_started = last_finished = started
        if state == "crashloop":
            restarts = 6 + getrandbits(5)
            last_started = now_epoch - 60 - getrandbits(8)
            last_finished = last_started + 2
            started = created + 3
        elif state == "restarted":
            restarts = 1 + getrandbits(2)
            last_finished = max(created + 10, now_epoch - 600 - getrandbits(16) % max(1, age - 700))
            last_started = max(created + 3, last_finished - 3600 * (1 + getrandbits(3)))
            started = last_finished + 1
        values = {
            "name": name,
            "namespace": namespace,
            "uid": _uid(rng),
            "rv": str(1_000_000 + index),
            "created": stamp(created),
            "started": stamp(started),
            "ready_time": stamp(started + 5),
            "status_time": stamp(max(started + 5, last_finished + 1)),
            "finished": stamp(min(started + 60 + getrandbits(9), now_epoch)),
            "node": node_name,
            "host_ip": host_ip,
            "pod_ip": pod_ip,
            "nodes": node_count_str,
            "owner_name": owner_name,
            "owner_uid": owner_uid,
            "hash": owner_hash,
            "vol": _suffix(getrandbits(25), 5),
            "restarts": str(restarts),
            "last_started": stamp(last_started),
            "last_finished": stamp(last_finished),
            "cid0": f"{getrandbits(256):064x}",
            "cid1": f"{getrandbits(256):064x}",
            "last_cid": f"{getrandbits(256):064x}",
            "digest0": _DIGESTS[app_index],
            "digest1": _DIGESTS[-1],
        }
        yield orjson.loads(_renderer(app_index, state)(values))
        pods = owned_pods.get(owner_uid)
        if pods is None:
            pods = owned_pods[owner_uid] = _OwnedPods(
                app_index, namespace, owner_name, owner_uid, owner_hash, created, [], values
            )
        elif created < pods.first_created:
            pods.first_created = created
        pods.states.append(state)
    yield from _owners(owned_pods.values(), now_epoch, stamp, rng, 1_000_000 + n_pods)


_DIGESTS = [f"{random.Random(app.image).getrandbits(256):064x}" for app in _APPS] + [
    f"{random.Random('envoy').getrandbits(256):064x}"
]
