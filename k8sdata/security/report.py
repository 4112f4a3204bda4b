"""The one security pipeline: every scan of a live cluster is assembled here, and only here.

The Security page, `python -m k8sdata scan --cluster` and the snapshot's security tables all call
`security_report`, so they read the same inputs, apply the same severity policy and give the same score:
workloads (Pod Security Standards, hygiene), RBAC, network exposure, versions, and image vulnerabilities.

    report = security_report(kube, settings, today)
    report.merged            # every finding and evaluation, for the score and the CSV
    report.scores()          # per category and Overall (k8sdata.security.scoring), or for one namespace
    report.skipped           # what could not be evaluated, each said once

A source that fails is kept inside the report as its SourceError (a list in `objects.failed` or
`inputs`, the vulnerability sources in `vulnerabilities`), and the categories that need it are not scored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.security import vulns
from k8sdata.security.cluster import SECTION_CATEGORIES, SecurityInputs, collect_security_inputs, merge_scans
from k8sdata.security.cluster import security_scan as audit_scan
from k8sdata.security.engine import ScanResult, builtin_checks
from k8sdata.security.policy import apply_policy, scan_workloads
from k8sdata.security.scoring import Score, score
from k8sdata.security.sources import Objects, cluster_objects, skipped_sentences
from k8sdata.sources.listonce import ListOnce
from k8sdata.sources.protocols import ClusterSource


@dataclass(frozen=True)
class SecurityReport:
    """One cluster's security scan, every part kept for the views that show it."""

    objects: Objects  # the workloads, pods and PDBs read (failed lists in `failed` and `skipped`)
    workloads: ScanResult  # Pod Security Standards and hygiene on `objects`
    inputs: SecurityInputs  # what the RBAC, network and version audits read
    audits: ScanResult  # RBAC, network, versions
    vulnerabilities: vulns.VulnerabilityData | SourceError  # the running images and their reports
    vulnerability_scan: ScanResult  # fixable critical/high vulnerabilities, one evaluation per image
    merged: ScanResult  # all of the above: the findings and the evaluations the score counts

    @property
    def skipped(self) -> list[str]:
        """What could not be evaluated and why, each said once."""
        return skipped_sentences(self.objects, self.merged.skipped)

    def scores(self, namespace: str | None = None) -> list[Score]:
        """Per category and Overall; with `namespace`, from that namespace's evaluations and the
        cluster-wide ones (the page's namespace filter)."""
        results = [result for result in self.merged.results
                   if namespace is None or result.namespace in (namespace, "")]
        return score(results, self.merged.unscored)


def unscored_for(error: SourceError, part: str) -> dict[str, str]:
    """Category -> why it is not scored, when a whole part could not be read at all: "workloads" (the
    YAML checks' categories), "audit" (RBAC, Network, Versions) or "vulnerabilities"."""
    categories = {"workloads": sorted({check.category for check in builtin_checks()}),
                  "audit": sorted(SECTION_CATEGORIES.values()),
                  "vulnerabilities": [vulns.CATEGORY]}[part]
    return {category: f"its inputs could not be read. {error.sentence}" for category in categories}


def security_report(kube: ClusterSource, settings: Settings, today: dt.date, *,
                    objects: Objects | None = None, own_namespace: str | None = None) -> SecurityReport:
    """Scan the cluster `kube` (a KubeClient, or the snapshot's list-once wrapper). `objects`: workloads
    already gathered (the CLI adds manifests to the live ones); `own_namespace`: where KAMS asks its own
    SelfSubjectRulesReview (the page's proof that it is read-only). Each list is read once for the whole
    report (ListOnce), the pods reduced to what the audits read where a controller is scanned instead."""
    kube = kube if isinstance(kube, ListOnce) else ListOnce(kube)
    objects = objects if objects is not None else cluster_objects(kube)
    workloads = scan_workloads(objects, settings)
    inputs = collect_security_inputs(kube, own_namespace=own_namespace)
    audits = apply_policy(audit_scan(inputs, today), settings)
    # The audits' pods list serves the image list too (one list request fewer).
    pods = None if isinstance(inputs.pods, SourceError) else inputs.pods
    found: vulns.VulnerabilityData | SourceError
    try:
        found = vulns.collect_vulnerabilities(kube, settings, pods=pods)
    except SourceError as error:
        found = error
    if isinstance(found, SourceError):
        vulnerability_scan = ScanResult([], [], [], unscored_for(found, "vulnerabilities"))
    else:
        vulnerability_scan = apply_policy(vulns.vulnerability_scan(found), settings)
    return SecurityReport(objects=objects, workloads=workloads, inputs=inputs, audits=audits,
                          vulnerabilities=found, vulnerability_scan=vulnerability_scan,
                          merged=merge_scans([workloads, audits, vulnerability_scan]))
