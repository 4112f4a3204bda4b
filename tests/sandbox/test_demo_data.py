"""The demo cluster (sandbox/cluster/*.yaml) is what a real v1.30 cluster would return: every object
validates against the Kubernetes OpenAPI schema and deserializes with the official client, references
resolve, selectors match, and the trouble cases KAMS must find are really there. Also the usage model
that metrics.k8s.io and the exporter share."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from kubernetes import client
from kubernetes_validate.utils import SchemaNotFoundError

from k8sdata.security.predicates import selector_matches
from sandbox import demo_names, usage
from sandbox.cluster_loader import (
    CVE_DATE_FIELDS,
    DEMO_ANCHOR,
    SCHEDULED_ANNOTATION,
    VULNERABILITY_REPORT_KINDS,
    load_demo_objects,
)

#: The newest schema kubernetes-validate ships that is not newer than the demo's kubelet v1.30.
KUBERNETES_VERSION = "1.30"
CRD_KINDS = {"VulnerabilityReport", "ClusterVulnerabilityReport"}
CLUSTER_SCOPED = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "ClusterVulnerabilityReport"}
NOW = DEMO_ANCHOR + timedelta(days=3, hours=5)


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return load_demo_objects(NOW)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def find(objects: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    matches = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name
               and obj["metadata"].get("namespace") == namespace]
    assert len(matches) == 1, f"{kind} {namespace}/{name}: {len(matches)} found"
    return matches[0]


def pod(objects: list[dict[str, Any]], ref: demo_names.DemoPod) -> dict[str, Any]:
    return find(objects, "Pod", ref.pod, ref.namespace)


def container_status(pod_obj: dict[str, Any], container: str) -> dict[str, Any]:
    return next(s for s in pod_obj["status"]["containerStatuses"] if s["name"] == container)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------------------
# fidelity


def test_every_builtin_object_validates_against_the_openapi_schema(objects: list[dict[str, Any]]) -> None:
    errors, unknown = [], set()
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except SchemaNotFoundError:
            unknown.add(obj["kind"])
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}: "
                          f"{path}: {error.message}")
    assert not errors, "\n".join(errors)
    assert unknown == CRD_KINDS  # only the Trivy CRDs are outside the built-in schemas


def test_strict_validation_would_catch_a_misspelt_field() -> None:
    wrong = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
             "spec": {"containers": [{"name": "x", "image": "nginx", "imagePullPolicey": "Always"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSION, strict=True)


# The parts of Trivy Operator's VulnerabilityReport (aquasecurity.github.io/v1alpha1) KAMS reads.
VULNERABILITY_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "report"],
    "properties": {
        "apiVersion": {"const": "aquasecurity.github.io/v1alpha1"},
        "kind": {"const": "VulnerabilityReport"},
        "metadata": {"type": "object", "required": ["name", "namespace", "uid", "labels", "ownerReferences"]},
        "report": {
            "type": "object",
            "required": ["artifact", "registry", "scanner", "summary", "updateTimestamp", "vulnerabilities"],
            "additionalProperties": False,
            "properties": {
                "artifact": {"type": "object", "required": ["repository"], "additionalProperties": False,
                             "properties": {"repository": {"type": "string"}, "tag": {"type": "string"},
                                            "digest": {"type": "string",
                                                       "pattern": "^sha256:[0-9a-f]{64}$"}}},
                "os": {"type": "object",
                       "properties": {"family": {"type": "string"}, "name": {"type": "string"}}},
                "registry": {"type": "object", "required": ["server"],
                             "properties": {"server": {"type": "string"}}},
                "scanner": {"type": "object", "required": ["name", "vendor", "version"]},
                "summary": {"type": "object", "additionalProperties": False,
                            "required": ["criticalCount", "highCount", "mediumCount", "lowCount",
                                         "unknownCount"],
                            "properties": {key: {"type": "integer", "minimum": 0} for key in (
                                "criticalCount", "highCount", "mediumCount", "lowCount", "unknownCount",
                                "noneCount")}},
                "updateTimestamp": {"type": "string"},
                "vulnerabilities": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["vulnerabilityID", "resource", "installedVersion", "fixedVersion",
                                 "severity",
                                 "title", "primaryLink"],
                    "properties": {
                        "vulnerabilityID": {"type": "string", "pattern": "^CVE-\\d{4}-\\d{4,}$"},
                        "resource": {"type": "string"}, "installedVersion": {"type": "string"},
                        "fixedVersion": {"type": "string"},
                        "severity": {"enum": ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]},
                        "score": {"type": "number"}, "title": {"type": "string"},
                        "primaryLink": {"type": "string", "pattern": "^https://"},
                        "links": {"type": "array"}, "target": {"type": "string"},
                        "publishedDate": {"type": "string"}, "lastModifiedDate": {"type": "string"}}}},
            },
        },
    },
}


def test_vulnerability_reports_have_trivy_operators_shape(objects: list[dict[str, Any]]) -> None:
    reports = by_kind(objects, "VulnerabilityReport")
    assert reports
    for report in reports:
        jsonschema.validate(report, VULNERABILITY_REPORT_SCHEMA)
        severities = Counter(v["severity"] for v in report["report"]["vulnerabilities"])
        summary = report["report"]["summary"]
        for severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"):
            assert summary[f"{severity.lower()}Count"] == severities[severity], report["metadata"]["name"]
        labels = report["metadata"]["labels"]
        owner = find(objects, labels["trivy-operator.resource.kind"], labels["trivy-operator.resource.name"],
                     labels["trivy-operator.resource.namespace"])
        assert report["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
        containers = {c["name"]: c["image"] for c in owner["spec"]["template"]["spec"]["containers"]}
        image = containers[labels["trivy-operator.container.name"]]
        artifact = report["report"]["artifact"]
        assert image.endswith(f"{artifact['repository']}:{artifact['tag']}")


class _Response:
    """What ApiClient.deserialize reads from an HTTP response: `.data`."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


def _client_type(kind: str) -> str:
    return "CoreV1Event" if kind == "Event" else f"V1{kind}"


def _lost_fields(original: Any, round_trip: Any, path: str = "") -> list[str]:
    """Fields with a value that the client model dropped (it keeps only the fields it knows)."""
    lost: list[str] = []
    if isinstance(original, dict):
        for key, value in original.items():
            if value is None:
                continue
            if not isinstance(round_trip, dict) or key not in round_trip:
                lost.append(f"{path}.{key}")
            else:
                lost += _lost_fields(value, round_trip[key], f"{path}.{key}")
    elif isinstance(original, list):
        for index, (left, right) in enumerate(zip(original, round_trip or [], strict=False)):
            lost += _lost_fields(left, right, f"{path}[{index}]")
    return lost


def test_every_builtin_object_deserializes_with_the_official_client(objects: list[dict[str, Any]]) -> None:
    api = client.ApiClient()
    problems = []
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        model = api.deserialize(_Response(obj), _client_type(obj["kind"]))
        assert type(model).__name__ == _client_type(obj["kind"])
        assert model.metadata.name == obj["metadata"]["name"]
        round_trip = api.sanitize_for_serialization(model)
        problems += [f"{obj['kind']} {obj['metadata']['name']}: "
                     f"{field}" for field in _lost_fields(obj, round_trip)]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------
# consistency


def test_names_uids_and_resource_versions_are_unique(objects: list[dict[str, Any]]) -> None:
    keys = Counter((o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else "", o["kind"],
                    o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects)
    assert [key for key, count in keys.items() if count > 1] == []
    uids = Counter(o["metadata"]["uid"] for o in objects)
    assert [uid for uid, count in uids.items() if count > 1] == []
    versions = Counter(o["metadata"]["resourceVersion"] for o in objects)
    assert [rv for rv, count in versions.items() if count > 1] == []
    assert all(o["metadata"]["resourceVersion"].isdigit() for o in objects)


def test_namespaced_objects_live_in_namespaces_that_exist(objects: list[dict[str, Any]]) -> None:
    namespaces = {ns["metadata"]["name"] for ns in by_kind(objects, "Namespace")}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "shop", "kams", "monitoring",
            "legacy"} <= namespaces
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], obj["metadata"]["name"]
        else:
            assert obj["metadata"]["namespace"] in namespaces, obj["metadata"]["name"]
    for namespace in namespaces:  # what kube-controller-manager creates in every namespace
        find(objects, "ServiceAccount", "default", namespace)
        find(objects, "ConfigMap", "kube-root-ca.crt", namespace)


def test_owner_references_point_at_objects_that_exist(objects: list[dict[str, Any]]) -> None:
    by_uid = {o["metadata"]["uid"]: o for o in objects}
    checked = 0
    for obj in objects:
        for owner in obj["metadata"].get("ownerReferences", []):
            target = by_uid.get(owner["uid"])
            assert target is not None, f"{obj['kind']} {obj['metadata']['name']} -> {owner}"
            assert (target["kind"], target["metadata"]["name"], target["apiVersion"]) == (
                owner["kind"], owner["name"], owner["apiVersion"])
            if target["kind"] not in CLUSTER_SCOPED:
                assert target["metadata"]["namespace"] == obj["metadata"]["namespace"]
            checked += 1
    assert checked > 30


def test_every_pod_but_static_ones_has_a_controller(objects: list[dict[str, Any]]) -> None:
    for pod_obj in by_kind(objects, "Pod"):
        owners = pod_obj["metadata"].get("ownerReferences", [])
        assert len([o for o in owners if o.get("controller")]) == 1, pod_obj["metadata"]["name"]
        if owners[0]["kind"] == "Node":  # mirror pod of a static manifest
            assert pod_obj["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
            assert pod_obj["metadata"]["name"].endswith(owners[0]["name"])


def test_event_involved_objects_exist(objects: list[dict[str, Any]]) -> None:
    events = by_kind(objects, "Event")
    assert len(events) > 20
    for event in events:
        involved = event["involvedObject"]
        target = find(objects, involved["kind"], involved["name"], involved.get("namespace"))
        if involved["kind"] == "Node":  # the kubelet and node-problem-detector use the node name as uid
            assert involved["uid"] == involved["name"]
            assert event["metadata"]["namespace"] == "default"
        else:
            assert involved["uid"] == target["metadata"]["uid"]
            assert event["metadata"]["namespace"] == involved["namespace"]
        assert parse(event["firstTimestamp"]) <= parse(event["lastTimestamp"]) <= NOW
        assert event["count"] >= 1 and event["type"] in ("Normal", "Warning")
        assert event["source"]["component"] == event["reportingComponent"]
        if "fieldPath" in involved:
            container = re.fullmatch(r"spec\.containers\{(.+)\}", involved["fieldPath"]).group(1)
            assert container in {c["name"] for c in target["spec"]["containers"]}
    reasons = {(e["type"], e["reason"]) for e in events}
    assert {("Warning", "BackOff"), ("Warning", "Unhealthy"), ("Warning", "FailedScheduling"),
            ("Warning", "OOMKilling"), ("Normal", "Scheduled"), ("Normal", "Pulled"), ("Normal", "Created"),
            ("Normal", "Started"), ("Normal", "ScalingReplicaSet")} <= reasons


def test_workload_selectors_match_their_templates_and_pods(objects: list[dict[str, Any]]) -> None:
    pods = by_kind(objects, "Pod")
    for kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        for workload in by_kind(objects, kind):
            selector = workload["spec"]["selector"]
            template_labels = workload["spec"]["template"]["metadata"]["labels"]
            assert selector_matches(selector, template_labels), workload["metadata"]
            if kind == "Deployment":
                continue
            owned = [p for p in pods if any(o["uid"] == workload["metadata"]["uid"]
                                            for o in p["metadata"].get("ownerReferences", []))]
            assert all(selector_matches(selector, p["metadata"]["labels"]) for p in owned)
            if kind == "ReplicaSet":
                assert len(owned) == workload["spec"]["replicas"] == workload["status"]["replicas"]
                template_hash = workload["metadata"]["labels"]["pod-template-hash"]
                assert workload["metadata"]["name"].endswith(template_hash)
                prefix = workload["metadata"]["name"] + "-"
                assert all(p["metadata"]["name"].startswith(prefix) for p in owned)
            if kind == "DaemonSet":
                assert sorted(p["spec"]["nodeName"] for p in owned) == sorted(demo_names.NODES)
                assert workload["status"]["desiredNumberScheduled"] == len(owned)
            if kind == "StatefulSet":
                assert [p["metadata"]["name"] for p in owned] == [f"{workload['metadata']['name']}-0"]
            if kind == "Job":
                assert len(owned) == workload["status"]["succeeded"]


def test_deployment_status_agrees_with_its_pods(objects: list[dict[str, Any]]) -> None:
    pods = by_kind(objects, "Pod")
    replica_sets = by_kind(objects, "ReplicaSet")
    for deployment in by_kind(objects, "Deployment"):
        own_sets = [rs for rs in replica_sets if rs["metadata"]["ownerReferences"][0]["uid"]
                    == deployment["metadata"]["uid"]]
        assert own_sets, deployment["metadata"]["name"]
        set_uids = {rs["metadata"]["uid"] for rs in own_sets}
        own_pods = [p for p in pods if p["metadata"]["ownerReferences"][0]["uid"] in set_uids]
        ready = [p for p in own_pods if any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in p["status"]["conditions"])]
        assert deployment["status"]["replicas"] == len(own_pods)
        assert deployment["status"].get("readyReplicas", 0) == len(ready), deployment["metadata"]["name"]
        revision = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        current = [rs for rs in own_sets if rs["spec"]["replicas"] > 0]
        revisions = [rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in current]
        assert revisions == [revision]


def test_services_select_pods_and_endpoints_list_them(objects: list[dict[str, Any]]) -> None:
    pods = by_kind(objects, "Pod")
    for service in by_kind(objects, "Service"):
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        endpoints = find(objects, "Endpoints", name, namespace)
        selector = service["spec"].get("selector")
        if not selector:  # default/kubernetes: endpoints maintained by the API server itself
            continue
        selected = {p["metadata"]["name"] for p in pods if p["metadata"]["namespace"] == namespace
                    and selector_matches({"matchLabels": selector}, p["metadata"]["labels"])
                    and p["status"]["phase"] == "Running"}
        assert selected, f"service {namespace}/{name} selects no pod"
        listed = {address["targetRef"]["name"] for subset in endpoints["subsets"]
                  for key in ("addresses", "notReadyAddresses") for address in subset.get(key, [])}
        assert listed == selected


def test_pods_refer_to_accounts_config_maps_and_secrets_that_exist(objects: list[dict[str, Any]]) -> None:
    def exists(kind: str, namespace: str, name: str) -> bool:
        return any(o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
                   for o in by_kind(objects, kind))

    checked = 0
    for pod_obj in by_kind(objects, "Pod"):
        namespace = pod_obj["metadata"]["namespace"]
        if "kubernetes.io/config.mirror" in (pod_obj["metadata"].get("annotations") or {}):
            # A static pod's mirror may not name a ServiceAccount: the API server refuses it.
            assert "serviceAccountName" not in pod_obj["spec"]
        else:
            assert exists("ServiceAccount", namespace, pod_obj["spec"]["serviceAccountName"])
        for volume in pod_obj["spec"].get("volumes", []):
            sources = [volume] + [source for source in (volume.get("projected") or {}).get("sources", [])]
            for source in sources:
                if "configMap" in source:
                    assert exists("ConfigMap", namespace, source["configMap"]["name"]), volume
                    checked += 1
                if "secret" in source:
                    assert exists("Secret", namespace, source["secret"]["secretName"]), volume
                    checked += 1
        for container in pod_obj["spec"]["containers"]:
            for env in container.get("env", []):
                reference = (env.get("valueFrom") or {}).get("secretKeyRef")
                if reference:
                    secret = find(objects, "Secret", reference["name"], namespace)
                    assert reference["key"] in secret["data"]
                    checked += 1
    assert checked > 20


def test_ingresses_and_network_policies_point_at_real_things(objects: list[dict[str, Any]]) -> None:
    for ingress in by_kind(objects, "Ingress"):
        namespace = ingress["metadata"]["namespace"]
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = find(objects, "Service", backend["name"], namespace)
                port_names = {p.get("name") for p in service["spec"]["ports"]}
                port_numbers = {p["port"] for p in service["spec"]["ports"]}
                port = backend["port"]
                assert port.get("name") in port_names or port.get("number") in port_numbers
        for tls in ingress["spec"].get("tls", []):
            assert find(objects, "Secret", tls["secretName"], namespace)["type"] == "kubernetes.io/tls"
    pods = by_kind(objects, "Pod")
    for policy in by_kind(objects, "NetworkPolicy"):
        namespace = policy["metadata"]["namespace"]
        selected = [p for p in pods if p["metadata"]["namespace"] == namespace
                    and selector_matches(policy["spec"]["podSelector"], p["metadata"]["labels"])]
        assert selected, f"NetworkPolicy {namespace}/{policy['metadata']['name']} selects no pod"


def test_pod_networking_is_consistent_with_the_nodes(objects: list[dict[str, Any]]) -> None:
    nodes = {n["metadata"]["name"]: n for n in by_kind(objects, "Node")}
    assert tuple(nodes) == demo_names.NODES
    pod_ips = Counter()
    for pod_obj in by_kind(objects, "Pod"):
        node_name = pod_obj["spec"].get("nodeName")
        if node_name is None:
            assert pod_obj["status"]["phase"] == "Pending"
            continue
        node = nodes[node_name]
        internal_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        assert pod_obj["status"]["hostIP"] == internal_ip
        pod_ip = pod_obj["status"]["podIP"]
        if pod_obj["spec"].get("hostNetwork"):
            assert pod_ip == internal_ip
        else:
            assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(node["spec"]["podCIDR"])
            pod_ips[pod_ip] += 1
    assert max(pod_ips.values()) == 1


def _qos(pod_obj: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in pod_obj["spec"]["containers"]]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                return "Burstable"
    return "Guaranteed"


def test_container_statuses_look_like_containerd(objects: list[dict[str, Any]]) -> None:
    for pod_obj in by_kind(objects, "Pod"):
        assert pod_obj["status"]["qosClass"] == _qos(pod_obj), pod_obj["metadata"]["name"]
        if pod_obj["status"]["phase"] == "Pending":
            assert "containerStatuses" not in pod_obj["status"]
            continue
        specs = {c["name"]: c for c in pod_obj["spec"]["containers"]}
        statuses = pod_obj["status"]["containerStatuses"]
        assert sorted(s["name"] for s in statuses) == sorted(specs)
        for status in statuses:
            assert re.fullmatch(r"containerd://[0-9a-f]{64}", status["containerID"])
            assert re.fullmatch(r"[a-z0-9.\-/]+@sha256:[0-9a-f]{64}", status["imageID"]), status["imageID"]
            assert status["image"] == specs[status["name"]]["image"]
            assert len(status["state"]) == 1
            run = status["state"].get("running") or status["state"].get("terminated") or {}
            started = run.get("startedAt")
            if started:
                assert parse(pod_obj["metadata"]["creationTimestamp"]) <= parse(started) <= NOW


# ------------------------------------------------------------------------------------------------
# what the demo promises


def test_the_two_applications_from_the_paper(objects: list[dict[str, Any]]) -> None:
    assert {app.app for app in demo_names.SAMPLE_APPS} == {"web", "api"}
    for app in demo_names.SAMPLE_APPS:
        pod_obj = find(objects, "Pod", app.pod, app.namespace)
        labels = pod_obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == labels["app"] == app.app
        assert [c["name"] for c in pod_obj["spec"]["containers"]] == [app.container]
        assert pod_obj["status"]["phase"] == "Running"
        assert container_status(pod_obj, app.container)["ready"] is True
        find(objects, "Deployment", app.deployment, app.namespace)
        find(objects, "Service", app.app, app.namespace)
    ingress = find(objects, "Ingress", "shop", demo_names.APP_NAMESPACE)
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"web", "api"}


def test_kams_runs_as_its_read_only_service_account(objects: list[dict[str, Any]]) -> None:
    kams_pod = pod(objects, demo_names.KAMS_POD)
    assert kams_pod["spec"]["serviceAccountName"] == demo_names.KAMS_SERVICE_ACCOUNT
    find(objects, "ServiceAccount", demo_names.KAMS_SERVICE_ACCOUNT, demo_names.KAMS_NAMESPACE)
    binding = find(objects, "ClusterRoleBinding", "kams-reader")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": demo_names.KAMS_SERVICE_ACCOUNT,
                                    "namespace": demo_names.KAMS_NAMESPACE}]
    role = find(objects, "ClusterRole", binding["roleRef"]["name"])
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}
    for rule in role["rules"]:
        assert set(rule["verbs"]) == {"get", "list", "watch"}
        assert "*" not in rule["apiGroups"] + rule["resources"]
    assert ("", "secrets") not in granted
    needed = {("", r) for r in ("pods", "pods/log", "events", "nodes", "namespaces", "services", "endpoints",
                                "configmaps", "serviceaccounts")}
    needed |= {("apps", r) for r in ("deployments", "replicasets", "statefulsets", "daemonsets")}
    needed |= {("batch", "jobs"), ("batch", "cronjobs"), ("networking.k8s.io", "networkpolicies"),
               ("networking.k8s.io", "ingresses"), ("metrics.k8s.io", "pods"), ("metrics.k8s.io", "nodes"),
               ("aquasecurity.github.io", "vulnerabilityreports")}
    needed |= {("rbac.authorization.k8s.io", r) for r in ("roles", "rolebindings", "clusterroles",
                                                          "clusterrolebindings")}
    assert needed <= granted
    admin = find(objects, "ClusterRoleBinding", "cluster-admin")
    assert admin["subjects"][0]["name"] == "system:masters"
    assert find(objects, "ClusterRole", "cluster-admin")["rules"][0] == {
        "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}


def test_kube_system_and_monitoring(objects: list[dict[str, Any]]) -> None:
    kube_system = [p for p in by_kind(objects, "Pod") if p["metadata"]["namespace"] == "kube-system"]
    prefixes = Counter(p["metadata"]["name"].rsplit("-", 2)[0] if p["metadata"]["name"].startswith("coredns")
                       else p["metadata"]["name"].rsplit("-", 1)[0] for p in kube_system)
    assert prefixes["coredns"] == 2 and prefixes["kube-proxy"] == 3
    control_plane = demo_names.NODES[0]
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        static = find(objects, "Pod", f"{component}-{control_plane}", "kube-system")
        assert static["metadata"]["ownerReferences"][0]["kind"] == "Node"
        assert static["spec"]["nodeName"] == control_plane
    assert any(p["metadata"]["name"].startswith("metrics-server-") for p in kube_system)
    find(objects, "Pod", "prometheus-0", "monitoring")
    assert find(objects, "DaemonSet", "node-exporter", "monitoring")["status"]["numberReady"] == 3
    node = find(objects, "Node", control_plane)
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.30.")
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_trouble_crash_loop(objects: list[dict[str, Any]]) -> None:
    status = container_status(pod(objects, demo_names.CRASHLOOP_POD), demo_names.CRASHLOOP_POD.container)
    assert status["restartCount"] > 5
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["ready"] is False


def test_trouble_pending_pod_and_its_failed_scheduling_event(objects: list[dict[str, Any]]) -> None:
    pending = pod(objects, demo_names.PENDING_POD)
    assert pending["status"]["phase"] == "Pending"
    scheduled = next(c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    uid = pending["metadata"]["uid"]
    events = [e for e in by_kind(objects, "Event") if e["involvedObject"]["uid"] == uid]
    failed = [e for e in events if e["reason"] == "FailedScheduling"]
    assert failed and failed[0]["type"] == "Warning"
    assert failed[0]["message"].startswith("0/3 nodes are available: 3 Insufficient memory")
    # and it is true: no node can fit the request
    wanted = usage.quantity_bytes(pending["spec"]["containers"][0]["resources"]["requests"]["memory"])
    for node in by_kind(objects, "Node"):
        assert usage.quantity_bytes(node["status"]["allocatable"]["memory"]) < wanted


def test_trouble_oom_killed_restart(objects: list[dict[str, Any]]) -> None:
    oom = pod(objects, demo_names.OOMKILLED_POD)
    status = container_status(oom, demo_names.OOMKILLED_POD.container)
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert "running" in status["state"] and status["restartCount"] >= 1
    assert oom["status"]["phase"] == "Running"


def test_trouble_insecure_legacy_workload(objects: list[dict[str, Any]]) -> None:
    insecure = pod(objects, demo_names.INSECURE_POD)
    container = insecure["spec"]["containers"][0]
    assert container["securityContext"]["privileged"] is True
    assert container["securityContext"]["runAsUser"] == 0
    assert container["image"].endswith(":latest")
    assert not container.get("resources")
    assert any("hostPath" in volume for volume in insecure["spec"]["volumes"])
    assert insecure["spec"]["hostNetwork"] is True
    assert insecure["status"]["qosClass"] == "BestEffort"


def test_trouble_rbac_network_policies_vulnerabilities_and_secrets(objects: list[dict[str, Any]]) -> None:
    namespace, name = demo_names.OVERPRIVILEGED_ROLEBINDING
    binding = find(objects, "RoleBinding", name, namespace)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "cluster-admin"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "default", "namespace": "legacy"}]

    covered = {p["metadata"]["namespace"] for p in by_kind(objects, "NetworkPolicy")}
    assert set(demo_names.NAMESPACES_WITH_NETWORK_POLICIES) <= covered
    assert not covered & set(demo_names.NAMESPACES_WITHOUT_NETWORK_POLICIES)

    reports = {r["metadata"]["namespace"] + "/" + r["metadata"]["labels"]["trivy-operator.container.name"]:
               r["report"]["summary"] for r in by_kind(objects, "VulnerabilityReport")}
    assert reports["legacy/portal"]["criticalCount"] >= 3
    assert reports["shop/web"]["criticalCount"] == 0 and reports["shop/web"]["mediumCount"] >= 2

    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in by_kind(objects, "Secret")}
    assert {"default", "legacy"} <= {namespace for namespace, _ in secrets}


def test_batch_workloads(objects: list[dict[str, Any]]) -> None:
    completed = pod(objects, demo_names.COMPLETED_POD)
    assert completed["status"]["phase"] == "Succeeded"
    terminated = container_status(completed, demo_names.COMPLETED_POD.container)["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Completed", 0)
    job = find(objects, "Job", completed["metadata"]["ownerReferences"][0]["name"], "batch")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    # Kubernetes 1.33+ sets SuccessCriteriaMet before Complete, and the API server refuses Complete alone.
    assert [c["type"] for c in job["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert by_kind(objects, "StatefulSet")


def test_loading_shifts_every_timestamp_to_the_requested_now() -> None:
    later = DEMO_ANCHOR + timedelta(days=40)
    at_anchor, shifted = load_demo_objects(DEMO_ANCHOR), load_demo_objects(later)
    for before, after in zip(at_anchor, shifted, strict=True):
        created_before = parse(before["metadata"]["creationTimestamp"])
        assert parse(after["metadata"]["creationTimestamp"]) - created_before == timedelta(days=40)
        assert created_before <= DEMO_ANCHOR


def _timestamps(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [found for item in value.values() for found in _timestamps(item)]
    if isinstance(value, list):
        return [found for item in value for found in _timestamps(item)]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value):
        return [value]
    return []


def _without_cve_dates(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its CVE dates (the loader keeps them as written: facts about the CVE)."""
    if obj["kind"] not in VULNERABILITY_REPORT_KINDS:
        return obj
    vulnerabilities = [{key: value for key, value in vulnerability.items() if key not in CVE_DATE_FIELDS}
                       for vulnerability in obj["report"]["vulnerabilities"]]
    return {**obj, "report": {**obj["report"], "vulnerabilities": vulnerabilities}}


def test_nothing_happens_after_the_anchor_or_before_the_cluster() -> None:
    """Every timestamp is shifted at load, so each must be a moment of the cluster's own past; CVE dates
    are the exception (test_cve_dates_are_the_real_ones_and_never_shifted)."""
    objects = load_demo_objects(DEMO_ANCHOR)
    nodes = [parse(n["metadata"]["creationTimestamp"]) for n in by_kind(objects, "Node")]
    for obj in objects:
        for stamp in _timestamps(_without_cve_dates(obj)):
            where = (obj["kind"], obj["metadata"]["name"], stamp)
            assert min(nodes) - timedelta(hours=1) <= parse(stamp) <= DEMO_ANCHOR, where


#: NVD's publication dates of some of the demo's CVEs (nvd.nist.gov), to check the loader keeps them.
KNOWN_PUBLICATION_DAYS = {"CVE-2021-44228": "2021-12-10", "CVE-2011-3374": "2019-11-26",
                          "CVE-2023-44487": "2023-10-10", "CVE-2022-37434": "2022-08-05"}


def test_cve_dates_are_the_real_ones_and_never_shifted() -> None:
    later = DEMO_ANCHOR + timedelta(days=400)
    for moment in (DEMO_ANCHOR, later):
        reports = by_kind(load_demo_objects(moment), "VulnerabilityReport")
        checked = 0
        for report in reports:
            scanned = parse(report["report"]["updateTimestamp"])
            for vulnerability in report["report"]["vulnerabilities"]:
                published = parse(vulnerability["publishedDate"])
                modified = parse(vulnerability["lastModifiedDate"])
                # known before the scan found it (whenever the demo runs), and never in the CVE's future
                assert published <= modified <= scanned - (moment - DEMO_ANCHOR), vulnerability
                assert int(vulnerability["vulnerabilityID"][4:8]) <= published.year
                day = KNOWN_PUBLICATION_DAYS.get(vulnerability["vulnerabilityID"])
                if day:
                    assert vulnerability["publishedDate"].startswith(day)
                    checked += 1
        assert checked >= len(KNOWN_PUBLICATION_DAYS)
        assert parse(reports[0]["report"]["updateTimestamp"]) > moment - timedelta(days=1)  # this was shifted


def test_cronjob_jobs_are_named_after_their_shifted_schedule_time() -> None:
    """The CronJob controller names a Job <cronjob>-<scheduled Unix time in minutes> (kubernetes
    pkg/controller/cronjob getJobName); after shifting, the loader renames it and what points at it."""
    for moment in (DEMO_ANCHOR, NOW, DEMO_ANCHOR + timedelta(days=365, seconds=37)):
        objects = load_demo_objects(moment)
        jobs = [job for job in by_kind(objects, "Job")
                if job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"]
        assert jobs
        for job in jobs:
            scheduled = parse(job["metadata"]["annotations"][SCHEDULED_ANNOTATION])
            name = job["metadata"]["name"]
            cronjob = job["metadata"]["ownerReferences"][0]["name"]
            assert name == f"{cronjob}-{int(scheduled.timestamp()) // 60}"
            assert scheduled - moment == parse("2026-01-01T02:00:00Z") - DEMO_ANCHOR  # shifted like the rest
            for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
                assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == name
            pods = [p for p in by_kind(objects, "Pod") if p["metadata"]["ownerReferences"][0]["uid"]
                    == job["metadata"]["uid"]]
            assert pods and all(p["metadata"]["ownerReferences"][0]["name"] == name
                                and p["metadata"]["labels"]["job-name"] == name for p in pods)
            events = by_kind(objects, "Event")
            about_job = [e for e in events if e["involvedObject"]["uid"] == job["metadata"]["uid"]]
            assert about_job and all(e["involvedObject"]["name"] == name
                                     and e["metadata"]["name"].startswith(f"{name}.") for e in about_job)
            created = [e for e in events
                       if e["involvedObject"]["name"] == cronjob and e["reason"] == "SuccessfulCreate"]
            assert [e["message"] for e in created] == [f"Created job {name}"]
        assert demo_names.COMPLETED_POD.pod in {p["metadata"]["name"] for p in by_kind(objects, "Pod")}


# ------------------------------------------------------------------------------------------------
# usage model


def test_usage_only_for_running_containers(objects: list[dict[str, Any]]) -> None:
    at = NOW.timestamp()
    for ref in (demo_names.PENDING_POD, demo_names.COMPLETED_POD, demo_names.CRASHLOOP_POD):
        target = pod(objects, ref)
        assert usage.container_usage(target, ref.container, at) == usage.ContainerUsage(0.0, 0)
        assert usage.cpu_seconds_total(target, ref.container, at) == 0.0
    assert not usage.is_running(pod(objects, demo_names.PENDING_POD))
    assert not usage.is_running(pod(objects, demo_names.COMPLETED_POD))
    web = find(objects, "Pod", demo_names.WEB.pod, demo_names.WEB.namespace)
    assert usage.is_running(web) and usage.container_usage(web, "web", at).cpu_cores > 0


def test_oom_killed_container_climbs_to_its_limit_and_resets_at_each_restart(
        objects: list[dict[str, Any]]) -> None:
    oom = pod(objects, demo_names.OOMKILLED_POD)
    container = demo_names.OOMKILLED_POD.container
    status = container_status(oom, container)
    limit = usage.quantity_bytes(oom["spec"]["containers"][0]["resources"]["limits"]["memory"])
    restart = parse(status["state"]["running"]["startedAt"]).timestamp()
    killed = parse(status["lastState"]["terminated"]["finishedAt"]).timestamp()
    assert usage.memory_bytes(oom, container, killed - 1) > 0.95 * limit  # about to be killed
    assert usage.memory_bytes(oom, container, restart) < 0.4 * limit  # fresh after the restart
    samples = [usage.memory_bytes(oom, container, restart + minutes * 60) for minutes in range(0, 300, 10)]
    assert samples == sorted(samples) and samples[-1] < limit  # climbing again, not yet at the limit
    period = restart - parse(status["lastState"]["terminated"]["startedAt"]).timestamp()
    assert usage.memory_bytes(oom, container, restart - period + 5) < 0.4 * limit  # previous tooth


def test_oom_killed_story_agrees_in_status_events_restart_history_and_memory() -> None:
    """At the anchor the thumbnailer has climbed for more than the forecast's 6-hour window of a longer
    run, so the trend already points at its limit; its three kills are in its events and its restart
    history, one period apart, and the memory resets at each."""
    from sandbox.exporter import restart_count_at

    objects = load_demo_objects(DEMO_ANCHOR)
    ref = demo_names.OOMKILLED_POD
    oom = pod(objects, ref)
    status = container_status(oom, ref.container)
    running = parse(status["state"]["running"]["startedAt"])
    last = status["lastState"]["terminated"]
    period = running - parse(last["startedAt"])
    assert timedelta(hours=6) < DEMO_ANCHOR - running < period - timedelta(hours=1)
    assert status["restartCount"] == 3
    kills = [running - index * period for index in range(status["restartCount"])]  # newest first
    created = parse(oom["metadata"]["creationTimestamp"])
    assert kills[-1] - period == created, "the first run began when the pod was made"
    limit = usage.quantity_bytes(oom["spec"]["containers"][0]["resources"]["limits"]["memory"])
    anchor = DEMO_ANCHOR.timestamp()
    for number, kill in enumerate(reversed(kills), start=1):
        at = kill.timestamp()
        assert restart_count_at(oom, ref.container, at - 5, anchor) == number - 1
        assert restart_count_at(oom, ref.container, at + 5, anchor) == number
        assert usage.memory_bytes(oom, ref.container, at - 5) > 0.95 * limit
        assert usage.memory_bytes(oom, ref.container, at + 5) < 0.4 * limit
    ready = next(c for c in oom["status"]["conditions"] if c["type"] == "Ready")
    assert timedelta(0) < parse(ready["lastTransitionTime"]) - running < timedelta(seconds=10)
    assert parse(oom["status"]["startTime"]) - created < timedelta(seconds=5)

    events = by_kind(objects, "Event")
    mine = [e for e in events if e["involvedObject"]["uid"] == oom["metadata"]["uid"]]
    counts = Counter()
    for event in mine:
        counts[event["reason"]] += event["count"]
        assert parse(event["firstTimestamp"]) >= created
    assert counts["Created"] == counts["Started"] == status["restartCount"] + 1
    assert counts["Pulled"] == status["restartCount"] + 1  # pulled once, then "already present" at restarts
    assert max(parse(e["lastTimestamp"]) for e in mine) - running < timedelta(seconds=5)
    killed = next(e for e in events if e["reason"] == "OOMKilling" and f"({ref.container})" in e["message"])
    assert killed["involvedObject"]["name"] == oom["spec"]["nodeName"]
    assert killed["count"] == status["restartCount"]
    assert abs(parse(killed["firstTimestamp"]) - kills[-1]) < timedelta(seconds=5)
    assert abs(parse(killed["lastTimestamp"]) - kills[0]) < timedelta(seconds=5)
    replica_set = find(objects, "ReplicaSet", oom["metadata"]["ownerReferences"][0]["name"], ref.namespace)
    assert replica_set["metadata"]["creationTimestamp"] == oom["metadata"]["creationTimestamp"]
    scaled = [e for e in events if e["reason"] == "ScalingReplicaSet"
              and replica_set["metadata"]["name"] in e["message"] and "Scaled up" in e["message"]]
    assert [e["firstTimestamp"] for e in scaled] == [replica_set["metadata"]["creationTimestamp"]]


def test_right_sizing_stories(objects: list[dict[str, Any]]) -> None:
    at = NOW.timestamp()
    web = find(objects, "Pod", demo_names.WEB.pod, demo_names.WEB.namespace)
    api = find(objects, "Pod", demo_names.API.pod, demo_names.API.namespace)
    day = [at + hour * 3600 for hour in range(24)]
    web_cpu = sum(usage.cpu_rate(web, "web", t) for t in day) / len(day)
    api_cpu = sum(usage.cpu_rate(api, "api", t) for t in day) / len(day)
    assert web_cpu < 0.2 * usage.quantity_cores(web["spec"]["containers"][0]["resources"]["requests"]["cpu"])
    api_request = usage.quantity_cores(api["spec"]["containers"][0]["resources"]["requests"]["cpu"])
    api_limit = usage.quantity_cores(api["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    assert api_cpu > api_request
    assert max(usage.cpu_rate(api, "api", t) for t in day) < api_limit


def test_counters_are_monotonic_integrals_of_the_rates(objects: list[dict[str, Any]]) -> None:
    api = find(objects, "Pod", demo_names.API.pod, demo_names.API.namespace)
    start = NOW.timestamp() - 86_400
    previous_cpu, previous_rx = -1.0, -1.0
    for step in range(0, 86_400, 600):
        cpu = usage.cpu_seconds_total(api, "api", start + step)
        received, transmitted = usage.network_bytes_total(api, start + step)
        assert cpu > previous_cpu and received > previous_rx and 0 < transmitted < received
        previous_cpu, previous_rx = cpu, received
    t = start + 5000
    numeric = (usage.cpu_seconds_total(api, "api", t + 30) - usage.cpu_seconds_total(api, "api", t - 30)) / 60
    assert numeric == pytest.approx(usage.cpu_rate(api, "api", t), rel=1e-3)
    created = parse(api["status"]["startTime"]).timestamp()
    assert usage.cpu_seconds_total(api, "api", created - 60) == 0.0


def test_usage_is_deterministic_across_loads() -> None:
    first, second = load_demo_objects(NOW), load_demo_objects(NOW)
    at = NOW.timestamp()
    for left, right in zip(by_kind(first, "Pod"), by_kind(second, "Pod"), strict=True):
        for container in left["spec"]["containers"]:
            assert usage.container_usage(left, container["name"], at) == usage.container_usage(
                right, container["name"], at)
    assert datetime.now(UTC) > DEMO_ANCHOR  # the anchor is in the past, so loading shifts forward
