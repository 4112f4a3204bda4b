"""Drawing for the founders' health page: the lights, availability and latency against the target, and
the incidents. For people who may see no other page, so nothing here links anywhere (no st.page_link,
no Markdown links: cluster text is escaped, and our own sentences contain none).

Cluster text (application and namespace names, alert names) reaches the page only through st.dataframe,
Altair or escape_markdown. Every table has a CSV download of exactly what it shows
(k8sdata.export.frame_to_csv: formula-injection safe).
"""

from __future__ import annotations

import os

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.health import LIGHT_WORD, AppHealth, Light
from k8sdata.health_page import HealthPageData
from k8sdata.incidents import INCIDENT_HISTORY, INCIDENT_STEP_SECONDS, STATE_FIRING
from k8sdata.requests.slo import (
    DEFAULT_AVAILABILITY_PERCENT,
    VERDICT_WORDS,
    SloSettingError,
    availability_target,
    duration_words,
    since_words,
)
from ui import health_data
from ui.alerts_view import SEVERITY_COLOURS
from ui.render import (
    LIGHT_TEXT_COLOUR,
    csv_download,
    escape_markdown,
    light_cards,
    outcome,
    panel_data,
    show_source_error,
)

#: Cards for the worst applications; the table lists all of them.

LIGHTS_TABLE = {"status": "Status", "application": "Application", "namespace": "Namespace", "why": "Why"}
SLO_TABLE = {
    "app": "Application", "namespace": "Namespace", "period": "Period",
    "availability_percent": "Availability (%)", "verdict": "Against the target",
    "budget_left_percent": "Error budget left (%)", "budget_used_percent": "Error budget used (%)",
    "p95_seconds": "p95 latency (s)",
    "requests": "Requests", "covers": "Covers",
}
INCIDENTS_TABLE = {
    "state": "State", "alertname": "Alert", "severity": "Severity", "app": "Application",
    "namespace": "Namespace", "started": "Started", "ended": "Ended", "duration": "Lasted",
}
#: The light counts' order: what needs attention first.
WORST_FIRST: tuple[Light, ...] = ("red", "amber", "green", "grey")
#: Mid-tones readable on light and dark backgrounds (the lights' own colours).
VERDICT_COLOURS = {VERDICT_WORDS["meets"]: LIGHT_TEXT_COLOUR["green"],
                   VERDICT_WORDS["below"]: LIGHT_TEXT_COLOUR["red"]}


def _told_above(data: HealthPageData) -> tuple[SourceError | None, ...]:
    """The errors said at the top of the page: a panel failing with one of them only points there."""
    return data.metrics.error, data.pods.error


def render_source_problems(data: HealthPageData) -> None:
    if data.pods.error is not None:
        show_source_error(data.pods.error, level="warning",
                          after="The lights below use request numbers only, and none is green: a "
                                "crashing pod would not show." if data.metrics.ok else "")
    if data.metrics.error is not None:
        show_source_error(data.metrics.error, level="warning",
                          after="Until then there are no availability figures or incidents, and the lights "
                                "use what Kubernetes alone tells" + (
                                    "." if isinstance(data.metrics.error, NotConfigured) else
                                    "; none is green, since a firing alert would not show.")
                          if data.pods.ok else "")


# --- lights --------------------------------------------------------------------------------------------
def lights_table(apps: list[AppHealth]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"status": LIGHT_WORD[app.light], "application": app.app, "namespace": app.namespace,
          "why": "; ".join(app.reasons)} for app in apps],
        columns=list(LIGHTS_TABLE))
    return frame.rename(columns=LIGHTS_TABLE)


def _counts(apps: list[AppHealth]) -> None:
    columns = st.columns(4)
    for column, light in zip(columns, WORST_FIRST, strict=True):
        column.metric(LIGHT_WORD[light], sum(1 for app in apps if app.light == light), border=True)


def render_lights(data: HealthPageData) -> None:
    st.subheader("Right now")
    apps = data.apps
    if not apps:
        if not data.pods.ok and not data.metrics.ok:
            return  # both sources failed; the sentences at the top say why
        st.info("No applications found.")
        return
    _counts(apps)
    light_cards(apps)
    table = lights_table(apps)
    colours = {LIGHT_WORD[light]: LIGHT_TEXT_COLOUR[light] for light in WORST_FIRST}
    styled = table.style.apply(
        lambda row: [f"color: {colours.get(row['Status'], '')}; font-weight: 600" if column == "Status"
                     else "" for column in row.index], axis=1)
    st.dataframe(styled, hide_index=True, key="kams_health_lights",
                 column_config={"Why": st.column_config.TextColumn(width="large")})
    csv_download("Download applications (CSV)", table, "kams-health-applications.csv",
                 "kams_health_lights_csv")


# --- availability and latency ---------------------------------------------------------------------
def slo_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The SLO table as shown and downloaded."""
    covers = [f"{duration_words(seconds)} (since data began)" if short else duration_words(seconds)
              for seconds, short in zip(frame["covered_seconds"], frame["since_data_began"], strict=True)]
    # "Left" stops at 0 (a negative share left reads as nonsense); "used" says by how much it was
    # overspent (250 = two and a half times the failures the target allows).
    shown = frame.assign(covers=covers,
                         availability_percent=frame["availability_percent"].round(3),
                         budget_left_percent=frame["budget_left_percent"].clip(lower=0).round(1),
                         budget_used_percent=(100 - frame["budget_left_percent"]).round(1),
                         p95_seconds=frame["p95_seconds"].round(3))
    return shown[list(SLO_TABLE)].rename(columns=SLO_TABLE)


def _slo_chart(frame: pd.DataFrame, target: float) -> None:
    """One dot per application and period, left or right of the target line: which applications keep
    their promise is seen at a glance. Colour and the tooltip both say it (not colour alone)."""
    measured = frame.dropna(subset=["availability_percent"])
    if measured.empty:
        return
    points = measured.assign(application=measured["app"] + " (" + measured["namespace"] + ")")
    lowest = min(float(points["availability_percent"].min()), target)
    # Zoomed to the values: on a 0-100 axis every application would sit on the right edge.
    domain = [max(0.0, lowest - max(0.05, (100 - lowest) * 0.2)), 100.0]
    dots = alt.Chart(points).mark_point(filled=True, size=110).encode(
        x=alt.X("availability_percent:Q", title="availability (%)",
                scale=alt.Scale(domain=domain, clamp=True)),
        y=alt.Y("application:N", title=None, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("period:N", sort=list(dict.fromkeys(points["period"]))),
        shape=alt.Shape("period:N", title="Period", sort=list(dict.fromkeys(points["period"]))),
        color=alt.Color("verdict:N", title="Against the target", scale=alt.Scale(
            domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values()))),
        tooltip=[alt.Tooltip("application:N"), alt.Tooltip("period:N"),
                 alt.Tooltip("availability_percent:Q", title="availability (%)", format=".3f"),
                 alt.Tooltip("verdict:N", title="against the target")],
    )
    line = alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(strokeDash=[6, 4]).encode(
        x="target:Q", tooltip=[alt.Tooltip("target:Q", title="target (%)")])
    chart = (line + dots).properties(height=alt.Step(26))
    st.altair_chart(chart, width="stretch")


def render_slo(data: HealthPageData) -> None:
    target = data.target_percent
    st.subheader("Availability and speed")
    st.caption(f"Target: {target:g}% of requests answered without a server error. Availability is the share "
               "of requests that did not fail with a server error (5xx); latency is the time within which "
               "95% of requests were answered (p95).")
    frame = panel_data(outcome(data.slo), "Availability figures are unavailable",
                       "Prometheus has no request data for these applications, so their availability cannot "
                       "be measured yet.", level="info", told_above=_told_above(data))
    if frame is None:
        return
    began = data.data_began.value
    if began is not None and bool(frame["since_data_began"].any()):
        st.caption(f"Prometheus has request data for the last {since_words(began, data.now)} only: longer "
                   "periods show the figures over the data there is (since data began).")
    below = frame[frame["verdict"] == VERDICT_WORDS["below"]]
    if below.empty:
        st.success(f"Every application with traffic meets the {target:g}% target in every period.")
    else:
        names = sorted(set(below["app"] + " (" + below["namespace"] + ")"))
        st.warning(escape_markdown(f"Below the {target:g}% target in at least one period: "
                                   + ", ".join(names) + "."))
    if (frame["verdict"] == VERDICT_WORDS["no traffic"]).any():
        st.caption("No traffic means no requests in that period: nothing to measure, which is not 100%.")
    _slo_chart(frame, target)
    table = slo_display(frame)
    st.dataframe(table, hide_index=True, key="kams_health_slo", column_config={
        "Availability (%)": st.column_config.NumberColumn(format="%.3f"),
        "Error budget left (%)": st.column_config.NumberColumn(
            format="%.1f", help="Of the failures the target allows in the period, the share not yet used."),
        "Error budget used (%)": st.column_config.NumberColumn(
            format="%.1f", help="Failures seen against the failures the target allows; above 100 the "
                                "target is missed."),
        "p95 latency (s)": st.column_config.NumberColumn(format="%.3f"),
        "Requests": st.column_config.NumberColumn(format="%d"),
    })
    csv_download("Download availability (CSV)", table, "kams-health-availability.csv", "kams_health_slo_csv")


# --- incidents --------------------------------------------------------------------------------------
def incidents_display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.assign(duration=[duration_words(seconds) if seconds >= 3600
                                   else f"{max(1, round(seconds / 60))} min"
                                   for seconds in frame["duration_seconds"]])
    return shown[list(INCIDENTS_TABLE)].rename(columns=INCIDENTS_TABLE)


def _incident_chart(frame: pd.DataFrame, now: pd.Timestamp) -> None:
    """Each incident as a bar from its start to its end (or now): when things went wrong, for whom."""
    bars = frame.assign(application=frame["app"].where(frame["app"] != "", "(no application)")
                        + " (" + frame["namespace"] + ")",
                        until=frame["ended"].where(frame["ended"].notna(), now.as_unit("ns")),
                        severity=frame["severity"].replace("", "none"))
    present = list(dict.fromkeys(bars["severity"]))
    domain = [name for name in SEVERITY_COLOURS if name in present] + [n for n in present
                                                                      if n not in SEVERITY_COLOURS]
    chart = alt.Chart(bars).mark_bar().encode(
        x=alt.X("started:T", title=None),
        x2="until:T",
        y=alt.Y("application:N", title=None, axis=alt.Axis(labelLimit=320)),
        color=alt.Color("severity:N", title="Severity", scale=alt.Scale(
            domain=domain, range=[SEVERITY_COLOURS.get(name, "#8a8f98") for name in domain])),
        tooltip=[alt.Tooltip("alertname:N", title="alert"), "severity:N", "application:N",
                 alt.Tooltip("started:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("state:N")],
    ).properties(height=alt.Step(26))
    st.altair_chart(chart, width="stretch")


def render_incidents(data: HealthPageData) -> None:
    days = INCIDENT_HISTORY.days
    st.subheader("Recent incidents")
    st.caption(f"Alerts that fired in the last {days} days, by application. Start and end times of past "
               f"incidents are accurate to about {INCIDENT_STEP_SECONDS / 60:g} minutes.")
    frame = panel_data(outcome(data.incidents), "Incidents are unavailable",
                       f"No alerts fired in the last {days} days.", level="info", empty_level="success",
                       told_above=_told_above(data))
    if frame is None:
        return
    firing = int((frame["state"] == STATE_FIRING).sum())
    st.caption(f"{firing} firing now, {len(frame) - firing} resolved.")
    _incident_chart(frame, pd.Timestamp(data.now))
    table = incidents_display(frame)
    st.dataframe(table, hide_index=True, key="kams_health_incidents", column_config={
        "Started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Ended": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
    })
    csv_download("Download incidents (CSV)", table, "kams-health-incidents.csv", "kams_health_incidents_csv")


# --- the page ------------------------------------------------------------------------------------------
def render_health_page(settings: Settings, namespaces: frozenset[str] | None, context: str | None) -> None:
    """How the applications in `namespaces` (None: all but Kubernetes' own) are doing, in plain words."""
    st.title("Health")
    try:
        target = availability_target(os.environ)
    except SloSettingError as error:
        target = DEFAULT_AVAILABILITY_PERCENT
        st.warning(escape_markdown(f"{error} Using {target:g}% until it is corrected."))

    with st.spinner("Reading how the applications are doing…"):
        data = health_data.health_page_data(settings, context, namespaces, target)

    scope = "" if namespaces is None else " in " + escape_markdown(
        ", ".join(sorted(namespaces)) or "no namespace")
    st.caption(f"How the applications{scope} are doing, in plain words, as of {data.now:%Y-%m-%d %H:%M} UTC.")
    render_source_problems(data)
    render_lights(data)
    render_slo(data)
    render_incidents(data)
