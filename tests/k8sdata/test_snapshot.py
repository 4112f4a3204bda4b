"""k8sdata.archive.snapshot and `python -m k8sdata snapshot` against the stand-in API server (kube_api), the
real Prometheus (prometheus) and the real SeaweedFS (s3), and a folder.

The tables a snapshot holds, the fixed number of requests it sends to the API server, a forbidden source
turning into a note while the other tables are written, the CLI to a folder and to S3, and the read-back
the Security page's score trend does (list_snapshots + download of security_scores)."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.archive.snapshot import (
    FINDING_COLUMNS,
    NOTES_TABLE,
    SCORE_COLUMNS,
    SNAPSHOT_REQUESTS,
    TABLES,
    cluster_name,
    take_snapshot,
)
from k8sdata.archive.spool import Spool
from k8sdata.cli import main as cli_main
from k8sdata.config import Settings
from k8sdata.security.engine import EXEMPT_ANNOTATION, EXEMPT_REASON_ANNOTATION
from k8sdata.sources.archive import FolderArchive, S3Archive, archive_from_target
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.prom import PromClient
from sandbox import demo_names
from sandbox.seaweed import SeaweedS3
from tests.plugins.s3 import isolate_aws

AT = datetime(2026, 11, 27, 8, 30, 0, tzinfo=UTC)
TIMEOUT = "5"


def reader_settings(kube_api: Any, **extra: str) -> Settings:
    return Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": TIMEOUT,
                              "HOME": "/nonexistent", **extra})


def snapshot_of(kube_api: Any, prom: PromClient | None = None) -> dict[str, pd.DataFrame]:
    settings = reader_settings(kube_api)
    kube = KubeClient(settings)
    try:
        return take_snapshot(kube, prom, settings)
    finally:
        kube.close()


def notes_for(tables: dict[str, pd.DataFrame], table: str) -> list[str]:
    notes = tables.get(NOTES_TABLE)
    return [] if notes is None else notes.loc[notes["table"] == table, "sentence"].tolist()


def test_snapshot_holds_the_demo_cluster_in_a_fixed_number_of_requests(kube_api: Any, prometheus: Any
                                                                       ) -> None:
    server = kube_api.server
    server.clear_request_log()
    prom = PromClient(prometheus.url, 10.0)
    steps: list[str] = []
    settings = reader_settings(kube_api)
    kube = KubeClient(settings)
    try:
        tables = take_snapshot(kube, prom, settings, progress=steps.append)
    finally:
        kube.close()
        prom.close()
    paths = [record.path for record in server.request_log]
    # One request per resource (the demo's lists fit one page), pods listed once for four consumers.
    assert len(paths) == SNAPSHOT_REQUESTS, paths
    assert Counter(paths).most_common(1)[0][1] == 1
    assert not any("secrets" in path for path in paths)
    assert steps[-1] == "Snapshot taken." and len(steps) >= 5

    assert set(TABLES) <= set(tables)
    pods = tables["pods"]
    for app in demo_names.SAMPLE_APPS:
        assert ((pods["namespace"] == app.namespace) & (pods["name"] == app.pod)).any(), app.pod
    crash = demo_names.CRASHLOOP_POD
    crash_events = tables["events"][tables["events"]["object"] == f"pod/{crash.pod}"]
    assert "BackOff" in set(crash_events["reason"])
    assert set(tables["nodes"]["name"]) == set(demo_names.NODES)

    requests = tables["requests"]
    web = requests[(requests["namespace"] == "shop") & (requests["workload"] == "web")]
    # One row per workload and convention (its own metrics, and the ingress in front of it).
    assert len(web) == web["convention"].nunique() >= 1 and (web["rps"] > 0).all()
    assert set(requests["pod"]) == {""}  # per workload, not per pod

    scores = tables["security_scores"]
    assert list(scores.columns) == SCORE_COLUMNS
    overall = scores[scores["category"] == "Overall"].iloc[0]
    assert 0 <= overall["value"] <= 100 and overall["grade"] in "ABCDF"
    assert overall["passed"] == scores.loc[scores["category"] != "Overall", "passed"].sum()
    findings = tables["security_findings"]
    assert list(findings.columns) == FINDING_COLUMNS
    insecure = findings[findings["name"].str.startswith("legacy-portal")]
    assert "pss-privileged" in set(insecure["id"])  # the demo's insecure workload
    namespace, binding = demo_names.OVERPRIVILEGED_ROLEBINDING
    assert ((findings["namespace"] == namespace) & (findings["name"] == binding)).any()
    assert "Prometheus" not in " ".join(notes_for(tables, "requests"))


def test_exempt_findings_are_kept_with_their_reason(kube_faults: Any, kube_api: Any) -> None:
    pod = demo_names.INSECURE_POD
    [deployment] = [obj for obj in kube_faults.store.objects(("apps", "deployments"), pod.namespace)
                    if pod.pod.startswith(obj["metadata"]["name"])]
    metadata = deployment["metadata"]
    annotations = {**(metadata.get("annotations") or {}), EXEMPT_ANNOTATION: "pss-privileged",
                   EXEMPT_REASON_ANNOTATION: "vendor appliance, isolated"}
    kube_faults.store.update({**deployment, "metadata": {**metadata, "annotations": annotations}})

    findings = snapshot_of(kube_api)["security_findings"]
    exempt = findings[findings["exempt"]]
    assert list(exempt["id"].unique()) == ["pss-privileged"]
    assert set(exempt["exempt_reason"]) == {"vendor appliance, isolated"}


def test_a_forbidden_source_is_a_note_and_the_other_tables_are_written(kube_faults: Any, kube_api: Any,
                                                                       tmp_path: Path) -> None:
    kube_faults.set_fault(r"^/api/v1/events$", "forbidden")
    tables = snapshot_of(kube_api)
    assert "events" not in tables
    [sentence] = notes_for(tables, "events")
    assert "forbid" in sentence.lower() or "permission" in sentence.lower()
    assert {"pods", "nodes", "security_findings", "security_scores"} <= set(tables)
    assert notes_for(tables, "requests")  # no Prometheus given: said, not fatal

    archive = FolderArchive(tmp_path)
    keys = archive.upload_snapshot(tables, "kams-demo", "kams-demo", AT)
    [snapshot] = archive.list_snapshots()
    *table_keys, manifest = keys  # the manifest is written last
    assert snapshot.keys == tuple(sorted(table_keys)) and NOTES_TABLE in snapshot.tables
    assert snapshot.manifest_key == manifest and archive.verify_snapshot(snapshot) == []
    notes = pd.read_csv(io.BytesIO(archive.download(snapshot.key(NOTES_TABLE))))
    assert "events" in set(notes["table"])


def test_forbidden_pods_leave_a_note_on_pods_and_security_but_events_arrive(kube_faults: Any,
                                                                            kube_api: Any) -> None:
    kube_faults.set_fault(r"^/api/v1/pods$", "forbidden")
    tables = snapshot_of(kube_api)
    assert "pods" not in tables and notes_for(tables, "pods")
    assert len(tables["events"]) > 0 and len(tables["nodes"]) == len(demo_names.NODES)
    assert any("Pods were not scanned" in sentence for sentence in notes_for(tables, "security_findings"))


def test_forbidden_pods_leave_unscored_rows_not_a_score(kube_faults: Any, kube_api: Any,
                                                         tmp_path: Path) -> None:
    """No score from missing inputs: the categories that read pods keep their rows with an empty value
    and grade and a note; the Overall is withheld; the archived CSV has empty cells, which the Security
    page's trend skips."""
    from k8sdata.archive.scores import scores_from_csv
    from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE

    kube_faults.set_fault(r"^/api/v1/pods$", "forbidden")
    tables = snapshot_of(kube_api)
    scores = tables["security_scores"].set_index("category")
    assert list(tables["security_scores"].columns) == SCORE_COLUMNS and SCORE_COLUMNS[-1] == "note"
    for category in ("Network", "Pod Security", "Vulnerabilities", "Overall"):
        row = scores.loc[category]
        assert pd.isna(row["value"]) and pd.isna(row["grade"]), category
    assert scores.loc["Network", "note"].startswith("Not scored: the Pods list could not be read.")
    assert scores.loc["Overall", "note"].startswith("Withheld: ")
    assert 0 <= scores.loc["RBAC", "value"] <= 100 and scores.loc["RBAC", "note"] == ""

    (tmp_path / "archive").mkdir()
    store = FolderArchive(tmp_path / "archive")
    store.upload_snapshot({SECURITY_SCORES_TABLE: tables["security_scores"]}, "demo", None, at=AT)
    body = store.download(store.list_snapshots()[0].key(SECURITY_SCORES_TABLE))
    overall_line = next(line for line in body.decode().splitlines() if line.startswith("Overall,"))
    assert overall_line.startswith("Overall,,,")  # empty value and grade, not 0 or 100
    trend = scores_from_csv(body)
    assert "Overall" not in set(trend["category"]) and "Network" not in set(trend["category"])
    assert "RBAC" in set(trend["category"]) and trend["value"].notna().all()


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_hung_api_server_costs_one_timeout_not_twenty(kube_faults: Any, kube_api: Any) -> None:
    kube_faults.set_fault(r"^/api/v1/pods$", "hang")
    kube_faults.clear_request_log()
    settings = reader_settings(kube_api, KAMS_REQUEST_TIMEOUT="1")
    kube = KubeClient(settings)
    began = time.monotonic()
    try:
        tables = take_snapshot(kube, None, settings)
    finally:
        kube.close()
    assert time.monotonic() - began < 4  # one 1 s timeout, then no further request
    # The hung request is logged only once the server notices the client left; nothing else was sent.
    assert {record.path for record in kube_faults.request_log} <= {"/api/v1/pods"}
    assert set(tables) == {NOTES_TABLE}
    assert {"pods", "events", "nodes", "security_findings"} <= set(tables[NOTES_TABLE]["table"])


def test_cli_exits_1_and_writes_nothing_when_the_api_server_is_down(tmp_path: Path, kube_api: Any) -> None:
    kubeconfig = Path(kube_api.reader_kubeconfig).read_text(encoding="utf-8")
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(kubeconfig.replace(f":{kube_api.server.port}", f":{_dead_port()}"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["snapshot", "--to", str(tmp_path / "archive")], out=out, err=err,
                    environ={"KUBECONFIG": str(dead), "KAMS_REQUEST_TIMEOUT": TIMEOUT,
                             "HOME": "/nonexistent"})
    assert code == 1
    assert "the snapshot was not written" in err.getvalue()
    assert FolderArchive(tmp_path / "archive").list_snapshots() == []
    assert out.getvalue() == ""


def test_cli_to_a_folder_and_the_security_trend_reads_it_back(kube_api: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from k8sdata.archive.scores import scores_from_csv
    from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE

    target = tmp_path / "snapshots"  # created by the command
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["snapshot", "--to", str(target)], out=out, err=err,
                    environ={"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": TIMEOUT,
                             "HOME": "/nonexistent"})
    assert code == 0, err.getvalue()
    printed = out.getvalue()
    assert "security_scores.csv" in printed and "rows (pods)" in printed
    progress = capsys.readouterr().err  # progress and notes go to stderr, the keys to stdout
    assert "Listing pods..." in progress
    assert "note (requests): Prometheus is not configured" in progress  # no PROMETHEUS_URL

    [snapshot] = FolderArchive(target).list_snapshots()
    assert snapshot.cluster == demo_names.CLUSTER_NAME
    assert SECURITY_SCORES_TABLE in snapshot.tables
    assert {"pods", "events", "nodes", "security_findings"} <= set(snapshot.tables)
    scores = scores_from_csv(FolderArchive(target).download(snapshot.key(SECURITY_SCORES_TABLE)))
    assert "Overall" in set(scores["category"]) and scores["value"].between(0, 100).all()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3: SeaweedS3) -> Iterator[pytest.MonkeyPatch]:
    """boto3's chain sees only the sandbox store's keys (as a CronJob's pod would through its role)."""
    isolate_aws(monkeypatch, tmp_path, s3.access_key, s3.secret_key)
    yield monkeypatch


def test_cli_to_s3_writes_every_table_and_a_bad_bucket_exits_1(kube_api: Any, s3: SeaweedS3,
                                                               aws_env: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    prefix = f"snap-{uuid.uuid4().hex[:8]}"
    environ = {"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": TIMEOUT,
               "AWS_ENDPOINT_URL_S3": s3.endpoint_url, "HOME": "/nonexistent",
               "KAMS_SPOOL_DIR": str(tmp_path / "spool")}
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["snapshot", "--to", f"s3://{s3.bucket}/{prefix}", "--cluster", "prod-eu"], out=out,
                    err=err, environ=environ)
    assert code == 0, err.getvalue()
    archive = archive_from_target(f"s3://{s3.bucket}/{prefix}", Settings.from_env(environ))
    assert isinstance(archive, S3Archive)
    [snapshot] = archive.list_snapshots()
    assert snapshot.cluster == "prod-eu"
    # No Prometheus here: requests and alerts are notes; the workloads come from the scan's own lists.
    assert {"pods", "events", "nodes", "workloads", "security_findings", "security_scores", NOTES_TABLE} == \
        set(snapshot.tables)
    workloads = pd.read_csv(io.BytesIO(archive.download(snapshot.key("workloads"))))
    assert {"Deployment"} <= set(workloads["kind"]) and "rollout" in workloads.columns
    for key in snapshot.keys:
        assert key in out.getvalue()
    pods = pd.read_csv(io.BytesIO(archive.download(snapshot.key("pods"))))
    assert demo_names.WEB.pod in set(pods["name"])

    err = io.StringIO()
    code = cli_main(["snapshot", "--to", "s3://no-such-bucket-kams/x"], out=io.StringIO(), err=err,
                    environ=environ)
    assert code == 1
    assert "no-such-bucket-kams" in err.getvalue()
    # Not lost: kept for that bucket, which the next run tries first (k8sdata.archive.spool;
    # test_archive_spool.py).
    assert "The snapshot was kept in the spool" in err.getvalue()
    assert Spool(tmp_path / "spool").count() == 1


def test_demo_snapshotter_logs_a_failure_and_keeps_going(capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox.stack import Snapshotter

    outcomes: list[Exception | str] = [RuntimeError("S3 went away"), "snapshot archived: 6 tables"]
    done = threading.Event()

    def take() -> str:
        outcome = outcomes.pop(0) if outcomes else "again"
        if not outcomes:
            done.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    snapshots = Snapshotter(take, interval=0.05).start()
    try:
        assert done.wait(5)
    finally:
        snapshots.stop()
    assert snapshots.failures == 1 and snapshots.runs >= 2
    assert not snapshots._thread.is_alive()
    log = capsys.readouterr().err
    assert "snapshot failed: RuntimeError: S3 went away" in log
    assert "snapshot archived: 6 tables" in log


def test_the_severity_policy_covers_the_archived_audits_too(kube_api: Any) -> None:
    # The archived findings and score must be the page's: an override naming an audit id applies.
    settings = reader_settings(kube_api, KAMS_SECURITY_SEVERITY="rbac-cluster-admin=info")
    kube = KubeClient(settings)
    try:
        findings = take_snapshot(kube, None, settings)["security_findings"]
    finally:
        kube.close()
    assert set(findings.loc[findings["id"] == "rbac-cluster-admin", "severity"]) == {"info"}
    assert set(findings.loc[findings["id"] == "pss-privileged", "severity"]) == {"danger"}


def test_cluster_name_reads_every_kubeconfig_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot's folder is named after the context's cluster, wherever in $KUBECONFIG it is set."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
                     "contexts: [{name: dev, context: {cluster: dev-cluster, user: me}}]\n", encoding="utf-8")
    second.write_text("apiVersion: v1\nkind: Config\n"
                      "contexts: [{name: prod, context: {cluster: prod-eu, user: me}},"
                      " {name: dev, context: {cluster: shadowed, user: me}}]\n", encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    settings = Settings.from_env()
    assert cluster_name(settings, None) == "prod-eu"  # current-context from a, the context from b
    assert cluster_name(settings, "dev") == "dev-cluster"  # the first file to name it wins
    assert cluster_name(settings, "nowhere") is None
