"""Issue 13, item 4, on the website: the Connections panel counts the snapshots waiting in the spool, and
while the archive works the website uploads them first (as the CLI and the CronJob do). Against the
sandbox's REAL SeaweedFS with enforced keys, through app.py in AppTest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from k8sdata.archive.spool import Spool
from k8sdata.archive.store import encode_tables
from k8sdata.sources.archive import S3Archive
from tests.app.test_app import run_app
from tests.k8sdata.test_archive import events_table, pods_table
from tests.plugins.app import texts

AT = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def spool_one(spool_dir: Path, destination: str) -> Spool:
    spool = Spool(spool_dir)
    spool.put(encode_tables({"pods": pods_table(), "events": events_table()}), destination=destination,
              cluster="spooled-cluster", context=None, at=AT)
    return spool


def spool_line(at: Any) -> str:
    [line] = [text for text in texts(at.sidebar.markdown) if "**Spool**" in text]
    return line


def test_a_backlog_is_counted_while_s3_refuses_the_keys(app_env: dict[str, str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")
    prefix = app_env.get("KAMS_S3_PREFIX", "kams")
    spool = spool_one(tmp_path / "spool", f"s3://{app_env['KAMS_S3_BUCKET']}/{prefix}")
    spool_one(tmp_path / "spool", "s3://another-bucket/kams")  # not this archive's: not counted
    at = run_app()
    assert not at.exception
    line = spool_line(at)
    assert line.startswith(":orange[:material/schedule:] **Spool**: 1 snapshot(s) wait in "), line
    assert "uploaded once the archive works again" in line
    assert spool.count() == 2


def test_the_website_uploads_the_backlog_once_s3_works(app_env: dict[str, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, s3: Any) -> None:
    monkeypatch.setenv("KAMS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("KAMS_S3_PREFIX", "spooled-by-site")
    spool = spool_one(tmp_path / "spool", f"s3://{app_env['KAMS_S3_BUCKET']}/spooled-by-site")
    at = run_app()
    assert not at.exception
    line = spool_line(at)
    assert line == ":green[:material/check_circle:] **Spool**: empty; 1 spooled snapshot(s) uploaded just now"
    assert spool.count() == 0
    archive = S3Archive(s3.bucket, prefix="spooled-by-site", endpoint_url=s3.endpoint_url, timeout=3.0)
    [snapshot] = archive.list_snapshots(cluster="spooled-cluster")
    assert snapshot.taken_at == AT and snapshot.complete and archive.verify_snapshot(snapshot) == []
