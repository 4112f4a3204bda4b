"""k8sdata.alerts against the real demo Prometheus (fixture `prometheus`) and a real Alertmanager that
receives its alerts (fixture `alertmanager`): fixed columns, the demo's alerts firing, silences and
inhibitions as Alertmanager reports them, rule health (including a rule that fails at evaluation, on a
small Prometheus of its own), and the sentences for a missing or wrong server."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
import yaml

from k8sdata.alerts import (
    ALERTMANAGER_COLUMNS,
    PROMETHEUS_ALERT_COLUMNS,
    RULE_COLUMNS,
    alertmanager_alerts,
    in_namespace,
    labels_text,
    prometheus_alerts,
    rule_health,
)
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, NotInstalled, Unreachable
from k8sdata.sources.alertmanager import AlertmanagerClient, alertmanager_from_settings
from k8sdata.sources.prom import PromClient
from sandbox import traffic
from sandbox.demo_names import CRASHLOOP_POD
from sandbox.prometheus.flavours import Flavour
from sandbox.prometheus.server import RULES_FILE, PrometheusServer

T = TypeVar("T")
DAY = 86_400


def wait_for(produce: Callable[[], T], accept: Callable[[T], bool], timeout: float = 45) -> T:
    """Poll until `accept(value)`; return the last value either way (the assertion shows it)."""
    deadline = time.monotonic() + timeout
    value = produce()
    while not accept(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = produce()
    return value


@pytest.fixture(scope="module")
def prom(prometheus: Any) -> Iterator[PromClient]:
    client = PromClient(prometheus.url, timeout=10)
    yield client
    client.close()


@pytest.fixture(scope="module")
def am(alertmanager: Any) -> AlertmanagerClient:
    return AlertmanagerClient(alertmanager.url, timeout=10)


def shipped_alerts() -> dict[str, str]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"] if "alert" in rule}


# --- Prometheus ----------------------------------------------------------------------------------------
def test_the_crash_looping_demo_pod_fires_its_alert(prom: PromClient) -> None:
    frame = wait_for(lambda: prometheus_alerts(prom),
                     lambda f: ((f["alertname"] == "KubePodCrashLooping") & (f["state"] == "firing")).any())
    assert list(frame.columns) == PROMETHEUS_ALERT_COLUMNS
    crash = frame[frame["alertname"] == "KubePodCrashLooping"].iloc[0]
    assert (crash["state"], crash["pod"], crash["namespace"], crash["severity"]) == (
        "firing", CRASHLOOP_POD.pod, CRASHLOOP_POD.namespace, "warning")
    assert crash["summary"] == "Pod is crash looping." and CRASHLOOP_POD.pod in crash["description"]
    assert crash["labels_text"] == f"container={crash['labels']['container']}"
    assert crash["value"] >= 1 and crash["active_at"] <= pd.Timestamp.now(tz="UTC")
    states = frame["state"].map({"firing": 0, "pending": 1}).tolist()
    assert states == sorted(states), "firing alerts come first"


def test_rule_expressions_hold_in_the_demo(prom: PromClient, prometheus: Any) -> None:
    """The shipped expressions, evaluated on the demo data: the crash-looping pod now, the api's and
    web's daily error burst in the backfilled history, and no application down while both serve."""
    expressions = shipped_alerts()
    crash = prom.instant(expressions["KubePodCrashLooping"])
    assert CRASHLOOP_POD.pod in set(crash["pod"])
    end = prometheus.prometheus.backfill_result.end
    burst = end - (end - traffic.ERROR_BURST_START - 480) % DAY  # 8 minutes into the latest burst
    during = prom.instant(expressions["HighErrorRate"], at=datetime.fromtimestamp(burst, UTC))
    assert set(during["app"]) == {"web", "api"}
    assert during["value"].min() > 0.05
    assert prom.instant(expressions["ApplicationDown"]).empty
    assert not prom.instant(expressions["ApplicationDown"].replace("== 0", "== 1")).empty  # both apps up


def test_rule_health_lists_every_shipped_rule_healthy(prom: PromClient) -> None:
    frame = wait_for(lambda: rule_health(prom), lambda f: f["last_evaluation"].notna().all(), timeout=15)
    assert list(frame.columns) == RULE_COLUMNS
    alerts = frame[frame["kind"] == "alert"]
    assert set(alerts["rule"]) == set(shipped_alerts())
    assert (frame["health"] == "ok").all() and (frame["last_error"] == "").all()
    assert (frame["evaluation_seconds"] >= 0).all() and (frame["group_interval_seconds"] == 5).all()
    crash = alerts[alerts["rule"] == "KubePodCrashLooping"].iloc[0]
    assert crash["state"] == "firing" and crash["alerts_firing"] >= 1 and crash["severity"] == "warning"


def test_a_rule_failing_at_evaluation_is_reported_first_with_its_error(prometheus_flavour: Flavour,
                                                                      tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [
        # Valid PromQL that fails when evaluated: two series on the "one" side of a group_left match.
        {"alert": "Duplicates", "expr": 'vector(1) * on() group_left() (label_replace(vector(1), "a", "x", '
                                        '"", "") or label_replace(vector(1), "a", "y", "", ""))'},
        {"record": "kams:fine", "expr": "vector(1)"},
    ]}]}), encoding="utf-8")
    with PrometheusServer([], rules=rules, evaluation_interval="1s", flavour=prometheus_flavour) as server:
        client = PromClient(server.url, timeout=5)
        frame = wait_for(lambda: rule_health(client), lambda f: (f["health"] == "err").any(), timeout=15)
    assert frame["rule"].tolist() == ["Duplicates", "kams:fine"]
    broken, fine = frame.iloc[0], frame.iloc[1]
    assert broken["health"] == "err" and "duplicate series" in broken["last_error"]
    assert (fine["health"], fine["kind"], fine["state"], fine["last_error"]) == ("ok", "record", "", "")


def test_empty_frames_keep_their_columns(prometheus_flavour: Flavour) -> None:
    with PrometheusServer([], rules=False, flavour=prometheus_flavour) as server:
        client = PromClient(server.url, timeout=5)
        assert list(prometheus_alerts(client).columns) == PROMETHEUS_ALERT_COLUMNS
        assert list(rule_health(client).columns) == RULE_COLUMNS
        assert rule_health(client).empty and prometheus_alerts(client).empty


# --- Alertmanager --------------------------------------------------------------------------------------
def test_alertmanager_holds_the_alerts_prometheus_sends(am: AlertmanagerClient, prometheus: Any) -> None:
    assert am.version() == prometheus.flavour.alertmanager_release
    frame = wait_for(lambda: alertmanager_alerts(am),
                     lambda f: (f["alertname"] == "KubePodCrashLooping").any())
    assert list(frame.columns) == ALERTMANAGER_COLUMNS
    crash = frame[frame["alertname"] == "KubePodCrashLooping"].iloc[0]
    assert crash["pod"] == CRASHLOOP_POD.pod and crash["receivers"] == "kams-demo"
    assert crash["status"] in {"active", "silenced"}  # another test may silence it
    assert "cluster=kams-demo" in crash["labels_text"]  # Prometheus' external label, added on sending


def _post_alerts(alertmanager: Any, namespace: str) -> None:
    ends = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    alertmanager.post_json("/api/v2/alerts", [
        {"labels": {"alertname": "KamsTestCritical", "severity": "critical", "namespace": namespace,
                    "app": "shop-api"}, "annotations": {"summary": "critical one"}, "endsAt": ends},
        {"labels": {"alertname": "KamsTestWarning", "severity": "warning", "namespace": namespace,
                    "app": "shop-api"}, "annotations": {"summary": "warning one"}, "endsAt": ends},
        {"labels": {"alertname": "KamsTestSilenced", "severity": "warning", "namespace": namespace,
                    "app": "other"}, "endsAt": ends},
    ])


def test_silenced_and_inhibited_alerts_say_so(alertmanager: Any, am: AlertmanagerClient) -> None:
    namespace = "kams-test-alertmanager"
    now = datetime.now(UTC)
    silence = alertmanager.post_json("/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": "KamsTestSilenced", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat(),
        "createdBy": "kams tests", "comment": "silence for the test"})
    _post_alerts(alertmanager, namespace)
    frame = wait_for(lambda: in_namespace(alertmanager_alerts(am), namespace),
                     lambda f: set(f["status"]) == {"active", "silenced", "inhibited"}, timeout=15)
    status = dict(zip(frame["alertname"], frame["status"], strict=True))
    assert status == {"KamsTestCritical": "active", "KamsTestWarning": "inhibited",
                      "KamsTestSilenced": "silenced"}
    assert frame["status"].tolist() == ["active", "silenced", "inhibited"]  # active first
    by_name = frame.set_index("alertname")
    assert by_name.loc["KamsTestSilenced", "silenced_by"] == silence["silenceID"]
    assert by_name.loc["KamsTestWarning", "inhibited_by"] != ""
    assert any(s["id"] == silence["silenceID"] for s in am.silences())


def test_alertmanager_settings_and_failures(prometheus: Any, tmp_path: Path) -> None:
    with pytest.raises(NotConfigured) as caught:
        alertmanager_from_settings(Settings.from_env({}, home=tmp_path))
    assert "ALERTMANAGER_URL" in caught.value.sentence and caught.value.source == "alertmanager"
    with pytest.raises(NotInstalled) as wrong:  # a Prometheus is not an Alertmanager
        AlertmanagerClient(prometheus.url, timeout=5).alerts()
    assert "Alertmanager" in wrong.value.sentence
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings.from_env({"ALERTMANAGER_URL": f"http://127.0.0.1:{port}"}, home=tmp_path)
    with pytest.raises(Unreachable) as refused:
        alertmanager_from_settings(settings).alerts()
    assert refused.value.sentence.startswith("KAMS cannot reach Alertmanager")


# --- pure helpers ------------------------------------------------------------------------------------------
def test_labels_text_and_namespace_filter() -> None:
    assert labels_text({"alertname": "X", "pod": "p", "zone": "a", "container": "c=1, d"}) == (
        "container=c=1, d, zone=a")
    frame = pd.DataFrame({"namespace": ["shop", "", "legacy"], "alertname": ["A", "B", "C"]})
    assert in_namespace(frame, None) is frame
    assert in_namespace(frame, "shop")["alertname"].tolist() == ["A"]
