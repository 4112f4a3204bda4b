"""The real kube-apiserver prints every upstream printer case as tests/k8sdata/fixtures/upstream_printpod.yaml
says: the transcription of upstream's unit tests is faithful to the printer that really runs.

Each fixture pod is created, its status written through the status subresource and, when the fixture is
being deleted, held by a finalizer and deleted (tests/realcluster/test_printer.py's helpers). Upstream's
unit tests never validate their pods, so the unnamed, imageless containers of `make([]api.Container, n)`
get a name and an image here; the printer reads neither, except init container names to find sidecars, and
every unnamed init container upstream is a plain (not restartable) one, so the cells cannot change. The
same goes for status.nominatedNodeName, which the server refuses on a pod bound to a node (TestPrintPodwide's
first two cases): only `-o wide` prints it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.realcluster import ApiError, RealCluster
from tests.k8sdata.test_upstream_printpod import CASES, relative_seconds, resolved_pod
from tests.realcluster.test_printer import as_real_pod, server_table

IMAGE = "registry.k8s.io/pause:3.10"
#: Cases the API server's validation refuses, each with why. Kept small: the point is the comparison.
INVALID_FOR_THE_SERVER: dict[str, str] = {}
_AGO = re.compile(r"^(\d+) \((.+) ago\)$")


def _named(containers: list[dict[str, Any]], prefix: str) -> None:
    for index, container in enumerate(containers):
        container["name"] = container.get("name") or f"{prefix}{index}"
        container.setdefault("image", IMAGE)


def _statuses_named(statuses: list[dict[str, Any]], specs: list[dict[str, Any]], prefix: str) -> None:
    # An unnamed status stands for the spec container at its index (upstream pairs them by position).
    for index, status in enumerate(statuses):
        if not status.get("name"):
            status["name"] = specs[index]["name"] if index < len(specs) else f"{prefix}{index}"
        status.setdefault("image", IMAGE)
        status.setdefault("imageID", "")


def valid_pod(case: dict[str, Any], now: datetime) -> dict[str, Any]:
    pod = copy.deepcopy(resolved_pod(case, now))
    spec, status = pod["spec"], pod.get("status") or {}
    _named(spec.setdefault("containers", []), "c")
    _named(spec.get("initContainers") or [], "i")
    _statuses_named(status.get("containerStatuses") or [], spec["containers"], "c")
    _statuses_named(status.get("initContainerStatuses") or [], spec.get("initContainers") or [], "i")
    if spec.get("nodeName"):
        # The server refuses a nominated node on a bound pod; only `-o wide` prints it.
        status.pop("nominatedNodeName", None)
    return pod


def _seconds(human: str) -> int:
    return relative_seconds("-" + human)


def same_cell(server: str, expected: str, slack_seconds: int) -> bool:
    """Equal, except that "(10s ago)" may have aged by up to `slack_seconds` between writing the status
    and the server printing it."""
    if server == expected:
        return True
    theirs, ours = _AGO.match(server), _AGO.match(expected)
    if theirs is None or ours is None or theirs[1] != ours[1]:
        return False
    if not re.fullmatch(r"(\d+[dhms])+", theirs[2]) or not re.fullmatch(r"(\d+[dhms])+", ours[2]):
        return False
    return 0 <= _seconds(theirs[2]) - _seconds(ours[2]) <= slack_seconds


@pytest.fixture(scope="module")
def printed(real_cluster: RealCluster, real_namespace: Callable[..., str]
            ) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]:
    """(the server's cells by pod name, case id by pod name, refusals by case id)."""
    namespace = real_namespace("upstream")
    now = datetime.now(UTC)
    names: dict[str, str] = {}
    refused: dict[str, str] = {}
    for case in CASES:
        pod, deleting = as_real_pod(f"up-{case['id']}", valid_pod(case, now), namespace)
        try:
            real_cluster.admin.create(pod)
            real_cluster.admin.write_status(pod)
        except ApiError as error:
            refused[case["id"]] = str(error)
            continue
        if deleting:
            real_cluster.admin.delete(pod)
        names[pod["metadata"]["name"]] = case["id"]
    return server_table(real_cluster, namespace), names, refused


def test_only_the_listed_cases_are_refused(
        printed: tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]) -> None:
    _server, names, refused = printed
    assert refused.keys() == INVALID_FOR_THE_SERVER.keys(), refused
    assert len(INVALID_FOR_THE_SERVER) <= 3
    assert len(names) + len(refused) == len(CASES)


def test_the_servers_printer_gives_the_fixture_cells(
        printed: tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]) -> None:
    server, names, _refused = printed
    started = datetime.now(UTC)
    cases = {case["id"]: case for case in CASES}
    differences = []
    for name, case_id in names.items():
        theirs, expect = server[name], cases[case_id]["expect"]
        slack = int((datetime.now(UTC) - started).total_seconds()) + 30
        for column, field in (("Ready", "ready"), ("Status", "status"), ("Restarts", "restarts")):
            if not same_cell(theirs[column], expect[field], slack):
                differences.append(f"{case_id} {column}: server {theirs[column]!r}, "
                                   f"fixture {expect[field]!r}")
    assert differences == []


def test_the_server_really_printed_the_hard_cases(
        printed: tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]) -> None:
    """Only meaningful if the written status and the deletions took effect on the server."""
    server, names, _refused = printed
    assert len(names) == len(CASES) and set(server) == set(names)
    statuses = {row["Status"] for row in server.values()}
    assert {"Terminating", "SchedulingGated", "Init:1/2", "NotReady", "podCrash", "podPhase"} <= statuses
    assert any(row["Restarts"].endswith("(5d ago)") for row in server.values())
