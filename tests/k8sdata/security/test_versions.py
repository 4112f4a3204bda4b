"""Outdated software: the end-of-life data file, the cluster version against it (90-day warning), and
the kubelet skew policy."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import yaml

from k8sdata.security.versions import (
    EOL_FILE,
    KUBELET_SKEW,
    VERSION_EOL,
    EolTable,
    MinorRelease,
    builtin_eol,
    eol_frame,
    kubelet_skew,
    minor_key,
    parse_version,
    version_status,
    versions_scan,
)

TABLE = EolTable((MinorRelease("1.31", dt.date(2024, 8, 13), dt.date(2025, 10, 28)),
                  MinorRelease("1.30", dt.date(2024, 4, 17), dt.date(2025, 7, 15))),
                 "test", dt.date(2025, 1, 1))


def test_eol_file_names_its_source_and_is_consistent() -> None:
    document = yaml.safe_load(EOL_FILE.read_text(encoding="utf-8"))
    assert "kubernetes.io/releases" in document["source"] and isinstance(document["read_on"], dt.date)
    assert "Sources, read" in EOL_FILE.read_text(encoding="utf-8")
    table = builtin_eol()
    minors = [minor_key(r.minor) for r in table.releases]
    assert minors == sorted(minors, reverse=True) and len(set(minors)) == len(minors)
    # Consecutive minors, no gaps, each supported 12-16 months after its release, released in order.
    assert all(a[1] - b[1] == 1 for a, b in itertools.pairwise(minors))
    for release in table.releases:
        assert 12 * 30 <= (release.end_of_life - release.released).days <= 16 * 31, release
    releases = [r.released for r in table.releases]
    assert releases == sorted(releases, reverse=True)
    # Spot checks against kubernetes.io/releases: 1.30 ended early (2025-07-15), 1.34 on 2026-10-27.
    assert table.get("1.30").end_of_life == dt.date(2025, 7, 15)
    assert table.get("1.34").end_of_life == dt.date(2026, 10, 27)


@pytest.mark.parametrize(("text", "expected"), [
    ("v1.30.2", (1, 30, 2)), ("v1.29.3-eks-1234abc", (1, 29, 3)), ("v1.28.9-gke.1000", (1, 28, 9)),
    ("1.31", (1, 31, 0)), ("v1.30.0-kams-sandbox", (1, 30, 0)), ("", None), ("unknown", None),
])
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(("today", "status", "days"), [
    (dt.date(2025, 1, 1), "supported", 195),
    (dt.date(2025, 4, 16), "supported", 90),  # exactly 90 days left: not yet "less than 90"
    (dt.date(2025, 4, 17), "eol-soon", 89),
    (dt.date(2025, 7, 15), "eol-soon", 0),  # the last day is still supported
    (dt.date(2025, 7, 16), "end-of-life", -1),
])
def test_version_status_boundaries(today: dt.date, status: str, days: int) -> None:
    result = version_status({"gitVersion": "v1.30.4"}, today, TABLE)
    assert (result.minor, result.status, result.days_left) == ("1.30", status, days)
    assert "2025-07-15" in result.sentence and "newest minor is 1.31" in result.sentence


def test_unknown_versions_are_said_not_guessed() -> None:
    newer = version_status("v1.32.0", dt.date(2025, 1, 1), TABLE)
    assert newer.status == "unknown" and "kubernetes_eol.yaml" in newer.sentence
    assert version_status("garbage", dt.date(2025, 1, 1), TABLE).status == "unknown"
    result = versions_scan("v1.99.0", [], dt.date(2025, 1, 1), TABLE)
    assert result.findings == [] and result.results == [] and len(result.skipped) == 1


def test_eol_frame_statuses() -> None:
    frame = eol_frame(dt.date(2025, 9, 1), TABLE).set_index("minor")
    assert frame.loc["1.30", "status"] == "end-of-life" and frame.loc["1.31", "status"] == "eol-soon"
    assert eol_frame(dt.date(2024, 5, 1), TABLE).set_index("minor").loc["1.31", "status"] == "not released"


def node(name: str, kubelet: str | None) -> dict:
    info = {"kubeletVersion": kubelet} if kubelet else {}
    return {"metadata": {"name": name}, "status": {"nodeInfo": info}}


def test_kubelet_skew_policy() -> None:
    nodes = [node("same", "v1.30.9"), node("three-behind", "v1.27.1"), node("four-behind", "v1.26.3"),
             node("newer", "v1.31.0"), node("silent", None)]
    frame = kubelet_skew(nodes, {"gitVersion": "v1.30.2"}).set_index("node")
    assert frame["ok"].to_dict() == {"same": True, "three-behind": True, "four-behind": False, "newer": False,
                                     "silent": False}
    assert frame.loc["four-behind", "minors_behind"] == 4
    assert "at most 3" in frame.loc["four-behind", "problem"]
    assert "newer" in frame.loc["newer", "problem"]
    # Before 1.28 the policy allowed two minors only.
    assert not kubelet_skew([node("n", "v1.24.0")], "v1.27.0")["ok"].item()
    assert kubelet_skew([node("n", "v1.25.0")], "v1.27.0")["ok"].item()


def test_versions_scan_findings() -> None:
    nodes = [node("good", "v1.30.1"), node("bad", "v1.31.0"), node("silent", None)]
    result = versions_scan({"gitVersion": "v1.30.1"}, nodes, dt.date(2025, 5, 1), TABLE)
    assert [(f.id, f.kind, f.name, f.severity) for f in result.findings] == [
        (VERSION_EOL, "Cluster", "v1.30.1", "warning"), (KUBELET_SKEW, "Node", "bad", "danger")]
    assert {(r.check_id, r.name, r.passed) for r in result.results} == {
        (VERSION_EOL, "v1.30.1", False), (KUBELET_SKEW, "good", True), (KUBELET_SKEW, "bad", False)}
    assert any("silent" in sentence for sentence in result.skipped)
    past = versions_scan("v1.30.1", None, dt.date(2026, 1, 1), TABLE)
    assert past.findings[0].severity == "danger" and "reached end of life" in past.findings[0].message
    assert versions_scan(None, None, dt.date(2026, 1, 1), TABLE).skipped
