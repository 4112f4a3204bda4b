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
from k8sdata.security import score
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

with st.status("Reading the cluster's security posture...", expanded=False) as progress:
    progress.update(label="Scanning workloads (Pod Security Standards, hygiene)...")
    workloads = data.or_error(lambda: security_data.workload_scan(settings, filters.context))
    progress.update(label="Reading RBAC, network policies, services and versions...")
    audit = data.or_error(lambda: security_data.cluster_audit(settings, filters.context,
                                                       security_data.own_namespace(chosen)))
    progress.update(label="Reading vulnerability reports...")
    listed_pods = None if isinstance(audit, SourceError) or isinstance(audit[0].pods, SourceError) \
        else audit[0].pods
    vulns = data.or_error(lambda: security_data.vulnerabilities(settings, filters.context, listed_pods))
    trend = security_data.score_trend(settings)

    findings = [] if isinstance(workloads, SourceError) else workloads.result.findings
    results = [] if isinstance(workloads, SourceError) else workloads.result.results
    skipped = [] if isinstance(workloads, SourceError) else workloads.objects.skipped
    audit_findings = [] if isinstance(audit, SourceError) else audit[1].findings
    audit_results = [] if isinstance(audit, SourceError) else audit[1].results
    audit_skipped = [] if isinstance(audit, SourceError) else audit[1].skipped
    # Category -> why it has no score (an input it needs could not be read): no score from nothing.
    unscored = {**(security_data.unscored_for(workloads, "workloads") if isinstance(workloads, SourceError)
                   else workloads.result.unscored),
                **(security_data.unscored_for(audit, "audit") if isinstance(audit, SourceError)
                   else audit[1].unscored)}
    vuln_scan = None if isinstance(vulns, SourceError) else security_data.vulnerability_findings(settings,
                                                                                                   vulns)
    if vuln_scan is not None:  # fixable critical/high vulnerabilities count in the score and the findings
        audit_findings = [*audit_findings, *vuln_scan.findings]
        audit_results = [*audit_results, *vuln_scan.results]
        unscored.update(vuln_scan.unscored)
    else:
        assert isinstance(vulns, SourceError)
        unscored.update(security_data.unscored_for(vulns, "vulnerabilities"))
    scored = [r for r in [*results, *audit_results] if chosen is None or r.namespace in (chosen, "")]
    scores = score(scored, unscored)
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
