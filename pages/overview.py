"""Overview: how every application is doing, in plain words, for someone who is not an engineer.

Thin: read the filters, draw with ui.overview_view (ui.data reads, k8sdata.overview does the work).
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.overview_view import render_overview_page

ensure_app_frame()

render_overview_page(Settings.from_env(), current_filters())
