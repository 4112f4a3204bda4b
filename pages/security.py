"""Security: score and grade, Pod Security Standards per namespace, workload hygiene, RBAC, network
exposure, vulnerabilities and outdated software.

Thin: read the filters, draw with ui.security_view (ui.security_data reads and caches the scan,
k8sdata.security does the work). Each source that fails becomes one sentence in its tab; the other tabs
keep working.
"""

from __future__ import annotations

from k8sdata.config import Settings
from ui.filters import current_filters
from ui.frame_guard import ensure_app_frame
from ui.security_view import render_security_page

ensure_app_frame()

render_security_page(Settings.from_env(), current_filters())
