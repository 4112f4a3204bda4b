"""The Logs page's three tabs: Logs (several pods and containers merged in time, search, levels, live
follow, downloads), Events (filters, timeline, CSV) and Security & reliability events (counts per
category).

Log lines, pod names and event messages are untrusted: they reach the screen only through st.dataframe
(grid cells are text), st.code (text in a code block) and Altair data, and our own sentences around them
go through ui.render.escape_markdown. Nothing from the cluster is ever Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.logs import containers as logs
from k8sdata.logs.containers import LogLine, LogRequest, LogTarget
from k8sdata.logs.events import (
    SECURITY_CATEGORIES,
    category_counts,
    events_timeline,
    filter_events,
    object_kinds,
)
from ui import data, logs_data
from ui.filters import Filters, workload_labels
from ui.pods_view import read_pods
from ui.render import csv_download, escape_markdown, panel_data, show_source_error

#: The query parameter naming a pod to open ("namespace/name"), as the Pods page links it.
POD_PARAM = "pod"
#: Seconds between follow steps while following (a fragment: only the lines part reruns).
FOLLOW_SECONDS = 3
DEFAULT_TAIL_LINES = 500
MAX_TAIL_LINES = 10_000
#: Time windows offered for "since": label -> seconds.
WINDOWS: dict[str, int] = {"5 minutes": 300, "15 minutes": 900, "1 hour": 3600, "6 hours": 6 * 3600,
                           "24 hours": 24 * 3600}
#: The text view shows at most this many lines (a code block of 20,000 lines is slow to draw).
MAX_TEXT_LINES = 2_000
#: The pod picker offers at most this many pods (narrow with the sidebar's namespace).
MAX_POD_OPTIONS = 2_000
LEVELS: tuple[logs.Level, ...] = ("ERROR", "WARN", "INFO", "DEBUG", "")
LEVEL_COLOURS = {"ERROR": "#e0403a", "WARN": "#e08a00", "INFO": "#3b82c4", "DEBUG": "#8a8f98",
                 logs.NO_LEVEL: "#b8bcc4"}
EVENT_TYPE_COLOURS = {"Warning": "#e08a00", "Normal": "#3b82c4", "Unknown": "#8a8f98"}
RETENTION_NOTE = ("Kubernetes keeps events for about an hour (the API server's --event-ttl), so this is "
                  "the last hour or so. The KAMS archive (snapshots to S3) keeps them longer.")
EVENT_COLUMNS_SHOWN = {"last_seen": "Last seen", "age": "Age", "namespace": "Namespace", "type": "Type",
                       "reason": "Reason", "object": "Object", "message": "Message", "count": "Count"}
EVENT_COLUMN_CONFIG = {
    "Last seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Message": st.column_config.TextColumn(width="large"),
    "Count": st.column_config.NumberColumn(help="How many times the event happened (kubectl's COUNT)."),
}

_KEY = "kams_logs_"  # widget keys of this page
_LINKED_SEEN = "_kams_logs_linked_seen"


# ============================================================================================ Logs
def _level_label(level: str) -> str:
    return level or logs.NO_LEVEL


def _container_label(option: tuple[str, bool]) -> str:
    name, init = option
    return f"{name} (init)" if init else name


def _workload_options(frame: pd.DataFrame, all_namespaces: bool) -> pd.Series:
    """One workload key per pod: "Deployment web", prefixed by the namespace when several are listed."""
    labels = workload_labels(frame)
    return (frame["namespace"] + "/" + labels) if all_namespaces else labels


def _pick_pods(view: Any, namespace: str | None, linked: str) -> list[dict[str, Any]]:
    """Workload and pod pickers; returns the chosen pods (API objects)."""
    frame = view.frame
    workloads = _workload_options(frame, namespace is None)
    keys = (frame["namespace"] + "/" + frame["name"]).tolist()
    options = keys[:MAX_POD_OPTIONS]
    if linked and linked not in options and linked in keys:
        options.insert(0, linked)
    # A link (?pod=) selects its pod once; after that the viewer's own choice wins.
    if linked and st.session_state.get(_LINKED_SEEN) != linked and linked in options:
        st.session_state[_KEY + "pods"] = [linked]
        st.session_state[_KEY + "workloads"] = []
        st.session_state[_LINKED_SEEN] = linked
    left, right = st.columns(2)
    chosen_workloads = left.multiselect(
        "Workloads", sorted(w for w in workloads.unique() if w.strip()), key=_KEY + "workloads",
        placeholder="Choose workloads", help="Every pod of the workload, merged in time order.")
    chosen_pods = right.multiselect(
        "Pods", options, key=_KEY + "pods", placeholder="Choose pods",
        format_func=(lambda key: key) if namespace is None else (lambda key: key.partition("/")[2]),
        help="Several pods are merged in time order, with pod and container columns.")
    wanted = set(chosen_pods) | set(frame.loc[workloads.isin(chosen_workloads), "namespace"]
                                    + "/" + frame.loc[workloads.isin(chosen_workloads), "name"])
    return [pod for pod in view.raw if logs_data.pod_key(pod) in wanted]


def _pick_containers(pods: Sequence[dict[str, Any]]) -> list[LogTarget]:
    every = logs.log_targets(pods, include_init=True)
    options = sorted({(t.container, t.init) for t in every}, key=lambda o: (o[1], o[0]))
    key, seen_key = _KEY + "containers", _KEY + "containers_offered"
    offered_before = st.session_state.get(seen_key)
    if offered_before != options:
        # Other pods, other containers: keep what is still offered and was chosen, and choose the
        # regular containers that are new (a pod just added shows its logs; init ones are opt-in).
        chosen_before = st.session_state.get(key) or []
        st.session_state[key] = [option for option in options if option in chosen_before or (
            not option[1] and option not in (offered_before or []))]
        st.session_state[seen_key] = options
    chosen = st.multiselect("Containers", options, key=key, format_func=_container_label,
                            placeholder="Choose containers",
                            help="Init containers are listed too; by default every regular container.")
    wanted = set(chosen)
    return [target for target in every if (target.container, target.init) in wanted]


def _pick_request() -> tuple[LogRequest, bool]:
    """The read options; returns the request and whether to show timestamps."""
    columns = st.columns([2, 2, 2, 2])
    mode = columns[0].segmented_control("Read", ["Last lines", "Time window"], default="Last lines",
                                        key=_KEY + "mode", required=True)
    if mode == "Time window":
        window = columns[1].selectbox("Since", list(WINDOWS), index=1, key=_KEY + "since",
                                      help="Lines written in this window (kubectl logs --since).")
        request = LogRequest(tail_lines=None, since_seconds=WINDOWS[window])
    else:
        tail = columns[1].number_input("Lines per container", min_value=1, max_value=MAX_TAIL_LINES,
                                       value=DEFAULT_TAIL_LINES, step=100, key=_KEY + "tail",
                                       help="The last N lines of each container (kubectl logs --tail).")
        request = LogRequest(tail_lines=int(tail))
    previous = columns[2].checkbox("Previous container", key=_KEY + "previous",
                                   help="The run before the last restart: why did it crash? "
                                        "(kubectl logs --previous)")
    timestamps = columns[3].checkbox("Timestamps", value=True, key=_KEY + "timestamps",
                                     help="Show the time the kubelet recorded for each line.")
    if previous:
        request = replace(request, previous=True)
    return request, timestamps


def _search() -> tuple[logs.Search | None, list[logs.Level], bool]:
    """Search and level widgets; returns the compiled search (None = no search), the levels (empty =
    all) and whether the newest line comes first."""
    columns = st.columns([4, 1.2, 1.6, 3, 1.6], vertical_alignment="bottom")
    pattern = columns[0].text_input("Search", key=_KEY + "search", placeholder="text in the lines…",
                                    help="Plain text, case-insensitive. Turn on Regex for a regular "
                                         "expression (RE2: linear time, no pattern can hang the page).")
    regex = columns[1].toggle("Regex", key=_KEY + "regex")
    case_sensitive = columns[2].toggle("Match case", key=_KEY + "case")
    levels = columns[3].multiselect("Levels", list(LEVELS), key=_KEY + "levels", format_func=_level_label,
                                    placeholder="All levels",
                                    help="Detected from common formats: plain, logfmt, JSON, klog.")
    newest_first = columns[4].toggle("Newest first", value=True, key=_KEY + "newest")
    search = None
    if pattern:
        try:
            search = logs.compile_search(pattern, regex=regex, case_sensitive=case_sensitive)
        except ValueError as error:
            st.warning(escape_markdown(f"The search cannot be used: {error}"))
    return search, levels, newest_first


def _target_label(target: LogTarget) -> str:
    kind = "init container" if target.init else "container"
    return f"Logs of {target.namespace}/{target.pod} ({kind} {target.container}) are unavailable"


def _show_errors(errors: dict[LogTarget, SourceError]) -> None:
    """One sentence per container that could not be read; the others' lines are still shown."""
    items = sorted(errors.items(), key=lambda item: (item[0].namespace, item[0].pod, item[0].container))
    if len(items) <= 3:
        for target, error in items:
            show_source_error(error, _target_label(target), level="warning")
        return
    with st.expander(f"{len(items)} containers could not be read", icon=":material/warning:"):
        for target, error in items:
            show_source_error(error, _target_label(target), level="warning")


def level_chart(counts: pd.DataFrame, bucket: str = "1min") -> alt.Chart:
    """Lines per level over time (stacked bars), from k8sdata.logs.containers.level_counts."""
    domain = [level for level in LEVEL_COLOURS if level in set(counts["level"])]
    axis_format = "%H:%M:%S" if bucket.endswith("s") else "%d %b %H:%M" if bucket.endswith("h") else "%H:%M"
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("time:T", title=None, axis=alt.Axis(format=axis_format, labelOverlap=True)),
        y=alt.Y("lines:Q", title="Lines", stack=True),
        color=alt.Color("level:N", title="Level", sort=list(LEVEL_COLOURS),
                        scale=alt.Scale(domain=domain, range=[LEVEL_COLOURS[d] for d in domain])),
        tooltip=[alt.Tooltip("time:T", format="%H:%M:%S"), "level:N", "lines:Q"],
    ).properties(height=140)


def _bucket(lines: Sequence[LogLine]) -> str:
    """A chart bucket that gives a readable number of bars for the span read."""
    if not lines:
        return "1min"
    span = lines[-1].time - lines[0].time
    for limit, bucket in ((timedelta(minutes=10), "10s"), (timedelta(hours=1), "1min"),
                          (timedelta(hours=6), "5min"), (timedelta(days=1), "15min")):
        if span <= limit:
            return bucket
    return "1h"


def _matches(search: logs.Search, text: str) -> str:
    """The matched text of a line (up to three distinct matches): highlighting without markup."""
    found: list[str] = []
    for start, end in logs.match_spans(search, text):
        piece = text[start:end]
        if piece not in found:
            found.append(piece)
        if len(found) == 3:
            break
    return " | ".join(found)


def lines_table(lines: Sequence[LogLine], search: logs.Search | None, timestamps: bool,
                newest_first: bool) -> pd.DataFrame:
    """The table as shown: time (if wanted), pod, container, level, match (when searching), line."""
    frame = logs.lines_frame(lines)
    if search is not None:
        frame.insert(len(frame.columns) - 1, "match", [_matches(search, line.text) for line in lines])
    if not timestamps:
        frame = frame.drop(columns=["time"])
    if newest_first:
        frame = frame.iloc[::-1].reset_index(drop=True)
    return frame


LINE_COLUMN_CONFIG = {
    "time": st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss.SSS"),
    "pod": st.column_config.TextColumn("Pod"),
    "container": st.column_config.TextColumn("Container"),
    "level": st.column_config.TextColumn("Level", width="small"),
    "match": st.column_config.TextColumn("Match", help="The text the search matched in the line."),
    "line": st.column_config.TextColumn("Line", width="large"),
}


def _render_lines(state: logs_data.LogsState, search: logs.Search | None, levels: list[logs.Level],
                  timestamps: bool, newest_first: bool, following: bool) -> None:
    _show_errors(state.errors)
    if state.follow_error is not None:
        show_source_error(state.follow_error, "Following paused by an error", level="warning",
                          after="KAMS tries again at the next step.")
    visible = logs.filter_lines(state.lines, search, levels or None)
    containers = len(state.selection.targets) - len(state.errors)
    summary = f"{len(visible):,} of {len(state.lines):,} lines from {containers} of " \
              f"{len(state.selection.targets)} containers"
    if state.dropped:
        summary += f"; the oldest {state.dropped:,} were let go to keep memory bounded"
    summary += f"; read at {state.read_at:%H:%M:%S} UTC"
    if following:
        summary += f"; following every {FOLLOW_SECONDS} s, {state.appended:,} new since the read " \
                   f"(last check {datetime.now(UTC):%H:%M:%S} UTC)"
    st.caption(escape_markdown(summary))
    if not visible:
        st.info("No lines to show" + (" match the search or levels." if state.lines else "."))
        return
    bucket = _bucket(visible)
    counts = logs.level_counts(visible, bucket)
    if not counts.empty:
        st.altair_chart(level_chart(counts, bucket), width="stretch")
    view = st.segmented_control("View", ["Table", "Text"], default="Table", key=_KEY + "view",
                                required=True, label_visibility="collapsed")
    table = lines_table(visible, search, timestamps, newest_first)
    if view == "Text":
        shown = visible[-MAX_TEXT_LINES:]
        if newest_first:
            shown = shown[::-1]
        if len(visible) > MAX_TEXT_LINES:
            st.caption(f"The {MAX_TEXT_LINES:,} newest lines; the downloads hold all {len(visible):,}.")
        st.code(logs.lines_text(shown), language=None, wrap_lines=True,
                height=560 if len(shown) > 30 else "content")
    else:
        st.dataframe(table, hide_index=True, width="stretch", height=560,
                     column_config=LINE_COLUMN_CONFIG, key=_KEY + "table")
    left, right = st.columns(2)
    # Callables: the files are built only when someone downloads (not at every follow step).
    left.download_button("Download these lines (.txt)", lambda: logs.lines_text(visible),
                         file_name="logs.txt", mime="text/plain", key=_KEY + "txt", width="stretch")
    csv_download("Download these lines (.csv)", lambda: logs.lines_frame(visible), "logs.csv", _KEY + "csv",
                 help="time, pod, container, level, line", icon=None, rerun=True, width="stretch",
                 where=right)


def linked_pod() -> str:
    """The pod named by ?pod=NAMESPACE/NAME, or ""."""
    value = str(st.query_params.get(POD_PARAM) or "")
    namespace, _, name = value.partition("/")
    return value if namespace and name else ""


def render_logs_tab(settings: Settings, filters: Filters) -> None:
    linked = linked_pod()
    namespace = filters.namespace
    if linked and namespace is not None and not linked.startswith(namespace + "/"):
        namespace = linked.partition("/")[0]
        st.caption(escape_markdown(f"Showing namespace {namespace}, where the linked pod is."))
    view = read_pods(settings, filters.context, namespace, linked, partial_level="info",
                     partial="The linked pod was read by itself, so its logs are here.",
                     empty=escape_markdown(f"No pods in {namespace or 'any namespace'}."))
    if view is None:
        return
    if linked and not view.has_pod(linked):
        st.warning(escape_markdown(f"The linked pod {linked} is not there any more."))
    pods = _pick_pods(view, namespace, linked)
    if not pods:
        st.info("Choose workloads or pods to read their logs.")
        return
    targets = _pick_containers(pods)
    request, timestamps = _pick_request()
    if not targets:
        st.info("Choose at least one container.")
        return
    if len(targets) > logs_data.MAX_TARGETS:
        st.warning(f"{len(targets)} containers chosen; the first {logs_data.MAX_TARGETS} are read.")
        targets = targets[:logs_data.MAX_TARGETS]
    controls = st.columns([1.6, 1.4, 6], vertical_alignment="center")
    following = controls[0].toggle(
        "Follow live", key=_KEY + "follow", disabled=request.previous,
        help="A previous container's log does not grow." if request.previous else
        f"New lines appear every {FOLLOW_SECONDS} s without reloading; turn off to pause.")
    following = following and not request.previous
    again = controls[1].button("Read again", icon=":material/refresh:", key=_KEY + "again")
    search, levels, newest_first = _search()
    selection = logs_data.LogSelection(filters.context, tuple(targets), request)
    try:
        with st.spinner(f"Reading {len(targets)} containers…"):
            logs_data.read(settings, selection, again=again)
    except SourceError as error:
        show_source_error(error, "Logs are unavailable", level="error")
        return

    @st.fragment(run_every=FOLLOW_SECONDS if following else None)
    def live_lines() -> None:
        state = logs_data.current_logs(selection)
        if state is None:  # the selection changed in another run; the full run reads it
            return
        if following:
            logs_data.follow(settings, state)
        _render_lines(state, search, levels, timestamps, newest_first, following)

    live_lines()


# ========================================================================================== Events
#: Timeline bucket per sidebar time range: a few dozen bars whatever the range.
TIMELINE_BUCKETS = {"15m": "1min", "1h": "2min", "6h": "10min", "24h": "30min", "7d": "6h"}


def timeline_chart(timeline: pd.DataFrame, start: datetime, end: datetime) -> alt.Chart:
    """Events per time bucket, stacked by type (Warning / Normal), over [start, end]."""
    domain = [kind for kind in EVENT_TYPE_COLOURS if kind in set(timeline["type"])] + sorted(
        set(timeline["type"]) - set(EVENT_TYPE_COLOURS))
    colours = [EVENT_TYPE_COLOURS.get(kind, "#8a8f98") for kind in domain]
    return alt.Chart(timeline).mark_bar().encode(
        x=alt.X("time:T", title=None, scale=alt.Scale(domain=[start.isoformat(), end.isoformat()])),
        y=alt.Y("events:Q", title="Events", stack=True, axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("type:N", title="Type", scale=alt.Scale(domain=domain, range=colours)),
        tooltip=[alt.Tooltip("time:T", format="%d %b %H:%M"), "type:N", "events:Q"],
    ).properties(height=160)


def _render_timeline(shown: pd.DataFrame, filters: Filters) -> None:
    """The chart covers the sidebar's time range (events are kept about an hour; older ones from the
    archive or a long --event-ttl would squeeze the recent bars into a sliver)."""
    end = datetime.now(UTC)
    start = end - filters.time_range
    bucket = TIMELINE_BUCKETS.get(filters.time_range_key, "5min")
    timeline = events_timeline(shown[shown["last_seen"] >= pd.Timestamp(start)], bucket)
    older = int((shown["last_seen"] < pd.Timestamp(start)).sum())
    note = f"Events per {bucket} over the {filters.time_range_label.lower()} (the sidebar's time range)"
    if older:
        note += f"; {older:,} older events are in the table only"
    st.caption(escape_markdown(note + "."))
    if not timeline.empty:
        st.altair_chart(timeline_chart(timeline, start, end), width="stretch")


def events_table(frame: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    columns = {**EVENT_COLUMNS_SHOWN, **{name: name.capitalize() for name in extra}}
    return frame[list(columns)].rename(columns=columns)


def _event_filters(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    columns = st.columns([1.4, 2, 3, 2, 3])
    types = columns[0].multiselect("Type", ["Warning", "Normal"], key=prefix + "type", placeholder="Any")
    kinds = columns[1].multiselect("Object kind", sorted(k for k in object_kinds(frame).unique() if k),
                                   key=prefix + "kind", placeholder="Any kind")
    objects = columns[2].multiselect("Object", sorted(frame["object"].unique()), key=prefix + "object",
                                     placeholder="Any object")
    reasons = columns[3].multiselect("Reason", sorted(frame["reason"].unique()), key=prefix + "reason",
                                     placeholder="Any reason")
    text = columns[4].text_input("Search", key=prefix + "text", placeholder="text in object or message",
                                 help="Case-insensitive plain text.")
    return filter_events(frame, types=types, kinds=kinds, objects=objects, reasons=reasons, text=text)


def _load_events(load: Callable[[Settings, str | None, str | None], pd.DataFrame], settings: Settings,
                 filters: Filters, empty: str = "") -> pd.DataFrame | None:
    """The events frame, or None after saying why it is unavailable (or `empty`, when there are none)."""
    with st.spinner("Loading events…"):
        read = data.or_error(lambda: load(settings, filters.context, filters.namespace))
    return panel_data(read, "Events are unavailable", empty, level="error")


def _events_table_and_csv(table: pd.DataFrame, name: str, height: int) -> None:
    st.dataframe(table, hide_index=True, width="stretch", height=height, column_config=EVENT_COLUMN_CONFIG,
                 key=f"{_KEY}{name}_table")
    csv_download("Download these events (CSV)", lambda: table, f"{name}.csv", f"{_KEY}{name}_csv", icon=None,
                 rerun=True)


def render_events_tab(settings: Settings, filters: Filters) -> None:
    st.caption(RETENTION_NOTE)
    frame = _load_events(logs_data.cluster_events, settings, filters,
                         empty=escape_markdown(f"No events in {filters.namespace_label} right now."))
    if frame is None:
        return
    shown = _event_filters(frame, _KEY + "events_")
    warnings = int((shown["type"] == "Warning").sum())
    st.markdown(escape_markdown(f"{len(shown):,} events ({warnings:,} Warning) of {len(frame):,} in "
                                f"{filters.namespace_label}"))
    _render_timeline(shown, filters)
    _events_table_and_csv(events_table(shown), "events", 480)


# ============================================================================ Security & reliability
def categories_chart(counts: pd.DataFrame) -> alt.Chart:
    return alt.Chart(counts).mark_bar(color="#e08a00").encode(
        x=alt.X("events:Q", title="Events", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("category:N", title=None, sort=list(SECURITY_CATEGORIES)),
        tooltip=["category:N", "events:Q", "occurrences:Q", "description:N"],
    ).properties(height=alt.Step(22))


def render_security_tab(settings: Settings, filters: Filters) -> None:
    st.caption("Events that point at a security or reliability problem: refused requests (RBAC, "
               "admission, Pod Security), image pulls, crashes, out-of-memory kills, failing probes, "
               "volumes, scheduling and evictions. " + RETENTION_NOTE)
    picked = _load_events(logs_data.cluster_security_events, settings, filters)
    if picked is None:
        return
    counts = category_counts(picked)
    left, right = st.columns([2, 3])
    with left:
        st.altair_chart(categories_chart(counts), width="stretch")
    with right:
        st.dataframe(counts.rename(columns={"category": "Category", "events": "Events",
                                            "occurrences": "Occurrences", "description": "What it means"}),
                     hide_index=True, width="stretch", key=_KEY + "security_counts")
    if picked.empty:
        st.success(escape_markdown(f"No security or reliability events in {filters.namespace_label}."))
        return
    categories = st.multiselect("Category", [c for c in SECURITY_CATEGORIES if c in set(picked["category"])],
                                key=_KEY + "security_category", placeholder="Every category")
    shown = picked[picked["category"].isin(categories)] if categories else picked
    _events_table_and_csv(events_table(shown, extra=("category",)), "security-events", 420)


# --- the page ------------------------------------------------------------------------------------------
def render_logs_page(settings: Settings, filters: Filters) -> None:
    """A tab each for the logs, the events and the security events; only the open one runs."""
    st.title("Logs")
    tabs = st.tabs(["Logs", "Events", "Security & reliability"], key="tab", bind="query-params")
    with tabs[0]:
        if tabs[0].open is not False:
            render_logs_tab(settings, filters)
    with tabs[1]:
        if tabs[1].open:
            render_events_tab(settings, filters)
    with tabs[2]:
        if tabs[2].open:
            render_security_tab(settings, filters)
