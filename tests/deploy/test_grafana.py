"""deploy/grafana/kams-requests.json: what `python -m k8sdata.requests.grafana` prints, each panel's
expression is
the query catalogue's rendering (so Grafana and KAMS show the same numbers), the JSON is a well-formed
importable dashboard, and every expression runs on the real demo Prometheus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from k8sdata.requests import grafana
from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, PROMETHEUS_CLIENT
from k8sdata.requests.queries import CATALOGUE, REQUEST_LATENCY_QUANTILE, REQUESTS_BY_STATUS
from k8sdata.sources.prom import PromClient
from tests.deploy.manifests import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "kams-requests.json"
CHARTED_UNITS = {"req/s", "ratio", "s", "restarts", "cores", "bytes", "bytes/s"}


def committed() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def timeseries() -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in committed()["panels"] if panel["type"] == "timeseries"}


def exprs(panel: dict[str, Any]) -> list[str]:
    return [target["expr"] for target in panel["targets"]]


def expected_exprs() -> dict[str, list[str]]:
    """Panel title -> expressions, straight from the catalogue (what KAMS's pages run)."""
    expected: dict[str, list[str]] = {}
    for convention in BUILTIN_CONVENTIONS:
        workload = [convention.namespace_label, convention.workload_label]
        common = {"namespace": "$namespace", "window": "5m"}
        expected[f"{convention.name}: requests per second"] = [
            REQUESTS_BY_STATUS.render(convention, by=workload, **common)]
        expected[f"{convention.name}: requests per second by status"] = [
            REQUESTS_BY_STATUS.render(convention, by=[*workload, convention.status_label], **common)]
        if convention.duration_bucket:
            expected[f"{convention.name}: latency p50, p95, p99"] = [
                REQUEST_LATENCY_QUANTILE.render(convention, by=workload, quantile=quantile, **common)
                for quantile in (0.5, 0.95, 0.99)]
    for query in CATALOGUE.values():
        if query.unit in CHARTED_UNITS:
            title = query.name.replace("_", " ").capitalize()
            expected[title] = [query.render(namespace="$namespace", window="5m", app_label="app")]
    return expected


def test_committed_dashboard_is_what_the_generator_prints() -> None:
    # In-process: `python -m k8sdata.requests.grafana` only writes render() to stdout (a subprocess would cost
    # seconds of imports for nothing more).
    assert DASHBOARD.read_text(encoding="utf-8") == grafana.render(), (
        "deploy/grafana/kams-requests.json is stale: run python -m k8sdata.requests.grafana > "
        "deploy/grafana/kams-requests.json")


def test_each_panel_expression_is_the_catalogue_rendering() -> None:
    panels = timeseries()
    expected = expected_exprs()
    assert set(panels) == set(expected)
    for title, expressions in expected.items():
        assert exprs(panels[title]) == expressions, title
    assert {"Request rate", "Error ratio", "Latency p95"} <= set(panels)


def test_dashboard_is_well_formed_for_import() -> None:
    board = committed()
    assert board["uid"] == "kams-requests" and board["title"] and board["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    assert variables["namespace"]["multi"] is False and variables["namespace"]["includeAll"] is False
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine
        if panel["type"] == "timeseries":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["fieldConfig"]["defaults"]["unit"]
            refs = [target["refId"] for target in panel["targets"]]
            assert len(refs) == len(set(refs)) and panel["targets"]
            assert all(target["datasource"] == panel["datasource"] for target in panel["targets"])


@pytest.fixture(scope="module")
def prom(prometheus: Any) -> PromClient:
    return PromClient(prometheus.url, timeout=10)


def test_every_expression_runs_on_the_demo_prometheus(prom: PromClient) -> None:
    """With $namespace set to the demo's shop, as Grafana would substitute it."""
    for panel in timeseries().values():
        for expr in exprs(panel):
            prom.instant(expr.replace("$namespace", "shop"))  # raises SourceError on a bad query
    rate = exprs(timeseries()[f"{PROMETHEUS_CLIENT.name}: requests per second"])[0]
    frame = prom.instant(rate.replace("$namespace", "shop"))
    assert set(frame["app"]) >= {"web", "api"} and (frame["value"] > 0).all()
