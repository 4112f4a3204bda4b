"""Requests: rate, errors and duration (RED) per application and pod, from the request metrics the
applications, the ingress or a service mesh already expose (conventions detected automatically), with
notable moments, a breakdown by endpoint and the traffic patterns.

Thin: read the filters, draw with ui.requests_view (ui.requests_data fetches and caches, k8sdata
computes; a failing panel says why in one sentence, the others keep working). Only the open tab runs
(tabs bound to the `tab` query parameter); the chosen application is kept in the `app` query parameter.
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.requests_view import render_requests_page

ensure_app_frame()

render_requests_page(Settings.from_env(), current_filters())
