"""KAMS' request conventions held to the real instrumentation libraries, really serving.

Each library's app runs as its own process (sandbox.instrumented): prometheus-fastapi-instrumentator,
starlette-exporter, django-prometheus, OpenTelemetry (stable HTTP semantic conventions through the
Prometheus exporter) and express-prom-bundle, plus Micrometer as a fixture of Spring Boot's documented
exposition served with growing counters (no JVM here). A real Prometheus (each flavour) scrapes them all
every second with the labels a Prometheus Operator ServiceMonitor attaches (namespace, pod, service,
endpoint, container; no `app`), while the driver sends a known mix of requests for 20 s. Then, at one
moment `at`, for each library:

- detection finds its convention;
- the pod's row of red_summary agrees within 1 % with the PromQL written here against the library's own
  label names (rate, 5xx share, 4xx share, p95), and no other pod shows up under its convention;
- its /metrics text has the metric and label names the convention reads, and its counters counted
  exactly the answers the driver got (status classes included);
- Micrometer's figures equal those computed from the fixture file itself.

The apps start once for the module; each flavour gets its own Prometheus and its own 20 s of traffic.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from k8sdata.requests.conventions import (
    BUILTIN_CONVENTIONS,
    PROMETHEUS_CLIENT,
    Convention,
    detect_conventions,
)
from k8sdata.requests.red import red_summary
from k8sdata.sources.prom import PromClient
from sandbox import realservers
from sandbox.instrumented import LIBRARIES, DriveReport, InstrumentedApp, Library, drive, node_missing_reason
from sandbox.instrumented import start_apps as start_instrumented_apps
from sandbox.instrumented.micrometer import fixture_lines
from sandbox.prometheus import PrometheusServer
from sandbox.prometheus.flavours import Flavour
from tests.k8sdata.test_red import bucket_quantile

TOLERANCE = 0.01  # "agree within 1 %"
WINDOW = "1m"
DRIVE_SECONDS = 20.0
CONVENTIONS: dict[str, Convention] = {convention.name: convention for convention in BUILTIN_CONVENTIONS}
#: prometheus-fastapi-instrumentator groups statuses into classes by default; the others give codes.
STATUS_CLASS_MATCHERS: dict[str, tuple[str, str]] = {"fastapi-instrumentator": ('="5xx"', '="4xx"')}
CODE_MATCHERS = ('=~"5.."', '=~"4.."')
LIBRARY_IDS = [library.convention for library in LIBRARIES]
DRIVEN = [library for library in LIBRARIES if library.driven]


@dataclass
class Scraped:
    prometheus: PrometheusServer
    at: datetime
    apps: dict[str, InstrumentedApp]
    before: dict[str, str]  # /metrics text of each app before the traffic
    after: dict[str, str]  # ... and after it
    report: DriveReport


@pytest.fixture(scope="module")
def instrumented_apps() -> Iterator[dict[str, InstrumentedApp]]:
    reason = node_missing_reason()
    if reason is not None:
        # Like a real server that was not built: CI must fail here rather than pass without Express.
        if realservers.required():
            pytest.fail(f"{reason} ({realservers.REQUIRE_VARIABLE} is set, so this cannot be skipped)")
        pytest.skip(reason)
    with start_instrumented_apps(LIBRARIES) as apps:
        yield apps


@pytest.fixture(scope="module")
def scraped(instrumented_apps: dict[str, InstrumentedApp], prometheus_flavour: Flavour) -> Iterator[Scraped]:
    apps = instrumented_apps
    targets = [app.scrape_target() for app in apps.values()]
    server = PrometheusServer(targets, scrape_interval="1s", rules=False, flavour=prometheus_flavour,
                              startup_timeout=60.0).start()
    try:
        before = {name: app.scrape() for name, app in apps.items()}
        report = drive({library.convention: apps[library.convention] for library in DRIVEN},
                       seconds=DRIVE_SECONDS)
        # Two more scrapes, so every answer is in Prometheus before the moment the test asks about.
        time.sleep(2.5)
        after = {name: app.scrape() for name, app in apps.items()}
        at = datetime.now(UTC)
        yield Scraped(server, at, apps, before, after, report)
    finally:
        server.stop()


def scalar(scraped: Scraped, promql: str) -> float:
    result = scraped.prometheus.query(promql, at=scraped.at.timestamp())
    assert len(result) == 1, f"{promql}: {result}"
    return float(result[0]["value"][1])


def selector(library: Library, extra: str = "") -> str:
    return f'namespace="{library.namespace}", pod="{library.pod}"' + (f", {extra}" if extra else "")


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=1e-9)


def pod_row(frame: pd.DataFrame, library: Library) -> pd.Series:
    rows = frame[(frame["namespace"] == library.namespace) & (frame["pod"] == library.pod)]
    assert len(rows) == 1, f"{library.convention}: no single row for {library.pod}:\n{frame}"
    return rows.iloc[0]


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` in an exposition, parsed by prometheus_client's own parser."""
    return [(dict(sample.labels), float(sample.value)) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def answers_by_class(text: str, library: Library) -> Counter[str]:
    """The library's counter per status class, for our two routes only (some count /metrics too)."""
    convention = CONVENTIONS[library.convention]
    counted: Counter[str] = Counter()
    for labels, value in samples(text, convention.requests_metric):
        if labels.get(convention.path_label) in library.routes:
            counted[labels[convention.status_label][0] + "xx"] += round(value)
    return counted


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
def test_detected(scraped: Scraped, library: Library) -> None:
    found = detect_conventions(PromClient(scraped.prometheus.url, 10), BUILTIN_CONVENTIONS, at=scraped.at)
    assert library.convention in [convention.name for convention in found]


def test_same_metric_other_labels_is_not_prometheus_client(scraped: Scraped) -> None:
    """The instrumentator's http_requests_total has `status`, not `code`: it is not prometheus_client's."""
    found = detect_conventions(PromClient(scraped.prometheus.url, 10), BUILTIN_CONVENTIONS, at=scraped.at)
    assert PROMETHEUS_CLIENT.name not in [convention.name for convention in found]


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
def test_red_summary_agrees_with_promql(scraped: Scraped, library: Library) -> None:
    convention = CONVENTIONS[library.convention]
    frame = red_summary(PromClient(scraped.prometheus.url, 10), [convention], level="pod", window=WINDOW,
                        at=scraped.at)
    row = pod_row(frame, library)
    five, four = STATUS_CLASS_MATCHERS.get(library.convention, CODE_MATCHERS)
    status = convention.status_label

    def rate_of(extra: str = "") -> str:
        return f"sum(rate({convention.requests_metric}{{{selector(library, extra)}}}[{WINDOW}]))"

    total = scalar(scraped, rate_of())
    server_errors = scalar(scraped, rate_of(status + five))
    client_errors = scalar(scraped, rate_of(status + four))
    p95 = scalar(scraped, f"histogram_quantile(0.95, sum by (le) "
                          f"(rate({convention.duration_bucket}{{{selector(library)}}}[{WINDOW}])))")
    assert total > 0 and server_errors > 0 and client_errors > 0 and p95 > 0
    assert close(row["rps"], total), (row["rps"], total)
    assert close(row["error_ratio"], server_errors / total), (row["error_ratio"], server_errors / total)
    assert close(row["error_ratio_4xx"], client_errors / total), (row["error_ratio_4xx"],
                                                                  client_errors / total)
    assert close(row["p95_seconds"], p95), (row["p95_seconds"], p95)


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
def test_red_summary_has_only_that_librarys_pod(scraped: Scraped, library: Library) -> None:
    """Libraries share metric names (the instrumentator's and express-prom-bundle's histograms are both
    http_request_duration_seconds): a convention must not show another library's pod."""
    frame = red_summary(PromClient(scraped.prometheus.url, 10), [CONVENTIONS[library.convention]],
                        level="pod", window=WINDOW, at=scraped.at)
    assert list(zip(frame["namespace"], frame["pod"], strict=True)) == [(library.namespace, library.pod)]


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
def test_pod_row_names_its_workload(scraped: Scraped, library: Library) -> None:
    """No app label and no kube-state-metrics here: the workload comes from the pod's name."""
    frame = red_summary(PromClient(scraped.prometheus.url, 10), [CONVENTIONS[library.convention]],
                        level="pod", window=WINDOW, at=scraped.at)
    assert pod_row(frame, library)["workload"] == library.workload


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
def test_exposition_has_the_convention_names(scraped: Scraped, library: Library) -> None:
    convention = CONVENTIONS[library.convention]
    text = scraped.after[library.convention]
    counter = samples(text, convention.requests_metric)
    buckets = samples(text, convention.duration_bucket)
    assert counter and buckets, f"{convention.requests_metric} / {convention.duration_bucket} not in:\n{text}"
    for labels, _value in counter:
        assert {convention.status_label, convention.method_label, convention.path_label} <= set(labels)
    for labels, _value in buckets:
        assert {"le", convention.method_label, convention.path_label} <= set(labels)
    assert {labels[convention.path_label] for labels, _value in counter} >= set(library.routes)


@pytest.mark.parametrize("library", DRIVEN, ids=[library.convention for library in DRIVEN])
def test_counters_counted_every_answer(scraped: Scraped, library: Library) -> None:
    assert not scraped.report.failures, scraped.report.failures[:5]
    counted = answers_by_class(scraped.after[library.convention], library)
    counted.subtract(answers_by_class(scraped.before[library.convention], library))
    assert +counted == scraped.report.by_class(library.convention)


def test_opentelemetry_resource_is_in_target_info(scraped: Scraped) -> None:
    """The exporter publishes the SDK's resource attributes as target_info, scraped like any series."""
    library = next(library for library in LIBRARIES if library.convention == "opentelemetry")
    result = scraped.prometheus.query(f"target_info{{{selector(library)}}}", at=scraped.at.timestamp())
    assert len(result) == 1
    assert result[0]["metric"]["k8s_pod_name"] == library.pod
    assert result[0]["metric"]["service_name"] == library.service


def test_micrometer_figures_are_the_fixtures(scraped: Scraped) -> None:
    """Every fixture counter grows by the same factor, so the ratios and the quantile are the file's."""
    library = next(library for library in LIBRARIES if library.convention == "micrometer")
    text = "\n".join(fixture_lines()) + "\n"
    counts = samples(text, "http_server_requests_seconds_count")
    total = sum(value for _labels, value in counts)
    by_class: Counter[str] = Counter()
    for labels, value in counts:
        by_class[labels["status"][0]] += value
    buckets: Counter[float] = Counter()
    for labels, value in samples(text, "http_server_requests_seconds_bucket"):
        buckets[float(labels["le"])] += value
    row = pod_row(red_summary(PromClient(scraped.prometheus.url, 10), [CONVENTIONS["micrometer"]],
                              level="pod", window=WINDOW, at=scraped.at), library)
    assert close(row["error_ratio"], by_class["5"] / total)
    assert close(row["error_ratio_4xx"], by_class["4"] / total)
    assert close(row["p95_seconds"], bucket_quantile(0.95, sorted(buckets.items())))
