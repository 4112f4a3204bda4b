"""Security: score and grade, Pod Security Standards per namespace, workload hygiene, RBAC, network
exposure, vulnerabilities and outdated software.

Thin: read the filters, ask ui.security_data (k8sdata.security does the work), draw with
ui.security_view. Each source that fails becomes one sentence in its tab; the other tabs keep working.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.security import ScanResult, score
from k8sdata.security.cluster import SecurityInputs
from k8sdata.security.report import SecurityReport, unscored_for
from k8sdata.security.vulns import VulnerabilityData
from ui import data, security_data, security_view
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.render import show_source_error

ensure_app_frame()

settings = Settings.from_env()
filters = current_filters()
chosen = filters.namespace

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.title("Security")
if refresh.button("Refresh", icon=":material/refresh:", key="kams_security_refresh"):
    security_data.clear()

with st.status("Reading the cluster's security posture (workloads, RBAC, network, versions, "
               "vulnerabilities)...", expanded=False) as progress:
    scan = data.or_error(lambda: security_data.report(settings, filters.context))
    trend = security_data.score_trend(settings)
    workloads: SecurityReport | SourceError
    audit: tuple[SecurityInputs, ScanResult] | SourceError
    vulns: VulnerabilityData | SourceError
    if isinstance(scan, SourceError):  # no client at all (no cluster configured): nothing was read
        workloads = audit = vulns = scan
        findings, audit_findings, skipped, audit_skipped = [], [], [], []
        unscored = {**unscored_for(scan, "workloads"), **unscored_for(scan, "audit"),
                    **unscored_for(scan, "vulnerabilities")}
        scores = score([], unscored)
    else:
        workloads, audit, vulns = scan, (scan.inputs, scan.audits), scan.vulnerabilities
        findings = scan.workloads.findings
        audit_findings = [*scan.audits.findings, *scan.vulnerability_scan.findings]
        skipped = scan.objects.skipped
        audit_skipped = [*scan.audits.skipped, *scan.vulnerability_scan.skipped]
        unscored = scan.merged.unscored
        scores = scan.scores(chosen)  # the chosen namespace's evaluations and the cluster-wide ones
    # The check mark only for a complete read: a partial one is not "read".
    if not unscored:
        progress.update(label="Security posture read.", state="complete")
    elif all(not s.scored for s in scores):
        progress.update(label="The security posture could not be read: nothing was scored.", state="error")
    else:
        progress.update(label=f"Security posture read in part: {len(unscored)} categor"
                              f"{'y' if len(unscored) == 1 else 'ies'} could not be scored.", state="error")

if isinstance(workloads, SourceError):
    show_source_error(workloads, "Workloads were not scanned")
if isinstance(audit, SourceError):
    show_source_error(audit, "RBAC, network and versions were not audited")
if chosen:
    st.caption("Findings of the chosen namespace and cluster-wide ones; the score covers the chosen "
               "namespace.")

mine = security_view.in_namespace([*findings, *audit_findings], chosen)
today = dt.datetime.now(dt.UTC).date()
# Whether every workload list was read: "no findings" is said (green) only then.
workloads_complete = not isinstance(workloads, SourceError) and not workloads.objects.failed

tabs = st.tabs(["Overview", "Pod Security Standards", "Workload hygiene", "RBAC", "Network",
                "Vulnerabilities", "Outdated software"])
with tabs[0]:
    security_view.render_overview(scores, mine, trend, [*skipped, *audit_skipped])
workload_findings = security_view.in_namespace(findings, chosen)
with tabs[1]:
    namespaces = audit if isinstance(audit, SourceError) else audit[0].namespaces
    security_view.render_sentences(skipped)
    if isinstance(workloads, SourceError):
        show_source_error(workloads, "Workloads were not scanned")
    security_view.render_pss(namespaces, [f for f in workload_findings if f.pss], chosen,
                             complete=workloads_complete)
with tabs[2]:
    security_view.render_sentences(skipped)
    if isinstance(workloads, SourceError):
        show_source_error(workloads, "Workloads were not scanned")
    else:
        security_view.render_hygiene([f for f in workload_findings if not f.pss], complete=workloads_complete)
if isinstance(audit, SourceError):
    for tab in tabs[3:5]:
        with tab:
            show_source_error(audit, "Not audited")
else:
    inputs = audit[0]
    with tabs[3]:
        security_view.render_rbac(inputs, mine, chosen)
    with tabs[4]:
        security_view.render_network(inputs, chosen)
with tabs[5]:
    security_view.render_vulnerabilities(vulns, chosen)
with tabs[6]:
    if isinstance(audit, SourceError):
        show_source_error(audit, "Versions were not checked")
    else:
        security_view.render_outdated(audit[0], mine, today,
                                      pinning_unread=unscored.get(security_view.pinning_category()))
