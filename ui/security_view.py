"""Drawing for the Security page: score and grade, Pod Security Standards per namespace, workload
hygiene, RBAC, network exposure, vulnerabilities and outdated software.

Cluster text (names, labels, messages, exemption reasons, error sentences) reaches the page only through
st.dataframe, st.text, Altair or escape_markdown. Every table downloads as the CSV it shows
(k8sdata.export.frame_to_csv: formula-injection safe).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.security import SEVERITIES, Finding, Score, builtin_checks, namespace_pss_labels, pss_verdicts
from k8sdata.security.cluster import SecurityInputs
from k8sdata.security.network import exposed_services, ingress_tls, namespace_isolation, pod_isolation
from k8sdata.security.rbac import own_permissions, own_verdict, unused_roles, who_can
from k8sdata.security.versions import eol_frame, kubelet_skew, version_status
from k8sdata.security.vulns import (
    VulnerabilityData,
    components_sentence,
    components_table,
    how_to_enable,
    source_phrase,
    top_vulnerabilities_frame,
    vulnerability_table,
)
from ui import data, security_data
from ui.filters import Filters
from ui.render import csv_download, escape_markdown, show_source_error
from ui.security_data import PageScan

#: Finding columns shown (and downloaded), renamed for people.
FINDINGS_TABLE = {
    "severity": "Severity", "pss": "Level", "title": "Control", "id": "Check", "kind": "Kind",
    "namespace": "Namespace", "name": "Object", "container": "Container", "message": "Message",
    "remediation": "Remediation", "exempt": "Exempt", "exempt_reason": "Exemption reason",
}
PSS_NAMESPACE_TABLE = {
    "namespace": "Namespace", "enforce": "enforce", "enforce-version": "enforce-version",
    "audit": "audit", "warn": "warn", "baseline": "Passes Baseline today",
    "restricted": "Passes Restricted today", "pss_findings": "PSS findings",
}
#: Mid-tones readable on light and dark backgrounds.
SEVERITY_COLOURS = {"danger": "#e0403a", "warning": "#e08a00", "info": "#4a90d9"}
PINNING_CHECK = "image-not-pinned"
#: What an empty table says when some of its inputs could not be read: no green "all clear".
PARTIAL_EMPTY = "Nothing found in what could be read; the sentences above say what could not be."


def pinning_category() -> str:
    """The score category of the image-pinning check (its inputs are that category's)."""
    return next((check.category for check in builtin_checks() if check.id == PINNING_CHECK), "Images")


def people_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """snake_case column names of k8sdata's frames as words ("subject_name" -> "Subject name")."""
    return frame.rename(columns={column: column.replace("_", " ").capitalize() for column in frame.columns
                                 if re.fullmatch(r"[a-z][a-z_]*", str(column))})


def show_table(frame: pd.DataFrame, file_name: str, key: str, empty: str = "", *,
               humanize: bool = True, complete: bool = True) -> None:
    """A table with its CSV download (the same columns); `empty` (our own words, in green) instead when
    there are no rows. `complete=False`: some inputs could not be read, so an empty table is not good
    news: PARTIAL_EMPTY, not green. `humanize=False` keeps column names that are keys people look up."""
    if frame.empty and empty:
        if complete:
            st.success(empty)
        else:
            st.info(PARTIAL_EMPTY)
        return
    if humanize:
        frame = people_columns(frame)
    st.dataframe(frame, hide_index=True, width="stretch")
    csv_download(f"Download {file_name}", frame, file_name, key)


def say(sentence: str, level: str = "warning") -> None:
    """One sentence that may carry cluster text (escaped: never Markdown)."""
    {"warning": st.warning, "info": st.info, "error": st.error}[level](escape_markdown(sentence))


# --- findings ----------------------------------------------------------------------------------------
def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as the page's table, worst first: severity, PSS level, control, object, container,
    message, remediation, exemption (and its reason)."""
    records = [finding.record(with_exemption=True) for finding in findings]
    frame = pd.DataFrame(records, columns=list(FINDINGS_TABLE))
    if frame.empty:
        return frame.rename(columns=FINDINGS_TABLE)
    frame = frame.assign(
        rank=frame["severity"].map({s: -i for i, s in enumerate(SEVERITIES)}).fillna(0),
        pss=frame["pss"].fillna(""), container=frame["container"].fillna(""),
        exempt_reason=frame["exempt_reason"].fillna(""))
    frame = frame.sort_values(["exempt", "rank", "namespace", "name", "id"], ignore_index=True)
    return frame[list(FINDINGS_TABLE)].rename(columns=FINDINGS_TABLE)


def in_namespace(findings: Iterable[Finding], namespace: str | None) -> list[Finding]:
    """The chosen namespace's findings plus cluster-scoped ones (no namespace); all when None."""
    return [f for f in findings if namespace is None or f.namespace in (namespace, "")]


def severity_counts(findings: Sequence[Finding]) -> pd.DataFrame:
    """severity, findings: counts of findings that are not exempted, in SEVERITIES order."""
    counted = pd.Series([f.severity for f in findings if not f.exempt], dtype="object").value_counts()
    return pd.DataFrame({"severity": list(SEVERITIES),
                         "findings": [int(counted.get(s, 0)) for s in SEVERITIES]})


def _severity_chart(counts: pd.DataFrame) -> alt.Chart:
    colours = alt.Scale(domain=list(SEVERITY_COLOURS), range=list(SEVERITY_COLOURS.values()))
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("findings:Q", title="Findings"), y=alt.Y("severity:N", sort=list(SEVERITIES)[::-1],
                                                         title=None),
        color=alt.Color("severity:N", scale=colours, legend=None),
        tooltip=["severity", "findings"]).properties(height=120)


# --- overview ----------------------------------------------------------------------------------------
SCORES_TABLE = ["Category", "Score", "Grade", "Passed", "Warnings", "Dangers", "Note"]


def scores_frame(scores: Sequence[Score]) -> pd.DataFrame:
    """One row per category and Overall; a category that was not scored has an empty Score and Grade
    and its Note says why."""
    frame = pd.DataFrame([{"Category": s.category, "Score": s.value, "Grade": s.grade or "",
                           "Passed": s.passed, "Warnings": s.warnings, "Dangers": s.dangers, "Note": s.note}
                          for s in scores], columns=SCORES_TABLE)
    return frame.astype({"Score": "float64"})


def render_overview(scores: Sequence[Score], findings: Sequence[Finding], trend: Any,
                    skipped: Sequence[str]) -> None:
    overall = next((s for s in scores if s.category == "Overall"), None)
    counts = severity_counts(findings)
    # Nothing scored means nothing was read: a count of 0 would then be a claim from nothing.
    nothing_read = bool(scores) and not any(s.scored for s in scores)
    partial = any(not s.scored for s in scores)
    columns = st.columns(4)
    if overall is not None:
        columns[0].metric("Overall score", overall.label() if overall.scored else "Withheld",
                          help="The Overall is given only when every category could be scored.")
    for column, severity in zip(columns[1:], SEVERITIES[::-1], strict=False):
        column.metric(f"{severity.capitalize()} findings",
                      "–" if nothing_read else int(counts.loc[counts["severity"] == severity,
                                                              "findings"].iloc[0]),
                      help="Only what could be read is counted." if partial else None)
    if overall is not None and overall.note:
        (st.caption if overall.scored else st.warning)(escape_markdown(f"Overall score: {overall.note}"))
    for unscored in (s for s in scores if not s.scored and s.category != "Overall"):
        say(f"{unscored.category}: {unscored.note}")
    st.caption("Score = 100 x 2S / (2S + W + 2D) per category (S passed checks, W failed warnings, "
               "D failed dangers; exempted findings are left out). Grades: A >= 90, B >= 80, C >= 70, "
               "D >= 60, F below.")
    for sentence in skipped:
        say(sentence)
    table = scores_frame(scores)
    left, right = st.columns(2)
    with left:
        st.subheader("Score per category")
        drawn = table.dropna(subset=["Score"])  # an unscored category has no bar (not a bar at 0)
        if not drawn.empty:
            bars = alt.Chart(drawn).mark_bar().encode(
                x=alt.X("Score:Q", scale=alt.Scale(domain=[0, 100])), y=alt.Y("Category:N", sort="x"),
                color=alt.Color("Grade:N", scale=alt.Scale(domain=list("ABCDF"), range=[
                    "#2e9e5b", "#7cb342", "#e0b000", "#e08a00", "#e0403a"])),
                tooltip=["Category", "Score", "Grade", "Passed", "Warnings", "Dangers"])
            st.altair_chart(bars, width="stretch")
        show_table(table, "security-scores.csv", "kams_security_scores_csv")
    with right:
        st.subheader("Findings by severity")
        st.altair_chart(_severity_chart(counts), width="stretch")
        show_table(counts, "security-severity-counts.csv", "kams_security_counts_csv")
    st.subheader("Trend")
    if trend.sentence:
        st.info(escape_markdown(trend.sentence))
    else:
        line = alt.Chart(trend.frame).mark_line(point=True).encode(
            x=alt.X("taken_at:T", title="Snapshot"), y=alt.Y("value:Q", title="Score",
                                                            scale=alt.Scale(domain=[0, 100])),
            color="category:N", tooltip=["taken_at:T", "category", "value"])
        st.altair_chart(line, width="stretch")


# --- Pod Security Standards --------------------------------------------------------------------------
def pss_namespaces(namespaces: Sequence[dict[str, Any]] | None, findings: Sequence[Finding], *,
                   known: bool = True) -> pd.DataFrame:
    """One row per namespace: its pod-security.kubernetes.io/* labels and whether its pods would pass
    Baseline and Restricted today. Without the Namespace list, the namespaces with findings.
    `known=False` (a workload list could not be read): a namespace without findings gets no verdict
    (empty), since its unread workloads may fail; a failure found is still a failure."""
    verdicts = pss_verdicts(findings)
    counts = pd.Series([f.namespace for f in findings if f.pss], dtype="object").value_counts()
    labels = {str((ns.get("metadata") or {}).get("name") or ""): namespace_pss_labels(ns)
              for ns in namespaces or []}
    names = sorted(set(labels) | set(verdicts))
    rows = []
    for name in names:
        unknown: dict[str, bool | None] = {"baseline": None, "restricted": None}
        verdict: dict[str, bool | None] = {**(verdicts.get(name) or ({"baseline": True, "restricted": True}
                                                                      if known else unknown))}
        if not known:  # a pass is only known when every workload was read
            verdict = {level: (None if passed else False) for level, passed in verdict.items()}
        row = {key: labels.get(name, {}).get(key, "") for key in ("enforce", "enforce-version", "audit",
                                                                    "warn")}
        rows.append({"namespace": name, **row, "baseline": verdict["baseline"],
                     "restricted": verdict["restricted"], "pss_findings": int(counts.get(name, 0))})
    frame = pd.DataFrame(rows, columns=list(PSS_NAMESPACE_TABLE))
    if not known:
        frame = frame.astype({"baseline": "boolean", "restricted": "boolean"})
    return frame.rename(columns=PSS_NAMESPACE_TABLE)


def render_pss(namespaces: list[dict[str, Any]] | SourceError | None, findings: Sequence[Finding],
               chosen: str | None, *, complete: bool = True) -> None:
    """`complete=False`: some workload lists could not be read (verdicts and "no findings" withheld)."""
    pss = [f for f in findings if f.pss]
    st.subheader("Namespaces")
    st.caption("Would each namespace's pods pass the Baseline and Restricted profiles today? Exempted "
               "findings still count here: Pod Security Admission does not know KAMS's kams.io/exempt "
               "annotation.")
    if isinstance(namespaces, SourceError):
        show_source_error(namespaces, "Namespace labels are unavailable")
        namespaces = None
    table = pss_namespaces(namespaces, pss, known=complete)
    if chosen:
        table = table[table["Namespace"] == chosen]
    show_table(table, "pss-namespaces.csv", "kams_security_pss_ns_csv", humanize=False)
    st.subheader("Findings")
    show_table(findings_frame(pss), "pss-findings.csv", "kams_security_pss_csv",
               empty="No workload breaks a Pod Security Standards control.", complete=complete)
    render_exemptions(pss, "pss", complete=complete)


def render_exemptions(findings: Sequence[Finding], key: str, *, complete: bool = True) -> None:
    """The findings a kams.io/exempt annotation exempts, each with its kams.io/exempt-reason."""
    exempt = findings_frame([f for f in findings if f.exempt])
    st.subheader("Exemptions")
    st.caption("Findings exempted by a kams.io/exempt annotation, with the kams.io/exempt-reason given. "
               "They are left out of the score.")
    show_table(exempt[["Check", "Control", "Kind", "Namespace", "Object", "Container", "Exemption reason"]],
               f"{key}-exemptions.csv", f"kams_security_{key}_exempt_csv", empty="No exemptions.",
               complete=complete)


def render_hygiene(findings: Sequence[Finding], *, complete: bool = True) -> None:
    """`complete=False`: some workload lists could not be read, so "no findings" is not said."""
    other = [f for f in findings if not f.pss]
    if other:
        by_check = (pd.DataFrame({"Control": [f.title for f in other if not f.exempt]})
                    .value_counts().rename("Findings").reset_index())
        if not by_check.empty:
            st.altair_chart(alt.Chart(by_check).mark_bar().encode(
                x="Findings:Q", y=alt.Y("Control:N", sort="-x", title=None),
                tooltip=["Control", "Findings"]), width="stretch")
    show_table(findings_frame(other), "hygiene-findings.csv", "kams_security_hygiene_csv",
               empty="No workload hygiene findings.", complete=complete)
    render_exemptions(other, "hygiene", complete=complete)


# --- RBAC, network, versions -------------------------------------------------------------------------
def render_rbac(inputs: SecurityInputs, findings: Sequence[Finding], chosen: str | None) -> None:
    objects = inputs.rbac_objects()
    if isinstance(objects, SourceError):
        show_source_error(objects, "RBAC was not audited")
    else:
        st.subheader("Risks")
        show_table(findings_frame([f for f in findings if f.category == "RBAC"]), "rbac-findings.csv",
                   "kams_security_rbac_csv", empty="No risky RBAC grant found.")
        st.subheader("Who can do what")
        st.caption("Every subject with a risky permission, through which binding and role (built-in "
                   "grants marked).")
        frame = who_can(objects)
        if chosen:
            frame = frame[frame["scope"].isin([chosen, "cluster-wide"]) | (frame["subject_namespace"]
                                                                          == chosen)]
        show_table(frame, "rbac-who-can.csv", "kams_security_who_can_csv")
        st.subheader("Roles no binding uses")
        show_table(unused_roles(objects), "rbac-unused-roles.csv", "kams_security_unused_csv",
                   empty="Every role is bound.")
    st.subheader("KAMS's own permissions")
    review = inputs.own_review
    if isinstance(review, SourceError):
        show_source_error(review, "KAMS could not review its own permissions")
    elif review:
        verdict = own_verdict(review, inputs.own_namespace or "")
        (st.success if verdict.read_only else st.error)(escape_markdown(verdict.sentence))
        show_table(own_permissions(review), "kams-permissions.csv", "kams_security_own_csv")


def render_network(inputs: SecurityInputs, chosen: str | None) -> None:
    error = inputs.error("network")
    if error is not None:
        show_source_error(error, "Network exposure was not checked")
        return

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["namespace"] == chosen] if chosen else frame

    assert isinstance(inputs.pods, list) and isinstance(inputs.network_policies, list)
    assert isinstance(inputs.namespaces, list) and isinstance(inputs.services, list)
    assert isinstance(inputs.ingresses, list)
    st.subheader("Namespaces")
    st.caption("NetworkPolicies per namespace and the running pods none of them selects (those pods "
               "accept traffic from anywhere).")
    show_table(mine(namespace_isolation(inputs.namespaces, inputs.pods, inputs.network_policies)),
               "network-namespaces.csv", "kams_security_net_ns_csv")
    pods = pod_isolation(inputs.pods, inputs.network_policies)
    st.subheader("Pods")
    show_table(mine(pods), "network-pods.csv", "kams_security_net_pods_csv")
    st.subheader("Services reachable from outside (LoadBalancer, NodePort)")
    show_table(mine(exposed_services(inputs.services)), "network-services.csv",
               "kams_security_net_svc_csv", empty="No LoadBalancer or NodePort Service.")
    st.subheader("Ingresses")
    show_table(mine(ingress_tls(inputs.ingresses)), "network-ingresses.csv", "kams_security_net_ing_csv",
               empty="No Ingress.")


def render_outdated(inputs: SecurityInputs, findings: Sequence[Finding], today: dt.date, *,
                    pinning_unread: str | None = None) -> None:
    """`pinning_unread`: why the pinning check's category is not scored (a workload list failed)."""
    st.subheader("Kubernetes version")
    if isinstance(inputs.version, SourceError):
        show_source_error(inputs.version, "The Kubernetes version was not checked")
    else:
        status = version_status(inputs.version, today)
        level = {"supported": "success", "eol-soon": "warning", "end-of-life": "error"}.get(status.status,
                                                                                           "info")
        {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}[level](
            escape_markdown(status.sentence))
    show_table(eol_frame(today), "kubernetes-eol.csv", "kams_security_eol_csv")
    st.subheader("Kubelet version skew")
    if isinstance(inputs.nodes, SourceError):
        show_source_error(inputs.nodes, "Kubelet versions were not checked")
    elif not isinstance(inputs.version, SourceError):
        show_table(kubelet_skew(inputs.nodes, inputs.version), "kubelet-skew.csv", "kams_security_skew_csv")
    st.subheader("Images not pinned by digest")
    if pinning_unread:
        say(f"Image pinning was not fully checked: {pinning_unread}")
    show_table(findings_frame([f for f in findings if f.id == PINNING_CHECK]), "images-not-pinned.csv",
               "kams_security_pinned_csv", empty="Every image is pinned by digest.",
               complete=not pinning_unread)


def vulnerable_images_chart(table: pd.DataFrame, limit: int = 15, *, label: str = "image",
                            details: Sequence[str] = ("source",)) -> alt.Chart | None:
    """Critical / high / medium counts of the worst rows (stacked bars, one bar per `label`: an image, or
    a component), or None when all are clean."""
    worst = table[table[["critical", "high", "medium"]].sum(axis=1) > 0].head(limit)
    if worst.empty:
        return None
    long = worst.melt(id_vars=[label, *details], value_vars=["critical", "high", "medium"],
                      var_name="severity", value_name="vulnerabilities")
    colours = alt.Scale(domain=["critical", "high", "medium"], range=["#e0403a", "#e08a00", "#e0b000"])
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("sum(vulnerabilities):Q", title="Vulnerabilities"),
        y=alt.Y(f"{label}:N", sort="-x", title=None), color=alt.Color("severity:N", scale=colours),
        tooltip=[label, *details, "severity", "vulnerabilities"])


def render_vulnerabilities(data: VulnerabilityData | SourceError, chosen: str | None) -> None:
    """Per running image: critical/high/medium counts, fixable counts and top CVEs (Trivy Operator's
    VulnerabilityReports, Clair v4 with CLAIR_URL); how to enable a source when none is there."""
    if isinstance(data, SourceError):
        show_source_error(data, "Vulnerabilities are unavailable")
        return
    failed = data.sentences()
    for source, sentence in failed.items():
        phrase = source_phrase(source)
        say(f"{phrase[:1].upper()}{phrase[1:]} could not be read: {sentence}")
    if isinstance(data.images, SourceError):  # no running images known: nothing to report on
        return
    help_sentences = how_to_enable(data)
    if help_sentences:
        for sentence in help_sentences:
            st.info(escape_markdown(sentence))
        return
    table = vulnerability_table(data)
    cves = top_vulnerabilities_frame(data)
    if chosen:
        table = table[table["namespaces"].str.split(", ").apply(lambda names: chosen in names)]
        if "image" in cves.columns and "image" in table.columns:  # an empty frame may have no columns
            cves = cves[cves["image"].isin(set(table["image"]))]
    st.subheader("Running images")
    chart = vulnerable_images_chart(table) if not table.empty else None
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    show_table(table, "vulnerabilities-images.csv", "kams_security_vuln_images_csv",
               empty="No running image in this selection.", complete=not failed)
    st.subheader("Top CVEs")
    st.caption("The worst vulnerabilities of each image, with the version that fixes them.")
    show_table(cves, "vulnerabilities-cves.csv", "kams_security_vuln_cves_csv",
               empty="No vulnerabilities reported for these images.", complete=not failed)
    render_components(data)


def render_components(data: VulnerabilityData) -> None:
    """The Kubernetes components' own vulnerabilities (Trivy Operator's KBOM ClusterVulnerabilityReport):
    one row per component and version, with the versions that fix them; or how to turn the scan on."""
    st.subheader("Kubernetes components")
    st.caption("The control plane's and nodes' own components (kube-apiserver, kubelet, containerd ...) "
               "from Trivy Operator's cluster scan. Cluster-wide: the namespace filter does not apply.")
    sentence = components_sentence(data)
    if sentence:
        st.info(escape_markdown(sentence))
        return
    if data.components is None:  # Trivy's reports could not be read: the sentence above says why
        return
    table = components_table(data)
    # One bar per component and version: two kubelet versions (nodes mid-upgrade) are two bars.
    chart = vulnerable_images_chart(table.assign(component=table["component"] + " " + table["version"]),
                                    label="component", details=("cluster_version",))
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    show_table(table, "vulnerabilities-kubernetes-components.csv",
               "kams_security_vuln_components_csv",
               empty="Trivy Operator's cluster scan found no vulnerability in the Kubernetes components.")


def render_sentences(sentences: Iterable[str]) -> None:
    for sentence in sentences:
        say(sentence)


# --- the page ------------------------------------------------------------------------------------------
def _progress(page: PageScan) -> tuple[str, Literal["complete", "error"]]:
    """The status line's words once the scan is read: the check mark only for a complete read (a partial
    one is not "read")."""
    if not page.unscored:
        return "Security posture read.", "complete"
    if all(not s.scored for s in page.scores):
        return "The security posture could not be read: nothing was scored.", "error"
    return (f"Security posture read in part: {len(page.unscored)} categor"
            f"{'y' if len(page.unscored) == 1 else 'ies'} could not be scored.", "error")


def render_security_page(settings: Settings, filters: Filters) -> None:
    """Score and grade, then a tab per area; a source that failed is one sentence in each tab it feeds,
    and the other tabs keep working."""
    chosen = filters.namespace
    title, refresh = st.columns([5, 1], vertical_alignment="bottom")
    title.title("Security")
    if refresh.button("Refresh", icon=":material/refresh:", key="kams_security_refresh"):
        security_data.clear()

    with st.status("Reading the cluster's security posture (workloads, RBAC, network, versions, "
                   "vulnerabilities)...", expanded=False) as progress:
        page = security_data.page_scan(data.or_error(lambda: security_data.report(settings, filters.context)),
                                       chosen)
        trend = security_data.score_trend(settings)
        label, state = _progress(page)
        progress.update(label=label, state=state)

    inputs = page.inputs
    if isinstance(page.scan, SourceError):  # no client at all (no cluster configured): nothing was read
        show_source_error(page.scan, "Workloads were not scanned")
        show_source_error(page.scan, "RBAC, network and versions were not audited")
    if chosen:
        st.caption("Findings of the chosen namespace and cluster-wide ones; the score covers the chosen "
                   "namespace.")

    mine = in_namespace([*page.workload_findings, *page.audit_findings], chosen)
    today = dt.datetime.now(dt.UTC).date()
    tabs = st.tabs(["Overview", "Pod Security Standards", "Workload hygiene", "RBAC", "Network",
                    "Vulnerabilities", "Outdated software"])
    with tabs[0]:
        render_overview(page.scores, mine, trend, [*page.skipped, *page.audit_skipped])
    workload_findings = in_namespace(page.workload_findings, chosen)
    with tabs[1]:
        render_sentences(page.skipped)
        if isinstance(page.scan, SourceError):
            show_source_error(page.scan, "Workloads were not scanned")
        render_pss(inputs if isinstance(inputs, SourceError) else inputs.namespaces,
                   [f for f in workload_findings if f.pss], chosen, complete=page.workloads_complete)
    with tabs[2]:
        render_sentences(page.skipped)
        if isinstance(page.scan, SourceError):
            show_source_error(page.scan, "Workloads were not scanned")
        else:
            render_hygiene([f for f in workload_findings if not f.pss], complete=page.workloads_complete)
    if isinstance(inputs, SourceError):
        for tab in tabs[3:5]:
            with tab:
                show_source_error(inputs, "Not audited")
    else:
        with tabs[3]:
            render_rbac(inputs, mine, chosen)
        with tabs[4]:
            render_network(inputs, chosen)
    with tabs[5]:
        render_vulnerabilities(page.vulnerabilities, chosen)
    with tabs[6]:
        if isinstance(inputs, SourceError):
            show_source_error(inputs, "Versions were not checked")
        else:
            render_outdated(inputs, mine, today, pinning_unread=page.unscored.get(pinning_category()))
