"""k8sdata.logs.events (pure: classification, timeline, filters) and the `events` command's --kind, --reason
and --security options against the stand-in API server with the demo cluster."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.__main__ import main as cli_main
from k8sdata.logs.events import (
    CATEGORY_COUNT_COLUMNS,
    SECURITY_CATEGORIES,
    TIMELINE_COLUMNS,
    category_counts,
    classify_event,
    events_timeline,
    filter_events,
    object_kinds,
    security_events,
)
from k8sdata.pods.frames import EVENT_COLUMNS, events_frame

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# (reason, message, category): real messages from kubelet, scheduler, controllers and policy engines.
CASES = [
    ("FailedCreate", 'Error creating: pods "web-1" is forbidden: violates PodSecurity "restricted:latest": '
                     "privileged (container \"web\" must not set securityContext.privileged=true)",
     "Admission/policy"),
    ("FailedCreate", 'Error creating: admission webhook "validate.kyverno.svc" denied the request: '
                     "policy disallow-latest-tag", "Admission/policy"),
    ("FailedCreate", 'Error creating: pods "job-x" is forbidden: exceeded quota: compute, requested: '
                     "cpu=2", "Admission/policy"),
    ("FailedCreate", "Error creating: request denied by Gatekeeper: k8srequiredlabels", "Admission/policy"),
    ("FailedCreate", "Error creating: Internal error occurred: etcd timeout", None),
    ("PolicyViolation", "policy require-labels/check-for-labels fail", "Admission/policy"),
    ("Forbidden", "user cannot list pods", "Authorization"),
    ("FailedGetScale", 'deployments.apps "web" is forbidden: User "system:serviceaccount:kube-system:hpa" '
                       'cannot get resource "deployments/scale"', "Authorization"),
    ("FailedMount", 'MountVolume.SetUp failed for volume "config" : configmap "web-config" not found',
     "Mount"),
    ("FailedMount", 'MountVolume.SetUp failed for volume "token" : secrets "db" is forbidden: User '
                    '"system:node:n1" cannot get resource "secrets"', "Authorization"),
    ("FailedAttachVolume", "AttachVolume.Attach failed for volume pvc-1", "Mount"),
    ("BackOff", "Back-off restarting failed container web in pod web-1", "BackOff"),
    ("BackOff", 'Back-off pulling image "example/web:9.9"', "Image pull"),
    ("OOMKilling", "Memory cgroup out of memory: Killed process 4821 (thumbnailer)", "OOM"),
    ("FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.", "Scheduling"),
    ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "Probe"),
    ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 403", "Probe"),
    ("Failed", 'Failed to pull image "example/web:9.9": rpc error: code = NotFound', "Image pull"),
    ("Failed", "Error: ErrImagePull", "Image pull"),
    ("Failed", "Error: ImagePullBackOff", "Image pull"),
    ("Failed", 'Error: configmap "x" not found', None),  # CreateContainerConfigError: not a pull
    ("ErrImageNeverPull", 'Container image "x" is not present with pull policy of Never', "Image pull"),
    ("Evicted", "The node was low on resource: memory.", "Eviction"),
    ("Preempting", "Preempted by pod 1234 on node n1", "Eviction"),
    ("Scheduled", "Successfully assigned shop/web-1 to node-a", None),
    ("Pulled", "Container image already present on machine", None),
    ("Started", "Started container web", None),
    ("", "", None),
]


@pytest.mark.parametrize(("reason", "message", "category"), CASES)
def test_classify_event(reason: str, message: str, category: str | None) -> None:
    assert classify_event(reason, message) == category


def test_every_category_is_described_and_reachable() -> None:
    reached = {category for _, _, category in CASES if category}
    assert reached == set(SECURITY_CATEGORIES)
    assert all(description.endswith(".") for description in SECURITY_CATEGORIES.values())


def test_reasons_are_matched_in_any_case() -> None:
    assert classify_event("oomkilling", "") == "OOM"
    assert classify_event(" FAILEDSCHEDULING ", "") == "Scheduling"


def event(name: str, reason: str, message: str, *, kind: str = "Pod", namespace: str = "shop",
          type_: str = "Warning", minutes_ago: float = 1, count: int = 1) -> dict[str, Any]:
    seen = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": f"{name}.{reason}", "namespace": namespace},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
            "reason": reason, "message": message, "type": type_, "count": count, "lastTimestamp": seen}


@pytest.fixture
def frame() -> pd.DataFrame:
    return events_frame([
        event("web-1", "Scheduled", "Successfully assigned", type_="Normal", minutes_ago=12),
        event("web-1", "BackOff", "Back-off restarting failed container", minutes_ago=2, count=7),
        event("node-a", "OOMKilling", "Killed process 1", kind="Node", namespace="default", minutes_ago=3,
              count=2),
        event("web", "FailedCreate", 'pods "web-x" is forbidden: violates PodSecurity "baseline"',
              kind="ReplicaSet", minutes_ago=7),
        event("db-0", "Unhealthy", "Liveness probe failed", namespace="data", minutes_ago=4),
        event("db-0", "Pulled", "already present", namespace="data", type_="Normal", minutes_ago=4.5),
    ], now=NOW)


def test_security_events_keep_the_frame_and_add_the_category(frame: pd.DataFrame) -> None:
    picked = security_events(frame)
    assert list(picked.columns) == [*EVENT_COLUMNS, "category"]
    # newest first, as events_frame orders them
    assert picked["object"].tolist() == ["pod/web-1", "node/node-a", "pod/db-0", "replicaset/web"]
    assert picked["category"].tolist() == ["BackOff", "OOM", "Probe", "Admission/policy"]
    assert security_events(frame.iloc[0:0]).empty
    assert "category" in security_events(frame.iloc[0:0]).columns


def test_category_counts_has_every_category(frame: pd.DataFrame) -> None:
    counts = category_counts(security_events(frame))
    assert list(counts.columns) == CATEGORY_COUNT_COLUMNS
    assert counts["category"].tolist() == list(SECURITY_CATEGORIES)
    by = counts.set_index("category")
    assert (by.loc["BackOff", "events"], by.loc["BackOff", "occurrences"]) == (1, 7)
    assert (by.loc["OOM", "events"], by.loc["OOM", "occurrences"]) == (1, 2)
    assert by.loc["Eviction", "events"] == 0 and by.loc["Eviction", "occurrences"] == 0
    empty = category_counts(security_events(frame.iloc[0:0]))
    assert empty["events"].sum() == 0 and len(empty) == len(SECURITY_CATEGORIES)


def test_events_timeline_buckets_by_type(frame: pd.DataFrame) -> None:
    timeline = events_timeline(frame, bucket="5min")
    assert list(timeline.columns) == TIMELINE_COLUMNS
    assert timeline["time"].is_monotonic_increasing
    as_set = {(t.strftime("%H:%M"), kind, n) for t, kind, n in timeline.itertuples(index=False)}
    # 11:48 Normal; 11:53 Warning (FailedCreate); 11:55.5 Normal + 11:56, 11:57 Warning; 11:58 Warning
    assert as_set == {("11:45", "Normal", 1), ("11:50", "Warning", 1), ("11:55", "Normal", 1),
                      ("11:55", "Warning", 3)}
    assert int(timeline["events"].sum()) == len(frame)
    empty = events_timeline(frame.iloc[0:0])
    assert empty.empty and list(empty.columns) == TIMELINE_COLUMNS


def test_filters(frame: pd.DataFrame) -> None:
    assert object_kinds(frame).tolist() == ["pod", "node", "pod", "pod", "replicaset", "pod"]
    assert len(filter_events(frame)) == len(frame)
    assert set(filter_events(frame, types=["Normal"])["reason"]) == {"Scheduled", "Pulled"}
    assert set(filter_events(frame, kinds=["Node"])["reason"]) == {"OOMKilling"}
    assert set(filter_events(frame, reasons=["backoff", "UNHEALTHY"])["reason"]) == {"BackOff", "Unhealthy"}
    assert set(filter_events(frame, namespaces=["data"])["object"]) == {"pod/db-0"}
    assert filter_events(frame, objects=["pod/db-0"], types=["Warning"])["reason"].tolist() == ["Unhealthy"]
    assert filter_events(frame, text="PODSECURITY")["reason"].tolist() == ["FailedCreate"]
    assert filter_events(frame, kinds=["deployment"]).empty


# --------------------------------------------------------------------------------------------- CLI


def run_cli(args: list[str], kubeconfig: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(args, out=out, err=err, environ={"KUBECONFIG": str(kubeconfig),
                                                     "KAMS_REQUEST_TIMEOUT": "5"})
    return code, out.getvalue(), err.getvalue()


def test_cli_security_kind_and_reason(kube_api: Any) -> None:
    code, out, err = run_cli(["events", "--security", "--format", "json"], kube_api.reader_kubeconfig)
    assert code == 0, err
    records = json.loads(out)
    categories = {record["category"] for record in records}
    assert {"BackOff", "OOM", "Probe", "Scheduling"} <= categories
    assert all(classify_event(r["reason"], r["message"]) == r["category"] for r in records)
    assert "Scheduled" not in {r["reason"] for r in records}

    code, out, err = run_cli(["events", "--kind", "node", "--reason", "oomkilling"],
                             kube_api.reader_kubeconfig)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["NAMESPACE", "LAST", "SEEN", "TYPE"]
    assert len(lines) == 2 and "OOMKilling" in lines[1] and "node/" in lines[1]

    code, out, err = run_cli(["events", "--security", "-n", "legacy", "--reason", "BackOff"],
                             kube_api.reader_kubeconfig)
    assert code == 0, err
    header, *rows = out.strip().splitlines()
    assert header.split()[:6] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "CATEGORY"]
    assert rows and all(" BackOff " in row for row in rows)

    code, out, _ = run_cli(["events", "--kind", "NoSuchKind"], kube_api.reader_kubeconfig)
    assert (code, out) == (0, "No resources found.\n")
