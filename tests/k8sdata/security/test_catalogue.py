"""One check catalogue: each check id is written in exactly one YAML file, no Python file keeps a check's
text, the audits report only their own checks, the audit-id list and the docs' id tables come from the
catalogue."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from k8sdata.security import catalogue as catalogue_module
from k8sdata.security.catalogue import AUDITS, GROUPS, generated_blocks, markdown_table, problems, regenerate
from k8sdata.security.engine import (
    CHECKS_DIR,
    CheckError,
    Evaluation,
    audit_result,
    builtin_checks,
    catalogue,
    load_severities,
)
from k8sdata.security.policy import AUDIT_IDS

ROOT = Path(__file__).resolve().parents[3]
DOCS = sorted((ROOT / "docs").glob("security*.md"))
K8SDATA_PYTHON = sorted((ROOT / "k8sdata").rglob("*.py"))


def test_the_catalogue_and_the_audits_agree() -> None:
    assert problems() == []


def test_each_check_id_is_defined_in_exactly_one_yaml_file() -> None:
    ids = [yaml.safe_load(path.read_text())["id"] for path in sorted(CHECKS_DIR.glob("*.yaml"))]
    assert len(ids) == len(set(ids)) == len(catalogue())
    assert set(load_severities()) == set(ids)


def _module_file(audit: str) -> Path:
    return Path(sys.modules[AUDITS[audit].__module__].__file__ or "").resolve()


def test_no_python_file_defines_a_check() -> None:
    """A check's title, remediation and message live in its YAML file only. Its id appears in Python
    only where an audit names the check it evaluated: in that audit's module."""
    texts = {path: path.read_text(encoding="utf-8") for path in K8SDATA_PYTHON}
    wrong = []
    for check in catalogue():
        static_message = check.message.replace("{detail}", "").replace("{container}", "").strip(" :.")
        for path, text in texts.items():
            if re.search(rf"[\"']{re.escape(check.title)}[\"']", text):
                wrong.append(f"{path.relative_to(ROOT)} holds {check.id}'s title")
            for what, start in (("remediation", check.remediation[:60]), ("message", static_message[:60])):
                if len(start) > 12 and re.search(rf"[\"']{re.escape(start)}", text):
                    wrong.append(f"{path.relative_to(ROOT)} holds {check.id}'s {what}")
            allowed = _module_file(check.audit) if check.audit else None
            if re.search(rf"[\"']{re.escape(check.id)}[\"']", text) and path.resolve() != allowed:
                wrong.append(f"{path.relative_to(ROOT)} names {check.id}")
    assert not wrong, wrong


def test_audit_ids_come_from_the_catalogue() -> None:
    assert {check.id for check in catalogue() if check.audit} == AUDIT_IDS
    assert AUDIT_IDS.isdisjoint(check.id for check in builtin_checks())
    assert len(AUDIT_IDS) + len(builtin_checks()) == len(catalogue())


def test_an_audit_cannot_report_a_check_that_is_not_its_own() -> None:
    with pytest.raises(CheckError, match="not one of its checks"):
        audit_result("network_scan", [Evaluation("rbac-wildcard", "Role", "team", "r", "x")])
    with pytest.raises(CheckError, match="not one of its checks"):
        audit_result("network_scan", [Evaluation("network-made-up", "Namespace", "", "n")])
    with pytest.raises(CheckError, match="does not grade"):
        audit_result("versions_scan", [Evaluation("kubelet-version-skew", "Node", "", "a", "x", "eol-soon")])


def test_audit_results_take_text_and_severity_from_the_catalogue() -> None:
    result = audit_result("versions_scan", [
        Evaluation("k8s-version-eol", "Cluster", "", "v1.35.0", "near its end", "eol-soon"),
        Evaluation("kubelet-version-skew", "Node", "", "a", None)])
    (finding,) = result.findings
    assert (finding.severity, finding.category, finding.message) == ("warning", "Versions", "near its end")
    assert finding.title == "Kubernetes version at or near end of life"
    assert [(unit.check_id, unit.severity, unit.passed) for unit in result.results] == [
        ("k8s-version-eol", "warning", False), ("kubelet-version-skew", "danger", True)]


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_the_docs_id_tables_are_generated_from_the_catalogue(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert regenerate(text) == text, (f"{path.name}: run python -m k8sdata.security.catalogue --update "
                                      "docs/security*.md")


def test_every_group_has_its_table_in_the_docs() -> None:
    shown = {group for path in DOCS for group, _ in generated_blocks(path.read_text(encoding="utf-8"))}
    assert shown == set(GROUPS)


def test_markdown_lists_every_check_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert catalogue_module.main(["--markdown"]) == 0
    printed = capsys.readouterr().out
    assert sorted(re.findall(r"^\| `([^`]+)`", printed, re.MULTILINE)) == sorted(c.id for c in catalogue())
    assert markdown_table("rbac_scan") in printed
