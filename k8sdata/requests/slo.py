"""Service level: each application's availability and p95 latency over the last day, 7 and 30 days,
against an availability target (KAMS_SLO_AVAILABILITY, a percentage; 99.9 by default).

Availability = 1 - 5xx requests / all requests over the window: k8sdata.requests.red.red_summary's error_ratio
(the 5xx share) from the request-metric conventions KAMS detects, so it counts what the Requests page
counts. No traffic in a window is no availability (None), not 100 %: nothing was measured.

Prometheus' rate() divides by the whole window, so over a window longer than the history it holds the
request rate is diluted, but the error share (a ratio of two rates over the same window) and the
latency quantiles are still those of the requests there are. `data_began` says since when Prometheus has
request data, so a page can say that a 30-day figure covers fewer days.

Pure functions (the target, the maths, the table) and two fetchers that send a fixed number of queries
whatever the number of applications. No streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import pandas as pd

from k8sdata.overview import PromSource
from k8sdata.pods.owners import OwnerLookup
from k8sdata.requests.conventions import Convention
from k8sdata.requests.queries import duration_seconds, requests_first_seen
from k8sdata.requests.red import one_convention_per_workload, red_summary

#: The environment variable of the availability target (to move into k8sdata.config.Settings).
SLO_SETTING = "KAMS_SLO_AVAILABILITY"
#: Three nines: the target most SaaS contracts start from.
DEFAULT_AVAILABILITY_PERCENT = 99.9
#: The windows judged, shortest first: PromQL durations.
SLO_WINDOWS: tuple[str, ...] = ("1d", "7d", "30d")
WINDOW_LABELS: Mapping[str, str] = {"1d": "Last day", "7d": "Last 7 days", "30d": "Last 30 days"}
#: How finely data_began finds the start of the history (its subquery's step).
DATA_BEGAN_RESOLUTION = "1h"

Verdict = Literal["meets", "below", "no traffic"]
VERDICT_WORDS: Mapping[Verdict, str] = {"meets": "Meets the target", "below": "Below the target",
                                        "no traffic": "No traffic"}

#: fetch_slo's raw columns (one row per application and window).
RAW_COLUMNS = ["namespace", "app", "window", "rps", "error_ratio", "p95_seconds"]
#: slo_table's columns.
SLO_COLUMNS = ["namespace", "app", "window", "period", "requests", "availability_percent", "target_percent",
               "verdict", "budget_left_percent", "p95_seconds", "covered_seconds", "since_data_began"]


class SloSettingError(ValueError):
    """KAMS_SLO_AVAILABILITY is not a usable percentage; str() is the sentence to show."""


# --- the target ------------------------------------------------------------------------------------
def availability_target(environ: Mapping[str, str]) -> float:
    """The availability target in percent (0 < target < 100) from `environ` (e.g. os.environ), the
    default when unset or blank. "99.95" and "99.95%" are both read as 99.95 %. Raises SloSettingError
    with a sentence for anything else: 100 % leaves no error budget, so it is refused too."""
    raw = (environ.get(SLO_SETTING) or "").strip()
    if not raw:
        return DEFAULT_AVAILABILITY_PERCENT
    text = raw.removesuffix("%").strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value < 100:
        raise SloSettingError(
            f"{SLO_SETTING} must be a percentage above 0 and below 100, such as 99.9 (three nines), "
            f"not {raw!r}. 100 is refused because it leaves no room for a single failed request.")
    return value


# --- the maths -------------------------------------------------------------------------------------
def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # any cell; what float() rejects is caught
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def availability(error_ratio: object) -> float | None:
    """1 - the 5xx share (0..1); None when there was no traffic (red_summary's NaN error ratio)."""
    ratio = _finite(error_ratio)
    if ratio is None:
        return None
    return min(1.0, max(0.0, 1.0 - ratio))


def verdict(available: float | None, target_percent: float) -> Verdict:
    """Whether an availability (0..1) meets a target (percent). Equal to the target meets it."""
    if available is None:
        return "no traffic"
    # Rounded to 1e-9 so 99.9 % computed from counts is not "below" a 99.9 target by float noise.
    return "meets" if round(available * 100, 9) >= target_percent else "below"


def budget_left(available: float | None, target_percent: float) -> float | None:
    """Share of the error budget left (1 = untouched, 0 = used up, negative = overspent): the budget is
    the failures the target allows (1 - target), the spending is the failures seen (1 - availability).
    None without traffic."""
    if available is None:
        return None
    allowed = 1.0 - target_percent / 100
    if allowed <= 0:
        raise ValueError("a target of 100 % or more leaves no error budget")
    return 1.0 - (1.0 - available) / allowed


# --- namespaces --------------------------------------------------------------------------------------
def query_namespace(namespaces: frozenset[str] | None) -> str:
    """The namespace to put in queries: the one allowed, else "" (all; frames are filtered after)."""
    return next(iter(namespaces)) if namespaces is not None and len(namespaces) == 1 else ""


def in_namespaces(frame: pd.DataFrame, namespaces: frozenset[str] | None) -> pd.DataFrame:
    """The rows of the allowed namespaces (None = all). Rows without a namespace belong to none."""
    if namespaces is None or frame.empty:
        return frame
    return frame[frame["namespace"].isin(namespaces)].reset_index(drop=True)


# --- fetching ----------------------------------------------------------------------------------------
def fetch_slo(prom: PromSource, conventions: Sequence[Convention], namespaces: frozenset[str] | None, *,
              windows: Sequence[str] = SLO_WINDOWS, at: datetime | None = None,
              owners: OwnerLookup | None = None) -> pd.DataFrame:
    """RAW_COLUMNS: per application (each from its most direct convention, as the Overview names it)
    and window, red_summary's rps, 5xx share and p95. len(windows) x red_summary's 4 (or 5) queries per
    convention; none when `namespaces` is empty."""
    if namespaces is not None and not namespaces:
        return pd.DataFrame(columns=RAW_COLUMNS)
    namespace = query_namespace(namespaces)
    frames = []
    for window in windows:
        summary = red_summary(prom, conventions, namespace=namespace, window=window, at=at,  # type: ignore[arg-type]
                              owners=owners)
        summary = one_convention_per_workload(summary, conventions)
        summary = summary[summary["workload"] != ""]
        frames.append(summary.rename(columns={"workload": "app"}).assign(window=window)[RAW_COLUMNS])
    frames = [frame for frame in frames if not frame.empty]
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RAW_COLUMNS)
    return in_namespaces(raw, namespaces)


def data_began(prom: PromSource, conventions: Sequence[Convention], namespaces: frozenset[str] | None, *,
               window: str = "30d", at: datetime | None = None) -> datetime | None:
    """When the first request sample of the selection lies, within the last `window` (to an hour), or
    None when there is none. One query per convention. With several namespaces allowed, the query spans
    all namespaces (a history's start is not a secret, and it keeps the query count fixed)."""
    if namespaces is not None and not namespaces:
        return None
    namespace = query_namespace(namespaces)
    first: float | None = None
    for convention in conventions:
        query = requests_first_seen(convention, namespace=namespace, window=window,
                                    resolution=DATA_BEGAN_RESOLUTION)
        frame = prom.instant(query, at)
        for value in frame.get("value", pd.Series(dtype="float64")):
            seen = _finite(value)
            if seen is not None and (first is None or seen < first):
                first = seen
    return None if first is None else datetime.fromtimestamp(first, UTC)


# --- the table -------------------------------------------------------------------------------------
def covered_seconds(window: str, began: datetime | None, now: datetime) -> tuple[float, bool]:
    """(seconds of the window that have data, whether data began inside the window)."""
    length = duration_seconds(window)
    if began is None:
        return length, False
    held = max(0.0, (now - began).total_seconds())
    return (held, True) if held < length else (length, False)


def slo_table(raw: pd.DataFrame, target_percent: float, began: datetime | None, now: datetime
              ) -> pd.DataFrame:
    """SLO_COLUMNS from fetch_slo's rows: the availability (percent, None without traffic), the verdict,
    the error budget left (percent of the budget, negative when overspent), the requests counted (the
    rate times the window: rate() divides by the whole window, so this is the count even when the
    history is shorter) and how much of the window the figures cover."""
    rows = []
    for row in raw.itertuples(index=False):
        available = availability(row.error_ratio)
        left = budget_left(available, target_percent)
        rps = _finite(row.rps)
        covered, short = covered_seconds(str(row.window), began, now)
        rows.append({
            "namespace": str(row.namespace),
            "app": str(row.app),
            "window": str(row.window),
            "period": WINDOW_LABELS.get(str(row.window), str(row.window)),
            "requests": None if rps is None else round(rps * duration_seconds(str(row.window))),
            "availability_percent": None if available is None else available * 100,
            "target_percent": target_percent,
            "verdict": VERDICT_WORDS[verdict(available, target_percent)],
            "budget_left_percent": None if left is None else left * 100,
            "p95_seconds": _finite(row.p95_seconds),
            "covered_seconds": covered,
            "since_data_began": short,
        })
    frame = pd.DataFrame(rows, columns=SLO_COLUMNS)
    for column in ("availability_percent", "budget_left_percent", "p95_seconds", "target_percent",
                   "covered_seconds"):
        frame[column] = frame[column].astype("float64")
    frame["requests"] = frame["requests"].astype("Int64")
    order = {window: index for index, window in enumerate(SLO_WINDOWS)}
    return (frame.assign(_order=frame["window"].map(order).fillna(len(order)))
            .sort_values(["namespace", "app", "_order"], kind="stable").drop(columns="_order")
            .reset_index(drop=True))


def duration_words(seconds: float) -> str:
    """A span for a sentence: "26 hours", "8 days", "1 day" (whole hours under two days)."""
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} hour{'' if hours == 1 else 's'}"
    days = round(seconds / 86_400)
    return f"{days} day{'' if days == 1 else 's'}"


def since_words(began: datetime | None, now: datetime) -> str:
    """"8 days" / "26 hours" of history, for "the figures cover only ..."; "" without data."""
    if began is None:
        return ""
    return duration_words(max(timedelta(0), now - began).total_seconds())
