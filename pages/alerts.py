"""Alerts: what fires now (Prometheus), what Alertmanager does with it (silenced, inhibited), and
whether the rules themselves evaluate.

Thin: read the filters, ask ui.alerts_data (k8sdata.alerts does the work), draw with ui.alerts_view.
Each panel shows its own sentence when its source fails; the others keep working.
"""

from __future__ import annotations

import streamlit as st

from k8sdata.alerts import in_namespace
from k8sdata.config import Settings
from k8sdata.errors import SourceError
from ui import alerts_data, alerts_view, data
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame

ensure_app_frame()

settings = Settings.from_env()
filters = current_filters()

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.title("Alerts")
if refresh.button("Refresh", icon=":material/refresh:", key="kams_alerts_refresh"):
    alerts_data.clear()

prometheus = data.or_error(lambda: alerts_data.prometheus_alerts(settings))
alertmanager = data.or_error(lambda: alerts_data.alertmanager_alerts(settings))
rules = data.or_error(lambda: alerts_data.rule_health(settings))
if not isinstance(prometheus, SourceError):
    prometheus = in_namespace(prometheus, filters.namespace)
if not isinstance(alertmanager, SourceError):
    alertmanager = in_namespace(alertmanager, filters.namespace)

alerts_view.render_numbers(None if isinstance(prometheus, SourceError) else prometheus,
                           None if isinstance(alertmanager, SourceError) else alertmanager,
                           None if isinstance(rules, SourceError) else rules)
if filters.namespace:
    st.caption("Only alerts labelled with the chosen namespace are listed; cluster-wide alerts (a scrape "
               "target down, for example) show under All namespaces.")
alerts_view.render_prometheus_alerts(prometheus, filters.namespace_label)
alerts_view.render_alertmanager(alertmanager, filters.namespace_label)
alerts_view.render_rules(rules)
