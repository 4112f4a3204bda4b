"""AppTest of the Security page (pages/security.py, ui.security_view, ui.security_data) against the
stand-in Kubernetes API server with the demo cluster (fixture app_env)."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE
from k8sdata.security import Finding
from k8sdata.security.vulns import KBOM_HINT
from k8sdata.sources.archive import FolderArchive
from sandbox.demo_names import INSECURE_POD, OVERPRIVILEGED_ROLEBINDING
from tests.app.test_alerts_page import texts
from tests.k8sdata.security.test_vulns_cluster import DEMO_KBOM, remove_demo_kbom
from tests.plugins.app import page_script, run_app_test
from ui.security_view import FINDINGS_TABLE, findings_frame, in_namespace, severity_counts

pytestmark = pytest.mark.usefixtures("app_env")

PAGE = page_script("security")
PORTAL = "legacy-portal"  # the Deployment that owns the demo's insecure pod
PORTAL_NAMESPACE = INSECURE_POD.namespace


def run_page(namespace: str | None = None) -> AppTest:
    return run_app_test(PAGE, namespace)


def tables_with(at: AppTest, column: str) -> list[pd.DataFrame]:
    return [frame.value for frame in at.dataframe if column in frame.value.columns]


def all_findings(at: AppTest) -> pd.DataFrame:
    """Every findings table of the page (PSS, hygiene, RBAC, pinning) stacked."""
    return pd.concat(tables_with(at, "Remediation"), ignore_index=True)


def test_demo_insecure_workload_overprivileged_binding_and_pss_verdicts() -> None:
    at = run_page()
    assert [title.value for title in at.title] == ["Security"]
    assert [tab.label for tab in at.tabs] == ["Overview", "Pod Security Standards", "Workload hygiene",
                                             "RBAC", "Network", "Vulnerabilities", "Outdated software"]
    findings = all_findings(at)
    portal = findings[(findings["Namespace"] == PORTAL_NAMESPACE) & (findings["Object"] == PORTAL)]
    # The insecure workload breaks Baseline controls (privileged, hostPath, hostNetwork) and hygiene.
    assert {"pss-privileged", "pss-host-path-volumes", "pss-host-namespaces"} <= set(portal["Check"])
    assert set(portal.loc[portal["Check"] == "pss-privileged", "Level"]) == {"baseline"}
    assert "image-tag-mutable" in set(portal["Check"])
    assert (portal["Remediation"].str.len() > 0).all()
    # The over-privileged binding is found and named in who-can-do-what.
    namespace, binding = OVERPRIVILEGED_ROLEBINDING
    rbac = findings[findings["Check"].str.startswith("rbac-")]
    assert ((rbac["Namespace"] == namespace) & (rbac["Object"] == binding)).any(), rbac[["Check", "Object"]]
    who = tables_with(at, "Subject name")[0]
    assert f"{namespace}/{binding}" in set(who["Binding"])
    # PSS verdicts per namespace, with the namespaces' pod-security labels.
    verdicts = tables_with(at, "Passes Baseline today")[0].set_index("Namespace")
    assert not verdicts.loc[PORTAL_NAMESPACE, "Passes Baseline today"]
    assert verdicts.loc["shop", "enforce"] == "restricted"
    assert verdicts.loc[PORTAL_NAMESPACE, "enforce"] == ""
    assert verdicts.loc["shop", "Passes Baseline today"]
    # Score and grade per category, and KAMS's own read-only proof.
    scores = tables_with(at, "Dangers")[0].set_index("Category")
    assert {"Overall", "RBAC", "Network"} <= set(scores.index)
    assert set(scores["Grade"]) <= set("ABCDF")
    assert any(metric.label == "Overall score" for metric in at.metric)
    assert (at.status[0].label, at.status[0].state) == ("Security posture read.", "complete")
    assert scores["Score"].notna().all() and scores.loc["Overall", "Note"].startswith("From ")
    assert "KAMS is read-only" in texts(at)
    # Vulnerabilities per running image from the demo's Trivy VulnerabilityReports, with top CVEs.
    images = tables_with(at, "Fixable critical")[0]
    assert (images["Critical"] > 0).any() and (images["Source"] == "trivy").any()
    assert "CVE-2021-44228" in set(tables_with(at, "Fixed version")[0]["Id"])
    # Kubelet skew and the end-of-life table on the Outdated software tab.
    assert tables_with(at, "Minors behind") and tables_with(at, "End of life")


def test_exemption_shows_with_its_reason_and_still_fails_the_namespace(kube_faults: Any) -> None:
    deployment = kube_faults.store.get(("apps", "deployments"), PORTAL_NAMESPACE, PORTAL)
    annotations = {**(deployment["metadata"].get("annotations") or {}),
                   "kams.io/exempt": "pss-privileged",
                   "kams.io/exempt-reason": "legacy agent, replaced next quarter"}
    kube_faults.store.update({**deployment, "metadata": {**deployment["metadata"],
                                                         "annotations": annotations}})
    at = run_page(PORTAL_NAMESPACE)
    exempt = next(t for t in tables_with(at, "Exemption reason") if "Remediation" not in t.columns)
    row = exempt[exempt["Check"] == "pss-privileged"].iloc[0]
    assert (row["Object"], row["Exemption reason"]) == (PORTAL, "legacy agent, replaced next quarter")
    verdicts = tables_with(at, "Passes Baseline today")[0]
    assert list(verdicts["Namespace"]) == [PORTAL_NAMESPACE]  # the sidebar's namespace only
    assert not verdicts["Passes Baseline today"].iloc[0]  # Pod Security Admission ignores exemptions


def test_forbidden_rbac_is_a_sentence_and_other_tabs_keep_working(kube_faults: Any) -> None:
    kube_faults.set_fault(r"^/apis/rbac\.authorization\.k8s\.io/", "forbidden")
    kube_faults.set_fault(r"^/apis/apps/v1/(namespaces/[^/]+/)?deployments", "forbidden")
    at = run_page()
    said = texts(at)
    assert "RBAC was not audited" in said
    assert "Deployments were not scanned" in said
    assert "KAMS is not allowed to read this from the Kubernetes API" in said
    assert not tables_with(at, "Subject name")  # no who-can table without RBAC
    findings = all_findings(at)
    assert "pss-privileged" in set(findings["Check"])  # the other workload kinds were still scanned
    assert tables_with(at, "Pods not selected")  # network exposure still checked


#: The pods list, cluster-wide or per namespace (not one pod, not a log).
PODS_LIST = r"^/api/v1/(namespaces/[^/]+/)?pods$"
#: Green boxes that claim a clean result; each needs inputs that were read.
ALL_CLEAR = ("Every image is pinned by digest", "No vulnerabilities reported", "No workload hygiene findings",
             "No workload breaks a Pod Security Standards control", "No running image in this selection")


def overall_metric(at: AppTest) -> str:
    return str(next(metric.value for metric in at.metric if metric.label == "Overall score"))


def successes(at: AppTest) -> str:
    return " ".join(str(element.value).replace("\\", "") for element in at.success)


def test_every_read_failing_shows_no_score_no_check_mark_and_no_green(kube_faults: Any) -> None:
    kube_faults.set_fault(r"^/", "forbidden")
    at = run_page()
    assert at.status[0].state == "error" and "could not be read" in at.status[0].label
    assert "Security posture read." not in at.status[0].label
    assert overall_metric(at) == "Withheld"
    assert [metric.value for metric in at.metric if metric.label.endswith("findings")] == ["–"] * 3
    scores = tables_with(at, "Dangers")[0].set_index("Category")
    assert scores["Score"].isna().all() and (scores["Grade"] == "").all()
    assert scores.drop(index="Overall")["Note"].str.startswith("Not scored: ").all()
    assert not at.success, successes(at)  # no green box at all: nothing was read
    assert "Overall score: Withheld" in texts(at)


def test_pods_list_failing_withholds_what_needs_pods(kube_faults: Any) -> None:
    kube_faults.set_fault(PODS_LIST, "forbidden")
    at = run_page()
    assert at.status[0].state == "error" and "read in part" in at.status[0].label
    assert overall_metric(at) == "Withheld"
    scores = tables_with(at, "Dangers")[0].set_index("Category")
    for category in ("Network", "Pod Security", "Images", "Vulnerabilities"):
        assert pd.isna(scores.loc[category, "Score"]), category
        note = scores.loc[category, "Note"]
        assert note.startswith("Not scored: the Pods list could not be read."), (category, note)
    assert scores.loc["RBAC", "Score"] >= 0 and scores.loc["RBAC", "Grade"] in set("ABCDF")
    assert pd.isna(scores.loc["Overall", "Score"])
    said = texts(at)
    assert "Network: Not scored: the Pods list could not be read." in said
    green = successes(at)
    assert not [claim for claim in ALL_CLEAR if claim in green], green
    # Namespaces without findings get no Baseline verdict: their unread pods may break it.
    verdicts = tables_with(at, "Passes Baseline today")[0].set_index("Namespace")
    assert verdicts["Passes Baseline today"].isna().any()
    assert not verdicts["Passes Baseline today"].fillna(False).any()


def test_trend_from_archived_security_scores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAMS_S3_BUCKET", raising=False)
    (tmp_path / "archive").mkdir()
    monkeypatch.setenv("KAMS_ARCHIVE_DIR", str(tmp_path / "archive"))
    at = run_page()
    assert "The trend appears once archived snapshots include security findings" in texts(at)
    store = FolderArchive(tmp_path / "archive")
    now = datetime.now(UTC).replace(microsecond=0)
    for days, value in ((2, 71.5), (1, 80.0)):
        store.upload_snapshot({SECURITY_SCORES_TABLE: pd.DataFrame(
            {"category": ["Overall"], "value": [value], "grade": ["C"]})}, "demo", None,
            at=now - timedelta(days=days))
    from ui import security_data

    security_data.clear()
    at.run()
    assert "The trend appears once" not in texts(at)
    specs = [chart.proto.spec for kind in ("vega_lite_chart", "arrow_vega_lite_chart")
             for chart in at.get(kind)]
    assert any("taken_at" in spec for spec in specs), "no trend chart"


def test_findings_table_and_counts_are_plain_and_complete() -> None:
    hostile = Finding(id="pss-privileged", title="Privileged", severity="danger", category="Pod Security",
                      kind="Deployment", namespace="ns", name="=cmd|' /C calc'!A0", container="*app*",
                      message="<b>x</b> [link](http://e)", remediation="fix", pss="baseline",
                      exempt=True, exempt_reason="# heading")
    frame = findings_frame([hostile])
    assert list(frame.columns) == list(FINDINGS_TABLE.values())
    assert frame.iloc[0]["Message"] == "<b>x</b> [link](http://e)"  # kept as data, shown in a dataframe
    assert severity_counts([hostile])["findings"].sum() == 0  # exempted findings are not counted
    cluster_wide = Finding(**{**hostile.__dict__, "namespace": "", "exempt": False})
    assert in_namespace([hostile, cluster_wide], "other") == [cluster_wide]


def test_kubernetes_components_from_trivys_cluster_scan(kube_faults: Any) -> None:
    """Without a KBOM report the tab says how to turn the scan on. With the demo versions' KBOM report
    (plus one entry whose text is Markdown and HTML), the components table shows, as data."""
    remove_demo_kbom(kube_faults)  # the demo's own report; kube_faults restores it afterwards
    at = run_page()
    assert KBOM_HINT.split(":")[0] in texts(at)
    assert not tables_with(at, "Cluster version")
    before = tables_with(at, "Dangers")[0].set_index("Category").loc["Vulnerabilities"]
    kbom = copy.deepcopy(DEMO_KBOM)
    hostile = "**k8s.io/kube-proxy** <b>[x](http://e)</b>"
    kbom["report"]["vulnerabilities"].append({**kbom["report"]["vulnerabilities"][0],
                                              "vulnerabilityID": "CVE-2099-0001", "resource": hostile,
                                              "severity": "LOW", "fixedVersion": ""})
    kube_faults.store.add(kbom)
    from ui import security_data

    security_data.clear()
    at.run()
    assert not at.exception
    assert KBOM_HINT.split(":")[0] not in texts(at)
    [components] = tables_with(at, "Cluster version")
    kubelet = components.set_index("Component").loc["k8s.io/kubelet"]
    assert (kubelet["Version"], kubelet["High"], kubelet["Fixable high"], kubelet["Medium"]) == (
        "1.30.2", 1, 1, 1)
    assert kubelet["Top cves"].startswith(
        "CVE-2024-10220 high k8s.io/kubelet 1.30.2 -> 1.28.12, 1.29.7, 1.30.3")
    assert hostile in set(components["Component"])  # shown verbatim in the table ...
    markup = [element.value for element in at.markdown]  # ... and never rendered as Markdown or HTML
    assert not any("kube-proxy" in str(value) for value in markup)
    assert "kube-proxy" not in texts(at)
    assert any(button.label == "Download vulnerabilities-kubernetes-components.csv"
               for button in at.get("download_button"))
    specs = [chart.proto.spec for kind in ("vega_lite_chart", "arrow_vega_lite_chart")
             for chart in at.get(kind)]
    assert any("cluster_version" in spec for spec in specs), "no components chart"
    # Each component is one evaluation of the Vulnerabilities score: the kubelet's fixable high fails
    # (a warning), containerd (mediums only) and the hostile entry (an unfixable low) pass.
    after = tables_with(at, "Dangers")[0].set_index("Category").loc["Vulnerabilities"]
    assert (after["Passed"] - before["Passed"], after["Warnings"] - before["Warnings"],
            after["Dangers"] - before["Dangers"]) == (2, 1, 0)


def test_the_command_line_and_the_page_give_the_same_scores(app_env: dict[str, str]) -> None:
    """Issue 15: one pipeline (k8sdata.security.report). `scan --cluster` reads what the page reads,
    vulnerabilities included, so every category's score and the Overall are the page's."""
    import io
    import json

    from k8sdata.cli import main as cli_main

    out = io.StringIO()
    code = cli_main(["scan", "--cluster", "--format", "json", "--scores"], out=out, err=io.StringIO(),
                    environ=dict(os.environ))
    assert code in (0, 3), out.getvalue()[-500:]
    cli = {row["category"]: row["value"] for row in json.loads(out.getvalue())["scores"]}
    page = tables_with(run_page(), "Dangers")[0].set_index("Category")["Score"].to_dict()
    assert "Vulnerabilities" in cli and cli.keys() == page.keys()
    assert cli == pytest.approx(page), (cli, page)
