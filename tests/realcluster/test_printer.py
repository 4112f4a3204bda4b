"""KAMS's READY, STATUS and RESTARTS equal the real kube-apiserver's own Table output for every pod fixture.

`kubectl get pods` asks the server for a meta.k8s.io Table, which is upstream's printer
(pkg/printers/internalversion) running inside kube-apiserver. Every pod of the printer unit tests
(tests/k8sdata/test_frames.py, test_frames_printer.py) and of the small fixture cluster is created in the real
server and its status written through the `status` subresource, as a kubelet would. Pods whose fixture is
being deleted get a finalizer and are then deleted, so the server itself sets deletionTimestamp.
KAMS reads them through the deployed ServiceAccount, with the command line (`python -m k8sdata pods`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.realcluster import RealCluster
from tests.k8sdata import test_frames, test_frames_printer
from tests.plugins.kube_api import fixture_cluster_objects

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
HOLD = "kams.test/hold"  # a finalizer nobody removes: deleted pods stay, Terminating


def printer_fixtures() -> Iterator[tuple[str, dict[str, Any]]]:
    for case, pod, *_expected in test_frames.CASES:
        yield f"frames-{case}", pod
    for case, _upstream, pod, *_expected in test_frames_printer.CASES:
        yield f"printer-{case}", pod
    # Two days back, so every "(5m ago)" becomes "(2d)": at minute and second resolution the server's
    # moment and KAMS's could print different text.
    for obj in fixture_cluster_objects(datetime.now(UTC) - timedelta(days=2)):
        if obj["kind"] == "Pod":
            yield f"cluster-{obj['metadata']['name']}", obj


def as_real_pod(name: str, fixture: dict[str, Any], namespace: str) -> tuple[dict[str, Any], bool]:
    """(the pod to create, whether to delete it afterwards)."""
    pod = copy.deepcopy(fixture)
    pod.update(apiVersion="v1", kind="Pod")
    metadata = pod["metadata"]
    deleting = "deletionTimestamp" in metadata
    pod["metadata"] = {"name": re.sub(r"[^a-z0-9-]", "-", name.lower())[:63].strip("-"),
                       "namespace": namespace, "labels": metadata.get("labels") or {}}
    if deleting:
        pod["metadata"]["finalizers"] = [HOLD]
        # A pod that no node runs is deleted at once; a scheduled one waits for its kubelet.
        pod["spec"].setdefault("nodeName", "node-a")
    return pod, deleting


def server_table(cluster: RealCluster, namespace: str) -> dict[str, dict[str, str]]:
    table = cluster.reader.get(f"/api/v1/namespaces/{namespace}/pods", accept=TABLE)
    headers = [column["name"] for column in table["columnDefinitions"]]
    return {row["object"]["metadata"]["name"]: dict(zip(headers, map(str, row["cells"]), strict=True))
            for row in table["rows"]}


def kams_pods(cluster: RealCluster, namespace: str) -> dict[str, dict[str, Any]]:
    environment = {**os.environ, "KUBECONFIG": str(cluster.kams_kubeconfig)}
    printed = subprocess.run([sys.executable, "-m", "k8sdata", "pods", "--namespace", namespace,
                              "--format", "json"], capture_output=True, text=True, timeout=120,
                             env=environment, check=True)
    return {row["name"]: row for row in json.loads(printed.stdout)}


@pytest.fixture(scope="module")
def printed(real_cluster: RealCluster, real_namespace: Callable[..., str]
            ) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]], list[str]]:
    namespace = real_namespace("printer")
    names = []
    for name, fixture in printer_fixtures():
        pod, deleting = as_real_pod(name, fixture, namespace)
        real_cluster.admin.create(pod)
        real_cluster.admin.write_status(pod)
        if deleting:
            real_cluster.admin.delete(pod)
        names.append(pod["metadata"]["name"])
    return server_table(real_cluster, namespace), kams_pods(real_cluster, namespace), names


def test_every_fixture_pod_is_on_the_server(printed: tuple[dict[str, dict[str, str]], dict[str, Any],
                                                           list[str]]) -> None:
    server, kams, names = printed
    assert len(names) >= 45
    assert sorted(server) == sorted(names) == sorted(kams)


def test_ready_status_and_restarts_equal_the_servers_printer(
        printed: tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]], list[str]]) -> None:
    server, kams, names = printed
    differences = []
    for name in names:
        theirs = server[name]
        ours = kams[name]
        for column, field in (("Ready", "ready"), ("Status", "status"), ("Restarts", "restarts_display")):
            if str(ours[field]) != theirs[column]:
                differences.append(f"{name} {column}: server {theirs[column]!r}, KAMS {ours[field]!r}")
    assert differences == []


def test_the_server_really_printed_the_hard_cases(
        printed: tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]], list[str]]) -> None:
    """The comparison means something only if the server's printer saw the states: spot-check a few
    statuses that exist only because the status subresource and deletion really took effect."""
    server, _kams, _names = printed
    statuses = {row["Status"] for row in server.values()}
    assert {"CrashLoopBackOff", "Terminating", "Init:1/2", "Completed", "Evicted", "SchedulingGated",
            "Unknown"} <= statuses
