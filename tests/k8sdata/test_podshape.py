"""Slim pods (k8sdata.pods.podshape) must give every consumer the same answers as the full JSON.

The slim decode skips every field it does not declare, so a field a consumer reads but podshape forgot
would silently read as absent. These tests build every pod-derived frame from the full JSON and from the
slim decode of the same bytes and demand equality: the fixture cluster (every printer branch), the demo
cluster, and synthetic pods.
"""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pandas as pd
import pytest

from k8sdata.logs.containers import log_targets
from k8sdata.pods import frames, resources, workloads
from k8sdata.pods.podshape import (
    POD_SHAPE,
    Interner,
    Pod,
    as_dict,
    decode_pod,
    decode_pod_page,
    slim_pod,
)
from k8sdata.sources.kube import trim_object
from sandbox.cluster_loader import load_demo_objects
from sandbox.synthetic import synthetic_objects
from tests.plugins.kube_api import fixture_cluster_objects

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def _pods(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == "Pod"]


def _synthetic_pods(count: int) -> list[dict[str, Any]]:
    return list(itertools.islice((obj for obj in synthetic_objects(count, now=NOW) if obj["kind"] == "Pod"),
                                 count))


CLUSTERS = {
    "fixture": lambda: _pods(fixture_cluster_objects(NOW)),
    "demo": lambda: _pods(load_demo_objects(NOW)),
    "synthetic": lambda: _synthetic_pods(1500),
}


def _page(pods: list[dict[str, Any]], continue_token: str = "") -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": "4242"}
    if continue_token:
        metadata["continue"] = continue_token
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": pods})


def _both(name: str) -> tuple[list[dict[str, Any]], list[Pod]]:
    """(full pods as KubeClient.list_pods returns them, slim pods decoded from the same bytes)."""
    raw = _page(CLUSTERS[name]())
    full = [trim_object(item) for item in orjson.loads(raw)["items"]]
    slim = decode_pod_page(raw, Interner()).items
    assert len(full) == len(slim) > 0
    return full, slim


@pytest.fixture(scope="module", params=sorted(CLUSTERS))
def both(request: pytest.FixtureRequest) -> tuple[list[dict[str, Any]], list[Pod]]:
    return _both(request.param)


def test_pods_table_is_the_same(both: tuple[list[dict[str, Any]], list[Pod]]) -> None:
    full, slim = both
    expected = frames.pods_frame(full, now=NOW)
    pd.testing.assert_frame_equal(frames.pods_frame(slim, now=NOW), expected)
    # Watch events arrive parsed: slimming a dict must agree too.
    pd.testing.assert_frame_equal(frames.pods_frame([slim_pod(pod) for pod in full], now=NOW), expected)


def test_pod_detail_frames_are_the_same(both: tuple[list[dict[str, Any]], list[Pod]]) -> None:
    from ui.pod_detail import logs_commands

    full, slim = both
    # One pod per (app, kubectl status, restarted or not): the synthetic pods repeat a few dozen shapes.
    seen: set[tuple[str, str, bool]] = set()
    for full_pod, slim_one in zip(full, slim, strict=True):
        summary = frames.pod_summary(full_pod)
        shape = (frames.pod_app(full_pod), summary.status, summary.restarts > 0)
        if shape in seen:
            continue
        seen.add(shape)
        for detail in (frames.pod_containers_frame, frames.pod_conditions_frame):
            pd.testing.assert_frame_equal(detail(slim_one), detail(full_pod))
        assert logs_commands(slim_one) == logs_commands(full_pod)


def test_resources_and_node_sums_are_the_same(both: tuple[list[dict[str, Any]], list[Pod]]) -> None:
    full, slim = both
    pd.testing.assert_frame_equal(resources.pod_resources_frame(slim), resources.pod_resources_frame(full))
    pd.testing.assert_frame_equal(resources.container_resources_frame(slim),
                                  resources.container_resources_frame(full))
    nodes = sorted({str((pod.get("spec") or {}).get("nodeName") or "") for pod in full} - {""})
    node_objects = [{"metadata": {"name": name}, "status": {"capacity": {"cpu": "8", "memory": "32Gi"},
                                                            "allocatable": {"cpu": "8", "memory": "32Gi"}}}
                    for name in nodes]
    pd.testing.assert_frame_equal(workloads.nodes_usage_frame(node_objects, slim, None),
                                  workloads.nodes_usage_frame(node_objects, full, None))


def test_log_targets_are_the_same(both: tuple[list[dict[str, Any]], list[Pod]]) -> None:
    full, slim = both
    assert log_targets(slim) == log_targets(full)
    assert log_targets(slim, include_init=False) == log_targets(full, include_init=False)


def _without_repeated_pod_ips(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as the Interner leaves it: podIPs dropped where it only repeats podIP."""
    status = pod.get("status") or {}
    if status.get("podIPs") == [{"ip": status.get("podIP")}]:
        del status["podIPs"]
    return pod


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_interning_changes_no_value(name: str) -> None:
    """Sharing is only ever of equal parts: every pod of a list reads exactly as decoded on its own
    (apart from a podIPs that repeats podIP), however many parts it shares with other pods."""
    raw = _page(CLUSTERS[name]())
    alone = [_without_repeated_pod_ips(as_dict(pod)) for pod in decode_pod_page(raw).items]
    shared = [as_dict(pod) for pod in decode_pod_page(raw, Interner()).items]
    assert shared == alone


def test_slim_pods_keep_the_api_keys_and_values(both: tuple[list[dict[str, Any]], list[Pod]]) -> None:
    """as_dict(slim) is the full pod with fields left out, never changed or renamed."""

    def contained(part: Any, whole: Any, where: str) -> None:
        if isinstance(part, dict):
            assert isinstance(whole, dict), where
            for key, value in part.items():
                assert key in whole, f"{where}.{key}"
                contained(value, whole[key], f"{where}.{key}")
        elif isinstance(part, list):
            assert isinstance(whole, list) and len(part) == len(whole), where
            for index, (one, other) in enumerate(zip(part, whole, strict=True)):
                contained(one, other, f"{where}[{index}]")
        else:
            assert part == whole, where

    full, slim = both
    for full_pod, slim_one in zip(full, slim, strict=True):
        contained(as_dict(slim_one), full_pod, "pod")
        assert as_dict(slim_one)["metadata"]["name"] == full_pod["metadata"]["name"]


def test_parts_read_like_read_only_mappings() -> None:
    pod = decode_pod(orjson.dumps({
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                     "managedFields": [{"manager": "kubelet"}]},
        "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]},
        "status": {"phase": "Running", "podIP": None},
    }))
    metadata = pod["metadata"]
    assert metadata.get("name") == "web-1" and metadata["namespace"] == "shop"
    assert metadata.get("deletionTimestamp") is None and metadata.get("uid", "x") == "x"
    assert "labels" in metadata and "managedFields" not in metadata and "get" not in metadata
    assert sorted(metadata) == ["labels", "name", "namespace"] == sorted(metadata.keys())
    assert dict(metadata.items())["labels"] == {"app": "web"}
    with pytest.raises(KeyError):
        metadata["uid"]
    with pytest.raises(KeyError):
        metadata["keys"]  # a method name is not a field
    assert pod["status"].get("podIP") is None  # null reads as absent, as dict.get of a missing key
    assert as_dict(pod["spec"]) == {"containers": [{"name": "web", "image": "nginx"}]}
    assert POD_SHAPE(pod) is pod


def test_one_list_shares_equal_parts_between_pods() -> None:
    pods = _synthetic_pods(400)
    decode = POD_SHAPE.page_decoder()
    first, version, token = decode(_page(pods[:200], "next"))
    second, _, last_token = decode(_page(pods[200:]))
    assert (version, token, last_token) == ("4242", "next", "")
    items = first + second
    by_namespace: dict[str, str] = {}
    for pod in items:
        namespace = pod["metadata"]["namespace"]
        assert by_namespace.setdefault(namespace, namespace) is namespace  # one string per namespace
    same_app = {}
    for pod in items:
        same_app.setdefault(frames.pod_app(pod), []).append(pod)
    shared = [group for group in same_app.values()
              if len(group) > 1 and group[0]["spec"]["containers"] is group[1]["spec"]["containers"]]
    assert shared, "pods of one app should share their container specs"


def test_ready_pods_of_one_app_share_their_container_statuses() -> None:
    items = decode_pod_page(_page(_synthetic_pods(600)), Interner()).items
    ready = [pod for pod in items
             if all(c.ready and c.restartCount == 0 for c in pod.status.containerStatuses or ())
             and pod.status.containerStatuses]
    by_app: dict[tuple[str, ...], list[Pod]] = {}
    for pod in ready:
        images = tuple(c.image for c in pod.status.containerStatuses)
        by_app.setdefault(images, []).append(pod)
    groups = [group for group in by_app.values() if len(group) > 1]
    assert groups
    for group in groups:
        assert all(pod.status.containerStatuses is group[0].status.containerStatuses for pod in group)
    # Every running state of the list is one object, and so is every empty lastState.
    states = {id(c.state) for pod in items for c in pod.status.containerStatuses or () if c.state.running}
    empty = {id(c.lastState) for pod in items for c in pod.status.containerStatuses or ()
             if c.lastState is not None and not c.lastState.keys()}
    assert len(states) == 1 and len(empty) == 1
    # Distinct label sets (a StatefulSet's pod-name, a Job's names) still share their repeated values.
    values: dict[str, int] = {}
    for pod in items:
        for value in pod.metadata.labels.values():
            assert values.setdefault(value, id(value)) == id(value)


def test_pod_ips_are_dropped_only_when_they_repeat_pod_ip() -> None:
    def pod(name: str, status: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "shop"}, "status": status}

    raw = _page([
        pod("single", {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}]}),
        pod("dual", {"podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.2"}, {"ip": "fd00::2"}]}),
        pod("other", {"podIP": "10.0.0.3", "podIPs": [{"ip": "10.0.0.4"}]}),
        pod("no-pod-ip", {"podIPs": [{"ip": "10.0.0.5"}]}),
    ])
    single, dual, other, no_pod_ip = decode_pod_page(raw, Interner()).items
    assert single.status.podIPs is None and single.status.podIP == "10.0.0.1"
    assert [ip.ip for ip in dual.status.podIPs] == ["10.0.0.2", "fd00::2"]
    assert [ip.ip for ip in other.status.podIPs] == ["10.0.0.4"]
    assert [ip.ip for ip in no_pod_ip.status.podIPs] == ["10.0.0.5"]


def test_parts_of_different_kinds_with_equal_json_are_not_confused() -> None:
    """An owner list and a container list that both hold only a name encode alike; each keeps its kind."""
    raw = _page([{"metadata": {"name": "a", "namespace": "shop", "ownerReferences": [{"name": "x"}]},
                  "spec": {"containers": [{"name": "x"}], "initContainers": [{"name": "x"}]}}])
    (pod,) = decode_pod_page(raw, Interner()).items
    assert type(pod.metadata.ownerReferences[0]).__name__ == "OwnerReference"
    assert type(pod.spec.containers[0]).__name__ == "Container"


def test_a_watched_pod_shares_equal_parts_with_the_pod_it_replaces() -> None:
    pods = _synthetic_pods(300)
    listed = decode_pod_page(_page(pods), Interner()).items
    cached_before = [as_dict(pod) for pod in listed]
    parts_before = [(id(pod.metadata.labels), id(pod.spec.containers), id(pod.status.containerStatuses))
                    for pod in listed]
    events = []
    for full, cached in zip(pods, listed, strict=True):
        changed = {**full, "metadata": {**full["metadata"], "resourceVersion": "99"}}
        event = POD_SHAPE.watched(changed, cached)
        assert as_dict(event) == _without_repeated_pod_ips(as_dict(slim_pod(changed)))
        assert event.metadata.labels is cached.metadata.labels
        assert event.spec.containers is cached.spec.containers
        assert event.status.containerStatuses is cached.status.containerStatuses
        assert event.metadata.namespace is cached.metadata.namespace
        events.append(event)
    # The cached pods were not changed, not even which objects their parts are.
    assert [as_dict(pod) for pod in listed] == cached_before
    assert [(id(pod.metadata.labels), id(pod.spec.containers), id(pod.status.containerStatuses))
            for pod in listed] == parts_before
    # Each new version costs about what its unique strings and structs do, not a whole pod's copy.
    extra = _bytes_per_pod(listed + events) * 2 - _bytes_per_pod(listed)
    assert extra < 1000 < 4 * 1000 < _bytes_per_pod([slim_pod(full) for full in pods])
    # A new pod (no cached version) shares with the pod given instead, e.g. the last event's.
    newcomer = POD_SHAPE.watched(pods[1], events[0])
    assert newcomer.metadata.namespace is events[0].metadata.namespace
    assert POD_SHAPE.watched(pods[0], None) is not None  # nothing to share with: plain slim_pod


def _bytes_per_pod(items: list[Pod]) -> float:
    """sys.getsizeof over every distinct object reachable from the pods (shared parts counted once)."""
    seen: set[int] = set()
    total = 0
    stack: list[Any] = list(items)
    while stack:
        obj = stack.pop()
        if obj is None or isinstance(obj, bool) or id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, msgspec.Struct):
            stack.extend(getattr(obj, name) for name in obj.__struct_fields__)
        elif isinstance(obj, tuple | list):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
    return total / len(items)


def test_a_slim_pod_stays_small() -> None:
    """The memory of a list's pods (bench/PROFILE.md, round 3), by getsizeof: ~1.2 KB a pod with the
    Interner (1.7 KB before round 3), ~5 KB decoded without it."""
    raw = _page(_synthetic_pods(3000))
    shared = _bytes_per_pod(decode_pod_page(raw, Interner()).items)
    alone = _bytes_per_pod(decode_pod_page(raw).items)
    assert shared < 1300 and alone > 3 * shared


def test_garbage_is_a_clear_error() -> None:
    decode = POD_SHAPE.page_decoder()
    with pytest.raises(ValueError):
        decode(b'{"items": [{"metadata": {"name": 3}}]}')
    with pytest.raises(ValueError):
        decode(b"not json")
