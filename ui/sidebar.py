"""The sidebar shared by every page: cluster context, namespace, time range, refresh, auto-refresh and
the connection status of Kubernetes, Prometheus and S3. Choices live in st.session_state under the
keys in ui.filters, so pages read them with `ui.filters.current_filters()`."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from k8sdata.config import Settings
from ui import data
from ui.auth import NAMESPACES_KEY
from ui.filters import (
    ALL_NAMESPACES,
    AUTO_REFRESH,
    AUTO_REFRESH_KEY,
    CONTEXT_KEY,
    DEFAULT_TIME_RANGE,
    NAMESPACE_KEY,
    TIME_RANGE_KEY,
    TIME_RANGE_LABELS,
    current_filters,
)
from ui.render import escape_markdown, status_icon

_LAST_FULL_RUN_KEY = "_kams_last_full_run"


def _keep_valid(key: str, options: list[str], default: str | None) -> None:
    """A remembered choice that is no longer offered (another context) falls back to the default."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default


def _context_selector(settings: Settings) -> str | None:
    names, current = data.contexts(settings)
    if not names:
        st.caption("Cluster: not configured")
        st.session_state.pop(CONTEXT_KEY, None)
        return None
    _keep_valid(CONTEXT_KEY, names, current or names[0])
    if CONTEXT_KEY not in st.session_state:
        st.session_state[CONTEXT_KEY] = current or names[0]
    return st.selectbox("Cluster context", names, key=CONTEXT_KEY,
                        help="The kubeconfig context KAMS reads. Set KAMS_CONTEXT to change the default.")


def _namespace_selector(settings: Settings, context: str | None) -> None:
    allowed = st.session_state.get(NAMESPACES_KEY)
    if allowed is not None:
        # Scoped by the access policy: only its namespaces, one at a time (never "All namespaces", so
        # every page asks for one allowed namespace). Listing namespaces is not needed for that.
        options = sorted(allowed)
        _keep_valid(NAMESPACE_KEY, options, options[0])
        st.selectbox("Namespace", options, key=NAMESPACE_KEY,
                     help="The namespaces the access policy opens to you.")
        return
    found = data.namespaces(settings, context) if context or settings.in_cluster else []
    options = [ALL_NAMESPACES, *(found if isinstance(found, list) else [])]
    if found is None:
        # The list is late (a slow API server): keep the person's choice, never hold up the page for it.
        chosen = st.session_state.get(NAMESPACE_KEY)
        options += [chosen] if chosen and chosen != ALL_NAMESPACES else []
    else:
        _keep_valid(NAMESPACE_KEY, options, ALL_NAMESPACES)
    st.selectbox("Namespace", options, key=NAMESPACE_KEY)


def _refresh_controls() -> None:
    if st.button("Refresh now", icon=":material/refresh:", width="stretch",
                 help="Forget cached data and ask Kubernetes and Prometheus again."):
        # Every page's cached answers are declared through ui.cache, which forgets them all here.
        data.clear_data_caches()
    st.selectbox("Auto-refresh", list(AUTO_REFRESH), key=AUTO_REFRESH_KEY)


def _auto_refresh(seconds: int | None) -> None:
    """Rerun the whole app every `seconds`: a timer fragment that triggers a full rerun when due.

    The fragment also runs during each full run (then it is not yet due), so the clock restarts after
    every interaction instead of interrupting someone who is busy with a filter.
    """
    st.session_state[_LAST_FULL_RUN_KEY] = time.monotonic()
    if not seconds:
        return

    @st.fragment(run_every=seconds)
    def _timer() -> None:
        if time.monotonic() - st.session_state.get(_LAST_FULL_RUN_KEY, 0.0) >= seconds * 0.9:
            st.rerun(scope="app")

    _timer()


def _connection_status(settings: Settings, context: str | None) -> None:
    st.subheader("Connections", divider="gray")
    for status in data.connection_statuses(settings, context):
        st.markdown(f"{status_icon(status.state)} **{status.source}**: {escape_markdown(status.text)}")


def render_sidebar(settings: Settings) -> Callable[[], None]:
    """Draw the sidebar's choices; return the function that draws its Connections panel, in its place,
    once the page body is drawn (pinging every source must never hold up the page)."""
    with st.sidebar:
        context = _context_selector(settings)
        _namespace_selector(settings, context)
        st.selectbox("Time range", list(TIME_RANGE_LABELS), key=TIME_RANGE_KEY,
                     index=list(TIME_RANGE_LABELS).index(DEFAULT_TIME_RANGE),
                     format_func=TIME_RANGE_LABELS.__getitem__)
        _refresh_controls()
        connections = st.container()
    _auto_refresh(current_filters().auto_refresh_seconds)

    def draw_connections() -> None:
        with connections:
            _connection_status(settings, context)

    return draw_connections
