"""Image vulnerabilities (k8sdata.security.vulns) against the stand-in Kubernetes API with the demo cluster
(Trivy Operator's VulnerabilityReports in sandbox/cluster/90-vulnerabilityreports.yaml) and the Clair v4
matcher stand-in (sandbox/clair.py with sandbox/clair_reports.yaml)."""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, NotConfigured, NotInstalled, SourceError, Timeout, Unreachable
from k8sdata.security import score, vulns
from k8sdata.sources.kube import KubeClient
from sandbox import demo_names
from sandbox.apiserver.resources import RESOURCE_TYPES, ResourceRegistry
from sandbox.clair import REPORT_PATH, REPORTS_FILE, ClairStandIn, expand_report
from sandbox.cluster_loader import load_demo_objects
from tests.k8sdata.security.vulns_helpers import collect

TRIVY_YAML = Path(__file__).resolve().parents[3] / "sandbox" / "cluster" / "90-vulnerabilityreports.yaml"
KAMS_DIGEST = "sha256:ef9fdf87a9a4b35d2a0f517bc4079e89e31b243e58921d7fc8dfa337ce9da39e"


def _settings(kubeconfig: Path, clair_url: str | None, timeout: str = "5") -> Settings:
    env = {"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": timeout}
    if clair_url:
        env["CLAIR_URL"] = clair_url
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def clair() -> Iterator[ClairStandIn]:
    server = ClairStandIn().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clair_clean(clair: ClairStandIn) -> Iterator[ClairStandIn]:
    clair.clear_faults()
    clair.requests.clear()
    try:
        yield clair
    finally:
        clair.clear_faults()


def _collect(kube_api: Any, clair_url: str | None, timeout: str = "5") -> vulns.VulnerabilityData:
    return collect(kube_api.reader_kubeconfig, KAMS_REQUEST_TIMEOUT=timeout,
                   **({"CLAIR_URL": clair_url} if clair_url else {}))


@pytest.fixture(scope="module")
def both(kube_api: Any, clair: ClairStandIn) -> vulns.VulnerabilityData:
    """Both sources, collected once for the read-only tests."""
    clair.clear_faults()
    return _collect(kube_api, clair.url)


def _row(table: Any, digest: str, source: str) -> Any:
    rows = table[(table["digest"] == digest) & (table["source"] == source)]
    assert len(rows) == 1, (digest, source, rows)
    return rows.iloc[0]


# ------------------------------------------------------------------------------------------ Trivy

def test_trivy_counts_and_fixable_counts_per_image_match_the_demo_yaml(both: vulns.VulnerabilityData) -> None:
    table = vulns.vulnerability_table(both)
    reports = [doc for doc in yaml.safe_load_all(TRIVY_YAML.read_text())
               if doc and doc["kind"] == "VulnerabilityReport"]  # the ClusterVulnerabilityReport: KBOM
    assert len(reports) == 4
    for report in reports:
        data = report["report"]
        row = _row(table, data["artifact"]["digest"], "trivy")
        assert row["status"] == "scanned"
        for severity in ("critical", "high", "medium", "low", "unknown"):
            assert row[severity] == data["summary"][f"{severity}Count"], (row["image"], severity)
        fixable = Counter(v["severity"].lower() for v in data["vulnerabilities"] if v["fixedVersion"])
        for severity in ("critical", "high", "medium", "low"):
            assert row[f"fixable_{severity}"] == fixable[severity], (row["image"], severity)
        assert row["fixable"] == sum(fixable.values())
    portal = _row(table, "sha256:775e82a0366648de780178e389de589d41002f17da1429f034f2329961bcd96f", "trivy")
    counts = (portal["critical"], portal["fixable_critical"], portal["high"], portal["fixable_high"])
    assert counts == (6, 6, 4, 3)
    assert portal["namespaces"] == "legacy" and "legacy-portal" in portal["workloads"]
    assert portal["top_cves"].startswith(
        "CVE-2021-44228 critical org.apache.logging.log4j:log4j-core 2.14.1 -> 2.15.0, 2.12.2")
    assert portal["age_hours"] == pytest.approx(6.0, abs=0.2)  # updateTimestamp 6 h before the demo's "now"
    assert table.iloc[0]["image"] == "registry.example.com/legacy/portal:latest"  # worst first


def test_one_row_per_running_image_and_source(both: vulns.VulnerabilityData) -> None:
    table = vulns.vulnerability_table(both)
    assert not table.duplicated(["image", "digest", "source"]).any()
    assert set(table["source"]) == {"trivy", "clair"}
    # Which report each row came from: the demo has only namespaced VulnerabilityReports.
    scanned = table[table["status"] == "scanned"]
    assert set(zip(scanned["source"], scanned["reported_by"], strict=True)) == {
        ("trivy", "VulnerabilityReport"), ("clair", "Clair v4")}
    assert set(table[(table["source"] == "trivy") & (table["status"] == "no report")]["reported_by"]) <= {""}
    live = {c.get("image") for o in load_demo_objects() if o["kind"] == "Pod"
            and o["status"].get("phase") in ("Running", "Pending") for c in o["spec"]["containers"]}
    assert set(table["image"]) == live
    # An image Trivy has no report for yet is listed, with nothing counted.
    etcd = table[(table["image"] == "registry.k8s.io/etcd:3.5.12-0") & (table["source"] == "trivy")].iloc[0]
    assert etcd["status"] == "no report" and etcd["critical"] == 0
    # Three node-exporter pods share one image: one row per source, pods counted.
    exporter = table[table["image"] == "quay.io/prometheus/node-exporter:v1.8.1"]
    assert len(exporter) == 2 and set(exporter["pods"]) == {3}


def test_top_cves_carry_installed_and_fixed_versions(both: vulns.VulnerabilityData) -> None:
    frame = vulns.top_vulnerabilities_frame(both, per_image=3)
    log4j = frame[(frame["id"] == "CVE-2021-44228") & (frame["source"] == "trivy")].iloc[0]
    versions = (log4j["installed_version"], log4j["fixed_version"], log4j["fixable"])
    assert versions == ("2.14.1", "2.15.0, 2.12.2", True)
    assert frame.groupby(["image", "source"]).size().max() <= 3
    api = frame[(frame["image"] == "ghcr.io/kams-demo/shop-api:2.3.1") & (frame["source"] == "trivy")]
    assert list(api["severity"]) == ["HIGH", "MEDIUM", "LOW"]


def test_reports_join_by_workload_when_the_digest_is_unknown() -> None:
    pod = {"metadata": {"namespace": "shop", "name": "web-1", "ownerReferences": [
        {"kind": "ReplicaSet", "name": "web-6d8f7b9c5d", "controller": True}]},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25.3"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "web", "imageID": ""}]}}
    images = vulns.running_images([pod])
    assert images[0].digest is None
    reports = [o for o in load_demo_objects() if o["kind"] == "VulnerabilityReport"]
    [report] = vulns.trivy_image_reports(reports, images)
    assert report.status == "scanned" and report.report_name == "shop/replicaset-web-6d8f7b9c5d-web"
    # ... and by registry/repository:tag when neither digest nor workload says (docker.io's library/).
    pod["metadata"]["ownerReferences"][0]["name"] = "web-other"
    [report] = vulns.trivy_image_reports(reports, vulns.running_images([pod]))
    assert report.status == "scanned" and report.count("MEDIUM") == 4


def test_image_digest_reads_what_runtimes_report() -> None:
    digest = "sha256:" + "a" * 64
    assert vulns.image_digest(f"docker-pullable://nginx@{digest}") == digest
    assert vulns.image_digest(f"docker.io/library/nginx@{digest}") == digest
    assert vulns.image_digest(digest) is None  # a bare image (config) ID is not a manifest digest
    assert vulns.image_digest("", f"nginx@{digest}") == digest
    assert vulns.image_digest(None) is None


def test_crd_absent_is_not_installed_and_the_page_says_how_to_enable(make_api_server: Any,
                                                                     tmp_path: Path) -> None:
    objects = [o for o in load_demo_objects() if o["kind"] != "VulnerabilityReport"]
    server = make_api_server(objects)
    # A cluster without Trivy Operator: its API group is not served at all.
    server.store.registry = ResourceRegistry(tuple(t for t in RESOURCE_TYPES
                                                   if t.group != "aquasecurity.github.io"))
    kubeconfig = server.write_kubeconfig(tmp_path / "reader", demo_names.READER_TOKEN)
    settings = _settings(kubeconfig, None)
    kube = KubeClient(settings)
    try:
        data = vulns.collect_vulnerabilities(kube, settings)
    finally:
        kube.close()
    assert isinstance(data.trivy, NotInstalled)
    assert "VulnerabilityReport" in data.trivy.sentence and "Helm" in data.trivy.sentence
    assert isinstance(data.clair, NotConfigured)
    assert data.sentences() == {}  # nothing broke: both are simply absent
    sentences = vulns.how_to_enable(data)
    assert any("helm install trivy-operator" in s for s in sentences)
    assert any("CLAIR_URL" in s for s in sentences)
    table = vulns.vulnerability_table(data)
    assert set(table["status"]) == {"no report"} and len(table) > 5
    assert vulns.vulnerability_scan(data).results == []


def test_how_to_enable_is_silent_when_one_source_is_there(kube_api: Any) -> None:
    data = _collect(kube_api, None)
    assert isinstance(data.clair, NotConfigured) and isinstance(data.trivy, list)
    assert vulns.how_to_enable(data) == []


# ------------------------------------------------------------------------------------------ Clair

def _clair_expected() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(REPORTS_FILE.read_text())["reports"]
    mapping = {"Critical": "critical", "High": "high", "Medium": "medium", "Low": "low", "Negligible": "low",
               "Unknown": "unknown"}
    expected = {}
    for digest, entry in data.items():
        found = [v for p in entry["packages"] for v in p.get("vulnerabilities") or []]
        expected[digest] = {
            "counts": Counter(mapping[v["normalized_severity"]] for v in found),
            "fixable": Counter(mapping[v["normalized_severity"]] for v in found if v["fixed_in_version"]),
        }
    return expected


def test_clair_counts_per_image_match_the_stand_in_data(kube_api: Any, clair_clean: ClairStandIn) -> None:
    table = vulns.vulnerability_table(_collect(kube_api, clair_clean.url))
    expected = _clair_expected()
    assert len(expected) == 5
    for digest, want in expected.items():
        row = _row(table, digest, "clair")
        assert row["status"] == "scanned"
        for severity in ("critical", "high", "medium", "low", "unknown"):
            assert row[severity] == want["counts"][severity], (row["image"], severity)
        for severity in ("critical", "high", "medium", "low"):
            assert row[f"fixable_{severity}"] == want["fixable"][severity], (row["image"], severity)
        assert row["updated"] is None or row["updated"] != row["updated"]  # Clair matches at request time
    # One request per image digest, none for images without one.
    digests = {d for d in table["digest"] if d}
    asked = [path.rsplit("/", 1)[-1] for path in clair_clean.requests]
    assert sorted(asked) == sorted(digests)


def test_an_image_clair_has_not_indexed_is_not_indexed_yet(both: vulns.VulnerabilityData) -> None:
    table = vulns.vulnerability_table(both)
    kams = _row(table, KAMS_DIGEST, "clair")
    assert kams["status"] == "not indexed" and kams["critical"] == 0
    assert _row(table, KAMS_DIGEST, "trivy")["status"] == "scanned"
    assert both.sentences() == {}  # not an error for the page
    # An image with no digest (its pod never pulled) is not asked about.
    assert set(table[(table["digest"] == "") & (table["source"] == "clair")]["status"]) <= {"no digest"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_clair_down_is_a_source_error_sentence_and_trivy_still_arrives(kube_api: Any) -> None:
    data = _collect(kube_api, f"http://127.0.0.1:{_closed_port()}")
    assert isinstance(data.clair, Unreachable)
    assert data.sentences()["clair"].startswith("KAMS cannot reach Clair")
    assert isinstance(data.trivy, list) and any(r.status == "scanned" for r in data.trivy)
    assert vulns.how_to_enable(data) == []
    result = vulns.vulnerability_scan(data)
    assert any("Clair" in sentence for sentence in result.skipped)


def test_clair_errors_and_timeouts_are_source_errors(kube_api: Any, clair_clean: ClairStandIn) -> None:
    clair_clean.set_fault("error")
    data = _collect(kube_api, clair_clean.url)
    assert type(data.clair) is SourceError and "database is unavailable" in data.clair.sentence
    assert len(clair_clean.requests) == 1  # the first failure stops the lot
    clair_clean.set_fault("initializing")
    assert "vulnerability database" in _collect(kube_api, clair_clean.url).clair.sentence  # type: ignore[union-attr]
    clair_clean.set_fault("latency", seconds=3.0)
    data = _collect(kube_api, clair_clean.url, timeout="0.5")
    assert isinstance(data.clair, Timeout) and data.clair.source == "clair"


def test_a_url_that_is_not_clair_is_not_installed(kube_api: Any, clair_clean: ClairStandIn) -> None:
    # A wrong prefix gets a plain-text 404 from the HTTP mux, not Clair's JSON "not-found".
    data = _collect(kube_api, f"{clair_clean.url}/not-clair")
    assert isinstance(data.clair, NotInstalled) and "Clair v4" in data.clair.sentence
    assert data.sentences() == {"clair": data.clair.sentence}  # a wrong CLAIR_URL is said, not hidden

def test_pods_forbidden_is_one_sentence_and_no_source_is_asked(kube_api: Any, kube_faults: Any,
                                                               clair_clean: ClairStandIn) -> None:
    kube_faults.set_fault(r"^/api/v1/pods$", "forbidden")
    kube_faults.clear_request_log()
    data = _collect(kube_api, clair_clean.url)
    assert isinstance(data.images, Forbidden)
    assert list(data.sentences()) == ["pods"]
    assert not kube_faults.requests_to("vulnerabilityreports") and clair_clean.requests == []
    assert vulns.vulnerability_table(data).empty and vulns.how_to_enable(data) == []


# ------------------------------------------------------------------------------------------ score

def test_findings_name_images_with_fixable_critical_or_high_vulnerabilities(
        both: vulns.VulnerabilityData) -> None:
    result = vulns.vulnerability_scan(both)
    found = {finding.name: finding for finding in result.findings}
    assert set(found) == {"registry.example.com/legacy/portal:latest", "ghcr.io/kams-demo/thumbnailer:1.8.0",
                          "ghcr.io/kams-demo/shop-api:2.3.1", "k8s.io/kubelet 1.30.2"}
    # The demo's KBOM report: the kubelet has a fixable high (a warning), containerd only mediums (passes).
    kubelet = found["k8s.io/kubelet 1.30.2"]
    assert (kubelet.id, kubelet.severity, kubelet.kind) == (
        vulns.COMPONENT_HIGH_CHECK, "warning", vulns.COMPONENT_KIND)
    portal = found["registry.example.com/legacy/portal:latest"]
    assert (portal.id, portal.severity, portal.category) == ("image-vulnerabilities-critical", "danger",
                                                            "Vulnerabilities")
    assert "6 critical vulnerabilities" in portal.message and "CVE-2021-44228" in portal.message
    assert found["ghcr.io/kams-demo/thumbnailer:1.8.0"].id == "image-vulnerabilities-critical"  # Clair only
    api = found["ghcr.io/kams-demo/shop-api:2.3.1"]
    assert (api.id, api.severity) == ("image-vulnerabilities-high", "warning")
    assert set(api.record()) == set(api.KEYS)
    # Every scanned image is one evaluation: nginx, kams and prometheus pass.
    passed = {r.name for r in result.results if r.passed}
    assert {"docker.io/library/nginx:1.25.3", "ghcr.io/kams-project/kams:0.1.0",
            "quay.io/prometheus/prometheus:v2.51.2"} <= passed
    part = next(s for s in score(result.results) if s.category == "Vulnerabilities")
    assert (part.passed, part.warnings, part.dangers) == (3 + 1, 1 + 1, 2)  # images + components


# ------------------------------------------------------------------------------------------ the stand-in

def test_clair_stand_in_speaks_the_matcher_api(clair_clean: ClairStandIn) -> None:
    digest = next(iter(yaml.safe_load(REPORTS_FILE.read_text())["reports"]))
    answer = requests.get(f"{clair_clean.url}{REPORT_PATH}{digest}", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    report = answer.json()
    assert {"manifest_hash", "packages", "distributions", "environments", "vulnerabilities",
            "package_vulnerabilities"} <= set(report)  # openapi.yaml's required keys
    assert report["manifest_hash"] == digest
    for package_id, vulnerability_ids in report["package_vulnerabilities"].items():
        assert package_id in report["packages"] and package_id in report["environments"]
        for vulnerability_id in vulnerability_ids:
            vulnerability = report["vulnerabilities"][vulnerability_id]
            assert vulnerability["id"] == vulnerability_id and vulnerability["updater"]
            assert vulnerability["normalized_severity"] in ("Unknown", "Negligible", "Low", "Medium", "High",
                                                            "Critical")
    for environments in report["environments"].values():
        assert all(env["distribution_id"] in report["distributions"] for env in environments)
    missing = requests.get(f"{clair_clean.url}{REPORT_PATH}sha256:{'0' * 64}", timeout=5)
    assert missing.status_code == 404 and missing.json()["code"] == "not-found"
    assert requests.get(f"{clair_clean.url}{REPORT_PATH}latest", timeout=5).status_code == 400
    assert requests.post(f"{clair_clean.url}{REPORT_PATH}{digest}", timeout=5).status_code == 405
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", expand_report(digest, {"packages": []})["manifest_hash"])
