"""The stand-in server's fast paths answer exactly what the plain ones did, also after writes.

- JSON lists are joined from each object's stored bytes (serialized once per write), so after updates
  and deletes a list must hold exactly a fresh serialization of each current object.
- Table rows for pods decode only what the printer reads and splice the stored metadata bytes, so the
  Table must be byte for byte the one built from a whole parse of each pod.
"""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sandbox.apiserver import ApiServer, tables
from sandbox.apiserver.resources import ResourceRegistry
from sandbox.cluster_loader import load_demo_objects
from sandbox.synthetic import synthetic_objects
from tests.plugins.kube_api import fixture_cluster_objects
from tests.sandbox.test_apiserver import TABLE, call, get_json

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
PODS = ResourceRegistry().lookup("", "v1", "pods")
assert PODS is not None


def _stored_pods() -> list[bytes]:
    synthetic = itertools.islice((o for o in synthetic_objects(300, now=NOW) if o["kind"] == "Pod"), 300)
    objects = [*fixture_cluster_objects(NOW), *load_demo_objects(NOW), *synthetic]
    return [orjson.dumps(obj) for obj in objects if obj.get("kind") == "Pod"]


@pytest.mark.parametrize("include", ["Metadata", "None", "Object"])
def test_pod_table_rows_equal_a_whole_parse(include: str) -> None:
    raws = _stored_pods()
    whole = [(orjson.loads(raw), orjson.Fragment(raw)) for raw in raws]
    fast = [(obj, orjson.Fragment(raw), metadata)
            for raw in raws for obj, metadata in [tables.table_source(PODS, raw)]]
    expected = orjson.dumps(tables.table_parts(PODS, whole, include, NOW))
    assert orjson.dumps(tables.table_parts(PODS, fast, include, NOW)) == expected
    assert len(raws) > 300


def test_lists_and_tables_after_writes_equal_a_fresh_serialization() -> None:
    with ApiServer(fixture_cluster_objects()) as server:
        pods = server.store.objects(("", "pods"))
        changed = []
        for pod in pods[:3]:
            pod = copy.deepcopy(pod)
            pod["metadata"].setdefault("labels", {})["kams-test"] = "changed"
            pod["status"]["containerStatuses"] = [{
                "name": "app", "ready": False, "restartCount": 7, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            }]
            changed.append(server.store.update(pod))
        gone = pods[3]["metadata"]
        server.store.delete("pods", gone["namespace"], gone["name"])

        status, listing = get_json(server, "/api/v1/pods?limit=500")
        assert status == 200
        current = server.store.objects(("", "pods"))
        assert listing["items"] == json.loads(orjson.dumps(current))
        served = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in listing["items"]}
        assert (gone["namespace"], gone["name"]) not in served
        for pod in changed:
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            assert served[key] == json.loads(orjson.dumps(pod))  # the update, with its resourceVersion

        status, _, body = call(server, "/api/v1/pods?limit=500", accept=TABLE)
        assert status == 200
        table: dict[str, Any] = json.loads(body)
        rows = {(r["object"]["metadata"]["namespace"], r["object"]["metadata"]["name"]): r
                for r in table["rows"]}
        assert len(rows) == len(current)
        for pod in changed:
            row = rows[(pod["metadata"]["namespace"], pod["metadata"]["name"])]
            assert row["cells"][2] == "CrashLoopBackOff" and row["cells"][3] == "7"
            assert row["object"]["metadata"] == pod["metadata"]
