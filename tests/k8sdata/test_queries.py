"""The PromQL catalogue: escaping is airtight, every query is valid PromQL (checked by promtool, i.e.
Prometheus' own parser), and the catalogue keeps its promises (aggregation labels, fixed query count)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sdata.requests.conventions import PROMETHEUS_CLIENT
from k8sdata.requests.queries import (
    CATALOGUE,
    CONTAINER_CPU,
    CPU_P95_OVER_WINDOW,
    ERROR_RATIO,
    LATENCY_P95,
    MEMORY_PREDICTED,
    OWNERS_RULE_METRIC,
    OWNERS_SERIES_METRIC,
    REQUEST_BUCKETS,
    REQUEST_CATALOGUE,
    REQUEST_LATENCY_QUANTILE,
    REQUEST_RATE,
    REQUESTS_BY_STATUS,
    RESOLVED,
    RESTARTS_1H,
    UNRESOLVED,
    Query,
    conventions_present,
    duration_seconds,
    escape_label_value,
    label_name,
    seconds_duration,
    url_label_name,
    validate_metric_name,
)
from sandbox.prometheus.flavours import Flavour
from tests.plugins.prometheus import Promtool

NASTY = ['a"} or vector(1) #', "back\\slash", "new\nline", "tab\tcr\r", ".*", "a|b", "(x)[y]{2}^$?+",
         "ünïcødé ✓", "\x00\x07\x1b", '\\"', "}", "${sel}", "{window}"]
_GO_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "a": "\a", "b": "\b", "f": "\f",
               "v": "\v", "'": "'"}


def go_unquote(body: str) -> str:
    """Decode a PromQL double-quoted string body the way Prometheus' lexer does (the escapes we emit)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        assert char != '"', f"unescaped quote in {body!r}"
        assert char not in "\n\r", f"raw line break in {body!r}"
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        else:
            out.append(_GO_ESCAPES[code])
            i += 2
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escape_round_trips_and_never_breaks_out(value: str) -> None:
    escaped = escape_label_value(value)
    assert go_unquote(escaped) == value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_regex_escape_matches_only_the_value_itself(value: str) -> None:
    pattern = go_unquote(escape_label_value(value, regex=True))
    # Prometheus anchors =~ regexes; Python's re agrees with RE2 on escaped punctuation.
    assert re.fullmatch(pattern, value, flags=re.DOTALL)
    assert not re.fullmatch(pattern, value + "x", flags=re.DOTALL)
    if value:
        assert not re.fullmatch(pattern, "", flags=re.DOTALL)


@pytest.mark.parametrize("value", NASTY)
def test_escape_specific_values(value: str) -> None:
    escaped = escape_label_value(value)
    assert go_unquote(escaped) == value
    assert "\n" not in escaped and "\r" not in escaped


def test_escape_known_outputs() -> None:
    assert escape_label_value('say "hi"\\n') == 'say \\"hi\\"\\\\n'
    assert escape_label_value("a\nb") == "a\\nb"
    assert escape_label_value("a.b*", regex=True) == "a\\\\.b\\\\*"


@pytest.mark.parametrize("query", list(CATALOGUE.values()), ids=list(CATALOGUE))
def test_render_defaults_and_filters(query: Query) -> None:
    everything = query.render()
    assert 'namespace!=""' in everything
    one = query.render(namespace="shop", app="web", window="1h", app_label="service")
    assert 'namespace="shop"' in one and 'service="web"' in one
    if "{window}" in query.template:
        assert "[1h]" in one or "[1h:" in one
    # The result is grouped, so the number of series per page view does not depend on the pod count.
    assert re.search(r"(sum|max|min) by \(namespace, ", one)


def test_render_validates_syntax_params() -> None:
    with pytest.raises(ValueError):
        REQUEST_RATE.render(window="5m] or vector(1) [5m")
    with pytest.raises(ValueError):
        REQUEST_RATE.render(app_label="\udcff")
    # Any other label name is one quoted name (Prometheus 3's syntax), never PromQL of its own.
    assert 'sum by (namespace, "app=\\"x\\"")' in REQUEST_RATE.render(app_label='app="x"')
    with pytest.raises(TypeError):
        REQUEST_RATE.render(namspace="typo")


def test_catalogue_names_and_labels() -> None:
    assert {"request_rate", "error_ratio", "latency_p95", "restarts_1h"} <= set(CATALOGUE)
    for query in (REQUEST_RATE, ERROR_RATIO, LATENCY_P95):
        assert query.result_labels("service") == ("namespace", "service")
    assert RESTARTS_1H.labels == ("namespace", "pod")
    assert ERROR_RATIO.unit == "ratio" and LATENCY_P95.unit == "s" and REQUEST_RATE.unit == "req/s"


def test_every_rendering_parses_with_promtool(promtool: Promtool, tmp_path: Path) -> None:
    """Prometheus' own parser accepts every query, including with hostile namespace/app values."""
    rules = []
    for query in CATALOGUE.values():
        for value in ["", "shop", *NASTY]:
            for app_label in ("app", "app_kubernetes_io_name"):
                expr = query.render(namespace=value, app=value, pod=value, window="5m", app_label=app_label,
                                    rate_window="2m", resolution="1m", horizon="6h")
                rules.append({"record": f"kams:{query.name}_{len(rules)}", "expr": expr})
    assert_promtool_accepts(promtool, rules, tmp_path)


def assert_promtool_accepts(promtool: Promtool, rules: list[dict[str, str]], tmp_path: Path) -> None:
    """Prometheus' own parser (promtool check rules) accepts every expression as a recording rule."""
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "kams", "rules": rules}]}), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


CONTAINER_QUERIES = [query for query in CATALOGUE.values() if "container" in query.labels]


@pytest.mark.parametrize("query", CONTAINER_QUERIES, ids=[query.name for query in CONTAINER_QUERIES])
def test_container_queries_aggregate_by_container_and_skip_pod_cgroups(query: Query) -> None:
    text = query.render(namespace="shop", pod="web-1")
    assert re.search(r"(sum|max|min) by \(namespace, pod, container[,)]", text)
    assert 'pod="web-1"' in text
    if "container_" in text.replace("kube_pod_container", ""):  # cAdvisor families
        assert 'container!=""' in text and 'container!="POD"' in text


def test_pod_value_is_escaped() -> None:
    text = CONTAINER_CPU.render(namespace="shop", pod='x"} or vector(1) #')
    assert 'pod="x\\"} or vector(1) #"' in text


def test_window_params_are_validated_and_used() -> None:
    text = CPU_P95_OVER_WINDOW.render(window="7d", rate_window="5m", resolution="1m")
    assert "quantile_over_time(0.95," in text and "[5m]" in text and "[7d:1m]" in text
    assert "86400)" in MEMORY_PREDICTED.render(window="6h", horizon="24h")
    for bad in ({"rate_window": "5m]"}, {"resolution": "1"}, {"horizon": "1d) or vector(1"}):
        with pytest.raises(ValueError):
            CPU_P95_OVER_WINDOW.render(**bad)


def test_duration_conversions() -> None:
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("7d") == 7 * 86400
    assert duration_seconds("250ms") == 0.25
    assert seconds_duration(89.6) == "90s" and seconds_duration(0.1) == "1s"
    with pytest.raises(ValueError):
        duration_seconds("7 days")


# -- request queries (RED) in any convention ------------------------------------------------------


def _request_renderings() -> list[str]:
    from k8sdata.requests.conventions import BUILTIN_CONVENTIONS

    rendered = []
    for convention in BUILTIN_CONVENTIONS:
        group = [convention.namespace_label, convention.workload_label]
        for value in ["", "shop", *NASTY]:
            rendered.append(REQUESTS_BY_STATUS.render(convention, by=[*group, convention.status_label],
                                                      namespace=value, workload=value, pod=value))
            rendered.append(REQUEST_LATENCY_QUANTILE.render(convention, by=group, namespace=value,
                                                            workload=value, window="1h", quantile=0.99))
    rendered.append(conventions_present([(value, c) for value, c in zip(NASTY, BUILTIN_CONVENTIONS,
                                                                        strict=False)]))
    # The workload named by kube-state-metrics (either form) and the pods left to k8sdata.requests.red.
    for owners in (OWNERS_RULE_METRIC, OWNERS_SERIES_METRIC):
        owned = dataclasses.replace(BUILTIN_CONVENTIONS[0], owners=owners)
        for value in ["", *NASTY]:
            for part in (RESOLVED, UNRESOLVED):
                rendered.append(REQUESTS_BY_STATUS.render(
                    owned, by=["namespace", "app", "pod", "code"], namespace=value, workload=value, part=part,
                    with_source=True))
                rendered.append(REQUEST_BUCKETS.render(owned, by=["namespace", "pod"], namespace=value,
                                                       workload=value, part=part))
    return rendered


def test_request_queries_parse_with_promtool(promtool: Promtool, tmp_path: Path) -> None:
    """Prometheus' parser accepts every request query of every convention, with hostile values."""
    rules = [{"record": f"kams:request_{index}", "expr": expr}
             for index, expr in enumerate(_request_renderings())]
    assert_promtool_accepts(promtool, rules, tmp_path)


def test_request_queries_use_the_conventions_names_and_units() -> None:
    from k8sdata.requests.conventions import INGRESS_NGINX, ISTIO, LINKERD

    rate = REQUESTS_BY_STATUS.render(ISTIO, by=["destination_workload_namespace", "destination_workload",
                                                "response_code"], namespace="shop", workload="web")
    assert rate == ('sum by (destination_workload_namespace, destination_workload, response_code) (rate('
                    'istio_requests_total{reporter="destination", destination_workload_namespace="shop", '
                    'destination_workload="web", response_code!=""}[5m]))')
    # Linkerd's workload fallbacks (statefulset, daemonset, ...) have their own tests in test_red.py.
    deployments_only = dataclasses.replace(LINKERD, workload_fallback_labels=())
    latency = REQUEST_LATENCY_QUANTILE.render(deployments_only, by=["namespace", "deployment"], quantile=0.5)
    assert latency == ('histogram_quantile(0.5, sum by (namespace, deployment, le) (rate('
                       'response_latency_ms_bucket{direction="inbound", namespace!="", deployment!=""}[5m])))'
                       ' * 0.001')
    # Seconds stay seconds: no multiplication at all.
    assert REQUEST_LATENCY_QUANTILE.render(INGRESS_NGINX, by=["ingress"]).endswith("[5m])))")
    assert 'exported_namespace!="", ingress!=""' in REQUESTS_BY_STATUS.render(INGRESS_NGINX, by=["ingress"])


#: A convention whose names only Prometheus 3 can hold: OpenTelemetry's dotted ones, and hostile text
#: that must stay one quoted name.
UTF8_CONVENTION = dataclasses.replace(
    PROMETHEUS_CLIENT, name="utf8", requests_metric='http.server.requests{x="1"} or vector(1)',
    duration_bucket="http.server.request.duration_bucket", namespace_label="k8s.namespace.name",
    workload_label="app) or vector(1", pod_label="k8s.pod.name", status_label="http.response.status_code",
    workload_fallback_labels=("app.kubernetes.io/name",))


def test_utf8_names_are_quoted_whole() -> None:
    text = REQUESTS_BY_STATUS.render(UTF8_CONVENTION, by=["k8s.namespace.name", "app) or vector(1"],
                                     namespace="shop", pod="web-1")
    assert text.startswith('sum by ("k8s.namespace.name", "app) or vector(1") (rate({__name__='
                           '"http.server.requests{x=\\"1\\"} or vector(1)", "k8s.namespace.name"="shop", ')
    assert 'label_replace(' in text and '"app) or vector(1", "$1", "app.kubernetes.io/name"' in text
    assert url_label_name("app.kubernetes.io/name") == "U__app_2e_kubernetes_2e_io_2f_name"
    assert url_label_name("9_lives") == "U___39___lives" and url_label_name("app") == "app"
    assert label_name("app") == "app" and label_name("a\nb") == '"a\\nb"'


def test_utf8_names_parse_on_prometheus_3_only(promtool: Promtool, prometheus_flavour: Flavour,
                                               tmp_path: Path) -> None:
    """Classic names stay bare, so every query above parses on Prometheus 2 as well; quoted names are
    Prometheus 3's syntax, and only a Prometheus 3 holds such names."""
    rendered = [REQUESTS_BY_STATUS.render(UTF8_CONVENTION, by=["k8s.namespace.name", "app) or vector(1"],
                                          namespace=value, pod=value) for value in ["", *NASTY]]
    rendered.append(REQUEST_LATENCY_QUANTILE.render(UTF8_CONVENTION, by=["http.response.status_code"]))
    rendered.append(CONTAINER_CPU.render(app_label="app.kubernetes.io/name", app="web"))
    rules = [{"record": f"kams:utf8_{index}", "expr": expr} for index, expr in enumerate(rendered)]
    if prometheus_flavour.utf8_names:
        assert_promtool_accepts(promtool, rules, tmp_path)
    else:
        path = tmp_path / "rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "kams", "rules": rules}]}), encoding="utf-8")
        assert promtool("check", "rules", str(path)).returncode != 0


def test_request_query_values_are_escaped_and_names_validated() -> None:
    text = REQUESTS_BY_STATUS.render(PROMETHEUS_CLIENT, by=["namespace"], namespace='x"} or vector(1) #',
                                     pod="p\n")
    assert 'namespace="x\\"} or vector(1) #"' in text and 'pod="p\\n"' in text
    for bad in ({"by": [""]}, {"by": ["namespace"], "window": "5m]"},
                {"by": ["namespace"], "quantile": 2.0}):
        query = REQUEST_LATENCY_QUANTILE if "quantile" in bad else REQUESTS_BY_STATUS
        with pytest.raises(ValueError):
            query.render(PROMETHEUS_CLIENT, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        validate_metric_name("")
    assert validate_metric_name("job:http_requests:rate5m") == "job:http_requests:rate5m"
    assert set(REQUEST_CATALOGUE) == {"requests_by_status", "request_latency_quantile", "request_buckets"}
