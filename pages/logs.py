"""Logs: the logs of several pods and containers at once (merged in time, searchable, followed live),
the cluster's events, and the events that matter for security and reliability.

Thin: read the filters, draw with ui.logs_view (ui.logs_data reads, k8sdata.logs does the work).
`?pod=NAMESPACE/NAME` opens a pod's logs (the Pods page links here); only the open tab runs (tabs bound
to the `tab` query parameter).
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.logs_view import render_logs_page

ensure_app_frame()

render_logs_page(Settings.from_env(), current_filters())
