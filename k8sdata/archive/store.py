"""Snapshots -> CSV -> S3 (boto3) or a local folder.

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

Only the S3 part does I/O over the network; `frame_to_csv` and `snapshot_key` are pure. Every failure
becomes a k8sdata.errors.SourceError kind with a sentence a person can act on. No streamlit here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast
from urllib.parse import quote, unquote

import pandas as pd

from k8sdata import __version__
from k8sdata.errors import (
    Forbidden,
    NotConfigured,
    NotInstalled,
    RateLimited,
    Source,
    SourceError,
    Timeout,
    Unreachable,
)
from k8sdata.export import frame_to_csv, iso_time

if TYPE_CHECKING:
    from k8sdata.config import Settings

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


def _clean_prefix(prefix: str) -> str:
    parts = [safe_segment(part) for part in prefix.split("/") if part.strip()]
    return "/".join(parts)


def _utc(at: datetime) -> datetime:
    """Aware datetimes in UTC; a naive one is taken to be UTC already."""
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def snapshot_folder(prefix: str, cluster: str, at: datetime) -> str:
    """`<prefix>/cluster=<cluster>/dt=<YYYY-MM-DD>/`: the day partition that holds the snapshot."""
    moment = _utc(at)
    parts = [_clean_prefix(prefix), f"cluster={safe_segment(cluster)}", f"dt={moment:%Y-%m-%d}"]
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


class _SnapshotStore:
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


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------

_FORBIDDEN_CODES = {
    "403", "AccessDenied", "Forbidden", "AllAccessDisabled", "AccountProblem",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket"}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_SLOW_DOWN_CODES = {"429", "SlowDown", "TooManyRequests", "RequestLimitExceeded", "Throttling"}


class S3Archive(_SnapshotStore):
    """Snapshots in an S3 bucket (AWS or any S3-compatible store via AWS_ENDPOINT_URL_S3).

    Credentials come from boto3's own chain (env, shared files, web identity / IRSA, instance role);
    KAMS never handles keys itself. The boto3 client is thread-safe and created once, lazily, so one
    instance can be shared by every viewer (st.cache_resource).
    """

    _source: Source = "s3"

    def __init__(self, bucket: str | None, *, prefix: str = DEFAULT_PREFIX, endpoint_url: str | None = None,
                 timeout: float = 10.0, region: str | None = None, max_attempts: int = 2,
                 session: Any = None) -> None:
        self.bucket = (bucket or "").strip() or None
        self.prefix = _clean_prefix(prefix)
        self.endpoint_url = endpoint_url or None
        self.timeout = timeout
        self.region = region
        self.max_attempts = max_attempts
        self._session = session
        self._client: Any = None
        #: Keys per listing page (None: the store's own, 1,000 on S3); small ones let tests cross pages.
        self.list_page_size: int | None = None
        #: Whether the store honours If-None-Match on PUT: None until the first write tells.
        self._conditional_writes: bool | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Archive:
        return cls(settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                   timeout=settings.request_timeout)

    def describe(self) -> str:
        where = self.destination()
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def destination(self) -> str:
        """Which archive this is, whatever the endpoint it is reached through (a spooled snapshot is
        meant for the bucket and prefix, and still goes there after AWS_ENDPOINT_URL_S3 is corrected)."""
        return f"s3://{self.bucket or '?'}/{self.prefix}".rstrip("/")

    # -- plumbing --

    def _bucket(self) -> str:
        if not self.bucket:
            raise NotConfigured("s3")
        return self.bucket

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                import botocore.config

                session = self._session or boto3.session.Session()
                config = botocore.config.Config(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    # A few quick retries for blips; a dead server must fail fast, not for minutes.
                    retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
                    # Path-style works with every S3-compatible store and with dotted bucket names.
                    s3={"addressing_style": "path"} if self.endpoint_url else None,
                )
                self._client = session.client("s3", endpoint_url=self.endpoint_url,
                                              region_name=self.region, config=config)
            return self._client

    def _translate(self, error: Exception, action: str, key: str | None = None) -> SourceError:
        """A boto3/botocore exception as a SourceError kind with a sentence."""
        import botocore.exceptions as bce

        bucket = self.bucket or "?"
        if isinstance(error, bce.ClientError):
            err = error.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            detail = f"{code or status} while trying to {action}"
            if code in _FORBIDDEN_CODES or status == 403:
                return Forbidden("s3", detail, hint=self._forbidden_hint(code))
            if code in _MISSING_BUCKET_CODES or (status == 404 and key is None):
                return NotInstalled(
                    "s3", f"the bucket {bucket!r} does not exist",
                    hint=f"Create the bucket {bucket!r} (for example `aws s3 mb s3://{bucket}`), "
                         "or set KAMS_S3_BUCKET to an existing bucket.")
            if key is not None and (code in _MISSING_KEY_CODES or status == 404):
                return SourceError("s3", f"there is no snapshot file {key!r} in bucket {bucket!r}",
                                   hint="It may have been deleted or expired; refresh the list.")
            if code in _SLOW_DOWN_CODES or status in (429, 503):
                return RateLimited("s3", detail)
            return SourceError("s3", detail)
        if isinstance(error, bce.NoCredentialsError | bce.PartialCredentialsError):
            return NotConfigured(
                "s3", "no AWS credentials were found",
                hint="Give KAMS credentials through boto3's usual chain: AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, a shared credentials file, or the pod's IAM role.")
        if isinstance(error, bce.ConnectTimeoutError | bce.ReadTimeoutError):
            return Timeout("s3", f"no answer within {self.timeout:g} s while trying to {action}")
        if isinstance(error, bce.EndpointConnectionError | bce.ConnectionError | bce.HTTPClientError):
            target = self.endpoint_url or "the AWS S3 endpoint"
            return Unreachable("s3", f"no connection to {target}",
                               hint="Check that the S3 server is running and that AWS_ENDPOINT_URL_S3 "
                                    "(or the AWS region) is right.")
        if isinstance(error, bce.ParamValidationError):
            return NotConfigured("s3", f"invalid S3 setting: {error}",
                                 hint="Check KAMS_S3_BUCKET and KAMS_S3_PREFIX.")
        return SourceError("s3", f"{type(error).__name__} while trying to {action}")

    @staticmethod
    def _forbidden_hint(code: str) -> str:
        if code == "InvalidAccessKeyId":
            return ("The S3 server does not know this access key; check AWS_ACCESS_KEY_ID "
                    "(or the role KAMS runs as).")
        if code == "SignatureDoesNotMatch":
            return "The secret key does not match the access key; check AWS_SECRET_ACCESS_KEY."
        if code in {"ExpiredToken", "InvalidToken", "TokenRefreshRequired"}:
            return "The temporary credentials have expired or are invalid; refresh them."
        return ("Check the credentials KAMS uses for S3 and that they may list, read and write "
                "the archive bucket.")

    def _call(self, action: str, operation: str, key: str | None = None, **params: Any) -> Any:
        import botocore.exceptions as bce

        client = self._s3()
        try:
            return getattr(client, operation)(**params)
        except (bce.BotoCoreError, bce.ClientError) as error:
            raise self._translate(error, action, key) from error

    # -- the archive surface --

    def ping(self) -> None:
        """Check that the bucket exists and that KAMS may use it; raise a SourceError kind if not."""
        import botocore.exceptions as bce

        bucket = self._bucket()
        try:
            self._s3().head_bucket(Bucket=bucket)
            return
        except bce.ClientError as error:
            first = error
        except bce.BotoCoreError as error:
            raise self._translate(error, f"open bucket {bucket!r}") from error
        # HEAD responses carry no error body, so a bare 403/404 can't say *why*. One cheap listing
        # returns the real code (SignatureDoesNotMatch, InvalidAccessKeyId, NoSuchBucket, ...).
        try:
            self._s3().list_objects_v2(Bucket=bucket, MaxKeys=1)
        except (bce.BotoCoreError, bce.ClientError) as error:
            raise self._translate(error, f"open bucket {bucket!r}") from error
        raise self._translate(first, f"open bucket {bucket!r}") from first

    # -- storage primitives (see _SnapshotStore) --

    def _pages(self, **params: Any) -> Iterable[dict[str, Any]]:
        """Every page of a ListObjectsV2 (boto3's paginator follows the continuation tokens); a failure
        on any page becomes a SourceError kind, as every other call's does."""
        import botocore.exceptions as bce

        paging = {"PageSize": self.list_page_size} if self.list_page_size else {}
        pages = self._s3().get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket(), PaginationConfig=paging, **params)
        try:
            yield from pages
        except (bce.BotoCoreError, bce.ClientError) as error:
            raise self._translate(error, "list snapshots") from error

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        return [(entry["Key"], int(entry.get("Size", 0)))
                for page in self._pages(Prefix=prefix) for entry in page.get("Contents", [])]

    def _children(self, folder: str) -> list[str]:
        return [entry["Prefix"] for page in self._pages(Prefix=folder, Delimiter="/")
                for entry in page.get("CommonPrefixes", [])]

    def _get(self, key: str) -> bytes:
        response = self._call(f"read {key!r}", "get_object", key=key, Bucket=self._bucket(), Key=key)
        body = response["Body"]
        try:
            return cast(bytes, body.read())
        finally:
            body.close()

    def _metadata(self, key: str) -> dict[str, str]:
        head = self._call(f"read {key!r}", "head_object", key=key, Bucket=self._bucket(), Key=key)
        return dict(head.get("Metadata", {}))

    def _delete(self, keys: Iterable[str]) -> None:
        pending = list(keys)
        for start in range(0, len(pending), 1000):  # DeleteObjects takes at most 1000 keys
            batch = pending[start:start + 1000]
            answer = self._call("delete old snapshot files", "delete_objects", Bucket=self._bucket(),
                                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise SourceError("s3", f"{first.get('Code')} while deleting {first.get('Key')!r}")

    def _exists(self, key: str) -> bool:
        import botocore.exceptions as bce

        try:
            self._s3().head_object(Bucket=self._bucket(), Key=key)
            return True
        except bce.ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or str(error.response.get("Error", {}).get("Code")) in _MISSING_KEY_CODES:
                return False
            raise self._translate(error, f"check {key!r}") from error
        except bce.BotoCoreError as error:
            raise self._translate(error, f"check {key!r}") from error

    def _put_new(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str],
                 *, accept_identical: bool = False) -> None:
        """Write `key` only if it does not exist, with a SHA-256 the server checks on arrival, then prove
        what is stored (see `_verify_stored`).

        No overwrite: a conditional write (If-None-Match: *), which AWS S3 and SeaweedFS (4.48: 412
        PreconditionFailed) honour. A store that rejects the header (501 NotImplemented) is remembered
        and asked with a HEAD first instead; a store that silently ignores it is still covered by the
        listing upload_snapshot does before choosing the snapshot's name. An existing key with the same
        bytes is accepted when `accept_identical` (a migration resumed), else KeyExists.
        """
        import botocore.exceptions as bce

        digest = hashlib.sha256(body).digest()
        checksum = base64.b64encode(digest).decode("ascii")
        params: dict[str, Any] = {
            "Bucket": self._bucket(), "Key": key, "Body": body, "ContentType": content_type,
            "Metadata": dict(metadata), "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": checksum,
        }
        exists = False
        if self._conditional_writes is not False:
            try:
                self._s3().put_object(**params, IfNoneMatch="*")
                self._conditional_writes = True
            except bce.ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in (409, 412):
                    exists = True
                elif code == "NotImplemented" or status == 501:
                    self._conditional_writes = False
                else:
                    raise self._translate(error, f"write {key!r}") from error
            except bce.BotoCoreError as error:
                raise self._translate(error, f"write {key!r}") from error
        if self._conditional_writes is False:
            exists = self._exists(key)
            if not exists:
                self._call(f"write {key!r}", "put_object", **params)
        if exists:
            if accept_identical and hashlib.sha256(self._get(key)).digest() == digest:
                return
            raise KeyExists("s3", f"{key!r} exists in bucket {self._bucket()!r}")
        self._verify_stored(key, body, checksum)

    def _verify_stored(self, key: str, body: bytes, checksum: str) -> None:
        """Ask the store for the object's SHA-256 (HEAD with ChecksumMode=ENABLED; SeaweedFS 4.48 and AWS
        return the ChecksumSHA256 sent with the PUT); a store that returns none is re-read and hashed."""
        head = self._call(f"check {key!r}", "head_object", key=key, Bucket=self._bucket(), Key=key,
                          ChecksumMode="ENABLED")
        stored = head.get("ChecksumSHA256")
        if stored is None:
            stored = base64.b64encode(hashlib.sha256(self._get(key)).digest()).decode("ascii")
        if stored != checksum or int(head.get("ContentLength", len(body))) != len(body):
            raise Corrupt("s3", f"{key!r} was stored with SHA-256 {stored}, KAMS sent {checksum}")


# ---------------------------------------------------------------------------------------------
# Local folder
# ---------------------------------------------------------------------------------------------

#: A folder is not S3: its errors name "the archive folder".
_FOLDER: Source = "archive"


class FolderArchive(_SnapshotStore):
    """Snapshots in a local folder (KAMS_ARCHIVE_DIR): the same keys, as relative paths, with the same
    manifest and the same never-overwrite rule."""

    _source: Source = _FOLDER

    def __init__(self, path: str | os.PathLike[str], *, prefix: str = DEFAULT_PREFIX) -> None:
        self.root = Path(path).expanduser()
        self.prefix = _clean_prefix(prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> FolderArchive:
        if not settings.archive_dir:
            raise NotConfigured(_FOLDER, hint="Set KAMS_ARCHIVE_DIR to a writable folder.")
        return cls(settings.archive_dir, prefix=settings.s3_prefix)

    def describe(self) -> str:
        return str(self.root)

    def destination(self) -> str:
        return str(self.root.absolute())

    def ping(self) -> None:
        if not self.root.is_dir():
            raise NotInstalled(_FOLDER, f"{self.root} does not exist",
                               hint=f"Create the folder {self.root}, or point KAMS_ARCHIVE_DIR elsewhere.")
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise Forbidden(_FOLDER, f"{self.root} is not readable and writable by KAMS",
                            hint="Give the user KAMS runs as read and write access to the folder.")

    def _path(self, key: str) -> Path:
        """The file for a key; keys that would leave the root are refused (they come from users)."""
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in {"", ".", ".."} for part in parts):
            raise SourceError(_FOLDER, f"{key!r} is not a snapshot file name",
                              hint="Pick a snapshot from the list.")
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise SourceError(_FOLDER, f"{key!r} is outside the archive",
                              hint="Pick a snapshot from the list.")
        return path

    # -- storage primitives (see _SnapshotStore) --

    def _key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        folder, _, _ = prefix.rpartition("/")
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        if not start.is_dir():
            return []
        found = []
        for path in start.rglob("*"):
            # Dot-files are half-written temporaries (see _put_new), never part of the archive.
            if path.name.startswith(".") or not path.is_file():
                continue
            key = self._key_of(path)
            if key.startswith(prefix):
                found.append((key, path.stat().st_size))
        return sorted(found)

    def _children(self, folder: str) -> list[str]:
        start = self.root.joinpath(*folder.strip("/").split("/")) if folder.strip("/") else self.root
        if not start.is_dir():
            return []
        return sorted(self._key_of(path) + "/" for path in start.iterdir()
                      if path.is_dir() and not path.name.startswith("."))

    def _get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as error:
            raise SourceError(_FOLDER, f"there is no snapshot file {key!r}",
                              hint="It may have been deleted; refresh the list.") from error
        except PermissionError as error:
            raise Forbidden(_FOLDER, f"cannot read {path}") from error

    def _delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                raise SourceError(_FOLDER, f"cannot delete {path}: {error.strerror}") from error
            # Drop the folders the legacy layout leaves empty (…/<HHMMSSZ>/, then the day, the cluster).
            parent = path.parent
            while parent != self.root and parent.is_relative_to(self.root):
                try:
                    parent.rmdir()
                except OSError:
                    break  # not empty: other snapshots live there
                parent = parent.parent

    def _put_new(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str],
                 *, accept_identical: bool = False) -> None:
        """Write a file that must not exist yet: the bytes go to a hidden temporary first (a reader never
        sees half a file), are flushed to disk, and are then hard-linked under their name, which fails if
        the name exists (the folder's If-None-Match). The written file is re-read and hashed."""
        path = self._path(key)
        digest = hashlib.sha256(body).digest()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(body)
                    out.flush()
                    os.fsync(out.fileno())
                os.link(temporary, path)
            except FileExistsError:
                if accept_identical and hashlib.sha256(path.read_bytes()).digest() == digest:
                    return
                raise KeyExists(_FOLDER, f"{path} exists") from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
        except PermissionError as error:
            raise Forbidden(_FOLDER, f"cannot write {path}",
                            hint="Give the user KAMS runs as write access to the folder.") from error
        except OSError as error:
            raise SourceError(_FOLDER, f"cannot write {path}: {error.strerror}") from error
        stored = hashlib.sha256(path.read_bytes()).digest()
        if stored != digest:
            raise Corrupt(_FOLDER,
                          f"{path} was stored with SHA-256 {stored.hex()}, KAMS wrote {digest.hex()}")


# ---------------------------------------------------------------------------------------------
# Choosing an archive
# ---------------------------------------------------------------------------------------------


def archive_from_settings(settings: Settings) -> S3Archive | FolderArchive | None:
    """S3 when KAMS_S3_BUCKET is set, else the folder KAMS_ARCHIVE_DIR, else None (archiving off)."""
    if settings.s3_bucket:
        return S3Archive.from_settings(settings)
    if settings.archive_dir:
        return FolderArchive.from_settings(settings)
    return None


def archive_from_target(target: str, settings: Settings | None = None) -> S3Archive | FolderArchive:
    """For `python -m k8sdata snapshot --to s3://BUCKET/PREFIX | DIR`: an explicit destination.

    The endpoint and timeout still come from settings (AWS_ENDPOINT_URL_S3, KAMS_REQUEST_TIMEOUT).
    """
    endpoint = settings.s3_endpoint_url if settings else None
    timeout = settings.request_timeout if settings else 10.0
    default_prefix = settings.s3_prefix if settings else DEFAULT_PREFIX
    if target.startswith("s3://"):
        bucket, _, prefix = target[len("s3://"):].partition("/")
        if not bucket:
            raise NotConfigured("s3", f"{target!r} names no bucket", hint="Use --to s3://BUCKET/PREFIX.")
        return S3Archive(bucket, prefix=prefix.strip("/") or default_prefix, endpoint_url=endpoint,
                         timeout=timeout)
    return FolderArchive(target, prefix=default_prefix)
