"""No score from missing inputs (issue 14, item 2): a category whose inputs could not all be read has no
value or grade and says why, and the Overall is withheld; against the stand-in API server with faults
injected (fixture kube_faults), through the same functions the Security page, the snapshot and
`scan --cluster` use."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from k8sdata.cli import main as cli_main
from k8sdata.config import Settings
from k8sdata.errors import Forbidden
from k8sdata.security import builtin_checks
from k8sdata.security.cluster import (
    LISTS,
    SECTION_CATEGORIES,
    SECTIONS,
    collect_security_inputs,
    merge_scans,
    security_scan,
)
from k8sdata.security.engine import CheckResult, ScanResult
from k8sdata.security.policy import scan_workloads
from k8sdata.security.scoring import OVERALL, Score, score
from k8sdata.security.sources import CLUSTER_LISTS, CONTEXT_LISTS, PDB_LIST, cluster_objects
from k8sdata.security.vulns import CATEGORY as VULNERABILITIES
from k8sdata.security.vulns import collect_vulnerabilities, vulnerability_scan
from k8sdata.sources.kube import KubeClient

TODAY = dt.date(2026, 1, 1)
#: Paths of the pods list, cluster-wide and namespaced (not a pod's log or a single pod).
PODS_PATH = r"^/api/v1/(namespaces/[^/]+/)?pods$"
WORKLOAD_CATEGORIES = sorted({check.category for check in builtin_checks()})


def by_category(scores: list[Score]) -> dict[str, Score]:
    return {item.category: item for item in scores}


def list_path(group_version: str, resource: str) -> str:
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return rf"^{prefix}/(namespaces/[^/]+/)?{resource}$"


@pytest.fixture
def settings(kube_api: Any) -> Settings:
    return Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": "5",
                              "HOME": "/nonexistent"})


@pytest.fixture
def reader(settings: Settings) -> Iterator[KubeClient]:
    client = KubeClient(settings)
    yield client
    client.close()


def cluster_scores(reader: KubeClient, settings: Settings) -> dict[str, Score]:
    """The Security page's score: workloads, the audits and vulnerabilities, merged."""
    workloads = scan_workloads(cluster_objects(reader), settings)
    inputs = collect_security_inputs(reader)
    audits = security_scan(inputs, TODAY)
    pods = None if not isinstance(inputs.pods, list) else inputs.pods
    vulns = vulnerability_scan(collect_vulnerabilities(reader, settings, pods=pods))
    merged = merge_scans([workloads, audits, vulns])
    return by_category(score(merged.results, merged.unscored))


# ------------------------------------------------------------------------------------------ the rule

def test_an_unscored_category_has_no_value_and_the_overall_is_withheld() -> None:
    results = [CheckResult("a", "RBAC", "danger", "RoleBinding", "x", "b", True, False),
               CheckResult("n", "Network", "warning", "Namespace", "", "x", False, False)]
    complete = by_category(score(results))
    assert complete[OVERALL].value == pytest.approx(66.7) and complete[OVERALL].grade == "D"
    assert complete[OVERALL].note == "From Network and RBAC."
    partial = by_category(score(results, {"Network": "the Pods list could not be read. Forbidden."}))
    network = partial["Network"]
    assert (network.value, network.grade, network.scored) == (None, None, False)
    assert network.note == "Not scored: the Pods list could not be read. Forbidden."
    assert network.warnings == 1  # what did arrive is still counted, only the number is withheld
    assert partial["RBAC"].value == 100.0
    overall = partial[OVERALL]
    assert overall.value is None and overall.grade is None and overall.label() == "not scored"
    assert overall.note.startswith("Withheld: Network could not be scored")


def test_a_category_with_nothing_evaluated_but_unread_is_still_listed() -> None:
    scores = by_category(score([], {VULNERABILITIES: "Clair could not be read."}))
    assert set(scores) == {VULNERABILITIES, OVERALL}
    assert scores[VULNERABILITIES].value is None and scores[OVERALL].value is None


# ------------------------------------------------------------------------------------------ the cluster

def test_everything_read_scores_every_category(reader: KubeClient, settings: Settings) -> None:
    scores = cluster_scores(reader, settings)
    assert all(item.scored for item in scores.values()), {k: v.note for k, v in scores.items()}
    assert {"Network", "RBAC", "Versions", *WORKLOAD_CATEGORIES} <= set(scores)
    assert scores[OVERALL].note.startswith("From ") and "Network" in scores[OVERALL].note


def test_pods_list_forbidden_scores_nothing_that_needs_pods(kube_faults: Any, reader: KubeClient,
                                                             settings: Settings) -> None:
    kube_faults.set_fault(PODS_PATH, "forbidden")
    scores = cluster_scores(reader, settings)
    # Pods feed every workload check (bare pods), network exposure and the running images.
    for category in [*WORKLOAD_CATEGORIES, "Network", VULNERABILITIES]:
        assert scores[category].value is None, category
        assert scores[category].note.startswith("Not scored: the Pods list could not be read."), category
        assert Forbidden("kubernetes").sentence.split(" ")[0] in scores[category].note
    assert scores["RBAC"].value is not None and scores["Versions"].value is not None
    assert scores[OVERALL].value is None and scores[OVERALL].grade is None
    assert "Network" in scores[OVERALL].note and scores[OVERALL].note.startswith("Withheld")


@pytest.mark.parametrize("field", list(LISTS))
def test_each_audit_list_failing_unscores_its_section(kube_faults: Any, reader: KubeClient,
                                                     field: str) -> None:
    group_version, resource, _kind = LISTS[field]
    kube_faults.set_fault(list_path(group_version, resource), "forbidden")
    result = security_scan(collect_security_inputs(reader), TODAY)
    affected = {SECTION_CATEGORIES[section] for section, names in SECTIONS.items() if field in names}
    assert set(result.unscored) == affected
    scores = by_category(score(result.results, result.unscored))
    for category in affected:
        assert scores[category].value is None and "could not be read" in scores[category].note
    for category in set(SECTION_CATEGORIES.values()) - affected:
        assert scores[category].value is not None
    assert scores[OVERALL].value is None


def test_version_failing_unscores_versions(kube_faults: Any, reader: KubeClient) -> None:
    kube_faults.set_fault(r"^/version", "error")
    result = security_scan(collect_security_inputs(reader), TODAY)
    assert set(result.unscored) == {"Versions"}
    assert result.unscored["Versions"].startswith("the API server's version could not be read.")


@pytest.mark.parametrize("listed", [*CLUSTER_LISTS, *CONTEXT_LISTS], ids=lambda listed: listed[2])
def test_each_workload_list_failing_unscores_the_categories_that_read_it(
        kube_faults: Any, reader: KubeClient, settings: Settings, listed: tuple[str, str, str]) -> None:
    group_version, resource, kind = listed
    kube_faults.set_fault(list_path(group_version, resource), "error")
    result = scan_workloads(cluster_objects(reader), settings)
    expected = {check.category for check in builtin_checks()
                if kind in check.kinds or kind in check.needs}
    assert set(result.unscored) == expected
    if kind == PDB_LIST[2]:
        assert set(result.unscored) == {"Reliability"}  # only the missing-PDB check reads them


def test_every_read_failing_scores_nothing(kube_faults: Any, reader: KubeClient, settings: Settings) -> None:
    kube_faults.set_fault(r"^/", "forbidden")
    scores = cluster_scores(reader, settings)
    assert scores and not [item for item in scores.values() if item.scored]
    assert {"Network", "RBAC", "Versions", VULNERABILITIES, *WORKLOAD_CATEGORIES} <= set(scores)


def test_trivy_failing_unscores_vulnerabilities_only(kube_faults: Any, reader: KubeClient,
                                                      settings: Settings) -> None:
    kube_faults.set_fault(r"^/apis/aquasecurity\.github\.io/", "error")
    scores = cluster_scores(reader, settings)
    assert scores[VULNERABILITIES].value is None
    assert "Trivy Operator's VulnerabilityReports could not be read" in scores[VULNERABILITIES].note
    assert scores["Network"].value is not None and scores[OVERALL].value is None


def test_no_scanner_installed_is_not_a_failure() -> None:
    from k8sdata.errors import NotConfigured, NotInstalled
    from k8sdata.security.vulns import VulnerabilityData

    data = VulnerabilityData([], NotInstalled("kubernetes"), NotConfigured("clair"),
                             dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert vulnerability_scan(data).unscored == {}


# ------------------------------------------------------------------------------------------ scan --cluster

def scan(args: list[str], settings_env: dict[str, str], capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, str, str]:
    out = io.StringIO()
    code = cli_main(["scan", "--cluster", *args], out=out, err=io.StringIO(), environ=settings_env)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def scan_env(kube_api: Any) -> dict[str, str]:
    return {"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"}


def test_scan_cluster_with_pods_failing_says_not_scored(kube_faults: Any, scan_env: dict[str, str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    kube_faults.set_fault(PODS_PATH, "forbidden")
    code, table, err = scan([], scan_env, capsys)
    assert code == 1  # no pass from a partial read
    assert "Network not scored" in table and "Overall withheld" in table
    assert "Network: Not scored: the Pods list could not be read." in table
    assert "RBAC " in table and "RBAC not scored" not in table
    assert "Pods were not scanned" in err
    code, out, _ = scan(["--format", "json", "--scores"], scan_env, capsys)
    document = json.loads(out)
    scores = {item["category"]: item for item in document["scores"]}
    assert scores["Network"]["value"] is None and scores["Network"]["grade"] is None
    assert scores["Network"]["note"].startswith("Not scored:")
    assert scores[OVERALL]["value"] is None and isinstance(scores["RBAC"]["value"], float)
    assert isinstance(document["findings"], list) and code == 1
    code, out, _ = scan(["--format", "sarif"], scan_env, capsys)
    run = json.loads(out)["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert any("Pods were not scanned" in note["message"]["text"]
               for note in run["invocations"][0]["toolExecutionNotifications"])
    sarif_scores = {item["category"]: item for item in run["properties"]["scores"]}
    assert sarif_scores["Network"]["value"] is None and sarif_scores[OVERALL]["value"] is None


def test_scan_cluster_with_everything_failing_claims_nothing(kube_faults: Any, scan_env: dict[str, str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    kube_faults.set_fault(r"^/", "forbidden")
    code, table, _ = scan([], scan_env, capsys)
    assert code == 1
    assert "No findings.\n" not in table and "No findings in what could be read" in table
    score_line = next(line for line in table.splitlines() if line.startswith("Score: "))
    assert "(A)" not in score_line and "100" not in score_line and "Overall withheld" in score_line
    code, out, _ = scan(["--format", "json"], scan_env, capsys)
    assert json.loads(out) == [] and code == 1  # the list contract stays; the exit status says no pass


def test_scan_cluster_complete_read_passes(kube_api: Any, scan_env: dict[str, str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = scan(["--format", "json", "--scores"], scan_env, capsys)
    assert code == 0
    scores = {item["category"]: item for item in json.loads(out)["scores"]}
    assert all(item["value"] is not None for item in scores.values())
    assert scores[OVERALL]["note"].startswith("From ")


def test_manifest_scan_is_unaffected() -> None:
    assert ScanResult([], []).unscored == {}
