"""Cached access to k8sdata.security for the Security page.

Everything is read cluster-wide and cached; the sidebar's namespace is applied afterwards (outside the
cached functions), so switching namespaces never reads the cluster again. Results are shared (ui.cache,
`shared=True`, with a TTL) rather than copied: they hold SourceError values (a failed list
is an answer, shown as a sentence), which need not survive pickling, and nothing mutates them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from k8sdata.access import current_scope
from k8sdata.archive.scores import ScoreTrend
from k8sdata.archive.scores import score_trend as archived_score_trend
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.security import Finding, Score, score
from k8sdata.security.cluster import SecurityInputs
from k8sdata.security.report import SecurityReport, security_report, unscored_for
from k8sdata.security.vulns import VulnerabilityData
from ui.cache import cached
from ui.data import archive, kube_client

#: Security answers change slowly and cost a dozen list requests: a minute is fresh enough.
SECURITY_TTL_SECONDS = 60
#: Where a pod finds its own namespace (KAMS in the cluster); elsewhere the sidebar's or "default".
SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def own_namespace() -> str:
    """The namespace KAMS asks its SelfSubjectRulesReview in: its own when running in a pod, else
    "default" (cluster-wide grants show in any namespace's review). Not the sidebar's choice: the scan
    is shared by every namespace a viewer picks, so picking one never reads the cluster again."""
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE_FILE, encoding="utf-8") as handle:
            found = handle.read().strip()
    except OSError:
        found = ""
    return found or "default"


@cached(ttl=SECURITY_TTL_SECONDS, max_entries=8, shared=True)
def _report(settings: Settings, context: str | None, namespace: str) -> SecurityReport:
    return security_report(kube_client(settings, context), settings, _today(), own_namespace=namespace)


def report(settings: Settings, context: str | None) -> SecurityReport:
    """The cluster's security scan (k8sdata.security.report: the one pipeline the CLI and the snapshot use
    too), read cluster-wide and shared by every viewer for SECURITY_TTL_SECONDS. Raises NotConfigured
    (uncached) without a cluster."""
    if not settings.kubernetes_configured:
        raise NotConfigured("kubernetes")
    return _report(settings, context, own_namespace())


@dataclass(frozen=True)
class PageScan:
    """The scan as the Security page draws it for the chosen namespace. The same shape whether the scan
    ran or could not start (`scan` is then the SourceError): nothing found, every category unscored and
    why, so each tab draws the same way and says what is missing."""

    scan: SecurityReport | SourceError
    workload_findings: list[Finding]  # Pod Security Standards and hygiene, every namespace
    audit_findings: list[Finding]  # RBAC, network, versions and vulnerabilities, every namespace
    skipped: list[str]  # sentences: which workload lists could not be read
    audit_skipped: list[str]
    unscored: dict[str, str]  # category -> why it has no score
    scores: list[Score]  # the chosen namespace's evaluations and the cluster-wide ones

    @property
    def inputs(self) -> SecurityInputs | SourceError:
        """What the RBAC, network and version audits read."""
        return self.scan if isinstance(self.scan, SourceError) else self.scan.inputs

    @property
    def vulnerabilities(self) -> VulnerabilityData | SourceError:
        return self.scan if isinstance(self.scan, SourceError) else self.scan.vulnerabilities

    @property
    def workloads_complete(self) -> bool:
        """Whether every workload list was read: "no findings" is said (green) only then."""
        return not isinstance(self.scan, SourceError) and not self.scan.objects.failed


def page_scan(scan: SecurityReport | SourceError, namespace: str | None) -> PageScan:
    """The page's view of `scan` (or of the error that stopped it before anything was read)."""
    if isinstance(scan, SourceError):
        unscored = {**unscored_for(scan, "workloads"), **unscored_for(scan, "audit"),
                    **unscored_for(scan, "vulnerabilities")}
        return PageScan(scan, [], [], [], [], unscored, score([], unscored))
    return PageScan(scan, scan.workloads.findings, [*scan.audits.findings, *scan.vulnerability_scan.findings],
                    scan.objects.skipped, [*scan.audits.skipped, *scan.vulnerability_scan.skipped],
                    scan.merged.unscored, scan.scores(namespace))


@cached(ttl=SECURITY_TTL_SECONDS)
def _score_trend(settings: Settings) -> ScoreTrend:
    try:
        store = archive(settings)
    except NotConfigured:
        return ScoreTrend(sentence="The score trend needs archived snapshots, and archiving is off "
                                   "(set KAMS_S3_BUCKET or KAMS_ARCHIVE_DIR).")
    return archived_score_trend(store)


def score_trend(settings: Settings) -> ScoreTrend:
    """Scores over time from the archive, or a sentence saying why there is no trend yet. The archived
    scores are the whole cluster's, so a person limited to some namespaces is not shown them."""
    scope = current_scope()
    if scope is not None:
        return ScoreTrend(sentence="The score trend is the whole cluster's, and your access is limited to "
                                   f"the namespaces {', '.join(sorted(scope))}.")
    return _score_trend(settings)


def clear() -> None:
    """Forget the cached answers (the page's Refresh button); clients stay, they hold no data."""
    for function in (_report, _score_trend):
        function.clear()
