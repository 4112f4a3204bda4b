"""The pure parts of the founders' health page: the availability target setting, the SLO maths, the
SLO table, incidents from alert history, and names that never reveal a pod."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from k8sdata.health_page import UNNAMED_APP, PublicNames
from k8sdata.incidents import (
    STATE_FIRING,
    STATE_RESOLVED,
    application_of,
    episodes,
    incident_table,
)
from k8sdata.requests.slo import (
    DEFAULT_AVAILABILITY_PERCENT,
    SLO_SETTING,
    SloSettingError,
    availability,
    availability_target,
    budget_left,
    covered_seconds,
    duration_words,
    in_namespaces,
    query_namespace,
    slo_table,
    verdict,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


# --- the target ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    (None, DEFAULT_AVAILABILITY_PERCENT), ("", DEFAULT_AVAILABILITY_PERCENT), ("  ", 99.9),
    ("99.95", 99.95), ("99.5%", 99.5), (" 95 % ", 95.0), ("0.5", 0.5),
])
def test_target_is_read_as_a_percentage(raw: str | None, expected: float) -> None:
    environ = {} if raw is None else {SLO_SETTING: raw}
    assert availability_target(environ) == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["abc", "100", "100%", "0", "-1", "101", "nan", "inf", "0.999x", "99,9"])
def test_a_bad_target_is_a_sentence_naming_the_setting_and_the_value(raw: str) -> None:
    with pytest.raises(SloSettingError) as caught:
        availability_target({SLO_SETTING: raw})
    sentence = str(caught.value)
    assert sentence.startswith(f"{SLO_SETTING} must be a percentage above 0 and below 100")
    assert repr(raw) in sentence


# --- the maths -------------------------------------------------------------------------------------
def test_availability_is_one_minus_the_5xx_share_and_no_traffic_is_none() -> None:
    assert availability(0.0) == 1.0
    assert availability(0.0071) == pytest.approx(0.9929)
    assert availability(math.nan) is None  # red_summary's "no requests": not 100 %
    assert availability(None) is None
    assert availability(1.5) == 0.0  # a ratio above 1 (counter reset noise) cannot go below 0 %


def test_verdict_against_the_target() -> None:
    assert verdict(0.9995, 99.9) == "meets"
    assert verdict(0.999, 99.9) == "meets"  # equal meets (no float noise)
    assert verdict(1 - 0.001 - 1e-12, 99.9) == "meets"
    assert verdict(0.9989, 99.9) == "below"
    assert verdict(None, 99.9) == "no traffic"


def test_error_budget_left() -> None:
    assert budget_left(1.0, 99.9) == pytest.approx(1.0)  # nothing failed: the whole budget is left
    assert budget_left(0.9995, 99.9) == pytest.approx(0.5)  # half the allowed failures used
    assert budget_left(0.999, 99.9) == pytest.approx(0.0)
    assert budget_left(0.998, 99.9) == pytest.approx(-1.0)  # twice the allowance: overspent by 100 %
    assert budget_left(0.99, 99.0) == pytest.approx(0.0)
    assert budget_left(None, 99.9) is None
    with pytest.raises(ValueError):
        budget_left(0.5, 100.0)


def test_namespace_scope() -> None:
    assert query_namespace(None) == ""
    assert query_namespace(frozenset({"shop"})) == "shop"
    assert query_namespace(frozenset({"shop", "legacy"})) == ""
    frame = pd.DataFrame({"namespace": ["shop", "legacy", ""], "app": ["a", "b", "c"]})
    assert in_namespaces(frame, None) is frame
    assert list(in_namespaces(frame, frozenset({"legacy"}))["app"]) == ["b"]
    assert in_namespaces(frame, frozenset()).empty


def test_covered_seconds_says_when_data_began_inside_the_window() -> None:
    assert covered_seconds("1d", NOW - timedelta(hours=26), NOW) == (86_400.0, False)
    assert covered_seconds("7d", NOW - timedelta(hours=26), NOW) == (26 * 3600.0, True)
    assert covered_seconds("30d", None, NOW) == (30 * 86_400.0, False)
    assert duration_words(26 * 3600) == "26 hours"
    assert duration_words(3600) == "1 hour"
    assert duration_words(8 * 86_400) == "8 days"


def test_slo_table() -> None:
    raw = pd.DataFrame([
        {"namespace": "shop", "app": "api", "window": "30d", "rps": 2.0, "error_ratio": 0.002,
         "p95_seconds": 0.25},
        {"namespace": "shop", "app": "api", "window": "1d", "rps": 2.0, "error_ratio": 0.0005,
         "p95_seconds": 0.2},
        {"namespace": "shop", "app": "idle", "window": "1d", "rps": 0.0, "error_ratio": math.nan,
         "p95_seconds": math.nan},
    ])
    table = slo_table(raw, 99.9, NOW - timedelta(hours=26), NOW)
    api = table[table["app"] == "api"].set_index("window")
    assert list(api.index) == ["1d", "30d"]  # shortest period first
    assert api.loc["1d", "availability_percent"] == pytest.approx(99.95)
    assert api.loc["1d", "verdict"] == "Meets the target"
    assert api.loc["1d", "budget_left_percent"] == pytest.approx(50.0)
    assert api.loc["1d", "requests"] == 2 * 86_400
    assert not api.loc["1d", "since_data_began"]
    assert api.loc["30d", "verdict"] == "Below the target"
    assert api.loc["30d", "budget_left_percent"] == pytest.approx(-100.0)
    # rate() over 30 days divides by 30 days, so rate x window is the count of the 26 h there are.
    assert api.loc["30d", "requests"] == 2 * 30 * 86_400
    assert api.loc["30d", "since_data_began"] and api.loc["30d", "covered_seconds"] == 26 * 3600
    idle = table[table["app"] == "idle"].iloc[0]
    assert idle["verdict"] == "No traffic"
    assert pd.isna(idle["availability_percent"]) and pd.isna(idle["budget_left_percent"])


# --- incidents -------------------------------------------------------------------------------------
def _at(minutes: float) -> pd.Timestamp:
    return pd.Timestamp(NOW) - pd.Timedelta(minutes=minutes)


def test_episodes_split_at_gaps_and_join_pods_of_one_application() -> None:
    rows = []
    for minutes in (60, 55, 50):  # one run, 3 samples 5 minutes apart
        rows.append({"alertname": "A", "severity": "warning", "namespace": "shop", "app": "api",
                     "timestamp": _at(minutes)})
    for minutes in (30, 25):  # after a gap: a second run
        rows.append({"alertname": "A", "severity": "warning", "namespace": "shop", "app": "api",
                     "timestamp": _at(minutes)})
    runs = episodes(pd.DataFrame(rows), 300)
    pairs = list(zip(runs["started"], runs["last_seen"], strict=True))
    assert pairs == [(_at(60), _at(50)), (_at(30), _at(25))]


def test_incident_table_firing_and_resolved_without_pod_names() -> None:
    pod_apps = {("legacy", "invoice-sync-5d8b9c7f6-qw8hd"): "invoice-sync"}
    live = pd.DataFrame([
        {"alertname": "KubePodCrashLooping", "state": "firing", "severity": "warning", "namespace": "legacy",
         "pod": "invoice-sync-5d8b9c7f6-qw8hd", "app": "", "active_at": _at(20)},
        {"alertname": "KubePodCrashLooping", "state": "firing", "severity": "warning", "namespace": "legacy",
         "pod": "invoice-sync-5d8b9c7f6-zz9zz", "app": "", "active_at": _at(40)},
        {"alertname": "Slow", "state": "pending", "severity": "warning", "namespace": "shop", "pod": "",
         "app": "api", "active_at": _at(1)},
    ])
    history = pd.DataFrame([
        {"alertname": "HighErrorRate", "severity": "critical", "namespace": "shop", "app": "api", "pod": "",
         "timestamp": _at(minutes)} for minutes in (120, 115, 110)] + [
        {"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "legacy", "app": "",
         "pod": "invoice-sync-5d8b9c7f6-qw8hd", "timestamp": _at(minutes)} for minutes in (15, 10, 5, 0)])
    table = incident_table(live, history, end=NOW, step_seconds=300, pod_apps=pod_apps)
    assert "pod" not in table.columns
    assert not table.astype(str).apply(lambda column: column.str.contains("qw8hd|zz9zz")).any().any()
    firing = table[table["state"] == STATE_FIRING]
    assert len(firing) == 1  # two pods of one application, and the still-running history run: one incident
    assert (firing.iloc[0]["app"], firing.iloc[0]["started"]) == ("invoice-sync", _at(40))
    resolved = table[table["state"] == STATE_RESOLVED].iloc[0]
    assert (resolved["alertname"], resolved["app"]) == ("HighErrorRate", "api")
    assert resolved["started"] == _at(120) and resolved["ended"] == _at(105)
    assert resolved["duration_seconds"] == 15 * 60
    assert "Slow" not in set(table["alertname"])  # pending is not an incident


def test_an_alert_never_names_its_application_after_its_pod() -> None:
    assert application_of("ns", "web-6d8f7b9c5d-x7k2p", "", {}) == "web"  # the name's workload
    assert application_of("ns", "lonely", "", {("ns", "lonely"): "lonely"}) == ""  # a bare pod
    assert application_of("ns", "p", "shop-api", {}) == "shop-api"


def test_public_names_hide_applications_named_after_their_pod() -> None:
    pods = pd.DataFrame({"namespace": ["a", "a", "b"], "name": ["zeta", "alpha", "zeta"]})
    names = PublicNames(pods)
    assert names.app("a", "web") == "web"
    assert names.app("a", "alpha") == f"{UNNAMED_APP} 1"
    assert names.app("a", "zeta") == f"{UNNAMED_APP} 2"
    assert names.app("b", "zeta") == f"{UNNAMED_APP} 1"
    frame = names.frame(pd.DataFrame({"namespace": ["a"], "app": ["zeta"]}))
    assert list(frame["app"]) == [f"{UNNAMED_APP} 2"]
