"""Real-browser test of the History page: Debian Chromium opens /history served by `streamlit run app.py`
with an archive in the REAL SeaweedFS (keys enforced), checks that Vega draws the trends, really clicks
the download button and compares the downloaded file with the archived object byte for byte; saves
artifacts/history.png."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from k8sdata.config import Settings
from k8sdata.sources.archive import S3Archive, archive_from_settings
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive_trends import events, pods, requests_table, scores
from tests.plugins.app import serving_app
from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser


def test_history_page_draws_trends_and_downloads_the_archived_bytes(
        s3: SeaweedS3, new_page: NewPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect

    env = {**s3.env(), "KAMS_S3_PREFIX": f"history-browser-{uuid.uuid4().hex[:8]}", "HOME": str(tmp_path),
           "KAMS_ARCHIVE_MIRROR": str(tmp_path / "mirror"), "AWS_EC2_METADATA_DISABLED": "true",
           "KAMS_REQUEST_TIMEOUT": "3"}
    for name, value in s3.env().items():  # this process writes the snapshots with the same keys
        monkeypatch.setenv(name, value)
    archive = archive_from_settings(Settings.from_env(env))
    assert isinstance(archive, S3Archive)
    now = datetime.now(UTC)
    keys: list[str] = []
    for back, overall in ((2, 70), (1, 75), (0, 80)):
        at = now - timedelta(days=back, minutes=5)
        tables = {"pods": pods((back, 2 * back, 0), "Running"), "events": events(at.day),
                  "requests": requests_table(1.5), "security_scores": scores(overall)}
        keys = archive.upload_snapshot(tables, cluster="prod", context=None, at=at)
    pods_key = next(key for key in keys if key.endswith("-pods.csv"))
    archived = s3.client().get_object(Bucket=s3.bucket, Key=pods_key)["Body"].read()

    with serving_app(env, tmp_path) as server:
        page = new_page(height=3200)
        open_overview(page, server.url)
        open_app_page(page, f"{server.url}/history", "History")
        expect(page.get_by_text("Restarts per day", exact=True)).to_be_visible()
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts.nth(4).locator("svg, canvas").first).to_be_visible()  # five trends, all drawn
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100, box

        # Choose the pods table of the newest snapshot, then really download it.
        page.get_by_test_id("stSelectbox").filter(has_text="Table").locator("input").click()
        page.get_by_role("option", name="pods", exact=True).click()
        settle(page)
        button = page.get_by_role("button", name="Download pods.csv")
        expect(button).to_be_visible()
        with page.expect_download() as info:
            button.click()
        download = info.value
        assert download.suggested_filename.endswith("-pods.csv"), download.suggested_filename
        assert Path(download.path()).read_bytes() == archived
        save_screenshot(page, "history.png", min_bytes=20_000, server=server)
