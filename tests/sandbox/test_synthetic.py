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


def test_yields_namespaces_then_nodes_then_the_requested_pods(cluster: list[dict[str, Any]]) -> None:
    kinds = [o["kind"] for o in cluster]
    assert kinds == sorted(kinds, key=["Namespace", "Node", "Pod"].index)
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
