"""Snapshots -> CSV, and what every store does with them (the stores themselves, S3 through boto3 and a
local folder, are k8sdata.sources.archive's: they only move bytes).

A snapshot is a set of tables (pods, events, requests, ...) taken at one moment. Each table becomes
one CSV object, and a JSON manifest (written last) lists them with rows, bytes and SHA-256:

    <prefix>/cluster=<cluster>/dt=<YYYY-MM-DD>/<HHMMSSZ>-<table>.csv
    <prefix>/cluster=<cluster>/dt=<YYYY-MM-DD>/<HHMMSSZ>-manifest.json

Hive partitions (cluster=, dt=) let Athena and DuckDB prune by cluster and day, a lifecycle rule can
expire old days by prefix, and a day's objects sort by time. A second snapshot in the same second is
`<HHMMSSZ>.2-<table>.csv` (then .3, ...): nothing is ever overwritten. A snapshot without its manifest
is incomplete (the run died half-way) and readers skip it. The kubeconfig context is not a path
segment (several contexts usually name the same cluster); it is in the manifest and the objects'
metadata (x-amz-meta-kams-context) and names the cluster only when no cluster name is known.

The layout before (`<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/<table>.csv`, "legacy") is still listed and
read; `migrate` (python -m k8sdata archive migrate) rewrites it into the layout above. `prune` deletes one
cluster's snapshots older than a cutoff (both layouts), manifest first.

Nothing here talks to a server: SnapshotStore's logic runs over the storage primitives each store
implements. Every failure becomes a k8sdata.errors.SourceError kind with a sentence a person can act on.
No streamlit here.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast
from urllib.parse import quote, unquote

import pandas as pd

from k8sdata import __version__
from k8sdata.errors import (
    Source,
    SourceError,
)
from k8sdata.export import frame_to_csv, iso_time

if TYPE_CHECKING:
    pass

DEFAULT_PREFIX = "kams"
DEFAULT_LIST_LIMIT = 20
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

# ---------------------------------------------------------------------------------------------
# Keys (pure)
# ---------------------------------------------------------------------------------------------

_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")
#: Today's layout, Hive-partitioned so Athena and DuckDB prune by cluster and day:
#: <prefix>/cluster=<name>/dt=<YYYY-MM-DD>/<HHMMSSZ>[.<n>]-<table>.csv (and ...-manifest.json).
_HIVE_KEY = re.compile(
    r"^(?:(?P<prefix>.+)/)?cluster=(?P<cluster>[^/]+)/dt=(?P<day>\d{4}-\d\d-\d\d)/"
    r"(?P<time>\d{6}Z)(?:\.(?P<seq>[1-9]\d*))?-(?P<name>[^/]+)\.(?P<ext>csv|json)$"
)
#: The layout before issue 13 (<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/<table>.csv): still read,
#: never written; `migrate` rewrites it into the Hive layout.
_LEGACY_KEY = re.compile(
    r"^(?:(?P<prefix>.+)/)?(?P<cluster>[^/=]+)/(?P<day>\d{4}-\d\d-\d\d)/(?P<time>\d{6}Z)/"
    r"(?P<name>[^/]+)\.csv$"
)
#: The manifest's name in a key; no table may take it.
MANIFEST = "manifest"
MANIFEST_CONTENT_TYPE = "application/json"
#: Bumped when the manifest's fields change meaning.
MANIFEST_FORMAT = 1
Layout = Literal["hive", "legacy"]


def safe_segment(value: str, fallback: str = "unknown") -> str:
    """One key/path segment: letters, digits, . _ - only (EKS context names contain ':' and '/'),
    never '.' or '..', so a key can never climb out of its folder. '=' is unsafe too, which keeps a
    cluster named like a Hive partition ("cluster=x") from confusing the two layouts."""
    cleaned = _UNSAFE_SEGMENT.sub("_", value.strip()).strip("_")
    if cleaned in {"", ".", ".."}:
        return fallback
    return cleaned[:120]


def clean_prefix(prefix: str) -> str:
    parts = [safe_segment(part) for part in prefix.split("/") if part.strip()]
    return "/".join(parts)


def _utc(at: datetime) -> datetime:
    """Aware datetimes in UTC; a naive one is taken to be UTC already."""
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def snapshot_folder(prefix: str, cluster: str, at: datetime) -> str:
    """`<prefix>/cluster=<cluster>/dt=<YYYY-MM-DD>/`: the day partition that holds the snapshot."""
    moment = _utc(at)
    parts = [clean_prefix(prefix), f"cluster={safe_segment(cluster)}", f"dt={moment:%Y-%m-%d}"]
    return "/".join(part for part in parts if part) + "/"


def snapshot_stamp(at: datetime, seq: int = 1) -> str:
    """`HHMMSSZ` for the first snapshot of a second, `HHMMSSZ.<seq>` for a later one in the same second
    (so two snapshots never share a key, and the first keeps the plain, documented name)."""
    stamp = _utc(at).strftime("%H%M%SZ")
    return stamp if seq <= 1 else f"{stamp}.{seq}"


def snapshot_base(prefix: str, cluster: str | None, context: str | None, at: datetime, seq: int = 1) -> str:
    """The common start of one snapshot's keys: `<prefix>/cluster=<c>/dt=<day>/<stamp>-`."""
    name = cluster or context or "unknown"
    return snapshot_folder(prefix, name, at) + snapshot_stamp(at, seq) + "-"


def snapshot_key(prefix: str, cluster: str | None, context: str | None, table: str, at: datetime,
                 seq: int = 1) -> str:
    """`<prefix>/cluster=<c>/dt=<YYYY-MM-DD>/<HHMMSSZ>[.<seq>]-<table>.csv` (time in UTC; unsafe
    characters become '_'; the context names the cluster only when the cluster name is unknown)."""
    return snapshot_base(prefix, cluster, context, at, seq) + safe_segment(table, "table") + ".csv"


def manifest_key(prefix: str, cluster: str | None, context: str | None, at: datetime, seq: int = 1) -> str:
    """`<prefix>/cluster=<c>/dt=<YYYY-MM-DD>/<HHMMSSZ>[.<seq>]-manifest.json`."""
    return snapshot_base(prefix, cluster, context, at, seq) + MANIFEST + ".json"


@dataclass(frozen=True)
class ParsedKey:
    """What a snapshot key says about itself."""

    base: str  # the common start of the snapshot's keys (see SnapshotInfo.folder)
    cluster: str
    taken_at: datetime  # UTC, to the second
    seq: int  # 1, or n for the n-th snapshot of the same second
    name: str  # a table's name, or MANIFEST
    layout: Layout

    @property
    def is_manifest(self) -> bool:
        return self.layout == "hive" and self.name == MANIFEST


def parse_key(key: str) -> ParsedKey | None:
    """A snapshot key of either layout, or None for anything else (a stray file, a .json that is not a
    manifest, a half-written temporary)."""
    layout: Layout = "hive"
    match = _HIVE_KEY.match(key)
    if match is None:
        match, layout = _LEGACY_KEY.match(key), "legacy"
    if match is None:
        return None
    if layout == "hive" and (match["ext"] == "json") != (match["name"] == MANIFEST):
        return None
    try:
        taken_at = datetime.strptime(f"{match['day']} {match['time']}", "%Y-%m-%d %H%M%SZ")
    except ValueError:
        return None
    suffix = len(match["name"]) + len(".csv" if layout == "legacy" else f".{match['ext']}")
    seq = int(match["seq"]) if layout == "hive" and match["seq"] else 1
    return ParsedKey(base=key[:-suffix], cluster=match["cluster"], taken_at=taken_at.replace(tzinfo=UTC),
                     seq=seq, name=match["name"], layout=layout)


@dataclass(frozen=True)
class SnapshotInfo:
    """One archived snapshot: its tables' keys, and its manifest's key when it has one."""

    cluster: str
    taken_at: datetime  # UTC, to the second
    #: The common start of its keys: "<prefix>/cluster=<c>/dt=<day>/<stamp>-" (Hive layout) or
    #: "<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/" (legacy layout); a table's key is this + "<table>.csv".
    folder: str
    tables: tuple[str, ...]
    keys: tuple[str, ...]
    size_bytes: int
    seq: int = 1
    layout: Layout = "hive"
    manifest_key: str | None = None

    def key(self, table: str) -> str:
        return self.folder + table + ".csv"

    @property
    def complete(self) -> bool:
        """A Hive-layout snapshot is complete only once its manifest (written last) exists. The legacy
        layout never had manifests; those snapshots count as complete, as they always have."""
        return self.layout == "legacy" or self.manifest_key is not None


def group_snapshots(objects: Iterable[tuple[str, int]]) -> list[SnapshotInfo]:
    """Group (key, size) pairs into snapshots, newest first."""
    bases: dict[str, dict[str, Any]] = {}
    for key, size in objects:
        parsed = parse_key(key)
        if parsed is None:
            continue
        entry = bases.setdefault(parsed.base, {"parsed": parsed, "tables": {}, "size": 0, "manifest": None})
        if parsed.is_manifest:
            entry["manifest"] = key
        else:
            entry["tables"][parsed.name] = key
            entry["size"] += size
    snapshots = []
    for base, entry in bases.items():
        parsed = entry["parsed"]
        names = sorted(entry["tables"])
        snapshots.append(SnapshotInfo(
            cluster=parsed.cluster, taken_at=parsed.taken_at, folder=base, tables=tuple(names),
            keys=tuple(entry["tables"][name] for name in names), size_bytes=entry["size"], seq=parsed.seq,
            layout=parsed.layout, manifest_key=entry["manifest"]))
    snapshots.sort(key=lambda snap: (snap.taken_at, snap.seq, snap.folder), reverse=True)
    return snapshots


#: One table of a snapshot as it is stored: (safe table name, CSV bytes, rows).
EncodedTable = tuple[str, bytes, int]


def encode_tables(tables: Mapping[str, pd.DataFrame]) -> list[EncodedTable]:
    """(safe table name, CSV bytes, rows) for each table, in the given order: the exact bytes that are
    uploaded, or kept in the spool (k8sdata.archive.spool) until they can be."""
    encoded: dict[str, tuple[bytes, int]] = {}
    for table, frame in tables.items():
        name = safe_segment(table, "table")
        if name == MANIFEST:
            raise ValueError(f"a table may not be named {MANIFEST!r}: that name is the snapshot's manifest")
        if name in encoded:
            raise ValueError(f"two tables map to the same name {name!r}; give them distinct names")
        encoded[name] = (frame_to_csv(frame), len(frame))
    return [(name, body, rows) for name, (body, rows) in encoded.items()]


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def build_manifest(*, cluster: str, context: str | None, at: datetime,
                   tables: Iterable[tuple[str, str, int, bytes]], notes: list[dict[str, str]],
                   migrated_from: str | None = None) -> bytes:
    """The manifest: who, when, which KAMS, and each table's key, rows, bytes and SHA-256 (hex), plus
    the notes (what was left out and why). `tables`: (name, key, rows, body). Deterministic for the same
    input (a migration that is run again writes the same bytes, so it is recognised as already done)."""
    document: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "cluster": cluster,
        "context": context,
        "time": iso_time(_utc(at)),
        "kams_version": __version__,
        "tables": {name: {"key": key, "rows": rows, "bytes": len(body), "sha256": sha256_hex(body)}
                   for name, key, rows, body in tables},
        "notes": notes,
    }
    if migrated_from is not None:
        document["migrated_from"] = migrated_from
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _notes_of(body: bytes | None) -> list[dict[str, str]]:
    """The notes table's rows as the manifest lists them."""
    if not body:
        return []
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return []
    return [{str(column): str(value) for column, value in row.items()} for row in frame.to_dict("records")]


def _rows_of(body: bytes) -> int:
    """Data rows of a KAMS CSV (only for migrated tables, whose row counts were never recorded)."""
    try:
        return len(pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False))
    except pd.errors.EmptyDataError:
        return 0


def _object_metadata(cluster: str | None, context: str | None, at: datetime,
                     migrated_from: str | None = None) -> dict[str, str]:
    """x-amz-meta-* of every object of a snapshot (percent-encoded: S3 metadata is ASCII)."""
    metadata = {"kams-cluster": quote(cluster or "", safe=""), "kams-context": quote(context or "", safe=""),
                "kams-taken-at": iso_time(at)}
    if migrated_from is not None:
        metadata["kams-migrated-from"] = quote(migrated_from, safe="")
    return metadata


def retention_days(text: str | int, option: str = "--prune-older-than") -> int:
    """DAYS of a retention option: a whole number, 1 or more; a ValueError with a sentence otherwise
    (the command line exits 2 with it)."""
    value = str(text).strip()
    if not re.fullmatch(r"\+?\d+", value) or int(value) < 1:
        raise ValueError(f"{option} takes a whole number of days, 1 or more (for example 30), "
                         f"not {str(text)!r}")
    return int(value)


def prune_cutoff(days: int, now: datetime | None = None) -> datetime:
    """The moment `days` days before `now` (UTC): snapshots taken before it are pruned."""
    moment = _utc(now or datetime.now(UTC))
    try:
        return moment - timedelta(days=days)
    except OverflowError:  # more days than the calendar has: nothing is that old
        return datetime.min.replace(tzinfo=UTC)


class Corrupt(SourceError):
    """Stored bytes do not match the checksum KAMS computed (or the manifest records)."""

    kind = "corrupt"

    def _what(self) -> str:
        return f"a file in {self.source_name} is not what KAMS wrote"

    def _next(self) -> str:
        return "Do not trust this snapshot; take a new one and check the store's health."


class KeyExists(SourceError):
    """A key KAMS was about to write already holds different bytes; nothing was overwritten."""

    kind = "exists"

    def _what(self) -> str:
        return f"{self.source_name} already holds a different file under that name"

    def _next(self) -> str:
        return "KAMS never overwrites an archived file; the next snapshot uses a new name."


@dataclass(frozen=True)
class Migrated:
    """One legacy snapshot rewritten into the Hive layout."""

    old_folder: str
    manifest_key: str
    keys: tuple[str, ...]


class Archive(Protocol):
    """What pages and the CLI need from an archive, wherever it stores things."""

    def describe(self) -> str: ...
    def destination(self) -> str: ...
    def ping(self) -> None: ...
    def upload_snapshot(self, tables: Mapping[str, pd.DataFrame], cluster: str | None,
                        context: str | None, at: datetime | None = None) -> list[str]: ...
    def upload_encoded(self, encoded: list[EncodedTable], cluster: str | None, context: str | None,
                       at: datetime | None = None, *, reuse_identical: bool = False) -> list[str]: ...
    def written_snapshot(self, manifest_key: str) -> SnapshotInfo: ...
    def list_snapshots(self, limit: int = DEFAULT_LIST_LIMIT, cluster: str | None = None
                       ) -> list[SnapshotInfo]: ...
    def download(self, key: str) -> bytes: ...
    def read_manifest(self, snapshot: SnapshotInfo) -> dict[str, Any] | None: ...
    def verify_snapshot(self, snapshot: SnapshotInfo) -> list[str]: ...


#: A snapshot whose keys were taken by a concurrent writer moves on to the next free sequence number;
#: after this many, something is wrong and the run fails.
_MAX_SEQ_ATTEMPTS = 5


class SnapshotStore:
    """The snapshot logic shared by S3 and the folder, over five storage primitives each implements:
    `_list` (keys under a key prefix, recursive), `_children` (sub-"folders" of a folder), `_put_new`
    (write a key that must not exist yet, verified after writing), `_get`, `_delete`."""

    prefix: str
    _source: Source

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        raise NotImplementedError

    def _children(self, folder: str) -> list[str]:
        raise NotImplementedError

    def _put_new(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str],
                 *, accept_identical: bool = False) -> None:
        raise NotImplementedError

    def _get(self, key: str) -> bytes:
        raise NotImplementedError

    def _delete(self, keys: Iterable[str]) -> None:
        raise NotImplementedError

    def _metadata(self, key: str) -> dict[str, str]:
        return {}

    def ping(self) -> None:
        raise NotImplementedError

    def download(self, key: str) -> bytes:
        return self._get(key)

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    # -- writing --

    def upload_snapshot(self, tables: Mapping[str, pd.DataFrame], cluster: str | None,
                        context: str | None, at: datetime | None = None) -> list[str]:
        """Write each table as CSV, then the manifest; return the keys in the order written (the
        manifest's last). Nothing is ever overwritten: a second snapshot in the same second takes the
        next sequence number (HHMMSSZ.2-...)."""
        return self.upload_encoded(encode_tables(tables), cluster, context, at)

    def upload_encoded(self, encoded: list[EncodedTable], cluster: str | None, context: str | None,
                       at: datetime | None = None, *, reuse_identical: bool = False) -> list[str]:
        """`upload_snapshot` for tables already encoded (see `encode_tables`). With `reuse_identical`, a
        complete snapshot of the same cluster and second whose manifest lists exactly these tables with
        these SHA-256 sums counts as this one, and its keys are returned without writing anything: a
        spooled snapshot whose upload finished but whose local copy was not yet deleted (the run died in
        between) is not archived twice."""
        self.ping()
        moment = _utc(at or datetime.now(UTC))
        name = cluster or context or "unknown"
        if reuse_identical:
            earlier = self._identical_snapshot(name, moment, encoded)
            if earlier is not None:
                return earlier
        metadata = _object_metadata(cluster, context, moment)
        notes = _notes_of(next((body for table, body, _ in encoded if table == "notes"), None))
        seq = self._free_seq(self.prefix, name, moment)
        for _attempt in range(_MAX_SEQ_ATTEMPTS):
            base = snapshot_base(self.prefix, name, None, moment, seq)
            try:
                return self._write_snapshot(base, encoded, metadata, name, context, moment, notes)
            except KeyExists:
                # A concurrent writer took this name between our listing and our write (the conditional
                # write caught it). Its objects and ours stay as they are; ours, without a manifest, are
                # an incomplete snapshot that readers skip.
                seq += 1
        raise KeyExists(self._source,
                        f"{_MAX_SEQ_ATTEMPTS} names for the snapshot at {iso_time(moment)} were taken")

    def _identical_snapshot(self, cluster: str, moment: datetime, encoded: list[EncodedTable]
                            ) -> list[str] | None:
        """The keys (manifest last) of a complete snapshot in that second holding exactly `encoded`."""
        stem = snapshot_folder(self.prefix, cluster, moment) + snapshot_stamp(moment)
        wanted = {table: sha256_hex(body) for table, body, _rows in encoded}
        for candidate in group_snapshots(self._list(stem)):
            if candidate.manifest_key is None or set(candidate.tables) != set(wanted):
                continue
            listed = (self.read_manifest(candidate) or {}).get("tables", {})
            if {table: entry.get("sha256") for table, entry in listed.items()} == wanted:
                return [*(listed[table]["key"] for table, _body, _rows in encoded), candidate.manifest_key]
        return None

    def written_snapshot(self, manifest_key: str) -> SnapshotInfo:
        """The snapshot whose manifest is `manifest_key`, as listed now (to verify what was written)."""
        parsed = parse_key(manifest_key)
        if parsed is None or not parsed.is_manifest:
            raise SourceError(self._source, f"{manifest_key!r} is not a snapshot manifest's key")
        for snapshot in group_snapshots(self._list(parsed.base)):
            if snapshot.manifest_key == manifest_key:
                return snapshot
        raise SourceError(self._source, f"{manifest_key!r} is missing right after it was written",
                          hint="Check the store's health: it lost a file it had confirmed.")

    def _free_seq(self, prefix: str, cluster: str, moment: datetime) -> int:
        """One more than the highest sequence number already used in that second (one listing: the
        check-first that also protects stores which ignore conditional writes)."""
        stem = snapshot_folder(prefix, cluster, moment) + snapshot_stamp(moment)
        used = [parsed.seq for key, _size in self._list(stem) if (parsed := parse_key(key)) is not None]
        return max(used, default=0) + 1

    def _write_snapshot(self, base: str, encoded: list[tuple[str, bytes, int]], metadata: Mapping[str, str],
                        cluster: str, context: str | None, moment: datetime, notes: list[dict[str, str]],
                        *, migrated_from: str | None = None) -> list[str]:
        accept = migrated_from is not None  # a migration run again finds its own identical copies
        keys = []
        for table, body, _rows in encoded:
            key = base + table + ".csv"
            self._put_new(key, body, CSV_CONTENT_TYPE, metadata, accept_identical=accept)
            keys.append(key)
        manifest = build_manifest(
            cluster=cluster, context=context, at=moment, notes=notes, migrated_from=migrated_from,
            tables=[(table, key, rows, body) for (table, body, rows), key in zip(encoded, keys, strict=True)])
        # Last, so a snapshot without its manifest is known to be incomplete.
        key = base + MANIFEST + ".json"
        self._put_new(key, manifest, MANIFEST_CONTENT_TYPE, metadata, accept_identical=accept)
        return [*keys, key]

    # -- reading --

    def _cluster_folders(self, cluster: str | None) -> list[str]:
        root = self._root()
        if cluster:
            segment = safe_segment(cluster)
            return [f"{root}cluster={segment}/", f"{root}{segment}/"]
        return self._children(root)

    def _snapshots_in(self, cluster_folder: str, limit: int | None) -> list[SnapshotInfo]:
        def day_of(folder: str) -> str:
            return folder.rstrip("/").rsplit("/", 1)[-1].removeprefix("dt=")

        found: list[SnapshotInfo] = []
        for day in sorted(self._children(cluster_folder), key=day_of, reverse=True):
            if limit is not None and len(found) >= limit:
                break
            found += group_snapshots(self._list(day))
        return found if limit is None else found[:limit]

    def list_snapshots(self, limit: int = DEFAULT_LIST_LIMIT, cluster: str | None = None
                       ) -> list[SnapshotInfo]:
        """The newest `limit` snapshots (all clusters, or one), newest first, of both layouts.

        Walks cluster and day "folders" and reads only the newest days, so the cost follows `limit`,
        not the size of the archive. Incomplete snapshots (no manifest) are listed too, marked so
        (`complete`), since a person may want to see them; readers of the data skip them.
        """
        found: list[SnapshotInfo] = []
        for folder in self._cluster_folders(cluster):
            found += self._snapshots_in(folder, limit)
        found.sort(key=lambda snap: (snap.taken_at, snap.seq, snap.folder), reverse=True)
        return found[:limit]

    def read_manifest(self, snapshot: SnapshotInfo) -> dict[str, Any] | None:
        """The snapshot's manifest, or None when it has none (legacy, or incomplete)."""
        if snapshot.manifest_key is None:
            return None
        try:
            return cast(dict[str, Any], json.loads(self._get(snapshot.manifest_key)))
        except ValueError as error:
            raise Corrupt(self._source, f"{snapshot.manifest_key!r} is not valid JSON") from error

    def verify_snapshot(self, snapshot: SnapshotInfo) -> list[str]:
        """Re-read every table the manifest lists and compare size and SHA-256. Returns one sentence per
        problem, naming the key (empty: the snapshot is whole)."""
        if snapshot.layout == "legacy":
            return [f"{snapshot.folder} is in the legacy layout and has no manifest to check against "
                    "(run `python -m k8sdata archive migrate`)"]
        manifest = self.read_manifest(snapshot)
        if manifest is None:
            return [f"{snapshot.folder}{MANIFEST}.json is missing: the snapshot is incomplete"]
        problems = []
        for table, entry in manifest.get("tables", {}).items():
            key = str(entry.get("key", ""))
            try:
                body = self._get(key)
            except SourceError as error:
                problems.append(f"{key} ({table}) cannot be read: {error.sentence}")
                continue
            digest = sha256_hex(body)
            if len(body) != entry.get("bytes") or digest != entry.get("sha256"):
                problems.append(f"{key} ({table}) is corrupt: {len(body)} bytes with SHA-256 {digest}, "
                                f"the manifest says {entry.get('bytes')} bytes with {entry.get('sha256')}")
        return problems

    def read_table(self, snapshot: SnapshotInfo, table: str) -> bytes:
        """A table's bytes, checked against the manifest when the snapshot has one; raises Corrupt
        naming the key when they differ."""
        key = snapshot.key(table)
        body = self._get(key)
        manifest = self.read_manifest(snapshot)
        entry = (manifest or {}).get("tables", {}).get(table)
        if entry is not None and sha256_hex(body) != entry.get("sha256"):
            raise Corrupt(self._source, f"{key!r} does not match the SHA-256 in its manifest")
        return body

    # -- retention --

    def prune(self, cluster: str, before: datetime,
              progress: Callable[[str], None] | None = None) -> list[SnapshotInfo]:
        """Delete every snapshot of `cluster` (both layouts, complete or not) taken before `before`;
        return them, oldest first. Other clusters' snapshots are never touched.

        Only day partitions up to `before`'s day are listed. In each day the manifests go first, in one
        request, and only then the tables: a run that stops half-way leaves snapshots without a
        manifest, which every reader treats as incomplete (never a "complete" snapshot missing files),
        and the next run deletes what is left. Legacy snapshots have no manifest; their tables go.
        """
        cutoff = _utc(before)
        segment = safe_segment(cluster)
        pruned: list[SnapshotInfo] = []
        for cluster_folder in self._cluster_folders(cluster):
            for day_folder in sorted(self._children(cluster_folder)):
                name = day_folder.rstrip("/").rsplit("/", 1)[-1].removeprefix("dt=")
                try:
                    day = date.fromisoformat(name)
                except ValueError:
                    continue  # not a day partition: not KAMS's, left alone
                if day > cutoff.date():
                    continue  # everything in a later day is newer than the cutoff
                old = [snap for snap in group_snapshots(self._list(day_folder))
                       if snap.taken_at < cutoff and snap.cluster == segment
                       and snap.folder.startswith(cluster_folder)]
                if not old:
                    continue
                # Manifests first (see above), then the tables.
                self._delete([snap.manifest_key for snap in old if snap.manifest_key is not None])
                self._delete([key for snap in old for key in snap.keys])
                old.sort(key=lambda snap: (snap.taken_at, snap.seq, snap.folder))
                pruned += old
                if progress is not None:
                    progress(f"pruned {len(old)} snapshot(s) in {day_folder}")
        return sorted(pruned, key=lambda snap: (snap.taken_at, snap.seq, snap.folder))

    # -- migration --

    def legacy_snapshots(self) -> list[SnapshotInfo]:
        """Every snapshot still in the legacy layout, oldest first."""
        found = [snap for folder in self._cluster_folders(None) if "cluster=" not in folder
                 for snap in self._snapshots_in(folder, None) if snap.layout == "legacy"]
        return sorted(found, key=lambda snap: (snap.taken_at, snap.folder))

    def _earlier_copy(self, snapshot: SnapshotInfo) -> SnapshotInfo | None:
        """The Hive-layout copy an interrupted migration of `snapshot` left behind: complete (its manifest
        says migrated_from this folder) or partial (no manifest, only tables of this snapshot; their bytes
        are checked when the copy is finished). None: start afresh under a free name."""
        moment = snapshot.taken_at
        stem = snapshot_folder(self.prefix, snapshot.cluster, moment) + snapshot_stamp(moment)
        for candidate in sorted(group_snapshots(self._list(stem)), key=lambda snap: snap.seq):
            if candidate.manifest_key is not None:
                if (self.read_manifest(candidate) or {}).get("migrated_from") == snapshot.folder:
                    return candidate
            elif set(candidate.tables) <= set(snapshot.tables):
                return candidate
        return None

    def migrate(self, progress: Callable[[str], None] | None = None) -> list[Migrated]:
        """Rewrite every legacy-layout snapshot into the Hive layout: copy (with a manifest), verify the
        copy, and only then delete the old keys. Idempotent: a run that stopped half-way is finished by
        the next one (copies already made are recognised byte for byte, never duplicated or
        overwritten), and a finished archive has nothing left to migrate."""
        done = []
        for snapshot in self.legacy_snapshots():
            bodies = [(table, self._get(key))
                      for table, key in zip(snapshot.tables, snapshot.keys, strict=True)]
            encoded = [(table, body, _rows_of(body)) for table, body in bodies]
            metadata = self._metadata(snapshot.keys[0]) if snapshot.keys else {}
            context = unquote(metadata.get("kams-context", "")) or None
            notes = _notes_of(dict(bodies).get("notes"))
            meta = _object_metadata(snapshot.cluster, context, snapshot.taken_at, snapshot.folder)
            copy = self._earlier_copy(snapshot)
            if copy is None or copy.manifest_key is None:
                seq = copy.seq if copy is not None else self._free_seq(self.prefix, snapshot.cluster,
                                                                        snapshot.taken_at)
                base = snapshot_base(self.prefix, snapshot.cluster, None, snapshot.taken_at, seq)
                keys = self._write_snapshot(base, encoded, meta, snapshot.cluster, context, snapshot.taken_at,
                                            notes, migrated_from=snapshot.folder)
                copy = self.written_snapshot(keys[-1])
            problems = self.verify_snapshot(copy)
            if problems:
                raise Corrupt(self._source, f"the copy of {snapshot.folder} does not verify: {problems[0]}")
            self._delete(snapshot.keys)
            assert copy.manifest_key is not None  # written above, or found with one
            done.append(Migrated(old_folder=snapshot.folder, manifest_key=copy.manifest_key,
                                 keys=(*copy.keys, copy.manifest_key)))
            if progress is not None:
                progress(f"{snapshot.folder} -> {copy.manifest_key}")
        return done
