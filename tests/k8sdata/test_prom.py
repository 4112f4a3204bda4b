"""PromClient against the real Prometheus of the sandbox (fixture `prometheus`, `.url`), plus the
transport faults a real network produces (refused port, a server that never answers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8sdata.errors import NotConfigured, NotInstalled, SourceError, Timeout, Unreachable
from k8sdata.prom import ALERT_COLUMNS, PromClient
from k8sdata.queries import CATALOGUE, ERROR_RATIO, REQUEST_RATE, escape_label_value

# Label values Prometheus accepts: any UTF-8 text. Keep examples small so the test stays quick.
LABEL_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@pytest.fixture(scope="module")
def prom(prometheus: Any) -> Iterator[PromClient]:
    client = PromClient(prometheus.url, timeout=10)
    yield client
    client.close()


def test_version_is_the_real_server(prom: PromClient) -> None:
    assert prom.version().startswith("2.")


def test_instant_returns_label_columns_and_float_values(prom: PromClient) -> None:
    frame = prom.instant("up")
    assert {"job", "instance", "value"} <= set(frame.columns)
    assert frame["value"].dtype == "float64"
    assert (frame["value"] == 1.0).all()
    assert "__name__" not in frame.columns


def test_range_returns_utc_timestamps_at_the_step(prom: PromClient) -> None:
    end = datetime.now(UTC)
    frame = prom.range("count(http_requests_total)", end - timedelta(minutes=10), end, 60)
    assert list(frame.columns) == ["timestamp", "value"]
    assert str(frame["timestamp"].dt.tz) == "UTC"
    steps = frame["timestamp"].diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(seconds=60)]
    assert len(frame) >= 10  # the backfilled history covers the whole range


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_catalogue_query_runs_on_the_real_server(prom: PromClient, name: str) -> None:
    query = CATALOGUE[name]
    frame = prom.instant(query.render(window="5m"))
    assert set(query.result_labels("app")) <= set(frame.columns) or frame.empty
    # The sample apps in `shop` serve traffic, so request rates are there and grouped per app.
    if query in (REQUEST_RATE, ERROR_RATIO):
        shop = frame[frame["namespace"] == "shop"]
        assert set(shop["app"]) >= {"web", "api"}
        assert shop[["namespace", "app"]].duplicated().sum() == 0
    if query is ERROR_RATIO:
        assert frame["value"].between(0, 1).all()


def test_hostile_namespace_matches_nothing_instead_of_breaking_the_query(prom: PromClient) -> None:
    frame = prom.instant(REQUEST_RATE.render(namespace='shop"} or vector(1) or up{x="'))
    assert frame.empty


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=LABEL_TEXT)
def test_escaped_values_round_trip_through_prometheus(prom: PromClient, value: str) -> None:
    """absent(m{x="v"}) returns a series labelled x=v: what Prometheus parsed is exactly our value."""
    frame = prom.instant(f'absent(kams_no_such_metric{{x="{escape_label_value(value)}"}})')
    assert frame["x"].tolist() == [value]
    # label_replace sets y only if the anchored regex matches x: the regex escape matches the value
    # itself and nothing longer.
    regex = escape_label_value(value, regex=True)
    for candidate, expected in ((value, ["yes"]), (value + "z", [""])):
        probe = (f'label_replace(absent(kams_no_such_metric{{x="{escape_label_value(candidate)}"}}), '
                 f'"y", "yes", "x", "{regex}")')
        result = prom.instant(probe)
        assert result.get("y", pd.Series([""])).fillna("").tolist() == expected


def test_alerts_have_the_documented_columns(prom: PromClient) -> None:
    deadline = time.monotonic() + 30
    frame = prom.alerts()
    while frame.empty and time.monotonic() < deadline:  # demo rules fire within seconds of start
        time.sleep(1)
        frame = prom.alerts()
    assert list(frame.columns) == ALERT_COLUMNS
    assert not frame.empty
    assert set(frame["state"]) <= {"pending", "firing"}
    assert str(frame["active_at"].dt.tz) == "UTC"
    assert all(isinstance(labels, dict) and labels["alertname"] == name
               for labels, name in zip(frame["labels"], frame["alertname"], strict=True))


def test_bad_query_is_a_source_error_with_prometheus_message(prom: PromClient) -> None:
    with pytest.raises(SourceError) as caught:
        prom.instant("sum(")
    assert "parse error" in caught.value.sentence


def test_wrong_path_is_not_installed(prometheus: Any) -> None:
    with pytest.raises(NotInstalled):
        PromClient(prometheus.url + "/not-prometheus", timeout=5).version()


def test_refused_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The socket is closed: nothing listens there any more.
    with pytest.raises(Unreachable):
        PromClient(f"http://127.0.0.1:{port}", timeout=2).version()


def test_silent_server_times_out_within_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(Timeout):
            PromClient(f"http://127.0.0.1:{port}", timeout=0.5).instant("up")
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("url", ["", "prometheus:9090"])
def test_missing_or_schemeless_url_is_not_configured(url: str) -> None:
    with pytest.raises(NotConfigured):
        PromClient(url, timeout=1)


def test_cli_requests_per_app(prometheus: Any) -> None:
    import io
    import json

    from k8sdata.__main__ import main as cli_main

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(["requests", *args], out=out, err=err, environ={"PROMETHEUS_URL": prometheus.url})
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("--namespace", "shop", "--format", "json")
    assert code == 0, err
    records = json.loads(out)
    assert [(r["namespace"], r["app"]) for r in records] == [("shop", "api"), ("shop", "web")]
    assert all(r["request_rate"] > 0 and 0 <= r["error_ratio"] <= 1 and r["latency_p95"] > 0 for r in records)
    code, out, _ = run("--namespace", "shop")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["NAMESPACE", "APP", "REQ/S", "ERRORS", "P95"] and len(lines) == 3
    code, _, err = run("--window", "5m]")
    assert code == 2 and "not a PromQL duration" in err
    out_buffer, err_buffer = io.StringIO(), io.StringIO()
    assert cli_main(["requests"], out=out_buffer, err=err_buffer, environ={}) == 1
    assert err_buffer.getvalue().startswith("Prometheus is not configured")
