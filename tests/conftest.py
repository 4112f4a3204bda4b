"""Shared pytest setup. Server fixtures live in tests/plugins/, one module per area, so that each
area's fixtures can change without touching the others. Servers start lazily, once per session, on
free ports, and stop at the end."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The real `requests` library, imported before any AppTest runs a page file as its main script: that puts
# pages/ first on sys.path, where pages/requests.py (the Requests page) would shadow the library that
# kubernetes and k8sdata.sources.prom import. A served app is not affected (app.py's folder is on sys.path).
import requests  # noqa: E402, F401

pytest_plugins = [
    "tests.plugins.kube_api",
    "tests.plugins.realcluster",
    "tests.plugins.prometheus",
    "tests.plugins.s3",
    "tests.plugins.app",
    "tests.plugins.alertmanager",
    "tests.plugins.browser",
    "tests.plugins.auth",
]
