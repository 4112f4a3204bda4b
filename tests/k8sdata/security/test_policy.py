"""KAMS_SECURITY_SEVERITY is one policy for every finding: the YAML checks and the audits written in code
(RBAC, network exposure, versions, image vulnerabilities)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from k8sdata.cli import main as cli_main
from k8sdata.config import Settings
from k8sdata.security.engine import CheckResult, Finding, ScanResult
from k8sdata.security.policy import AUDIT_IDS, apply_policy, policy_checks


def cluster_scan(kube_api: Any, severity: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    code = cli_main(["scan", "--cluster", "--format", "json"], out=out, err=io.StringIO(), environ={
        "KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": "5",
        "KAMS_SECURITY_SEVERITY": severity})
    assert code == 0
    return json.loads(out.getvalue())


def test_audit_findings_obey_the_overrides_on_the_live_cluster(kube_api: Any) -> None:
    before = cluster_scan(kube_api, "")
    assert {f["severity"] for f in before if f["id"] == "rbac-cluster-admin"} == {"danger"}
    assert any(f["id"] == "network-policy-missing" for f in before)
    after = cluster_scan(kube_api, ",".join(
        ["rbac-cluster-admin=info", "network-policy-missing=ignore", "pss-privileged=info"]))
    assert {f["severity"] for f in after if f["id"] == "rbac-cluster-admin"} == {"info"}
    assert not [f for f in after if f["id"] == "network-policy-missing"]
    assert {f["severity"] for f in after if f["id"] == "pss-privileged"} == {"info"}
    # Nothing else moved.
    untouched = {"rbac-cluster-admin", "network-policy-missing", "pss-privileged"}
    assert sorted((f["id"], f["name"], f["severity"]) for f in before if f["id"] not in untouched) == sorted(
        (f["id"], f["name"], f["severity"]) for f in after if f["id"] not in untouched)


def test_the_score_counts_the_overridden_severity() -> None:
    finding = Finding("k8s-version-eol", "t", "danger", "Versions", "Cluster", "", "c", None, "m", "r", None)
    unit = CheckResult("k8s-version-eol", "Versions", "danger", "Cluster", "", "c", False, False)
    settings = Settings.from_env({"KAMS_SECURITY_SEVERITY": "k8s-version-eol=warning"})
    result = apply_policy(ScanResult([finding], [unit], ["why"]), settings)
    assert [f.severity for f in result.findings] == ["warning"]
    assert [r.severity for r in result.results] == ["warning"] and result.skipped == ["why"]
    ignored = apply_policy(ScanResult([finding], [unit]), Settings.from_env(
        {"KAMS_SECURITY_SEVERITY": "k8s-version-eol=ignore"}))
    assert ignored.findings == [] and ignored.results == []


def test_every_audit_id_is_accepted_and_typos_still_raise() -> None:
    every = ",".join(f"{audit_id}=warning" for audit_id in sorted(AUDIT_IDS))
    assert policy_checks(Settings.from_env({"KAMS_SECURITY_SEVERITY": every}))
    # The Kubernetes components' vulnerability checks are configurable like the images' ones.
    assert policy_checks(Settings.from_env({"KAMS_SECURITY_SEVERITY":
                                            "kubernetes-component-vulnerabilities-high=info"}))
    with pytest.raises(ValueError, match="rbac-clusteradmin"):
        policy_checks(Settings.from_env({"KAMS_SECURITY_SEVERITY": "rbac-clusteradmin=info"}))
