"""Pages run only inside app.py's frame.

Because the project has a `pages/` folder, Streamlit starts a fresh server in its legacy multipage mode:
until some session has run app.py (whose st.navigation switches that mode off for the whole server), a
visitor who opens a deep link such as /pods gets pages/pods.py alone, without the sidebar, the filters
and the demo banner. A page calls `ensure_app_frame()` first: in that case it switches the legacy mode
off and reruns, and the rerun goes through app.py to the same page (both modes hash a page by its URL
path, so the deep link is kept).

Whether this run is a legacy one is read from the run itself (Streamlit's legacy runner, `_mpa_v1`, is on
the call stack), not only from the server-wide flag: when several first visitors arrive together, one
session's app.py may switch the flag off while another session's legacy run is already under way, and
that run must still rerun into the frame.
"""

from __future__ import annotations

import sys
from types import FrameType

import streamlit as st

#: The function Streamlit's script runner uses for a legacy (pages/ folder) run.
LEGACY_RUNNER = "_mpa_v1"


def is_legacy_run(frame: FrameType | None = None) -> bool:
    """True when the calling script runs under Streamlit's legacy multipage runner."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == LEGACY_RUNNER and "streamlit" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def ensure_app_frame() -> None:
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy mode: nothing to do
        return
    if PagesManager.uses_pages_directory or is_legacy_run(sys._getframe(1)):
        PagesManager.uses_pages_directory = False
        st.rerun()
