"""Pods: every pod as `kubectl get pods -A` prints it, with usage against requests and limits, filters,
CSV, and the detail of one pod; tabs for workloads, nodes and right-sizing.

Thin: read the filters, draw with ui.pods_view (ui.data fetches and caches, k8sdata builds the frames).
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.pods_view import render_pods_page

ensure_app_frame()

render_pods_page(Settings.from_env(), current_filters())
