"""Trivy Operator's cluster-scoped ClusterVulnerabilityReport next to its namespaced VulnerabilityReport
(k8sdata.security.vulns), served by the stand-in Kubernetes API with the demo cluster.

Which kinds exist (trivy-operator v0.32.0, deploy/helm/crds/): `vulnerabilityreports` (Namespaced) and
`clustervulnerabilityreports` (scope Cluster, shortName clustervuln) carry vulnerabilities; both have the
same `report` (pkg/apis/aquasecurity/v1alpha1/vulnerability_types.go: VulnerabilityReportData). The
fixtures below follow those files and:

- pkg/vulnerabilityreport/builder.go `clusterVulnerabilityReport()`: a report for an owner without a
  namespace is cluster-scoped, with labels trivy-operator.container.name, app.kubernetes.io/managed-by,
  resource-spec-hash and (pkg/kube/object.go `ObjectToObjectMeta`) trivy-operator.resource.kind / name /
  namespace (""), or trivy-operator.resource.name-hash plus an annotation when the name is no label value;
- docs/docs/crds/clustervulnerability-report.md: the KBOM report (owner ClusterSbomReport, artifact
  k8s.io/kubernetes:<version>, container "k8s-cluster"): the cluster's Kubernetes components, no image;
  pkg/operator/cluster.go writes it (K8sRegistry "k8s.io", K8sRepo "kubernetes", kbomScanJobIdentifier
  "k8s-cluster") when operator.sbomGenerationEnabled and operator.vulnerabilityScannerEnabled are on.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sdata.errors import Forbidden
from k8sdata.security import vulns
from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.apiserver.resources import RESOURCE_TYPES, ResourceRegistry
from sandbox.cluster_loader import load_demo_objects
from tests.k8sdata.security.vulns_helpers import collect

PORTAL_DIGEST = "sha256:775e82a0366648de780178e389de589d41002f17da1429f034f2329961bcd96f"
PORTAL_IMAGE = "registry.example.com/legacy/portal:latest"
ETCD_DIGEST = "sha256:89830462abe5b6b3a0d7d4fbbb183bb953d311b939018debb79d2eb3c206f221"
ETCD_IMAGE = "registry.k8s.io/etcd:3.5.12-0"
CLUSTER_PATH = r"^/apis/aquasecurity\.github\.io/v1alpha1/clustervulnerabilityreports$"
CLUSTER_RESOURCE = ("aquasecurity.github.io", vulns.TRIVY_CLUSTER_RESOURCE)


def _stamp(hours_ago: float) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _vulnerability(vulnerability_id: str, resource: str, installed: str, fixed: str, severity: str,
                   score: float, title: str) -> dict[str, Any]:
    return {"vulnerabilityID": vulnerability_id, "resource": resource, "installedVersion": installed,
            "fixedVersion": fixed, "publishedDate": "", "lastModifiedDate": "", "severity": severity,
            "score": score, "title": title, "primaryLink": f"https://avd.aquasec.com/nvd/{vulnerability_id.lower()}",
            "links": [], "target": ""}


def _cluster_report(name: str, labels: dict[str, str], artifact: dict[str, str], server: str,
                    vulnerabilities: list[dict[str, Any]], hours_ago: float,
                    annotations: dict[str, str] | None = None) -> dict[str, Any]:
    counts = {severity: sum(v["severity"] == severity for v in vulnerabilities)
              for severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")}
    return {
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "ClusterVulnerabilityReport",
        "metadata": {"name": name, "creationTimestamp": _stamp(hours_ago),
                     "annotations": {"trivy-operator.aquasecurity.github.io/report-ttl": "24h0m0s",
                                     **(annotations or {})},
                     "labels": {"app.kubernetes.io/managed-by": "trivy-operator",
                                "resource-spec-hash": "6b5887445b",
                                "trivy-operator.resource.namespace": "", **labels}},
        "report": {
            "updateTimestamp": _stamp(hours_ago),
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.62.1"},
            "registry": {"server": server}, "artifact": artifact, "os": {"family": "debian", "name": "10.13"},
            "summary": {"criticalCount": counts["CRITICAL"], "highCount": counts["HIGH"],
                        "mediumCount": counts["MEDIUM"], "lowCount": counts["LOW"],
                        "unknownCount": counts["UNKNOWN"], "noneCount": 0},
            "vulnerabilities": vulnerabilities,
        },
    }


#: The legacy portal's image, also reported cluster-wide (older, two CVEs the namespaced report has too).
PORTAL_CLUSTER = _cluster_report(
    "pod-portal-mirror-portal",
    {"trivy-operator.container.name": "portal", "trivy-operator.resource.kind": "Pod",
     "trivy-operator.resource.name": "portal-mirror"},
    {"repository": "legacy/portal", "tag": "latest", "digest": PORTAL_DIGEST}, "registry.example.com",
    [_vulnerability("CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0, 2.12.2",
                    "CRITICAL", 10.0, "log4j-core: Remote code execution in Log4j 2.x"),
     _vulnerability("CVE-2023-4911", "libc6", "2.28-10+deb10u2", "2.28-10+deb10u3", "HIGH", 7.8,
                    "glibc: buffer overflow in ld.so leading to privilege escalation"),
     _vulnerability("CVE-2024-2961", "libc6", "2.28-10+deb10u2", "2.28-10+deb10u4", "HIGH", 8.8,
                    "glibc: Out of bounds write in iconv may lead to remote code execution"),
     _vulnerability("CVE-2021-42550", "ch.qos.logback:logback-classic", "1.2.3", "1.2.8", "MEDIUM", 6.6,
                    "logback: remote code execution through JNDI call from within its configuration file")],
    hours_ago=30)

#: etcd has no namespaced report in the demo: the cluster-scoped one is its only Trivy source. Its owner's
#: name is no valid label value, so only its hash is a label and the name an annotation.
ETCD_CLUSTER = _cluster_report(
    "pod-5f6c9d7b8c",
    {"trivy-operator.container.name": "etcd", "trivy-operator.resource.kind": "Pod",
     "trivy-operator.resource.name-hash": "5f6c9d7b8c"},
    {"repository": "etcd", "tag": "3.5.12-0", "digest": ETCD_DIGEST}, "registry.k8s.io",
    [_vulnerability("CVE-2024-24790", "stdlib", "v1.21.6", "1.21.11, 1.22.4", "CRITICAL", 9.8,
                    "golang: net/netip: Unexpected behavior from Is methods for IPv4-mapped IPv6 addresses"),
     _vulnerability("CVE-2023-45288", "golang.org/x/net", "v0.17.0", "0.23.0", "MEDIUM", 7.5,
                    "golang: net/http, x/net/http2: unlimited number of CONTINUATION frames causes DoS")],
    hours_ago=2,
    annotations={"trivy-operator.resource.name": "etcd-demo-control-plane-" + "x" * 50})

#: The KBOM report, as docs/docs/crds/clustervulnerability-report.md shows it (two of its entries).
KBOM_CLUSTER = _cluster_report(
    "clustersbomreport-584b5cdcd5-k8s-cluster",
    {"trivy-operator.container.name": "k8s-cluster", "trivy-operator.resource.kind": "ClusterSbomReport",
     "trivy-operator.resource.name": "584b5cdcd5"},
    {"repository": "kubernetes", "tag": "1.21.1"}, "k8s.io",
    [_vulnerability("CVE-2021-43816", "github.com/containerd/containerd", "1.5.2", "1.5.9", "HIGH", 9.1,
                    "Unprivileged pod may bind mount any privileged regular file on disk"),
     _vulnerability("CVE-2021-25741", "k8s.io/kubelet", "1.21.1", "1.19.16, 1.20.11, 1.21.5, 1.22.1", "HIGH",
                    8.1, "Symlink exchange can allow host filesystem access")],
    hours_ago=1)


#: The demo cluster's KBOM report (server v1.30.0, kubelets v1.30.2, containerd 1.7.15): real CVEs of
#: those versions with their real fixed versions and NVD dates (kubernetes/kubernetes#128885, the
#: kubelet checkpoint API advisory CVE-2025-0426, containerd GHSA-265r-hfxg-fhmg).
DEMO_KBOM = _cluster_report(
    "clustersbomreport-6f8d5c7b94-k8s-cluster",
    {"trivy-operator.container.name": "k8s-cluster", "trivy-operator.resource.kind": "ClusterSbomReport",
     "trivy-operator.resource.name": "6f8d5c7b94"},
    {"repository": "kubernetes", "tag": "1.30.0"}, "k8s.io",
    [{**_vulnerability("CVE-2024-10220", "k8s.io/kubelet", "1.30.2", "1.28.12, 1.29.7, 1.30.3", "HIGH", 8.1,
                       "Arbitrary command execution through gitRepo volume"),
      "publishedDate": "2024-11-22T17:15:00Z", "lastModifiedDate": "2024-11-22T17:15:00Z"},
     {**_vulnerability("CVE-2025-0426", "k8s.io/kubelet", "1.30.2", "1.29.14, 1.30.10, 1.31.6, 1.32.2",
                       "MEDIUM", 6.2, "kubelet: node denial of service via kubelet checkpoint API"),
      "publishedDate": "2025-02-13T16:16:00Z", "lastModifiedDate": "2025-02-13T16:16:00Z"},
     {**_vulnerability("CVE-2024-40635", "github.com/containerd/containerd", "1.7.15",
                       "1.6.38, 1.7.27, 2.0.4", "MEDIUM", 4.6,
                       "containerd: integer overflow in User ID handling"),
      "publishedDate": "2025-03-17T22:15:00Z", "lastModifiedDate": "2025-03-17T22:15:00Z"}],
    hours_ago=3)
DEMO_KBOM["report"]["os"] = {"family": "debian", "name": "12.5"}


def _demo_portal_report() -> dict[str, Any]:
    [report] = [o for o in load_demo_objects() if o["kind"] == "VulnerabilityReport"
                and o["report"]["artifact"].get("digest") == PORTAL_DIGEST]
    return report


@pytest.fixture(scope="module")
def cluster_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Path]]:
    """The demo cluster plus the three ClusterVulnerabilityReports, and the KAMS reader's kubeconfig."""
    objects = [*load_demo_objects(), *copy.deepcopy([PORTAL_CLUSTER, ETCD_CLUSTER, KBOM_CLUSTER])]
    server = ApiServer(objects).start()
    try:
        kubeconfig = server.write_kubeconfig(tmp_path_factory.mktemp("vulns_cluster") / "reader",
                                             demo_names.READER_TOKEN)
        yield server, kubeconfig
    finally:
        server.stop()


@pytest.fixture(scope="module")
def merged(cluster_api: tuple[ApiServer, Path]) -> vulns.VulnerabilityData:
    return collect(cluster_api[1])


def _trivy_row(table: Any, image: str) -> Any:
    rows = table[(table["image"] == image) & (table["source"] == "trivy")]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_an_image_in_both_kinds_is_one_row_and_each_cve_counts_once(merged: vulns.VulnerabilityData) -> None:
    table = vulns.vulnerability_table(merged)
    portal = _trivy_row(table, PORTAL_IMAGE)
    assert portal["reported_by"] == "VulnerabilityReport + ClusterVulnerabilityReport"
    assert portal["report"] == ("legacy/replicaset-legacy-portal-84f9c6d7b-portal; pod-portal-mirror-portal")
    namespaced = _demo_portal_report()["report"]
    summary = namespaced["summary"]
    # log4j's CVE-2021-44228 and libc6's CVE-2023-4911 are in both reports: counted once. The cluster
    # report adds one high (CVE-2024-2961) and one medium (CVE-2021-42550).
    assert (portal["critical"], portal["high"], portal["medium"], portal["low"]) == (
        summary["criticalCount"], summary["highCount"] + 1, summary["mediumCount"] + 1, summary["lowCount"])
    fixable_namespaced = sum(1 for v in namespaced["vulnerabilities"] if v["fixedVersion"])
    assert portal["fixable"] == fixable_namespaced + 2
    assert portal["age_hours"] == pytest.approx(6.0, abs=0.2)  # the newest report's age
    assert isinstance(merged.trivy, list)
    [image_report] = [r for r in merged.trivy if r.image.image == PORTAL_IMAGE]
    keys = [(v.id, v.package) for v in image_report.vulnerabilities]
    assert len(keys) == len(set(keys)) == len(namespaced["vulnerabilities"]) + 2
    # The duplicate entries are the newer report's (the namespaced one here).
    log4j = next(v for v in image_report.vulnerabilities if v.id == "CVE-2021-44228")
    assert log4j.origin == "VulnerabilityReport legacy/replicaset-legacy-portal-84f9c6d7b-portal"


def test_the_cve_list_says_which_report_each_entry_came_from(merged: vulns.VulnerabilityData) -> None:
    frame = vulns.top_vulnerabilities_frame(merged, per_image=20)
    portal = frame[(frame["image"] == PORTAL_IMAGE) & (frame["source"] == "trivy")]
    by_id = dict(zip(portal["id"], portal["reported_by"], strict=True))
    assert by_id["CVE-2024-2961"] == "ClusterVulnerabilityReport pod-portal-mirror-portal"
    assert by_id["CVE-2021-44228"].startswith("VulnerabilityReport legacy/")
    assert set(frame[frame["source"] == "clair"]["reported_by"]) <= {""}  # no Clair in this module


def test_an_image_only_a_cluster_report_covers_is_scanned(merged: vulns.VulnerabilityData) -> None:
    etcd = _trivy_row(vulns.vulnerability_table(merged), ETCD_IMAGE)
    assert (etcd["status"], etcd["reported_by"], etcd["report"]) == (
        "scanned", "ClusterVulnerabilityReport", "pod-5f6c9d7b8c")
    assert (etcd["critical"], etcd["medium"], etcd["fixable_critical"]) == (1, 1, 1)
    assert etcd["top_cves"].startswith("CVE-2024-24790 critical stdlib v1.21.6 -> 1.21.11, 1.22.4")
    # ... and it counts for the score like any other image.
    finding = next(f for f in vulns.vulnerability_scan(merged).findings if f.name == ETCD_IMAGE)
    assert finding.id == vulns.CRITICAL_CHECK and "CVE-2024-24790" in finding.message


def test_the_kbom_report_is_no_image(merged: vulns.VulnerabilityData) -> None:
    table = vulns.vulnerability_table(merged)
    assert not table["image"].str.contains("kubernetes").any()
    assert not table["report"].str.contains("clustersbomreport").any()
    frame = vulns.top_vulnerabilities_frame(merged, per_image=50)
    assert not frame["id"].isin(["CVE-2021-43816", "CVE-2021-25741"]).any()
    assert vulns.is_kbom_report(KBOM_CLUSTER) and not vulns.is_kbom_report(PORTAL_CLUSTER)


def test_requests_one_list_per_kind(cluster_api: tuple[ApiServer, Path]) -> None:
    server, kubeconfig = cluster_api
    server.clear_request_log()
    data = collect(kubeconfig)
    assert data.sentences() == {} and data.trivy_cluster is None
    assert len(server.requests_to(CLUSTER_PATH)) == 1
    assert len(server.requests_to(r"/vulnerabilityreports$")) == 1


def test_cluster_reports_forbidden_is_a_sentence_and_the_namespaced_rows_stay(
        cluster_api: tuple[ApiServer, Path]) -> None:
    server, kubeconfig = cluster_api
    server.set_fault(CLUSTER_PATH, "forbidden")
    try:
        data = collect(kubeconfig)
    finally:
        server.clear_faults()
    assert isinstance(data.trivy_cluster, Forbidden)
    sentence = data.sentences()["trivy-cluster"]
    assert sentence.startswith("KAMS is not allowed to read this from")
    assert "clustervulnerabilityreports" in sentence and "deploy/k8s/clusterrole.yaml" in sentence
    assert list(data.sentences()) == ["trivy-cluster"]
    table = vulns.vulnerability_table(data)
    portal = _trivy_row(table, PORTAL_IMAGE)
    assert portal["reported_by"] == "VulnerabilityReport"
    assert portal["critical"] == _demo_portal_report()["report"]["summary"]["criticalCount"]
    assert _trivy_row(table, ETCD_IMAGE)["status"] == "no report"
    assert any("because Trivy Operator's ClusterVulnerabilityReports could not be read" in s
               for s in vulns.vulnerability_scan(data).skipped)
    assert vulns.how_to_enable(data) == []
    # No KBOM report could be read: no components, and no "scan is off" hint (the 403 said why).
    assert data.components is None and vulns.components_sentence(data) is None


def test_cluster_kind_not_installed_is_skipped_silently(cluster_api: tuple[ApiServer, Path]) -> None:
    server, kubeconfig = cluster_api
    registry = server.store.registry
    # An older Trivy Operator: the namespaced CRD is served, the cluster-scoped one is not (404).
    server.store.registry = ResourceRegistry(tuple(t for t in RESOURCE_TYPES
                                                   if t.plural != "clustervulnerabilityreports"))
    server.clear_request_log()
    try:
        data = collect(kubeconfig)
        answered = [record.status for record in server.requests_to(CLUSTER_PATH)]
    finally:
        server.store.registry = registry
    assert answered == [404]
    assert data.trivy_cluster is None and data.sentences() == {}
    table = vulns.vulnerability_table(data)
    assert _trivy_row(table, PORTAL_IMAGE)["reported_by"] == "VulnerabilityReport"
    assert _trivy_row(table, ETCD_IMAGE)["status"] == "no report"


# ------------------------------------------------------------------------------------------ pure merging

def _running(image: str, digest: str | None) -> vulns.RunningImage:
    return vulns.RunningImage(image, digest, (vulns.Workload("shop", "ReplicaSet", "web-1", "web"),), 1)


def test_two_workloads_reporting_one_image_do_not_double_its_counts() -> None:
    first = _demo_portal_report()
    second = copy.deepcopy(first)
    second["metadata"]["name"] = "replicaset-legacy-portal-old-portal"
    second["report"]["updateTimestamp"] = "2020-01-01T00:00:00Z"
    [report] = vulns.trivy_image_reports([first, second], [_running(PORTAL_IMAGE, PORTAL_DIGEST)])
    summary = first["report"]["summary"]
    assert report.count("CRITICAL") == summary["criticalCount"]
    assert report.count("HIGH") == summary["highCount"]
    assert len(report.vulnerabilities) == len(first["report"]["vulnerabilities"])
    assert report.kinds == ("VulnerabilityReport",)
    assert report.report_name.startswith("legacy/replicaset-legacy-portal-84f9c6d7b-portal; ")


def test_the_same_cve_in_another_package_is_another_vulnerability() -> None:
    image = _running(ETCD_IMAGE, ETCD_DIGEST)
    other = copy.deepcopy(ETCD_CLUSTER)
    other["metadata"]["name"] = "pod-other"
    other["report"]["updateTimestamp"] = _stamp(40)
    other["report"]["vulnerabilities"] = [
        _vulnerability("CVE-2024-24790", "stdlib", "v1.21.6", "1.21.11, 1.22.4", "CRITICAL", 9.8, "dup"),
        _vulnerability("CVE-2024-24790", "github.com/etcd-io/etcd/tools", "v1.21.6", "1.22.4", "CRITICAL",
                       9.8, "the same CVE in a second Go binary")]
    [report] = vulns.trivy_image_reports([ETCD_CLUSTER, other], [image])
    assert sorted((v.id, v.package) for v in report.vulnerabilities if v.severity == "CRITICAL") == [
        ("CVE-2024-24790", "github.com/etcd-io/etcd/tools"), ("CVE-2024-24790", "stdlib")]
    assert report.count("CRITICAL") == 2 and report.fixable("CRITICAL") == 2
    stdlib = next(v for v in report.vulnerabilities if v.package == "stdlib")
    assert stdlib.title.startswith("golang: net/netip")  # the newer report's entry


def test_an_owner_name_too_long_for_a_label_is_read_from_the_annotation() -> None:
    long_name = "etcd-demo-control-plane-" + "x" * 50
    pod = {"metadata": {"namespace": "", "name": long_name},
           "spec": {"containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:custom"}]},
           "status": {"phase": "Running", "containerStatuses": [{"name": "etcd", "imageID": ""}]}}
    images = vulns.running_images([pod])
    assert images[0].digest is None and images[0].workloads[0].name == long_name
    # No digest and another tag: only the owner (kind Pod, the annotation's name, container etcd) joins.
    [report] = vulns.trivy_image_reports([ETCD_CLUSTER], images)
    assert report.status == "scanned" and report.kinds == ("ClusterVulnerabilityReport",)


# ------------------------------------------------------------------------------- Kubernetes components

def test_the_kbom_report_is_one_row_per_component_with_its_fixed_versions(
        merged: vulns.VulnerabilityData) -> None:
    table = vulns.components_table(merged)
    assert list(table.columns) == vulns.COMPONENT_COLUMNS
    assert list(zip(table["component"], table["version"], strict=True)) == [
        ("github.com/containerd/containerd", "1.5.2"), ("k8s.io/kubelet", "1.21.1")]
    containerd = table.iloc[0]
    assert (containerd["high"], containerd["fixable_high"], containerd["critical"]) == (1, 1, 0)
    assert containerd["top_cves"] == ("CVE-2021-43816 high github.com/containerd/containerd 1.5.2 -> 1.5.9")
    assert set(table["cluster_version"]) == {"1.21.1"}
    assert set(table["report"]) == {"clustersbomreport-584b5cdcd5-k8s-cluster"}
    assert table["age_hours"].iloc[0] == pytest.approx(1.0, abs=0.2)
    assert vulns.components_sentence(merged) is None


def test_fixable_high_component_vulnerabilities_count_in_the_score(merged: vulns.VulnerabilityData) -> None:
    result = vulns.vulnerability_scan(merged)
    found = {f.name: f for f in result.findings if f.kind == vulns.COMPONENT_KIND}
    assert set(found) == {"github.com/containerd/containerd 1.5.2", "k8s.io/kubelet 1.21.1"}
    kubelet = found["k8s.io/kubelet 1.21.1"]
    assert (kubelet.id, kubelet.severity, kubelet.namespace, kubelet.category) == (
        vulns.COMPONENT_HIGH_CHECK, "warning", "", vulns.CATEGORY)
    assert "CVE-2021-25741 (fixed in 1.19.16, 1.20.11, 1.21.5, 1.22.1)" in kubelet.message
    units = [r for r in result.results if r.kind == vulns.COMPONENT_KIND]
    assert len(units) == 2 and not any(r.passed for r in units)
    # The image evaluations are unchanged: the KBOM report still joins no image.
    assert not any("kubernetes" in r.name for r in result.results if r.kind == "Image")


def test_the_demo_versions_kbom_only_the_newest_report_counts() -> None:
    older = copy.deepcopy(KBOM_CLUSTER)
    older["report"]["updateTimestamp"] = _stamp(400)
    components = vulns.kubernetes_components([older, DEMO_KBOM, PORTAL_CLUSTER])
    assert components is not None
    by_name = {(c.component, c.version): c for c in components}
    assert set(by_name) == {("k8s.io/kubelet", "1.30.2"), ("github.com/containerd/containerd", "1.7.15")}
    kubelet = by_name[("k8s.io/kubelet", "1.30.2")]
    assert (kubelet.count("HIGH"), kubelet.fixable("HIGH"), kubelet.count("MEDIUM")) == (1, 1, 1)
    assert [v.fixed_version for v in kubelet.top()] == ["1.28.12, 1.29.7, 1.30.3",
                                                        "1.29.14, 1.30.10, 1.31.6, 1.32.2"]
    assert components[0] is kubelet  # worst first: a fixable high before mediums only
    assert vulns.kubernetes_components([PORTAL_CLUSTER, ETCD_CLUSTER]) is None  # no KBOM report at all
    # A KBOM report without vulnerabilities: the scan ran and found nothing (not "off").
    clean = copy.deepcopy(DEMO_KBOM)
    clean["report"]["vulnerabilities"] = []
    assert vulns.kubernetes_components([clean]) == []


def remove_demo_kbom(server: Any) -> None:
    """Take the demo cluster's KBOM report out of a (kube_faults) server: a cluster whose Trivy Operator
    does not scan its infrastructure."""
    for report in server.store.objects(CLUSTER_RESOURCE):
        if vulns.is_kbom_report(report):
            server.store.delete(CLUSTER_RESOURCE, "", report["metadata"]["name"])


def test_without_a_kbom_report_the_page_says_how_to_turn_the_scan_on(kube_api: Any, kube_faults: Any) -> None:
    remove_demo_kbom(kube_faults)  # kube_faults puts it back afterwards
    data = collect(kube_api.reader_kubeconfig)
    assert data.components is None and isinstance(data.trivy, list)
    assert vulns.components_table(data).empty
    sentence = vulns.components_sentence(data)
    assert sentence is not None and sentence.startswith(
        "Trivy Operator's cluster infrastructure scan is off or has not run: enable")
    assert all(setting in sentence for setting in vulns.KBOM_SETTINGS)
    assert not any(r.kind == vulns.COMPONENT_KIND for r in vulns.vulnerability_scan(data).results)
