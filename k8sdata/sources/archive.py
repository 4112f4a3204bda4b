"""The archive's two stores: S3 through boto3 (any S3 API: AWS, MinIO, SeaweedFS, Ceph) and a local
folder. What they write (keys, manifests, CSV bytes) and how an upload is verified is k8sdata.archive.store's;
these only move bytes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from k8sdata.archive.store import (
    DEFAULT_PREFIX,
    Corrupt,
    KeyExists,
    SnapshotStore,
    clean_prefix,
)
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

_FORBIDDEN_CODES = {
    "403", "AccessDenied", "Forbidden", "AllAccessDisabled", "AccountProblem",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket"}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_SLOW_DOWN_CODES = {"429", "SlowDown", "TooManyRequests", "RequestLimitExceeded", "Throttling"}

#: A folder is not S3: its errors name "the archive folder".
_FOLDER: Source = "archive"


class S3Archive(SnapshotStore):
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
        self.prefix = clean_prefix(prefix)
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

    # -- storage primitives (see SnapshotStore) --

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


class FolderArchive(SnapshotStore):
    """Snapshots in a local folder (KAMS_ARCHIVE_DIR): the same keys, as relative paths, with the same
    manifest and the same never-overwrite rule."""

    _source: Source = _FOLDER

    def __init__(self, path: str | os.PathLike[str], *, prefix: str = DEFAULT_PREFIX) -> None:
        self.root = Path(path).expanduser()
        self.prefix = clean_prefix(prefix)

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

    # -- storage primitives (see SnapshotStore) --

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
