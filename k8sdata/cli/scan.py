"""`python -m k8sdata scan [PATH ...] [--cluster] [--format table|json|csv|sarif] [--fail-on SEVERITY]`

The security engine (k8sdata.security) on manifests - files, folders, or `-` for stdin, so
`kubectl kustomize deploy/k8s | python -m k8sdata scan -` works - or on the live cluster. Manifests get
the workload checks and, on the roles, bindings, namespaces and NetworkPolicies they hold, the same RBAC
and network audits as the cluster (k8sdata.security.manifests). JSON is a list
of findings with the keys of docs/security.md (`--scores` makes it {"findings", "scores"}); SARIF 2.1.0
feeds code scanning. Exit status: 0, or 3 when a finding (not exempted) reaches --fail-on; 1 when the
cluster cannot be read, or when part of it could not be and nothing reached --fail-on (a category not
scored is not a pass); 2 for bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any, TextIO

import pandas as pd

from k8sdata.cli.output import add_context_option, format_table, kube_from_args
from k8sdata.config import Settings
from k8sdata.export import frame_to_csv
from k8sdata.security.cluster import merge_scans
from k8sdata.security.engine import (
    SEVERITIES,
    Finding,
    ScanResult,
    builtin_checks,
    severity_at_least,
)
from k8sdata.security.manifests import manifest_audits
from k8sdata.security.policy import apply_policy, policy_checks, scan_workloads
from k8sdata.security.report import security_report
from k8sdata.security.scoring import OVERALL, Score, score
from k8sdata.security.sources import (
    Objects,
    add_manifest_text,
    cluster_objects,
    manifest_files,
    skipped_sentences,
)
from k8sdata.sources.listonce import ListOnce
from k8sdata.sources.protocols import ResourceSource

FORMATS = ("table", "json", "csv", "sarif")
#: Exit status when findings reach --fail-on (1 is taken by "a source failed", 2 by "bad input").
EXIT_FINDINGS = 3
FINDING_TABLE = [("SEVERITY", "severity"), ("ID", "id"), ("PSS", "pss"), ("OBJECT", "object"),
                 ("CONTAINER", "container"), ("MESSAGE", "message")]
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"info": "note", "warning": "warning", "danger": "error"}
#: Exit status when part of the cluster could not be read (and no finding reached --fail-on).
EXIT_UNREAD = 1


def _gather(args: argparse.Namespace, kube: ResourceSource | None) -> tuple[Objects, int]:
    """The objects to scan, and how many of them (the first ones) came from manifests."""
    objects = Objects()
    for raw in args.paths:
        if raw == "-":
            add_manifest_text(objects, sys.stdin.read(), "stdin")
            continue
        for path in manifest_files([raw]):
            add_manifest_text(objects, path.read_text(encoding="utf-8"), path.as_posix())
    from_manifests = len(objects.items)
    if kube is not None:  # --cluster
        live = cluster_objects(kube, namespace=args.namespace)
        objects.items += live.items
        objects.skipped += live.skipped
        objects.pdbs_known = live.pdbs_known
        objects.service_accounts_known = live.service_accounts_known
        objects.failed.update(live.failed)
    return objects, from_manifests


def _object(finding: Finding) -> str:
    return f"{finding.kind}/{finding.namespace}/{finding.name}" if finding.namespace else \
        f"{finding.kind}/{finding.name}"


def write_table(result: ScanResult, findings: list[Finding], out: TextIO) -> None:
    if findings:
        # Worst first, then by object: what to fix first is at the top.
        findings = sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), _object(f), f.id))
        frame = pd.DataFrame([{**finding.record(), "object": _object(finding),
                               "container": finding.container or "-", "pss": finding.pss or "-"}
                              for finding in findings])
        out.write(format_table(frame, FINDING_TABLE))
    elif result.unscored:  # "No findings." would be a pass from what was never read
        out.write("No findings in what could be read; some lists could not be read (see below).\n")
    else:
        out.write("No findings.\n")
    scores = score(result.results, result.unscored)
    out.write("\nScore: " + ", ".join(
        f"{s.category} {s.label()}" if s.scored or s.category != OVERALL else f"{OVERALL} withheld"
        for s in scores) + "\n")
    for item in scores:
        if item.note and (item.category == OVERALL or not item.scored):
            out.write(f"{item.category}: {item.note}\n")
    exempt = sum(finding.exempt for finding in result.findings)
    if exempt:
        out.write(f"{exempt} exempted finding(s) not shown (--show-exempt lists them).\n")


def score_records(result: ScanResult) -> list[dict[str, Any]]:
    """The scores as JSON records; `value` and `grade` are null for a category that was not scored
    (its `note` says why) and for a withheld Overall."""
    keys = ("category", "value", "grade", "passed", "warnings", "dangers", "note")
    scores: list[Score] = score(result.results, result.unscored)
    return [{key: getattr(item, key) for key in keys} for item in scores]


def write_csv(findings: list[Finding], with_exemption: bool, out: TextIO) -> None:
    records = [finding.record(with_exemption=with_exemption) for finding in findings]
    fields = list(Finding.KEYS) + (["exempt", "exempt_reason"] if with_exemption else [])
    # The downloads' writer: object names and messages never become spreadsheet formulas.
    out.write(frame_to_csv(pd.DataFrame(records, columns=fields)).decode("utf-8"))


def sarif_log(findings: list[Finding], objects: Objects, result: ScanResult | None = None,
              said: list[str] | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one rule per check, one result per finding, located in the manifest file
    when the object came from one, else by its logical name (kind/namespace/name). With `result`, the
    run's properties carry the scores (null where not scored), and what could not be read (`said`)
    becomes the invocation's notifications, with executionSuccessful false: an empty result list then
    does not read as a clean scan."""
    checks = {check.id: check for check in builtin_checks()}
    rule_ids = sorted({finding.id for finding in findings})
    rules = []
    for rule_id in rule_ids:
        check = checks.get(rule_id)
        finding = next(f for f in findings if f.id == rule_id)
        rules.append({
            "id": rule_id, "name": finding.title,
            "shortDescription": {"text": finding.title},
            "help": {"text": finding.remediation},
            "defaultConfiguration": {"level": SARIF_LEVELS[finding.severity]},
            "properties": {"category": finding.category, "pss": finding.pss,
                           "references": dict(check.references) if check else {}},
        })
    results = []
    for finding in findings:
        location: dict[str, Any] = {"logicalLocations": [{
            "name": finding.name, "fullyQualifiedName": _object(finding), "kind": "resource"}]}
        where = objects.locations.get((finding.kind, finding.namespace, finding.name))
        if where is None and finding.kind == "Namespace":
            # A namespace the manifests use without declaring it: point at its first object.
            where = next((place for (_, namespace, _), place in objects.locations.items()
                          if namespace == finding.name), None)
        if where is not None and where[0] != "stdin":
            location["physicalLocation"] = {"artifactLocation": {"uri": where[0]},
                                            "region": {"startLine": where[1]}}
        results.append({"ruleId": finding.id, "ruleIndex": rule_ids.index(finding.id),
                        "level": SARIF_LEVELS[finding.severity],
                        "message": {"text": f"{_object(finding)}: {finding.message}"},
                        "locations": [location]})
    run: dict[str, Any] = {"tool": {"driver": {"name": "KAMS", "rules": rules}}, "results": results}
    if result is not None:
        run["properties"] = {"scores": score_records(result)}
        run["invocations"] = [{
            "executionSuccessful": not result.unscored,
            "toolExecutionNotifications": [{"level": "error" if result.unscored else "warning",
                                            "message": {"text": sentence}} for sentence in said or []]}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if not args.paths and not args.cluster:
        raise ValueError("scan: give manifest PATHs (or - for stdin), --cluster, or both")
    policy_checks(settings)  # a typo in the severity policy exits 2 before the cluster is read
    # One ListOnce for the manifests' companions and the report: each list is read once.
    kube = ListOnce(kube_from_args(args, settings)) if args.cluster else None
    objects, from_manifests = _gather(args, kube)
    if kube is not None:
        # The Security page's scan (k8sdata.security.report), on the live objects and any manifests given
        # with them: RBAC, network exposure, versions and image vulnerabilities too, so the same score.
        report = security_report(kube, settings, dt.date.today(), objects=objects)
        cluster_wide = [report.audits, report.vulnerability_scan]
        if args.namespace:
            for part in cluster_wide:
                part.findings[:] = [f for f in part.findings
                                    if not f.namespace or args.namespace in f.namespace.split(", ")]
        result = merge_scans([report.workloads, *cluster_wide])
    else:
        result = scan_workloads(objects, settings)
    if from_manifests:
        # The same RBAC and network audits as --cluster, on the roles, bindings, namespaces and policies
        # of the manifests alone (k8sdata.security.manifests says how they differ from the cluster's).
        audits = manifest_audits(objects.items[:from_manifests])
        result = merge_scans([result, apply_policy(audits, settings)])
    said = skipped_sentences(objects, result.skipped)
    for sentence in said:
        sys.stderr.write(sentence + "\n")
    shown = [finding for finding in result.findings if args.show_exempt or not finding.exempt]
    if args.format == "json":
        records = [finding.record(with_exemption=args.show_exempt) for finding in shown]
        document: Any = {"findings": records, "scores": score_records(result)} if args.scores else records
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        write_csv(shown, args.show_exempt, out)
    elif args.format == "sarif":
        out.write(json.dumps(sarif_log(shown, objects, result, said), indent=2, ensure_ascii=False) + "\n")
    else:
        write_table(result, shown, out)
    if args.fail_on and any(not finding.exempt and severity_at_least(finding.severity, args.fail_on)
                            for finding in result.findings):
        return EXIT_FINDINGS
    if result.unscored:
        sys.stderr.write("Not every list could be read, so some categories were not scored: no pass.\n")
        return EXIT_UNREAD
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "scan", help="security checks (Pod Security Standards, workload hygiene, RBAC, network) on manifests "
                     "or the cluster",
        description="Run the KAMS security checks on manifests (files, folders, - for stdin) and/or the "
                    "live cluster (--cluster). Exit status 3 when a finding reaches --fail-on.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="YAML/JSON manifest, folder, or - (stdin)")
    parser.add_argument("--cluster", action="store_true", help="scan the workloads of the live cluster")
    add_context_option(parser)
    parser.add_argument("--namespace", "-n", help="with --cluster: only this namespace (default: all)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                        help="exit 3 when a finding of this severity or worse is not exempted "
                             f"({', '.join(SEVERITIES)})")
    parser.add_argument("--show-exempt", action="store_true",
                        help="also list exempted findings (adds exempt and exempt_reason to json/csv)")
    parser.add_argument("--scores", action="store_true",
                        help="with --format json: print {\"findings\": [...], \"scores\": [...]}; a category "
                             "that could not be scored has null value and grade, and a note saying why")
    parser.set_defaults(handler=run)
