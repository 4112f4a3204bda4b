"""Snapshots -> CSV -> S3 (boto3) or a local folder.

A snapshot is a set of tables (pods, events, requests, ...) taken at one moment. Each table becomes
one CSV object under a key laid out like Popeye's bucket/cluster/context/file reports:

    <prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/<table>.csv

so the objects of a cluster sort by time, a day is one "folder", and a lifecycle rule can expire old
days by prefix. The kubeconfig context is not a path segment (several contexts usually name the same
cluster); it is kept in the object's metadata (x-amz-meta-kams-context) and used as the cluster
segment only when no cluster name is known.

Only the S3 part does I/O over the network; `frame_to_csv` and `snapshot_key` are pure. Every failure
becomes a k8sdata.errors.SourceError kind with a sentence a person can act on. No streamlit here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote

import pandas as pd

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

if TYPE_CHECKING:
    from k8sdata.config import Settings

DEFAULT_PREFIX = "kams"
DEFAULT_LIST_LIMIT = 20
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

# ---------------------------------------------------------------------------------------------
# CSV (pure)
# ---------------------------------------------------------------------------------------------

#: Leading characters that make Excel, LibreOffice and Google Sheets treat a cell as a formula
#: (OWASP "CSV Injection"): = + - @, and tab / carriage return, which some parsers strip before
#: looking at the next character.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: A plain number such as "-5" or "+1.5" is read as a number, never evaluated, so it is left alone
#: (e.g. a "-1" in a text column stays a number for whoever opens the file).
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralize_formula(text: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate as a formula with a single quote.

    Why: snapshot tables carry text KAMS does not control (pod names, labels, event messages, log
    lines). Someone opening the CSV in a spreadsheet must not run `=HYPERLINK(...)`, `=cmd|...` or
    `@SUM(...)` planted in an event message. OWASP recommends exactly this: a leading `'` makes the
    spreadsheet show the cell as text; quoting of embedded quotes and commas is left to the CSV writer.
    """
    if text.startswith(_FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _iso(value: datetime | pd.Timestamp) -> str:
    """ISO 8601; aware values in UTC with a Z, naive ones as they are."""
    if pd.isna(value):
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
        text = value.replace(tzinfo=None).isoformat()
        return text + "Z"
    return value.isoformat()


def _cell(value: Any) -> Any:
    """One object-column cell as CSV text (numbers and missing values pass through)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, datetime):  # pd.Timestamp is a datetime too
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping | list | tuple | set):
        if isinstance(value, set):
            value = sorted(value, key=str)
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
        return neutralize_formula(text)
    if isinstance(value, bool | int | float):
        return value
    return neutralize_formula(str(value))


def _csv_column(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").map(
            lambda text: _trim_micro(text) if isinstance(text, str) else "")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").map(
            lambda text: _trim_micro(text) if isinstance(text, str) else "")
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.dt.total_seconds()
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series  # numbers can't be formulas; -5 stays -5
    return series.map(_cell).astype(object)


def _trim_micro(text: str) -> str:
    """Drop an all-zero fraction so whole seconds read 2026-01-01T12:00:00Z."""
    return text.replace(".000000", "")


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """A DataFrame as UTF-8 CSV bytes (RFC 4180): header row, no index, CRLF line ends, ISO 8601 timestamps
    (UTC with Z for aware ones), lists and dicts as JSON, and every text cell and header guarded
    against formula injection (see `neutralize_formula`)."""
    safe = pd.DataFrame(
        {index: _csv_column(frame.iloc[:, index]) for index in range(frame.shape[1])},
        index=frame.index,
    )
    safe.columns = [neutralize_formula(str(name)) for name in frame.columns]
    # CRLF as RFC 4180 says, and because the csv writer only quotes cells that contain characters
    # of the line terminator: with "\n" alone, a bare "\r" in an event message would split a row.
    text = safe.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Keys (pure)
# ---------------------------------------------------------------------------------------------

_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")
_KEY = re.compile(
    r"^(?:(?P<prefix>.+)/)?(?P<cluster>[^/]+)/(?P<day>\d{4}-\d\d-\d\d)/(?P<time>\d{6}Z)/"
    r"(?P<table>[^/]+)\.csv$"
)


def safe_segment(value: str, fallback: str = "unknown") -> str:
    """One key/path segment: letters, digits, . _ - only (EKS context names contain ':' and '/'),
    never '.' or '..', so a key can never climb out of its folder."""
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
    """`<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/`, the common part of one snapshot's keys."""
    moment = _utc(at)
    parts = [_clean_prefix(prefix), safe_segment(cluster), moment.strftime("%Y-%m-%d"),
             moment.strftime("%H%M%SZ")]
    return "/".join(part for part in parts if part) + "/"


def snapshot_key(prefix: str, cluster: str | None, context: str | None, table: str, at: datetime) -> str:
    """`<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/<table>.csv` (time in UTC; unsafe characters
    become '_'; the context names the cluster only when the cluster name is unknown)."""
    cluster_name = cluster or context or "unknown"
    return snapshot_folder(prefix, cluster_name, at) + safe_segment(table, "table") + ".csv"


@dataclass(frozen=True)
class SnapshotInfo:
    """One archived snapshot: the tables stored under one folder."""

    cluster: str
    taken_at: datetime  # UTC, to the second
    folder: str  # "<prefix>/<cluster>/<YYYY-MM-DD>/<HHMMSSZ>/"
    tables: tuple[str, ...]
    keys: tuple[str, ...]
    size_bytes: int

    def key(self, table: str) -> str:
        return self.folder + table + ".csv"


def parse_key(key: str) -> tuple[str, str, datetime, str] | None:
    """(folder, cluster, taken_at, table) of a snapshot key, or None for anything else."""
    match = _KEY.match(key)
    if not match:
        return None
    try:
        taken_at = datetime.strptime(f"{match['day']} {match['time']}", "%Y-%m-%d %H%M%SZ")
    except ValueError:
        return None
    folder = key[: -len(match["table"]) - len(".csv")]
    return folder, match["cluster"], taken_at.replace(tzinfo=UTC), match["table"]


def group_snapshots(objects: Iterable[tuple[str, int]]) -> list[SnapshotInfo]:
    """Group (key, size) pairs into snapshots, newest first."""
    folders: dict[str, dict[str, Any]] = {}
    for key, size in objects:
        parsed = parse_key(key)
        if parsed is None:
            continue
        folder, cluster, taken_at, table = parsed
        entry = folders.setdefault(folder, {"cluster": cluster, "taken_at": taken_at, "tables": {},
                                            "size": 0})
        entry["tables"][table] = folder + table + ".csv"
        entry["size"] += size
    snapshots = [
        SnapshotInfo(cluster=entry["cluster"], taken_at=entry["taken_at"], folder=folder,
                     tables=tuple(sorted(entry["tables"])),
                     keys=tuple(entry["tables"][name] for name in sorted(entry["tables"])),
                     size_bytes=entry["size"])
        for folder, entry in folders.items()
    ]
    snapshots.sort(key=lambda snap: (snap.taken_at, snap.folder), reverse=True)
    return snapshots


def _encode_tables(tables: Mapping[str, pd.DataFrame], prefix: str, cluster: str | None,
                   context: str | None, at: datetime) -> list[tuple[str, bytes]]:
    encoded: dict[str, bytes] = {}
    for table, frame in tables.items():
        key = snapshot_key(prefix, cluster, context, table, at)
        if key in encoded:
            raise ValueError(f"two tables map to the same key {key!r}; give them distinct names")
        encoded[key] = frame_to_csv(frame)
    return list(encoded.items())


class Archive(Protocol):
    """What pages and the CLI need from an archive, wherever it stores things."""

    def describe(self) -> str: ...
    def ping(self) -> None: ...
    def upload_snapshot(self, tables: Mapping[str, pd.DataFrame], cluster: str | None,
                        context: str | None, at: datetime | None = None) -> list[str]: ...
    def list_snapshots(self, limit: int = DEFAULT_LIST_LIMIT, cluster: str | None = None
                       ) -> list[SnapshotInfo]: ...
    def download(self, key: str) -> bytes: ...


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


class S3Archive:
    """Snapshots in an S3 bucket (AWS or any S3-compatible store via AWS_ENDPOINT_URL_S3).

    Credentials come from boto3's own chain (env, shared files, web identity / IRSA, instance role);
    KAMS never handles keys itself. The boto3 client is thread-safe and created once, lazily, so one
    instance can be shared by every viewer (st.cache_resource).
    """

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
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Archive:
        return cls(settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                   timeout=settings.request_timeout)

    def describe(self) -> str:
        where = f"s3://{self.bucket or '?'}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

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

    def upload_snapshot(self, tables: Mapping[str, pd.DataFrame], cluster: str | None,
                        context: str | None, at: datetime | None = None) -> list[str]:
        """Write each table as CSV; return the keys in the order written."""
        bucket = self._bucket()
        moment = _utc(at or datetime.now(UTC))
        metadata = {
            "kams-cluster": quote(cluster or "", safe=""),
            "kams-context": quote(context or "", safe=""),
            "kams-taken-at": _iso(moment),
        }
        keys = []
        for key, body in _encode_tables(tables, self.prefix, cluster, context, moment):
            self._call(f"write {key!r}", "put_object", Bucket=bucket, Key=key, Body=body,
                       ContentType=CSV_CONTENT_TYPE, Metadata=metadata)
            keys.append(key)
        return keys

    def _common_prefixes(self, prefix: str) -> list[str]:
        found: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": self._bucket(), "Prefix": prefix, "Delimiter": "/"}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list snapshots", "list_objects_v2", **params)
            found += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
            if not page.get("IsTruncated"):
                return found
            token = page.get("NextContinuationToken")

    def _objects(self, prefix: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": self._bucket(), "Prefix": prefix}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list snapshots", "list_objects_v2", **params)
            found += [(entry["Key"], int(entry.get("Size", 0))) for entry in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return found
            token = page.get("NextContinuationToken")

    def list_snapshots(self, limit: int = DEFAULT_LIST_LIMIT, cluster: str | None = None
                       ) -> list[SnapshotInfo]:
        """The newest `limit` snapshots (all clusters, or one), newest first.

        Walks cluster and day "folders" with Delimiter='/' and reads only the newest days, so the
        cost follows `limit`, not the size of the archive.
        """
        root = f"{self.prefix}/" if self.prefix else ""
        clusters = ([f"{root}{safe_segment(cluster)}/"] if cluster else self._common_prefixes(root))
        found: list[SnapshotInfo] = []
        for cluster_prefix in clusters:
            days = sorted(self._common_prefixes(cluster_prefix), reverse=True)
            from_cluster: list[SnapshotInfo] = []
            for day in days:
                if len(from_cluster) >= limit:
                    break
                from_cluster += group_snapshots(self._objects(day))
            found += from_cluster[:limit]
        found.sort(key=lambda snap: (snap.taken_at, snap.folder), reverse=True)
        return found[:limit]

    def download(self, key: str) -> bytes:
        response = self._call(f"read {key!r}", "get_object", key=key, Bucket=self._bucket(), Key=key)
        body = response["Body"]
        try:
            return cast(bytes, body.read())
        finally:
            body.close()


# ---------------------------------------------------------------------------------------------
# Local folder
# ---------------------------------------------------------------------------------------------

#: A folder is not S3: its errors name "the archive folder".
_FOLDER: Source = "archive"


class FolderArchive:
    """Snapshots in a local folder (KAMS_ARCHIVE_DIR): the same keys, as relative paths."""

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

    def upload_snapshot(self, tables: Mapping[str, pd.DataFrame], cluster: str | None,
                        context: str | None, at: datetime | None = None) -> list[str]:
        self.ping()
        moment = _utc(at or datetime.now(UTC))
        keys = []
        for key, body in _encode_tables(tables, self.prefix, cluster, context, moment):
            path = self._path(key)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Write then rename, so a reader never sees half a file.
                handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
                try:
                    with os.fdopen(handle, "wb") as out:
                        out.write(body)
                    os.replace(temporary, path)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary)
                    raise
            except PermissionError as error:
                raise Forbidden(_FOLDER, f"cannot write {path}",
                                hint="Give the user KAMS runs as write access to the folder.") from error
            except OSError as error:
                raise SourceError(_FOLDER, f"cannot write {path}: {error.strerror}") from error
            keys.append(key)
        return keys

    def list_snapshots(self, limit: int = DEFAULT_LIST_LIMIT, cluster: str | None = None
                       ) -> list[SnapshotInfo]:
        self.ping()
        base = self.root.joinpath(*self.prefix.split("/")) if self.prefix else self.root
        if not base.is_dir():
            return []
        clusters = [base / safe_segment(cluster)] if cluster else [p for p in base.iterdir() if p.is_dir()]
        found: list[SnapshotInfo] = []
        for cluster_dir in clusters:
            if not cluster_dir.is_dir():
                continue
            from_cluster: list[SnapshotInfo] = []
            for day in sorted((p for p in cluster_dir.iterdir() if p.is_dir()), reverse=True):
                if len(from_cluster) >= limit:
                    break
                objects = [(path.relative_to(self.root).as_posix(), path.stat().st_size)
                           for path in day.glob("*/*.csv") if path.is_file()]
                from_cluster += group_snapshots(objects)
            found += from_cluster[:limit]
        found.sort(key=lambda snap: (snap.taken_at, snap.folder), reverse=True)
        return found[:limit]

    def download(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as error:
            raise SourceError(_FOLDER, f"there is no snapshot file {key!r}",
                              hint="It may have been deleted; refresh the list.") from error
        except PermissionError as error:
            raise Forbidden(_FOLDER, f"cannot read {path}") from error


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
