"""Severity is policy, for every finding KAMS makes: the YAML checks and the audits that are code (RBAC,
network exposure, versions, image vulnerabilities) obey the same KAMS_SECURITY_SEVERITY overrides.

    checks = policy_checks(settings)                 # the YAML checks with overrides applied
    workloads = scan_workloads(objects, settings)    # those checks on gathered objects
    audits = apply_policy(security_scan(...), settings)  # an audit's ScanResult with overrides applied

An unknown id or severity raises ValueError, so a typo in configuration is never silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.security.engine import (
    IGNORE,
    Check,
    ScanResult,
    apply_severity_overrides,
    audit_ids,
    builtin_checks,
    scan_objects,
)
from k8sdata.security.scoring import kinds_list, unread
from k8sdata.security.sources import Objects

#: Ids of the checks the audits in code evaluate: the catalogue's checks with `rule: {audit: ...}`.
AUDIT_IDS: frozenset[str] = audit_ids()


def policy_checks(settings: Settings, checks: Iterable[Check] | None = None) -> list[Check]:
    """The checks (default: the built-in ones) with the configured severities; ignored ones dropped."""
    return apply_severity_overrides(builtin_checks() if checks is None else checks,
                                    settings.security_severity, other_ids=AUDIT_IDS)


def scan_workloads(objects: Objects, settings: Settings) -> ScanResult:
    """The YAML checks on gathered objects, as configured: severities, the Host Ports known list, and the
    PDB check only when PodDisruptionBudgets could be read."""
    checks = policy_checks(settings)
    result = scan_objects(objects.items, checks, pdbs_known=objects.pdbs_known,
                          service_accounts_known=objects.service_accounts_known,
                          allowed_host_ports=settings.security_allowed_host_ports)
    result.unscored.update(workload_unscored(objects, checks))
    return result


def workload_unscored(objects: Objects, checks: Iterable[Check]) -> dict[str, str]:
    """Category -> why it is not scored: a check of it applies to a kind whose list failed (or needs
    the PodDisruptionBudgets or ServiceAccounts that failed), so its evaluations miss objects that are
    there or judge them without what decides them."""
    failed: dict[str, dict[str, SourceError]] = {}
    for check in checks:
        kinds = [*check.kinds, *check.needs]
        for kind in kinds:
            if kind in objects.failed:
                failed.setdefault(check.category, {})[kinds_list(kind)] = objects.failed[kind]
    return {category: unread(dict(sorted(lists.items()))) for category, lists in failed.items()}


def apply_policy(result: ScanResult, settings: Settings) -> ScanResult:
    """An audit's findings and score units with the configured severities; "ignore" drops them."""
    wanted = dict(settings.security_severity)
    if not wanted:
        return result
    findings = [replace(finding, severity=wanted.get(finding.id, finding.severity))
                for finding in result.findings if wanted.get(finding.id) != IGNORE]
    results = [replace(unit, severity=wanted.get(unit.check_id, unit.severity))
               for unit in result.results if wanted.get(unit.check_id) != IGNORE]
    return ScanResult(findings, results, list(result.skipped), dict(result.unscored))
