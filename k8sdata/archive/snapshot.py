"""One archived snapshot: the cluster's tables at one moment, for the archive (k8sdata.archive.store).

    tables = take_snapshot(kube, prom, settings)          # {"pods": DataFrame, "events": ..., ...}
    delivery = deliver_snapshot(archive, Spool.from_settings(settings), tables, cluster, context, at)
    # (k8sdata.archive.spool: the backlog first; on failure the snapshot is spooled and Spooled raised)

Tables (see docs/archive.md): pods, events, nodes (k8sdata.pods.frames), workloads (Deployments,
StatefulSets and DaemonSets with their rollout status, k8sdata.pods.workloads; from the lists the security
scan reads anyway, so no extra request), requests (red_summary per workload; left out with a note when
Prometheus is absent), alerts (Prometheus' pending and firing alerts at that moment; likewise),
security_findings (every finding, exempt ones marked with their reason), security_scores (category, value,
grade, passed, warnings, dangers, note; one row per category and "Overall", what the Security page's trend
reads: a category whose inputs could not all be read has an empty value and grade and a note saying why, and
the Overall is then withheld the same way), and notes (table, sentence) when something was left out.

The Kubernetes API sees a FIXED number of list requests whatever the cluster's size (SNAPSHOT_REQUESTS,
plus one per extra page of 500 items): each resource is listed once and shared by the tables that need it
(pods feed the pods table, the workload scan, the network audit and the image list). Once the API server
is unreachable or times out, the remaining requests are not sent (a dead server costs one timeout).
A source that fails becomes a note; the other tables are still taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from k8sdata.alerts import prometheus_alerts
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.pods import frames
from k8sdata.pods.owners import lookup_from_pods
from k8sdata.pods.workloads import workloads_frame
from k8sdata.requests.conventions import conventions_from_settings, detect_conventions
from k8sdata.requests.red import red_summary
from k8sdata.security.cluster import LISTS
from k8sdata.security.engine import Finding, ScanResult
from k8sdata.security.report import security_report
from k8sdata.security.scoring import score
from k8sdata.security.sources import CLUSTER_LISTS, CONTEXT_LISTS
from k8sdata.security.vulns import TRIVY_LIST_REQUESTS
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.kubeconfig import kubeconfig_paths, load_kubeconfig
from k8sdata.sources.listonce import ListOnce
from k8sdata.sources.prom import PromClient

#: The security tables, by name: the History page and the Security page's trend read them back.
SECURITY_FINDINGS_TABLE = "security_findings"
SECURITY_SCORES_TABLE = "security_scores"
#: The tables a complete snapshot holds, in the order they are written.
TABLES = ("pods", "events", "nodes", "workloads", "requests", "alerts", SECURITY_FINDINGS_TABLE,
          SECURITY_SCORES_TABLE)
NOTES_TABLE = "notes"
NOTE_COLUMNS = ["table", "sentence"]
FINDING_COLUMNS = [*Finding.KEYS, "exempt", "exempt_reason"]
#: `note` (last, so readers of the older six columns are unaffected): why a category has no value, or
#: which categories the Overall covers.
SCORE_COLUMNS = ["category", "value", "grade", "passed", "warnings", "dangers", "note"]
#: Requests to the Kubernetes API per snapshot (one page each): the workload scan's lists, PDBs and
#: ServiceAccounts, the audits' lists without pods (already listed) and /version, Trivy's
#: (Cluster)VulnerabilityReports, events.
SNAPSHOT_REQUESTS = (len(CLUSTER_LISTS) + len(CONTEXT_LISTS)) + (len(LISTS) - 1 + 1) + TRIVY_LIST_REQUESTS + 1

Progress = Callable[[str], None]


def _note(notes: list[dict[str, str]], table: str, sentence: str) -> None:
    notes.append({"table": table, "sentence": sentence})


def _findings_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([finding.record(with_exemption=True) for finding in findings],
                        columns=FINDING_COLUMNS)


def _scores_frame(result: ScanResult) -> pd.DataFrame:
    """One row per category and Overall; an unscored one keeps its row, value and grade empty."""
    frame = pd.DataFrame([{"category": s.category, "value": s.value, "grade": s.grade, "passed": s.passed,
                           "warnings": s.warnings, "dangers": s.dangers, "note": s.note}
                          for s in score(result.results, result.unscored)], columns=SCORE_COLUMNS)
    return frame.astype({"value": "float64"})


def _security(kube: ListOnce, settings: Settings, today: dt.date, notes: list[dict[str, str]]
              ) -> ScanResult:
    """The Security page's scan (k8sdata.security.report, all namespaces), so the archived score is the
    page's score."""
    report = security_report(kube, settings, today)
    for sentence in report.skipped:
        _note(notes, SECURITY_FINDINGS_TABLE, sentence)
    return report.merged


def _requests(prom: PromClient, settings: Settings, at: dt.datetime, pods: pd.DataFrame | None
              ) -> pd.DataFrame:
    """Per workload; pods nothing else names are named from the snapshot's own pods table."""
    conventions = detect_conventions(prom, conventions_from_settings(settings), at=at)
    owners = lookup_from_pods(pods) if pods is not None else None
    return red_summary(prom, conventions, level="workload", at=at, owners=owners)


def _alerts(prom: PromClient) -> pd.DataFrame:
    """Pending and firing alerts, their labels as one text column (a CSV cell cannot hold a mapping)."""
    return prometheus_alerts(prom).drop(columns=["labels"], errors="ignore")


def take_snapshot(kube: KubeClient, prom: PromClient | None, settings: Settings, *,
                  at: dt.datetime | None = None, progress: Progress | None = None) -> dict[str, pd.DataFrame]:
    """The snapshot's tables (TABLES, plus NOTES_TABLE when something was left out).

    `kube`: a k8sdata.sources.kube.KubeClient; `prom`: a k8sdata.sources.prom.PromClient, or None
    without Prometheus (the requests table is then left out with a note). `at` (default now, UTC) is the
    moment ages are computed at and request rates evaluated at. `progress` receives a short sentence
    before each step. Raises nothing for a failed source: its table is missing and a note says why.
    """
    moment = at or dt.datetime.now(dt.UTC)
    # A naive time is taken to be UTC already, as k8sdata.archive.store does for the keys.
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    say = progress or (lambda _sentence: None)
    shared = ListOnce(kube)
    tables: dict[str, pd.DataFrame] = {}
    notes: list[dict[str, str]] = []

    def table(name: str, build: Callable[[], pd.DataFrame]) -> None:
        try:
            tables[name] = build()
        except SourceError as error:
            _note(notes, name, error.sentence)

    say("Listing pods...")
    table("pods", lambda: frames.pods_frame(shared.list_pods(), now=moment))
    say("Listing events...")
    table("events", lambda: frames.events_frame(shared.list_events(), now=moment))
    say("Listing nodes...")
    table("nodes", lambda: frames.nodes_frame(shared.list_resource("v1", "nodes"), now=moment))
    say("Listing workloads...")
    table("workloads", lambda: workloads_frame(
        shared.list_resource("apps/v1", "deployments"), shared.list_resource("apps/v1", "statefulsets"),
        shared.list_resource("apps/v1", "daemonsets"), shared.list_resource("apps/v1", "replicasets"),
        now=moment))
    if prom is None:
        for name in ("requests", "alerts"):
            _note(notes, name, NotConfigured("prometheus").sentence)
    else:
        say("Reading request rates, errors and latency from Prometheus...")
        table("requests", lambda: _requests(prom, settings, moment, tables.get("pods")))
        say("Reading active alerts from Prometheus...")
        table("alerts", lambda: _alerts(prom))
    say("Scanning security (workloads, RBAC, network, versions, vulnerabilities)...")
    if shared.down is not None:  # nothing to scan: one note instead of a dozen "not scanned" sentences
        _note(notes, SECURITY_FINDINGS_TABLE, shared.down.sentence)
    else:
        result = _security(shared, settings, moment.date(), notes)
        tables[SECURITY_FINDINGS_TABLE] = _findings_frame(result.findings)
        tables[SECURITY_SCORES_TABLE] = _scores_frame(result)
    if notes:
        tables[NOTES_TABLE] = pd.DataFrame(notes, columns=NOTE_COLUMNS)
    say("Snapshot taken.")
    return tables


def cluster_name(settings: Settings, context: str | None) -> str | None:
    """The kubeconfig cluster that `context` (default: the current context) points at, which names the
    snapshot's folder; None when there is no kubeconfig or it does not say (e.g. in a pod). The files of
    $KUBECONFIG are merged as the client merges them (k8sdata.sources.kubeconfig)."""
    if not settings.kubeconfig:
        return None
    try:
        config = load_kubeconfig(kubeconfig_paths(settings))
    except SourceError:
        return None
    entry = config.contexts.get(context or settings.context or config.current_context or "")
    found = entry.body.get("cluster") if entry is not None else None
    return str(found) if found else None
