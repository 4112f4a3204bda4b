"""Issue 13, item 5: the History page's trends, read back from the archive with DuckDB over a local
mirror. Against the REAL SeaweedFS (fixture `s3`, keys enforced) and the folder archive.

Every expected value is computed here, independently, with pandas from the CSV bytes as the store holds
them (read with a raw boto3 client, not through KAMS), and compared with what DuckDB returns.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from k8sdata.archive.trends import (
    SECONDS_PER_DAY,
    TRENDS,
    Mirror,
    mirror_archive,
    mirror_dir_for,
    run_trend,
    run_trends,
    snapshots_in_window,
)
from k8sdata.config import Settings
from k8sdata.sources.archive import FolderArchive, S3Archive, archive_from_settings
from sandbox.seaweed import SeaweedS3
from tests.k8sdata.test_archive import aws_env, s3_settings

__all__ = ["aws_env"]  # a fixture used by name below

#: The last of the three days; the window is DAYS days ending on it.
NOW = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
DAYS = 3
DAY1, DAY2, DAY3 = (datetime(2026, 3, day, tzinfo=UTC) for day in (1, 2, 3))
#: (time, pods restarts of web-a / worker-b / kube-dns, phase of worker-b, overall score, rps of web)
PLAN = [
    (DAY1 + timedelta(hours=9), (0, 1, 0), "Running", 71, 2.5),
    (DAY1 + timedelta(hours=15), (2, 1, 0), "Running", 74, 3.5),
    (DAY2 + timedelta(hours=10), (1, 4, 0), "Pending", 80, 0.0),  # web-a recreated: 2 -> 1
    (DAY2 + timedelta(hours=10), (3, 4, 0), "Pending", 82, 1.25),  # the same second: ...100000Z.2-
    (DAY2 + timedelta(hours=20), (3, 6, 1), "Failed", 85, 6.0),
    (DAY3 + timedelta(hours=8), (5, 6, 1), "Running", 90, 4.0),
]
EMPTY_REQUESTS_AT = DAY2 + timedelta(hours=10)  # its first snapshot has an empty requests table


def pods(restarts: tuple[int, int, int], worker_phase: str) -> pd.DataFrame:
    web, worker, dns = restarts
    return pd.DataFrame({
        "namespace": ["shop", "shop", "kube-system"],
        "name": ["web-6d8f7b9c5d-x7k2p", "=worker-b", "coredns-5d78c9869d-abcde"],
        "ready": ["1/1", "0/1", "1/1"],
        "status": ["Running", "CrashLoopBackOff", "Running"],
        "restarts": [web, worker, dns],
        "phase": ["Running", worker_phase, "Running"],
        "is_ready": [True, False, True],
        "labels": [{"app": "web"}, {"app": "worker, \"batch\""}, {"k8s-app": "kube-dns"}],
    })


def events(day: int) -> pd.DataFrame:
    return pd.DataFrame({
        "namespace": ["shop", "shop", "kube-system", "shop"],
        "last_seen": pd.to_datetime([f"2026-03-{day:02d}T08:00:00Z"] * 4, utc=True),
        "type": ["Warning", "Warning", "Warning", "Normal"],
        "reason": ["BackOff", "Unhealthy", "FailedMount", "Pulled"],
        "object": ["pod/=worker-b", "pod/web-6d8f7b9c5d-x7k2p", "pod/coredns-5d78c9869d-abcde", "pod/web"],
        "message": ["Back-off restarting failed container,\r\nagain", f"Readiness probe failed: day {day}",
                    "@SUM(1) \"quoted\"", "pulled"],
        "count": [3, 1, 2, 1],
    })


def requests_table(rps: float, empty: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({
        "namespace": ["shop", "shop", "kube-system"], "workload": ["web", "worker", "coredns"],
        "pod": ["", "", ""], "convention": ["http", "http", "coredns"],
        "rps": [rps, float("nan"), 10.0], "error_ratio": [0.01, None, 0.0],
    })
    return frame.iloc[0:0] if empty else frame


def scores(overall: float) -> pd.DataFrame:
    return pd.DataFrame({"category": ["Pod Security", "Overall"], "value": [overall + 3, overall],
                         "grade": ["B", "C"], "passed": [10, 20], "warnings": [1, 2], "dangers": [0, 1]})


def write_plan(archive: S3Archive | FolderArchive, cluster: str = "prod") -> None:
    empty_used = False
    for at, restarts, phase, overall, rps in PLAN:
        empty = at == EMPTY_REQUESTS_AT and not empty_used
        empty_used = empty_used or empty
        archive.upload_snapshot({"pods": pods(restarts, phase), "events": events(at.day),
                                 "requests": requests_table(rps, empty), "security_scores": scores(overall)},
                                cluster=cluster, context=None, at=at)


# ---- the expected values, with pandas from the stored bytes ----------------------------------------

_KEY = re.compile(r"cluster=(?P<cluster>[^/]+)/dt=(?P<dt>[\d-]+)/(?P<time>\d{6})Z(?:\.(?P<seq>\d+))?-"
                  r"(?P<table>[a-z_]+)\.csv$")


def stored_tables(objects: dict[str, bytes], table: str) -> pd.DataFrame:
    """Every row of `table` in the COMPLETE snapshots among `objects` (key -> bytes), with cluster, dt,
    time and seq, each CSV read as text like a spreadsheet would."""
    manifests = {key.removesuffix("manifest.json") for key in objects if key.endswith("-manifest.json")}
    parts = []
    for key, body in sorted(objects.items()):
        match = _KEY.search(key)
        if not match or match["table"] != table or key[:key.rindex("-") + 1] not in manifests:
            continue
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
        parts.append(frame.assign(cluster=match["cluster"], dt=match["dt"], time=match["time"],
                                  seq=int(match["seq"] or 1), file=key))
    return pd.concat(parts, ignore_index=True)


def expected_security(rows: pd.DataFrame) -> pd.DataFrame:
    overall = rows[rows["category"] == "Overall"].assign(score=lambda f: pd.to_numeric(f["value"]))
    overall = overall.sort_values(["cluster", "dt", "time", "seq"])
    grouped = overall.groupby(["cluster", "dt"], as_index=False)
    return grouped.agg(mean_score=("score", "mean"), last_score=("score", "last"),
                       snapshots=("score", "size"))


def expected_restarts(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(restarts=pd.to_numeric(rows["restarts"]))
    per_day = rows.groupby(["cluster", "namespace", "name", "dt"], as_index=False)["restarts"].max()
    per_day = per_day.sort_values("dt")
    totals: dict[tuple[str, str], int] = {}
    for (cluster, _namespace, _name), pod in per_day.groupby(["cluster", "namespace", "name"]):
        highest = 0
        for dt, value in zip(pod["dt"], pod["restarts"], strict=True):
            totals[(cluster, dt)] = totals.get((cluster, dt), 0) + max(int(value) - highest, 0)
            highest = max(highest, int(value))
    days = rows[["cluster", "dt"]].drop_duplicates().sort_values(["cluster", "dt"])
    return days.assign(restarts=[totals.get((c, d), 0) for c, d in zip(days["cluster"], days["dt"],
                                                                        strict=True)])


def expected_requests(rows: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(rps=pd.to_numeric(rows["rps"], errors="coerce").fillna(0.0))
    per_file = rows.groupby("file")["rps"].sum()
    snaps = files.assign(rps=files["file"].map(per_file).fillna(0.0))
    grouped = snaps.groupby(["cluster", "dt"], as_index=False)
    out = grouped.agg(mean_rps=("rps", "mean"), snapshots=("rps", "size"))
    out.insert(3, "estimated_requests", out["mean_rps"] * SECONDS_PER_DAY)
    return out


def expected_warnings(rows: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    warnings = rows[rows["type"] == "Warning"].drop_duplicates(
        ["cluster", "dt", "namespace", "object", "reason", "message"])
    counts = warnings.groupby(["cluster", "dt"]).size()
    days = files[["cluster", "dt"]].drop_duplicates().sort_values(["cluster", "dt"])
    return days.assign(warning_events=[int(counts.get((c, d), 0)) for c, d in
                                       zip(days["cluster"], days["dt"], strict=True)])


def expected_phases(rows: pd.DataFrame) -> pd.DataFrame:
    last = rows.sort_values(["time", "seq"]).groupby(["cluster", "dt"])["file"].last()
    chosen = rows[rows["file"].isin(set(last))]
    return chosen.groupby(["cluster", "dt", "phase"], as_index=False).size().rename(columns={"size": "pods"})


def table_files(objects: dict[str, bytes], table: str) -> pd.DataFrame:
    """One row per complete snapshot's file of `table`: cluster, dt, file."""
    manifests = {key.removesuffix("manifest.json") for key in objects if key.endswith("-manifest.json")}
    rows = [{"cluster": m["cluster"], "dt": m["dt"], "file": key} for key in sorted(objects)
            if (m := _KEY.search(key)) and m["table"] == table and key[:key.rindex("-") + 1] in manifests]
    return pd.DataFrame(rows)


def same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    keys = [column for column in ("cluster", "dt", "phase") if column in expected.columns]
    actual = actual.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)[list(actual.columns)]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=False, rtol=1e-9)


def check_all_trends(mirror: Mirror, objects: dict[str, bytes], namespaces: set[str] | None = None) -> None:
    def rows(table: str) -> pd.DataFrame:
        found = stored_tables(objects, table)
        return found if namespaces is None else found[found["namespace"].isin(namespaces)]

    results = run_trends(mirror.files, namespaces)
    assert not results.errors, {name: error.sentence for name, error in results.errors.items()}
    if namespaces is None:
        same(results.frames["security"], expected_security(rows("security_scores")))
    else:
        assert "security" in results.withheld and "security" not in results.frames
    pods_rows = rows("pods")
    restarts = expected_restarts(pods_rows)
    same(results.frames["restarts"], restarts)
    same(results.frames["requests"], expected_requests(rows("requests"), table_files(objects, "requests")))
    same(results.frames["warnings"], expected_warnings(rows("events"), table_files(objects, "events")))
    same(results.frames["phases"], expected_phases(pods_rows))


def s3_objects(s3: SeaweedS3, prefix: str) -> dict[str, bytes]:
    """Every object under the prefix, read with a raw client (not KAMS)."""
    client = s3.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix + "/"):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = client.get_object(Bucket=s3.bucket, Key=entry["Key"])["Body"].read()
    return found


def s3_archive(s3: SeaweedS3, env: pytest.MonkeyPatch) -> S3Archive:
    archive = archive_from_settings(s3_settings(env, s3, prefix=f"trends-{uuid.uuid4().hex[:8]}"))
    assert isinstance(archive, S3Archive)
    return archive


# ---- against SeaweedFS ----------------------------------------------------------------------------


def test_duckdb_trends_equal_what_pandas_computes_from_the_stored_csv(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    archive = s3_archive(s3, aws_env)
    write_plan(archive)
    # Outside the window (the day before it): never mirrored.
    archive.upload_snapshot({"pods": pods((50, 50, 50), "Failed")}, cluster="prod", context=None,
                            at=DAY1 - timedelta(hours=1))
    # An incomplete snapshot (its run died before the manifest): wild values that would show if read.
    keys = archive.upload_snapshot({"pods": pods((900, 900, 900), "Unknown"), "events": events(3),
                                    "requests": requests_table(1e6), "security_scores": scores(1)},
                                   cluster="prod", context=None, at=DAY3 + timedelta(hours=9))
    s3.client().delete_object(Bucket=s3.bucket, Key=keys[-1])

    mirror = mirror_archive(archive, tmp_path / "mirror", DAYS, now=NOW)
    assert mirror.problems == ()
    assert mirror.incomplete == 1
    assert len(mirror.snapshots) == len(PLAN)
    assert {entry.day for entry in mirror.files} == {date(2026, 3, day) for day in (1, 2, 3)}
    # Same relative key paths, the very bytes the store holds.
    objects = {key: body for key, body in s3_objects(s3, archive.prefix).items()
               if "dt=2026-02-28" not in key}
    for entry in mirror.files:
        assert entry.path == tmp_path / "mirror" / entry.key
        assert entry.path.read_bytes() == objects[entry.key]
    assert not any("dt=2026-03-03/090000Z" in entry.key for entry in mirror.files)  # the incomplete one
    assert not any((tmp_path / "mirror").rglob("*.part"))

    check_all_trends(mirror, objects)

    # Spot checks of the definitions, by hand (the pandas versions above could share a mistake).
    restarts = run_trend(TRENDS["restarts"], mirror.files)
    # day 1: first seen 2 + 1 + 0; day 2: web 3-2, worker 6-1, dns 1-0; day 3: web 5-3.
    assert restarts["restarts"].tolist() == [3, 7, 2]
    security = run_trend(TRENDS["security"], mirror.files)
    assert security["mean_score"].tolist() == pytest.approx([72.5, (80 + 82 + 85) / 3, 90.0])
    assert security["last_score"].tolist() == [74.0, 85.0, 90.0]
    requests = run_trend(TRENDS["requests"], mirror.files)
    assert requests["mean_rps"].tolist() == pytest.approx([(12.5 + 13.5) / 2, (0 + 11.25 + 16) / 3, 14.0])
    phases = run_trend(TRENDS["phases"], mirror.files)
    day2 = phases[phases["dt"] == "2026-03-02"]
    assert dict(zip(day2["phase"], day2["pods"], strict=True)) == {"Failed": 1, "Running": 2}
    warnings = run_trend(TRENDS["warnings"], mirror.files)
    assert warnings["warning_events"].tolist() == [3, 3, 3]

    # A person limited to `shop` sees only shop's rows, and not the cluster-wide score.
    check_all_trends(mirror, objects, {"shop"})

    # Mirrored already: nothing is fetched again.
    again = mirror_archive(archive, tmp_path / "mirror", DAYS, now=NOW)
    assert again.fetched == 0 and again.files == mirror.files


def test_a_corrupted_object_is_refused_with_a_sentence_naming_its_key(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    archive = s3_archive(s3, aws_env)
    good = archive.upload_snapshot({"pods": pods((1, 1, 1), "Running")}, cluster="prod", context=None,
                                   at=DAY2)
    bad = archive.upload_snapshot({"pods": pods((2, 2, 2), "Running"), "events": events(3)}, cluster="prod",
                                  context=None, at=DAY3)
    # Behind KAMS's back (a careless `aws s3 cp`): same size, other bytes.
    body = s3.client().get_object(Bucket=s3.bucket, Key=bad[0])["Body"].read()
    s3.client().put_object(Bucket=s3.bucket, Key=bad[0], Body=body.replace(b"Running", b"Runnin9"))

    mirror = mirror_archive(archive, tmp_path / "mirror", DAYS, now=NOW)
    [problem] = mirror.problems
    assert bad[0] in problem and "SHA-256" in problem and "manifest" in problem
    assert [entry.key for entry in mirror.files] == [good[0]]
    assert not (tmp_path / "mirror" / bad[0]).exists()
    # Nothing half-done is left either: no manifest of the refused snapshot in the mirror.
    assert not (tmp_path / "mirror" / bad[-1]).exists()


def test_a_mirror_file_of_the_wrong_size_is_fetched_again(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    archive = s3_archive(s3, aws_env)
    [pods_key, manifest] = archive.upload_snapshot({"pods": pods((1, 1, 1), "Running")}, cluster="prod",
                                                   context=None, at=DAY3)
    mirror_archive(archive, tmp_path, DAYS, now=NOW)
    (tmp_path / pods_key).write_bytes(b"truncated")
    (tmp_path / manifest).unlink()  # as if the run stopped before the manifest reached the mirror
    again = mirror_archive(archive, tmp_path, DAYS, now=NOW)
    assert again.fetched == 1
    stored = s3.client().get_object(Bucket=s3.bucket, Key=pods_key)["Body"].read()
    assert hashlib.sha256((tmp_path / pods_key).read_bytes()).digest() == hashlib.sha256(stored).digest()


def test_days_outside_the_window_leave_the_mirror(s3: SeaweedS3, aws_env: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    archive = s3_archive(s3, aws_env)
    [old, _] = archive.upload_snapshot({"pods": pods((1, 1, 1), "Running")}, cluster="prod", context=None,
                                       at=DAY1)
    mirror_archive(archive, tmp_path, DAYS, now=NOW)
    assert (tmp_path / old).is_file()
    later = mirror_archive(archive, tmp_path, 1, now=NOW)  # today only
    assert later.files == () and not (tmp_path / old).exists()


def test_the_window_is_listed_whole_however_many_snapshots(
        s3: SeaweedS3, aws_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch) -> None:
    import k8sdata.archive.trends as trends

    archive = s3_archive(s3, aws_env)
    moments = [DAY2 + timedelta(minutes=minute) for minute in range(0, 50, 7)] + [DAY1, DAY3]
    for moment in moments:
        archive.upload_snapshot({"pods": pods((0, 0, 0), "Running")}, cluster="prod", context=None, at=moment)
    monkeypatch.setattr(trends, "_FIRST_LISTING", 2)  # several rounds of asking for more
    found = snapshots_in_window(archive, 2, now=NOW)
    assert sorted(snap.taken_at for snap in found) == sorted(m for m in moments if m >= DAY2)


def test_the_mirror_lives_under_its_own_bucket_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"KAMS_ARCHIVE_MIRROR": str(tmp_path), "HOME": str(tmp_path)})
    one = mirror_dir_for(S3Archive("team-a", endpoint_url="http://127.0.0.1:1"), settings)
    other = mirror_dir_for(S3Archive("team-a", endpoint_url="http://127.0.0.1:2"), settings)
    aws = mirror_dir_for(S3Archive("team-b"), settings)
    assert len({one, other, aws}) == 3 and all(path.parent == tmp_path for path in (one, other, aws))
    assert aws == tmp_path / "s3-team-b"
    folder = FolderArchive(tmp_path / "archive")
    assert mirror_dir_for(folder, settings) == folder.root
    assert Settings.from_env({"HOME": str(tmp_path)}).archive_mirror == str(tmp_path / ".cache/kams/mirror")


# ---- the folder archive: its own mirror ----------------------------------------------------------


def folder_objects(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*")
            if path.is_file() and not path.name.startswith(".")}


def test_the_folder_archive_is_read_in_place(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    archive = FolderArchive(tmp_path / "archive")
    write_plan(archive, cluster="lab")
    keys = archive.upload_snapshot({"pods": pods((900, 900, 900), "Unknown")}, cluster="lab", context=None,
                                   at=DAY3 + timedelta(hours=9))
    (archive.root / keys[-1]).unlink()  # incomplete
    mirror = mirror_archive(archive, None, DAYS, now=NOW)
    assert mirror.root == archive.root and mirror.problems == () and mirror.incomplete == 1
    assert all(entry.path.is_relative_to(archive.root) for entry in mirror.files)
    check_all_trends(mirror, folder_objects(archive.root))
    # A corrupted file in the folder is refused too, with its key.
    victim = next(entry for entry in mirror.files if entry.table == "events")
    victim.path.write_bytes(victim.path.read_bytes() + b"x")
    again = mirror_archive(archive, None, DAYS, now=NOW)
    assert len(again.problems) == 1 and victim.key in again.problems[0]
    assert victim.key not in {entry.key for entry in again.files}


def test_empty_tables_and_no_files_give_empty_trends(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    archive = FolderArchive(tmp_path / "archive")
    archive.upload_snapshot({"pods": pods((0, 0, 0), "Running").iloc[0:0], "events": events(3).iloc[0:0]},
                            cluster="lab", context=None, at=DAY3)
    mirror = mirror_archive(archive, None, DAYS, now=NOW)
    results = run_trends(mirror.files)
    assert not results.errors, results.errors
    assert results.frames["restarts"]["restarts"].tolist() == [0]
    assert results.frames["warnings"]["warning_events"].tolist() == [0]
    assert results.frames["phases"].empty and results.frames["security"].empty
    assert list(results.frames["security"].columns) == list(TRENDS["security"].columns)


def test_docs_show_the_same_duckdb_queries() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "archive.md").read_text(encoding="utf-8")
    for trend in TRENDS.values():
        assert trend.sql.strip() in docs, trend.name
