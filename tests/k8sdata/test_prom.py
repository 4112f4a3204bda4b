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

from k8sdata.errors import Forbidden, NotConfigured, NotInstalled, SourceError, Timeout, Unreachable
from k8sdata.requests.queries import CATALOGUE, ERROR_RATIO, REQUEST_RATE, escape_label_value
from k8sdata.sources.prom import ALERT_COLUMNS, PromClient
from sandbox import demo_names
from sandbox.prometheus.flavours import Flavour

# Label values Prometheus accepts: any UTF-8 text. Keep examples small so the test stays quick.
LABEL_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@pytest.fixture(scope="module")
def prom(prometheus: Any) -> Iterator[PromClient]:
    client = PromClient(prometheus.url, timeout=10)
    yield client
    client.close()


def test_version_is_the_real_server(prom: PromClient, prometheus: Any) -> None:
    assert prom.version().startswith(prometheus.flavour.prometheus_release)


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

    def run(*args: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(["requests", *args], out=out, err=err,
                        environ={"PROMETHEUS_URL": prometheus.url} if environ is None else environ)
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("--namespace", "shop", "--format", "json")
    assert code == 0, err
    records = json.loads(out)
    # One row per namespace, workload and pod: each app's own metrics (with its pod), and the ingress
    # in front of both (no application pod: pod "").
    assert [(r["namespace"], r["workload"], r["pod"], r["convention"]) for r in records] == [
        ("shop", "api", "", "ingress-nginx"), ("shop", "api", demo_names.API.pod, "prometheus_client"),
        ("shop", "web", "", "ingress-nginx"), ("shop", "web", demo_names.WEB.pod, "prometheus_client")]
    assert list(records[0])[:3] == ["namespace", "workload", "pod"]
    assert [r["workload_source"] for r in records] == ["label ingress", "label app"] * 2
    assert {"rps", "error_ratio", "p50_seconds", "p95_seconds", "p99_seconds"} <= set(records[0])
    assert all(r["rps"] > 0 and 0 <= r["error_ratio"] <= 1 for r in records)
    assert all(0 < r["p50_seconds"] <= r["p95_seconds"] <= r["p99_seconds"] < 5 for r in records)
    code, out, _ = run("--namespace", "shop", "--format", "csv")
    assert out.splitlines()[0].startswith("namespace,workload,pod,convention,rps,error_ratio,")
    code, out, _ = run("--namespace", "shop")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["NAMESPACE", "WORKLOAD", "POD", "SOURCE", "REQ/S", "5XX", "4XX", "P50", "P95",
                                "P99", "NAMED", "BY"] and len(lines) == 5
    # The demo's scrape adds the app label; the ingress names its own.
    assert all(line.endswith(("label app", "label ingress")) for line in lines[1:])
    code, out, _ = run("--namespace", "no-such-namespace")
    assert code == 0 and "no request metrics" in out  # a sentence on how to expose them, not an empty table
    code, _, err = run("--window", "5m]")
    assert code == 2 and "not a PromQL duration" in err
    code, _, err = run(environ={})
    assert code == 1 and err.startswith("Prometheus is not configured")


# --- Prometheus' own timeout, bearer token, custom CA, series/labels/rules (helper E) -------------------

def test_series_labels_and_label_values(prom: PromClient) -> None:
    series = prom.series(['up{job="kube-state-metrics"}'])
    assert series and all(labels["job"] == "kube-state-metrics" for labels in series)
    assert {"__name__", "job", "instance"} <= set(prom.labels())
    assert {"shop", "legacy"} <= set(prom.label_values("namespace"))
    with pytest.raises(ValueError):
        prom.label_values("")
    assert prom.label_values("no/such.label") == []  # a UTF-8 name travels U__-encoded in the path


def test_rules_lists_the_loaded_groups(prom: PromClient) -> None:
    alerting = prom.rules("alert")
    assert alerting and all(rule["type"] == "alerting" for group in alerting for rule in group["rules"])
    assert {"kams-demo-pods", "kams-demo-apps"} <= {group["name"] for group in prom.rules()}


def test_prometheus_enforces_the_timeout_parameter_it_is_sent(prometheus: Any) -> None:
    """With a generous client timeout but a 1 ms server timeout, Prometheus itself aborts the query:
    proof that the `timeout` parameter goes out and that its answer becomes a Timeout sentence."""
    # Prometheus 2.42 looks at the deadline between evaluation steps: the outer sum() steps after the
    # subquery's ~0.1 s of work, long past 1 ms.
    heavy = "sum(count_over_time(vector(1)[1d:1s]))"
    with pytest.raises(Timeout) as caught:
        PromClient(prometheus.url, timeout=20, query_timeout=0.001).instant(heavy)
    assert "timed out" in caught.value.sentence
    assert PromClient(prometheus.url, timeout=20).instant(heavy)["value"].tolist() == [86_400.0]


class _TokenGate:
    """A tiny reverse proxy in front of the real Prometheus that answers 401 unless the request carries
    `Authorization: Bearer <token>` (Prometheus itself has no server-side token check). It records
    every request's path and query, so tests can see what the client sent."""

    def __init__(self, upstream: str, token: str) -> None:
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler

        from sandbox._http import ThreadedHTTPService

        gate = self
        self.token = token
        self.seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                gate.seen.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {gate.token}":
                    self._reply(401, b'{"status":"error","errorType":"unauthorized","error":"bad token"}')
                    return
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=10) as answer:
                        self._reply(answer.status, answer.read())
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.service = ThreadedHTTPService(Handler, thread_name="token-gate")


@pytest.fixture(scope="module")
def token_gate(prometheus: Any) -> Iterator[_TokenGate]:
    gate = _TokenGate(prometheus.url, "s3cret-token")
    gate.service.start()
    yield gate
    gate.service.stop()


def test_bearer_token_is_sent_and_required(token_gate: _TokenGate) -> None:
    url = token_gate.service.url
    with pytest.raises(Forbidden) as caught:
        PromClient(url, timeout=5).instant("vector(1)")
    assert "PROMETHEUS_TOKEN" in caught.value.sentence
    client = PromClient(url, timeout=5, bearer_token="s3cret-token")
    assert client.instant("vector(1)")["value"].tolist() == [1.0]
    end = datetime.now(UTC)
    assert not client.range("vector(1)", end - timedelta(minutes=1), end, 30).empty
    sent = [path for path in token_gate.seen if path.startswith(("/api/v1/query?", "/api/v1/query_range?"))]
    assert sent and all("timeout=" in path for path in sent), sent


def test_token_file_is_reread_when_the_secret_rotates(token_gate: _TokenGate, prometheus_flavour: Flavour,
                                                      tmp_path: Any) -> None:
    from k8sdata.config import Settings
    from k8sdata.sources.prom import client_from_settings

    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n", encoding="utf-8")
    settings = Settings.from_env({"PROMETHEUS_URL": token_gate.service.url,
                                  "PROMETHEUS_TOKEN_FILE": str(token_file)}, home=tmp_path)
    client = client_from_settings(settings)
    release = prometheus_flavour.prometheus_release
    assert client.version().startswith(release)
    token_gate.token = "rotated-token"
    try:
        with pytest.raises(Forbidden):
            client.version()
        token_file.write_text("rotated-token", encoding="utf-8")
        assert client.version().startswith(release)
    finally:
        token_gate.token = "s3cret-token"
    token_file.unlink()
    with pytest.raises(NotConfigured) as caught:
        client.version()
    assert "token file" in caught.value.sentence


@pytest.fixture(scope="module")
def tls_prometheus(prometheus_flavour: Flavour) -> Iterator[tuple[str, str]]:
    """A real Prometheus serving only TLS (--web.config.file), with a certificate from a private CA."""
    from sandbox.apiserver.tls import sandbox_identity
    from sandbox.prometheus.server import PrometheusServer

    identity = sandbox_identity()
    if identity is None:
        pytest.fail("openssl is needed to make the test certificate")
    web_config = {"tls_server_config": {"cert_file": str(identity.cert_path),
                                        "key_file": str(identity.key_path)}}
    with PrometheusServer([], rules=False, web_config=web_config, ca_file=identity.cert_path,
                          flavour=prometheus_flavour) as server:
        assert server.url.startswith("https://")
        yield server.url, str(identity.cert_path)


def test_custom_ca_verifies_a_tls_prometheus(tls_prometheus: tuple[str, str], tmp_path: Any) -> None:
    from k8sdata.config import Settings
    from k8sdata.sources.prom import client_from_settings

    url, ca_file = tls_prometheus
    settings = Settings.from_env({"PROMETHEUS_URL": url, "PROMETHEUS_CA_FILE": ca_file}, home=tmp_path)
    assert client_from_settings(settings).instant("vector(2)")["value"].tolist() == [2.0]
    with pytest.raises(Unreachable) as caught:  # the system's CA bundle does not know our CA
        PromClient(url, timeout=5).version()
    assert "certificate" in caught.value.sentence and "PROMETHEUS_CA_FILE" in caught.value.sentence
    with pytest.raises(NotConfigured):
        PromClient(url, timeout=5, ca_file=str(tmp_path / "missing.pem"))


# --- warnings and infos (partial responses, PromQL annotations) ----------------------------------------
SERVER_WARNINGS = ["partial response: store 10.0.0.7:10901 unreachable"]
SERVER_INFOS = ['PromQL info: metric might not be a counter: "up"']


class _WarningServer:
    """A tiny stand-in for a Prometheus-compatible API (Thanos with a partial response, say) that answers
    every GET with one series, plus `warnings` and `infos`."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler

        from sandbox._http import ThreadedHTTPService

        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "x"}, "value": [1700000000.0, "1"]}]},
            "warnings": SERVER_WARNINGS, "infos": SERVER_INFOS}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.service = ThreadedHTTPService(Handler, thread_name="warning-server")


@pytest.fixture
def warning_server() -> Iterator[str]:
    server = _WarningServer()
    server.service.start()
    yield server.service.url
    server.service.stop()


def test_warnings_and_infos_are_collected_without_changing_the_answer(warning_server: str) -> None:
    from k8sdata.sources.prom import collecting_warnings

    client = PromClient(warning_server, timeout=5)
    plain = client.instant("up")  # no collector open: answered as always
    with collecting_warnings() as outer:
        with collecting_warnings() as inner:
            frame = client.instant("rate(up[5m])")
        end = datetime.now(UTC)
        client.range("up", end - timedelta(minutes=1), end, 60)
    assert isinstance(frame, pd.DataFrame) and frame.equals(plain)
    assert frame["value"].tolist() == [1.0]
    expected = [*SERVER_WARNINGS, *SERVER_INFOS]
    assert inner == expected
    assert outer == expected * 2  # the block around sees the inner block's queries and its own
    with collecting_warnings() as later:
        pass
    assert later == []


def test_real_prometheus_3_annotations_are_collected(prom: PromClient, prometheus: Any) -> None:
    """rate() of a metric whose name says it is not a counter: Prometheus 3 answers with an info
    annotation (2.42 has no such annotations, and says nothing)."""
    from k8sdata.sources.prom import collecting_warnings

    with collecting_warnings() as seen:
        prom.instant("rate(container_memory_working_set_bytes[1h])")  # a gauge, with history
    if prometheus.flavour.prometheus_release.startswith("2."):
        assert seen == []
    else:
        assert any("might not be a counter" in note for note in seen), seen
