"""Drawing for the Pods page: every pod as `kubectl get pods -A` prints it, with usage against requests and
limits, filters, CSV, and the detail of one pod; tabs for workloads, nodes and right-sizing.

ui.data fetches and caches (a shared watch cache for big clusters), ui.filters filters in pandas, k8sdata
builds the frames, ui.pod_detail draws one pod. Cluster text is shown only through st.dataframe, st.code,
Altair or escape_markdown. Only the open tab runs (tabs bound to the `tab` query parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

import ui.filters
from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.pods.resources import SOURCE_METRICS_API
from ui import data
from ui.cache import cached
from ui.filters import (
    Filters,
    PodFilters,
    filter_pods,
    page_count,
    page_of,
    sort_rows,
    workload_labels,
)
from ui.pod_detail import find_pod, render_pod_detail
from ui.render import Level, csv_download, escape_markdown, show_source_error
from ui.rightsizing import render_rightsizing_tab
from ui.workloads import render_nodes_tab, render_workloads_tab

#: The query parameter that names the selected pod ("namespace/name"), so a pod can be linked.
POD_PARAM = "pod"
TABLE_KEY = "kams_pods_table"
SELECT_KEY = "kams_pod_select"
SELECTOR_KEY = "kams_pods_selector"
SHOWN_KEYS = "_kams_pods_shown"
SORT_KEY = "kams_pods_sort"
DESCENDING_KEY = "kams_pods_descending"
PAGE_KEY = "kams_pods_page"
#: The pod picker lists at most this many of the shown pods (a browser list of 100,000 is useless):
#: narrow with the filters, or click the row in the table.
MAX_PICKER_OPTIONS = 2_000
MIB = 1024**2

# kubectl's own order first (NAME READY STATUS RESTARTS AGE), then usage against requests and limits, so
# what people look at first fits the screen; the wide columns (kubectl -o wide's and the raw amounts) follow.
TABLE_COLUMNS = {
    "namespace": "Namespace", "name": "Name", "ready": "Ready", "status": "Status",
    "restarts_display": "Restarts", "age": "Age",
    "cpu_request_pct": "CPU / request", "memory_request_pct": "Memory / request",
    "cpu_limit_pct": "CPU / limit", "memory_limit_pct": "Memory / limit",
    "workload_text": "Workload", "node": "Node", "ip": "Pod IP", "qos_class": "QoS",
    "cpu_cores": "CPU (cores)", "cpu_request": "CPU request", "cpu_limit": "CPU limit",
    "memory_mib": "Memory (MiB)", "memory_request_mib": "Memory request (MiB)",
    "memory_limit_mib": "Memory limit (MiB)", "restarts": "Restart count", "created": "Created",
    "labels": "Labels",
}
#: Columns of kubectl's text that sort by the number behind them: (column sorted on, reverse direction).
#: AGE "5d3h" sorts by Created (the youngest pod has the smallest age and the latest creation time).
SORT_PROXIES = {"Age": ("Created", True), "Restarts": ("Restart count", False)}
USAGE_COLUMNS = ("cpu_cores", "cpu_request_pct", "cpu_limit_pct", "memory_mib", "memory_request_pct",
                 "memory_limit_pct")


def table_columns(measured: bool) -> list[str]:
    """The table's column titles, usage's left out when it is not measured."""
    return [title for column, title in TABLE_COLUMNS.items() if measured or column not in USAGE_COLUMNS]


def pods_table(pods: pd.DataFrame, usage: pd.DataFrame, *, measured: bool = True) -> pd.DataFrame:
    """The table as shown and downloaded: kubectl's columns, then usage beside requests and limits
    (percentages 0-100+, NaN where no request/limit is set). `measured` False (no usage source works):
    `usage` holds only requests and limits, and the usage columns are left out."""
    shown = pods.assign(workload_text=workload_labels(pods))
    shown = shown.merge(usage.rename(columns={"pod": "name"}), on=["namespace", "name"], how="left")
    shown = shown.assign(memory_mib=shown["memory_bytes"] / MIB,
                         memory_request_mib=shown["memory_request"] / MIB,
                         memory_limit_mib=shown["memory_limit"] / MIB)
    columns = [c for c in TABLE_COLUMNS if measured or c not in USAGE_COLUMNS]
    return shown[columns].rename(columns=TABLE_COLUMNS)


def _percent(label: str, help_text: str) -> Any:
    # 0-100 reads as "share of the request"; above 100 the bar is full and the number says how far over
    return st.column_config.ProgressColumn(label, help=help_text, format="%.0f%%", min_value=0,
                                           max_value=100)


COLUMN_CONFIG = {
    "Restarts": st.column_config.TextColumn(help="As kubectl prints it: count (time since the last one).",
                                            width=120),  # "12 (120m ago)" fits
    "Restart count": st.column_config.NumberColumn(help="The same count as a number, to sort on."),
    "Age": st.column_config.TextColumn(help="As kubectl prints it. Sort on Created for the true order."),
    "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "CPU (cores)": st.column_config.NumberColumn(format="%.3f"),
    "CPU / request": _percent("CPU / request", "CPU used now as a share of the CPU request."),
    "CPU / limit": _percent("CPU / limit", "CPU used now as a share of the CPU limit (throttling at 100%)."),
    "CPU request": st.column_config.NumberColumn(format="%.3f", help="Cores, summed over containers."),
    "CPU limit": st.column_config.NumberColumn(format="%.3f", help="Empty when a container has no limit."),
    "Memory (MiB)": st.column_config.NumberColumn(format="%.0f"),
    "Memory / request": _percent("Memory / request", "Working set now as a share of the memory request."),
    "Memory / limit": _percent("Memory / limit", "Working set as a share of the limit (OOMKilled at 100%)."),
    "Memory request (MiB)": st.column_config.NumberColumn(format="%.0f"),
    "Memory limit (MiB)": st.column_config.NumberColumn(format="%.0f"),
}


def _options(frame: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """The filters' choices: the workloads, statuses and nodes of the pods listed (only real values)."""
    return (sorted(workload_labels(frame).unique()), sorted(frame["status"].unique()),
            sorted(n for n in frame["node"].unique() if n))


def _pod_filters(options: tuple[list[str], list[str], list[str]]) -> PodFilters:
    """The page's filters above the table."""
    columns = st.columns([2, 2, 2, 3])
    workloads = columns[0].multiselect("Workload", options[0], key="kams_pods_workload",
                                       placeholder="All workloads")
    statuses = columns[1].multiselect("Status", options[1], key="kams_pods_status", placeholder="Any status")
    nodes = columns[2].multiselect("Node", options[2], key="kams_pods_node", placeholder="All nodes")
    text = columns[3].text_input("Search", key="kams_pods_search", placeholder="name, IP, label, node…",
                                 help="Case-insensitive text in the namespace, name, workload, node, IP, "
                                      "status or labels.")
    return PodFilters(tuple(workloads), tuple(statuses), tuple(nodes), text)


def _counts(shown: pd.DataFrame, listed: int) -> str:
    # Completed (Succeeded) pods are never ready and that is fine: they are not counted as not ready.
    not_ready = int((~shown["is_ready"] & (shown["phase"] != "Succeeded")).sum())
    of = f" (of {listed:,} listed)" if len(shown) != listed else ""
    return f"{len(shown):,} pods{of}, {not_ready:,} not ready"


def _choose(key: str) -> None:
    """Remember the chosen pod in the URL (link-able); an empty choice clears it."""
    if key:
        st.query_params[POD_PARAM] = key
    else:
        st.query_params.pop(POD_PARAM, None)


def _on_table_select() -> None:
    event = st.session_state.get(TABLE_KEY)
    rows = list(event.selection.rows) if event is not None else []
    shown: list[str] = st.session_state.get(SHOWN_KEYS, [])
    if rows and rows[0] < len(shown):
        st.session_state[SELECT_KEY] = shown[rows[0]]
        _choose(shown[rows[0]])


def _on_picker_change() -> None:
    _choose(st.session_state.get(SELECT_KEY) or "")


def _pod_picker(keys: list[str], selected: str) -> None:
    options = ["", *keys[:MAX_PICKER_OPTIONS]]
    if selected and selected not in options:
        options.insert(1, selected)  # linked from a URL but filtered out or beyond the cap: keep it
    st.session_state[SELECT_KEY] = selected if selected in options else ""
    st.selectbox("Pod detail", options, key=SELECT_KEY, on_change=_on_picker_change,
                 format_func=lambda key: key or "Choose a pod (or click a row in the table)",
                 help="Type to search. The choice is kept in the page's address, so it can be shared.")


def _keys(table: pd.DataFrame) -> list[str]:
    """"namespace/name" of each row of the shown table (what the picker and the URL hold)."""
    return (table["Namespace"] + "/" + table["Name"]).tolist()


def _sort_choice(measured: bool) -> tuple[str | None, bool]:
    """The order chosen above the table (default kubectl's: namespace, then name) as (column, descending)."""
    columns = st.columns([3, 2])
    label = columns[0].selectbox(
        "Sort by", ["", *table_columns(measured)], key=SORT_KEY,
        format_func=lambda column: column or "Namespace, then name (as kubectl)",
        help="Sorts every pod that passes the filters, before the table is cut into pages. Clicking a "
             "column header sorts only the rows of the page shown.")
    descending = columns[1].toggle("Descending", key=DESCENDING_KEY, disabled=not label)
    column, reverse = SORT_PROXIES.get(label, (label, False))
    return column or None, descending != reverse


def _shown(view: data.PodsView, chosen: PodFilters, usage: _Usage, column: str | None, descending: bool
           ) -> tuple[pd.DataFrame, str]:
    """The whole table in the chosen order, and its counts line."""
    shown = filter_pods(view.frame, chosen)
    table = sort_rows(pods_table(shown, usage.frame, measured=usage.measured), column, descending)
    return table, _counts(shown, len(view.frame))


@cached(ttl=data.DATA_TTL_SECONDS * 4, max_entries=data.MAX_CACHED_LISTS, shared=True, guard=False)
def _shared_shown(context: str | None, namespace: str | None, token: str, chosen: PodFilters, usage_key: str,
                  column: str | None, descending: bool, _view: data.PodsView, _usage: _Usage
                  ) -> tuple[pd.DataFrame, str]:
    return _shown(_view, chosen, _usage, column, descending)


@cached(ttl=data.DATA_TTL_SECONDS * 4, max_entries=data.MAX_CACHED_LISTS, shared=True, guard=False)
def _shared_options(context: str | None, namespace: str | None, token: str, _frame: pd.DataFrame
                    ) -> tuple[list[str], list[str], list[str]]:
    return _options(_frame)


def _page(table: pd.DataFrame) -> pd.DataFrame:
    """The rows sent to the browser: at most ui.filters.TABLE_PAGE_ROWS, with a page number for the rest
    (100,000 rows would be ~28 MB on every rerun)."""
    size = ui.filters.TABLE_PAGE_ROWS
    pages = page_count(len(table), size)
    if pages == 1:
        return table
    if int(st.session_state.get(PAGE_KEY) or 1) > pages:  # the filters now leave fewer pages
        st.session_state[PAGE_KEY] = pages
    left, right = st.columns([1, 4], vertical_alignment="bottom")
    number = int(left.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                                   key=PAGE_KEY))
    first = (number - 1) * size
    right.caption(escape_markdown(
        f"Showing rows {first + 1:,}-{min(first + size, len(table)):,} of {len(table):,}: narrow the "
        "filters or download the CSV for every row. Sort with Sort by: a column header sorts only this "
        "page."))
    return page_of(table, number, size)


@dataclass(frozen=True)
class _Usage:
    frame: pd.DataFrame  # requests, limits and (when `measured`) current usage per pod
    measured: bool
    key: str  # names `frame` for the shared table cache


def _usage(settings: Settings, filters: Filters, view: data.PodsView) -> _Usage:
    """Per pod requests and limits, and current usage beside them when it can be read."""
    def requests_only() -> _Usage:
        return _Usage(data.pods_requests(settings, filters.context, filters.namespace, view), False,
                      data.requests_key(settings, filters.context, filters.namespace, view))

    try:
        got = data.pods_usage(settings, filters.context, filters.namespace, view)
    except SourceError as error:
        show_source_error(error, "Current usage is unavailable", level="info",
                          after="Requests and limits are shown without it.")
        return requests_only()
    if got is None:
        st.caption("Current usage is still being read for this large cluster; it appears on the next "
                   "refresh. Requests and limits are shown meanwhile.")
        return requests_only()
    usage, source, key = got
    if source == SOURCE_METRICS_API:
        st.caption("Usage now comes from metrics.k8s.io (metrics-server), as in kubectl top pod.")
    return _Usage(usage, True, key)


def read_pods(settings: Settings, context: str | None, namespace: str | None, linked: str, selector: str = "",
              *, partial: str, partial_level: Level, empty: str) -> data.PodsView | None:
    """The pods a page lists (a page opened from a link to one pod: that pod even when the list fails), or
    None once the page has said why there are none. `partial` (our words) says what is shown when only the
    linked pod could be read; `empty` (Markdown, cluster text escaped by the caller) when no pod is."""
    with st.spinner("Loading pods…"):
        view = data.or_error(lambda: data.linked_pods_view(settings, context, namespace, linked, selector))
    if isinstance(view, SourceError):
        show_source_error(view, "Pods are unavailable", level="error")
        return None
    if view.partial is not None:
        show_source_error(view.partial, "The pods list is unavailable", level=partial_level, after=partial)
    if view.frame.empty:
        st.info(empty)
        return None
    return view


def render_pods_tab(settings: Settings, filters: Filters) -> None:
    selector = st.text_input(
        "Label selector", key=SELECTOR_KEY, placeholder="app=web,tier!=cache",
        help="Kubernetes label selector syntax; the API server does the filtering.")
    linked = str(st.query_params.get(POD_PARAM) or "")
    empty = f"No pods in {escape_markdown(filters.namespace_label)}" + (
        " match the label selector." if selector.strip() else ".")
    view = read_pods(settings, filters.context, filters.namespace, linked, selector, partial_level="warning",
                     partial="Only the linked pod, read by itself, is shown.", empty=empty)
    if view is None:
        return
    # A big cluster's table is built once per list version, usage and choice, for every viewer (shared):
    # at 100,000 pods it is seconds of CPU and hundreds of MB that thirty viewers would otherwise each make.
    big = view.watched
    options = (_shared_options(filters.context, filters.namespace, view.token, view.frame) if big
               else _options(view.frame))
    chosen = _pod_filters(options)
    with st.spinner("Reading current usage…"):
        usage = _usage(settings, filters, view)
    column, descending = _sort_choice(usage.measured)
    table, counts = (_shared_shown(filters.context, filters.namespace, view.token, chosen, usage.key, column,
                                   descending, view, usage) if big
                     else _shown(view, chosen, usage, column, descending))
    st.markdown(escape_markdown(counts))
    page = _page(table)
    st.session_state[SHOWN_KEYS] = _keys(page)
    st.dataframe(page, hide_index=True, width="stretch", height=480, column_config=COLUMN_CONFIG,
                 key=TABLE_KEY, on_select=_on_table_select, selection_mode="single-row")
    csv_download("Download these pods (CSV)", lambda: table, "pods.csv", "kams_pods_csv", icon=None,
                 rerun=True, help="Every row that passes the filters (all pages), in the chosen order.")
    keys = _keys(table.head(MAX_PICKER_OPTIONS))
    if view.watched:
        st.caption("Large cluster: pods come from a shared watch of the API server, updated as they change.")

    selected = str(st.query_params.get(POD_PARAM) or "")
    _pod_picker(keys, selected)
    if not selected:
        return
    namespace, _, name = selected.partition("/")
    pod = find_pod(view.raw, namespace, name)
    rows = view.frame[(view.frame["namespace"] == namespace) & (view.frame["name"] == name)]
    if pod is None or rows.empty:
        st.warning(escape_markdown(f"The pod {selected} is not in {filters.namespace_label} any more."))
        return
    render_pod_detail(settings, filters, pod, rows.iloc[0].to_dict())


def render_pods_page(settings: Settings, filters: Filters) -> None:
    st.title("Pods")
    tabs = st.tabs(["Pods", "Workloads", "Nodes", "Right-sizing"], key="tab", bind="query-params")
    with tabs[0]:
        if tabs[0].open is not False:
            render_pods_tab(settings, filters)
    with tabs[1]:
        if tabs[1].open:
            render_workloads_tab(filters)
    with tabs[2]:
        if tabs[2].open:
            render_nodes_tab(filters)
    with tabs[3]:
        if tabs[3].open:
            render_rightsizing_tab(filters)
