"""Cached access for the founders' health page: k8sdata.health_page over ui.data's shared caches.

No cache of its own: the pods list comes from ui.data.pods_view (one list per TTL for every viewer, the
watch cache in big clusters), the 5-minute numbers and alerts from ui.data.cached_prom (answers shared
per 15-second bucket), and the day-to-month figures from cached_prom(history=True), whose answers are
kept HISTORY_TTL_SECONDS: a 30-day availability hardly moves in ten minutes, and 30-day queries are
among the heaviest Prometheus gets.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.health_page import HealthPageData, collect_health_page
from k8sdata.requests import slo
from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, conventions_from_settings
from ui.data import cached_prom, or_error, pods_view
from ui.filters import ACCESS_NAMESPACES_KEY


def allowed_namespaces(value: object) -> frozenset[str] | None:
    """The session's namespace scope as a frozenset (None = every namespace). Any iterable of names
    is accepted (a set, a list, a tuple); a single string is one namespace, not its letters."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        return frozenset(str(name) for name in value)
    raise TypeError(f"{ACCESS_NAMESPACES_KEY} must be a set of namespace names, not {type(value).__name__}")


def _pods(settings: Settings, context: str | None, namespaces: frozenset[str] | None
          ) -> pd.DataFrame | SourceError:
    if namespaces is not None and not namespaces:
        return pd.DataFrame(columns=["namespace", "name", "app", "status", "phase", "is_ready", "restarts",
                                     "workload"])
    # One namespace is listed alone (the API server filters); several are cut from the whole list.
    return or_error(lambda: pods_view(settings, context, slo.query_namespace(namespaces) or None).frame)


def health_page_data(settings: Settings, context: str | None, namespaces: frozenset[str] | None,
                     target_percent: float) -> HealthPageData:
    """Everything the page shows. Never raises a SourceError: each section carries its own."""
    conventions = or_error(lambda: conventions_from_settings(settings))
    prom = or_error(lambda: cached_prom(settings))
    history = or_error(lambda: cached_prom(settings, history=True))
    if isinstance(conventions, SourceError):  # custom request settings that are no names: say so there
        prom, conventions = conventions, BUILTIN_CONVENTIONS
    return collect_health_page(
        _pods(settings, context, namespaces),
        prom,
        namespaces,
        target_percent=target_percent,
        now=datetime.now(UTC),
        conventions=conventions,
        history_prom=None if isinstance(history, SourceError) else history,
    )
