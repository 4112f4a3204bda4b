"""History: what the snapshot archive remembers. Trends per day (security score, restarts, requests,
Warning events, pods per phase) read with DuckDB over a local mirror of the archive, the snapshots by
cluster and day, and any archived table previewed and downloaded.

Thin: read the viewer's namespace scope, ask ui.history_data (k8sdata.archive.trends does the work),
draw with ui.history_view. Without an archive, the page says how to set one up.
"""

from __future__ import annotations

import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from ui import data, history_data, history_view
from ui.frame_guard import ensure_app_frame
from ui.render import show_source_error

ensure_app_frame()

settings = Settings.from_env()
namespaces = history_data.scope()

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.title("History")
if refresh.button("Refresh", icon=":material/refresh:", key="kams_history_refresh"):
    history_data.clear()

store = data.or_error(lambda: data.archive(settings))
if isinstance(store, NotConfigured):
    history_view.render_setup()
elif isinstance(store, SourceError):
    show_source_error(store, "The archive cannot be opened")
else:
    st.caption(f"From the archive {store.describe()} (times in UTC).")
    days = st.selectbox("Days", history_data.DAY_CHOICES, index=history_data.DAY_CHOICES.index(
        history_data.DEFAULT_DAYS), format_func=lambda count: f"Last {count} days", key="kams_history_days")
    listed = data.or_error(lambda: history_data.snapshots(settings, days))
    if isinstance(listed, SourceError):
        show_source_error(listed, "The archive cannot be listed")
    else:
        cluster = history_view.choose_cluster(listed)
        shown = [snap for snap in listed if cluster is None or snap.cluster == cluster]
        with st.status("Reading the archive...", expanded=False) as status:
            bar = st.progress(0.0)

            def progress(done: int, total: int, text: str) -> None:
                bar.progress(done / total if total else 1.0, text=text)

            mirrored = data.or_error(lambda: history_data.mirror(settings, days, progress))
            trends = None if isinstance(mirrored, SourceError) else history_data.trends(mirrored, namespaces)
            status.update(label="Archive read.", state="complete")
        if isinstance(mirrored, SourceError):
            show_source_error(mirrored, "The trends are unavailable")
        else:
            history_view.render_mirror_notes(mirrored)
        if trends is not None:
            history_view.render_trends(trends, cluster)
        history_view.render_snapshots(shown, days)
        history_view.render_preview(
            shown, lambda snap, table: history_data.table_bytes(settings, snap, table), namespaces)
