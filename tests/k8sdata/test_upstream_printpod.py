"""KAMS's READY, STATUS and RESTARTS equal upstream's for every pod case of upstream's printer unit tests.

The cases are transcribed in tests/k8sdata/fixtures/upstream_printpod.yaml (its header names the upstream
module version, files and test functions). tests/realcluster/test_upstream_printpod_real.py shows the
transcription is faithful by printing the same pods with a real kube-apiserver.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sdata.pods.frames import pods_frame

FIXTURE = Path(__file__).parent / "fixtures" / "upstream_printpod.yaml"
_RELATIVE = re.compile(r"^-(?:\d+[dhms])+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_TIME_KEY_ENDINGS = ("At", "Time", "Timestamp")


def relative_seconds(text: str) -> int:
    """"-5d" -> 432000: how far before the loading moment a fixture time is."""
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in re.findall(r"(\d+)([dhms])", text))


def _resolve(value: Any, now: datetime, key: str = "") -> Any:
    if isinstance(value, dict):
        return {name: _resolve(item, now, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, now, key) for item in value]
    if isinstance(value, str) and key.endswith(_TIME_KEY_ENDINGS) and _RELATIVE.match(value):
        return (now - timedelta(seconds=relative_seconds(value))).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def load_cases() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the upstream header, the cases with `id`), times still relative (see resolved_pod)."""
    document = yaml.safe_load(FIXTURE.read_text())
    cases = document["cases"]
    for case in cases:
        case["id"] = f"{case['test']}-{case['index']}"
    return document["upstream"], cases


def resolved_pod(case: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The case's pod with its relative times made absolute against `now` (whole seconds, as the API
    serves metav1.Time)."""
    return _resolve(copy.deepcopy(case["pod"]), now.replace(microsecond=0))


UPSTREAM, CASES = load_cases()


def test_fixture_records_its_upstream_and_every_case_once() -> None:
    assert (UPSTREAM["module"], UPSTREAM["version"]) == ("k8s.io/kubernetes", "v1.37.2")
    assert {case["test"] for case in CASES} == set(UPSTREAM["tests"])
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)) == 43


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_kams_prints_what_upstream_expects(case: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    row = pods_frame([resolved_pod(case, now)], now=now).iloc[0]
    expect = case["expect"]
    assert (row["ready"], row["status"], row["restarts_display"]) == (
        expect["ready"], expect["status"], expect["restarts"]), case["comment"]
