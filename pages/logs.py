"""Logs: the logs of several pods and containers at once (merged in time, searchable, followed live),
the cluster's events, and the events that matter for security and reliability.

Thin: ui.logs_data reads (pods and events through ui.data's caches, log lines kept per viewer),
ui.logs_view draws, k8sdata.logs.containers and k8sdata.logs.events do the work. `?pod=NAMESPACE/NAME` opens
a pod's logs (the Pods page links here); only the open tab runs (tabs bound to the `tab` query parameter).
"""

from __future__ import annotations

import streamlit as st

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.logs_view import render_events_tab, render_logs_tab, render_security_tab

ensure_app_frame()


def main() -> None:
    settings = Settings.from_env()
    filters = current_filters()
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


main()
