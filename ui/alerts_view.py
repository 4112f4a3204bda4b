"""Drawing for the Alerts page: headline numbers, Prometheus' firing and pending alerts (with a chart),
Alertmanager's view (active, silenced, inhibited), and the health of the rules.

Alert text (summaries and descriptions are templates filled with label values, so they carry cluster
text) reaches the page only through st.dataframe, Altair or escape_markdown. Tables are what the CSV
downloads contain (k8sdata.export.frame_to_csv: formula-injection safe).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.alerts import in_namespace
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.export import frame_to_csv
from ui import alerts_data, data
from ui.filters import Filters
from ui.render import csv_download, escape_markdown, panel_data

PROMETHEUS_TABLE = {
    "state": "State", "severity": "Severity", "alertname": "Alert", "namespace": "Namespace", "app": "App",
    "pod": "Pod", "summary": "Summary", "description": "Description", "active_at": "Since",
    "value": "Value", "labels_text": "Other labels",
}
ALERTMANAGER_TABLE = {
    "status": "Status", "severity": "Severity", "alertname": "Alert", "namespace": "Namespace", "app": "App",
    "pod": "Pod", "summary": "Summary", "starts_at": "Since", "silenced_by": "Silenced by (silence id)",
    "inhibited_by": "Inhibited by (alert fingerprint)", "receivers": "Receivers",
    "labels_text": "Other labels",
}
RULES_TABLE = {
    "health": "Health", "group": "Group", "rule": "Rule", "kind": "Kind", "state": "State",
    "severity": "Severity", "last_error": "Last error", "evaluation_ms": "Evaluation (ms)",
    "last_evaluation": "Last evaluated", "alerts_firing": "Firing", "alerts_pending": "Pending",
    "query": "Expression", "file": "File",
}
#: Colours of the severity bars: mid-tones readable on light and dark backgrounds.
SEVERITY_COLOURS = {"critical": "#e0403a", "error": "#e0403a", "warning": "#e08a00", "info": "#4a90d9",
                    "": "#8a8f98"}
HEALTH_WORDS = {"ok": "ok", "err": "error", "unknown": "not evaluated yet"}


def table_frame(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The columns shown (and downloaded), renamed for people."""
    return frame[list(columns)].rename(columns=columns)


def alerts_csv(frame: pd.DataFrame, columns: dict[str, str]) -> bytes:
    return frame_to_csv(table_frame(frame, columns))


def rules_table(rules: pd.DataFrame) -> pd.DataFrame:
    shown = rules.assign(evaluation_ms=(rules["evaluation_seconds"] * 1000).round(3),
                         health=rules["health"].map(HEALTH_WORDS).fillna(rules["health"]))
    return table_frame(shown, RULES_TABLE)


def render_numbers(prometheus: pd.DataFrame | None, alertmanager: pd.DataFrame | None,
                   rules: pd.DataFrame | None) -> None:
    """Firing, pending, held back by Alertmanager, rules failing ("–" where the source failed)."""
    columns = st.columns(4)

    def count(frame: pd.DataFrame | None, column: str, values: set[str]) -> int | str:
        return "–" if frame is None else int(frame[column].isin(values).sum())

    columns[0].metric("Firing", count(prometheus, "state", {"firing"}), border=True,
                      help="Alerts whose condition has held for the rule's whole `for:` time.")
    columns[1].metric("Pending", count(prometheus, "state", {"pending"}), border=True,
                      help="Conditions that hold now but not yet for the rule's `for:` time.")
    columns[2].metric("Silenced or inhibited", count(alertmanager, "status", {"silenced", "inhibited"}),
                      border=True, help="Alerts Alertmanager holds back: silenced by a person, or "
                                        "inhibited by a more severe alert.")
    columns[3].metric("Rules failing", count(rules, "health", {"err"}), border=True,
                      help="Rules Prometheus could not evaluate: their alerts cannot fire.")


def render_prometheus_alerts(read: pd.DataFrame | SourceError, namespace_label: str) -> None:
    st.subheader("Firing and pending")
    alerts = panel_data(read, "Alerts are unavailable", f"No alerts are firing or pending in "
                        f"{escape_markdown(namespace_label)}.", empty_level="success")
    if alerts is None:
        return
    _severity_chart(alerts)
    st.dataframe(table_frame(alerts, PROMETHEUS_TABLE), hide_index=True, key="kams_alerts_prometheus",
                 column_config={"Since": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss z"),
                                "Summary": st.column_config.TextColumn(width="medium"),
                                "Description": st.column_config.TextColumn(width="large")})
    csv_download("Download alerts (CSV)", alerts_csv(alerts, PROMETHEUS_TABLE), "kams-alerts.csv",
                 "kams_alerts_prometheus_csv")


def _severity_chart(alerts: pd.DataFrame) -> None:
    """How many alerts of each name, coloured by severity: what is loudest at a glance. Pending ones get
    their own bar ("... (pending)"), so firing and pending are told apart without relying on shading."""
    named = alerts.assign(
        severity=alerts["severity"].fillna(""),
        alert=alerts["alertname"] + alerts["state"].map({"pending": " (pending)"}).fillna(""))
    counts = named.groupby(["alert", "severity"], as_index=False).size().rename(columns={"size": "alerts"})
    present = set(counts["severity"])
    domain = [name for name in SEVERITY_COLOURS if name in present] + sorted(present - set(SEVERITY_COLOURS))
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("alerts:Q", title="alerts", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("alert:N", title=None, axis=alt.Axis(labelLimit=320),
                    sort=alt.EncodingSortField("alerts", op="sum", order="descending")),
            color=alt.Color("severity:N", title="Severity", scale=alt.Scale(
                domain=domain, range=[SEVERITY_COLOURS.get(name, "#8a8f98") for name in domain])),
            tooltip=[alt.Tooltip("alert:N", title="alert"), "severity:N", "alerts:Q"],
        )
        .properties(height=alt.Step(28))
    )
    st.altair_chart(chart, width="stretch")


def render_alertmanager(read: pd.DataFrame | SourceError, namespace_label: str) -> None:
    st.subheader("Alertmanager")
    if isinstance(read, NotConfigured):
        st.info(escape_markdown("Alertmanager is not configured, so silences and inhibitions are not "
                                "shown. Set ALERTMANAGER_URL to your Alertmanager's address to see them."),
                icon=":material/info:")
        return
    alerts = panel_data(read, "Alertmanager's view is unavailable", f"Alertmanager holds no alerts for "
                        f"{escape_markdown(namespace_label)}.", empty_level="success")
    if alerts is None:
        return
    held = alerts[alerts["status"].isin({"silenced", "inhibited"})]
    if not held.empty:
        st.caption(f"{len(held)} of {len(alerts)} alerts are held back (silenced or inhibited): no "
                   "notification goes out for them.")
    st.dataframe(table_frame(alerts, ALERTMANAGER_TABLE), hide_index=True, key="kams_alerts_alertmanager",
                 column_config={"Since": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss z")})
    csv_download("Download Alertmanager alerts (CSV)", alerts_csv(alerts, ALERTMANAGER_TABLE),
                 "kams-alertmanager-alerts.csv", "kams_alerts_alertmanager_csv")


def render_rules(read: pd.DataFrame | SourceError) -> None:
    st.subheader("Rule health")
    rules = panel_data(read, "Rule health is unavailable",
                       "Prometheus has no alerting or recording rules loaded. KAMS ships rules in "
                       "deploy/k8s/prometheusrule.yaml (a PrometheusRule for the Prometheus Operator).")
    if rules is None:
        return
    failing = rules[rules["health"] == "err"]
    if failing.empty:
        st.success(f"All {len(rules)} rules evaluate without errors.")
    else:
        st.warning(f"{len(failing)} of {len(rules)} rules fail to evaluate, so their alerts cannot fire. "
                   "The last error of each is in the table.")
    slow = rules.drop_duplicates("group")
    slow = slow[slow["group_evaluation_seconds"] > slow["group_interval_seconds"]]
    if not slow.empty:
        st.warning(f"{len(slow)} rule groups take longer to evaluate than their interval, so evaluations "
                   "are skipped: " + escape_markdown(", ".join(slow["group"])) + ".")
    st.dataframe(rules_table(rules), hide_index=True, key="kams_alerts_rules",
                 column_config={"Last evaluated": st.column_config.DatetimeColumn(format="HH:mm:ss z"),
                                "Last error": st.column_config.TextColumn(width="large")})
    csv_download("Download rule health (CSV)", rules_table(rules), "kams-rule-health.csv",
                 "kams_alerts_rules_csv")


# --- the page ------------------------------------------------------------------------------------------
def render_alerts_page(settings: Settings, filters: Filters) -> None:
    """The numbers, then Prometheus' alerts, Alertmanager's view and rule health: each panel says why
    when its source fails, and the others keep working."""
    title, refresh = st.columns([5, 1], vertical_alignment="bottom")
    title.title("Alerts")
    if refresh.button("Refresh", icon=":material/refresh:", key="kams_alerts_refresh"):
        alerts_data.clear()

    prometheus = data.or_error(lambda: alerts_data.prometheus_alerts(settings))
    alertmanager = data.or_error(lambda: alerts_data.alertmanager_alerts(settings))
    rules = data.or_error(lambda: alerts_data.rule_health(settings))
    if not isinstance(prometheus, SourceError):
        prometheus = in_namespace(prometheus, filters.namespace)
    if not isinstance(alertmanager, SourceError):
        alertmanager = in_namespace(alertmanager, filters.namespace)

    render_numbers(None if isinstance(prometheus, SourceError) else prometheus,
                   None if isinstance(alertmanager, SourceError) else alertmanager,
                   None if isinstance(rules, SourceError) else rules)
    if filters.namespace:
        st.caption("Only alerts labelled with the chosen namespace are listed; cluster-wide alerts (a scrape "
                   "target down, for example) show under All namespaces.")
    render_prometheus_alerts(prometheus, filters.namespace_label)
    render_alertmanager(alertmanager, filters.namespace_label)
    render_rules(rules)
