"""PodsFrameBuilder (the watch-cache refresh path) gives exactly pods_frame's table, while building rows
only for pods it has not seen, and the vectorised clock columns equal the one-pod-at-a-time printer."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sdata import frames
from k8sdata.frames import PodsFrameBuilder, human_duration, human_durations, pod_row, pods_frame
from tests.k8sdata.test_frames import CASES, NOW, pod, running

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
