"""Cached access to the request (RED) metrics for the Requests page: ui.cache wrappers around
k8sdata.requests.conventions, k8sdata.requests.red, k8sdata.requests.patterns and k8sdata.requests.spikes.

Every entry is keyed by the Prometheus URL and the query's parameters (the client itself is not hashed:
the URL identifies it), so every viewer asking the same thing within the TTL shares one answer. Range
ends are rounded down to the TTL bucket (`TimeWindow.last`), so reruns and viewers in the same TTL
ask for the same range. Failures are never cached: a SourceError propagates out of the cached function
(Streamlit does not store exceptions), so the next rerun asks again.

Prometheus' warnings and infos about an answer (a partial response, a questionable query) travel with
the frame, in `frame.attrs` (read them with prometheus_warnings), so they are cached with the numbers
they qualify and the return types stay plain DataFrames.

Each function raises SourceError (NotConfigured without PROMETHEUS_URL); the page shows its sentence
for the panel that failed and draws the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pandas as pd

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.pods.history import history_step
from k8sdata.pods.owners import OwnerLookup, lookup_from_pods
from k8sdata.requests import conventions as conventions_module
from k8sdata.requests import patterns, red, spikes
from k8sdata.requests.conventions import Convention
from k8sdata.sources.prom import PromClient, collecting_warnings
from ui.cache import cached
from ui.data import DATA_TTL_SECONDS, pods_view, prom_client
from ui.filters import current_filters

#: Which conventions have data changes rarely (an app deployed, a mesh installed): ask once a minute.
CONVENTIONS_TTL_SECONDS = 60
#: Week-long range queries (the heatmap) are the page's slowest; a few minutes' staleness is invisible
#: in an hour-by-weekday average.
WEEKLY_TTL_SECONDS = 300
#: The heatmap's history and its sampling step: 7 days at 10 minutes (1,008 points per series).
HEATMAP_HISTORY = timedelta(days=7)
HEATMAP_STEP_SECONDS = 600.0
#: Chart steps: at least a minute, at most five (see chart_window).
MIN_CHART_STEP_SECONDS = 60.0
MAX_CHART_STEP_SECONDS = 300.0
#: History read before the charts' span so the first samples have a baseline (spikes' trailing window).
MOMENT_LOOKBACK = spikes.Tuning().window
#: The key in DataFrame.attrs of the Prometheus warnings about a frame's numbers.
WARNINGS_ATTR = "prometheus_warnings"


@dataclass(frozen=True)
class TimeWindow:
    """A range query's span: [start, end] sampled every `step` seconds (tz-aware UTC)."""

    start: datetime
    end: datetime
    step: float

    @classmethod
    def last(cls, span: timedelta, *, now: datetime | None = None, bucket_seconds: float = DATA_TTL_SECONDS,
             step: float | None = None) -> TimeWindow:
        """The last `span` up to now, the end rounded down to the cache bucket so viewers share it."""
        moment = (now or datetime.now(UTC)).timestamp()
        end = datetime.fromtimestamp(math.floor(moment / bucket_seconds) * bucket_seconds, UTC)
        start = end - span
        return cls(start, end, step if step is not None else history_step(start, end))

    def shifted(self, by: timedelta) -> TimeWindow:
        """The same span `by` earlier (the same period last week: by=7 days)."""
        return TimeWindow(self.start - by, self.end - by, self.step)


def _conventions_key(chosen: Sequence[Convention]) -> str:
    # Convention is a frozen dataclass: its repr names every field, so it identifies the convention.
    return repr(tuple(chosen))


def _client(settings: Settings) -> PromClient:
    return prom_client(settings)


def _noting(frame: pd.DataFrame, *notes: Sequence[str]) -> pd.DataFrame:
    """`frame` carrying these warnings (repeats dropped: every query of a panel may warn the same)."""
    frame.attrs[WARNINGS_ATTR] = list(dict.fromkeys(note for group in notes for note in group))
    return frame


def prometheus_warnings(frame: pd.DataFrame) -> list[str]:
    """What Prometheus warned about while answering for this frame (server text: untrusted)."""
    return list(frame.attrs.get(WARNINGS_ATTR) or [])


# --- the cached entries ------------------------------------------------------------------------------
# Leading-underscore parameters are not hashed by Streamlit: the URL and the key strings identify them.
@cached(ttl=CONVENTIONS_TTL_SECONDS)
def _detected(url: str, candidates_key: str, namespace: str, _prom: PromClient,
              _candidates: tuple[Convention, ...]) -> list[Convention]:
    return conventions_module.detect_conventions(_prom, _candidates, namespace=namespace)


@cached(ttl=DATA_TTL_SECONDS)
def _summary(url: str, conventions_key: str, level: Literal["workload", "pod"], namespace: str, window: str,
             _prom: PromClient, _conventions: tuple[Convention, ...], _owners: OwnerLookup) -> pd.DataFrame:
    with collecting_warnings() as seen:
        frame = red.red_summary(_prom, _conventions, level=level, namespace=namespace, window=window,
                                owners=_owners)
    return _noting(frame, seen)


@cached(ttl=DATA_TTL_SECONDS)
def _history(url: str, conventions_key: str, namespace: str, workload: str, start: datetime, end: datetime,
             step: float, _prom: PromClient, _conventions: tuple[Convention, ...], _owners: OwnerLookup
             ) -> pd.DataFrame:
    with collecting_warnings() as seen:
        frame = red.red_history(_prom, _conventions, namespace=namespace, workload=workload, start=start,
                                end=end, step=step, owners=_owners)
    return _noting(frame, seen)


@cached(ttl=DATA_TTL_SECONDS)
def _breakdown(url: str, conventions_key: str, namespace: str, workload: str, window: str,
               _prom: PromClient, _conventions: tuple[Convention, ...], _owners: OwnerLookup) -> pd.DataFrame:
    with collecting_warnings() as seen:
        frame = red.red_breakdown(_prom, _conventions, namespace=namespace, workload=workload, window=window,
                                  owners=_owners)
    return _noting(frame, seen)


@cached(ttl=WEEKLY_TTL_SECONDS, max_entries=64)
def _volume(url: str, conventions_key: str, namespace: str, workload: str, start: datetime, end: datetime,
            step: float, _prom: PromClient, _conventions: tuple[Convention, ...], _owners: OwnerLookup
            ) -> pd.DataFrame:
    with collecting_warnings() as seen:
        frame = red.request_volume(_prom, _conventions, namespace=namespace, workload=workload, start=start,
                                   end=end, step=step, owners=_owners)
    return _noting(frame, seen)


@cached(ttl=DATA_TTL_SECONDS)
def _moments(url: str, conventions_key: str, namespace: str, workload: str, start: datetime, end: datetime,
             step: float, _history_frame: pd.DataFrame) -> pd.DataFrame:
    # Keyed like the history it is computed from (hashing a long frame on every rerun would cost more
    # than the detection itself).
    return spikes.notable_moments(_history_frame)


def owner_lookup(settings: Settings) -> OwnerLookup:
    """Names from the pods' owner references, for pods whose series and kube-state-metrics name no
    workload: the cached pods list of the sidebar's cluster, read only when such pods exist. Without a
    readable cluster, no names (the pods' own names are the fallback)."""
    context = current_filters().context

    def lookup(keys: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], str]:
        try:
            pods = pods_view(settings, context, None).frame
        except SourceError:
            return {}
        return lookup_from_pods(pods)(keys)
    return lookup


# --- what the page calls -----------------------------------------------------------------------------
def candidate_conventions(settings: Settings) -> tuple[Convention, ...]:
    """The built-in conventions plus the custom one(s) configured in the settings."""
    return tuple(conventions_module.conventions_from_settings(settings))


def detected_conventions(settings: Settings, namespace: str | None = None) -> tuple[Convention, ...]:
    """The conventions with request metrics in Prometheus right now, in `namespace` (None = any; one
    query, cached a minute)."""
    prom = _client(settings)
    candidates = candidate_conventions(settings)
    return tuple(_detected(prom.url, _conventions_key(candidates), namespace or "", prom, candidates))


def summary(settings: Settings, chosen: Sequence[Convention], *,
            level: Literal["workload", "pod"] = "workload", namespace: str | None = None, window: str = "5m"
            ) -> pd.DataFrame:
    """red.red_summary (RED_COLUMNS) for a namespace (None = all) over the last `window`."""
    prom, chosen = _client(settings), tuple(chosen)
    return _summary(prom.url, _conventions_key(chosen), level, namespace or "", window, prom, chosen,
                    owner_lookup(settings))


def history(settings: Settings, chosen: Sequence[Convention], span: TimeWindow, *,
            namespace: str | None = None, workload: str = "") -> pd.DataFrame:
    """red.red_history's long frame (time, namespace, workload, metric, value) over `span`."""
    prom, chosen = _client(settings), tuple(chosen)
    return _history(prom.url, _conventions_key(chosen), namespace or "", workload, span.start, span.end,
                    span.step, prom, chosen, owner_lookup(settings))


def chart_window(time_range: timedelta, *, now: datetime | None = None) -> TimeWindow:
    """The charts' span for the sidebar's time range, with a step the spike detector can judge: at least
    a minute (finer rates are noise to a robust baseline) and at most MAX_CHART_STEP_SECONDS (so its
    trailing baseline window holds enough samples, even over seven days)."""
    span = TimeWindow.last(time_range, now=now)
    step = min(max(span.step, MIN_CHART_STEP_SECONDS), MAX_CHART_STEP_SECONDS)
    return TimeWindow(span.start, span.end, step)


def history_and_moments(settings: Settings, chosen: Sequence[Convention], span: TimeWindow, *,
                        namespace: str | None = None, workload: str = ""
                        ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The history over `span` and its notable moments (spikes.MOMENT_COLUMNS, newest first; None when
    the detector failed, so the charts are still drawn).

    The history is read from MOMENT_LOOKBACK before the span, so that the first samples shown have a
    trailing baseline too; both frames are then cut to the span. Raises SourceError."""
    fetched = TimeWindow(span.start - MOMENT_LOOKBACK, span.end, span.step)
    full = history(settings, chosen, fetched, namespace=namespace, workload=workload)
    shown = full[full["time"] >= span.start].reset_index(drop=True) if not full.empty else full
    shown = _noting(shown, prometheus_warnings(full))
    if full.empty:
        return shown, pd.DataFrame(columns=spikes.MOMENT_COLUMNS)
    prom, chosen = _client(settings), tuple(chosen)
    try:
        found = _moments(prom.url, _conventions_key(chosen), namespace or "", workload, fetched.start,
                         fetched.end, fetched.step, full)
    except (ValueError, KeyError, TypeError, IndexError):
        return shown, None
    return shown, found[found["time"] >= span.start].reset_index(drop=True)


def breakdown(settings: Settings, chosen: Sequence[Convention], *, namespace: str | None = None,
              workload: str = "", window: str = "5m") -> pd.DataFrame:
    """red.red_breakdown: one row per namespace, workload, path, method and status code."""
    prom, chosen = _client(settings), tuple(chosen)
    return _breakdown(prom.url, _conventions_key(chosen), namespace or "", workload, window, prom, chosen,
                      owner_lookup(settings))


def volume(settings: Settings, chosen: Sequence[Convention], span: TimeWindow, *,
           namespace: str | None = None, workload: str = "") -> pd.DataFrame:
    """red.request_volume: the selection's total requests per second (time, rps) over `span`."""
    prom, chosen = _client(settings), tuple(chosen)
    return _volume(prom.url, _conventions_key(chosen), namespace or "", workload, span.start, span.end,
                   span.step, prom, chosen, owner_lookup(settings))


def weekly_heatmap(settings: Settings, chosen: Sequence[Convention], *, namespace: str | None = None,
                   workload: str = "") -> pd.DataFrame:
    """patterns.weekly_heatmap over the last HEATMAP_HISTORY (sampled every HEATMAP_STEP_SECONDS)."""
    span = TimeWindow.last(HEATMAP_HISTORY, bucket_seconds=WEEKLY_TTL_SECONDS, step=HEATMAP_STEP_SECONDS)
    weekly = volume(settings, chosen, span, namespace=namespace, workload=workload)
    return _noting(patterns.weekly_heatmap(weekly), prometheus_warnings(weekly))


def period_comparison(settings: Settings, chosen: Sequence[Convention], span: TimeWindow, shift: timedelta,
                      *, namespace: str | None = None, workload: str = "") -> pd.DataFrame:
    """patterns.period_comparison of `span` against the same span `shift` earlier."""
    current = volume(settings, chosen, span, namespace=namespace, workload=workload)
    previous = volume(settings, chosen, span.shifted(shift), namespace=namespace, workload=workload)
    return _noting(patterns.period_comparison(current, previous, shift=shift), prometheus_warnings(current),
                   prometheus_warnings(previous))
