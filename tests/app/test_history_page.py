"""AppTest of the History page (pages/history.py, ui.history_data, ui.history_view) against the REAL
SeaweedFS (fixture `s3`, keys enforced): the setup sentence without an archive; with snapshots, the
snapshot list, one Vega-Lite chart per trend, a preview table and its download; a person limited to some
namespaces sees only their rows; a corrupt file is refused with a sentence naming its key."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.config import Settings
from k8sdata.sources.archive import S3Archive, archive_from_settings
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive_trends import events, pods, requests_table, scores
from tests.plugins.app import (
    page_script,
    rerun,
    run_app_test,
    set_app_environment,
    table_with,
    texts,
    unescape,
)
from ui.filters import ACCESS_NAMESPACES_KEY

PAGE = page_script("history")
TREND_FIELDS = {"score", "restarts", "mean_rps", "warning_events", "pods"}


def history_env(s3: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's environment: only the archive (a fresh prefix of the session's SeaweedFS) and a mirror
    folder of this test's own."""
    env = {**s3.env(), "KAMS_S3_PREFIX": f"history-{uuid.uuid4().hex[:8]}", "HOME": str(tmp_path),
           "KAMS_ARCHIVE_MIRROR": str(tmp_path / "mirror"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}
    set_app_environment(monkeypatch, env)
    return Settings.from_env(env)


def write_days(settings: Settings, now: datetime) -> list[str]:
    """Snapshots on three days up to `now`; returns the newest snapshot's keys."""
    archive = archive_from_settings(settings)
    assert isinstance(archive, S3Archive)
    keys: list[str] = []
    for back, restarts, phase, overall, rps in [(2, (0, 1, 0), "Running", 70, 2.0),
                                                (1, (2, 3, 0), "Pending", 75, 3.0),
                                                (0, (2, 5, 1), "Running", 80, 4.0)]:
        at = now - timedelta(days=back, minutes=5)
        keys = archive.upload_snapshot({"pods": pods(restarts, phase), "events": events(at.day),
                                        "requests": requests_table(rps), "security_scores": scores(overall)},
                                       cluster="prod", context=None, at=at)
    return keys


def chart_fields(at: AppTest) -> set[str]:
    """The y fields of the page's Vega-Lite charts."""
    specs = [json.loads(chart.proto.spec) for kind in ("vega_lite_chart", "arrow_vega_lite_chart")
             for chart in at.get(kind)]
    return {spec["encoding"]["y"]["field"] for spec in specs}


def said(at: AppTest) -> str:
    return "\n".join(texts([*at.info, *at.warning, *at.error, *at.caption, *at.markdown]))


def test_no_archive_says_how_to_set_one_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          streamlit_caches: None) -> None:
    set_app_environment(monkeypatch, {"HOME": str(tmp_path)})
    at = run_app_test(PAGE)
    [info] = texts(at.info)
    for needed in ("KAMS_S3_BUCKET", "KAMS_ARCHIVE_DIR", "python -m k8sdata snapshot", "CronJob"):
        assert needed in info, info
    assert not at.get("download_button") and not at.dataframe


def test_snapshots_trends_preview_and_download(s3: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               streamlit_caches: None) -> None:
    settings = history_env(s3, tmp_path, monkeypatch)
    now = datetime.now(UTC)
    newest = write_days(settings, now)
    at = run_app_test(PAGE, timeout=90)

    listed = table_with(at, "Cluster", "Day", "Time (UTC)", "Tables", "Complete")
    assert len(listed) == 3 and set(listed["Cluster"]) == {"prod"} and listed["Complete"].all()
    days = [f"{now - timedelta(days=back, minutes=5):%Y-%m-%d}" for back in (0, 1, 2)]
    assert listed["Day"].tolist() == days
    assert chart_fields(at) == TREND_FIELDS
    # The mirror holds the archive's objects under the same keys.
    mirrored = list((tmp_path / "mirror").rglob("*-pods.csv"))
    assert len(mirrored) == 3

    # The newest snapshot is chosen first; its first table is previewed, and the download is its bytes.
    assert at.selectbox(key="kams_history_table").value == "events"
    at.selectbox(key="kams_history_table").select("pods")
    rerun(at)
    preview = table_with(at, "namespace", "name", "restarts", "phase")
    stored = s3.client().get_object(Bucket=s3.bucket, Key=newest[0])["Body"].read()
    expected = pd.read_csv(io.BytesIO(stored), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(preview.reset_index(drop=True), expected, check_dtype=False)
    assert preview["name"].tolist()[1] == "'=worker-b"  # the archive's formula guard, shown as text
    [button] = at.get("download_button")
    assert button.label == "Download pods.csv"
    assert "byte for byte" in said(at)


def test_a_scoped_person_sees_only_their_namespaces(s3: SeaweedS3, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    streamlit_caches: None) -> None:
    settings = history_env(s3, tmp_path, monkeypatch)
    write_days(settings, datetime.now(UTC))
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.session_state[ACCESS_NAMESPACES_KEY] = frozenset({"shop"})
    rerun(at)
    # The cluster-wide score is withheld, the other trends are drawn from shop's rows only.
    assert chart_fields(at) == TREND_FIELDS - {"score"}
    assert "whole cluster's" in said(at)
    for table in ("events", "pods", "requests"):
        at.selectbox(key="kams_history_table").select(table)
        rerun(at)
        preview = table_with(at, "namespace")
        assert set(preview["namespace"]) == {"shop"}, table
        assert "only your namespaces' rows" in said(at)
    at.selectbox(key="kams_history_table").select("security_scores")
    rerun(at)
    assert not at.get("download_button") and not [frame for frame in at.dataframe
                                                   if "category" in frame.value.columns]
    assert any("security_scores table is the whole cluster's" in text for text in texts(at.info))
    page_words = "\n".join([said(at), *[frame.value.to_csv() for frame in at.dataframe]])
    assert "kube-system" not in page_words and "coredns" not in page_words


def test_a_corrupt_file_is_refused_with_its_key(s3: SeaweedS3, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               streamlit_caches: None) -> None:
    settings = history_env(s3, tmp_path, monkeypatch)
    newest = write_days(settings, datetime.now(UTC))
    events_key = next(key for key in newest if key.endswith("-events.csv"))
    body = s3.client().get_object(Bucket=s3.bucket, Key=events_key)["Body"].read()
    s3.client().put_object(Bucket=s3.bucket, Key=events_key, Body=body.replace(b"BackOff", b"BackOfF"))
    at = run_app_test(PAGE, timeout=90)
    warnings = [unescape(str(element.value)) for element in at.warning]
    # The mirror left that snapshot out, naming the key; the preview refuses the file too.
    assert any(events_key in text and "left out" in text for text in warnings), warnings
    assert any(events_key in text and "SHA-256" in text for text in warnings), warnings
    assert not at.get("download_button")
    assert chart_fields(at) == TREND_FIELDS  # the two other days still make every trend
