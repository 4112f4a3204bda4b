"""Health: how every application is doing, for the founders (the `viewer` role sees only this page).

Thin: read the namespaces this person may see and the sidebar's context, draw with ui.health_view
(ui.health_data reads, k8sdata.health_page does the work). No pod names, logs or security details, and
no links: a viewer could not open the pages they would lead to.
"""

from __future__ import annotations

import streamlit as st

from k8sdata.config import Settings
from ui import health_data
from ui.filters import CONTEXT_KEY
from ui.frame_guard import ensure_app_frame
from ui.health_view import render_health_page

ensure_app_frame()

# Only the sidebar's context is read (not its namespace): this page's scope is the session's namespaces.
render_health_page(Settings.from_env(),
                   health_data.allowed_namespaces(st.session_state.get(health_data.ACCESS_NAMESPACES_KEY)),
                   st.session_state.get(CONTEXT_KEY))
