"""An importable Grafana dashboard built from the PromQL catalogue (k8sdata.requests.queries), so a team
sees the same numbers in Grafana as in KAMS: every panel's expression IS the catalogue's rendering.

    python -m k8sdata.requests.grafana > deploy/grafana/kams-requests.json

Panels:
- per request-metric convention (k8sdata.requests.conventions.BUILTIN_CONVENTIONS: prometheus_client,
  Istio, Linkerd, ingress-nginx), a row with the request rate per workload, by status code, and the
  p50/p95/p99 latency (k8sdata.requests.queries.REQUEST_CATALOGUE);
- a row with every charted k8sdata.requests.queries.CATALOGUE query (request rate, error ratio, p95, restarts,
  container CPU and memory, network ...). Queries without a plottable unit (owners, first-seen times)
  or with mixed units are left out.

Every query is rendered for the dashboard variable `$namespace` (a plain value to escape_label_value,
which Grafana replaces with the chosen namespace) and a 5-minute rate window, as the KAMS pages use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, Convention
from k8sdata.requests.queries import (
    CATALOGUE,
    REQUEST_LATENCY_QUANTILE,
    REQUESTS_BY_STATUS,
    Query,
)

#: What every query is rendered with.
NAMESPACE_VARIABLE = "$namespace"
WINDOW = "5m"
APP_LABEL = "app"
QUANTILES = (0.5, 0.95, 0.99)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UID = "kams-requests"

#: Catalogue units -> Grafana units; queries with other units are not charted.
GRAFANA_UNITS = {"req/s": "reqps", "ratio": "percentunit", "s": "s", "restarts": "short", "cores": "short",
                 "bytes": "bytes", "bytes/s": "Bps"}

PANEL_WIDTH, PANEL_HEIGHT, GRID_WIDTH = 12, 8, 24


@dataclass(frozen=True)
class PanelSpec:
    """One time-series panel: its title, description, Grafana unit and (legend, expr) targets."""

    title: str
    description: str
    unit: str
    targets: tuple[tuple[str, str], ...]


def _legend(labels: list[str] | tuple[str, ...]) -> str:
    return "/".join(f"{{{{{label}}}}}" for label in labels)


def catalogue_panels() -> list[PanelSpec]:
    """A panel per charted Query of k8sdata.requests.queries.CATALOGUE."""
    panels = []
    for query in CATALOGUE.values():
        if query.unit not in GRAFANA_UNITS:
            continue
        expr = catalogue_expr(query)
        panels.append(PanelSpec(title=catalogue_title(query), description=query.description,
                                unit=GRAFANA_UNITS[query.unit],
                                targets=((_legend(query.result_labels(APP_LABEL)), expr),)))
    return panels


def catalogue_title(query: Query) -> str:
    return query.name.replace("_", " ").capitalize()


def catalogue_expr(query: Query) -> str:
    return query.render(namespace=NAMESPACE_VARIABLE, window=WINDOW, app_label=APP_LABEL)


def request_panels(convention: Convention) -> list[PanelSpec]:
    """Rate per workload, rate by status, and latency quantiles for one convention."""
    workload = [convention.namespace_label, convention.workload_label]
    by_status = [*workload, convention.status_label]
    panels = [
        PanelSpec(title=f"{convention.name}: requests per second",
                  description=f"{REQUESTS_BY_STATUS.description} Summed per workload.", unit="reqps",
                  targets=((_legend(workload), request_expr(convention, "rate")),)),
        PanelSpec(title=f"{convention.name}: requests per second by status",
                  description=REQUESTS_BY_STATUS.description, unit="reqps",
                  targets=((_legend(by_status), request_expr(convention, "status")),)),
    ]
    if convention.duration_bucket:
        targets = tuple((f"p{quantile * 100:g} {_legend(workload)}",
                         request_expr(convention, "latency", quantile)) for quantile in QUANTILES)
        panels.append(PanelSpec(title=f"{convention.name}: latency p50, p95, p99",
                                description=REQUEST_LATENCY_QUANTILE.description, unit="s", targets=targets))
    return panels


def request_expr(convention: Convention, kind: str, quantile: float = 0.95) -> str:
    """The catalogue's rendering behind each request panel ("rate", "status" or "latency")."""
    workload = [convention.namespace_label, convention.workload_label]
    if kind == "rate":
        return REQUESTS_BY_STATUS.render(convention, by=workload, namespace=NAMESPACE_VARIABLE, window=WINDOW)
    if kind == "status":
        return REQUESTS_BY_STATUS.render(convention, by=[*workload, convention.status_label],
                                         namespace=NAMESPACE_VARIABLE, window=WINDOW)
    if kind == "latency":
        return REQUEST_LATENCY_QUANTILE.render(convention, by=workload, namespace=NAMESPACE_VARIABLE,
                                               window=WINDOW, quantile=quantile)
    raise ValueError(f"unknown request panel kind {kind!r}")


def sections() -> list[tuple[str, list[PanelSpec]]]:
    """(row title, panels) in dashboard order."""
    rows = [(f"Requests: {convention.name}", request_panels(convention))
            for convention in BUILTIN_CONVENTIONS]
    rows.append(("KAMS query catalogue", catalogue_panels()))
    return rows


def _panel_ids() -> Iterator[int]:
    number = 1
    while True:
        yield number
        number += 1


def dashboard() -> dict[str, Any]:
    """The dashboard JSON model (Grafana 9 and later; import it under Dashboards > New > Import)."""
    ids = _panel_ids()
    panels: list[dict[str, Any]] = []
    y = 0
    for row_title, specs in sections():
        panels.append({"type": "row", "id": next(ids), "title": row_title, "collapsed": False, "panels": [],
                       "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}})
        y += 1
        for index, spec in enumerate(specs):
            x = (index % 2) * PANEL_WIDTH
            if index and index % 2 == 0:
                y += PANEL_HEIGHT
            panels.append(_timeseries(next(ids), spec, x, y))
        y += PANEL_HEIGHT
    return {
        "title": "KAMS requests",
        "uid": UID,
        "description": "Generated by `python -m k8sdata.requests.grafana` from KAMS's PromQL catalogue: "
                       "the same expressions the KAMS pages run.",
        "tags": ["kams", "kubernetes", "red"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "utc",
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            {"name": "namespace", "label": "Namespace", "type": "query", "datasource": DATASOURCE,
             "query": {"query": "label_values(namespace)", "refId": "namespace"},
             "definition": "label_values(namespace)", "refresh": 2, "sort": 1, "includeAll": False,
             "multi": False, "current": {}, "hide": 0},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def _timeseries(panel_id: int, spec: PanelSpec, x: int, y: int) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "id": panel_id,
        "title": spec.title,
        "description": spec.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": spec.unit, "custom": {"lineWidth": 1, "fillOpacity": 10}},
                        "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"refId": chr(ord("A") + index), "datasource": DATASOURCE, "expr": expr,
                     "legendFormat": legend, "range": True, "instant": False}
                    for index, (legend, expr) in enumerate(spec.targets)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
