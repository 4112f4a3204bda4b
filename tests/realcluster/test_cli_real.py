"""The command line (`python -m k8sdata`) against the real kube-apiserver with the demo loaded, read as the
deployed ServiceAccount kams/kams (KUBECONFIG=kams.kubeconfig): what it prints is held to the server's own
printer (the Table kubectl asks for) and to the objects loaded.

The real server has no kubelet and no metrics-server, as a cluster whose nodes are cut off or that never
installed metrics-server: those reads must end in a plain sentence, never a traceback or a refusal.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sdata.config import Settings
from k8sdata.errors import KubeletUnreachable, NotInstalled
from k8sdata.pods.resources import current_usage
from k8sdata.pods.workloads import node_usage
from k8sdata.sources.kube import KubeClient
from sandbox.demo_names import COMPLETED_POD, CRASHLOOP_POD, NODES, OOMKILLED_POD, PENDING_POD, WEB
from sandbox.realcluster import RealCluster
from tests.realcluster.realdemo import run_cli, server_rows

#: A Forbidden sentence (k8sdata.errors.Forbidden) or the server's own refusal: none may be printed.
REFUSED = re.compile(r"forbidden|not allowed|Grant the KAMS ServiceAccount", re.IGNORECASE)
#: "11 (4m12s ago)": the time since the last restart is taken at the server's and at KAMS's moment.
SINCE = re.compile(r" \(.+ ago\)$")


def demo_pods(objects: list[dict[str, Any]]) -> set[str]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in objects if o["kind"] == "Pod"}


def cli_json(env: dict[str, str], *arguments: str) -> list[dict[str, Any]]:
    done = run_cli(env, *arguments, "--format", "json")
    assert not REFUSED.search(done.stderr), done.stderr
    return list(json.loads(done.stdout))


def test_pods_prints_every_demo_pod_as_the_servers_printer_does(
        real_demo: RealCluster, real_demo_env: dict[str, str],
        real_demo_objects: list[dict[str, Any]]) -> None:
    printed = {f"{row['namespace']}/{row['name']}": row for row in cli_json(real_demo_env, "pods")}
    server = server_rows(real_demo, "/api/v1/pods")
    expected = demo_pods(real_demo_objects)
    assert len(expected) >= 20
    assert expected <= set(printed) and expected <= set(server)
    differences = []
    for key in sorted(expected):
        ours, theirs = printed[key], server[key]
        for field, column in (("ready", "Ready"), ("status", "Status"), ("restarts_display", "Restarts")):
            mine, kubectl = str(ours[field]), str(theirs[column])
            if field == "restarts_display":
                mine, kubectl = SINCE.sub(" (ago)", mine), SINCE.sub(" (ago)", kubectl)
            if mine != kubectl:
                differences.append(f"{key} {column}: server {theirs[column]!r}, KAMS {ours[field]!r}")
    assert differences == []
    # The demo's trouble cases really reached the server's printer (status written, not just created).
    statuses = {key: server[key]["Status"] for key in expected}
    assert statuses[f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"] == "CrashLoopBackOff"
    assert statuses[f"{PENDING_POD.namespace}/{PENDING_POD.pod}"] == "Pending"
    assert statuses[f"{COMPLETED_POD.namespace}/{COMPLETED_POD.pod}"] == "Completed"
    assert printed[f"{OOMKILLED_POD.namespace}/{OOMKILLED_POD.pod}"]["restarts"] == 3


def test_pods_table_and_namespace_filter(real_demo: RealCluster, real_demo_env: dict[str, str]) -> None:
    table = run_cli(real_demo_env, "pods", "--namespace", "shop").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    server = server_rows(real_demo, "/api/v1/namespaces/shop/pods")
    assert {f"shop/{line.split()[0]}" for line in table[1:]} == set(server)
    assert any(line.split()[:4] == [WEB.pod, "1/1", "Running", "0"] for line in table[1:]), table


def test_events_are_the_loaded_events(real_demo: RealCluster, real_demo_env: dict[str, str],
                                      real_demo_objects: list[dict[str, Any]]) -> None:
    printed = cli_json(real_demo_env, "events")
    server = server_rows(real_demo, "/api/v1/events")
    ours = sorted((r["namespace"], r["type"], r["reason"], r["object"], r["message"], r["count"])
                  for r in printed)
    kubectl = sorted((key.split("/")[0], row["Type"], row["Reason"], row["Object"], row["Message"],
                      row["Count"]) for key, row in server.items())
    assert ours == kubectl
    # Every loaded event, with LAST SEEN its own time (lastTimestamp as loaded), not when the server stored
    # it. The server adds events of its own (kube-apiserver's ClusterIP repair in default, for one).
    loaded = {(o["metadata"]["namespace"], o["reason"], o["message"]): o["lastTimestamp"]
              for o in real_demo_objects if o["kind"] == "Event"}
    seen = {(r["namespace"], r["reason"], r["message"]): r["last_seen"] for r in printed}
    assert len(loaded) >= 40 and {key: seen.get(key) for key in loaded} == loaded
    warnings = {(r["reason"], r["object"]) for r in cli_json(real_demo_env, "events", "--type", "Warning")}
    assert ("BackOff", f"pod/{CRASHLOOP_POD.pod}") in warnings
    assert ("FailedScheduling", f"pod/{PENDING_POD.pod}") in warnings
    assert all(r["type"] == "Normal" for r in printed if (r["reason"], r["object"]) not in warnings)


def test_nodes_match_the_servers_printer(real_demo: RealCluster, real_demo_env: dict[str, str]) -> None:
    printed = {row["name"]: row for row in cli_json(real_demo_env, "nodes")}
    server = server_rows(real_demo, "/api/v1/nodes")
    assert set(NODES) <= set(printed) and set(printed) == set(server)
    for name in NODES:
        assert (printed[name]["status"], printed[name]["roles"], printed[name]["version"]) == (
            server[name]["Status"], server[name]["Roles"], server[name]["Version"])
    assert printed["demo-control-plane"]["roles"] == "control-plane"


def test_scan_of_the_cluster_finds_problems_and_is_refused_nothing(real_demo_env: dict[str, str]) -> None:
    done = run_cli(real_demo_env, "scan", "--cluster", "--format", "json")
    # Every source the scan reads was allowed: nothing was skipped, and so nothing said on stderr.
    assert done.stderr == ""
    findings = json.loads(done.stdout)
    found = {(f["id"], f["kind"], f["namespace"], f["name"]) for f in findings}
    assert ("rbac-cluster-admin", "ClusterRoleBinding", "", "legacy-portal-admin") in found
    assert ("pss-privileged", "Deployment", "legacy", "legacy-portal") in found
    # Read from the real server: its version against the demo nodes' kubelets (v1.30) is a real skew.
    assert set(NODES) <= {name for check, _kind, _ns, name in found if check == "kubelet-version-skew"}
    table = run_cli(real_demo_env, "scan", "--cluster").stdout
    assert re.search(r"^Score: .*Overall \d+(\.\d+)? \([A-F]\)$", table, re.MULTILINE), table[-500:]
    assert not REFUSED.search(table)


def test_snapshot_writes_its_tables_to_a_folder(real_demo_env: dict[str, str], tmp_path: Path,
                                                real_demo_objects: list[dict[str, Any]]) -> None:
    done = run_cli(real_demo_env, "snapshot", "--to", str(tmp_path / "archive"))
    # <prefix>/cluster=<c>/dt=<day>/<HHMMSSZ>-<table>.csv, then the manifest (k8sdata.archive.store).
    files = {path.name.split("-", 1)[1]: path for path in (tmp_path / "archive").rglob("*Z-*.*")}
    assert set(files) == {"pods.csv", "events.csv", "nodes.csv", "workloads.csv", "security_findings.csv",
                          "security_scores.csv", "notes.csv", "manifest.json"}, done.stdout
    for name in files:
        assert re.search(rf"cluster=kams-real/dt=\d{{4}}-\d\d-\d\d/\d{{6}}Z-{name}", done.stdout), done.stdout
    with files["pods.csv"].open(encoding="utf-8") as handle:
        pods = {f"{row['namespace']}/{row['name']}": row for row in csv.DictReader(handle)}
    assert demo_pods(real_demo_objects) <= set(pods)
    assert pods[f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"]["status"] == "CrashLoopBackOff"
    with files["notes.csv"].open(encoding="utf-8") as handle:
        notes = list(csv.DictReader(handle))
    # The only notes are of the one source deliberately absent; nothing was refused.
    absent = "Prometheus is not configured. Set PROMETHEUS_URL to your Prometheus server's address."
    assert notes == [{"table": "requests", "sentence": absent}, {"table": "alerts", "sentence": absent}]
    assert "note (requests): Prometheus is not configured" in done.stderr
    assert "from Prometheus" not in done.stderr  # it did not claim to read a Prometheus it has not got
    assert not REFUSED.search(done.stderr + "".join(path.read_text() for path in files.values()))


def test_logs_without_a_kubelet_are_one_sentence(real_demo_env: dict[str, str]) -> None:
    """No kubelet answers for the demo's nodes: kube-apiserver fails with Go's dial error (HTTP 500),
    which KAMS says in words, naming the kubelet, instead of "the API returned an error"."""
    done = run_cli(real_demo_env, "logs", f"{WEB.namespace}/{WEB.pod}", check=False)
    assert done.returncode == 1 and done.stdout == ""
    sentence = done.stderr.strip()
    assert sentence.startswith("The API server could not reach the kubelet that keeps this log (kubelet "
                               "demo-worker-1:10250: "), sentence
    assert sentence.endswith("the pod's status and its events still tell what happened."), sentence
    assert "HTTP 500" not in sentence and "\n" not in sentence


def test_logs_of_an_unscheduled_pod_say_it_has_no_node(real_demo_env: dict[str, str]) -> None:
    """kube-apiserver answers 204 No Content for a pod no node runs: not "the container wrote nothing"."""
    done = run_cli(real_demo_env, "logs", f"{PENDING_POD.namespace}/{PENDING_POD.pod}", check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        f'Pod "{PENDING_POD.pod}" is not scheduled on a node yet, so container "{PENDING_POD.container}" has '
        "not started. Its log appears once the pod is scheduled and has started.")


@pytest.fixture
def kams_client(real_demo_env: dict[str, str]) -> Iterator[KubeClient]:
    client = KubeClient(Settings.from_env(real_demo_env))
    yield client
    client.close()


def test_missing_metrics_api_is_a_sentence_naming_metrics_server(kams_client: KubeClient) -> None:
    """No command prints usage, and pods, nodes and snapshot above need none; the pages' usage comes
    from here, and without metrics-server (and without Prometheus) it is this sentence."""
    sentence = ("This cluster does not serve metrics.k8s.io: metrics-server is not installed. Install "
                "metrics-server (what kubectl top reads), or set PROMETHEUS_URL to a Prometheus that "
                "scrapes the kubelets' cAdvisor.")
    with pytest.raises(NotInstalled) as pods:
        current_usage(None, kams_client, None)
    assert pods.value.sentence == sentence
    with pytest.raises(NotInstalled) as nodes:
        node_usage(None, kams_client, kams_client.list_pods())
    assert nodes.value.sentence == sentence


def test_kubelet_failure_is_typed_for_every_caller(kams_client: KubeClient) -> None:
    with pytest.raises(KubeletUnreachable) as caught:
        kams_client.pod_log(WEB.namespace, WEB.pod, container=WEB.container, tail_lines=10)
    assert caught.value.kind == "kubelet_unreachable"
    assert caught.value.detail.startswith("kubelet demo-worker-1:10250: dial tcp")
