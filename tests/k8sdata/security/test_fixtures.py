"""Every check of the catalogue, audits included, has pass and fail fixtures, discovered from
tests/k8sdata/security/fixtures/<ID>/: each pass*.yaml must be evaluated without a finding of that check
(pass-windows*: a workload check must not apply at all, the PSS page's Windows exemption), each
fail*.yaml must give one.

A fixture is multi-document YAML of Kubernetes objects, what the check reads:
- workload checks: manifests, as `scan PATH` reads them;
- rbac_scan: Roles, ClusterRoles and their bindings (a binding to `cluster-admin` needs no role);
- network_scan: Namespaces, Pods, NetworkPolicies, Services, Ingresses;
- versions_scan: one document `kind: Version` (the API server's /version answer, which has no kind of
  its own) and Nodes, judged on FIXTURE_TODAY;
- vulnerability_scan: running Pods, Trivy Operator's VulnerabilityReports and ClusterVulnerabilityReports
  (a KBOM one for the Kubernetes components).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from k8sdata.security import vulns
from k8sdata.security.catalogue import AUDITS
from k8sdata.security.engine import Check, ScanResult, catalogue_by_id, parse_manifests, scan_objects
from k8sdata.security.manifests import rbac_objects
from k8sdata.security.network import network_scan
from k8sdata.security.rbac import rbac_scan
from k8sdata.security.versions import versions_scan

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_TODAY = dt.date(2026, 12, 1)
CHECKS = catalogue_by_id()
Objects = Sequence[Mapping[str, Any]]


def _of_kind(objects: Objects, *kinds: str) -> list[dict[str, Any]]:
    return [dict(obj) for obj in objects if obj.get("kind") in kinds]


def _network(objects: Objects) -> ScanResult:
    return network_scan(_of_kind(objects, "Namespace"), _of_kind(objects, "Pod"),
                        _of_kind(objects, "NetworkPolicy"), _of_kind(objects, "Service"),
                        _of_kind(objects, "Ingress"))


def _versions(objects: Objects) -> ScanResult:
    version = next(iter(_of_kind(objects, "Version")), None)
    return versions_scan(version, _of_kind(objects, "Node"), FIXTURE_TODAY)


def _vulnerabilities(objects: Objects) -> ScanResult:
    images = vulns.running_images(_of_kind(objects, "Pod"))
    reports = _of_kind(objects, vulns.TRIVY_KIND, vulns.TRIVY_CLUSTER_KIND)
    data = vulns.VulnerabilityData(images=images, trivy=vulns.trivy_image_reports(reports, images), clair=[],
                                   now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                                   components=vulns.kubernetes_components(reports))
    return vulns.vulnerability_scan(data)


#: Audit name -> how a fixture's objects become that audit's input.
RUNNERS: dict[str, Callable[[Objects], ScanResult]] = {
    "rbac_scan": lambda objects: rbac_scan(rbac_objects(objects)),
    "network_scan": _network,
    "versions_scan": _versions,
    "vulnerability_scan": _vulnerabilities,
}


def _run(check: Check, objects: Objects) -> ScanResult:
    if check.audit is None:
        return scan_objects(objects, [check])
    return RUNNERS[check.audit](objects)


def _fixture_files() -> list[tuple[str, Path]]:
    return [(folder.name, path) for folder in sorted(FIXTURES.iterdir()) if folder.is_dir()
            for path in sorted(folder.glob("*.yaml"))]


def test_every_audit_has_a_fixture_runner() -> None:
    assert set(RUNNERS) == set(AUDITS)


def test_every_check_has_pass_and_fail_fixtures() -> None:
    missing = [f"{check_id}: no {kind} fixture" for check_id in CHECKS for kind in ("pass", "fail")
               if not list((FIXTURES / check_id).glob(f"{kind}*.yaml"))]
    assert not missing, missing


def test_every_fixture_folder_names_a_check() -> None:
    assert {folder.name for folder in FIXTURES.iterdir() if folder.is_dir()} <= set(CHECKS)


@pytest.mark.parametrize(("check_id", "path"), _fixture_files(), ids=lambda v: getattr(v, "name", v))
def test_fixture(check_id: str, path: Path) -> None:
    check = CHECKS[check_id]
    result = _run(check, parse_manifests(path.read_text()))
    found = [finding for finding in result.findings if finding.id == check_id]
    if path.name.startswith("pass"):
        # A pass must be a real evaluation, except the Windows exemptions (the check must not apply).
        applied = bool(result.results)
        assert applied != ("windows" in path.name), f"{path}: applied={applied}"
        assert not found, [finding.message for finding in found]
    else:
        assert path.name.startswith("fail"), path
        assert found, f"{path}: expected a {check_id} finding"
        assert all(finding.pss == check.pss for finding in found)
