"""Health: how every application is doing, for the founders (the `viewer` role sees only this page).

Thin: read the namespaces this person may see and the availability target, ask ui.health_data
(k8sdata.health_page does the work), draw with ui.health_view. No pod names, logs or security details,
and no links: a viewer could not open the pages they would lead to.
"""

from __future__ import annotations

import os

import streamlit as st

from k8sdata.config import Settings
from k8sdata.requests.slo import DEFAULT_AVAILABILITY_PERCENT, SloSettingError, availability_target
from ui import health_data, health_view
from ui.filters import CONTEXT_KEY
from ui.frame_guard import ensure_app_frame
from ui.render import escape_markdown

ensure_app_frame()

settings = Settings.from_env()
namespaces = health_data.allowed_namespaces(st.session_state.get(health_data.ACCESS_NAMESPACES_KEY))

st.title("Health")
try:
    target = availability_target(os.environ)
except SloSettingError as error:
    target = DEFAULT_AVAILABILITY_PERCENT
    st.warning(escape_markdown(f"{error} Using {target:g}% until it is corrected."))

# Only the sidebar's context is read (not its namespace): this page's scope is the session's namespaces.
context = st.session_state.get(CONTEXT_KEY)
with st.spinner("Reading how the applications are doing…"):
    data = health_data.health_page_data(settings, context, namespaces, target)

scope = "" if namespaces is None else " in " + escape_markdown(
    ", ".join(sorted(namespaces)) or "no namespace")
st.caption(f"How the applications{scope} are doing, in plain words, as of {data.now:%Y-%m-%d %H:%M} UTC.")
health_view.render_source_problems(data)
health_view.render_lights(data)
health_view.render_slo(data)
health_view.render_incidents(data)
