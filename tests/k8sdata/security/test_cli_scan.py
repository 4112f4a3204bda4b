"""`python -m k8sdata scan`: our own deploy/k8s manifests, the demo's insecure workload (files and the live
stand-in cluster), every output format, stdin, --fail-on, exemptions and severity overrides."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from k8sdata.cli import main as cli_main
from k8sdata.security.engine import Finding
from sandbox import demo_names

ROOT = Path(__file__).resolve().parents[3]
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
LEGACY = ROOT / "sandbox" / "cluster" / "60-legacy.yaml"
#: Every PSS control the demo's insecure portal breaks (privileged, hostNetwork, hostPath, hostPort, root).
PORTAL_PSS = {"pss-privileged", "pss-host-namespaces", "pss-host-path-volumes", "pss-host-ports",
              "pss-volume-types", "pss-privilege-escalation", "pss-run-as-non-root", "pss-run-as-user",
              "pss-seccomp-restricted", "pss-capabilities-restricted"}
#: Findings on deploy/k8s decided on purpose and recorded as a kams.io/exempt annotation (with a reason) on
#: the Deployment: KAMS must call the API; one replica and a version tag are the shipped defaults.
DEPLOY_EXEMPTED = {"service-account-token-automounted", "single-replica", "pdb-missing",
                          "image-not-pinned"}


def scan(args: list[str], environ: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = cli_main(["scan", *args], out=out, err=io.StringIO(), environ=environ or {})
    return code, out.getvalue()


@pytest.fixture(scope="module")
def deploy_manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rendered = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True,
                              text=True, check=True, timeout=60).stdout
    path = tmp_path_factory.mktemp("deploy") / "kams.yaml"
    path.write_text(rendered)
    return path


def test_our_deploy_manifests_scan_clean(deploy_manifests: Path) -> None:
    code, out = scan([str(deploy_manifests), "--format", "json", "--show-exempt", "--fail-on", "danger"])
    findings = json.loads(out)
    assert code == 0
    assert not [f for f in findings if f["pss"]], "deploy/k8s must pass PSS Restricted"
    assert not [f["id"] for f in findings if not f["exempt"]], "deploy/k8s must scan clean"
    assert {f["id"] for f in findings} == DEPLOY_EXEMPTED
    assert all(f["exempt_reason"] for f in findings)


def test_stdin_like_kubectl_kustomize_pipe(deploy_manifests: Path) -> None:
    # The documented pipe, as a real process: kubectl kustomize deploy/k8s | python -m k8sdata scan -
    done = subprocess.run([sys.executable, "-m", "k8sdata", "scan", "-", "--format", "json"], cwd=ROOT,
                          input=deploy_manifests.read_text(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_demo_insecure_workload_found_by_pss_checks() -> None:
    code, out = scan([str(LEGACY), "--format", "json", "--fail-on", "danger"])
    assert code == 3
    findings = json.loads(out)
    assert all(list(f) == list(Finding.KEYS) for f in findings)
    portal = {f["id"]: f for f in findings if f["name"] == "legacy-portal"}
    assert set(portal) >= PORTAL_PSS
    assert portal["pss-privileged"]["pss"] == "baseline" and portal["pss-privileged"]["container"] == "portal"
    assert portal["pss-run-as-user"]["pss"] == "restricted"
    # Secret-looking names are reported, their values never.
    assert "DB_PASSWORD" in portal["env-secret-literal"]["message"]
    assert "hunter2" not in out


def test_live_cluster_scan_reports_the_owner_once(kube_api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = scan(["--cluster", "--format", "json"],
                     {"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"})
    assert code == 0
    findings = json.loads(out)
    namespace, pod = demo_names.INSECURE_POD.namespace, demo_names.INSECURE_POD.pod
    # The running pod belongs to ReplicaSet -> Deployment legacy-portal: findings name the Deployment.
    on_portal = {f["id"] for f in findings if f["namespace"] == namespace and f["name"] == "legacy-portal"}
    assert on_portal >= PORTAL_PSS
    assert {f["kind"] for f in findings if f["name"] == "legacy-portal" and f["id"].startswith("pss-")} == {
        "Deployment"}
    assert not [f for f in findings if f["name"] in (pod, pod.rsplit("-", 1)[0])]
    # The live cluster adds what manifests alone cannot show: RBAC, network exposure, versions.
    binding_namespace, binding = demo_names.OVERPRIVILEGED_ROLEBINDING
    rbac = [f for f in findings if f["id"] == "rbac-cluster-admin"]
    assert any(f["namespace"] == binding_namespace and binding in f["name"] for f in rbac), rbac
    assert {f["namespace"] for f in findings if f["id"] == "network-policy-missing"} >= set(
        demo_names.NAMESPACES_WITHOUT_NETWORK_POLICIES) - {"default"}
    # The demo's web Deployment has a PodDisruptionBudget and the api has none (KAMS may read PDBs).
    assert "PodDisruptionBudgets" not in capsys.readouterr().err
    missing_pdb = {f["name"] for f in findings if f["id"] == "pdb-missing" and f["namespace"] == "shop"}
    assert "api" in missing_pdb and "web" not in missing_pdb


def test_fail_on_thresholds() -> None:
    assert scan([str(LEGACY), "--fail-on", "danger"])[0] == 3
    assert scan([str(LEGACY), "--fail-on", "warning"])[0] == 3
    assert scan([str(LEGACY)])[0] == 0
    assert scan([])[0] == 2  # neither PATH nor --cluster


def test_csv_and_table() -> None:
    _, out = scan([str(LEGACY), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(Finding.KEYS)
    assert any(row["id"] == "pss-privileged" and row["pss"] == "baseline" for row in rows)
    _, table = scan([str(LEGACY)])
    assert table.splitlines()[0].split() == ["SEVERITY", "ID", "PSS", "OBJECT", "CONTAINER", "MESSAGE"]
    assert "Deployment/legacy/legacy-portal" in table and "Score: " in table


def test_sarif_shape(deploy_manifests: Path) -> None:
    _, out = scan([str(LEGACY), "--format", "sarif"])
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "KAMS"
    assert len({rule["id"] for rule in rules}) == len(rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("none", "note", "warning", "error")
        assert result["message"]["text"]
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("60-legacy.yaml")
        assert physical["region"]["startLine"] >= 1
    privileged = next(r for r in run["results"] if r["ruleId"] == "pss-privileged")
    line = privileged["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert LEGACY.read_text().splitlines()[line - 1].startswith("apiVersion: apps/v1")
    assert LEGACY.read_text().splitlines()[line].startswith("kind: Deployment")


def test_exemption_annotation_and_severity_override(tmp_path: Path) -> None:
    text = LEGACY.read_text().replace(
        "  annotations:\n    deployment.kubernetes.io/revision: '1'\nspec:\n  progressDeadlineSeconds",
        "  annotations:\n    deployment.kubernetes.io/revision: '1'\n"
        "    kams.io/exempt: pss-privileged, pss-host-ports\n"
        "    kams.io/exempt-reason: needs the docker socket until the Q3 migration\n"
        "spec:\n  progressDeadlineSeconds", 1)
    assert "kams.io/exempt" in text
    path = tmp_path / "legacy.yaml"
    path.write_text(text)
    _, out = scan([str(path), "--format", "json", "--show-exempt"])
    portal = [f for f in json.loads(out) if f["name"] == "legacy-portal"]
    exempt = {f["id"]: f for f in portal if f["exempt"]}
    assert set(exempt) == {"pss-privileged", "pss-host-ports"}
    assert exempt["pss-privileged"]["exempt_reason"] == "needs the docker socket until the Q3 migration"
    _, hidden = scan([str(path), "--format", "json"])
    assert "pss-privileged" not in {f["id"] for f in json.loads(hidden) if f["name"] == "legacy-portal"}
    env = {"KAMS_SECURITY_SEVERITY": "pss-host-namespaces=info,env-secret-literal=ignore"}
    _, out = scan([str(path), "--format", "json"], env)
    ids = {f["id"]: f["severity"] for f in json.loads(out) if f["name"] == "legacy-portal"}
    assert ids["pss-host-namespaces"] == "info" and "env-secret-literal" not in ids
    assert scan([str(path)], {"KAMS_SECURITY_SEVERITY": "no-such-check=info"})[0] == 2


def test_folder_and_list_documents(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "list.yaml").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"},
         "spec": {"containers": [{"name": "c", "image": "busybox",
                                  "securityContext": {"privileged": True}}]}},
    ]}))
    (tmp_path / "notes.txt").write_text("not a manifest")
    _, out = scan([str(tmp_path), "--format", "json"])
    assert ("pss-privileged", "Pod", "p") in {(f["id"], f["kind"], f["name"]) for f in json.loads(out)}
    assert scan([str(tmp_path / "missing.yaml")])[0] == 2
