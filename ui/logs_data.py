"""The Logs page's data: which pods can be read, the log lines a viewer is reading (kept in the viewer's
session, so searching, filtering and following never re-read what was already read), and the events.

Logs are per viewer and live, so they are not in a shared cache: the first read of a selection
(k8sdata.logs.containers.read_logs) is kept in st.session_state with its follow cursor, and each follow step
(k8sdata.logs.containers.follow) appends only the lines after that cursor. What is kept is bounded
(MAX_KEPT_LINES), however chatty the pods are. Pods and events come through ui.data's shared caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import RateLimited, SourceError
from k8sdata.logs import containers as logs
from k8sdata.logs.containers import LogLine, LogRequest, LogTarget
from k8sdata.logs.events import security_events
from k8sdata.pods.frames import events_frame
from k8sdata.sources.breaker import retry_delay
from ui import data

#: The most lines one viewer keeps (the oldest go first while following). At the 10,000-character cap
#: per line this is still bounded; typical lines make it a few MB.
MAX_KEPT_LINES = 20_000
#: The most containers one read may ask for (each is one request; a big workload is still readable).
MAX_TARGETS = 60
_STATE_KEY = "_kams_logs_state"


@dataclass(frozen=True)
class LogSelection:
    """What a viewer asked to read; a new selection means a new read."""

    context: str | None
    targets: tuple[LogTarget, ...]
    request: LogRequest


@dataclass
class LogsState:
    """The lines read for one selection, and where following continues from."""

    selection: LogSelection
    lines: list[LogLine]
    errors: dict[LogTarget, SourceError]
    cursor: Any  # k8sdata.logs.containers.FollowCursor
    read_at: datetime
    dropped: int = 0  # lines let go from the start to stay under MAX_KEPT_LINES
    appended: int = 0  # lines added by following since the read
    follow_error: SourceError | None = field(default=None)


def pod_key(pod: dict[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}"


def _bounded(lines: list[LogLine]) -> tuple[list[LogLine], int]:
    """The newest MAX_KEPT_LINES lines and how many older ones were let go."""
    kept = logs.keep_newest([], lines, MAX_KEPT_LINES)
    return kept, len(lines) - len(kept)


def current_logs(selection: LogSelection) -> LogsState | None:
    """The viewer's kept read of exactly this selection, if any."""
    state: LogsState | None = st.session_state.get(_STATE_KEY)
    return state if state is not None and state.selection == selection else None


def read(settings: Settings, selection: LogSelection, *, again: bool = False) -> LogsState:
    """The selection's lines: the kept read, or a new read (when the selection changed or `again`).
    One failing container is an entry in `errors`; the others are still read. Raises SourceError only
    when no client can be made."""
    kept = None if again else current_logs(selection)
    if kept is not None and not _retry_due(kept):
        return kept
    kube = data.kube_client(settings, selection.context)
    batch = logs.read_logs(kube, selection.targets, selection.request)
    lines, dropped = _bounded(list(batch.lines))
    state = LogsState(selection, lines, dict(batch.errors), batch.cursor, datetime.now(UTC), dropped)
    st.session_state[_STATE_KEY] = state
    return state


def _retry_due(state: LogsState) -> bool:
    """A container answered 429 and the time its server allowed has passed: the page promised to read it
    again then (ui.data.keep_retry_promises reruns the page), so the kept read is not enough."""
    now = datetime.now(UTC)
    return any(isinstance(error, RateLimited) and now >= state.read_at + timedelta(seconds=retry_delay(error))
               for error in state.errors.values())


def follow(settings: Settings, state: LogsState) -> int:
    """Append the lines written since the last read or follow step (no duplicates, none lost: the
    cursor is k8sdata.logs.containers's). Returns how many were added. A container that fails now (its pod was
    deleted, access revoked) gets its error; the others keep following."""
    kube = data.kube_client(settings, state.selection.context)
    try:
        batch = logs.follow(kube, state.selection.targets, state.cursor, state.selection.request)
    except SourceError as error:
        state.follow_error = error
        return 0
    state.follow_error = None
    state.cursor = batch.cursor
    answered = {(line.namespace, line.pod, line.container) for line in batch.lines}
    for target in list(state.errors):
        # A container that answers again (e.g. it has started) is no longer shown as failing.
        if (target.namespace, target.pod, target.container) in answered:
            del state.errors[target]
    state.errors.update(batch.errors)
    if batch.lines:
        before = len(state.lines) + len(batch.lines)
        state.lines = logs.keep_newest(state.lines, batch.lines, MAX_KEPT_LINES)
        state.dropped += before - len(state.lines)
        state.appended += len(batch.lines)
    return len(batch.lines)


# --- events ----------------------------------------------------------------------------------------
def cluster_events(settings: Settings, context: str | None, namespace: str | None) -> pd.DataFrame:
    """k8sdata.pods.frames.events_frame of the namespace's events (None = all), newest first, from ui.data's
    shared cache (DATA_TTL_SECONDS). Raises SourceError."""
    return events_frame(data.cached_kube(settings, context).list_events(namespace))


def cluster_security_events(settings: Settings, context: str | None, namespace: str | None
                            ) -> pd.DataFrame:
    """The security and reliability events (k8sdata.logs.events.security_events). Raises SourceError."""
    return security_events(cluster_events(settings, context, namespace))
