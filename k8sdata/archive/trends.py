"""Trends read back from the snapshot archive with DuckDB, over a local mirror of its objects.

DuckDB reads Hive-partitioned CSV (`hive_partitioning=true`) from local files; its S3 extension would be
downloaded at run time, which these machines cannot do. So `mirror_archive` copies the archive's
objects with boto3 (the archive's own client) into a local folder under the same relative keys, and the
trend queries run over explicit lists of mirrored files. A folder archive (KAMS_ARCHIVE_DIR) is its own
mirror: its files are verified in place and read where they are.

Mirroring (`mirror_archive`):

- only COMPLETE snapshots (Hive layout, with a manifest) of the last `days` days (UTC, by `dt`) are
  mirrored or read; an incomplete snapshot (no manifest: its run died half-way) and the legacy layout
  (no manifest to check against) never are;
- every file's size and SHA-256 are checked against the manifest before it is renamed into place (a
  temporary, then os.replace), so the mirror never holds a byte the manifest does not vouch for; a file
  that does not match is refused with a sentence naming its key, and its snapshot is left out;
- a file already mirrored with the manifest's size is not fetched again, and a snapshot whose manifest
  is already mirrored (written last, after its tables) costs no request at all (archived objects are
  never overwritten);
- mirrored days older than the window are deleted from the mirror, so it stays the window's size.

The trends (`TRENDS`: one named SQL string per trend, run by `run_trend`), each a DataFrame keyed by
`cluster` and `dt` (the day, "YYYY-MM-DD", UTC). A snapshot's time is its file name's HHMMSSZ[.N] on its
`dt`; "the day's last snapshot" is the latest time, then the highest .N.

- security score per day (`security_scores`): the `Overall` row's value; `mean_score` is the mean over
  the day's snapshots, `last_score` the day's last snapshot's, `snapshots` how many had one.
- restarts per day (`pods`): per pod (namespace, name), the day's highest `restarts` minus the pod's
  highest on earlier days of the window (0 before it was first seen), clipped at 0 (a pod recreated
  under the same name starts again from 0), summed over pods.
- requests per day (`requests`): per snapshot, the sum of `rps` over its rows (0 for an empty table);
  `mean_rps` is the mean of that over the day's snapshots, `estimated_requests` = mean_rps x 86,400
  (seconds of a day): an estimate, since snapshots are minutes apart and rps is a 5-minute rate.
- Warning events per day (`events`): distinct (namespace, object, reason, message) with type Warning
  seen in the day's snapshots (an event seen in ten snapshots counts once).
- pods per phase (`pods`): how many pods had each `phase` in the day's last snapshot.

Every cell is read as text (`all_varchar`) and cast where a number is needed (TRY_CAST: an odd cell is
NULL, never an error), so an empty table or unexpected text cannot break a query. Each query runs on a
fresh in-memory DuckDB connection (one thread, a memory cap, a time limit), closed after. Failures are
k8sdata.errors.SourceError kinds with a sentence. No streamlit here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE
from k8sdata.archive.store import Corrupt, SnapshotInfo, parse_key, safe_segment, sha256_hex
from k8sdata.errors import Source, SourceError
from k8sdata.sources.archive import FolderArchive, S3Archive

if TYPE_CHECKING:
    from k8sdata.config import Settings

#: The window the History page shows by default, in days (today included).
DEFAULT_DAYS = 14
#: Seconds of a day: the requests trend's estimate multiplies the mean rate by it.
SECONDS_PER_DAY = 86_400
#: Bounds of one DuckDB query: the mirrored files are small CSV (tens of KB each).
QUERY_TIMEOUT_SECONDS = 30.0
QUERY_MEMORY_LIMIT = "512MB"
#: list_snapshots is asked for this many at first, then twice as many until the window is covered.
_FIRST_LISTING = 256

Progress = Callable[[int, int, str], None]  # (snapshots done, snapshots in all, what now)


class QueryFailed(SourceError):
    """DuckDB could not read the mirrored files or run a trend's query."""

    kind = "query_failed"

    def _what(self) -> str:
        return "KAMS could not query the archived snapshots"

    def _next(self) -> str:
        return "The other trends still work; take a new snapshot, or report this with the sentence above."


# ---------------------------------------------------------------------------------------------
# The mirror
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MirroredFile:
    """One archived table file of a complete snapshot, as a local file."""

    key: str
    path: Path
    cluster: str
    day: date
    taken_at: datetime  # UTC, to the second (from the file name)
    seq: int
    table: str


@dataclass(frozen=True)
class Mirror:
    """What `mirror_archive` made available: the files (oldest first), the complete snapshots they come
    from (newest first), and one sentence per snapshot left out (a file that does not match its manifest,
    a manifest that cannot be read)."""

    root: Path
    files: tuple[MirroredFile, ...] = ()
    snapshots: tuple[SnapshotInfo, ...] = ()
    problems: tuple[str, ...] = ()
    incomplete: int = 0  # snapshots in the window without a manifest (never mirrored)
    fetched: int = 0  # files downloaded this time (the rest were mirrored already)

    def table_files(self, table: str) -> list[MirroredFile]:
        return [entry for entry in self.files if entry.table == table]


def window_start(days: int, now: datetime | None = None) -> datetime:
    """Midnight (UTC) of the first day of a window of `days` days ending today."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    first = today - timedelta(days=max(days, 1) - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def snapshots_in_window(archive: S3Archive | FolderArchive, days: int, cluster: str | None = None,
                        now: datetime | None = None) -> list[SnapshotInfo]:
    """Every snapshot (complete or not, both layouts) taken in the last `days` days, newest first.

    Only through the archive's public `list_snapshots(limit)`, which reads the newest days first: asked
    for more and more until the oldest answer is older than the window (or fewer came back than asked),
    so every snapshot of the window is in the answer and older days are hardly listed.
    """
    start = window_start(days, now)
    limit = _FIRST_LISTING
    while True:
        found = archive.list_snapshots(limit=limit, cluster=cluster)
        if len(found) < limit or found[-1].taken_at < start:
            return [snap for snap in found if snap.taken_at >= start]
        limit *= 2


def mirror_dir_for(archive: S3Archive | FolderArchive, settings: Settings) -> Path:
    """Where `archive` is mirrored: the folder archive itself, or a subfolder of KAMS_ARCHIVE_MIRROR per
    bucket (and endpoint), so two archives never mix (their prefixes are part of every key)."""
    if isinstance(archive, FolderArchive):
        return archive.root
    root = Path(settings.archive_mirror or Path.home() / ".cache" / "kams" / "mirror").expanduser()
    name = f"s3-{safe_segment(archive.bucket or 'bucket')}"
    if archive.endpoint_url:  # the same bucket name on another store is another archive
        name += "-" + hashlib.sha256(archive.endpoint_url.encode()).hexdigest()[:10]
    return root / name


def _source(archive: S3Archive | FolderArchive) -> Source:
    return "archive" if isinstance(archive, FolderArchive) else "s3"


def _local(root: Path, key: str) -> Path:
    return root.joinpath(*key.split("/"))


def _table_entries(snapshot: SnapshotInfo, manifest: dict[str, Any], source: Source
                   ) -> list[tuple[str, str, int, str]]:
    """(table, key, bytes, sha256) of each table the manifest lists. Keys come from a file in the
    archive: each must be this snapshot's own key for that table (never a path elsewhere)."""
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        raise Corrupt(source, f"{snapshot.manifest_key!r} lists no tables")
    entries = []
    for table, entry in tables.items():
        key = str(entry.get("key", "")) if isinstance(entry, dict) else ""
        parsed = parse_key(key)
        if key != snapshot.key(str(table)) or parsed is None or parsed.name != table:
            raise Corrupt(source, f"{snapshot.manifest_key!r} names {key!r} for the table {table!r}, "
                                  f"which is not that snapshot's file")
        size, digest = entry.get("bytes"), entry.get("sha256")
        if not isinstance(size, int) or not isinstance(digest, str):
            raise Corrupt(source, f"{snapshot.manifest_key!r} gives no size or SHA-256 for {key!r}")
        entries.append((str(table), key, size, digest))
    return entries


def _write_verified(path: Path, body: bytes) -> None:
    """Write to a hidden temporary beside `path`, then rename it into place (a reader never sees half a
    file; two writers of the same bytes simply replace each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _mirrored_manifest(root: Path, snapshot: SnapshotInfo) -> dict[str, Any] | None:
    """The manifest already in the mirror (written there last), or None."""
    assert snapshot.manifest_key is not None
    try:
        found = json.loads(_local(root, snapshot.manifest_key).read_bytes())
        return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None


def _mirror_snapshot(archive: S3Archive | FolderArchive, root: Path, snapshot: SnapshotInfo, in_place: bool
                     ) -> tuple[list[MirroredFile], int]:
    """Mirror (or, in place, verify) one complete snapshot; raises Corrupt naming the key of a file that
    does not match the manifest. Returns its files and how many were downloaded."""
    source = _source(archive)
    assert snapshot.manifest_key is not None
    manifest = None if in_place else _mirrored_manifest(root, snapshot)
    done_before = manifest is not None
    if manifest is None:
        manifest = archive.read_manifest(snapshot)
    if manifest is None:
        raise Corrupt(source, f"{snapshot.manifest_key!r} could not be read")
    fetched = 0
    files = []
    for table, key, size, digest in _table_entries(snapshot, manifest, source):
        path = _local(root, key)
        if in_place:
            body = archive.download(key)
            if len(body) != size or sha256_hex(body) != digest:
                raise Corrupt(source, f"{key!r} does not match the size and SHA-256 in its manifest")
        elif not (path.is_file() and path.stat().st_size == size):
            body = archive.download(key)
            fetched += 1
            if len(body) != size or sha256_hex(body) != digest:
                raise Corrupt(source, f"{key!r} does not match the size and SHA-256 in its manifest")
            _write_verified(path, body)
        files.append(MirroredFile(key=key, path=path, cluster=snapshot.cluster, day=snapshot.taken_at.date(),
                                  taken_at=snapshot.taken_at, seq=snapshot.seq, table=table))
    if not in_place and (not done_before or fetched):
        # Last, as in the archive: a mirrored manifest means every table beside it was verified.
        _write_verified(_local(root, snapshot.manifest_key),
                        json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
    return files, fetched


_DAY_FOLDER = re.compile(r"^dt=(\d{4}-\d\d-\d\d)$")


def _prune_mirror(root: Path, start: datetime) -> None:
    """Delete mirrored day folders (…/cluster=<c>/dt=<day>/) older than the window. Only ever inside a
    mirror KAMS made, never in a folder archive."""
    if not root.is_dir():
        return
    for folder in root.rglob("dt=*"):
        match = _DAY_FOLDER.match(folder.name)
        if not match or not folder.is_dir() or not folder.parent.name.startswith("cluster="):
            continue
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            continue
        if day < start.date():
            shutil.rmtree(folder, ignore_errors=True)


def mirror_archive(archive: S3Archive | FolderArchive, mirror_dir: str | os.PathLike[str] | None, days: int,
                   cluster: str | None = None, progress: Progress | None = None, *,
                   now: datetime | None = None) -> Mirror:
    """Copy the complete snapshots of the last `days` days into `mirror_dir` (see the module's
    docstring) and return the mirrored files. `mirror_dir` None (or the folder archive's own root): the
    folder archive is read in place, each file verified against its manifest.

    Raises the archive's SourceError when it cannot be listed; a snapshot whose files cannot be read or
    verified is left out with a sentence in `Mirror.problems`, and the others are still mirrored.
    """
    in_place = isinstance(archive, FolderArchive) and (
        mirror_dir is None or Path(mirror_dir).resolve() == archive.root.resolve())
    if mirror_dir is None and not in_place:
        raise ValueError("an S3 archive needs a mirror folder")
    root = archive.root if in_place and isinstance(archive, FolderArchive) else Path(mirror_dir or ".")
    start = window_start(days, now)
    listed = snapshots_in_window(archive, days, cluster, now)
    complete = [snap for snap in listed if snap.layout == "hive" and snap.manifest_key is not None]
    say = progress or (lambda _done, _total, _text: None)
    files: list[MirroredFile] = []
    snapshots: list[SnapshotInfo] = []
    problems: list[str] = []
    fetched = 0
    for done, snapshot in enumerate(complete):
        say(done, len(complete), f"Mirroring {snapshot.cluster} {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC")
        try:
            found, count = _mirror_snapshot(archive, root, snapshot, in_place)
        except SourceError as error:
            problems.append(f"The snapshot {snapshot.folder} was left out: {error.sentence}")
            continue
        except OSError as error:
            raise SourceError("archive", f"cannot write the mirror {root}: {error.strerror or error}",
                              hint="Point KAMS_ARCHIVE_MIRROR at a writable folder.") from error
        files += found
        snapshots.append(snapshot)
        fetched += count
    say(len(complete), len(complete), "Mirrored.")
    if not in_place:
        _prune_mirror(root, start)
    files.sort(key=lambda entry: (entry.cluster, entry.taken_at, entry.seq, entry.table))
    return Mirror(root=root, files=tuple(files), snapshots=tuple(snapshots), problems=tuple(problems),
                  incomplete=sum(1 for snap in listed if not snap.complete), fetched=fetched)


# ---------------------------------------------------------------------------------------------
# The trends
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """One trend: the table it reads, what it means, its SQL (over the relations `snap`: the table's
    rows with `cluster`, `dt` (DATE), `taken_at`, `seq`, `filename`, every other column as text; and
    `files`: one row per snapshot file with `filename`, `cluster`, `dt`, `taken_at`, `seq`), and the
    columns of its answer."""

    name: str
    table: str
    meaning: str
    sql: str
    columns: tuple[str, ...]
    #: Holds the whole cluster's data (no namespace column): not shown to a person limited to some.
    cluster_wide: bool = False


SECURITY_SQL = """
WITH overall AS (
    SELECT cluster, dt, taken_at, seq, TRY_CAST(value AS DOUBLE) AS score
    FROM snap WHERE category = 'Overall'),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY cluster, dt ORDER BY taken_at DESC, seq DESC) AS newest
    FROM overall WHERE score IS NOT NULL)
SELECT cluster, dt, avg(score) AS mean_score, max(CASE WHEN newest = 1 THEN score END) AS last_score,
       count(*) AS snapshots
FROM ranked GROUP BY cluster, dt ORDER BY cluster, dt
"""

RESTARTS_SQL = """
WITH per_day AS (
    SELECT cluster, namespace, name, dt, max(TRY_CAST(restarts AS BIGINT)) AS day_max
    FROM snap GROUP BY cluster, namespace, name, dt),
rises AS (
    SELECT cluster, dt, greatest(coalesce(day_max, 0) - coalesce(max(day_max) OVER (
        PARTITION BY cluster, namespace, name ORDER BY dt
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS rise
    FROM per_day),
days AS (SELECT DISTINCT cluster, dt FROM files)
SELECT days.cluster, days.dt, CAST(coalesce(sum(rises.rise), 0) AS BIGINT) AS restarts
FROM days LEFT JOIN rises ON rises.cluster = days.cluster AND rises.dt = days.dt
GROUP BY days.cluster, days.dt ORDER BY days.cluster, days.dt
"""

REQUESTS_SQL = f"""
WITH per_snapshot AS (
    SELECT files.cluster, files.dt, files.filename, coalesce(sum(TRY_CAST(snap.rps AS DOUBLE)), 0) AS rps
    FROM files LEFT JOIN snap ON snap.filename = files.filename
    GROUP BY files.cluster, files.dt, files.filename)
SELECT cluster, dt, avg(rps) AS mean_rps, avg(rps) * {SECONDS_PER_DAY} AS estimated_requests,
       count(*) AS snapshots
FROM per_snapshot GROUP BY cluster, dt ORDER BY cluster, dt
"""

WARNINGS_SQL = """
WITH warnings AS (
    SELECT DISTINCT cluster, dt, namespace, object, reason, message FROM snap WHERE type = 'Warning'),
days AS (SELECT DISTINCT cluster, dt FROM files)
SELECT days.cluster, days.dt, count(warnings.cluster) AS warning_events
FROM days LEFT JOIN warnings ON warnings.cluster = days.cluster AND warnings.dt = days.dt
GROUP BY days.cluster, days.dt ORDER BY days.cluster, days.dt
"""

PHASES_SQL = """
WITH last_file AS (
    SELECT cluster, dt, filename FROM (
        SELECT *, row_number() OVER (PARTITION BY cluster, dt ORDER BY taken_at DESC, seq DESC) AS newest
        FROM files)
    WHERE newest = 1)
SELECT last_file.cluster, last_file.dt, coalesce(snap.phase, '') AS phase, count(*) AS pods
FROM last_file JOIN snap ON snap.filename = last_file.filename
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""

TRENDS: dict[str, Trend] = {trend.name: trend for trend in (
    Trend("security", SECURITY_SCORES_TABLE,
          "The Overall security score: mean of the day's snapshots, and the day's last snapshot's.",
          SECURITY_SQL, ("cluster", "dt", "mean_score", "last_score", "snapshots"), cluster_wide=True),
    Trend("restarts", "pods",
          "Container restarts per day: per pod, the day's highest count minus its highest before, summed.",
          RESTARTS_SQL, ("cluster", "dt", "restarts")),
    Trend("requests", "requests",
          "Requests per second, mean over the day's snapshots, and that rate over a whole day.",
          REQUESTS_SQL, ("cluster", "dt", "mean_rps", "estimated_requests", "snapshots")),
    Trend("warnings", "events",
          "Distinct Warning events (namespace, object, reason, message) seen in the day's snapshots.",
          WARNINGS_SQL, ("cluster", "dt", "warning_events")),
    Trend("phases", "pods",
          "Pods per phase (Running, Pending, Succeeded, Failed...) in the day's last snapshot.",
          PHASES_SQL, ("cluster", "dt", "phase", "pods")),
)}

#: The rows of the snapshot files (explicit list), their Hive partitions, and each file's time.
_SOURCE_SQL = """
CREATE TEMP TABLE snap AS
SELECT rows.*, files.taken_at, files.seq
FROM read_csv($paths, hive_partitioning = true, union_by_name = true, filename = true, all_varchar = true,
              header = true, delim = ',', quote = '"', escape = '"',
              hive_types = {'cluster': 'VARCHAR', 'dt': 'DATE'}) AS rows
JOIN files ON files.filename = rows.filename
"""
_SCOPE_SQL = " WHERE list_contains($namespaces, rows.namespace)"


def _files_frame(files: Sequence[MirroredFile]) -> pd.DataFrame:
    return pd.DataFrame({
        "filename": [str(entry.path) for entry in files],
        "cluster": [entry.cluster for entry in files],
        "dt": pd.to_datetime([entry.day.isoformat() for entry in files]).date,
        "taken_at": pd.to_datetime([entry.taken_at.replace(tzinfo=None) for entry in files]),
        "seq": pd.Series([entry.seq for entry in files], dtype="int64"),
    })


def _empty(trend: Trend) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in trend.columns})


def _query(trend: Trend, files: Sequence[MirroredFile], namespaces: Iterable[str] | None,
           timeout: float) -> pd.DataFrame:
    import duckdb

    # A fresh in-memory database per query: nothing is shared between viewers or kept after; one thread
    # and a memory cap keep a query from crowding out the website, and a timer interrupts a slow one.
    connection = duckdb.connect(":memory:", config={"threads": 1, "memory_limit": QUERY_MEMORY_LIMIT})
    timer = threading.Timer(timeout, connection.interrupt)
    timer.daemon = True
    timer.start()
    try:
        connection.register("files", _files_frame(files))
        params: dict[str, Any] = {"paths": [str(entry.path) for entry in files]}
        source = _SOURCE_SQL
        if namespaces is not None:
            source += _SCOPE_SQL
            params["namespaces"] = sorted(namespaces)
        connection.execute(source, params)
        return connection.execute(trend.sql).df()
    finally:
        timer.cancel()
        connection.close()


def run_trend(trend: Trend, files: Sequence[MirroredFile], namespaces: Iterable[str] | None = None, *,
              timeout: float = QUERY_TIMEOUT_SECONDS) -> pd.DataFrame:
    """`trend` over the mirrored files of its table (others are ignored), keyed by cluster and dt
    ("YYYY-MM-DD"), sorted. `namespaces`: only rows of these namespaces (a scoped viewer); a
    cluster-wide trend is refused then. Raises QueryFailed (a sentence) when DuckDB cannot do it."""
    import duckdb

    if namespaces is not None and trend.cluster_wide:
        raise ValueError(f"the {trend.name} trend is the whole cluster's; it has no namespaces to keep")
    chosen = [entry for entry in files if entry.table == trend.table]
    if not chosen:
        return _empty(trend)
    try:
        frame = _query(trend, chosen, namespaces, timeout)
    except duckdb.InterruptException as error:
        raise QueryFailed("archive", f"the {trend.name} trend took longer than {timeout:g} s",
                          hint="Choose fewer days.") from error
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QueryFailed("archive", f"the {trend.name} trend over {len(chosen)} {trend.table} file(s): "
                                     f"{first_line[:300]}") from error
    frame["dt"] = pd.to_datetime(frame["dt"]).dt.strftime("%Y-%m-%d")
    return frame[list(trend.columns)].reset_index(drop=True)


@dataclass
class TrendResults:
    """Each trend's frame, or the SourceError that stopped it (the others still ran), or why it is
    not shown (`withheld`: a cluster-wide trend for a scoped viewer)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: dict[str, SourceError] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)


def run_trends(files: Sequence[MirroredFile], namespaces: Iterable[str] | None = None) -> TrendResults:
    """Every trend of TRENDS; one that fails does not stop the others."""
    scope = None if namespaces is None else frozenset(namespaces)
    results = TrendResults()
    for name, trend in TRENDS.items():
        if scope is not None and trend.cluster_wide:
            results.withheld[name] = (f"The {trend.name} trend is the whole cluster's, and your access is "
                                      f"limited to the namespaces {', '.join(sorted(scope)) or 'none'}.")
            continue
        try:
            results.frames[name] = run_trend(trend, files, scope)
        except SourceError as error:
            results.errors[name] = error
    return results


__all__ = [
    "DEFAULT_DAYS", "TRENDS", "Mirror", "MirroredFile", "QueryFailed", "Trend", "TrendResults",
    "mirror_archive", "mirror_dir_for", "run_trend", "run_trends",
    "snapshots_in_window", "window_start",
]
