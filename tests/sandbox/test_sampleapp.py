"""The sample apps and the traffic model, against live HTTP servers (no Prometheus needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox import traffic
from sandbox.sampleapp import SampleApp

ROOT = Path(__file__).resolve().parents[2]


def _at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, 26, hour, minute, 30, tzinfo=UTC).timestamp()


def _get(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _samples(app: SampleApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = _get(app.url + "/metrics")[1].decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.fixture()
def apps() -> Iterator[tuple[SampleApp, SampleApp]]:
    with SampleApp("api", seed=1) as api, SampleApp("web", api_url=api.url, seed=2) as web:
        yield web, api


def test_pages_call_the_api_and_are_counted(apps: tuple[SampleApp, SampleApp]) -> None:
    web, api = apps
    assert _get(web.url + "/products")[0] == 200
    assert _get(web.url + "/checkout", "POST", b"{}")[0] == 200
    status, body = _get(api.url + "/api/products")
    assert status == 200 and json.loads(body)["products"]

    web_samples, api_samples = _samples(web), _samples(api)

    def requests(code: str, method: str, path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        return "http_requests_total", (("code", code), ("method", method), ("path", path))

    assert web_samples[requests("200", "GET", "/products")] == 1
    assert api_samples[requests("200", "GET", "/api/products")] == 2  # one from the web page, one direct
    assert api_samples[requests("201", "POST", "/api/orders")] == 1
    bounds = sorted(float(dict(labels)["le"]) for (name, labels) in api_samples
                    if name == "http_request_duration_seconds_bucket"
                    and dict(labels)["path"] == "/api/products")
    assert bounds == [*traffic.LATENCY_BUCKETS, float("inf")]
    assert not any(name.endswith("_created") for name, _labels in api_samples)


def test_api_fails_and_slows_on_command_and_web_turns_it_into_502(apps: tuple[SampleApp, SampleApp]) -> None:
    web, api = apps
    status, body = _get(api.url + "/-/control", "POST", json.dumps({"error_ratio": 1.0,
                                                                    "latency_factor": 3}).encode())
    assert status == 200 and json.loads(body) == {"error_ratio": 1.0, "latency_factor": 3.0}
    assert _get(api.url + "/api/cart")[0] in (500, 503)
    assert _get(web.url + "/cart")[0] == 502
    codes = {dict(labels)["code"] for (name, labels) in _samples(web) if name == "http_requests_total"}
    assert codes == {"502"}
    assert _get(api.url + "/-/control", "POST", b'{"error_ratio": 2}')[0] == 400
    assert api.control.error_ratio == 1.0  # a rejected update changes nothing


def test_unknown_paths_share_one_label_value(apps: tuple[SampleApp, SampleApp]) -> None:
    web, _api = apps
    for path in ("/wp-admin", "/.env", "/a/b/c"):
        assert _get(web.url + path)[0] == 404
    samples = _samples(web)
    assert samples[("http_requests_total", (("code", "404"), ("method", "GET"), ("path", "other")))] == 3


def test_runs_as_a_process_on_a_free_port() -> None:
    process = subprocess.Popen([sys.executable, "-m", "sandbox.sampleapp", "api", "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert _get(url + "/healthz") == (200, b"ok\n")
        assert _get(url + "/api/featured")[0] == 200
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_model_has_quiet_nights_busy_afternoons_a_spike_and_an_error_burst() -> None:
    night, afternoon = traffic.expected_rate("web", _at(3)), traffic.expected_rate("web", _at(15))
    assert night < 1.0 < 5.0 < afternoon < 10.0
    before_spike = traffic.expected_rate("web", _at(19, 25))
    assert traffic.expected_rate("web", _at(19, 32)) > 4 * before_spike
    # every page calls the api once and mobile clients add half as much again
    at = _at(11)
    assert traffic.expected_rate("api", at) == pytest.approx(1.5 * traffic.expected_rate("web", at))
    assert traffic.error_ratio("api", _at(14, 5)) == traffic.ERROR_BURST_RATIO
    assert traffic.error_ratio("api", _at(14, 15)) < 0.01
    assert traffic.latency_factor(_at(14, 5)) > 3 * traffic.latency_factor(_at(14, 15))
    fractions = [traffic.fraction_at_or_below(le, 0.05) for le in traffic.LATENCY_BUCKETS]
    assert fractions == sorted(fractions) and fractions[0] < 0.01 and fractions[-1] > 0.999


def test_model_has_quieter_weekends_eased_in_over_the_night() -> None:
    thursday, sunday = _at(15), datetime(2026, 11, 29, 15, 0, 30, tzinfo=UTC).timestamp()
    assert traffic.weekday(thursday) == 3 and traffic.weekday(sunday) == 6
    assert traffic.expected_rate("web", sunday) == pytest.approx(
        traffic.WEEKEND_FACTOR * traffic.expected_rate("web", thursday), rel=0.2)  # the minute noise differs
    assert traffic.weekly_factor(sunday) == traffic.WEEKEND_FACTOR and traffic.weekly_factor(thursday) == 1.0
    # no step at midnight: Friday 23:59 and Saturday 00:01 carry the same load, Sunday 23:59 and Monday
    # 00:01 too, and the factor moves monotonically through the easing hours
    saturday = datetime(2026, 11, 28, tzinfo=UTC).timestamp()
    monday = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
    for midnight in (saturday, monday):
        before, after = traffic.weekly_factor(midnight - 60), traffic.weekly_factor(midnight + 60)
        assert before == pytest.approx(after, abs=1e-3)
    down = [traffic.weekly_factor(saturday + minute * 60) for minute in range(0, 7 * 60, 10)]
    up = [traffic.weekly_factor(monday + minute * 60) for minute in range(0, 7 * 60, 10)]
    assert down == sorted(down, reverse=True) and down[-1] == traffic.WEEKEND_FACTOR
    assert up == sorted(up) and up[-1] == 1.0
    # the daily spike and error burst happen at weekends as well
    sunday_spike = datetime(2026, 11, 29, 19, 32, tzinfo=UTC).timestamp()
    assert traffic.expected_rate("web", sunday_spike) > 4 * traffic.expected_rate("web", sunday_spike - 600)


def test_generator_drives_the_apps_within_its_bounds_and_stops(apps: tuple[SampleApp, SampleApp]) -> None:
    web, api = apps
    generator = traffic.TrafficGenerator({"web": web.url, "api": api.url}, scale=1000, max_rate=20)
    with generator:
        time.sleep(1.5)
    assert generator._thread is None
    sent_during_run = generator.sent
    # capped at 20/s per app (2 apps, ~1.5 s): far below what scale=1000 would ask for
    assert 10 <= sent_during_run + generator.dropped <= 2 * 20 * 2.0
    time.sleep(0.5)
    assert generator.sent == sent_during_run  # nothing runs after stop
    web_total = sum(value for (name, _labels), value in _samples(web).items()
                    if name == "http_requests_total")
    assert web_total >= 5
    # the generator told the api the model's error ratio for now
    assert api.control.error_ratio == round(traffic.error_ratio("api", time.time()), 4)
    assert api.control.latency_factor == pytest.approx(traffic.latency_factor(time.time()), abs=0.01)
