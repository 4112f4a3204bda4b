"""Request-metric conventions: the built-ins name what the real exporters publish, settings add a custom
one, and detection asks the real Prometheus ONE question however many conventions there are."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured
from k8sdata.requests.conventions import (
    BUILTIN_CONVENTIONS,
    INGRESS_NGINX,
    ISTIO,
    LINKERD,
    PROMETHEUS_CLIENT,
    Convention,
    conventions_from_settings,
    detect_conventions,
    how_to_expose_metrics,
)
from k8sdata.requests.red import red_summary
from k8sdata.sources.prom import PromClient
from sandbox import demo_names


class CountingProm(PromClient):
    """The real client, counting the queries it sends (the number per page view must stay fixed)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=10)
        self.queries: list[str] = []

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame:
        self.queries.append(query)
        return super().instant(query, at)


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, home=tmp_path)


def test_builtins_name_what_the_exporters_publish() -> None:
    assert [c.name for c in BUILTIN_CONVENTIONS] == [
        "prometheus_client", "fastapi-instrumentator", "starlette-exporter", "django-prometheus",
        "opentelemetry", "express-prom-bundle", "micrometer", "istio", "linkerd", "ingress-nginx"]
    assert (PROMETHEUS_CLIENT.requests_metric, PROMETHEUS_CLIENT.duration_bucket) == (
        "http_requests_total", "http_request_duration_seconds_bucket")
    assert (INGRESS_NGINX.requests_metric, INGRESS_NGINX.duration_bucket, INGRESS_NGINX.namespace_label,
            INGRESS_NGINX.workload_label, INGRESS_NGINX.status_label) == (
        "nginx_ingress_controller_requests", "nginx_ingress_controller_request_duration_seconds_bucket",
        "exported_namespace", "ingress", "status")
    assert (ISTIO.requests_metric, ISTIO.duration_bucket, ISTIO.seconds_per_unit, ISTIO.matchers) == (
        "istio_requests_total", "istio_request_duration_milliseconds_bucket", 0.001,
        (("reporter", "destination"),))
    assert (ISTIO.namespace_label, ISTIO.workload_label, ISTIO.status_label) == (
        "destination_workload_namespace", "destination_workload", "response_code")
    assert (LINKERD.requests_metric, LINKERD.duration_bucket, LINKERD.seconds_per_unit, LINKERD.matchers) == (
        "response_total", "response_latency_ms_bucket", 0.001, (("direction", "inbound"),))
    assert (LINKERD.workload_label, LINKERD.status_label) == ("deployment", "status_code")
    # Linkerd's scrape names the workload by its kind (its proxy metrics reference): Jobs as k8s_job,
    # since `job` is Prometheus' own label.
    assert LINKERD.workload_fallback_labels == (
        "statefulset", "daemonset", "cronjob", "k8s_job", "replicaset", "replicationcontroller")
    # The libraries inside applications (tests/k8sdata/test_instrumented_libraries.py serves the real
    # ones): the scrape's app label, then app.kubernetes.io/name's, then the pods' owners.
    applications = [c for c in BUILTIN_CONVENTIONS if c.workload_from_app_label]
    assert [c.name for c in applications] == [c.name for c in BUILTIN_CONVENTIONS[:7]]
    assert all(c.workload_fallback_labels == ("app_kubernetes_io_name",) and c.workload_from_owners
               and (c.namespace_label, c.pod_label) == ("namespace", "pod") for c in applications)
    meshes = [c for c in BUILTIN_CONVENTIONS if not c.workload_from_app_label]
    assert not any(c.workload_from_owners for c in meshes)
    assert all(not c.workload_fallback_labels for c in meshes if c is not LINKERD)


# Any other text is a name Prometheus 3 may hold; test_queries proves such names stay quoted in PromQL.
@pytest.mark.parametrize("field, value", [
    ("requests_metric", ""), ("workload_label", ""), ("status_label", "\ud800"),
    ("duration_bucket", "\udfff_bucket"), ("seconds_per_unit", 0.0), ("matchers", (("", "x"),)),
    ("workload_fallback_labels", ("",)),
    ("workload_fallback_labels", ("app",)),  # the workload label itself: a repeat
])
def test_names_are_validated(field: str, value: Any) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(PROMETHEUS_CLIENT, **{field: value})


def test_settings_give_builtins_with_the_app_label(tmp_path: Path) -> None:
    conventions = conventions_from_settings(settings(tmp_path, KAMS_APP_LABEL="team"))
    assert [c.name for c in conventions] == [c.name for c in BUILTIN_CONVENTIONS]
    for convention, builtin in zip(conventions, BUILTIN_CONVENTIONS, strict=True):
        if builtin.workload_from_app_label:  # the libraries inside applications: the scrape's label
            assert (convention.workload_label, convention.workload_fallback_labels) == (
                "team", ("app_kubernetes_io_name",))
        else:  # meshes and ingresses name the workload in labels of their own
            assert convention == builtin
    # app.kubernetes.io/name's scrape label as the app label: no fallback repeating it.
    named = conventions_from_settings(settings(tmp_path, KAMS_APP_LABEL="app_kubernetes_io_name"))[0]
    assert (named.workload_label, named.workload_fallback_labels) == ("app_kubernetes_io_name", ())


def test_custom_convention_comes_first_with_its_names(tmp_path: Path) -> None:
    conventions = conventions_from_settings(settings(
        tmp_path, KAMS_REQUESTS_METRIC="myapp_requests_total",
        KAMS_REQUEST_DURATION_METRIC="myapp_latency_ms", KAMS_REQUEST_DURATION_UNIT="milliseconds",
        KAMS_REQUEST_WORKLOAD_LABEL="service", KAMS_REQUEST_STATUS_LABEL="status",
        KAMS_REQUEST_PATH_LABEL="handler"))
    custom = conventions[0]
    assert custom == Convention(
        name="custom", requests_metric="myapp_requests_total", duration_bucket="myapp_latency_ms_bucket",
        seconds_per_unit=0.001, namespace_label="namespace", workload_label="service", pod_label="pod",
        status_label="status", method_label="method", path_label="handler", workload_from_owners=True)
    assert len(conventions) == 1 + len(BUILTIN_CONVENTIONS)


def test_custom_convention_on_a_builtin_metric_replaces_it(tmp_path: Path) -> None:
    conventions = conventions_from_settings(settings(tmp_path, KAMS_REQUESTS_METRIC="http_requests_total",
                                                     KAMS_REQUEST_WORKLOAD_LABEL="container"))
    # Both libraries counting in http_requests_total (prometheus_client, fastapi-instrumentator) give way.
    assert [c.name for c in conventions] == ["custom", *(c.name for c in BUILTIN_CONVENTIONS
                                                         if c.requests_metric != "http_requests_total")]
    assert conventions[0].workload_label == "container" and conventions[0].duration_bucket == ""


@pytest.mark.parametrize("builtin", [ISTIO, LINKERD])
def test_custom_convention_keeps_the_replaced_builtins_matchers(tmp_path: Path, builtin: Convention) -> None:
    # Without reporter="destination" (direction="inbound") every request would count twice; the custom
    # label names apply as given, so Linkerd's workload fallbacks do not (the user named the label).
    conventions = conventions_from_settings(settings(tmp_path, KAMS_REQUESTS_METRIC=builtin.requests_metric,
                                                     KAMS_REQUEST_POD_LABEL="kubernetes_pod_name"))
    custom = conventions[0]
    assert (custom.name, custom.matchers) == ("custom", builtin.matchers)
    assert custom.pod_label == "kubernetes_pod_name"
    assert custom.workload_fallback_labels == () and builtin not in conventions


@pytest.mark.parametrize("env, mentions", [
    # Bytes that are not UTF-8 in the environment reach Python as lone surrogates: no Prometheus name.
    ({"KAMS_REQUESTS_METRIC": "my\udcffrequests"}, "custom request metrics"),
    ({"KAMS_REQUESTS_METRIC": "r_total", "KAMS_REQUEST_STATUS_LABEL": "status\udcff"},
     "custom request metrics"),
    ({"KAMS_REQUESTS_METRIC": "r_total", "KAMS_REQUEST_DURATION_UNIT": "minutes"},
     "KAMS_REQUEST_DURATION_UNIT"),
])
def test_invalid_custom_settings_are_a_sentence(tmp_path: Path, env: dict[str, str], mentions: str) -> None:
    with pytest.raises(NotConfigured) as caught:
        conventions_from_settings(settings(tmp_path, **env))
    assert mentions in caught.value.sentence


def test_how_to_expose_metrics_is_plain_advice() -> None:
    text = how_to_expose_metrics()
    assert "http_requests_total" in text and "KAMS_REQUESTS_METRIC" in text and "docs/requests.md" in text
    assert "<" not in text and "*" not in text  # plain text, nothing for a Markdown renderer to interpret


def test_detection_finds_the_demo_conventions_in_one_query(prometheus: Any) -> None:
    prom = CountingProm(prometheus.url)
    found = detect_conventions(prom)
    # The demo apps' own metrics and the ingress-nginx in front of them; no mesh. Candidates' order kept.
    assert [c.name for c in found] == ["prometheus_client", "ingress-nginx"]
    assert len(prom.queries) == 1
    assert detect_conventions(prom, []) == [] and len(prom.queries) == 1  # nothing to ask, nothing sent
    # The demo's exporter publishes kube-state-metrics' kube_pod_owner (no mixin rule): the application
    # conventions learn so in the same query, for the pods whose series name no workload.
    assert found[0].owners == "kube_pod_owner" and found[1].owners == ""
    # Same metric, three label schemes: each candidate is judged on its own matchers. A status label the
    # series lack is another library's; a workload label they lack is no obstacle when the pods' owners
    # can name the workload, and one without that fallback is not found.
    by_status = dataclasses.replace(PROMETHEUS_CLIENT, name="by-status", status_label="status")
    by_team = dataclasses.replace(PROMETHEUS_CLIENT, name="by-team", workload_label="team")
    only_team = dataclasses.replace(by_team, name="only-team", workload_from_owners=False,
                                    workload_fallback_labels=())
    assert [c.name for c in detect_conventions(prom, [by_status, only_team, by_team, PROMETHEUS_CLIENT])] == [
        "by-team", "prometheus_client"]
    assert len(prom.queries) == 2


def test_custom_convention_reads_the_demo_by_other_labels(prometheus: Any, tmp_path: Path) -> None:
    """The demo's http_requests_total read as a custom convention whose workload is the container label."""
    candidates = conventions_from_settings(settings(
        tmp_path, KAMS_REQUESTS_METRIC="http_requests_total",
        KAMS_REQUEST_DURATION_METRIC="http_request_duration_seconds",
        KAMS_REQUEST_WORKLOAD_LABEL="container"))
    prom = PromClient(prometheus.url, timeout=10)
    found = detect_conventions(prom, candidates)
    assert [c.name for c in found] == ["custom", "ingress-nginx"]
    frame = red_summary(prom, found[:1], namespace=demo_names.APP_NAMESPACE)
    assert frame["workload"].tolist() == [demo_names.API.container, demo_names.WEB.container]
    assert (frame["convention"] == "custom").all() and (frame["rps"] > 0).all()
    assert (frame["p95_seconds"] > 0).all()
