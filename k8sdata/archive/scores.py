"""The security score trend: the scores each archived snapshot kept (k8sdata.archive.snapshot's
SECURITY_SCORES_TABLE), read back newest first, for the Security page's chart."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pandas as pd

from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE
from k8sdata.archive.store import SnapshotStore
from k8sdata.errors import SourceError

#: How many archived snapshots the trend looks at (newest first).
TREND_SNAPSHOTS = 60
TREND_COLUMNS = ["taken_at", "category", "value"]


@dataclass
class ScoreTrend:
    """Scores from archived snapshots (`frame`: taken_at, category, value), or why there are none."""

    frame: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TREND_COLUMNS))
    sentence: str = ""


def scores_from_csv(data: bytes) -> pd.DataFrame:
    """category, value of one archived security_scores table. A category that was not scored has an
    empty value (its note says why): it is dropped, so the trend never draws a score from nothing."""
    frame = pd.read_csv(io.BytesIO(data))
    if not {"category", "value"} <= set(frame.columns):
        return pd.DataFrame(columns=["category", "value"])
    found = frame[["category", "value"]].assign(value=pd.to_numeric(frame["value"], errors="coerce"))
    return found.dropna(subset=["value"])


def score_trend(store: SnapshotStore, *, limit: int = TREND_SNAPSHOTS) -> ScoreTrend:
    """Every complete snapshot's scores among the newest `limit`, oldest first, or a sentence saying why
    there is no trend (the store failed, or no snapshot has scores yet)."""
    try:
        snapshots = store.list_snapshots(limit=limit)
        parts = [scores_from_csv(store.download(snapshot.key(SECURITY_SCORES_TABLE)))
                 .assign(taken_at=snapshot.taken_at)
                 # A snapshot without its manifest is incomplete (its run died half-way): skipped.
                 for snapshot in snapshots if SECURITY_SCORES_TABLE in snapshot.tables and snapshot.complete]
    except SourceError as error:
        return ScoreTrend(sentence=f"The score trend is unavailable: {error.sentence}")
    if not parts:
        return ScoreTrend(sentence="The trend appears once archived snapshots include security findings "
                                   f"({len(snapshots)} snapshot(s) found, none with security scores yet).")
    frame = pd.concat(parts, ignore_index=True)[TREND_COLUMNS]
    return ScoreTrend(frame=frame.dropna().sort_values("taken_at", ignore_index=True))
