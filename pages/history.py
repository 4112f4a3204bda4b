"""History: what the snapshot archive remembers. Trends per day (security score, restarts, requests,
Warning events, pods per phase) read with DuckDB over a local mirror of the archive, the snapshots by
cluster and day, and any archived table previewed and downloaded.

Thin: read the viewer's namespace scope, draw with ui.history_view (ui.history_data reads,
k8sdata.archive.trends does the work). Without an archive, the page says how to set one up.
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui import history_data
from ui.frame_guard import ensure_app_frame
from ui.history_view import render_history_page

ensure_app_frame()

render_history_page(Settings.from_env(), history_data.scope())
