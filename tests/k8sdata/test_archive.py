"""k8sdata.archive.store: CSV building, keys, and the archive against the REAL SeaweedFS (fixture `s3`).

Credentials reach S3Archive the way they do in production: through boto3's own chain, here the
AWS_* environment variables (shared config files and the instance metadata service are switched off
so that nothing on this machine leaks in and a missing key fails fast).
"""

from __future__ import annotations

import io
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8sdata.archive.store import ParsedKey, manifest_key, parse_key, snapshot_key
from k8sdata.config import Settings
from k8sdata.errors import Forbidden, NotConfigured, NotInstalled, SourceError, Timeout, Unreachable
from k8sdata.export import frame_to_csv, neutralize_formula
from k8sdata.sources.archive import FolderArchive, S3Archive, archive_from_settings, archive_from_target
from sandbox.seaweed import SeaweedS3
from tests.plugins.s3 import isolate_aws

AT = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)


def pods_table() -> pd.DataFrame:
    return pd.DataFrame({
        "namespace": ["shop", "shop"],
        "name": ["web-6d8f7b9c5d-x7k2p", "=HYPERLINK(\"http://evil\",\"click\")"],
        "restarts": [0, -1],
        "created": pd.to_datetime(["2026-01-01T11:00:00Z", "2025-12-31T23:59:59Z"], utc=True),
        "is_ready": [True, False],
        "labels": [{"app": "web"}, {"app": "@evil"}],
    })


def events_table() -> pd.DataFrame:
    return pd.DataFrame({"type": ["Warning"], "reason": ["BackOff"], "message": ["+cmd|' /C calc'!A0"]})


# ---- CSV -------------------------------------------------------------------------------------


def test_csv_has_header_utf8_and_iso_timestamps() -> None:
    created = pd.to_datetime(["2026-01-01T12:00:00+02:00"], utc=True)
    frame = pd.DataFrame({"name": ["café"], "created": created})
    text = frame_to_csv(frame).decode("utf-8")
    assert text == "name,created\r\ncafé,2026-01-01T10:00:00Z\r\n"


def test_line_breaks_inside_cells_stay_inside_the_cell() -> None:
    frame = pd.DataFrame({"message": ["line one\rline two", "a\nb", "c\r\nd"], "n": [1, 2, 3]})
    back = pd.read_csv(io.BytesIO(frame_to_csv(frame)))
    assert back["message"].tolist() == frame["message"].tolist()
    assert back["n"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("dangerous", ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", "\t=1", "\r=1",
                                       "=cmd|' /C calc'!A0"])
def test_formula_cells_are_prefixed_with_a_quote(dangerous: str) -> None:
    text = frame_to_csv(pd.DataFrame({"message": [dangerous]})).decode()
    parsed = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert parsed["message"][0] == "'" + dangerous


def test_plain_values_numbers_and_headers() -> None:
    frame = pd.DataFrame({"=header": ["-5", "ok", "a=b"], "count": [-3, 2, 1]})
    text = frame_to_csv(frame).decode()
    assert text.split("\r\n") == ["'=header,count", "-5,-3", "ok,2", "a=b,1", ""]


def test_dicts_become_json_and_are_guarded_too() -> None:
    text = frame_to_csv(pd.DataFrame({"labels": [{"b": "2", "a": "1"}, ["=x"]]})).decode()
    parsed = pd.read_csv(io.StringIO(text), dtype=str)
    assert parsed["labels"][0] == '{"a": "1", "b": "2"}'
    assert parsed["labels"][1] == '["=x"]'  # starts with '[', which no spreadsheet evaluates


def test_missing_values_are_empty_cells() -> None:
    frame = pd.DataFrame({"a": pd.Series(["x", None], dtype="string"), "when": [AT, None]})
    assert frame_to_csv(frame).decode() == "a,when\r\nx,2026-01-01T12:00:05Z\r\n,\r\n"


@given(st.text(max_size=40))
def test_no_cell_can_start_a_formula(text: str) -> None:
    cell = neutralize_formula(text)
    if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        float(cell)  # only a plain number may keep its sign
    assert cell in {text, "'" + text}  # nothing is lost, at most a quote is added


# ---- keys -------------------------------------------------------------------------------------


def test_key_layout() -> None:
    assert snapshot_key("kams", "kams-demo", "kams-demo", "pods", AT) == \
        "kams/cluster=kams-demo/dt=2026-01-01/120005Z-pods.csv"
    assert snapshot_key("kams", "kams-demo", None, "pods", AT, seq=2) == \
        "kams/cluster=kams-demo/dt=2026-01-01/120005Z.2-pods.csv"
    assert manifest_key("kams", "kams-demo", None, AT) == \
        "kams/cluster=kams-demo/dt=2026-01-01/120005Z-manifest.json"


def test_key_uses_utc_and_sanitizes_segments() -> None:
    local = AT.astimezone(pd.Timestamp("2026-01-01", tz="Asia/Tokyo").tzinfo)
    key = snapshot_key("team/a/", "arn:aws:eks:eu-west-1:1:cluster/prod", None, "../../etc/passwd", local)
    assert key == \
        "team/a/cluster=arn_aws_eks_eu-west-1_1_cluster_prod/dt=2026-01-01/120005Z-.._.._etc_passwd.csv"
    assert ".." not in key.split("/")


def test_context_names_the_cluster_only_when_the_cluster_is_unknown() -> None:
    assert snapshot_key("kams", None, "my-context", "pods", AT).startswith("kams/cluster=my-context/")
    assert snapshot_key("kams", "prod", "other-context", "pods", AT).startswith("kams/cluster=prod/")


def test_parse_key_round_trip() -> None:
    key = snapshot_key("kams", "prod", None, "events", AT)
    assert parse_key(key) == \
        ParsedKey("kams/cluster=prod/dt=2026-01-01/120005Z-", "prod", AT, 1, "events", "hive")
    later = parse_key(snapshot_key("kams", "prod", None, "security_scores", AT, seq=3))
    assert later is not None and (later.seq, later.name) == (3, "security_scores")
    manifest = parse_key(manifest_key("kams", "prod", None, AT))
    assert manifest is not None and manifest.is_manifest
    assert parse_key("kams/prod/2026-01-01/120005Z/events.csv") == \
        ParsedKey("kams/prod/2026-01-01/120005Z/", "prod", AT, 1, "events", "legacy")
    assert parse_key("kams/prod/readme.txt") is None
    assert parse_key("kams/cluster=prod/dt=2026-01-01/120005Z-notes.json") is None


# ---- S3 against real SeaweedFS -----------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """An environment where boto3's chain sees only what a test sets."""
    isolate_aws(monkeypatch, tmp_path)
    yield monkeypatch


def s3_settings(env: pytest.MonkeyPatch, store: SeaweedS3, *, bucket: str | None = None,
                prefix: str | None = None, access_key: str | None = None,
                secret_key: str | None = None, endpoint: str | None = None) -> Settings:
    env.setenv("AWS_ACCESS_KEY_ID", access_key or store.access_key)
    env.setenv("AWS_SECRET_ACCESS_KEY", secret_key or store.secret_key)
    return Settings.from_env({
        "KAMS_S3_BUCKET": bucket or store.bucket,
        "KAMS_S3_PREFIX": prefix or f"test-{uuid.uuid4().hex[:8]}",
        "AWS_ENDPOINT_URL_S3": endpoint or store.endpoint_url,
        "KAMS_REQUEST_TIMEOUT": "3",
        "HOME": "/nonexistent",
    })


def test_upload_list_download_round_trip(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3))
    assert isinstance(archive, S3Archive)
    archive.ping()
    tables = {"pods": pods_table(), "events": events_table()}
    keys = archive.upload_snapshot(tables, cluster="kams-demo", context="kams-demo", at=AT)
    folder = f"{archive.prefix}/cluster=kams-demo/dt=2026-01-01/120005Z-"
    assert keys == [folder + "pods.csv", folder + "events.csv", folder + "manifest.json"]

    [snapshot] = archive.list_snapshots()
    assert snapshot.folder == folder
    assert snapshot.cluster == "kams-demo"
    assert snapshot.taken_at == AT
    assert snapshot.tables == ("events", "pods")
    assert snapshot.size_bytes == sum(len(frame_to_csv(frame)) for frame in tables.values())

    body = archive.download(snapshot.key("pods"))
    assert body == frame_to_csv(tables["pods"])
    back = pd.read_csv(io.BytesIO(body))
    assert back["name"].tolist() == ["web-6d8f7b9c5d-x7k2p", "'=HYPERLINK(\"http://evil\",\"click\")"]
    assert back["restarts"].tolist() == [0, -1]

    # The object is a real S3 object with a CSV content type and the context in its metadata.
    head = s3.client().head_object(Bucket=s3.bucket, Key=keys[0])
    assert head["ContentType"].startswith("text/csv")
    assert head["Metadata"]["kams-context"] == "kams-demo"


def test_list_is_newest_first_limited_and_filterable(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3))
    assert isinstance(archive, S3Archive)
    moments = [AT - timedelta(days=1), AT, AT + timedelta(minutes=5)]
    for moment in moments:
        archive.upload_snapshot({"pods": pods_table()}, cluster="prod", context=None, at=moment)
    archive.upload_snapshot({"pods": pods_table()}, cluster="staging", context=None,
                            at=AT + timedelta(hours=1))

    newest_two = archive.list_snapshots(limit=2)
    assert [(snap.cluster, snap.taken_at) for snap in newest_two] == [
        ("staging", AT + timedelta(hours=1)), ("prod", AT + timedelta(minutes=5))]
    prod = archive.list_snapshots(limit=10, cluster="prod")
    assert [snap.taken_at for snap in prod] == sorted(moments, reverse=True)


def test_listings_follow_every_page(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3))
    assert isinstance(archive, S3Archive)
    for hours in range(3):
        archive.upload_snapshot({"pods": pods_table(), "events": events_table()}, cluster=f"c{hours % 2}",
                                context=None, at=AT + timedelta(hours=hours))
    whole = archive.list_snapshots(limit=10)
    archive.list_page_size = 1  # one key (or one folder) per page: every listing crosses pages
    assert archive.list_snapshots(limit=10) == whole and len(whole) == 3
    assert [snap.keys for snap in archive.list_snapshots(limit=10, cluster="c0")] == \
        [snap.keys for snap in whole if snap.cluster == "c0"]


def test_wrong_secret_is_forbidden_with_a_clear_sentence(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3, secret_key="wrong-secret"))
    assert archive is not None
    with pytest.raises(Forbidden) as caught:
        archive.ping()
    assert caught.value.source == "s3"
    assert "SignatureDoesNotMatch" in caught.value.sentence
    assert "AWS_SECRET_ACCESS_KEY" in caught.value.sentence
    with pytest.raises(Forbidden):
        archive.upload_snapshot({"pods": pods_table()}, cluster="x", context=None, at=AT)


def test_unknown_access_key_is_forbidden(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3, access_key="nobody", secret_key="x"))
    assert archive is not None
    with pytest.raises(Forbidden) as caught:
        archive.ping()
    assert "AWS_ACCESS_KEY_ID" in caught.value.sentence


def test_missing_bucket_says_to_create_it(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3, bucket="no-such-bucket"))
    assert archive is not None
    with pytest.raises(NotInstalled) as caught:
        archive.ping()
    sentence = caught.value.sentence
    assert "'no-such-bucket' does not exist" in sentence
    assert "Create the bucket 'no-such-bucket'" in sentence
    with pytest.raises(NotInstalled):
        archive.list_snapshots()


def test_missing_object_is_a_sentence(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = archive_from_settings(s3_settings(aws_env, s3))
    assert archive is not None
    with pytest.raises(SourceError) as caught:
        archive.download("kams/cluster=prod/dt=2020-01-01/000000Z-pods.csv")
    assert "no snapshot file" in caught.value.sentence


def test_no_bucket_is_not_configured() -> None:
    with pytest.raises(NotConfigured) as caught:
        S3Archive(None).ping()
    assert "KAMS_S3_BUCKET" in caught.value.sentence
    assert archive_from_settings(Settings.from_env({"HOME": "/nonexistent"})) is None


def test_no_credentials_is_not_configured(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    archive = S3Archive(s3.bucket, endpoint_url=s3.endpoint_url, timeout=2)
    started = time.monotonic()
    with pytest.raises(NotConfigured) as caught:
        archive.ping()
    assert "credentials" in caught.value.sentence
    assert time.monotonic() - started < 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_port_is_unreachable_quickly(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    archive = archive_from_settings(s3_settings(aws_env, s3, endpoint=endpoint))
    assert archive is not None
    started = time.monotonic()
    with pytest.raises(Unreachable) as caught:
        archive.ping()
    assert time.monotonic() - started < 3
    assert endpoint in caught.value.sentence


def test_silent_server_times_out(s3: SeaweedS3, aws_env: pytest.MonkeyPatch) -> None:
    """A TCP peer that accepts the connection but never answers (a network fault, not an S3 mock)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        aws_env.setenv("AWS_ACCESS_KEY_ID", "k")
        aws_env.setenv("AWS_SECRET_ACCESS_KEY", "s")
        archive = S3Archive("kams", endpoint_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                            timeout=0.5)
        started = time.monotonic()
        with pytest.raises(Timeout) as caught:
            archive.ping()
        assert time.monotonic() - started < 5
        assert "did not answer in time" in caught.value.sentence


# ---- folder ----------------------------------------------------------------------------------


def test_folder_archive_round_trip(tmp_path: Path) -> None:
    settings = Settings.from_env({"KAMS_ARCHIVE_DIR": str(tmp_path), "HOME": "/nonexistent"})
    archive = archive_from_settings(settings)
    assert isinstance(archive, FolderArchive)
    archive.ping()
    keys = archive.upload_snapshot({"pods": pods_table(), "events": events_table()},
                                   cluster="kams-demo", context=None, at=AT)
    archive.upload_snapshot({"pods": pods_table()}, cluster="kams-demo", context=None,
                            at=AT - timedelta(days=2))
    assert keys[0] == "kams/cluster=kams-demo/dt=2026-01-01/120005Z-pods.csv"
    assert (tmp_path / keys[0]).read_bytes() == frame_to_csv(pods_table())
    assert not list(tmp_path.rglob("*.part"))

    snapshots = archive.list_snapshots()
    assert [snap.taken_at for snap in snapshots] == [AT, AT - timedelta(days=2)]
    assert snapshots[0].tables == ("events", "pods")
    assert archive.list_snapshots(limit=1)[0].taken_at == AT
    assert archive.download(snapshots[0].key("events")) == frame_to_csv(events_table())


@pytest.mark.parametrize("key", ["../outside.csv", "/etc/passwd", "kams/../../x.csv", "", "kams//x.csv"])
def test_folder_archive_refuses_keys_that_leave_it(tmp_path: Path, key: str) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "outside.csv").write_text("secret")
    archive = FolderArchive(tmp_path / "archive")
    with pytest.raises(SourceError):
        archive.download(key)


def test_folder_that_does_not_exist(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path / "missing")
    with pytest.raises(NotInstalled) as caught:
        archive.ping()
    assert "does not exist" in caught.value.sentence
    assert "S3" not in caught.value.sentence


def test_s3_wins_over_the_folder_and_targets_parse(tmp_path: Path) -> None:
    settings = Settings.from_env({"KAMS_S3_BUCKET": "b", "KAMS_ARCHIVE_DIR": str(tmp_path),
                                  "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1", "HOME": "/nonexistent"})
    chosen = archive_from_settings(settings)
    assert isinstance(chosen, S3Archive) and chosen.bucket == "b"
    target = archive_from_target("s3://other/some/prefix/", settings)
    assert isinstance(target, S3Archive)
    assert (target.bucket, target.prefix, target.endpoint_url) == ("other", "some/prefix", "http://127.0.0.1:1")
    folder = archive_from_target(str(tmp_path), settings)
    assert isinstance(folder, FolderArchive) and folder.root == tmp_path
