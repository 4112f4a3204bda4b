"""KAMS: the Streamlit entry point and the frame every page shares (page config, banner, sidebar,
navigation). Run with `streamlit run app.py` (`make run` does)."""

from __future__ import annotations

import streamlit as st

from k8sdata.config import Settings
from ui.sidebar import render_sidebar

st.set_page_config(page_title="KAMS", page_icon="🚦", layout="wide")

settings = Settings.from_env()

# Only pages that exist are listed; later pages (pods, requests, logs, ...) are added here.
# st.navigation must come before any widget: a `pages/` folder makes Streamlit start the server's first
# run in its legacy multipage mode, and widgets drawn before this call would get other ids in that run
# than in every later one, so the first click of the first visitor would be lost.
navigation = st.navigation([
    st.Page("pages/overview.py", title="Overview", icon=":material/traffic:", default=True),
    st.Page("pages/pods.py", title="Pods", icon=":material/deployed_code:"),
    st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("pages/requests.py", title="Requests", icon=":material/monitoring:"),
    st.Page("pages/logs.py", title="Logs", icon=":material/article:"),
    st.Page("pages/security.py", title="Security", icon=":material/shield:"),
])

render_sidebar(settings)

if settings.demo:
    st.info(
        "Demo cluster: you are looking at KAMS's built-in demo (a stand-in Kubernetes API with two "
        "sample applications behind an ingress, a real Prometheus and Alertmanager, a Clair stand-in and "
        "a real S3 store). To monitor a real cluster, set KUBECONFIG (or create ~/.kube/config) and "
        "PROMETHEUS_URL, then start KAMS again with make run.",
        icon=":material/science:",
    )

navigation.run()
