"""Issue 13, item 6: retention. `archive.prune(cluster, before)`, `python -m k8sdata snapshot
--prune-older-than DAYS` and `python -m k8sdata archive prune`, against the REAL SeaweedFS (fixture `s3`,
keys enforced) and the local folder: old snapshots of both layouts go, recent ones and other clusters'
stay, and every manifest is deleted before its tables (a run that dies half-way leaves snapshots that
read as incomplete, and the next run finishes them).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.archive.store import SnapshotInfo, parse_key, prune_cutoff, retention_days
from k8sdata.cli import main as cli_main
from k8sdata.export import frame_to_csv
from k8sdata.sources.archive import FolderArchive, S3Archive
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive import aws_env, events_table, pods_table
from tests.k8sdata.test_archive_integrity import cli_env, s3_archive

__all__ = ["aws_env"]  # a fixture used by name below

NOW = datetime.now(UTC).replace(microsecond=0)
CUTOFF = NOW - timedelta(days=30)


@dataclass
class Store:
    """One archive under test, with raw access behind KAMS's back (as `aws s3` or `rm` would)."""

    archive: S3Archive | FolderArchive
    target: str  # what --to takes
    put: Callable[[str, bytes], None]
    remove: Callable[[str], None]
    keys: Callable[[], list[str]]
    environ: dict[str, str]


@pytest.fixture(params=["s3", "folder"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "folder":
        root = tmp_path / "archive"
        root.mkdir()
        folder = FolderArchive(root)

        def put_file(key: str, body: bytes) -> None:
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

        yield Store(folder, str(root), put_file, lambda key: (root / key).unlink(),
                    lambda: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()),
                    {"HOME": "/nonexistent"})
        return
    s3: SeaweedS3 = request.getfixturevalue("s3")
    env: pytest.MonkeyPatch = request.getfixturevalue("aws_env")
    archive = s3_archive(s3, env)
    client = s3.client()

    def keys() -> list[str]:
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket,
                                                                     Prefix=archive.prefix + "/"):
            found += [entry["Key"] for entry in page.get("Contents", [])]
        return sorted(found)

    yield Store(archive, f"s3://{s3.bucket}/{archive.prefix}",
                lambda key, body: client.put_object(Bucket=s3.bucket, Key=key, Body=body),
                lambda key: client.delete_object(Bucket=s3.bucket, Key=key), keys, cli_env(s3))


def legacy(store: Store, cluster: str, at: datetime) -> list[str]:
    """A snapshot in the layout before issue 13 (no manifest), written raw."""
    folder = f"{store.archive.prefix}/{cluster}/{at:%Y-%m-%d}/{at:%H%M%SZ}/"
    keys = [folder + "pods.csv", folder + "events.csv"]
    store.put(keys[0], frame_to_csv(pods_table()))
    store.put(keys[1], frame_to_csv(events_table()))
    return keys


def hive(store: Store, cluster: str, at: datetime) -> list[str]:
    return store.archive.upload_snapshot({"pods": pods_table(), "events": events_table()}, cluster=cluster,
                                         context=None, at=at)


@dataclass
class Seeded:
    pruned: set[str]  # the keys prune must delete
    kept: set[str]  # everything else


def seed(store: Store) -> Seeded:
    """prod: 4 snapshots older than CUTOFF (two in the same second, one incomplete, one legacy) and 2
    newer (one just inside the window); staging: old snapshots of both layouts, which are not prod's."""
    old = [*hive(store, "prod", NOW - timedelta(days=40)), *hive(store, "prod", NOW - timedelta(days=40)),
           *legacy(store, "prod", NOW - timedelta(days=50))]
    incomplete = hive(store, "prod", CUTOFF - timedelta(hours=1))
    store.remove(incomplete[-1])  # as if its run died before the manifest
    old += incomplete[:-1]
    kept = [*hive(store, "prod", CUTOFF + timedelta(hours=1)),
            *hive(store, "prod", NOW - timedelta(days=1)),
            *hive(store, "staging", NOW - timedelta(days=40)),
            *legacy(store, "staging", NOW - timedelta(days=50))]
    assert sorted([*old, *kept]) == store.keys()
    return Seeded(set(old), set(kept))


def record_deletes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every batch of keys the archive deletes, in order (the real deletion still happens)."""
    calls: list[list[str]] = []
    real = store.archive._delete

    def spy(keys: Iterable[str]) -> None:
        batch = list(keys)
        calls.append(batch)
        real(batch)

    monkeypatch.setattr(store.archive, "_delete", spy)
    return calls


# ---- the archive API ------------------------------------------------------------------------------


def test_prune_deletes_old_snapshots_of_one_cluster_manifest_first(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = seed(store)
    calls = record_deletes(store, monkeypatch)
    pruned = store.archive.prune("prod", CUTOFF)

    assert set(store.keys()) == seeded.kept
    assert len(pruned) == 4
    assert [snap.layout for snap in pruned] == ["legacy", "hive", "hive", "hive"]  # oldest first
    assert all(snap.cluster == "prod" and snap.taken_at < CUTOFF for snap in pruned)
    assert sum((snap.manifest_key is None) for snap in pruned) == 2  # the legacy one and the incomplete one
    # Each manifest went in an earlier request than any of its snapshot's tables.
    order = {key: index for index, batch in enumerate(calls) for key in batch}
    assert set(order) == seeded.pruned
    for snap in pruned:
        if snap.manifest_key is not None:
            assert all(order[snap.manifest_key] < order[key] for key in snap.keys), (snap, calls)
    # What is left still reads: two prod snapshots, complete, and staging's untouched.
    left = store.archive.list_snapshots(cluster="prod")
    assert [snap.taken_at for snap in left] == [NOW - timedelta(days=1), CUTOFF + timedelta(hours=1)]
    assert all(snap.complete and store.archive.verify_snapshot(snap) == [] for snap in left)
    assert len(store.archive.list_snapshots(cluster="staging")) == 2

    assert store.archive.prune("prod", CUTOFF) == []  # nothing left to prune


def test_a_prune_that_dies_after_the_manifests_leaves_incomplete_snapshots_and_resumes(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = hive(store, "prod", NOW - timedelta(days=40))
    recent = hive(store, "prod", NOW)
    real = store.archive._delete

    def dies_after_manifests(batch: Iterable[str]) -> None:
        batch = list(batch)
        if not all((parsed := parse_key(key)) is not None and parsed.is_manifest for key in batch):
            raise OSError("the pod was killed")
        real(batch)

    monkeypatch.setattr(store.archive, "_delete", dies_after_manifests)
    with pytest.raises(OSError):
        store.archive.prune("prod", CUTOFF)
    # The manifest is gone and the tables are still there: the snapshot reads as incomplete, never as
    # complete with files missing.
    assert set(store.keys()) == {*keys[:-1], *recent}
    old = [snap for snap in store.archive.list_snapshots(cluster="prod") if snap.taken_at < CUTOFF]
    [snapshot] = old
    assert not snapshot.complete
    [problem] = store.archive.verify_snapshot(snapshot)
    assert "incomplete" in problem

    monkeypatch.setattr(store.archive, "_delete", real)
    [again] = store.archive.prune("prod", CUTOFF)  # the next run finishes the job
    assert again.folder == snapshot.folder
    assert store.keys() == sorted(recent)


def test_retention_days_takes_whole_days_of_one_or_more() -> None:
    assert retention_days("30") == 30 and retention_days(7) == 7 and retention_days(" 1 ") == 1
    for bad in ("0", "-3", "1.5", "abc", "", "30d"):
        with pytest.raises(ValueError, match="whole number of days, 1 or more"):
            retention_days(bad)
    assert prune_cutoff(30, NOW) == NOW - timedelta(days=30)
    assert prune_cutoff(10**12, NOW) == datetime.min.replace(tzinfo=UTC)  # nothing is that old


# ---- the command line -----------------------------------------------------------------------------


def fake_cluster(monkeypatch: pytest.MonkeyPatch, taken: list[bool]) -> None:
    """`snapshot` without a cluster: the kube client and the table-taking are stand-ins (the archive is
    real); the snapshot's own tests cover reading a cluster."""
    import k8sdata.cli.snapshot as snapshot_cli

    class Kube:
        context = "ctx-prod"

        def close(self) -> None:
            pass

    def take(*_args: Any, **_kwargs: Any) -> dict[str, pd.DataFrame]:
        taken.append(True)
        return {"pods": pods_table(), "events": events_table()}

    monkeypatch.setattr(snapshot_cli, "kube_from_args", lambda *_: Kube())
    monkeypatch.setattr(snapshot_cli, "take_snapshot", take)


def test_snapshot_prune_older_than_writes_then_prunes_the_same_cluster(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = seed(store)
    taken: list[bool] = []
    fake_cluster(monkeypatch, taken)
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["snapshot", "--to", store.target, "--cluster", "prod", "--prune-older-than", "30"],
                    out=out, err=err, environ=store.environ)
    assert code == 0, err.getvalue()
    assert taken == [True]
    printed = out.getvalue()
    assert "Pruned 4 snapshot(s) of cluster 'prod' older than 30 day(s)" in printed
    assert printed.index("manifest.json") < printed.index("Pruned")  # the snapshot is written first
    left = set(store.keys())
    assert seeded.kept < left and not seeded.pruned & left
    [newest] = store.archive.list_snapshots(cluster="prod", limit=1)
    assert newest.taken_at >= NOW and newest.complete
    assert left - seeded.kept == {*newest.keys, newest.manifest_key}  # only the new snapshot was added


@pytest.mark.parametrize("days", ["0", "-1", "abc", "2.5"])
def test_snapshot_refuses_bad_days_before_touching_anything(
        days: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    fake_cluster(monkeypatch, taken)
    target = tmp_path / "not-created"
    err = io.StringIO()
    code = cli_main(["snapshot", "--to", str(target), "--prune-older-than", days], out=io.StringIO(),
                    err=err, environ={"HOME": "/nonexistent"})
    assert code == 2
    assert "--prune-older-than takes a whole number of days, 1 or more" in err.getvalue()
    assert taken == [] and not target.exists()


def test_archive_prune_without_a_snapshot(store: Store) -> None:
    seeded = seed(store)
    for argv, sentence in ((["--cluster", "prod", "--older-than", "0"], "whole number of days"),
                           (["--older-than", "30"], "needs --cluster NAME"),
                           (["--cluster", "prod"], "needs --older-than DAYS")):
        err = io.StringIO()
        code = cli_main(["archive", "prune", "--to", store.target, *argv], out=io.StringIO(), err=err,
                        environ=store.environ)
        assert code == 2 and sentence in err.getvalue(), err.getvalue()
    assert set(store.keys()) == seeded.pruned | seeded.kept  # nothing deleted by a refused command

    out = io.StringIO()
    code = cli_main(["archive", "prune", "--to", store.target, "--cluster", "prod", "--older-than", "30"],
                    out=out, err=io.StringIO(), environ=store.environ)
    assert code == 0
    assert "Pruned 4 snapshot(s) of cluster 'prod' older than 30 day(s)" in out.getvalue()
    assert set(store.keys()) == seeded.kept
    left: list[SnapshotInfo] = store.archive.list_snapshots(cluster="prod", limit=100)
    assert [snap.taken_at for snap in left] == [NOW - timedelta(days=1), CUTOFF + timedelta(hours=1)]
