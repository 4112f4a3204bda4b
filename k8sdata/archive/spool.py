"""The spool: snapshots wait here while the archive cannot take them, so an outage loses nothing.

When S3 (or the archive folder) fails, the whole snapshot, exactly the CSV bytes that would have been
uploaded, goes to a local folder (`KAMS_SPOOL_DIR`; by default `~/.cache/kams/spool`; in the cluster a
volume). The next run, from the CLI, the CronJob or the website, first uploads every spooled snapshot,
oldest first, under its own time (so it lands in the day partition it was taken in), checks the
upload against the spooled SHA-256 sums, and only then deletes the local copy.

On disk, one folder per snapshot, named so that names sort by time:

    <spool>/<YYYYMMDDTHHMMSSZ>-<cluster>-<random>/spool.json     who, when, where to, each file's SHA-256
    <spool>/<YYYYMMDDTHHMMSSZ>-<cluster>-<random>/<table>.csv

A snapshot is written into a hidden folder and renamed into place once every file is flushed to disk,
so a run that dies half-way leaves a hidden folder that is never uploaded (and is tidied after a day),
never half a snapshot. A spooled snapshot remembers its destination (`archive.destination()`): it is only
ever uploaded there, never to another archive a later command happens to name. Uploads hold an
exclusive lock on `<spool>/.lock`, so the CronJob, the CLI and every viewer of the website never
upload the same snapshot twice; whoever finds the lock taken leaves the work to its holder.

No streamlit here; only the filesystem and the archive's own methods.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sdata.archive.store import Archive, Corrupt, EncodedTable, encode_tables, safe_segment
from k8sdata.errors import SourceError

if TYPE_CHECKING:
    from k8sdata.config import Settings

SPOOL_FORMAT = 1
SPOOL_FILE = "spool.json"
LOCK_FILE = ".lock"
#: A hidden folder older than this is what a run that died while spooling left behind.
STALE_PARTIAL_SECONDS = 24 * 3600


class SpoolBroken(SourceError):
    """The spool folder cannot be written or read: the snapshot it should have kept is lost."""

    kind = "spool"

    def _what(self) -> str:
        return "KAMS could not keep the snapshot in its spool folder"

    def _next(self) -> str:
        return ("Give the user KAMS runs as write access to KAMS_SPOOL_DIR, or point it at a volume that "
                "persists.")


@dataclass(frozen=True)
class SpooledSnapshot:
    """One snapshot waiting in the spool."""

    path: Path
    destination: str  # archive.destination() of the archive it is meant for
    cluster: str | None
    context: str | None
    taken_at: datetime  # UTC
    tables: tuple[tuple[str, str, int], ...]  # (table, sha256 hex, rows), in upload order

    def encoded(self) -> list[EncodedTable]:
        """The tables' bytes, each checked against the SHA-256 recorded when it was spooled."""
        found = []
        for table, digest, rows in self.tables:
            body = (self.path / f"{table}.csv").read_bytes()
            if hashlib.sha256(body).hexdigest() != digest:
                changed = self.path / f"{table}.csv"
                raise SpoolBroken("archive", f"{changed} has changed on disk since it was spooled",
                                  hint="Its snapshot cannot be trusted; delete that folder from the spool.")
            found.append((table, body, rows))
        return found


@dataclass
class DrainResult:
    """What one pass over the spool did."""

    uploaded: list[tuple[SpooledSnapshot, list[str]]] = field(default_factory=list)  # (snapshot, keys)
    #: Why the pass stopped early: the archive failed, so the snapshots left wait for the next run.
    error: SourceError | None = None
    #: Spooled snapshots that are damaged on disk; they are kept, skipped, and named.
    damaged: list[tuple[SpooledSnapshot, SourceError]] = field(default_factory=list)
    #: Another process (or viewer) held the lock and is uploading them.
    busy: bool = False


class Spool:
    """The spool folder. Cheap to create; touches the disk only when used."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    @classmethod
    def from_settings(cls, settings: Settings) -> Spool:
        return cls(settings.spool_dir or Path.home() / ".cache" / "kams" / "spool")

    # -- writing --

    def put(self, encoded: list[EncodedTable], *, destination: str, cluster: str | None,
            context: str | None, at: datetime) -> SpooledSnapshot:
        """Keep one snapshot until it can be uploaded; raise SpoolBroken when even that fails."""
        moment = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        label = safe_segment(cluster or context or "unknown")
        name = f"{moment:%Y%m%dT%H%M%SZ}-{label}-{secrets.token_hex(4)}"
        document = {
            "format": SPOOL_FORMAT, "destination": destination, "cluster": cluster, "context": context,
            "time": moment.isoformat().replace("+00:00", "Z"),
            "tables": [{"name": table, "sha256": hashlib.sha256(body).hexdigest(), "rows": rows}
                       for table, body, rows in encoded],
        }
        partial = self.root / f".{name}.part"
        try:
            partial.mkdir(parents=True)
            for table, body, _rows in encoded:
                _write_synced(partial / f"{table}.csv", body)
            _write_synced(partial / SPOOL_FILE, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
            final = self.root / name
            partial.rename(final)
            _sync_folder(self.root)
        except OSError as error:
            shutil.rmtree(partial, ignore_errors=True)
            raise SpoolBroken("archive", f"{self.root}: {error.strerror or error}") from error
        return self._read(final)

    # -- reading --

    def pending(self, destination: str | None = None) -> list[SpooledSnapshot]:
        """The spooled snapshots (for one destination, or all), oldest first. Unreadable ones are left
        out here and reported by `drain`."""
        found = []
        for path in self._folders():
            try:
                snapshot = self._read(path)
            except (OSError, ValueError, KeyError):
                continue
            if destination is None or snapshot.destination == destination:
                found.append(snapshot)
        return found

    def count(self, destination: str | None = None) -> int:
        return len(self.pending(destination))

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(path for path in self.root.iterdir()
                      if path.is_dir() and not path.name.startswith(".") and (path / SPOOL_FILE).is_file())

    def _read(self, path: Path) -> SpooledSnapshot:
        document: dict[str, Any] = json.loads((path / SPOOL_FILE).read_text(encoding="utf-8"))
        return SpooledSnapshot(
            path=path, destination=str(document["destination"]), cluster=document.get("cluster"),
            context=document.get("context"),
            taken_at=datetime.fromisoformat(str(document["time"]).replace("Z", "+00:00")),
            tables=tuple((str(entry["name"]), str(entry["sha256"]), int(entry["rows"]))
                         for entry in document["tables"]))

    # -- uploading --

    def drain(self, archive: Archive, progress: Callable[[str], None] | None = None) -> DrainResult:
        """Upload every snapshot spooled for `archive`, oldest first; each is verified in the archive
        against its spooled SHA-256 sums before its local copy is deleted. Stops at the first failure of
        the archive (the rest wait for the next run); a snapshot damaged on disk is skipped and named."""
        result = DrainResult()
        destination = archive.destination()
        if not self.pending(destination):
            return result
        with self._locked() as held:
            if not held:
                result.busy = True
                return result
            for snapshot in self.pending(destination):  # again: the lock's last holder may have sent some
                try:
                    encoded = snapshot.encoded()
                except SpoolBroken as error:
                    result.damaged.append((snapshot, error))
                    continue
                except OSError as error:
                    result.damaged.append((snapshot, SpoolBroken(
                        "archive", f"{snapshot.path}: {error.strerror or error}")))
                    continue
                try:
                    keys = archive.upload_encoded(encoded, snapshot.cluster, snapshot.context,
                                                  snapshot.taken_at, reuse_identical=True)
                    _check_uploaded(archive, keys[-1], snapshot)
                except SourceError as error:
                    result.error = error
                    return result
                shutil.rmtree(snapshot.path)
                result.uploaded.append((snapshot, keys))
                if progress is not None:
                    progress(f"uploaded the snapshot spooled at {snapshot.taken_at:%Y-%m-%d %H:%M:%SZ}: "
                             f"{keys[-1]}")
            self._tidy_partials()
        return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        """An exclusive, non-blocking lock on the spool: True when this process holds it."""
        try:
            handle = open(self.root / LOCK_FILE, "a+b")  # noqa: SIM115 (closed below, after the yield)
        except OSError as error:
            raise SpoolBroken("archive", f"{self.root / LOCK_FILE}: {error.strerror or error}") from error
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _tidy_partials(self) -> None:
        """Remove hidden folders a dead run left half-written (old enough that no run still writes)."""
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for path in self.root.glob(".*.part"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path)


def _check_uploaded(archive: Archive, manifest_key: str, snapshot: SpooledSnapshot) -> None:
    """Re-read what was archived: every table the manifest lists whole, with the spooled SHA-256 sums."""
    written = archive.written_snapshot(manifest_key)
    problems = archive.verify_snapshot(written)
    listed = {table: entry.get("sha256")
              for table, entry in (archive.read_manifest(written) or {}).get("tables", {}).items()}
    spooled = {table: digest for table, digest, _rows in snapshot.tables}
    if problems or listed != spooled:
        first = problems[0] if problems else "its manifest does not list the spooled tables"
        raise Corrupt("archive", f"the upload of the snapshot spooled in {snapshot.path} does not verify: "
                                 f"{first}", hint="It stays in the spool; the next run tries again.")


def _write_synced(path: Path, body: bytes) -> None:
    with open(path, "xb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())


def _sync_folder(path: Path) -> None:
    """Make a rename in `path` durable (POSIX: fsync the directory)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


# ---------------------------------------------------------------------------------------------
# One snapshot, delivered
# ---------------------------------------------------------------------------------------------


class Spooled(SourceError):
    """The archive failed, so the snapshot was kept in the spool: the run failed, nothing was lost."""

    kind = "spooled"

    def __init__(self, cause: SourceError, where: Path) -> None:
        self.cause = cause  # before super().__init__, which builds the message from the sentence
        super().__init__(cause.source, str(where))

    @property
    def sentence(self) -> str:
        return (f"{self.cause.sentence} The snapshot was kept in the spool ({self.detail}) and will be "
                "uploaded by the next run once the archive works again.")


@dataclass
class Delivery:
    """What `deliver_snapshot` did: the spool's backlog first, then this snapshot."""

    keys: list[str]  # this snapshot's keys, manifest last (empty when it was spooled)
    drained: DrainResult


def deliver_snapshot(archive: Archive, spool: Spool, tables: Mapping[str, pd.DataFrame],
                     cluster: str | None, context: str | None, at: datetime,
                     progress: Callable[[str], None] | None = None) -> Delivery:
    """Upload what the spool holds for `archive` (oldest first), then this snapshot. When the archive
    fails at any point, this snapshot goes to the spool instead and `Spooled` is raised (its sentence
    says why and where the snapshot waits); when the spool cannot be written either, SpoolBroken."""
    encoded = encode_tables(tables)
    drained = DrainResult()
    failure: SourceError | None = None
    try:
        # No ping of our own first: every upload (the backlog's and this one) pings the archive itself.
        drained = spool.drain(archive, progress)
        failure = drained.error
    except SourceError as error:
        failure = error
    if failure is None:
        try:
            return Delivery(keys=archive.upload_encoded(encoded, cluster, context, at), drained=drained)
        except SourceError as error:
            failure = error
    try:
        kept = spool.put(encoded, destination=archive.destination(), cluster=cluster, context=context, at=at)
    except SpoolBroken as broken:
        raise SpoolBroken("archive", f"{broken.detail}; it was needed because the archive failed: "
                                     f"{failure.sentence}") from failure
    raise Spooled(failure, kept.path) from failure
