"""Drawing for the Overview page: how every application is doing, in plain words, for someone who is not
an engineer.

ui.data reads the Overview (k8sdata.overview does the work); this module draws it. Everything from the
cluster is shown through st.dataframe or escaped before Markdown. A panel whose source is down points to
the sentence at the top of the page instead of repeating it.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.health import (
    LIGHT_WORD,
    applications_csv,
    applications_frame,
    format_percent,
    format_rate,
    format_seconds,
    window_words,
)
from k8sdata.overview import OverviewData
from ui import data
from ui.filters import Filters
from ui.render import (
    LIGHT_TEXT_COLOUR,
    csv_download,
    escape_markdown,
    light_cards,
    outcome,
    panel_data,
    show_source_error,
)

#: PromQL window of the headline numbers ("... in the last 5 minutes").
WINDOW = "5m"


def _told_above(overview: OverviewData) -> tuple[SourceError | None, ...]:
    """The errors said at the top of the page: a panel failing with one of them only points there."""
    return overview.prometheus_error, overview.kubernetes_error


def _key_numbers(overview: OverviewData) -> None:
    numbers = overview.numbers
    assert numbers is not None
    words = window_words(overview.window)
    have_pods = overview.pods.ok
    # Two rows of three: six side by side truncate their labels on a laptop screen.
    columns = [*st.columns(3), *st.columns(3)]
    columns[0].metric("Pods running", numbers.pods_running if have_pods else "–", border=True,
                      help="Pods in the Running phase.")
    columns[1].metric("Pods not ready", numbers.pods_not_ready if have_pods else "–", border=True,
                      help="Pods that cannot serve yet: starting, crashing, or waiting for a node.")
    if numbers.restarts_1h is not None:
        columns[2].metric("Restarts (last hour)", numbers.restarts_1h, border=True,
                          help="Container restarts during the last hour (from Prometheus).")
    else:
        columns[2].metric("Restarts (since start)", numbers.restarts_total if have_pods else "–",
                          border=True, help="Total container restarts Kubernetes counts for these pods.")
    columns[3].metric("Requests per second",
                      "–" if numbers.request_rate is None else format_rate(numbers.request_rate),
                      border=True, help=f"Averaged over the last {words}, all applications together.")
    columns[4].metric("Failed requests",
                      "–" if numbers.error_ratio is None else format_percent(numbers.error_ratio),
                      border=True, help=f"Share answered with a server error (5xx) in the last {words}.")
    columns[5].metric("Slowest p95 latency",
                      "–" if numbers.latency_p95_worst is None else format_seconds(numbers.latency_p95_worst),
                      border=True,
                      help="For the slowest application, 95% of requests were faster than this.")


def _lights(overview: OverviewData, namespace_label: str) -> None:
    apps = overview.apps
    if not apps:
        if not overview.pods.ok and not overview.metrics.ok:
            return  # both sources failed; the sentences at the top say why
        st.info("No applications found in " + escape_markdown(namespace_label) + ".")
        return
    light_cards(apps)


def _applications_table(overview: OverviewData) -> None:
    frame = applications_frame(overview.apps)
    frame["light"] = frame["status"].map(LIGHT_WORD)
    # Colour the status words by light (the `status` column itself stays hidden: it is for the CSV).
    styled = frame.style.apply(
        lambda row: [f"color: {LIGHT_TEXT_COLOUR[row['status']]}; font-weight: 600" if column == "light"
                     else "" for column in row.index],
        axis=1,
    )
    st.dataframe(
        styled,
        column_order=[column for column in frame.columns if column != "status"],
        hide_index=True,
        column_config={
            "light": st.column_config.TextColumn("Status"),
            "application": "Application",
            "namespace": "Namespace",
            "why": st.column_config.TextColumn("Why", width="large"),
            "pods_ready": "Pods ready",
            "pods_total": "Pods",
            "restarts_1h": "Restarts (1h)",
            "restarts_total": "Restarts (total)",
            "requests_per_second": st.column_config.NumberColumn("Requests/s", format="%.2f"),
            "error_percent": st.column_config.NumberColumn("Failed %", format="%.2f"),
            "latency_p95_seconds": st.column_config.NumberColumn("p95 (s)", format="%.3f"),
        },
    )
    csv_download("Download applications (CSV)", applications_csv(overview.apps), "kams-applications.csv")


def _request_chart(overview: OverviewData, time_range_label: str) -> None:
    st.subheader(f"Requests per second, {time_range_label.lower()}")
    series = panel_data(outcome(overview.request_rate_series), "The request chart is unavailable",
                        "Prometheus has no request data for this time range.", level="info",
                        told_above=_told_above(overview))
    if series is None:
        return
    series = series.assign(application=series["app"] + " (" + series["namespace"] + ")")
    chart = (
        alt.Chart(series)
        .mark_line(interpolate="monotone")
        .encode(
            x=alt.X("timestamp:T", title=None),
            y=alt.Y("value:Q", title="requests / s"),
            color=alt.Color("application:N", title="Application"),
            tooltip=[alt.Tooltip("application:N"), alt.Tooltip("timestamp:T", format="%H:%M"),
                     alt.Tooltip("value:Q", title="req/s", format=".2f")],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def _alerts(overview: OverviewData) -> None:
    st.subheader("Active alerts")
    alerts = panel_data(outcome(overview.alerts), "Alerts are unavailable", "No alerts are firing.",
                        level="info", empty_level="success", told_above=_told_above(overview))
    if alerts is None:
        return
    firing = int((alerts["state"] == "firing").sum())
    st.caption(f"{firing} firing, {len(alerts) - firing} pending.")
    table = alerts.assign(active_since=alerts["active_at"].dt.strftime("%Y-%m-%d %H:%M UTC"))
    st.dataframe(
        table[["state", "severity", "alertname", "namespace", "app", "pod", "summary", "active_since"]],
        hide_index=True,
        column_config={"state": "State", "severity": "Severity", "alertname": "Alert",
                       "namespace": "Namespace", "app": "Application", "pod": "Pod",
                       "summary": st.column_config.TextColumn("What is wrong", width="large"),
                       "active_since": "Active since"},
    )


def _warning_events(overview: OverviewData) -> None:
    st.subheader("Recent warnings from Kubernetes")
    events = panel_data(outcome(overview.warning_events), "Kubernetes events are unavailable",
                        "No warning events.", level="info", empty_level="success",
                        told_above=_told_above(overview))
    if events is None:
        return
    st.dataframe(
        events[["age", "namespace", "object", "reason", "message", "count"]],
        hide_index=True,
        column_config={"age": "When", "namespace": "Namespace", "object": "Object", "reason": "Reason",
                       "message": st.column_config.TextColumn("Message", width="large"),
                       "count": "Times"},
    )


def _source_problems(overview: OverviewData) -> None:
    if overview.kubernetes_error is not None:
        show_source_error(overview.kubernetes_error, level="error",
                          after="Until then pods, restarts and warnings are missing; the lights use "
                                "request numbers only, and none is green: a crashing pod would not "
                                "show." if overview.metrics.ok else "")
    if overview.prometheus_error is not None:
        show_source_error(
            overview.prometheus_error, level="warning",
            after="Until then there are no request numbers or alerts, and the lights below use what "
                  "Kubernetes alone tells (pods, restarts, warnings); none is green, since a firing "
                  "alert would not show." if overview.pods.ok and not isinstance(
                      overview.prometheus_error, NotConfigured) else
                  "Until then there are no request numbers or alerts, and the lights below use what "
                  "Kubernetes alone tells (pods, restarts, warnings)." if overview.pods.ok else
                  "Until then there are no request numbers or alerts.",
        )


def render_overview_page(settings: Settings, filters: Filters) -> None:
    st.title("Overview")
    include_system = st.toggle("Show Kubernetes system namespaces", value=False,
                               help="kube-system and friends run the cluster itself, not your applications.")
    with st.spinner("Reading the cluster's health…"):
        overview = data.overview_data(settings, filters.context, filters.namespace, WINDOW,
                                      filters.time_range, include_system)
    st.caption(f"How the applications in {escape_markdown(filters.namespace_label)} are doing, as of "
               f"{overview.now:%H:%M:%S} UTC. Request numbers cover the last {window_words(WINDOW)}.")
    _source_problems(overview)
    _key_numbers(overview)
    st.subheader("Applications")
    _lights(overview, filters.namespace_label)
    _applications_table(overview)
    _request_chart(overview, filters.time_range_label)
    _alerts(overview)
    _warning_events(overview)
