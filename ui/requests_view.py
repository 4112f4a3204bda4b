"""Drawing for the Requests page: the applications table, the rate / errors / latency charts with their
notable moments, the breakdown by path, method and status code, and the traffic patterns.

Each `render_*` function is one panel: it fetches through ui.requests_data, and a SourceError becomes one
sentence in that panel while the others keep working. Names and label values from Prometheus reach the
page only through st.dataframe, Altair or escape_markdown. Charts use Streamlit's theme (light and
dark) and mid-tone colours for the marks KAMS colours itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.access import current_scope
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.health import SYSTEM_NAMESPACES
from k8sdata.requests import conventions as conventions_module
from k8sdata.requests import patterns
from k8sdata.requests.conventions import Convention
from ui import data, requests_data
from ui.filters import Filters
from ui.render import csv_download, escape_markdown, show_source_error

T = TypeVar("T")

CHART_HEIGHT = 240
#: Moment kinds (k8sdata.requests.spikes) and the colours of their marks: mid-tones readable on light
# and dark.
MOMENT_COLOURS: dict[str, str] = {"traffic spike": "#e08a00", "traffic drop": "#3b82f6",
                                  "error burst": "#e0403a"}
ALL_APPLICATIONS = ""


@dataclass(frozen=True)
class Selection:
    """What the page looks at: a namespace (None = all) and one workload in it ("" = every one)."""

    namespace: str | None
    workload: str = ""

    @property
    def label(self) -> str:
        if self.workload:
            return f"{self.namespace}/{self.workload}"
        return f"the applications in {self.namespace}" if self.namespace else "all applications"

    @property
    def file_stem(self) -> str:
        """A safe part of a download's file name."""
        raw = f"{self.namespace or 'all'}-{self.workload or 'all'}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)


def selection_key(namespace: str, workload: str) -> str:
    return f"{namespace}/{workload}"


def parse_selection(key: str, sidebar_namespace: str | None) -> Selection:
    """"namespace/workload" chosen in the picker, or "" (every application of the sidebar's namespace)."""
    if not key:
        return Selection(sidebar_namespace)
    namespace, _, workload = key.partition("/")
    return Selection(namespace, workload)


# --- tables ------------------------------------------------------------------------------------------
APPLICATION_COLUMNS = {
    "namespace": "Namespace", "workload": "Application", "workload_source": "Named by", "pod": "Pod",
    "rps": "Requests/s", "error_5xx_pct": "5xx errors", "error_4xx_pct": "4xx errors",
    "p50_ms": "p50 (ms)", "p95_ms": "p95 (ms)", "p99_ms": "p99 (ms)",
    "convention": "Metrics from", "also_from": "Also counted by",
}


def _percent_column(label: str, help_text: str) -> Any:
    return st.column_config.ProgressColumn(label, help=help_text, format="%.2f%%", min_value=0,
                                           max_value=100)


def _ms_column(help_text: str) -> Any:
    return st.column_config.NumberColumn(format="%.1f", help=help_text)


RED_COLUMN_CONFIG: dict[str, Any] = {
    "Requests/s": st.column_config.NumberColumn(format="%.2f", help="Requests per second over the window."),
    "5xx errors": _percent_column("5xx errors", "Share of requests the server failed (HTTP 5xx): the "
                                                "error ratio."),
    "4xx errors": _percent_column("4xx errors", "Share of requests answered with a client error (HTTP "
                                                "4xx), reported apart: often the caller's mistake."),
    "Errors": _percent_column("Errors", "Share of this endpoint's requests the server failed (HTTP 5xx)."),
    "p50 (ms)": _ms_column("Median latency, from the duration histogram (Prometheus' interpolation)."),
    "p95 (ms)": _ms_column("95th percentile latency: 1 request in 20 is slower."),
    "p99 (ms)": _ms_column("99th percentile latency: 1 request in 100 is slower."),
    "Time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", help="UTC."),
    "Named by": st.column_config.TextColumn(
        help="Where the application's name comes from: a label on the request series (the app label, "
             "app.kubernetes.io/name), kube-state-metrics' ownership, the pod's owner references, or its "
             "name (a guess). Empty when nothing names it; the pod's own row still shows its numbers."),
}


def most_direct(frame: pd.DataFrame, chosen: Sequence[Convention]) -> pd.DataFrame:
    """The rows of each application's most direct convention (its own metrics before its mesh's, before
    the ingress', in the order of `chosen`, as red_history picks), so nothing is counted twice; the
    other conventions that count it too are named in `also_from` (an ingress sees only the traffic from
    outside the cluster)."""
    if frame.empty:
        return frame.assign(also_from="")
    rank = {convention.name: index for index, convention in enumerate(chosen)}
    keys = ["namespace", "workload"]
    ranked = frame.assign(_rank=frame["convention"].map(rank).fillna(len(rank)))
    best = ranked.groupby(keys)["_rank"].transform("min")
    seen_by = (ranked.sort_values("_rank", kind="stable").groupby(keys)["convention"]
               .agg(lambda names: list(dict.fromkeys(names))))
    kept = ranked[ranked["_rank"] == best].drop(columns="_rank").reset_index(drop=True)
    also = [", ".join(seen_by[key][1:]) for key in kept[keys].itertuples(index=False, name=None)]
    return kept.assign(also_from=also)


#: Workload kinds that serve no requests by nature (run to completion): never listed as lacking metrics.
BATCH_KINDS = frozenset({"Job", "CronJob"})


def workloads_without_metrics(pods: pd.DataFrame, summary: pd.DataFrame, pod_summary: pd.DataFrame | None,
                              *, hide_namespaces: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The running workloads (namespace, workload "Kind name", pods) that no request metric counts.

    `pods` is k8sdata.pods.frames.pods_frame's frame. A workload counts as covered when one of its pods is
    named in the pod-level summary, or when its name or its pods' `app` label is an application of the
    summary in its namespace (ingress and mesh conventions name services and workloads, not pods)."""
    running = pods[~pods["phase"].isin(["Succeeded", "Failed"]) & ~pods["workload_kind"].isin(BATCH_KINDS)
                   & ~pods["namespace"].isin(hide_namespaces)]
    named = set(zip(summary["namespace"], summary["workload"], strict=True))
    covered_pods: set[tuple[str, str]] = set()
    if pod_summary is not None and not pod_summary.empty:
        covered_pods = set(zip(pod_summary["namespace"], pod_summary["pod"], strict=True))
    covered = pd.Series([
        (namespace, name) in covered_pods or (namespace, workload) in named or (namespace, app) in named
        for namespace, name, workload, app in running[["namespace", "name", "workload", "app"]].itertuples(
            index=False, name=None)], index=running.index, dtype=bool)
    missing = running[~covered]
    table = (missing.assign(workload_text=missing["workload_kind"] + " " + missing["workload"])
             .groupby(["namespace", "workload_text"], as_index=False)["name"].count()
             .rename(columns={"workload_text": "workload", "name": "pods"}))
    return table.sort_values(["namespace", "workload"]).reset_index(drop=True)


def red_table(frame: pd.DataFrame, *, level: str = "workload") -> pd.DataFrame:
    """red_summary's frame as shown and downloaded: ratios in percent, latencies in milliseconds."""
    shown = frame.assign(
        error_5xx_pct=frame["error_ratio_5xx"] * 100,
        error_4xx_pct=frame["error_ratio_4xx"] * 100, p50_ms=frame["p50_seconds"] * 1000,
        p95_ms=frame["p95_seconds"] * 1000, p99_ms=frame["p99_seconds"] * 1000)
    shown = shown.sort_values(["rps", "namespace", "workload"], ascending=[False, True, True])
    columns = [c for c in APPLICATION_COLUMNS if level == "pod" or c != "pod"]
    return shown[columns].rename(columns=APPLICATION_COLUMNS).reset_index(drop=True)


ENDPOINT_COLUMNS = {
    "namespace": "Namespace", "workload": "Application", "method": "Method", "path": "Path",
    "code": "Status", "rps": "Requests/s", "error_pct": "Errors", "p95_ms": "p95 (ms)",
    "convention": "Metrics from",
}
#: The busiest / slowest lists are half as wide: the application and the endpoint, then its numbers.
TOP_ENDPOINT_COLUMNS = ["Application", "Method", "Path", "Requests/s", "Errors", "p95 (ms)"]


def endpoints_table(frame: pd.DataFrame, *, compact: bool = False) -> pd.DataFrame:
    """red_breakdown rows as shown: errors in percent, p95 in milliseconds; "" labels shown as "–".
    compact: TOP_ENDPOINT_COLUMNS, the application as "namespace/workload"."""
    shown = frame.assign(error_pct=frame["error_ratio"] * 100, p95_ms=frame["p95_seconds"] * 1000)
    for column in ("method", "path", "code"):
        shown[column] = shown[column].astype(str).replace("", "–")
    table = shown[list(ENDPOINT_COLUMNS)].rename(columns=ENDPOINT_COLUMNS).reset_index(drop=True)
    if compact:
        table["Application"] = _series_name(shown).to_numpy()
        return table[TOP_ENDPOINT_COLUMNS]
    return table


MOMENT_TABLE = {"time": "Time", "kind": "Kind", "namespace": "Namespace", "workload": "Application",
                "size": "Size", "value": "Value", "baseline": "Baseline", "description": "What happened"}


def moments_table(moments: pd.DataFrame) -> pd.DataFrame:
    shown = moments.sort_values("time", ascending=False)
    return shown[list(MOMENT_TABLE)].rename(columns=MOMENT_TABLE).reset_index(drop=True)


#: The breakdown table shows at most this many rows (the busiest): an unbounded `path` label (ids in the
#: URL) can give tens of thousands, which no one reads and which would make the page crawl.
MAX_BREAKDOWN_ROWS = 50


def cap_breakdown(frame: pd.DataFrame, limit: int = MAX_BREAKDOWN_ROWS) -> tuple[pd.DataFrame, str]:
    """The `limit` busiest rows of red_breakdown's frame, and, when rows were left out, the sentence
    saying how many and why (plain text, escaped by the caller); "" when nothing was left out."""
    ordered = frame.sort_values(["rps", "namespace", "workload", "path", "method", "code"],
                                ascending=[False, True, True, True, True, True], kind="stable")
    if len(ordered) <= limit:
        return ordered, ""
    rows, paths = len(ordered), ordered["path"].nunique()
    sentence = f"Showing the {limit} busiest of {rows:,} rows ({rows - limit:,} quieter ones left out). "
    if paths > limit:
        sentence += (f"{paths:,} distinct paths usually means the path label holds raw URLs (ids or query "
                     "strings) rather than route templates: label requests with the route template (such "
                     "as /users/{id}) instead, which also keeps Prometheus fast. ")
    else:
        sentence += "The rest are quieter combinations of application, path, method and status code. "
    sentence += "The busiest and slowest lists and the status chart above count every row."
    return ordered.head(limit), sentence


#: At most this many of Prometheus' warnings are listed for one panel (the rest are counted).
MAX_WARNINGS_SHOWN = 5
#: A longer warning is cut (its server text is untrusted and may be anything).
MAX_WARNING_CHARS = 300


def prometheus_warnings_sentence(notes: Sequence[str]) -> str:
    """One plain-text sentence listing Prometheus' warnings about a panel's numbers; "" when none."""
    notes = list(dict.fromkeys(notes))
    if not notes:
        return ""
    shown = [note if len(note) <= MAX_WARNING_CHARS else note[:MAX_WARNING_CHARS] + "…"
             for note in notes[:MAX_WARNINGS_SHOWN]]
    more = len(notes) - len(shown)
    tail = f" (and {more} more)" if more else ""
    return ("Prometheus warned about these numbers (they may be incomplete, e.g. a partial response): "
            + " | ".join(shown) + tail + ".")


def show_prometheus_warnings(*frames: pd.DataFrame | None) -> None:
    """Prometheus' warnings about the frames a panel draws, as one escaped warning box."""
    notes = [note for frame in frames if frame is not None
             for note in requests_data.prometheus_warnings(frame)]
    sentence = prometheus_warnings_sentence(notes)
    if sentence:
        st.warning(escape_markdown(sentence), icon=":material/warning:")


#: What every table's download says it holds.
DOWNLOAD_HELP = "Exactly the rows and columns shown above."


def no_metrics_sentence(where: str, looked_for: Sequence[Convention]) -> str:
    """Why a selection shows no numbers, and how to get them (plain text, escaped by the caller)."""
    names = ", ".join(dict.fromkeys(c.name for c in looked_for)) or "none"
    return (f"Nothing to show for {where}: {conventions_module.how_to_expose_metrics()} "
            f"(Conventions looked for: {names}.)")


def show_no_metrics(where: str, looked_for: Sequence[Convention]) -> None:
    st.info(escape_markdown(no_metrics_sentence(where, looked_for)), icon=":material/help:")


# --- charts ------------------------------------------------------------------------------------------
def _series_name(frame: pd.DataFrame) -> pd.Series:
    return frame["namespace"].astype(str) + "/" + frame["workload"].astype(str)


def _moment_rules(moments: pd.DataFrame, kinds: Sequence[str]) -> alt.Chart | None:
    """Vertical rules at the notable moments of these kinds, coloured by kind, with the sentence as
    tooltip; None when there are none (a layer over empty data would still add a legend)."""
    chosen = moments[moments["kind"].isin(kinds)] if not moments.empty else moments
    if chosen.empty:
        return None
    chosen = chosen.assign(application=_series_name(chosen))
    return alt.Chart(chosen).mark_rule(strokeWidth=2, strokeDash=[4, 3], opacity=0.9).encode(
        x="time:T",
        color=alt.Color("kind:N", title="Notable moment", scale=alt.Scale(
            domain=list(MOMENT_COLOURS), range=list(MOMENT_COLOURS.values()))),
        tooltip=[alt.Tooltip("time:T", title="Time", format="%Y-%m-%d %H:%M"), "kind:N",
                 alt.Tooltip("application:N", title="Application"), alt.Tooltip("size:Q", format=".1f"),
                 alt.Tooltip("description:N", title="What happened")],
    )


def _with_moments(lines: alt.Chart, moments: pd.DataFrame, kinds: Sequence[str], title: str
                  ) -> alt.Chart | alt.LayerChart:
    rules = _moment_rules(moments, kinds)
    if rules is None:
        return lines.properties(title=title, height=CHART_HEIGHT)
    # The lines' colours (applications) and the rules' (moment kinds) are separate legends.
    return alt.layer(lines, rules).resolve_scale(color="independent").properties(
        title=title, height=CHART_HEIGHT)


def _metric_rows(history: pd.DataFrame, metrics: dict[str, str]) -> pd.DataFrame:
    """The rows of the long history frame for these metrics, with `series` (application) and `line`
    (the metric's display name)."""
    rows = history[history["metric"].isin(list(metrics))]
    return rows.assign(series=_series_name(rows), line=rows["metric"].map(metrics))


def rate_chart(history: pd.DataFrame, moments: pd.DataFrame) -> alt.Chart | alt.LayerChart:
    rows = _metric_rows(history, {"rps": "requests/s"})
    lines = alt.Chart(rows).mark_line().encode(
        x=alt.X("time:T", title=None),
        y=alt.Y("value:Q", title="requests/s"),
        color=alt.Color("series:N", title="Application"),
        tooltip=[alt.Tooltip("series:N", title="Application"),
                 alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("value:Q", format=".2f",
                                                                            title="requests/s")],
    )
    return _with_moments(lines, moments, ("traffic spike", "traffic drop"), "Request rate")


def errors_chart(history: pd.DataFrame, moments: pd.DataFrame) -> alt.Chart | alt.LayerChart:
    rows = _metric_rows(history, {"error_ratio_5xx": "5xx", "error_ratio_4xx": "4xx"})
    lines = alt.Chart(rows).mark_line().encode(
        x=alt.X("time:T", title=None),
        y=alt.Y("value:Q", title="share of requests", axis=alt.Axis(format="%")),
        color=alt.Color("series:N", title="Application"),
        strokeDash=alt.StrokeDash("line:N", title="Errors", scale=alt.Scale(
            domain=["5xx", "4xx"], range=[[1, 0], [5, 3]])),
        tooltip=[alt.Tooltip("series:N", title="Application"), alt.Tooltip("line:N", title="Errors"),
                 alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("value:Q", format=".2%",
                                                                            title="share")],
    )
    return _with_moments(lines, moments, ("error burst",), "Error ratio (5xx solid, 4xx dashed)")


def latency_chart(history: pd.DataFrame, moments: pd.DataFrame) -> alt.Chart | alt.LayerChart:
    rows = _metric_rows(history, {"p50_seconds": "p50", "p95_seconds": "p95", "p99_seconds": "p99"})
    rows = rows.assign(ms=rows["value"] * 1000)
    lines = alt.Chart(rows).mark_line().encode(
        x=alt.X("time:T", title=None),
        y=alt.Y("ms:Q", title="milliseconds"),
        color=alt.Color("series:N", title="Application"),
        strokeDash=alt.StrokeDash("line:N", title="Percentile", scale=alt.Scale(
            domain=["p50", "p95", "p99"], range=[[2, 2], [6, 3], [1, 0]])),
        tooltip=[alt.Tooltip("series:N", title="Application"), alt.Tooltip("line:N", title="Percentile"),
                 alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("ms:Q", format=".1f",
                                                                            title="ms")],
    )
    return _with_moments(lines, moments, tuple(MOMENT_COLOURS), "Latency (p50 dotted, p95 dashed, p99 solid)")


WEEKDAY_ORDER = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def heatmap_chart(heatmap: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Hour of day (UTC) by day of week, coloured by mean requests per second; peak hours outlined."""
    base = alt.Chart(heatmap).encode(
        x=alt.X("hour:O", title="Hour of day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday_name:N", title=None, sort=WEEKDAY_ORDER),
    )
    # viridis keeps its contrast on both Streamlit themes and for colour-blind readers
    cells = base.mark_rect().encode(
        color=alt.Color("requests:Q", title="requests/s", scale=alt.Scale(scheme="viridis")),
        tooltip=[alt.Tooltip("weekday_name:N", title="Day"), alt.Tooltip("hour:O", title="Hour (UTC)"),
                 alt.Tooltip("requests:Q", format=".2f", title="requests/s"),
                 alt.Tooltip("is_peak:N", title="Peak")],
    )
    peaks = base.transform_filter(alt.datum.is_peak).mark_rect(
        fill=None, stroke="#e0403a", strokeWidth=2)
    return alt.layer(cells, peaks).properties(title="Requests per second by hour and weekday",
                                              height=260)


def peak_hours_sentence(heatmap: pd.DataFrame, top: int = 3) -> str:
    peaks = patterns.peak_hours(heatmap, top=top)
    if peaks.empty:
        return "There is not enough traffic history to name peak hours."
    parts = [f"{row.weekday_name} {int(row.hour):02d}:00 ({row.requests:.2f} requests/s)"
             for row in peaks.itertuples()]
    return "Busiest hours (UTC): " + ", ".join(parts) + "."


def comparison_chart(comparison: pd.DataFrame, previous_label: str) -> alt.Chart:
    long = comparison.melt(id_vars=["time"], value_vars=["current", "previous"], var_name="period",
                           value_name="rps")
    long["period"] = long["period"].map({"current": "this period", "previous": previous_label})
    return alt.Chart(long).mark_line().encode(
        x=alt.X("time:T", title=None),
        y=alt.Y("rps:Q", title="requests/s"),
        strokeDash=alt.StrokeDash("period:N", title="Period", scale=alt.Scale(
            domain=["this period", previous_label], range=[[1, 0], [5, 3]])),
        color=alt.Color("period:N", title="Period", scale=alt.Scale(
            domain=["this period", previous_label], range=["#3b82f6", "#8a8f98"])),
        tooltip=["period:N", alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("rps:Q", format=".2f", title="requests/s")],
    ).properties(title=f"Request rate: this period against {previous_label}", height=CHART_HEIGHT)


def comparison_sentence(comparison: pd.DataFrame, previous_label: str) -> str:
    current = comparison["current"].dropna()
    previous = comparison["previous"].dropna()
    if current.empty:
        return "No requests in this period."
    if previous.empty:
        return f"Prometheus has no requests for {previous_label} to compare with."
    now, before = float(current.mean()), float(previous.mean())
    if before == 0:
        return f"{now:.2f} requests/s on average; there was no traffic {previous_label}."
    change = (now - before) / before
    if abs(change) < 0.005:
        return f"{now:.2f} requests/s on average, about the same as {previous_label}."
    direction = "more" if change >= 0 else "fewer"
    return (f"{now:.2f} requests/s on average, {abs(change):.0%} {direction} than {previous_label} "
            f"({before:.2f} requests/s).")


def status_chart(breakdown: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Requests per second by status code, coloured by class (2xx, 3xx, 4xx, 5xx)."""
    by_code = breakdown.groupby("code", as_index=False)["rps"].sum()
    by_code["code"] = by_code["code"].astype(str).replace("", "unknown")
    by_code["class"] = by_code["code"].str[0].map(
        {"1": "1xx", "2": "2xx", "3": "3xx", "4": "4xx", "5": "5xx"}).fillna("other")
    base = alt.Chart(by_code).encode(
        x=alt.X("code:N", title="Status code", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("rps:Q", title="requests/s"),
        tooltip=["code:N", alt.Tooltip("rps:Q", format=".3f", title="requests/s")],
    )
    bars = base.mark_bar().encode(color=alt.Color("class:N", title="Class", scale=alt.Scale(
        domain=["1xx", "2xx", "3xx", "4xx", "5xx", "other"],
        range=["#8a8f98", "#21a366", "#3b82f6", "#e08a00", "#e0403a", "#8a8f98"])))
    # error codes are tiny bars beside the 2xx: the number above each bar keeps them readable
    labels = base.mark_text(dy=-8, color="#8a8f98").encode(text=alt.Text("rps:Q", format=".3~f"))
    return alt.layer(bars, labels).properties(title="Requests per second by status code",
                                              height=CHART_HEIGHT)


# --- panels ------------------------------------------------------------------------------------------
#: Exceptions that can only be a bug in KAMS' own computing (not a source failing): the panel says so in
#: one sentence and the other panels keep working.
PANEL_BUGS: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, IndexError)


def _fetch(what: str, progress: str, fetch: Callable[[], T]) -> T | None:
    """A panel's data under a spinner; a failure becomes one sentence in the panel and None."""
    try:
        with st.spinner(progress):
            return fetch()
    except SourceError as error:
        show_source_error(error, f"Cannot show {what}")
    except PANEL_BUGS as error:
        st.warning(escape_markdown(f"Cannot show {what}: a bug in KAMS ({type(error).__name__}: {error}). "
                                   "The other panels are not affected."))
    return None


def without_metrics(summary: pd.DataFrame | SourceError, selection: Selection) -> bool:
    """True when the applications table was read and nothing in the selection has request metrics
    (then the other panels say so at once instead of sending range queries for nothing)."""
    if isinstance(summary, SourceError):
        return False  # unknown: let the panel ask, and say what it meets
    rows = summary
    if selection.namespace:
        rows = rows[rows["namespace"] == selection.namespace]
    if selection.workload:
        rows = rows[rows["workload"] == selection.workload]
    return rows.empty


def render_uncovered(settings: Settings, filters: Filters, summary: pd.DataFrame,
                      pod_summary: pd.DataFrame | None, *, expanded: bool) -> None:
    """The running workloads of the sidebar's namespace that no request metric counts, and how to fix
    that (kube-system and friends are left out when every namespace is shown)."""
    try:
        with st.spinner("Listing workloads…"):
            pods = data.pods_view(settings, filters.context, filters.namespace).frame
    except SourceError as error:
        show_source_error(error, "Cannot list the workloads without request metrics", level="info")
        return
    hidden = frozenset() if filters.namespace else SYSTEM_NAMESPACES
    missing = workloads_without_metrics(pods, summary, pod_summary, hide_namespaces=hidden)
    if missing.empty:
        return
    with st.expander(f"Workloads without request metrics ({len(missing)})", expanded=expanded,
                     icon=":material/help:"):
        st.caption(escape_markdown(conventions_module.how_to_expose_metrics()))
        table = missing.rename(columns={"namespace": "Namespace", "workload": "Workload", "pods": "Pods"})
        st.dataframe(table, hide_index=True, width="stretch", key="kams_requests_uncovered")
        csv_download("Download workloads without metrics (CSV)", table, "kams-requests-uncovered.csv",
                     "kams_requests_uncovered_csv", help=DOWNLOAD_HELP)


def render_applications(settings: Settings, chosen: Sequence[Convention], selection: Selection,
                        filters: Filters, summary: pd.DataFrame | SourceError, window: str) -> None:
    """The applications table (and the pods of the chosen application)."""
    if isinstance(summary, SourceError):
        show_source_error(summary, "Cannot show the applications table")
        return
    if summary.empty:
        show_no_metrics(selection.namespace or "any namespace", chosen)
        render_uncovered(settings, filters, summary, None, expanded=True)
        return
    show_prometheus_warnings(summary)
    table = red_table(most_direct(summary, chosen))
    st.caption(escape_markdown(f"{len(table)} applications with request metrics; rates over the last "
                               f"{window}."))
    st.dataframe(table, hide_index=True, width="stretch", column_config=RED_COLUMN_CONFIG,
                 key="kams_requests_apps")
    csv_download("Download applications (CSV)", table, f"kams-requests-{selection.file_stem}.csv",
                 "kams_requests_apps_csv", help=DOWNLOAD_HELP)
    # One pod-level read serves the chosen application's pods and the workloads-without-metrics list.
    pod_summary = _fetch("the per-pod numbers", "Reading per-pod request metrics…",
                         lambda: requests_data.summary(settings, chosen, level="pod",
                                                       namespace=filters.namespace, window=window))
    if selection.workload:
        _render_pods(settings, chosen, selection, filters, pod_summary, window)
    else:
        st.caption("Choose an application above to see its pods, and its own charts in the other tabs.")
        if pod_summary is not None:
            _render_unnamed_pods(pod_summary, chosen, selection)
    if pod_summary is not None:
        render_uncovered(settings, filters, summary, pod_summary, expanded=False)


def _render_unnamed_pods(pod_summary: pd.DataFrame, chosen: Sequence[Convention],
                         selection: Selection) -> None:
    """The pods whose request series nothing names an application for: counted in the table above under
    an empty application, and listed here with their own numbers."""
    unnamed = pod_summary[(pod_summary["workload"] == "") & (pod_summary["pod"] != "")]
    if selection.namespace:
        unnamed = unnamed[unnamed["namespace"] == selection.namespace]
    if unnamed.empty:
        return
    with st.expander(f"Pods without an application name ({len(unnamed)})", icon=":material/help:"):
        st.caption("Their request series carry no app or app.kubernetes.io/name label, kube-state-metrics "
                   "and the cluster's pod list name no owner for them, and their names end in no "
                   "controller's suffix. Label their pods with app.kubernetes.io/name to group them.")
        table = red_table(most_direct(unnamed, chosen), level="pod")
        st.dataframe(table, hide_index=True, width="stretch", column_config=RED_COLUMN_CONFIG,
                     key="kams_requests_unnamed_pods")
        csv_download("Download pods without an application name (CSV)", table,
                     f"kams-requests-unnamed-pods-{selection.file_stem}.csv",
                     "kams_requests_unnamed_pods_csv", help=DOWNLOAD_HELP)


def _render_pods(settings: Settings, chosen: Sequence[Convention], selection: Selection, filters: Filters,
                 pod_summary: pd.DataFrame | None, window: str) -> None:
    st.subheader(f"Pods of {escape_markdown(selection.label)}", divider="gray")
    pods = pod_summary
    if filters.namespace and filters.namespace != selection.namespace:  # linked from another namespace
        pods = _fetch("the per-pod table", "Reading per-pod request metrics…", lambda: requests_data.summary(
            settings, chosen, level="pod", namespace=selection.namespace, window=window))
    if pods is None:
        return
    pods = most_direct(pods[(pods["namespace"] == selection.namespace)
                            & (pods["workload"] == selection.workload)], chosen)
    pods = pods[pods["pod"] != ""]  # a convention without a pod label (ingress) has no pod rows
    if pods.empty:
        st.info(escape_markdown(f"No pod of {selection.label} has request metrics with a pod label "
                                "(ingress controllers count requests per service, not per pod)."))
        return
    pod_table = red_table(pods, level="pod")
    st.dataframe(pod_table, hide_index=True, width="stretch", column_config=RED_COLUMN_CONFIG,
                 key="kams_requests_pods")
    csv_download("Download pods (CSV)", pod_table, f"kams-requests-pods-{selection.file_stem}.csv",
                 "kams_requests_pods_csv", help=DOWNLOAD_HELP)


def render_charts(settings: Settings, chosen: Sequence[Convention], selection: Selection, filters: Filters,
                  summary: pd.DataFrame | SourceError) -> None:
    """Rate, error ratio and latency over the sidebar's time range, notable moments marked and listed."""
    period = filters.time_range_label.lower()
    if without_metrics(summary, selection):
        show_no_metrics(selection.label, chosen)
        return
    span = requests_data.chart_window(filters.time_range)
    found = _fetch("the charts", f"Reading {period} of request metrics…",
                   lambda: requests_data.history_and_moments(settings, chosen, span,
                                                             namespace=selection.namespace,
                                                             workload=selection.workload))
    if found is None:
        return
    history, moments = found
    show_prometheus_warnings(history)
    if history.empty:
        show_no_metrics(f"{selection.label} ({period})", chosen)
        return
    if moments is None:
        st.warning("Notable moments could not be computed (a bug in KAMS); the charts are drawn without "
                   "them.")
        moments = pd.DataFrame(columns=list(MOMENT_TABLE))
    st.altair_chart(rate_chart(history, moments), width="stretch")
    left, right = st.columns(2)
    with left:
        st.altair_chart(errors_chart(history, moments), width="stretch")
    with right:
        st.altair_chart(latency_chart(history, moments), width="stretch")
    st.subheader("Notable moments", divider="gray")
    if moments.empty:
        st.caption(escape_markdown(f"No traffic spike, drop or error burst in {selection.label} during the "
                                   f"{period}."))
        return
    st.caption("Moments where the request rate or the error ratio left its usual level (the median and "
               "spread of the hour before); marked on the charts above as dashed rules.")
    table = moments_table(moments)
    st.dataframe(table, hide_index=True, width="stretch", key="kams_requests_moments",
                 column_config={**RED_COLUMN_CONFIG,
                                "Size": st.column_config.NumberColumn(format="%.1f", help=(
                                    "How far from the usual level: robust deviations for traffic, times "
                                    "the usual ratio for errors.")),
                                "What happened": st.column_config.TextColumn(width="large")})
    csv_download("Download notable moments (CSV)", table, f"kams-moments-{selection.file_stem}.csv",
                 "kams_requests_moments_csv", help=DOWNLOAD_HELP)


#: The two top lists beside each other: title, the column they rank by, the name of their widgets and file.
TOP_ENDPOINTS: tuple[tuple[str, Literal["rps", "p95_seconds"], str], ...] = (
    ("**Busiest endpoints**", "rps", "busiest"), ("**Slowest endpoints** (p95)", "p95_seconds", "slowest"))


def render_endpoints(settings: Settings, chosen: Sequence[Convention], selection: Selection, window: str,
                     summary: pd.DataFrame | SourceError) -> None:
    """Breakdown by path, method and status code; the busiest and the slowest endpoints."""
    if without_metrics(summary, selection):
        show_no_metrics(selection.label, chosen)
        return
    breakdown = _fetch("the endpoint breakdown", "Reading requests per path, method and status…",
                       lambda: requests_data.breakdown(settings, chosen, namespace=selection.namespace,
                                                       workload=selection.workload, window=window))
    if breakdown is None:
        return
    show_prometheus_warnings(breakdown)
    breakdown = most_direct(breakdown, chosen)
    if breakdown.empty:
        show_no_metrics(selection.label, chosen)
        return
    for column, (title, ranked_by, name) in zip(st.columns(2), TOP_ENDPOINTS, strict=True):
        with column:
            st.markdown(title)
            top = endpoints_table(patterns.top_endpoints(breakdown, by=ranked_by), compact=True)
            st.dataframe(top, hide_index=True, width="stretch", column_config=RED_COLUMN_CONFIG,
                         key=f"kams_requests_{name}")
            csv_download(f"Download {name} (CSV)", top, f"kams-{name}-{selection.file_stem}.csv",
                         f"kams_requests_{name}_csv", help=DOWNLOAD_HELP)
    st.altair_chart(status_chart(breakdown), width="stretch")
    st.markdown("**Every path, method and status code**")
    capped, left_out = cap_breakdown(breakdown)
    if left_out:
        st.caption(escape_markdown(left_out))
    table = endpoints_table(capped)
    st.dataframe(table, hide_index=True, width="stretch", column_config=RED_COLUMN_CONFIG,
                 key="kams_requests_breakdown")
    csv_download("Download breakdown (CSV)", table, f"kams-breakdown-{selection.file_stem}.csv",
                 "kams_requests_breakdown_csv", help=DOWNLOAD_HELP)


#: Periods to compare the current one with: label -> how far back.
COMPARE_WITH: dict[str, timedelta] = {"the same period last week": timedelta(days=7),
                                      "the same period yesterday": timedelta(days=1)}


def render_patterns(settings: Settings, chosen: Sequence[Convention], selection: Selection, filters: Filters,
                    summary: pd.DataFrame | SourceError) -> None:
    """Hour-of-day by weekday heatmap with its peak hours, and this period against an earlier one."""
    if without_metrics(summary, selection):
        show_no_metrics(selection.label, chosen)
        return
    st.markdown("**When the traffic comes**")
    heatmap = _fetch("the weekly heatmap", "Reading a week of request volume…",
                     lambda: requests_data.weekly_heatmap(settings, chosen, namespace=selection.namespace,
                                                          workload=selection.workload))
    if heatmap is not None:
        show_prometheus_warnings(heatmap)
    if heatmap is not None and heatmap.empty:
        show_no_metrics(f"{selection.label} (last 7 days)", chosen)
    elif heatmap is not None:
        st.markdown(escape_markdown(peak_hours_sentence(heatmap)))
        st.altair_chart(heatmap_chart(heatmap), width="stretch")
        csv_download("Download heatmap (CSV)", heatmap, f"kams-heatmap-{selection.file_stem}.csv",
                     "kams_requests_heatmap_csv", help=DOWNLOAD_HELP)

    st.markdown(f"**{escape_markdown(filters.time_range_label)} against an earlier period**")
    compare_label = st.selectbox("Compare with", list(COMPARE_WITH), key="kams_requests_compare")
    span = requests_data.TimeWindow.last(filters.time_range)
    comparison = _fetch("the comparison", "Reading both periods…",
                        lambda: requests_data.period_comparison(settings, chosen, span,
                                                                COMPARE_WITH[compare_label],
                                                                namespace=selection.namespace,
                                                                workload=selection.workload))
    if comparison is None:
        return
    show_prometheus_warnings(comparison)
    if comparison.empty or comparison["current"].dropna().empty:
        show_no_metrics(f"{selection.label} ({filters.time_range_label.lower()})", chosen)
        return
    st.markdown(escape_markdown(comparison_sentence(comparison, compare_label)))
    st.altair_chart(comparison_chart(comparison, compare_label), width="stretch")
    csv_download("Download comparison (CSV)", comparison, f"kams-comparison-{selection.file_stem}.csv",
                 "kams_requests_comparison_csv", help=DOWNLOAD_HELP)


# --- the page ------------------------------------------------------------------------------------------
TABS = ["Applications", "Charts", "Endpoints", "Traffic patterns"]
#: The query parameter (and widget key) naming the chosen application, "namespace/workload".
APP_PARAM = "app"
WINDOW_KEY = "kams_requests_window"
#: Rate windows offered for the tables ("requests per second over the last ...").
WINDOWS = ["1m", "5m", "15m", "1h"]
DEFAULT_WINDOW = "5m"


def _application_picker(summary: pd.DataFrame | SourceError, filters: Filters) -> Selection:
    """"All applications" or one, from the applications with metrics (a linked one is kept even when
    the table could not be read, unless the sidebar's namespace is another)."""
    options = [ALL_APPLICATIONS]
    if isinstance(summary, pd.DataFrame) and not summary.empty:
        named = summary[summary["workload"] != ""]  # pods nothing names are in the tables, not pickable
        pairs = named[["namespace", "workload"]].drop_duplicates().sort_values(["namespace", "workload"])
        options += [selection_key(ns, wl) for ns, wl in pairs.itertuples(index=False)]
    linked = str(st.query_params.get(APP_PARAM) or "")
    in_namespace = not filters.namespace or linked.partition("/")[0] == filters.namespace
    if linked and linked not in options and in_namespace:
        options.append(linked)  # linked, but the table could not be read (or it has no traffic now)
    chosen = st.selectbox("Application", options, key=APP_PARAM, bind="query-params",
                          format_func=lambda key: key or "All applications",
                          help="Charts, endpoints and patterns for one application; the choice is kept "
                               "in the page's address, so it can be shared.")
    return parse_selection(str(chosen or ""), filters.namespace)


def render_requests_page(settings: Settings, filters: Filters) -> None:
    """The found conventions, the rate window and the application picker, then a tab per view."""
    st.title("Requests")
    st.caption("Rate, errors and duration per application, from the metrics the applications, the "
               "ingress or a service mesh already expose.")
    try:
        with st.spinner("Looking for request metrics in Prometheus…"):
            # A person limited to some namespaces asks about theirs only; others, about the cluster, so
            # an application linked from another namespace keeps its picker.
            found = requests_data.detected_conventions(
                settings, filters.namespace if current_scope() is not None else None)
    except SourceError as error:
        # An unset PROMETHEUS_URL is a choice, not a failure: a warning, as on the Overview and Alerts.
        show_source_error(error, "Request metrics are unavailable",
                          level="warning" if isinstance(error, NotConfigured) else "error")
        return
    if not found:
        show_no_metrics(filters.namespace or "this cluster", requests_data.candidate_conventions(settings))
        if filters.namespace:  # which of its workloads lack metrics, and how to add them
            render_uncovered(settings, filters, pd.DataFrame(columns=["namespace", "workload"]), None,
                             expanded=True)
        return
    st.caption(escape_markdown("Metrics found: " + ", ".join(c.name for c in found) + "."))

    picker, window_column = st.columns([4, 1])
    window = window_column.selectbox("Rate window", WINDOWS, index=WINDOWS.index(DEFAULT_WINDOW),
                                     key=WINDOW_KEY, help="Tables show rates over this last window.")
    summary: pd.DataFrame | SourceError
    try:
        with st.spinner("Reading request metrics…"):
            summary = requests_data.summary(settings, found, namespace=filters.namespace, window=window)
    except SourceError as error:
        summary = error
    with picker:
        selection = _application_picker(summary, filters)

    tabs = st.tabs(TABS, key="tab", bind="query-params")
    with tabs[0]:
        if tabs[0].open is not False:
            render_applications(settings, found, selection, filters, summary, window)
    with tabs[1]:
        if tabs[1].open:
            render_charts(settings, found, selection, filters, summary)
    with tabs[2]:
        if tabs[2].open:
            render_endpoints(settings, found, selection, window, summary)
    with tabs[3]:
        if tabs[3].open:
            render_patterns(settings, found, selection, filters, summary)
