"""KAMS: the Streamlit entry point and the frame every page shares (sign-in, page config, banner,
sidebar, navigation). Run with `streamlit run app.py` (`make run` does)."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import streamlit as st

from k8sdata.access import Role, set_scope
from k8sdata.config import Settings
from ui import auth, data
from ui.sidebar import render_sidebar

st.set_page_config(page_title="KAMS", page_icon="🚦", layout="wide")


@dataclass(frozen=True)
class PageSpec:
    script: str
    title: str
    icon: str
    roles: tuple[Role, ...] = ("engineer",)

    @property
    def url_path(self) -> str:
        return self.script.removeprefix("pages/").removesuffix(".py")


#: Every page, and the roles that open it. The first a role opens is its home page.
PAGES = (
    PageSpec("pages/overview.py", "Overview", ":material/traffic:"),
    PageSpec("pages/health.py", "Health", ":material/monitor_heart:", ("engineer", "viewer")),
    PageSpec("pages/pods.py", "Pods", ":material/deployed_code:"),
    PageSpec("pages/alerts.py", "Alerts", ":material/notifications:"),
    PageSpec("pages/requests.py", "Requests", ":material/monitoring:"),
    PageSpec("pages/logs.py", "Logs", ":material/article:"),
    PageSpec("pages/security.py", "Security", ":material/shield:"),
    # The archive's trends and tables: as sensitive as the Security page, so the same roles.
    PageSpec("pages/history.py", "History", ":material/history:"),
)

run_started = time.monotonic()  # a 429 met from here on is retried when allowed (keep_retry_promises)
settings = Settings.from_env()
admission = auth.admit(settings)

# st.navigation must come before any widget: a `pages/` folder makes Streamlit start the server's first
# run in its legacy multipage mode, and widgets drawn before this call would get other ids in that run
# than in every later one, so the first click of the first visitor would be lost.
if admission.access is None:
    # Refused (or not signed in yet): one page at every address, and no page script runs, so nothing is
    # read from the cluster, Prometheus or S3 for this session.
    refusal = functools.partial(auth.render_refusal, admission)
    st.navigation([st.Page(refusal, title="KAMS", url_path="welcome", default=True)], position="hidden").run()
    st.stop()

auth.remember(admission)
# Every request this run sends (pages, cached reads that miss) is held to the person's namespaces.
set_scope(admission.access.namespaces)
role = admission.access.role
opened = [page for page in PAGES if role in page.roles]
navigation = st.navigation([
    st.Page(page.script, title=page.title, icon=page.icon, default=page is opened[0]) if page in opened
    # The address of a page this role does not open shows a refusal, not the page.
    else st.Page(functools.partial(auth.render_refused_page, page.title), title=page.title,
                 url_path=page.url_path, visibility="hidden")
    for page in PAGES])

with st.sidebar:
    auth.render_signed_in(admission)
draw_connections = render_sidebar(settings) if admission.access.engineer else None

if settings.demo:
    st.info(
        "Demo cluster: you are looking at KAMS's built-in demo (a stand-in Kubernetes API with two "
        "sample applications behind an ingress, a real Prometheus and Alertmanager, a Clair stand-in and "
        "a real S3 store). To monitor a real cluster, set KUBECONFIG (or create ~/.kube/config) and "
        "PROMETHEUS_URL, then start KAMS again with make run.",
        icon=":material/science:",
    )

navigation.run()
if draw_connections is not None:  # after the page body, in its place in the sidebar
    draw_connections()
data.keep_retry_promises(run_started)
