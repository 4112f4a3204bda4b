"""The filters chosen in the sidebar, kept in st.session_state so every page reads the same values
through `current_filters()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd
import streamlit as st

CONTEXT_KEY = "kams_context"
NAMESPACE_KEY = "kams_namespace"
TIME_RANGE_KEY = "kams_time_range"
AUTO_REFRESH_KEY = "kams_auto_refresh"

ALL_NAMESPACES = "All namespaces"
#: The namespaces the access policy opens to this session (None = every one); set by ui.auth.
ACCESS_NAMESPACES_KEY = "kams_access_namespaces"

TIME_RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
TIME_RANGE_LABELS: dict[str, str] = {
    "15m": "Last 15 minutes", "1h": "Last hour", "6h": "Last 6 hours", "24h": "Last 24 hours",
    "7d": "Last 7 days",
}
DEFAULT_TIME_RANGE = "1h"

#: Auto-refresh choices: label -> seconds (None = off).
AUTO_REFRESH: dict[str, int | None] = {"Off": None, "Every 30 seconds": 30, "Every minute": 60,
                                       "Every 5 minutes": 300}


@dataclass(frozen=True)
class Filters:
    context: str | None  # kubeconfig context (None = not configured / the default)
    namespace: str | None  # None = all namespaces
    time_range_key: str  # "1h"
    auto_refresh_seconds: int | None

    @property
    def time_range(self) -> timedelta:
        return TIME_RANGES[self.time_range_key]

    @property
    def time_range_label(self) -> str:
        return TIME_RANGE_LABELS[self.time_range_key]

    @property
    def namespace_label(self) -> str:
        return self.namespace or "all namespaces"


def current_filters() -> Filters:
    """What the sidebar selected (defaults before the sidebar has been drawn, e.g. in page tests)."""
    state = st.session_state
    namespace = state.get(NAMESPACE_KEY)
    namespace = None if not namespace or namespace == ALL_NAMESPACES else str(namespace)
    allowed = state.get(ACCESS_NAMESPACES_KEY)
    if allowed is not None and namespace not in allowed:
        # A person scoped to some namespaces never looks at all of them, nor at another one, whatever
        # the widget's state says: every page reads its namespace from here.
        # ("_" is no namespace's name: an empty scope, which the policy cannot give, shows nothing.)
        namespace = min(allowed) if allowed else "_"
    time_range = state.get(TIME_RANGE_KEY)
    return Filters(
        context=state.get(CONTEXT_KEY),
        namespace=namespace,
        time_range_key=time_range if time_range in TIME_RANGES else DEFAULT_TIME_RANGE,
        auto_refresh_seconds=AUTO_REFRESH.get(state.get(AUTO_REFRESH_KEY) or "Off"),
    )


# --- the Pods page's own filters (the namespace is the sidebar's) -------------------------------------
#: Columns of k8sdata.pods.frames.pods_frame that the free-text search looks in.
SEARCHED_COLUMNS = ("namespace", "name", "workload", "node", "ip", "status", "labels")


@dataclass(frozen=True)
class PodFilters:
    """What the Pods page narrows the table to; empty = no narrowing. The label selector is not here:
    it goes to the API server (labelSelector), so only matching pods are transferred."""

    workloads: tuple[str, ...] = field(default_factory=tuple)  # "Deployment web", as workload_label()
    statuses: tuple[str, ...] = field(default_factory=tuple)  # kubectl's STATUS words
    nodes: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""  # case-insensitive substring of any SEARCHED_COLUMNS


def workload_labels(frame: pd.DataFrame) -> pd.Series:
    """"Deployment web" per pod: kind and name, so a StatefulSet and a Deployment of one name differ."""
    return frame["workload_kind"] + " " + frame["workload"]


def filter_pods(frame: pd.DataFrame, chosen: PodFilters) -> pd.DataFrame:
    """The rows of a pods frame that pass every chosen filter, in pandas (vectorised: 100,000 rows in
    tens of milliseconds). Returns a new frame; the cached input is never modified."""
    keep = pd.Series(True, index=frame.index)
    if chosen.workloads:
        keep &= workload_labels(frame).isin(chosen.workloads)
    if chosen.statuses:
        keep &= frame["status"].isin(chosen.statuses)
    if chosen.nodes:
        keep &= frame["node"].isin(chosen.nodes)
    text = chosen.text.strip()
    if text:
        found = pd.Series(False, index=frame.index)
        for column in SEARCHED_COLUMNS:
            found |= frame[column].str.contains(text, case=False, regex=False, na=False)
        keep &= found
    return frame[keep]


# --- the Pods table's order and pages -----------------------------------------------------------------
#: The most rows the Pods table sends to the browser at once. All 100,000 rows of a big cluster are ~28 MB
#: per rerun; counts, filters, sorting and the CSV download still cover every row.
TABLE_PAGE_ROWS = 1_000


def sort_rows(frame: pd.DataFrame, column: str | None, descending: bool = False) -> pd.DataFrame:
    """Every row sorted by one column, in pandas, before the table is cut into pages (the browser's own
    header sort only sees the page it was sent). Stable, so ties keep the incoming (kubectl's namespace,
    name) order; empty cells last either way. No column: the frame as it is."""
    if not column:
        return frame
    return frame.sort_values(column, ascending=not descending, kind="stable", na_position="last")


def page_count(rows: int, page_rows: int | None = None) -> int:
    """How many pages of `page_rows` (default TABLE_PAGE_ROWS) `rows` rows make; at least 1."""
    size = page_rows or TABLE_PAGE_ROWS
    return max(1, -(-rows // size))


def page_of(frame: pd.DataFrame, page: int, page_rows: int | None = None) -> pd.DataFrame:
    """Rows of page `page` (1-based, clamped to the pages there are) of `page_rows` rows each."""
    size = page_rows or TABLE_PAGE_ROWS
    page = min(max(page, 1), page_count(len(frame), size))
    return frame.iloc[(page - 1) * size: page * size]
