"""Requests: rate, errors and duration (RED) per application and pod, from the request metrics the
applications, the ingress or a service mesh already expose (conventions detected automatically), with
notable moments, a breakdown by endpoint and the traffic patterns.

Thin: ui.requests_data fetches and caches, k8sdata computes, ui.requests_view draws each panel (a
failing panel says why in one sentence; the others keep working). Only the open tab runs (tabs bound
to the `tab` query parameter); the chosen application is kept in the `app` query parameter.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from k8sdata.access import current_scope
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from ui import requests_data
from ui import requests_view as view
from ui.filters import Filters, current_filters
from ui.frame_guard import ensure_app_frame
from ui.render import escape_markdown, show_source_error

ensure_app_frame()

TABS = ["Applications", "Charts", "Endpoints", "Traffic patterns"]
#: The query parameter (and widget key) naming the chosen application, "namespace/workload".
APP_PARAM = "app"
WINDOW_KEY = "kams_requests_window"
#: Rate windows offered for the tables ("requests per second over the last ...").
WINDOWS = ["1m", "5m", "15m", "1h"]
DEFAULT_WINDOW = "5m"


def _application_picker(summary: pd.DataFrame | SourceError, filters: Filters) -> view.Selection:
    """"All applications" or one, from the applications with metrics (a linked one is kept even when
    the table could not be read, unless the sidebar's namespace is another)."""
    options = [view.ALL_APPLICATIONS]
    if isinstance(summary, pd.DataFrame) and not summary.empty:
        named = summary[summary["workload"] != ""]  # pods nothing names are in the tables, not pickable
        pairs = named[["namespace", "workload"]].drop_duplicates().sort_values(["namespace", "workload"])
        options += [view.selection_key(ns, wl) for ns, wl in pairs.itertuples(index=False)]
    linked = str(st.query_params.get(APP_PARAM) or "")
    in_namespace = not filters.namespace or linked.partition("/")[0] == filters.namespace
    if linked and linked not in options and in_namespace:
        options.append(linked)  # linked, but the table could not be read (or it has no traffic now)
    chosen = st.selectbox("Application", options, key=APP_PARAM, bind="query-params",
                          format_func=lambda key: key or "All applications",
                          help="Charts, endpoints and patterns for one application; the choice is kept "
                               "in the page's address, so it can be shared.")
    return view.parse_selection(str(chosen or ""), filters.namespace)


def main() -> None:
    settings = Settings.from_env()
    filters = current_filters()
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
        view.show_no_metrics(filters.namespace or "this cluster",
                             requests_data.candidate_conventions(settings))
        if filters.namespace:  # which of its workloads lack metrics, and how to add them
            view.render_uncovered(settings, filters, pd.DataFrame(columns=["namespace", "workload"]), None,
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
            view.render_applications(settings, found, selection, filters, summary, window)
    with tabs[1]:
        if tabs[1].open:
            view.render_charts(settings, found, selection, filters, summary)
    with tabs[2]:
        if tabs[2].open:
            view.render_endpoints(settings, found, selection, window, summary)
    with tabs[3]:
        if tabs[3].open:
            view.render_patterns(settings, found, selection, filters, summary)


main()
