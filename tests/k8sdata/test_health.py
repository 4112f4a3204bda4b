"""Unit tests of the Overview's health roll-up (k8sdata.health): pure, no servers."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pytest

from k8sdata import health
from k8sdata.errors import Forbidden, NotConfigured
from k8sdata.health import AppHealth, applications_csv, applications_frame, key_numbers, roll_up


def pod(name: str, *, app: str = "web", namespace: str = "shop", ready: bool = True,
        status: str = "Running", phase: str = "Running", restarts: int = 0) -> dict[str, object]:
    return {"namespace": namespace, "name": name, "app": app, "status": status, "phase": phase,
            "is_ready": ready, "restarts": restarts}


def pods_table(*pods: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(pods), columns=list(health.PODS_COLUMNS))


def metrics_table(*rows: tuple[str, str, float, float, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(health.METRICS_COLUMNS))


def only(apps: list[AppHealth], app: str) -> AppHealth:
    matches = [a for a in apps if a.app == app]
    assert len(matches) == 1, apps
    return matches[0]


def test_all_ready_and_few_errors_is_green_with_good_news() -> None:
    apps = roll_up(pods_table(pod("web-1"), pod("web-2")),
                   metrics_table(("shop", "web", 4.0, 0.002, 0.12)), {}, window="5m")
    web = only(apps, "web")
    assert web.light == "green"
    assert (web.pods_total, web.pods_ready, web.restarts_1h) == (2, 2, 0)
    assert web.reasons[0] == "All 2 pods ready"
    assert "0.2% of requests failed in the last 5 minutes" in web.reasons
    assert "Serving 4.0 requests per second" in web.reasons


@pytest.mark.parametrize(
    ("ratio", "light", "sentence"),
    [
        (health.ERROR_RATIO_RED, "red", "5.0% of requests failed in the last 5 minutes"),
        (0.052, "red", "5.2% of requests failed in the last 5 minutes"),
        (health.ERROR_RATIO_AMBER, "amber", "1.0% of requests failed in the last 5 minutes"),
        (0.0099, "green", "1.0% of requests failed in the last 5 minutes"),
        (0.0, "green", "0.0% of requests failed in the last 5 minutes"),
    ],
)
def test_error_ratio_thresholds(ratio: float, light: str, sentence: str) -> None:
    apps = roll_up(pods_table(pod("web-1")), metrics_table(("shop", "web", 10.0, ratio, 0.1)))
    web = only(apps, "web")
    assert web.light == light
    assert sentence in web.reasons
    if light != "green":
        assert web.summary == sentence  # bad news leads


def test_slow_p95_is_amber_and_fast_is_not_mentioned() -> None:
    slow = only(roll_up(pods_table(pod("a")), metrics_table(("shop", "web", 1.0, 0.0, 1.25))), "web")
    assert slow.light == "amber"
    assert slow.summary == "1 in 20 requests took 1.2 s or longer"
    at_threshold = only(roll_up(None, metrics_table(("shop", "web", 1.0, 0.0, health.LATENCY_P95_AMBER))),
                        "web")
    assert at_threshold.light == "amber"
    fast = only(roll_up(pods_table(pod("a")), metrics_table(("shop", "web", 1.0, 0.0, 0.2))), "web")
    assert fast.light == "green"
    assert not any("longer" in reason for reason in fast.reasons)


def test_one_pod_not_ready_is_amber_and_says_why() -> None:
    apps = roll_up(pods_table(pod("api-1"), pod("api-2", ready=False, status="Pending", phase="Pending")))
    api = only(apps, "web")
    assert api.light == "amber"
    assert api.summary == "1 of 2 pods not ready (Pending)"


def test_no_pod_ready_is_red() -> None:
    apps = roll_up(pods_table(pod("w-1", ready=False, status="ContainerCreating", phase="Pending")))
    assert only(apps, "web").light == "red"
    assert only(apps, "web").summary == "None of its 1 pod is ready (ContainerCreating)"


def test_crashlooping_pod_is_red_even_when_another_pod_is_ready() -> None:
    apps = roll_up(pods_table(pod("w-1"), pod("w-2", ready=False, status="CrashLoopBackOff", restarts=7)))
    web = only(apps, "web")
    assert web.light == "red"
    assert web.summary == "1 pod keeps crashing and restarting (CrashLoopBackOff)"
    assert web.restarts_total == 7
    assert web.restarts_1h is None  # nobody told us about the last hour


def test_restarts_in_the_last_hour_come_from_prometheus_per_pod() -> None:
    apps = roll_up(pods_table(pod("w-1", restarts=5), pod("w-2")), None,
                   {("shop", "w-1"): 2.0, ("shop", "w-2"): 0.0, ("other", "w-1"): 9.0})
    web = only(apps, "web")
    assert web.restarts_1h == 2
    assert web.light == "amber"
    assert web.summary == "Restarted 2 times in the last hour"


def test_finished_job_pods_are_ignored() -> None:
    apps = roll_up(pods_table(pod("job-1", app="backup", ready=False, status="Completed", phase="Succeeded")))
    assert apps == []


def test_apps_are_grouped_by_namespace_and_app_and_joined_with_metrics() -> None:
    pods = pods_table(pod("web-1"), pod("api-1", app="api"), pod("web-x", namespace="staging"))
    metrics = metrics_table(("shop", "web", 3.0, 0.0, 0.1), ("shop", "api", 2.0, 0.08, 0.3),
                            ("shop", "ghost", 1.0, 0.0, 0.1))
    apps = roll_up(pods, metrics, {})
    keys = [(a.namespace, a.app) for a in apps]
    # Worst first: api is red (8% errors); then the rest by namespace and name.
    assert keys[0] == ("shop", "api")
    assert sorted(keys) == [("shop", "api"), ("shop", "ghost"), ("shop", "web"), ("staging", "web")]
    staging_web = next(a for a in apps if a.namespace == "staging")
    assert staging_web.request_rate is None  # metrics joined on namespace too, not app alone
    ghost = only(apps, "ghost")
    assert (ghost.pods_total, ghost.request_rate) == (0, 1.0)


def test_without_kubernetes_metrics_alone_still_give_lights() -> None:
    apps = roll_up(None, metrics_table(("shop", "web", 3.0, 0.2, 0.1)))
    assert only(apps, "web").light == "red"


def test_nan_error_ratio_from_zero_traffic_is_not_an_error() -> None:
    apps = roll_up(pods_table(pod("w-1")), metrics_table(("shop", "web", 0.0, math.nan, math.nan)))
    web = only(apps, "web")
    assert web.light == "green"
    assert web.error_ratio is None and web.latency_p95 is None
    assert "Serving 0.0 requests per second" in web.reasons


def test_nothing_known_is_grey() -> None:
    apps = roll_up(None, metrics_table(("shop", "web", math.nan, math.nan, math.nan)))
    web = only(apps, "web")
    assert web.light == "grey"
    assert web.reasons == ["No request data, and Kubernetes could not be read"]


def test_missing_columns_fail_loudly() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        roll_up(pd.DataFrame([{"namespace": "a", "name": "b"}]))


def test_key_numbers_weight_error_rate_by_traffic() -> None:
    pods = pods_table(pod("w-1", restarts=3), pod("w-2", ready=False, status="Pending", phase="Pending"),
                      pod("a-1", app="api"), pod("j", app="job", phase="Succeeded", ready=False))
    metrics = metrics_table(("shop", "web", 9.0, 0.0, 0.2), ("shop", "api", 1.0, 0.5, 2.0))
    apps = roll_up(pods, metrics, {("shop", "w-1"): 1})
    numbers = key_numbers(pods, apps, restarts_known=True)
    assert numbers.pods_running == 2
    assert numbers.pods_not_ready == 1
    assert numbers.restarts_total == 3
    assert numbers.restarts_1h == 1
    assert numbers.request_rate == pytest.approx(10.0)
    assert numbers.error_ratio == pytest.approx(0.05)  # (9*0 + 1*0.5) / 10, not the mean 0.25
    assert numbers.latency_p95_worst == pytest.approx(2.0)
    unknown = key_numbers(None, roll_up(None, None), restarts_known=False)
    assert (unknown.restarts_1h, unknown.request_rate, unknown.error_ratio) == (None, None, None)


def test_window_words() -> None:
    assert health.window_words("5m") == "5 minutes"
    assert health.window_words("1h") == "hour"
    assert health.window_words("1h30m") == "1 hour 30 minutes"
    assert health.format_percent(0.0004) == "less than 0.1%"


def test_applications_csv_round_trips_and_defuses_formulas() -> None:
    apps = roll_up(pods_table(pod("x", app="=HYPERLINK(\"http://evil\")")),
                   metrics_table(("shop", "web", 2.5, 0.1, 0.3)), {})
    frame = applications_frame(apps)
    assert list(frame.columns) == list(health.APPLICATION_TABLE_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(applications_csv(apps).decode("utf-8"))))
    assert [r["application"] for r in rows] == ["web", "'=HYPERLINK(\"http://evil\")"]
    web = rows[0]
    assert web["status"] == "red"
    assert float(web["requests_per_second"]) == 2.5
    assert float(web["error_percent"]) == 10.0
    assert "10.0% of requests failed" in web["why"]
    assert "light" not in web


def alerts_table(*rows: dict[str, object]) -> pd.DataFrame:
    columns = ["alertname", "state", "severity", "namespace", "pod", "app", "summary"]
    return pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows], columns=columns)


def test_firing_alerts_colour_their_application_through_app_label_or_pod() -> None:
    pods = pods_table(pod("web-1"), pod("api-1", app="api"), pod("db-1", app="db"))
    alerts = alerts_table(
        {"alertname": "ContainerOOMKilled", "state": "firing", "severity": "info", "namespace": "shop",
         "pod": "web-1", "summary": "Container was killed for running out of memory."},
        {"alertname": "HighErrorRate", "state": "firing", "severity": "critical", "namespace": "shop",
         "app": "api", "summary": "Application is answering with errors."},
        {"alertname": "Slow", "state": "pending", "severity": "critical", "namespace": "shop", "app": "db"},
    )
    apps = roll_up(pods, None, {}, alerts=alerts)
    web, api, db = only(apps, "web"), only(apps, "api"), only(apps, "db")
    assert web.light == "amber"
    assert web.summary == "Alert: Container was killed for running out of memory (ContainerOOMKilled)"
    assert api.light == "red"
    assert api.summary == "Alert: Application is answering with errors (HighErrorRate)"
    assert db.light == "green"  # pending alerts have not fired yet


def test_all_pods_crashing_says_so_once() -> None:
    web = only(roll_up(pods_table(pod("w", ready=False, status="CrashLoopBackOff"))), "web")
    assert web.light == "red"
    assert web.reasons == ["1 pod keeps crashing and restarting (CrashLoopBackOff)"]


def test_unknown_is_not_green() -> None:
    """An input that failed (not one left unconfigured) may hold the bad news: no light is green then;
    red and amber stay, since a problem seen is real."""
    pods = pods_table(pod("w-1"), pod("b-1", app="broken", ready=False, status="CrashLoopBackOff"))
    metrics = metrics_table(("shop", "web", 10.0, 0.001, 0.1))
    read = {a.app: a for a in roll_up(pods, metrics, {})}
    assert read["web"].light == "green"
    apps = {a.app: a for a in roll_up(pods, metrics, {}, unread=["alerts"])}
    assert apps["web"].light == "grey"
    assert apps["web"].reasons[0] == "Not known to be healthy: alerts could not be read"
    assert "Its pod is ready" in apps["web"].reasons  # what was read is still said
    assert apps["broken"].light == "red"
    no_pods = only(roll_up(None, metrics, unread=health.unread_inputs({"pods": Forbidden("kubernetes")})),
                   "web")
    assert no_pods.light == "grey" and "its pods could not be read" in no_pods.reasons[0]
    # A source left out on purpose is not a failure: pods alone may still say green.
    assert health.unread_inputs({"metrics": NotConfigured("prometheus"), "pods": None}) == []
