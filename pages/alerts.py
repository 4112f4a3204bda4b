"""Alerts: what fires now (Prometheus), what Alertmanager does with it (silenced, inhibited), and
whether the rules themselves evaluate.

Thin: read the filters, draw with ui.alerts_view (ui.alerts_data reads, k8sdata.alerts does the work).
Each panel shows its own sentence when its source fails; the others keep working.
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.alerts_view import render_alerts_page
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame

ensure_app_frame()

render_alerts_page(Settings.from_env(), current_filters())
