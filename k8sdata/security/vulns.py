"""Image vulnerabilities: one row per running image, from Trivy Operator and from Clair v4.

Two sources, each optional:

- **Trivy Operator** writes a `VulnerabilityReport` (aquasecurity.github.io/v1alpha1) per workload
  container, and a cluster-scoped `ClusterVulnerabilityReport` for an owner without a namespace. KAMS
  lists each kind once (`KubeClient.list_resource`) and merges, per running image, every report that
  matches it. A cluster without the namespaced CRD answers 404, which is `NotInstalled`; without the
  cluster-scoped one, that kind is skipped.
- **Clair v4**, when `CLAIR_URL` is set: for each running image's manifest digest, the matcher's
  `GET /matcher/api/v1/vulnerability_report/{digest}`. An image Clair has not indexed answers 404: that
  image is "not indexed yet", not an error. Clair unset is `NotConfigured`.

The pieces: `running_images(pods)` (pure) names what runs; `trivy_image_reports` and
`clair_image_report` (pure) turn each source's JSON into `ImageReport`s; `collect_vulnerabilities` does
the I/O (one list, plus one Clair request per image digest); `vulnerability_table`,
`top_vulnerabilities_frame`, `how_to_enable` and `vulnerability_scan` (pure) make the page's table, its
CVE list, the "how to turn this on" sentences and the Findings for the score. Trivy Operator's KBOM
ClusterVulnerabilityReport (the Kubernetes components' own CVEs) joins no image: `kubernetes_components`
and `components_table` (pure) make the page's "Kubernetes components" table of it, and
`vulnerability_scan` scores its fixable critical/high entries as it does images'. See
docs/security-vulns.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from k8sdata.errors import Forbidden, NotConfigured, NotInstalled, SourceError
from k8sdata.security.engine import Evaluation, ScanResult, audit_result
from k8sdata.security.images import parse_image
from k8sdata.security.scoring import names
from k8sdata.sources.clair import CLAIR_HINT, ClairClient, clair_client
from k8sdata.sources.protocols import ClusterSource, ResourceSource

if TYPE_CHECKING:
    from k8sdata.config import Settings

TRIVY_GROUP_VERSION = "aquasecurity.github.io/v1alpha1"
TRIVY_RESOURCE = "vulnerabilityreports"
TRIVY_CLUSTER_RESOURCE = "clustervulnerabilityreports"
#: Trivy Operator's report kinds that carry image vulnerabilities (trivy-operator v0.32:
#: pkg/apis/aquasecurity/v1alpha1/vulnerability_types.go; both have the same `report`).
TRIVY_KIND = "VulnerabilityReport"
TRIVY_CLUSTER_KIND = "ClusterVulnerabilityReport"
#: A ClusterVulnerabilityReport made from the cluster's KBOM (owner kind ClusterSbomReport, artifact
#: k8s.io/kubernetes:<version>) lists the Kubernetes components' vulnerabilities, not an image's.
KBOM_OWNER_KIND = "ClusterSbomReport"
#: List requests `collect_vulnerabilities` sends to the Kubernetes API besides the pods (one per Trivy
#: kind, when the demo-sized lists fit one page); the snapshot counts them.
TRIVY_LIST_REQUESTS = 2
#: Where Trivy Operator keeps the owner's name when it is not a valid label value (pkg/kube/object.go).
_RESOURCE_NAME_KEY = "trivy-operator.resource.name"
CLAIR_KIND = "Clair v4"

#: Severities from worst to least; Clair's "Negligible" counts as LOW (docs/security-vulns.md).
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_CLAIR_SEVERITY = {"Critical": "CRITICAL", "High": "HIGH", "Medium": "MEDIUM", "Low": "LOW",
                   "Negligible": "LOW", "Unknown": "UNKNOWN"}
#: Pod phases whose containers' images count as running (a crash-looping container is still deployed).
_LIVE_PHASES = ("Running", "Pending")

Status = Literal["scanned", "not indexed", "no digest", "no report"]

CATEGORY = "Vulnerabilities"
#: The ids of the checks this audit evaluates (each written in checks/<ID>.yaml).
CRITICAL_CHECK = "image-vulnerabilities-critical"
HIGH_CHECK = "image-vulnerabilities-high"
#: The same two rules for the Kubernetes components of Trivy Operator's KBOM report.
COMPONENT_CRITICAL_CHECK = "kubernetes-component-vulnerabilities-critical"
COMPONENT_HIGH_CHECK = "kubernetes-component-vulnerabilities-high"
COMPONENT_KIND = "KubernetesComponent"
#: The audit's name in the catalogue (`rule: {audit: vulnerability_scan}` in checks/*-vulnerabilities-*.yaml).
AUDIT = "vulnerability_scan"


# ----------------------------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Workload:
    """Where an image runs: the pod's controller (or the pod itself) and the container."""

    namespace: str
    kind: str
    name: str
    container: str

    def label(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name} ({self.container})"


@dataclass(frozen=True)
class RunningImage:
    image: str  # as the pod spec names it, e.g. "ghcr.io/org/app:1.2" or "...@sha256:..."
    digest: str | None  # the manifest digest the kubelet pulled ("sha256:..."), when it says
    workloads: tuple[Workload, ...]
    pods: int  # how many live pods run it

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({workload.namespace for workload in self.workloads}))


@dataclass(frozen=True)
class Vulnerability:
    id: str  # CVE-2024-1234, GHSA-..., DSA-...
    severity: str  # one of SEVERITIES
    package: str
    installed_version: str
    fixed_version: str  # "" when no fix exists
    title: str
    link: str
    score: float | None = None  # CVSS, when the source gives one
    origin: str = ""  # the report it came from: "VulnerabilityReport ns/name", "Clair v4 sha256:..."

    @property
    def fixable(self) -> bool:
        return bool(self.fixed_version.strip())


@dataclass(frozen=True)
class ImageReport:
    """One source's view of one running image."""

    source: str  # "trivy" | "clair"
    image: RunningImage
    status: Status
    vulnerabilities: tuple[Vulnerability, ...] = ()
    #: Severity -> count. Trivy's own summary when it has one (it is what `kubectl get vulns -o wide`
    #: shows), else counted from the list.
    counts: Mapping[str, int] = field(default_factory=dict)
    updated: dt.datetime | None = None  # when the source produced it (Clair matches at request time)
    report_name: str = ""  # the reports' namespace/name ("; "-joined when merged), or Clair's manifest_hash
    #: What the row came from: Trivy's report kinds merged into it ("VulnerabilityReport",
    #: "ClusterVulnerabilityReport"), or "Clair v4".
    kinds: tuple[str, ...] = ()

    def count(self, severity: str) -> int:
        return int(self.counts.get(severity, 0))

    def fixable(self, severity: str) -> int:
        return sum(1 for vulnerability in self.vulnerabilities
                   if vulnerability.severity == severity and vulnerability.fixable)

    def top(self, limit: int = 5) -> list[Vulnerability]:
        """The worst first: severity, then fixable before unfixable, then CVSS score, then id."""
        return worst_first(self.vulnerabilities)[:limit]


def worst_first(vulnerabilities: Iterable[Vulnerability]) -> list[Vulnerability]:
    """Severity, then fixable before unfixable, then CVSS score, then id."""
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(vulnerabilities, key=lambda v: (rank.get(v.severity, len(SEVERITIES)), not v.fixable,
                                                  -(v.score or 0.0), v.id))


@dataclass(frozen=True)
class ComponentReport:
    """One Kubernetes component (kubelet, kube-apiserver, containerd ...) in Trivy Operator's KBOM
    ClusterVulnerabilityReport: its installed version and its vulnerabilities."""

    component: str  # the report's `resource`, e.g. "k8s.io/kubelet", "github.com/containerd/containerd"
    version: str  # its installedVersion
    cluster_version: str  # the report's artifact tag: the Kubernetes version Trivy Operator saw
    vulnerabilities: tuple[Vulnerability, ...]
    updated: dt.datetime | None
    report_name: str

    def count(self, severity: str) -> int:
        return sum(1 for vulnerability in self.vulnerabilities if vulnerability.severity == severity)

    def fixable(self, severity: str) -> int:
        return sum(1 for vulnerability in self.vulnerabilities
                   if vulnerability.severity == severity and vulnerability.fixable)

    def top(self, limit: int = 5) -> list[Vulnerability]:
        return worst_first(self.vulnerabilities)[:limit]


@dataclass
class VulnerabilityData:
    """What the page shows: the running images, and each source's reports or the error that stopped it."""

    images: list[RunningImage] | SourceError
    trivy: list[ImageReport] | SourceError
    clair: list[ImageReport] | SourceError
    now: dt.datetime
    #: Why ClusterVulnerabilityReports were not read although VulnerabilityReports were (403, a timeout);
    #: None when they were read or their CRD is not installed (then there are none to read).
    trivy_cluster: SourceError | None = None
    #: The Kubernetes components of the newest KBOM ClusterVulnerabilityReport (`kubernetes_components`);
    #: None when there is no such report (the cluster scan is off, has not run, or could not be read).
    components: list[ComponentReport] | None = None

    def reports(self) -> list[ImageReport]:
        return [report for source in (self.trivy, self.clair) if not isinstance(source, SourceError)
                for report in source]

    def sentences(self) -> dict[str, str]:
        """Source -> the sentence to show for it, for sources that failed in a way worth saying. Trivy
        Operator not installed and CLAIR_URL unset are normal states, explained by `how_to_enable` when
        both hold; a CLAIR_URL that is set but points at no Clair is worth a sentence."""
        if isinstance(self.images, SourceError):  # the sources were not asked: one sentence says why
            return {"pods": self.images.sentence}
        found: dict[str, str] = {}
        for name, value in (("trivy", self.trivy), ("clair", self.clair)):
            if not isinstance(value, SourceError):
                continue
            if (name == "trivy" and isinstance(value, NotInstalled)) or (
                    name == "clair" and isinstance(value, NotConfigured)):
                continue
            found[name] = value.sentence
        if self.trivy_cluster is not None and not isinstance(self.trivy_cluster, NotInstalled):
            found["trivy-cluster"] = self.trivy_cluster.sentence
        return found


# ------------------------------------------------------------------------------------- running images

def image_digest(image_id: str | None, image: str | None = None) -> str | None:
    """The manifest digest in a containerStatus imageID ("docker-pullable://repo@sha256:...",
    "repo@sha256:...") or in an image pinned by digest. A bare "sha256:..." imageID is the image's
    config ID on some runtimes, not a manifest digest, so it is not used."""
    for candidate in (image_id or "", image or ""):
        _, at, digest = candidate.rpartition("@")
        if at and digest.startswith(("sha256:", "sha512:")):
            return digest
    return None


def _controller(pod: Mapping[str, Any]) -> tuple[str, str]:
    metadata = pod.get("metadata") or {}
    for reference in metadata.get("ownerReferences") or []:
        if reference.get("controller"):
            return str(reference.get("kind", "")), str(reference.get("name", ""))
    return "Pod", str(metadata.get("name", ""))


def running_images(pods: Iterable[Mapping[str, Any]]) -> list[RunningImage]:
    """One entry per distinct image (by digest when known, else by name) in live pods' containers."""
    found: dict[str, dict[str, Any]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") not in _LIVE_PHASES:
            continue
        metadata = pod.get("metadata") or {}
        namespace = str(metadata.get("namespace", ""))
        kind, name = _controller(pod)
        spec_images = {str(c.get("name")): str(c.get("image", ""))
                       for c in (pod.get("spec") or {}).get("containers") or []}
        statuses = {str(s.get("name")): s for s in status.get("containerStatuses") or []}
        for container, spec_image in spec_images.items():
            container_status = statuses.get(container) or {}
            image = spec_image or str(container_status.get("image", ""))
            if not image:
                continue
            digest = image_digest(container_status.get("imageID"), image)
            key = digest or image
            # workloads: a dict as an ordered set (a list's `in` made 100,000 pods quadratic).
            entry = found.setdefault(key, {"image": image, "digest": digest, "workloads": {}, "pods": 0})
            entry["pods"] += 1
            entry["workloads"].setdefault(Workload(namespace, kind, name, container))
    return sorted((RunningImage(e["image"], e["digest"], tuple(e["workloads"]), e["pods"])
                   for e in found.values()), key=lambda running: running.image)


# ------------------------------------------------------------------------------------------------ Trivy

def _timestamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _trivy_vulnerability(item: Mapping[str, Any], origin: str = "") -> Vulnerability:
    severity = str(item.get("severity", "UNKNOWN")).upper()
    score = item.get("score")
    return Vulnerability(
        id=str(item.get("vulnerabilityID", "")),
        severity=severity if severity in SEVERITIES else "UNKNOWN",
        package=str(item.get("resource", "")),
        installed_version=str(item.get("installedVersion", "")),
        fixed_version=str(item.get("fixedVersion") or ""),
        title=str(item.get("title", "")),
        link=str(item.get("primaryLink") or ""),
        score=float(score) if isinstance(score, int | float) else None,
        origin=origin,
    )


def _trivy_reference(report: Mapping[str, Any]) -> str:
    data = report.get("report") or {}
    artifact = data.get("artifact") or {}
    server = str((data.get("registry") or {}).get("server", ""))
    repository = str(artifact.get("repository", ""))
    tag = str(artifact.get("tag") or "latest")
    return parse_image(f"{server}/{repository}:{tag}" if server else f"{repository}:{tag}").normalised()


def _trivy_owner(report: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(namespace, kind, name, container) of the workload the report was made for. A name that is no
    valid label value (over 63 characters) is in the annotation of the same key instead, with only
    its hash in a label (trivy-operator's kube.ObjectToObjectMeta)."""
    metadata = report.get("metadata") or {}
    labels = metadata.get("labels") or {}
    name = labels.get(_RESOURCE_NAME_KEY) or (metadata.get("annotations") or {}).get(_RESOURCE_NAME_KEY, "")
    return (str(labels.get("trivy-operator.resource.namespace", "")),
            str(labels.get("trivy-operator.resource.kind", "")),
            str(name),
            str(labels.get("trivy-operator.container.name", "")))


def _trivy_kind(report: Mapping[str, Any]) -> str:
    return str(report.get("kind") or TRIVY_KIND)


def _trivy_report_name(report: Mapping[str, Any]) -> str:
    """"namespace/name" for a VulnerabilityReport, the bare name for a cluster-scoped one."""
    metadata = report.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    name = str(metadata.get("name", ""))
    return f"{namespace}/{name}" if namespace else name


def is_kbom_report(report: Mapping[str, Any]) -> bool:
    """A ClusterVulnerabilityReport of the cluster's Kubernetes components (from the KBOM), not of an
    image: it is never joined to a running image."""
    return _trivy_owner(report)[1] == KBOM_OWNER_KIND


def _matches(report: Mapping[str, Any], image: RunningImage) -> bool:
    """A report belongs to an image by digest; else by the workload and container it was made for
    (Trivy Operator's labels); else by registry/repository:tag."""
    digest = str(((report.get("report") or {}).get("artifact") or {}).get("digest") or "")
    if is_kbom_report(report):
        return False
    if digest and image.digest:
        return digest == image.digest
    namespace, kind, name, container = _trivy_owner(report)
    if Workload(namespace, kind, name, container) in image.workloads:
        return True
    return _trivy_reference(report) == parse_image(image.image).normalised()


def trivy_image_report(report: Mapping[str, Any], image: RunningImage) -> ImageReport:
    """One Trivy report (VulnerabilityReport or ClusterVulnerabilityReport: the same `report`) as an
    ImageReport of `image`."""
    data = report.get("report") or {}
    kind = _trivy_kind(report)
    name = _trivy_report_name(report)
    vulnerabilities = tuple(_trivy_vulnerability(item, f"{kind} {name}")
                            for item in data.get("vulnerabilities") or [])
    summary = data.get("summary") or {}
    if summary:
        counts = {severity: int(summary.get(f"{severity.lower()}Count") or 0) for severity in SEVERITIES}
    else:
        counts = {severity: sum(v.severity == severity for v in vulnerabilities) for severity in SEVERITIES}
    metadata = report.get("metadata") or {}
    updated = _timestamp(data.get("updateTimestamp")) or _timestamp(metadata.get("creationTimestamp"))
    return ImageReport("trivy", image, "scanned", vulnerabilities, counts, updated, name, (kind,))


def _vulnerability_key(vulnerability: Vulnerability) -> tuple[str, str]:
    return (vulnerability.id, vulnerability.package)


def merge_image_reports(reports: Sequence[ImageReport]) -> ImageReport:
    """Several Trivy reports of one image (several workloads run it; a VulnerabilityReport and a
    ClusterVulnerabilityReport) as one, counting each vulnerability once.

    The newest report comes first and keeps all its entries (one report may list a CVE once per file it
    was found in, and its summary counts it so); an older report adds only the (vulnerabilityID,
    package) pairs no newer one has. Each severity's count is the larger of any report's own summary
    and the merged list's count: never a sum, so an image reported twice is not counted twice."""
    if len(reports) == 1:
        return reports[0]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    newest_first = sorted(reports, key=lambda r: (r.updated or epoch, r.report_name), reverse=True)
    merged: list[Vulnerability] = []
    seen: set[tuple[str, str]] = set()
    for report in newest_first:
        fresh = [v for v in report.vulnerabilities if _vulnerability_key(v) not in seen]
        merged.extend(fresh)
        seen.update(_vulnerability_key(v) for v in fresh)
    counts = {severity: max([sum(v.severity == severity for v in merged),
                             *(report.count(severity) for report in newest_first)])
              for severity in SEVERITIES}
    kinds = tuple(kind for kind in (TRIVY_KIND, TRIVY_CLUSTER_KIND)
                  if any(kind in report.kinds for report in newest_first))
    return ImageReport("trivy", newest_first[0].image, "scanned", tuple(merged), counts,
                       newest_first[0].updated, "; ".join(report.report_name for report in newest_first),
                       kinds)


def kubernetes_components(reports: Sequence[Mapping[str, Any]]) -> list[ComponentReport] | None:
    """The Kubernetes components' vulnerabilities from the newest KBOM ClusterVulnerabilityReport, one
    ComponentReport per (component, installed version), worst first; None when no report is a KBOM one.
    Only the newest counts: an older one describes the cluster before an upgrade."""
    kbom = [report for report in reports if is_kbom_report(report)]
    if not kbom:
        return None
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)

    def updated(report: Mapping[str, Any]) -> dt.datetime:
        return (_timestamp((report.get("report") or {}).get("updateTimestamp"))
                or _timestamp((report.get("metadata") or {}).get("creationTimestamp")) or epoch)

    newest = max(kbom, key=lambda report: (updated(report), _trivy_report_name(report)))
    data = newest.get("report") or {}
    name = _trivy_report_name(newest)
    cluster_version = str((data.get("artifact") or {}).get("tag") or "")
    grouped: dict[tuple[str, str], list[Vulnerability]] = {}
    for item in data.get("vulnerabilities") or []:
        vulnerability = _trivy_vulnerability(item, f"{TRIVY_CLUSTER_KIND} {name}")
        grouped.setdefault((vulnerability.package, vulnerability.installed_version), []).append(vulnerability)
    stamp = updated(newest)
    components = [ComponentReport(component, version, cluster_version, tuple(found),
                                  None if stamp == epoch else stamp, name)
                  for (component, version), found in grouped.items()]
    return sorted(components, key=lambda c: (-c.fixable("CRITICAL"), -c.count("CRITICAL"), -c.fixable("HIGH"),
                                             -c.count("HIGH"), -c.count("MEDIUM"), c.component, c.version))


def trivy_image_reports(reports: Sequence[Mapping[str, Any]], images: Sequence[RunningImage]
                        ) -> list[ImageReport]:
    """For each running image, every Trivy report (either kind) that matches it, merged
    (`merge_image_reports`); "no report" when Trivy has none yet. KBOM reports match no image."""
    result = []
    for image in images:
        candidates = [trivy_image_report(report, image) for report in reports if _matches(report, image)]
        if candidates:
            result.append(merge_image_reports(candidates))
        else:
            result.append(ImageReport("trivy", image, "no report"))
    return result


def list_trivy_reports(kube: ResourceSource, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every VulnerabilityReport (one request); NotInstalled when the CRD is not served."""
    try:
        return kube.list_resource(TRIVY_GROUP_VERSION, TRIVY_RESOURCE, namespace)
    except NotInstalled as error:
        raise NotInstalled(error.source, "Trivy Operator's VulnerabilityReport CRD "
                           f"({TRIVY_GROUP_VERSION}) is not served by this cluster",
                           hint=TRIVY_HINT) from None


def list_trivy_cluster_reports(kube: ResourceSource) -> list[dict[str, Any]]:
    """Every ClusterVulnerabilityReport (one request; cluster-scoped, so never per namespace). Its CRD
    not served (404) is no error: an older Trivy Operator, or none written; [] then. A 403 is
    Forbidden with a sentence naming the grant."""
    try:
        reports = kube.list_resource(TRIVY_GROUP_VERSION, TRIVY_CLUSTER_RESOURCE, None)
    except NotInstalled:
        return []
    except Forbidden as error:
        raise Forbidden(error.source, f"{TRIVY_CLUSTER_RESOURCE}.aquasecurity.github.io",
                        hint="Grant get, list and watch on clustervulnerabilityreports "
                             "(aquasecurity.github.io) as deploy/k8s/clusterrole.yaml does; the "
                             "namespaced VulnerabilityReports are still shown.") from None
    for report in reports:  # list items carry no kind; it tells the page where a row came from
        report.setdefault("kind", TRIVY_CLUSTER_KIND)
    return reports


# ------------------------------------------------------------------------------------------------ Clair


def clair_image_report(report: Mapping[str, Any], image: RunningImage) -> ImageReport:
    """One ImageReport from the matcher's JSON: a row per (package, vulnerability) pair, as Trivy
    counts them; the same vulnerability name from two updaters for one package counts once."""
    packages = report.get("packages") or {}
    vulnerabilities = report.get("vulnerabilities") or {}
    seen: set[tuple[str, str]] = set()
    rows: list[Vulnerability] = []
    for package_id, vulnerability_ids in (report.get("package_vulnerabilities") or {}).items():
        package = packages.get(package_id) or {}
        for vulnerability_id in vulnerability_ids or []:
            found = vulnerabilities.get(vulnerability_id) or {}
            name = str(found.get("name", vulnerability_id))
            if (package_id, name) in seen:
                continue
            seen.add((package_id, name))
            links = str(found.get("links") or "").split()
            description = str(found.get("description") or "")
            rows.append(Vulnerability(
                id=name,
                severity=_CLAIR_SEVERITY.get(str(found.get("normalized_severity", "")), "UNKNOWN"),
                package=str(package.get("name", "")),
                installed_version=str(package.get("version", "")),
                fixed_version=str(found.get("fixed_in_version") or ""),
                title=description.split(". ")[0][:200],
                link=links[0] if links else "",
                origin=f"{CLAIR_KIND} {report.get('manifest_hash', image.digest or '')}",
            ))
    counts = {severity: sum(row.severity == severity for row in rows) for severity in SEVERITIES}
    return ImageReport("clair", image, "scanned", tuple(rows), counts, None,
                       str(report.get("manifest_hash", image.digest or "")), (CLAIR_KIND,))


def clair_image_reports(client: ClairClient, images: Sequence[RunningImage]) -> list[ImageReport]:
    """One request per image digest. 404 -> "not indexed"; an image without a known digest -> "no digest".
    The first failure (Clair down, a timeout, a 500) stops the lot: it is one sentence on the page."""
    result = []
    for image in images:
        if not image.digest:
            result.append(ImageReport("clair", image, "no digest"))
            continue
        report = client.vulnerability_report(image.digest)
        if report is None:
            result.append(ImageReport("clair", image, "not indexed", report_name=image.digest,
                                      kinds=(CLAIR_KIND,)))
        else:
            result.append(clair_image_report(report, image))
    return result


# ------------------------------------------------------------------------------------------ collecting

def collect_vulnerabilities(kube: ClusterSource, settings: Settings, *, namespace: str | None = None,
                            pods: Sequence[Mapping[str, Any]] | None = None,
                            now: dt.datetime | None = None) -> VulnerabilityData:
    """Everything the vulnerabilities section needs: the pods (one list, unless `pods` is given), the
    VulnerabilityReports and the ClusterVulnerabilityReports (one list each) and, with CLAIR_URL set, one
    Clair request per image digest. Each source's failure is kept as its SourceError; the others still
    arrive (ClusterVulnerabilityReports that cannot be read leave the VulnerabilityReports shown)."""
    now = now or dt.datetime.now(dt.UTC)
    images: list[RunningImage] | SourceError
    try:
        images = running_images(pods if pods is not None else kube.list_pods(namespace))
    except SourceError as error:
        images = error
    trivy: list[ImageReport] | SourceError
    clair: list[ImageReport] | SourceError
    trivy_cluster: SourceError | None = None
    components: list[ComponentReport] | None = None
    if isinstance(images, SourceError):
        trivy = images  # nothing to join the reports to: do not ask
    else:
        try:
            reports = list_trivy_reports(kube, namespace)
        except SourceError as error:
            trivy = error  # the namespaced kind is Trivy Operator's main one: without it, no Trivy rows
        else:
            try:
                reports = [*reports, *list_trivy_cluster_reports(kube)]
            except SourceError as error:
                trivy_cluster = error
            trivy = trivy_image_reports(reports, images)
            components = kubernetes_components(reports)
    if not settings.clair_url:
        clair = NotConfigured("clair")
    elif isinstance(images, SourceError):
        clair = images
    else:
        try:
            client = clair_client(settings)
            try:
                clair = clair_image_reports(client, images)
            finally:
                client.close()
        except SourceError as error:
            clair = error
    return VulnerabilityData(images, trivy, clair, now, trivy_cluster, components)


# ------------------------------------------------------------------------------------------ presenting

TRIVY_HINT = ("Install Trivy Operator with its Helm chart (helm repo add aqua "
              "https://aquasecurity.github.io/helm-charts/ && helm install trivy-operator "
              "aqua/trivy-operator -n trivy-system --create-namespace); it scans each workload's images and "
              "writes VulnerabilityReports that KAMS reads.")


def how_to_enable(data: VulnerabilityData) -> list[str]:
    """Sentences for the page when neither source is there: Trivy's CRD is not served (NotInstalled)
    and CLAIR_URL is unset (NotConfigured). Empty when at least one source is present or failing for
    another reason (that failure has its own sentence in `data.sentences()`)."""
    trivy_missing = isinstance(data.trivy, NotInstalled)
    clair_missing = isinstance(data.clair, NotConfigured)
    if not (trivy_missing and clair_missing):
        return []
    return ["No vulnerability scanner is connected: Trivy Operator is not installed in this cluster and "
            "CLAIR_URL is not set.", TRIVY_HINT, CLAIR_HINT]


TABLE_COLUMNS = ["image", "digest", "namespaces", "workloads", "pods", "source", "reported_by", "status",
                 "critical", "high", "medium", "low", "unknown", "fixable_critical", "fixable_high",
                 "fixable_medium", "fixable_low", "fixable", "top_cves", "updated", "age_hours", "report"]
_COUNT_COLUMNS = [*(severity.lower() for severity in SEVERITIES),
                  *(f"fixable_{severity.lower()}" for severity in SEVERITIES[:4]), "fixable"]


def _cve_summary(report: ImageReport | ComponentReport, limit: int) -> str:
    parts = []
    for vulnerability in report.top(limit):
        fix = f" -> {vulnerability.fixed_version}" if vulnerability.fixable else " (no fix)"
        parts.append(f"{vulnerability.id} {vulnerability.severity.lower()} {vulnerability.package} "
                     f"{vulnerability.installed_version}{fix}")
    return "; ".join(parts)


def vulnerability_table(data: VulnerabilityData, *, top: int = 3) -> pd.DataFrame:
    """One row per running image and source (the `source` column: trivy, clair; `reported_by`: the
    report kinds merged into a Trivy row, or "Clair v4"); an image no present
    source reports on gets one row with status "no report". Worst first: fixable critical, critical,
    fixable high, high, then image name."""
    rows: list[dict[str, Any]] = []
    images = data.images if isinstance(data.images, list) else []
    reported: dict[RunningImage, list[ImageReport]] = {image: [] for image in images}
    for report in data.reports():
        reported.setdefault(report.image, []).append(report)
    for image, reports in reported.items():
        base = {"image": image.image, "digest": image.digest or "", "namespaces": ", ".join(image.namespaces),
                "workloads": ", ".join(w.label() for w in image.workloads), "pods": image.pods}
        if not reports:
            reports = [ImageReport("", image, "no report")]
        for report in reports:
            age = ((data.now - report.updated).total_seconds() / 3600.0) if report.updated else None
            rows.append({
                **base, "source": report.source, "reported_by": " + ".join(report.kinds),
                "status": report.status,
                **{severity.lower(): report.count(severity) for severity in SEVERITIES},
                **{f"fixable_{severity.lower()}": report.fixable(severity) for severity in SEVERITIES[:4]},
                "fixable": sum(1 for v in report.vulnerabilities if v.fixable),
                "top_cves": _cve_summary(report, top), "updated": report.updated,
                "age_hours": round(age, 1) if age is not None else None, "report": report.report_name,
            })
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True)
    frame["age_hours"] = frame["age_hours"].astype("float64")
    for column in _COUNT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    return (frame.sort_values(["fixable_critical", "critical", "fixable_high", "high", "image", "source"],
                              ascending=[False, False, False, False, True, True], kind="stable")
            .reset_index(drop=True))


CVE_COLUMNS = ["image", "source", "id", "severity", "package", "installed_version", "fixed_version",
               "fixable", "score", "title", "link", "reported_by"]


def top_vulnerabilities_frame(data: VulnerabilityData, *, per_image: int = 5) -> pd.DataFrame:
    """The worst `per_image` vulnerabilities of each image and source, with installed and fixed versions."""
    rows = [{"image": report.image.image, "source": report.source, "id": v.id, "severity": v.severity,
             "package": v.package, "installed_version": v.installed_version, "fixed_version": v.fixed_version,
             "fixable": v.fixable, "score": v.score, "title": v.title, "link": v.link,
             "reported_by": v.origin}
            for report in data.reports() for v in report.top(per_image)]
    frame = pd.DataFrame(rows, columns=CVE_COLUMNS)
    frame["score"] = frame["score"].astype("float64")
    frame["fixable"] = frame["fixable"].astype("bool")
    return frame


#: Where trivy-operator turns the KBOM scan on (deploy/helm/values.yaml, pkg/operator/operator.go: the
#: cluster controller runs when both are true; both are true by default).
KBOM_SETTINGS = ("operator.sbomGenerationEnabled", "operator.vulnerabilityScannerEnabled")
KBOM_HINT = (f"Trivy Operator's cluster infrastructure scan is off or has not run: enable it with the Helm "
             f"values {KBOM_SETTINGS[0]}=true and {KBOM_SETTINGS[1]}=true (the chart's defaults; the "
             "variables OPERATOR_SBOM_GENERATION_ENABLED and OPERATOR_VULNERABILITY_SCANNER_ENABLED). It "
             "writes one ClusterVulnerabilityReport (container k8s-cluster) once it has seen every node and "
             "every control-plane pod labelled 'component'.")

COMPONENT_COLUMNS = ["component", "version", "cluster_version", "critical", "high", "medium", "low",
                     "unknown", "fixable_critical", "fixable_high", "fixable_medium", "fixable_low",
                     "fixable", "top_cves", "updated", "age_hours", "report"]


def components_sentence(data: VulnerabilityData) -> str | None:
    """What to say above the Kubernetes components table when it is empty or missing: KBOM_HINT when
    Trivy's reports were read but none is a KBOM one; None when there is one, or when Trivy Operator is
    missing or failing (that has its own sentence)."""
    if not isinstance(data.trivy, list) or data.trivy_cluster is not None:
        return None
    return KBOM_HINT if data.components is None else None


def components_table(data: VulnerabilityData, *, top: int = 3) -> pd.DataFrame:
    """One row per Kubernetes component of the KBOM report (COMPONENT_COLUMNS), worst first; empty
    when there is none. Counts are of the report's entries (its summary is the whole cluster's)."""
    rows = []
    for component in data.components or []:
        age = ((data.now - component.updated).total_seconds() / 3600.0) if component.updated else None
        rows.append({
            "component": component.component, "version": component.version,
            "cluster_version": component.cluster_version,
            **{severity.lower(): component.count(severity) for severity in SEVERITIES},
            **{f"fixable_{severity.lower()}": component.fixable(severity) for severity in SEVERITIES[:4]},
            "fixable": sum(1 for v in component.vulnerabilities if v.fixable),
            "top_cves": _cve_summary(component, top), "updated": component.updated,
            "age_hours": round(age, 1) if age is not None else None, "report": component.report_name})
    frame = pd.DataFrame(rows, columns=COMPONENT_COLUMNS)
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True)
    frame["age_hours"] = frame["age_hours"].astype("float64")
    for column in _COUNT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    return frame


# ------------------------------------------------------------------------------------------ score

def vulnerability_scan(data: VulnerabilityData) -> ScanResult:
    """Findings for the security score: one per image with fixable critical vulnerabilities
    (image-vulnerabilities-critical, danger) or else fixable high ones (image-vulnerabilities-high,
    warning). Each image some source scanned is one evaluation (CheckResult), passed when neither
    applies; when two sources disagree, the worse counts. Unscanned images are not evaluated. The
    Kubernetes components of the KBOM report follow the same rule (_component_findings)."""
    evaluations: list[Evaluation] = []
    by_image: dict[RunningImage, list[ImageReport]] = {}
    for report in data.reports():
        if report.status == "scanned":
            by_image.setdefault(report.image, []).append(report)
    for image, reports in sorted(by_image.items(), key=lambda item: item[0].image):
        evaluations.append(_evaluate((CRITICAL_CHECK, HIGH_CHECK), "Image", ", ".join(image.namespaces),
                                     image.image, max(report.fixable("CRITICAL") for report in reports),
                                     max(report.fixable("HIGH") for report in reports),
                                     partial(_image_message, image, reports)))
    evaluations += _component_evaluations(data)
    skipped = [f"Image vulnerabilities were not checked, because {source_phrase(name)} could not be read: "
               f"{sentence}" for name, sentence in data.sentences().items()]
    return audit_result(AUDIT, evaluations, skipped, vulnerability_unscored(data))


#: What each of VulnerabilityData.sentences()'s sources is, in a sentence.
_SOURCE_PHRASES = {"pods": "the Pods list", "trivy": "Trivy Operator's VulnerabilityReports",
                   "clair": "Clair", "trivy-cluster": "Trivy Operator's ClusterVulnerabilityReports"}


def source_phrase(name: str) -> str:
    """A key of VulnerabilityData.sentences() as words ("pods" -> "the Pods list")."""
    return _SOURCE_PHRASES.get(name, name)


def vulnerability_unscored(data: VulnerabilityData) -> dict[str, str]:
    """{"Vulnerabilities": why} when a source that is there (or should be) could not be read: the score
    would count only the images the others reported on. Trivy Operator not installed and CLAIR_URL unset
    are choices, not failures: the category is then simply absent (nothing measures it)."""
    failed = data.sentences()
    if not failed:
        return {}
    what = names([_SOURCE_PHRASES.get(name, name) for name in failed])
    sentences = list(dict.fromkeys(sentence.strip() for sentence in failed.values()))
    return {CATEGORY: " ".join([f"{what} could not be read.", *sentences])}


def _fixable_phrase(count: int, worst: str) -> str:
    return (f"has {count} {worst.lower()} {'vulnerability' if count == 1 else 'vulnerabilities'} "
            "with a fix available")


def _first_three(items: Sequence[str], separator: str) -> str:
    return separator.join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def _evaluate(checks: tuple[str, str], kind: str, namespace: str, name: str, critical: int, high: int,
              message: Callable[[str, int], str]) -> Evaluation:
    """One evaluation of the fixable-vulnerability rule: failed as checks[0] with fixable criticals,
    else as checks[1] with fixable highs, else passed (counted under checks[1]); a failure's message
    is `message(worst severity, its fixable count)`."""
    check_id = checks[0] if critical else checks[1]
    if not (critical or high):
        return Evaluation(check_id, kind, namespace, name)
    worst = "CRITICAL" if critical else "HIGH"
    return Evaluation(check_id, kind, namespace, name, message(worst, critical or high))


def _component_evaluations(data: VulnerabilityData) -> list[Evaluation]:
    """The image rule for each component of the KBOM report: one evaluation per component listed.
    Cluster-wide: no namespace."""
    return [_evaluate((COMPONENT_CRITICAL_CHECK, COMPONENT_HIGH_CHECK), COMPONENT_KIND, "",
                      f"{component.component} {component.version}", component.fixable("CRITICAL"),
                      component.fixable("HIGH"), partial(_component_message, component))
            for component in data.components or []]


def _image_message(image: RunningImage, reports: list[ImageReport], worst: str, count: int) -> str:
    """Named after the source with the most fixable vulnerabilities of the worst severity."""
    source = max(reports, key=lambda report: report.fixable(worst))
    ids = [v.id for v in source.top(len(source.vulnerabilities)) if v.severity == worst and v.fixable]
    where = "; ".join(w.label() for w in image.workloads)
    return (f"{image.image} {_fixable_phrase(count, worst)} ({_first_three(ids, ', ')}; {source.source}); "
            f"it runs in {where}.")


def _component_message(component: ComponentReport, worst: str, count: int) -> str:
    fixes = [f"{v.id} (fixed in {v.fixed_version})"
             for v in component.top(len(component.vulnerabilities)) if v.severity == worst and v.fixable]
    return (f"{component.component} {component.version} {_fixable_phrase(count, worst)}: "
            f"{_first_three(fixes, '; ')} (Trivy Operator's cluster scan, {component.report_name}).")
