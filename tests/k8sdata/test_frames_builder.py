"""PodsFrameBuilder (the watch-cache refresh path) gives exactly pods_frame's table, while building rows
only for pods it has not seen, and the vectorised clock columns equal the one-pod-at-a-time printer."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sdata.pods import frames
from k8sdata.pods.frames import PodsFrameBuilder, human_duration, human_durations, pod_row, pods_frame
from k8sdata.pods.podshape import POD_SHAPE, slim_pod
from sandbox.cluster_loader import load_demo_objects
from sandbox.synthetic import synthetic_objects
from tests.k8sdata.test_frames import CASES, NOW, pod, running
from tests.k8sdata.test_frames_printer import CASES as PRINTER_CASES

#: Pods in every printer state (the kubectl cases), to be renamed and versioned by the tests below.
TEMPLATES = [case[1] for case in CASES]


def versioned(template: int, namespace: str, name: str, version: int, created_ago: float = 3600,
              uid: str | None = None) -> dict[str, Any]:
    made = copy.deepcopy(TEMPLATES[template % len(TEMPLATES)])
    made["metadata"].update(namespace=namespace, name=name, uid=uid or f"uid-{namespace}-{name}",
                            resourceVersion=str(version),
                            creationTimestamp=(NOW - timedelta(seconds=created_ago)).strftime(
                                "%Y-%m-%dT%H:%M:%SZ"))
    return made


@given(st.lists(st.integers(min_value=-10**4, max_value=10**10), max_size=60))
def test_vectorised_durations_equal_human_duration(seconds: list[int]) -> None:
    assert human_durations(np.array(seconds, dtype=np.int64)).tolist() == [human_duration(s) for s in seconds]


def test_every_duration_boundary_in_the_first_days() -> None:
    seconds = np.arange(-5, 9 * 86400, 7, dtype=np.int64)  # every branch, both sides of each boundary
    assert human_durations(seconds).tolist() == [human_duration(int(s)) for s in seconds]


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
@pytest.mark.parametrize("later", [timedelta(0), timedelta(minutes=7, seconds=13), timedelta(days=3)])
def test_table_cells_equal_the_one_pod_printer(case: int, later: timedelta) -> None:
    frame = pods_frame([CASES[case][1]], now=NOW + later)
    assert frame.iloc[0].to_dict() == {**pod_row(CASES[case][1], NOW + later),
                                       "created": frame.iloc[0]["created"]}
    assert frame.iloc[0]["created"] == pod_row(CASES[case][1], NOW)["created"]


def test_missing_creation_time_is_unknown_age() -> None:
    bare = pod(running())
    del bare["metadata"]["creationTimestamp"]
    frame = pods_frame([bare, pod(running())], now=NOW)
    assert frame["age"].tolist() == ["<unknown>", "5d3h"]
    assert str(frame["created"].dtype) == "datetime64[us, UTC]"


# operations: (what, which name, which template, seconds the clock moves on)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["add", "update", "delete", "relist", "same"]),
                                st.integers(0, 11), st.integers(0, len(TEMPLATES) - 1),
                                st.integers(0, 5 * 86400)), min_size=1, max_size=8)


@settings(max_examples=15, deadline=None)
@given(OPERATIONS)
def test_incremental_frame_equals_pods_frame(operations: list[tuple[str, int, int, int]]) -> None:
    builder = PodsFrameBuilder()
    current: dict[str, dict[str, Any]] = {}
    version = 100
    now = NOW
    builder.frame([], now)
    for what, index, template, seconds in operations:
        name = f"pod-{index:02d}"
        namespace = "ns-b" if index % 3 else "ns-a"
        now += timedelta(seconds=seconds)
        expected_built = 0
        if what in ("add", "update") or (what == "delete" and name not in current):
            version += 1
            current[name] = versioned(template, namespace, name, version, created_ago=index * 977)
            expected_built = 1
        elif what == "delete":
            del current[name]
        elif what == "relist":  # new objects of the same versions: found by (uid, resourceVersion)
            current = {key: copy.deepcopy(value) for key, value in current.items()}
        pods = list(current.values())[::-1] if index % 2 else list(current.values())  # any input order
        got = builder.frame(pods, now)
        pd.testing.assert_frame_equal(got, pods_frame(pods, now))
        assert builder.last_built == expected_built


def test_unchanged_refresh_builds_nothing_and_moves_the_clock() -> None:
    builder = PodsFrameBuilder()
    pods = [versioned(4, "ns", f"p{i}", 10 + i) for i in range(50)]  # crash-looping: "7 (5m ago)"
    first = builder.frame(pods, NOW)
    assert builder.last_built == 50 and set(first["restarts_display"]) == {"7 (5m ago)"}
    later = builder.frame(pods, NOW + timedelta(minutes=10))
    assert builder.last_built == 0
    assert set(later["restarts_display"]) == {"7 (15m ago)"} and set(later["age"]) == {"70m"}
    assert set(first["age"]) == {"60m"}  # the first frame is not changed by the second call
    changed = versioned(0, "ns", "p7", 999)
    builder.frame([*pods[:7], changed, *pods[8:]], NOW)
    assert builder.last_built == 1


def test_pods_without_versions_are_matched_by_identity_only() -> None:
    builder = PodsFrameBuilder()
    pods = [pod(running()) for _ in range(3)]
    for index, made in enumerate(pods):
        made["metadata"]["name"] = f"p{index}"
    builder.frame(pods, NOW)
    assert builder.last_built == 3
    builder.frame(pods, NOW)
    assert builder.last_built == 0
    copies = copy.deepcopy(pods)  # no uid/resourceVersion: a copy cannot be known to be unchanged
    pd.testing.assert_frame_equal(builder.frame(copies, NOW), pods_frame(copies, NOW))
    assert builder.last_built == 3


def test_equal_names_keep_the_input_order_like_pods_frame() -> None:
    builder = PodsFrameBuilder()
    first = versioned(0, "ns", "same", 1, uid="one")
    second = versioned(4, "ns", "same", 2, uid="two")
    builder.frame([first], NOW)
    for pods in ([second, first], [first, second]):
        pd.testing.assert_frame_equal(builder.frame(pods, NOW), pods_frame(pods, NOW))


def test_store_is_compacted_after_many_changes() -> None:
    builder = PodsFrameBuilder()
    builder.SPARE_ROWS = 0  # compact as soon as the store is 1.5 x the rows in use
    pods = [versioned(0, "ns", f"p{i}", 1) for i in range(20)]
    sizes = []
    for round_number in range(2, 8):  # every pod changes every round
        pods = [versioned(0, "ns", f"p{i}", round_number) for i in range(20)]
        builder.frame(pods, NOW)
        sizes.append(len(builder._store))
    assert sizes == [20] * 6, sizes  # without compaction: 20, 40, 60, ... rows
    pd.testing.assert_frame_equal(builder.frame(pods, NOW), pods_frame(pods, NOW))


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_rows_built_in_chunks_equal_the_one_pod_printer(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Rows are built ROWS_CHUNK pods at a time (to bound memory) and the chunks concatenated: every
    row, in order and in name order, whatever the chunk boundaries, and the same for the builder."""
    monkeypatch.setattr(frames, "ROWS_CHUNK", chunk)
    pods = [versioned(index, f"ns{index % 3}", f"p{(17 * index) % 11:02d}", 1) for index in range(11)]
    frame = pods_frame(pods, NOW)
    expected = sorted((pod_row(item, NOW) for item in pods), key=lambda row: (row["namespace"], row["name"]))
    assert [{**row, "created": None} for row in frame.to_dict("records")] == [
        {**row, "created": None} for row in expected]
    assert frame["created"].tolist() == [row["created"] for row in expected]
    assert str(frame["name"].dtype) == "str" and str(frame["restarts"].dtype) == "int64"
    pd.testing.assert_frame_equal(PodsFrameBuilder().frame(pods, NOW), frame)


def test_a_list_already_in_name_order_is_not_copied() -> None:
    pods = [versioned(index, "ns", f"p{index:02d}", 1) for index in range(5)]
    builder = PodsFrameBuilder()
    frame = builder.frame(pods, NOW)
    assert np.shares_memory(frame["restarts"].to_numpy(), builder._store["restarts"].to_numpy())


# ------------------------------------------------------------------ the batched build equals pod_row
# pods_frame and PodsFrameBuilder read slim pods in batches (times parsed a whole column at once, parts
# shared between a workload's pods read once); pod_row reads one pod at a time and parses each time with
# parse_time. Every cell must agree, for slim pods as a list decodes them and for dict pods.


def _reference(pods: list[Any], now: Any) -> list[dict[str, Any]]:
    rows = [pod_row(item, now) for item in pods]
    return sorted(rows, key=lambda row: (row["namespace"], row["name"]))  # a stable sort, as the table's


def _assert_rows_equal(frame: pd.DataFrame, expected: list[dict[str, Any]]) -> None:
    assert list(frame.columns) == frames.POD_COLUMNS and len(frame) == len(expected)
    for index, (got, want) in enumerate(zip(frame.to_dict("records"), expected, strict=True)):
        got["created"] = None if pd.isna(got["created"]) else got["created"].to_pydatetime()  # NaT: None
        assert got == want, (index, want["namespace"], want["name"])


def _slim_list(pods: list[dict[str, Any]]) -> list[Any]:
    """The pods as a list of them arrives: decoded in pages with one Interner (shared parts)."""
    decode = POD_SHAPE.page_decoder()
    slim: list[Any] = []
    for start in range(0, len(pods), 500):
        page = orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
                             "items": pods[start:start + 500]})
        slim.extend(decode(page)[0])
    return slim


def _clusters() -> dict[str, tuple[Any, list[dict[str, Any]]]]:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    fixtures = [copy.deepcopy(case[1]) for case in CASES] + [copy.deepcopy(case[2]) for case in PRINTER_CASES]
    for index, item in enumerate(fixtures):
        item["metadata"]["name"] = f"case-{index:02d}"
    return {
        "printer-fixtures": (NOW, fixtures),
        "demo": (now, [obj for obj in load_demo_objects(now) if obj.get("kind") == "Pod"]),
        "synthetic": (now, list(itertools.islice(
            (obj for obj in synthetic_objects(2000, now=now) if obj["kind"] == "Pod"), 2000))),
    }


@pytest.fixture(scope="module")
def clusters() -> dict[str, tuple[Any, list[dict[str, Any]]]]:
    return _clusters()


@pytest.mark.parametrize("name", ["printer-fixtures", "demo", "synthetic"])
def test_batched_table_equals_pod_row_for_slim_and_dict_pods(
        clusters: dict[str, tuple[Any, list[dict[str, Any]]]], name: str) -> None:
    now, pods = clusters[name]
    later = now + timedelta(hours=5, seconds=7)  # restart ages in every unit
    expected = _reference(pods, later)
    slim = _slim_list(pods)
    assert [pod_row(item, later) for item in slim] == [pod_row(item, later) for item in pods]
    for given_pods in (slim, pods):
        _assert_rows_equal(pods_frame(given_pods, later), expected)
        _assert_rows_equal(PodsFrameBuilder().frame(given_pods, later), expected)
    restarted = [row for row in expected if "ago)" in row["restarts_display"]]
    assert restarted or name == "demo", "the cases must include restarted pods"


def test_parts_shared_between_pods_are_read_per_pod_where_they_must() -> None:
    """Pods that share one label set (as the Interner makes them) but differ in owners, or have no
    owner (the workload is then each pod's own name), keep their own cells."""
    labels = {"pod-template-hash": "abc", "tier": "web"}
    made = []
    owners = [("ReplicaSet", "web-abc"), ("ReplicaSet", "web-abc"), ("StatefulSet", "db"), None, None,
              ("ReplicaSet", "api-abc")]
    for index, owner in enumerate(owners):
        item = slim_pod(pod(running(), owner=owner))
        item.metadata.name = f"p{index}"
        item.metadata.labels = labels  # the one shared dict
        made.append(item)
    made[1].metadata.ownerReferences = made[0].metadata.ownerReferences  # shared too
    frame = pods_frame(made, NOW)
    assert frame["workload"].tolist() == ["web", "web", "db", "p3", "p4", "api"]
    assert frame["app"].tolist() == ["web", "web", "db", "p3", "p4", "api"]
    assert frame["workload_kind"].tolist() == ["Deployment", "Deployment", "StatefulSet", "Pod", "Pod",
                                               "Deployment"]
    assert set(frame["labels"]) == {"pod-template-hash=abc,tier=web"}
    _assert_rows_equal(frame, _reference(made, NOW))


# ------------------------------------------------------------------ times kept as text, parsed per column
# Rows keep the API's time texts; the column conversion must read them exactly as parse_time does (the
# guard for any faster parser put there: pandas' ISO 8601 parser, for one, reads year 0000).


_FIELD = st.integers(0, 99).map(lambda value: f"{value:02d}")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    # The Kubernetes form with any digits in every field: valid and invalid dates, hours 24-99...
    st.tuples(st.integers(0, 9999), _FIELD, _FIELD, _FIELD, _FIELD, _FIELD).map(
        lambda parts: "{:04d}-{}-{}T{}:{}:{}Z".format(*parts)),
    # ...and other texts that parse_time reads or rejects: offsets, fractions, dates, blanks, junk.
    st.sampled_from(["2026-01-01T12:00:00+02:00", "2026-01-01T12:00:00.123456Z", "2026-01-01",
                     "2026-01-01T12:00:00", " 2026-01-01T12:00:00Z ", "2026-01-01t12:00:00z", "", "garbage",
                     "2026-01-01T12:00:00.5-07:30", "0000-01-01T00:00:00Z"]),
    st.none()), max_size=20))
def test_times_column_equals_parse_time(texts: list[str | None]) -> None:
    parsed = frames.times_column(texts)
    assert str(parsed.dtype) == "datetime64[us, UTC]"
    assert [None if pd.isna(moment) else moment.to_pydatetime() for moment in parsed] == [
        frames.parse_time(text) for text in texts]


@settings(max_examples=200, deadline=None)
@given(st.tuples(st.integers(0, 9999), _FIELD, _FIELD, _FIELD, _FIELD, _FIELD).map(
    lambda parts: "{:04d}-{}-{}T{}:{}:{}Z".format(*parts)))
def test_parse_time_fast_path_equals_the_general_one(text: str) -> None:
    """Kubernetes' 20-character form takes a fast path in parse_time; a leading blank sends the same
    text through the general one (strip, "Z" -> "+00:00", astimezone): both must agree exactly."""
    fast, general = frames.parse_time(text), frames.parse_time(" " + text)
    assert fast == general
    assert fast is None or (fast.tzinfo is general.tzinfo is UTC)


def test_newest_restart_among_containers_ignores_unreadable_times() -> None:
    """Several restarted containers: the newest valid finishedAt wins, as kubectl compares times; an
    unreadable time is no time, wherever it comes in the order."""
    for order in ((1, 2, 3), (3, 2, 1), (2, 3, 1)):
        statuses = []
        for position in order:
            status = running(name=f"c{position}", restarts=1, last_finished=600 * position)
            if position == 1:
                status["lastState"]["terminated"]["finishedAt"] = "2026-02-30T00:00:00Z"  # no such day
            statuses.append(status)
        made = pod(*statuses)
        row = pods_frame([made], NOW).iloc[0]
        assert row["restarts_display"] == "3 (20m ago)" == pod_row(made, NOW)["restarts_display"]


def test_keyed_and_hand_made_pods_together_through_compactions() -> None:
    """Pods with a uid and version are found by uid (a new object of the same version reuses its row);
    hand-made pods without them only by identity; both survive compactions of the store."""
    builder = PodsFrameBuilder()
    builder.SPARE_ROWS = 0
    keyed = [versioned(index, "ns", f"k{index}", 1) for index in range(6)]
    hand_made = []
    for index in range(3):
        made = pod(running())
        made["metadata"]["name"] = f"h{index}"
        hand_made.append(made)
    pods = keyed + hand_made
    builder.frame(pods, NOW)
    assert builder.last_built == 9
    for round_number in range(2, 6):
        keyed = [copy.deepcopy(item) for item in keyed]  # a relist: new objects, same versions
        keyed[round_number] = versioned(round_number, "ns", f"k{round_number}", round_number)  # one change
        pods = keyed + hand_made[: 2 + round_number % 2]  # h2 leaves, and comes back (found no more)
        got = builder.frame(pods, NOW)
        assert builder.last_built == 1 + round_number % 2
        pd.testing.assert_frame_equal(got, pods_frame(pods, NOW))
    assert len(builder._store) < 2 * len(pods)  # compacted along the way
    copies = copy.deepcopy(hand_made)
    pd.testing.assert_frame_equal(builder.frame(keyed + copies, NOW), pods_frame(keyed + copies, NOW))
    assert builder.last_built == 3  # a copy of a hand-made pod cannot be known to be unchanged
