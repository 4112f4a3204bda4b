"""Issue 13, item 4: nothing is lost. When S3 fails the snapshot goes to the spool, and the next run uploads
it first, verified. Against the REAL SeaweedFS with enforced keys: a store of this test's own that is
really stopped and started again ("S3 down"), and the session's store for wrong credentials.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.archive.spool import Spool, SpoolBroken, Spooled, deliver_snapshot
from k8sdata.archive.store import encode_tables
from k8sdata.cli import main as cli_main
from k8sdata.config import Settings
from k8sdata.errors import Unreachable
from k8sdata.sources.archive import S3Archive
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive import events_table, pods_table
from tests.plugins.s3 import isolate_aws

TIMEOUT = "3"
AT = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def boto_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access_key: str, secret_key: str) -> None:
    isolate_aws(monkeypatch, tmp_path, access_key, secret_key)


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[SeaweedS3]:
    """A SeaweedFS of this test alone, so it can be taken down without disturbing the others."""
    store = SeaweedS3(tmp_path / "seaweed", bucket="kams")
    store.start()
    try:
        yield store
    finally:
        store.stop()


def run_snapshot(kube_api: Any, endpoint_url: str, spool: Path, target: str) -> tuple[int, str, str]:
    """`python -m k8sdata snapshot --to TARGET` as the CronJob runs it."""
    environ = {"KUBECONFIG": str(kube_api.reader_kubeconfig), "KAMS_REQUEST_TIMEOUT": TIMEOUT,
               "AWS_ENDPOINT_URL_S3": endpoint_url, "HOME": str(spool.parent), "KAMS_SPOOL_DIR": str(spool)}
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["snapshot", "--to", target, "--cluster", "prod"], out=out, err=err, environ=environ)
    return code, out.getvalue(), err.getvalue()


def test_s3_down_spools_the_snapshot_and_the_next_run_uploads_it_first(
        kube_api: Any, own_store: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    boto_env(monkeypatch, tmp_path, own_store.access_key, own_store.secret_key)
    spool_dir = tmp_path / "home" / "spool"
    target = f"s3://{own_store.bucket}/spool"
    down_at = own_store.endpoint_url
    own_store.stop()  # S3 goes down: the CronJob's run finds nothing listening at its address

    code, out, err = run_snapshot(kube_api, down_at, spool_dir, target)
    assert code == 1 and out == ""
    assert "KAMS cannot reach S3" in err and "The snapshot was kept in the spool" in err, err
    assert "Traceback" not in err and "Traceback" not in capsys.readouterr().err
    [waiting] = Spool(spool_dir).pending()
    assert waiting.destination == "s3://kams/spool" and waiting.cluster == "prod"
    assert {"pods", "events", "nodes"} <= {table for table, _sha, _rows in waiting.tables}

    own_store.start()  # S3 is back (a new port: the spool is keyed by bucket and prefix, not endpoint)
    code, out, err = run_snapshot(kube_api, own_store.endpoint_url, spool_dir, target)
    assert code == 0, err
    assert "Uploaded 1 spooled snapshot(s) first" in out
    assert Spool(spool_dir).pending() == [] and not waiting.path.exists()

    archive = S3Archive(own_store.bucket, prefix="spool", endpoint_url=own_store.endpoint_url, timeout=3.0)
    snapshots = archive.list_snapshots()
    assert len(snapshots) == 2 and all(snapshot.complete for snapshot in snapshots)
    newest, spooled = snapshots
    assert spooled.taken_at == waiting.taken_at < newest.taken_at  # archived under its own time
    for snapshot in snapshots:
        assert archive.verify_snapshot(snapshot) == []
    manifest = archive.read_manifest(spooled) or {}
    assert {table: entry["sha256"] for table, entry in manifest["tables"].items()} == \
        {table: digest for table, digest, _rows in waiting.tables}
    # Oldest first: the spooled snapshot's manifest was stored before the new snapshot's first table.
    client = own_store.client()
    assert spooled.manifest_key is not None
    uploaded = client.head_object(Bucket=own_store.bucket, Key=spooled.manifest_key)["LastModified"]
    new_first = client.head_object(Bucket=own_store.bucket, Key=newest.keys[0])["LastModified"]
    assert uploaded <= new_first


@pytest.mark.parametrize(("keys", "named"), [
    ("secret", "The secret key does not match the access key; check AWS_SECRET_ACCESS_KEY."),
    ("access", "The S3 server does not know this access key; check AWS_ACCESS_KEY_ID"),
])
def test_wrong_credentials_say_which_and_keep_the_snapshot(
        kube_api: Any, s3: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: str,
        named: str) -> None:
    prefix = f"creds-{keys}"
    wrong = ((s3.access_key, s3.secret_key + "x") if keys == "secret"
             else ("AKIAUNKNOWN" + s3.access_key[-4:], s3.secret_key))
    boto_env(monkeypatch, tmp_path, *wrong)
    spool_dir = tmp_path / "spool"
    code, out, err = run_snapshot(kube_api, s3.endpoint_url, spool_dir, f"s3://{s3.bucket}/{prefix}")
    assert code == 1 and out == ""
    assert named in err and "The snapshot was kept in the spool" in err, err
    assert "Traceback" not in err and "botocore" not in err
    assert Spool(spool_dir).count(f"s3://{s3.bucket}/{prefix}") == 1

    boto_env(monkeypatch, tmp_path, s3.access_key, s3.secret_key)  # credentials fixed
    code, out, err = run_snapshot(kube_api, s3.endpoint_url, spool_dir, f"s3://{s3.bucket}/{prefix}")
    assert code == 0, err
    assert "Uploaded 1 spooled snapshot(s) first" in out and Spool(spool_dir).count() == 0
    archive = S3Archive(s3.bucket, prefix=prefix, endpoint_url=s3.endpoint_url, timeout=3.0)
    assert [snapshot.complete for snapshot in archive.list_snapshots()] == [True, True]


# ---- the spool itself, against the session's store ------------------------------------------------


def tables(marker: str) -> dict[str, pd.DataFrame]:
    return {"pods": pods_table().assign(node=marker), "events": events_table()}


@pytest.fixture
def archive(s3: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            request: pytest.FixtureRequest) -> S3Archive:
    boto_env(monkeypatch, tmp_path, s3.access_key, s3.secret_key)
    prefix = f"spool-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    return S3Archive(s3.bucket, prefix=prefix, endpoint_url=s3.endpoint_url, timeout=3.0)


def spool_three(spool: Spool, archive: S3Archive) -> list[datetime]:
    moments = [AT + timedelta(hours=hours) for hours in (5, 1, 3)]  # spooled out of order
    for moment in moments:
        spool.put(encode_tables(tables(f"n{moment.hour}")), destination=archive.destination(),
                  cluster="prod", context="ctx", at=moment)
    return sorted(moments)


def test_drain_uploads_oldest_first_and_leaves_other_archives_alone(archive: S3Archive,
                                                                   tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    moments = spool_three(spool, archive)
    spool.put(encode_tables(tables("elsewhere")), destination="s3://other/kams", cluster="prod", context=None,
              at=AT)
    lines: list[str] = []
    result = spool.drain(archive, progress=lines.append)
    assert result.error is None and not result.damaged and not result.busy
    assert [spooled.taken_at for spooled, _keys in result.uploaded] == moments
    assert [line.split(" at ")[1][:19] for line in lines] == [f"{m:%Y-%m-%d %H:%M:%S}" for m in moments]
    assert spool.count(archive.destination()) == 0 and spool.count("s3://other/kams") == 1
    archived = archive.list_snapshots()
    assert sorted(snapshot.taken_at for snapshot in archived) == moments
    for snapshot in archived:
        pods = pd.read_csv(io.BytesIO(archive.read_table(snapshot, "pods")))
        assert set(pods["node"]) == {f"n{snapshot.taken_at.hour}"}  # each snapshot's own bytes


def test_an_upload_whose_local_copy_survived_is_not_archived_twice(archive: S3Archive,
                                                                   tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    kept = spool.put(encode_tables(tables("once")), destination=archive.destination(), cluster="prod",
                     context=None, at=AT)
    copy = tmp_path / "copy"
    shutil.copytree(kept.path, copy)
    first = spool.drain(archive)
    shutil.copytree(copy, kept.path)  # the run died after the upload, before deleting the local copy
    second = spool.drain(archive)
    assert second.uploaded[0][1] == first.uploaded[0][1]  # the same keys: found, not written again
    [snapshot] = archive.list_snapshots()
    assert snapshot.seq == 1 and spool.count() == 0


def test_a_damaged_spooled_file_is_named_and_skipped_the_rest_go(archive: S3Archive, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool_three(spool, archive)
    oldest = spool.pending()[0]
    (oldest.path / "pods.csv").write_bytes(b"namespace,name\r\nedited,by-hand\r\n")
    result = spool.drain(archive)
    [(damaged, problem)] = result.damaged
    assert damaged.path == oldest.path and isinstance(problem, SpoolBroken)
    assert "pods.csv has changed on disk since it was spooled" in problem.sentence
    assert len(result.uploaded) == 2 and len(archive.list_snapshots()) == 2
    assert [spooled.path for spooled in spool.pending()] == [oldest.path]  # kept for a person to look at


def test_a_second_drainer_leaves_the_work_to_the_lock_holder(archive: S3Archive, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool_three(spool, archive)
    with spool._locked() as held:
        assert held
        result = Spool(tmp_path / "spool").drain(archive)
    assert result.busy and result.uploaded == [] and spool.count() == 3
    assert len(spool.drain(archive).uploaded) == 3


def test_deliver_spools_when_the_archive_is_unreachable_and_says_so(tmp_path: Path, s3: SeaweedS3,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    boto_env(monkeypatch, tmp_path, s3.access_key, s3.secret_key)
    dead = S3Archive(s3.bucket, prefix="dead", endpoint_url="http://127.0.0.1:9", timeout=1.0)
    spool = Spool(tmp_path / "spool")
    with pytest.raises(Spooled) as caught:
        deliver_snapshot(dead, spool, tables("x"), "prod", None, AT)
    assert isinstance(caught.value.cause, Unreachable)
    assert str(spool.pending()[0].path) in caught.value.sentence
    # The spool itself unusable (a file where the folder should be): the run says both.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    with pytest.raises(SpoolBroken) as broken:
        deliver_snapshot(dead, Spool(blocked), tables("x"), "prod", None, AT)
    assert "KAMS could not keep the snapshot in its spool folder" in broken.value.sentence
    assert "KAMS cannot reach S3" in broken.value.sentence


def test_settings_choose_the_spool(tmp_path: Path) -> None:
    settings = Settings.from_env({"KAMS_SPOOL_DIR": str(tmp_path / "s")}, home=tmp_path)
    assert Spool.from_settings(settings).root == tmp_path / "s"
