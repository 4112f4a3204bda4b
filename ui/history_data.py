"""Cached access to the snapshot archive for the History page (k8sdata.archive.store, k8sdata.archive.trends).

- The snapshot list of a window is cached (ui.cache) for HISTORY_TTL_SECONDS (snapshots come every few
  minutes at most; the Refresh button forgets it).
- The mirror is shared by every viewer (it holds the archive's files, the same for everyone): one
  mirroring per archive and window at a time (SingleFlight: viewers arriving meanwhile wait for it and
  share its answer), kept HISTORY_TTL_SECONDS. Not a cached answer: mirroring draws its progress on the
  page of the viewer who started it, which a replayed cache entry must not repeat.
- The trends are shared, not copied (they hold SourceError values, which need not survive pickling), keyed
  by the mirrored files and the viewer's namespaces, so a scoped viewer never gets another's answer.
- Table bytes for preview and download are cached, read through `archive.read_table`, which
  checks them against the snapshot's manifest (a corrupt file is refused with a sentence).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import pandas as pd
import streamlit as st

from k8sdata.access import current_scope
from k8sdata.archive.store import SnapshotInfo
from k8sdata.archive.trends import (
    DEFAULT_DAYS,
    Mirror,
    TrendResults,
    mirror_archive,
    mirror_dir_for,
    run_trends,
    snapshots_in_window,
)
from k8sdata.config import Settings
from k8sdata.sources.watchcache import SingleFlight
from ui.cache import cached
from ui.data import archive
from ui.filters import ACCESS_NAMESPACES_KEY
from ui.health_data import allowed_namespaces

#: Snapshots come every few minutes at most (the CronJob: 15): two minutes is fresh enough.
HISTORY_TTL_SECONDS = 120
#: The windows a person may choose, in days (today included).
DAY_CHOICES = (7, DEFAULT_DAYS, 30)
#: Rows of a previewed table sent to the browser; the download always has them all.
PREVIEW_ROWS = 5_000

Progress = Callable[[int, int, str], None]


def scope() -> frozenset[str] | None:
    """The namespaces this viewer may see (None: every one), as the Health page reads them; the thread's
    access scope (set by app.py) when the session does not say."""
    session = allowed_namespaces(st.session_state.get(ACCESS_NAMESPACES_KEY))
    return session if session is not None else current_scope()


@cached(ttl=HISTORY_TTL_SECONDS)
def _snapshots(settings: Settings, days: int) -> list[SnapshotInfo]:
    return snapshots_in_window(archive(settings), days)


def snapshots(settings: Settings, days: int) -> list[SnapshotInfo]:
    """Every snapshot of the last `days` days, newest first (incomplete ones too, marked so). Raises
    NotConfigured (uncached) without an archive, or the archive's SourceError."""
    archive(settings)
    return _snapshots(settings, days)


class _MirrorMemo:
    """The last mirror of each (archive, window), for HISTORY_TTL_SECONDS, made once at a time."""

    def __init__(self) -> None:
        self.flight: SingleFlight[Mirror] = SingleFlight()
        self.lock = threading.Lock()
        self.kept: dict[Hashable, tuple[float, Mirror]] = {}

    def get(self, key: Hashable, make: Callable[[], Mirror]) -> Mirror:
        with self.lock:
            found = self.kept.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]

        def fresh() -> Mirror:
            made = make()
            with self.lock:
                self.kept[key] = (time.monotonic() + HISTORY_TTL_SECONDS, made)
            return made

        return self.flight.do(key, fresh)

    def forget(self) -> None:
        with self.lock:
            self.kept.clear()


@cached(shared=True, guard=False, keep_on_refresh=True)
def _mirror_memo() -> _MirrorMemo:
    return _MirrorMemo()


def mirror(settings: Settings, days: int, progress: Progress | None = None) -> Mirror:
    """The complete snapshots of the window as local files (KAMS_ARCHIVE_MIRROR for S3; the folder
    archive in place). `progress` sees each snapshot when this call does the mirroring. Raises
    NotConfigured without an archive, or the archive's SourceError when it cannot be listed."""
    store = archive(settings)
    target: Path = mirror_dir_for(store, settings)
    key = (store.describe(), str(target), days)
    return _mirror_memo().get(key, lambda: mirror_archive(store, target, days, progress=progress))


@cached(ttl=HISTORY_TTL_SECONDS, max_entries=16, shared=True)
def _trends(files_key: tuple[str, ...], namespaces: tuple[str, ...] | None, _mirror: Mirror) -> TrendResults:
    return run_trends(_mirror.files, namespaces)


def trends(mirrored: Mirror, namespaces: frozenset[str] | None) -> TrendResults:
    """Every trend over the mirrored files, limited to `namespaces` (cluster-wide ones withheld then)."""
    files_key = tuple(f"{entry.key}|{entry.path}" for entry in mirrored.files)
    return _trends(files_key, None if namespaces is None else tuple(sorted(namespaces)), mirrored)


@cached(ttl=HISTORY_TTL_SECONDS, max_entries=32)
def _table_bytes(settings: Settings, folder: str, table: str, _snapshot: SnapshotInfo) -> bytes:
    return archive(settings).read_table(_snapshot, table)


def table_bytes(settings: Settings, snapshot: SnapshotInfo, table: str) -> bytes:
    """The archived file's exact bytes, checked against the manifest; raises Corrupt naming the key when
    they differ (not cached), or the archive's SourceError."""
    return _table_bytes(settings, snapshot.folder, table, snapshot)


def table_frame(body: bytes) -> pd.DataFrame:
    """An archived CSV as text columns, as it is stored (no type guessing: "007" stays "007")."""
    try:
        return pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def scoped_frame(frame: pd.DataFrame, namespaces: frozenset[str] | None) -> pd.DataFrame | None:
    """The rows a viewer may see: all (no scope), those of their namespaces (a table with a namespace
    column), or None for a table of the whole cluster (nodes, security scores, notes)."""
    if namespaces is None:
        return frame
    if "namespace" not in frame.columns:
        return None
    return frame[frame["namespace"].isin(namespaces)].reset_index(drop=True)


def clear() -> None:
    """Forget the cached answers (the page's Refresh button); mirrored files stay, they are verified."""
    _snapshots.clear()
    _trends.clear()
    _table_bytes.clear()
    _mirror_memo().forget()
