"""Pages run only inside app.py's frame.

Because the project has a `pages/` folder, Streamlit starts a fresh server in its legacy multipage mode:
until some session has run app.py (whose st.navigation switches that mode off for the whole server), a
visitor who opens a deep link such as /pods gets pages/pods.py alone, without the sidebar, the filters
and the demo banner. A page calls `ensure_app_frame()` first: in that case it switches the legacy mode
off and reruns, and the rerun goes through app.py to the same page (both modes hash a page by its URL
path, so the deep link is kept).
"""

from __future__ import annotations

import streamlit as st


def ensure_app_frame() -> None:
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy mode: nothing to do
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
