"""Synthetic clusters: realistic, valid, deterministic and fast."""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import orjson
import pytest
from kubernetes import client

from sandbox.synthetic import MAX_NODES, node_count, synthetic_objects

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
OWNER_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "CronJob", "Job")
#: Labels a controller sets on each pod it makes, beyond its template's.
PER_POD_LABELS = {"controller-revision-hash", "statefulset.kubernetes.io/pod-name"}


@pytest.fixture(scope="module")
def cluster() -> list[dict[str, Any]]:
    return list(synthetic_objects(3_000, seed=7, now=NOW))


def pods_of(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Pod"]


def state_of(pod: dict[str, Any]) -> str:
    statuses = pod["status"].get("containerStatuses") or []
    waiting = [s["state"]["waiting"]["reason"] for s in statuses if "waiting" in s["state"]]
    if waiting:
        return waiting[0]
    if any((s.get("lastState") or {}).get("terminated", {}).get("reason") == "OOMKilled" for s in statuses):
        return "OOMKilled-restarted"
    if pod["status"]["phase"] == "Running" and not all(s["ready"] for s in statuses):
        return "NotReady"
    return pod["status"]["phase"]


def test_yields_namespaces_then_nodes_then_the_requested_pods_then_their_owners(
    cluster: list[dict[str, Any]],
) -> None:
    kinds = [o["kind"] for o in cluster]
    assert kinds == sorted(kinds, key=["Namespace", "Node", "Pod", *OWNER_KINDS].index)
    assert set(OWNER_KINDS) <= set(kinds)
    counts = Counter(kinds)
    assert counts["Pod"] == 3_000
    assert counts["Node"] == node_count(3_000) == 30
    assert node_count(1) == 1 and node_count(10_000_000) == MAX_NODES
    namespaces = {o["metadata"]["name"] for o in cluster if o["kind"] == "Namespace"}
    nodes = {o["metadata"]["name"] for o in cluster if o["kind"] == "Node"}
    for pod in pods_of(cluster):
        assert pod["metadata"]["namespace"] in namespaces
        assert pod["spec"].get("nodeName", next(iter(nodes))) in nodes


def test_names_uids_and_pod_ips_are_unique(cluster: list[dict[str, Any]]) -> None:
    pods = pods_of(cluster)
    assert len({(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}) == len(pods)
    assert len({o["metadata"]["uid"] for o in cluster}) == len(cluster)
    ips = [p["status"]["podIP"] for p in pods if "podIP" in p["status"]]
    assert len(set(ips)) == len(ips)


def test_status_mix_is_realistic(cluster: list[dict[str, Any]]) -> None:
    states = Counter(state_of(p) for p in pods_of(cluster))
    total = sum(states.values())
    assert states["Running"] / total > 0.75
    for rare in ("Pending", "CrashLoopBackOff", "OOMKilled-restarted", "NotReady", "Succeeded"):
        assert 0 < states[rare] / total < 0.1, (rare, states)


def test_pods_have_real_sized_metadata(cluster: list[dict[str, Any]]) -> None:
    pods = pods_of(cluster)
    sizes = [len(orjson.dumps(p)) for p in pods]
    assert 5_000 <= sum(sizes) / len(sizes) <= 8_000
    for pod in pods[:50]:
        metadata = pod["metadata"]
        assert [m["manager"] for m in metadata["managedFields"]] == ["kube-controller-manager", "kubelet"]
        owner = metadata["ownerReferences"][0]
        assert owner["controller"] is True and metadata["generateName"] == owner["name"] + "-"
        assert metadata["labels"]["app.kubernetes.io/name"] and metadata["annotations"]


def test_a_sample_of_every_kind_and_state_validates_and_deserializes(cluster: list[dict[str, Any]]) -> None:
    sample: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in cluster:
        key = (obj["kind"], state_of(obj) if obj["kind"] == "Pod" else "",
               obj["metadata"].get("labels", {}).get("app", ""))
        sample.setdefault(key, obj)
    assert len(sample) > 25
    assert set(OWNER_KINDS) <= {kind for kind, _, _ in sample}
    api = client.ApiClient()

    class Response:
        def __init__(self, body: dict[str, Any]) -> None:
            self.data = json.dumps(body)

    for obj in sample.values():
        kubernetes_validate.validate(obj, "1.30", strict=True)
        model = api.deserialize(Response(obj), f"V1{obj['kind']}")
        assert model.metadata.name == obj["metadata"]["name"]


def test_qos_class_matches_the_resources(cluster: list[dict[str, Any]]) -> None:
    for pod in pods_of(cluster)[:300]:
        resources = [c["resources"] for c in pod["spec"]["containers"]]
        guaranteed = all(r.get("limits", {}).get(k) == r["requests"].get(k) for r in resources
                         for k in ("cpu", "memory"))
        assert pod["status"]["qosClass"] == ("Guaranteed" if guaranteed else "Burstable")


def test_generation_is_deterministic_and_seeded() -> None:
    first = list(synthetic_objects(500, seed=3, now=NOW))
    assert first == list(synthetic_objects(500, seed=3, now=NOW))
    assert first != list(synthetic_objects(500, seed=4, now=NOW))


def test_objects_are_independent_of_each_other() -> None:
    pods = pods_of(list(synthetic_objects(200, now=NOW)))
    pods[0]["spec"]["containers"][0]["image"] = "changed"
    pods[0]["metadata"]["labels"]["app"] = "changed"
    assert all(p["spec"]["containers"][0]["image"] != "changed" for p in pods[1:])
    assert all(p["metadata"]["labels"]["app"] != "changed" for p in pods[1:])


def test_the_garbage_collector_is_restored() -> None:
    assert gc.isenabled()
    generator = synthetic_objects(10, now=NOW)
    next(generator)
    assert not gc.isenabled()  # paused while generating
    generator.close()
    assert gc.isenabled()


def test_a_hundred_thousand_pods_in_a_few_seconds() -> None:
    started = time.process_time()
    count = sum(1 for obj in synthetic_objects(100_000, now=NOW) if obj["kind"] == "Pod")
    elapsed = time.process_time() - started
    assert count == 100_000
    assert elapsed < 15, f"{elapsed:.1f}s of CPU"  # ~4 s on an idle 2-core machine


# ------------------------------------------------------------------------------------------ owners
Index = dict[tuple[str, str, str], dict[str, Any]]


def by_kind_and_name(objects: list[dict[str, Any]]) -> Index:
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}


def controller_of(obj: dict[str, Any], index: Index) -> dict[str, Any]:
    """The object `obj`'s controller ownerReference names, checked to be that very object."""
    [reference] = [r for r in obj["metadata"].get("ownerReferences", []) if r.get("controller")]
    owner = index[(reference["kind"], obj["metadata"]["namespace"], reference["name"])]
    assert owner["metadata"]["uid"] == reference["uid"]
    assert owner["apiVersion"] == reference["apiVersion"]
    return owner


def pods_by_owner(cluster: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    owned: dict[str, list[dict[str, Any]]] = {}
    for pod in pods_of(cluster):
        owned.setdefault(pod["metadata"]["ownerReferences"][0]["uid"], []).append(pod)
    return owned


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])


def test_every_pod_controller_is_a_generated_owner_and_every_owner_has_pods(
    cluster: list[dict[str, Any]],
) -> None:
    index = by_kind_and_name(cluster)
    owners = {controller_of(pod, index)["metadata"]["uid"] for pod in pods_of(cluster)}
    direct = {o["metadata"]["uid"] for o in cluster if o["kind"] in ("ReplicaSet", "StatefulSet", "Job")}
    assert owners == direct  # no pod without its owner, no owner without pods
    kinds = Counter(o["kind"] for o in cluster)
    assert kinds["ReplicaSet"] and kinds["StatefulSet"] and kinds["Job"]


def test_replicasets_belong_to_deployments_and_jobs_to_cronjobs(cluster: list[dict[str, Any]]) -> None:
    index = by_kind_and_name(cluster)
    parents: Counter[str] = Counter()
    for obj in cluster:
        if obj["kind"] in ("ReplicaSet", "Job"):
            parent = controller_of(obj, index)
            assert parent["kind"] == {"ReplicaSet": "Deployment", "Job": "CronJob"}[obj["kind"]]
            parents[parent["metadata"]["uid"]] += 1
            assert obj["metadata"]["creationTimestamp"] >= parent["metadata"]["creationTimestamp"]
        if obj["kind"] == "ReplicaSet":
            template_hash = obj["metadata"]["labels"]["pod-template-hash"]
            assert obj["metadata"]["name"] == f"{parent['metadata']['name']}-{template_hash}"
            assert obj["spec"]["replicas"] == parent["spec"]["replicas"] == parent["status"]["replicas"]
            revision = "deployment.kubernetes.io/revision"
            assert obj["metadata"]["annotations"][revision] == parent["metadata"]["annotations"][revision]
            deployment_template = parent["spec"]["template"]
            assert obj["spec"]["template"]["spec"] == deployment_template["spec"]
            assert obj["spec"]["template"]["metadata"]["labels"] == dict(
                deployment_template["metadata"]["labels"], **{"pod-template-hash": template_hash}
            )
    for obj in cluster:
        if obj["kind"] == "Deployment":
            assert parents[obj["metadata"]["uid"]] == 1
        elif obj["kind"] == "CronJob":
            assert parents[obj["metadata"]["uid"]] >= 1


def test_owner_replica_counts_and_status_match_their_pods(cluster: list[dict[str, Any]]) -> None:
    owned = pods_by_owner(cluster)
    replicaset_of = {  # Deployment uid -> its one ReplicaSet's uid
        rs["metadata"]["ownerReferences"][0]["uid"]: rs["metadata"]["uid"]
        for rs in cluster
        if rs["kind"] == "ReplicaSet"
    }
    active_jobs: dict[str, set[str]] = {}
    for obj in cluster:
        kind, pods = obj["kind"], owned.get(obj["metadata"]["uid"], [])
        ready = sum(is_ready(pod) for pod in pods)
        if kind in ("ReplicaSet", "StatefulSet"):
            assert obj["spec"]["replicas"] == obj["status"]["replicas"] == len(pods) > 0
            assert obj["status"].get("readyReplicas", 0) == obj["status"].get("availableReplicas", 0) == ready
            if kind == "StatefulSet":
                revisions = {pod["metadata"]["labels"]["controller-revision-hash"] for pod in pods}
                assert revisions == {obj["status"]["currentRevision"]} == {obj["status"]["updateRevision"]}
        elif kind == "Deployment":
            pods = owned[replicaset_of[obj["metadata"]["uid"]]]
            ready = sum(is_ready(pod) for pod in pods)
            assert obj["status"].get("readyReplicas", 0) == ready
            assert obj["status"].get("unavailableReplicas", 0) == len(pods) - ready
        elif kind == "Job":
            [pod] = pods
            succeeded = pod["status"]["phase"] == "Succeeded"
            assert obj["spec"]["completions"] == 1
            assert obj["status"].get("succeeded", 0) == int(succeeded)
            assert obj["status"].get("active", 0) == int(not succeeded)
            assert ("completionTime" in obj["status"]) == succeeded
            if succeeded:
                finished = pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
                assert obj["status"]["completionTime"] >= finished >= obj["status"]["startTime"]
            else:
                parent = obj["metadata"]["ownerReferences"][0]["uid"]
                active_jobs.setdefault(parent, set()).add(obj["metadata"]["uid"])
    assert active_jobs  # some Jobs still run (pending or crash-looping pods)
    for obj in cluster:
        if obj["kind"] == "CronJob":
            listed = {ref["uid"] for ref in obj["status"].get("active", [])}
            assert listed == active_jobs.get(obj["metadata"]["uid"], set())


def test_owner_templates_and_selectors_match_their_pods(cluster: list[dict[str, Any]]) -> None:
    owned = pods_by_owner(cluster)
    checked: Counter[str] = Counter()
    for obj in cluster:
        if obj["kind"] not in ("ReplicaSet", "StatefulSet", "Job"):
            continue
        template, selector = obj["spec"]["template"], obj["spec"]["selector"]["matchLabels"]
        for pod in owned[obj["metadata"]["uid"]]:
            labels = pod["metadata"]["labels"]
            assert selector.items() <= labels.items()
            assert template["metadata"]["labels"].items() <= labels.items()
            assert set(labels) - set(template["metadata"]["labels"]) <= PER_POD_LABELS
            spec = template["spec"]
            assert spec["restartPolicy"] == pod["spec"]["restartPolicy"]
            assert spec["securityContext"] == pod["spec"]["securityContext"]
            pod_containers = [
                {key: value for key, value in container.items() if key != "volumeMounts"}
                for container in pod["spec"]["containers"]
            ]
            assert spec["containers"] == pod_containers  # images, resources, probes, securityContext
            checked[obj["kind"]] += 1
        assert selector.items() <= template["metadata"]["labels"].items()  # the API server insists
    assert all(checked[kind] for kind in ("ReplicaSet", "StatefulSet", "Job")), checked


def test_owner_timestamps_precede_their_pods(cluster: list[dict[str, Any]]) -> None:
    owned = pods_by_owner(cluster)
    for obj in cluster:
        for pod in owned.get(obj["metadata"]["uid"], []):
            assert obj["metadata"]["creationTimestamp"] < pod["metadata"]["creationTimestamp"]


def test_the_stand_in_api_server_lists_the_owners() -> None:
    from sandbox.apiserver import ApiServer
    from tests.sandbox.test_apiserver import get_json

    expected = Counter(o["kind"] for o in synthetic_objects(300, now=NOW))
    with ApiServer(synthetic_pods=300) as server:
        listed: list[dict[str, Any]] = []
        for path, kind in (
            ("/api/v1/pods", "Pod"),
            ("/apis/apps/v1/deployments", "Deployment"),
            ("/apis/apps/v1/replicasets", "ReplicaSet"),
            ("/apis/apps/v1/statefulsets", "StatefulSet"),
            ("/apis/batch/v1/cronjobs", "CronJob"),
            ("/apis/batch/v1/jobs", "Job"),
        ):
            status, listing = get_json(server, path)
            assert status == 200
            assert len(listing["items"]) == expected[kind] > 0, kind
            listed += [dict(item, kind=kind) for item in listing["items"]]  # list items carry no kind
    index = by_kind_and_name(listed)
    for obj in listed:
        if obj["kind"] in ("Pod", "ReplicaSet", "Job"):
            controller_of(obj, index)
