"""Slim pods (k8sdata.podshape) must give every consumer the same answers as the full JSON.

The slim decode skips every field it does not declare, so a field a consumer reads but podshape forgot
would silently read as absent. These tests build every pod-derived frame from the full JSON and from the
slim decode of the same bytes and demand equality: the fixture cluster (every printer branch), the demo
cluster, and synthetic pods.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd
import pytest

from k8sdata import frames, resources, workloads
from k8sdata.kube import _trim
from k8sdata.podshape import (
    POD_SHAPE,
    Interner,
    Pod,
    as_dict,
    decode_pod,
    decode_pod_page,
    slim_pod,
)
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
    full = [_trim(item) for item in orjson.loads(raw)["items"]]
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


def test_garbage_is_a_clear_error() -> None:
    decode = POD_SHAPE.page_decoder()
    with pytest.raises(ValueError):
        decode(b'{"items": [{"metadata": {"name": 3}}]}')
    with pytest.raises(ValueError):
        decode(b"not json")
