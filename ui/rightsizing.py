"""The Right-sizing tab of the Pods page: KRR-style recommendations, per-namespace totals, and the
forecast (memory limits about to be hit, pods restarting too often).

Thin: k8sdata.pods.insights does the work through the cached Prometheus client (ui.data); this module only
formats and draws. Names from the cluster reach the page through st.dataframe, Altair or escape_markdown.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.pods import insights
from k8sdata.requests.queries import duration_seconds
from k8sdata.sources.protocols import InstantSource
from ui import data
from ui.filters import Filters
from ui.render import csv_download, escape_markdown, panel_data, show_source_error

#: Window choices: label -> PromQL duration. KRR's default is a week.
WINDOWS: dict[str, str] = {"1 day": "1d", "3 days": "3d", "7 days": "7d", "14 days": "14d"}
DEFAULT_WINDOW = "7 days"
#: Minimum history before a recommendation is made: label -> PromQL duration.
MIN_HISTORIES: dict[str, str] = {"1 hour": "1h", "6 hours": "6h", "1 day": "1d", "3 days": "3d"}
DEFAULT_MIN_HISTORY = "1 day"
FORECAST_HORIZON = "24h"
FORECAST_LOOKBACK = "6h"
RESTART_WINDOW = "1h"

WINDOW_KEY = "kams_rightsizing_window"
MIN_HISTORY_KEY = "kams_rightsizing_min_history"

MIB = 1024 * 1024
TABLE_COLUMNS = {
    "namespace": "Namespace", "workload": "Workload", "container": "Container", "replicas": "Replicas",
    "cpu_request_m": "CPU request (m)", "cpu_recommended_m": "CPU recommended (m)",
    "cpu_difference_m": "CPU difference (m)", "memory_request_mib": "Memory request (MiB)",
    "memory_recommended_mib": "Memory recommended (MiB)", "memory_difference_mib": "Memory difference (MiB)",
    "history_hours": "History (hours)", "status": "Status",
}
TOTAL_COLUMNS = {
    "namespace": "Namespace", "containers": "Containers", "cpu_request_m": "CPU requested (m)",
    "cpu_recommended_m": "CPU recommended (m)", "cpu_difference_m": "CPU difference (m)",
    "memory_request_mib": "Memory requested (MiB)", "memory_recommended_mib": "Memory recommended (MiB)",
    "memory_difference_mib": "Memory difference (MiB)",
}


def _in_units(frame: pd.DataFrame) -> pd.DataFrame:
    """Cores -> millicores and bytes -> MiB, rounded: what people type into a manifest."""
    out = frame.copy()
    for name in ("cpu_request", "cpu_recommended", "cpu_difference"):
        if name in out.columns:
            out[f"{name}_m"] = (out[name] * 1000).round(0)
    for name in ("memory_request", "memory_recommended", "memory_difference"):
        if name in out.columns:
            out[f"{name}_mib"] = (out[name] / MIB).round(0)
    return out


def recommendations_table(recommendations: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: one row per workload container, in millicores and MiB."""
    shown = _in_units(recommendations)
    shown["workload"] = shown["workload_kind"] + "/" + shown["workload"]
    shown["history_hours"] = shown["history_hours"].round(1)
    return shown[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)


def totals_table(savings: pd.DataFrame) -> pd.DataFrame:
    return _in_units(savings)[list(TOTAL_COLUMNS)].rename(columns=TOTAL_COLUMNS)


def comparison_chart(savings: pd.DataFrame) -> alt.VConcatChart:
    """Current vs recommended requests per namespace, CPU and memory side by side (grouped bars)."""
    shown = _in_units(savings)
    charts = []
    for resource, current, recommended, unit in (
            ("CPU", "cpu_request_m", "cpu_recommended_m", "millicores"),
            ("Memory", "memory_request_mib", "memory_recommended_mib", "MiB")):
        long = pd.concat([
            pd.DataFrame({"namespace": shown["namespace"], "value": shown[current], "which": "current"}),
            pd.DataFrame({"namespace": shown["namespace"], "value": shown[recommended],
                          "which": "recommended"}),
        ], ignore_index=True)
        charts.append(alt.Chart(long, title=f"{resource} requests per namespace").mark_bar().encode(
            x=alt.X("namespace:N", title="Namespace", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("which:N"),
            y=alt.Y("value:Q", title=unit),
            color=alt.Color("which:N", title="", scale=alt.Scale(domain=["current", "recommended"])),
            tooltip=["namespace:N", "which:N", alt.Tooltip("value:Q", title=unit)],
        ).properties(height=220))
    return alt.vconcat(*charts)


def _recommendations(filters: Filters, prom: InstantSource, window: str, min_history: str,
                     min_history_label: str) -> None:
    recommendations = panel_data(
        data.or_error(lambda: insights.rightsizing(prom, filters.namespace, window=window,
                                                   min_history=min_history)),
        "Right-sizing is unavailable", f"Prometheus has no container usage for "
        f"{escape_markdown(filters.namespace_label)} in this window, so there is nothing to recommend yet.")
    if recommendations is None:
        return
    waiting = recommendations["status"] == insights.STATUS_NOT_ENOUGH_DATA
    if waiting.all():
        st.info(f"Not enough data: every container has less than {min_history_label} of usage history in "
                "Prometheus. KAMS recommends nothing rather than guessing; come back later or lower the "
                "minimum history.")
    elif waiting.any():
        st.caption(f"{int(waiting.sum())} of {len(recommendations)} containers have less than "
                   f"{min_history_label} of history: they say \"not enough data\" instead of a guess.")
    st.dataframe(recommendations_table(recommendations), hide_index=True, width="stretch")
    csv_download("Download recommendations (CSV)", recommendations, "kams-rightsizing.csv",
                 "kams_rightsizing_csv")

    savings = insights.namespace_savings(recommendations)
    if savings.empty:
        return
    st.markdown("**Per namespace** (running replicas times the difference; negative is what could be "
                "given back)")
    st.dataframe(totals_table(savings), hide_index=True, width="stretch")
    st.altair_chart(comparison_chart(savings), width="stretch")


def _forecast(filters: Filters, prom: InstantSource) -> None:
    st.subheader("Forecast")
    try:
        limits = insights.memory_forecast(prom, filters.namespace, horizon=FORECAST_HORIZON,
                                          lookback=FORECAST_LOOKBACK)
    except SourceError as error:
        show_source_error(error, "The memory forecast is unavailable")
    else:
        if limits.empty:
            st.success("No container will reach its memory limit in the next 24 hours at the trend of the "
                       "last 6 hours.")
        else:
            for _index, row in limits.iterrows():
                st.warning(escape_markdown(insights.forecast_sentence(row)), icon=":material/memory:")
            shown = limits.assign(memory_mib=(limits["memory_bytes"] / MIB).round(0),
                                  limit_mib=(limits["memory_limit"] / MIB).round(0),
                                  growth_mib_per_hour=(limits["growth_bytes_per_hour"] / MIB).round(1),
                                  hours_to_limit=limits["hours_to_limit"].round(1))
            columns = ["namespace", "pod", "container", "memory_mib", "limit_mib", "growth_mib_per_hour",
                       "hours_to_limit", "reaches_limit_at"]
            st.dataframe(shown[columns], hide_index=True, width="stretch")
    restarts = panel_data(
        data.or_error(lambda: insights.restart_rate(prom, filters.namespace, window=RESTART_WINDOW)),
        "Restart rates are unavailable", f"No pod restarted more than {insights.DEFAULT_RESTART_THRESHOLD:g} "
        "times an hour during the last hour.", empty_level="success")
    if restarts is None:
        return
    for _index, row in restarts.iterrows():
        st.warning(escape_markdown(insights.restart_sentence(row)), icon=":material/restart_alt:")


def render_rightsizing_tab(filters: Filters) -> None:
    """Window selector, recommendations (table, CSV, per-namespace totals and chart), then the forecast."""
    settings = Settings.from_env()
    st.caption("Requests that match what containers really use, the way KRR computes them: CPU at the "
               "95th percentile of usage over the window, memory at the peak working set plus 15%.")
    left, right = st.columns(2)
    window_label = left.selectbox("History window", list(WINDOWS), index=list(WINDOWS).index(DEFAULT_WINDOW),
                                  key=WINDOW_KEY)
    min_history_label = right.selectbox("Minimum history", list(MIN_HISTORIES),
                                        index=list(MIN_HISTORIES).index(DEFAULT_MIN_HISTORY),
                                        key=MIN_HISTORY_KEY,
                                        help="Containers with less usage history than this get "
                                             "\"not enough data\" instead of a recommendation.")
    window, min_history = WINDOWS[window_label], MIN_HISTORIES[min_history_label]
    if duration_seconds(min_history) > duration_seconds(window):
        st.warning(f"The minimum history ({min_history_label}) is longer than the window ({window_label}), "
                   "so no container can have enough data: choose a longer window or a shorter minimum.")
    try:
        prom, history = data.cached_prom(settings), data.cached_prom(settings, history=True)
    except SourceError as error:
        show_source_error(error, "Right-sizing needs the usage history in Prometheus")
        return
    _recommendations(filters, history, window, min_history, min_history_label)
    _forecast(filters, prom)
