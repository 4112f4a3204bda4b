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
import socket
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sandbox.apiserver import ApiServer, tables
from sandbox.apiserver import server as server_module
from sandbox.apiserver.resources import ResourceRegistry
from sandbox.cluster_loader import load_demo_objects
from sandbox.synthetic import synthetic_objects
from tests.plugins.kube_api import fixture_cluster_objects
from tests.sandbox.test_apiserver import ADMIN, TABLE, call, get_json

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


def _raw_get(server: ApiServer, path: str) -> tuple[bytes, list[bytes]]:
    """GET over a plain socket: the response head and the body's chunks as framed on the wire."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                           "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := connection.recv(1 << 20):
            data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    chunks = []
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n"  # the terminator, no trailers
            return head, chunks
        assert rest[size:size + 2] == b"\r\n", "a chunk's size line must match its length"
        chunks.append(rest[:size])
        rest = rest[size + 2:]


@pytest.mark.parametrize("query", ["", "?limit=500", "?limit=7"])
def test_lists_are_the_stored_bytes_in_well_framed_chunks(query: str) -> None:
    """Pages are framed in one write each (bench/PROFILE.md): the body is still exactly the stored
    objects' bytes joined in key order, in valid chunks of at most STREAM_BATCH objects."""
    with ApiServer(synthetic_pods=1_203, tls=False) as server:
        head, chunks = _raw_get(server, "/api/v1/pods" + query)
        assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
        listing = orjson.loads(b"".join(chunks))
        entries = server.store.entries(("", "pods"))
        shown = entries[:int(query.split("=")[1])] if query else entries
        expected_items = b"[" + b",".join(entry.raw for entry in shown) + b"]}"
        assert b"".join(chunks).endswith(b'"items":' + expected_items)
        assert len(listing["items"]) == len(shown) and len(entries) >= 1_203
        assert len(chunks) == max(1, -(-len(shown) // server_module.STREAM_BATCH))
