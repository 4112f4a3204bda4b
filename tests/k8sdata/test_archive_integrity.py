"""Issue 13, items 1-3: the Hive key layout, the manifest, uploads that prove themselves, and the
migration of legacy-layout archives. Against the REAL SeaweedFS (fixture `s3`, keys enforced) and the
local folder; corruption is made behind KAMS's back with a raw client, as a failing disk or a careless
`aws s3 cp` would.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import k8sdata
from k8sdata.archive.store import MANIFEST_FORMAT, Corrupt, KeyExists, SnapshotInfo
from k8sdata.cli import main as cli_main
from k8sdata.export import frame_to_csv
from k8sdata.sources.archive import FolderArchive, S3Archive, archive_from_settings
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive import AT, aws_env, events_table, pods_table, s3_settings

__all__ = ["aws_env"]  # a fixture used by name below

HIVE = re.compile(r"^[^/]+/cluster=prod/dt=2026-01-01/\d{6}Z(\.\d+)?-[a-z_]+\.(csv|json)$")


def notes_table() -> pd.DataFrame:
    return pd.DataFrame({"table": ["requests"], "sentence": ["Prometheus is not configured."]})


def s3_archive(s3: SeaweedS3, env: pytest.MonkeyPatch) -> S3Archive:
    archive = archive_from_settings(s3_settings(env, s3))
    assert isinstance(archive, S3Archive)
    return archive


def legacy_put(s3: SeaweedS3, prefix: str, cluster: str, stamp: str,
               tables: dict[str, pd.DataFrame]) -> list[str]:
    """Write a snapshot the way KAMS did before issue 13 (raw client, no manifest)."""
    keys = []
    for table, frame in tables.items():
        key = f"{prefix}/{cluster}/2026-01-01/{stamp}/{table}.csv"
        s3.client().put_object(Bucket=s3.bucket, Key=key, Body=frame_to_csv(frame), ContentType="text/csv",
                               Metadata={"kams-context": "ctx%3Aprod"})
        keys.append(key)
    return keys


def cli_env(s3: SeaweedS3) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_S3": s3.endpoint_url, "HOME": "/nonexistent"}


def all_keys(s3: SeaweedS3, prefix: str) -> list[str]:
    page = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")
    return sorted(entry["Key"] for entry in page.get("Contents", []))


def test_version_matches_pyproject() -> None:
    pyproject = tomllib.loads(Path(__file__).parents[2].joinpath("pyproject.toml").read_text())
    assert k8sdata.__version__ == pyproject["project"]["version"]


# ---- layout and manifest -----------------------------------------------------------------------


def test_layout_and_manifest_match_the_stored_bytes(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    tables = {"pods": pods_table(), "events": events_table(), "notes": notes_table()}
    keys = archive.upload_snapshot(tables, cluster="prod", context="ctx:prod", at=AT)
    # Exactly these objects, all Hive-partitioned, the manifest written (and listed) last.
    assert all_keys(s3, archive.prefix) == sorted(keys)
    assert all(HIVE.match(key) for key in keys), keys
    assert keys[-1].endswith("120005Z-manifest.json")

    [snapshot] = archive.list_snapshots()
    assert snapshot.complete and snapshot.manifest_key == keys[-1]
    assert snapshot.tables == ("events", "notes", "pods")
    manifest = archive.read_manifest(snapshot)
    assert manifest is not None
    assert (manifest["format"], manifest["cluster"], manifest["context"], manifest["time"]) == \
        (MANIFEST_FORMAT, "prod", "ctx:prod", "2026-01-01T12:00:05Z")
    assert manifest["kams_version"] == k8sdata.__version__
    assert manifest["notes"] == [{"table": "requests", "sentence": "Prometheus is not configured."}]
    for table, frame in tables.items():
        entry = manifest["tables"][table]
        stored = s3.client().get_object(Bucket=s3.bucket, Key=entry["key"])["Body"].read()
        assert entry["rows"] == len(frame)
        assert entry["bytes"] == len(stored)
        assert entry["sha256"] == hashlib.sha256(stored).hexdigest()
    assert archive.verify_snapshot(snapshot) == []
    # The store holds the SHA-256 KAMS sent (SeaweedFS 4.48 returns it on HEAD with ChecksumMode).
    head = s3.client().head_object(Bucket=s3.bucket, Key=keys[0], ChecksumMode="ENABLED")
    assert "ChecksumSHA256" in head


def test_a_snapshot_without_its_manifest_is_incomplete_and_skipped_by_readers(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    keys = archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context=None, at=AT)
    s3.client().delete_object(Bucket=s3.bucket, Key=keys[-1])  # as if the run died before the manifest
    [snapshot] = archive.list_snapshots()
    assert not snapshot.complete
    [problem] = archive.verify_snapshot(snapshot)
    assert "manifest.json is missing" in problem and "incomplete" in problem


# ---- uploads that prove themselves --------------------------------------------------------------


def test_a_corrupted_object_is_detected_and_named(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    keys = archive.upload_snapshot({"pods": pods_table(), "events": events_table()}, cluster="prod",
                                   context=None, at=AT)
    pods_key = keys[0]
    s3.client().put_object(Bucket=s3.bucket, Key=pods_key, Body=b"namespace,name\r\nx,tampered\r\n")
    [snapshot] = archive.list_snapshots()
    [problem] = archive.verify_snapshot(snapshot)
    assert pods_key in problem and "corrupt" in problem
    with pytest.raises(Corrupt) as caught:
        archive.read_table(snapshot, "pods")
    assert pods_key in caught.value.sentence
    assert archive.read_table(snapshot, "events") == frame_to_csv(events_table())
    # The CLI says the same, and exits 1.
    out = io.StringIO()
    code = cli_main(["archive", "verify", "--to", f"s3://{s3.bucket}/{archive.prefix}"], out=out,
                    err=io.StringIO(), environ=cli_env(s3))
    assert code == 1
    assert f"FAIL {snapshot.folder}" in out.getvalue() and pods_key in out.getvalue()


def test_no_key_is_ever_overwritten(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    key = f"{archive.prefix}/cluster=prod/dt=2026-01-01/120005Z-pods.csv"
    archive._put_new(key, b"first", "text/csv", {})
    with pytest.raises(KeyExists):
        archive._put_new(key, b"second", "text/csv", {})
    assert archive.download(key) == b"first"
    assert archive._conditional_writes is True  # SeaweedFS 4.48 answers If-None-Match with 412
    archive._put_new(key, b"first", "text/csv", {}, accept_identical=True)  # a resumed migration: fine


def test_a_store_without_conditional_writes_is_checked_first(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    archive._conditional_writes = False  # as after a 501 NotImplemented for If-None-Match
    key = f"{archive.prefix}/cluster=prod/dt=2026-01-01/120005Z-pods.csv"
    archive._put_new(key, b"first", "text/csv", {})
    with pytest.raises(KeyExists):
        archive._put_new(key, b"second", "text/csv", {})
    assert archive.download(key) == b"first"


def test_same_second_snapshots_are_both_kept(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    first = archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context=None, at=AT)
    second = archive.upload_snapshot({"pods": pods_table().head(1)}, cluster="prod", context=None,
                                     at=AT + timedelta(microseconds=500))
    assert first[0].endswith("/120005Z-pods.csv")
    assert second[0].endswith("/120005Z.2-pods.csv") and second[-1].endswith("/120005Z.2-manifest.json")
    newest, oldest = archive.list_snapshots()
    assert (newest.seq, oldest.seq) == (2, 1) and newest.taken_at == oldest.taken_at == AT
    assert archive.read_table(newest, "pods") == frame_to_csv(pods_table().head(1))
    assert archive.read_table(oldest, "pods") == frame_to_csv(pods_table())
    assert archive.verify_snapshot(newest) == archive.verify_snapshot(oldest) == []


def test_uploads_are_sent_with_sha256_and_retries_are_standard(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    sent: list[dict[str, Any]] = []
    client = archive._s3()
    client.meta.events.register("before-parameter-build.s3.PutObject",
                                lambda params, **_: sent.append(dict(params)))
    archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context=None, at=AT)
    assert [params["ChecksumAlgorithm"] for params in sent] == ["SHA256", "SHA256"]
    assert all(params["IfNoneMatch"] == "*" for params in sent)
    config = client.meta.config
    assert config.retries["mode"] == "standard"
    assert (config.connect_timeout, config.read_timeout) == (archive.timeout, archive.timeout)


# ---- migration ---------------------------------------------------------------------------------


def test_migrate_rewrites_the_legacy_layout_and_is_idempotent(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    tables = {"pods": pods_table(), "events": events_table(), "notes": notes_table()}
    legacy_put(s3, archive.prefix, "prod", "120005Z", tables)
    legacy_put(s3, archive.prefix, "prod", "121005Z", {"pods": pods_table()})
    archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context=None, at=AT + timedelta(hours=1))

    # Both layouts are listed and readable before the migration (the Security trend's API).
    listed = archive.list_snapshots()
    assert [(snap.layout, snap.taken_at) for snap in listed] == [
        ("hive", AT + timedelta(hours=1)), ("legacy", AT + timedelta(minutes=10)), ("legacy", AT)]
    assert archive.download(listed[2].key("events")) == frame_to_csv(events_table())
    assert archive.list_snapshots(cluster="prod", limit=2)[1].layout == "legacy"

    out = io.StringIO()
    code = cli_main(["archive", "migrate", "--to", f"s3://{s3.bucket}/{archive.prefix}"], out=out,
                    err=io.StringIO(), environ=cli_env(s3))
    assert code == 0, out.getvalue()
    assert "Migrated 2 snapshot(s)" in out.getvalue()
    keys = all_keys(s3, archive.prefix)
    assert len(keys) == 4 + 2 + 2 and all(HIVE.match(key) for key in keys), keys
    snapshots = archive.list_snapshots()
    assert [snap.layout for snap in snapshots] == ["hive"] * 3 and all(snap.complete for snap in snapshots)
    migrated = snapshots[2]
    assert migrated.taken_at == AT and archive.verify_snapshot(migrated) == []
    manifest = archive.read_manifest(migrated)
    assert manifest is not None
    assert manifest["migrated_from"] == f"{archive.prefix}/prod/2026-01-01/120005Z/"
    assert manifest["context"] == "ctx:prod"  # from the legacy objects' metadata
    assert manifest["tables"]["pods"]["rows"] == 2 and manifest["notes"][0]["table"] == "requests"
    assert archive.read_table(migrated, "events") == frame_to_csv(events_table())

    assert archive.migrate() == []  # nothing left: a second run changes nothing
    assert all_keys(s3, archive.prefix) == keys


def test_migrate_finishes_an_interrupted_run_without_duplicates(s3: SeaweedS3,
                                                                aws_env: pytest.MonkeyPatch) -> None:
    archive = s3_archive(s3, aws_env)
    old = legacy_put(s3, archive.prefix, "prod", "120005Z", {"pods": pods_table(), "events": events_table()})
    # The first run copied one table, then died (no manifest, old keys still there).
    partial = f"{archive.prefix}/cluster=prod/dt=2026-01-01/120005Z-events.csv"
    s3.client().put_object(Bucket=s3.bucket, Key=partial, Body=frame_to_csv(events_table()))
    [done] = archive.migrate()
    assert done.manifest_key.endswith("/120005Z-manifest.json")
    assert not set(old) & set(all_keys(s3, archive.prefix))
    [snapshot] = archive.list_snapshots()
    assert snapshot.tables == ("events", "pods") and archive.verify_snapshot(snapshot) == []


# ---- the local folder: same layout, manifest, no overwrite, migration ---------------------------------


def test_folder_archive_has_the_same_guarantees(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path)
    keys = archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context="c", at=AT)
    again = archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context="c", at=AT)
    assert [Path(key).name for key in keys] == ["120005Z-pods.csv", "120005Z-manifest.json"]
    assert [Path(key).name for key in again] == ["120005Z.2-pods.csv", "120005Z.2-manifest.json"]
    assert not list(tmp_path.rglob(".*.part"))
    newest, oldest = archive.list_snapshots()
    assert archive.verify_snapshot(newest) == archive.verify_snapshot(oldest) == []
    manifest = json.loads((tmp_path / keys[-1]).read_text())
    stored = (tmp_path / keys[0]).read_bytes()
    assert manifest["tables"]["pods"]["sha256"] == hashlib.sha256(stored).hexdigest()

    with pytest.raises(KeyExists):
        archive._put_new(keys[0], b"other", "text/csv", {})
    (tmp_path / keys[0]).write_bytes(b"tampered")
    [problem] = archive.verify_snapshot(oldest)
    assert keys[0] in problem

    legacy = tmp_path / "kams" / "staging" / "2026-01-01" / "120005Z"
    legacy.mkdir(parents=True)
    (legacy / "pods.csv").write_bytes(frame_to_csv(pods_table()))
    assert [snap.layout for snap in archive.list_snapshots(cluster="staging")] == ["legacy"]
    [done] = archive.migrate()
    assert done.old_folder == "kams/staging/2026-01-01/120005Z/"
    assert not (tmp_path / "kams" / "staging").exists()  # emptied folders are removed
    [moved] = archive.list_snapshots(cluster="staging")
    assert isinstance(moved, SnapshotInfo) and moved.complete and archive.verify_snapshot(moved) == []
    assert archive.migrate() == []


def test_security_trend_reads_both_layouts_and_skips_incomplete(tmp_path: Path) -> None:
    from k8sdata.archive.scores import score_trend
    from k8sdata.archive.snapshot import SECURITY_SCORES_TABLE

    scores = pd.DataFrame({"category": ["Overall"], "value": [80]})
    archive = FolderArchive(tmp_path)
    archive.upload_snapshot({SECURITY_SCORES_TABLE: scores}, cluster="prod", context=None,
                            at=AT + timedelta(hours=1))
    broken = archive.upload_snapshot({SECURITY_SCORES_TABLE: scores.assign(value=[1])}, cluster="prod",
                                     context=None, at=AT + timedelta(hours=2))
    (tmp_path / broken[-1]).unlink()  # no manifest: incomplete, not drawn
    legacy = tmp_path / "kams" / "prod" / "2026-01-01" / "120005Z"
    legacy.mkdir(parents=True)
    (legacy / f"{SECURITY_SCORES_TABLE}.csv").write_bytes(frame_to_csv(scores.assign(value=[70])))
    trend = score_trend(archive)
    assert trend.sentence == ""
    assert trend.frame["value"].tolist() == [70, 80]
