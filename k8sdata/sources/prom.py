"""The Prometheus connection layer: the only module that talks to Prometheus.

Plain `requests` against the HTTP API (prometheus-api-client has no timeout by default and no helpers
for alerts), with `timeout=` on every call and every failure mapped to a k8sdata.errors kind.

Only the standard HTTP API is used (query, query_range, series, labels, alerts, rules, buildinfo), so
Thanos Query, Mimir / Cortex and VictoriaMetrics work as drop-in backends. Every query also sends
Prometheus' own `timeout` parameter, so the server stops working on a query the client has given up on.
A bearer token (literal or a mounted file, re-read so rotated tokens work) and a private CA are supported.
The `warnings` and `infos` an answer may carry (partial responses, PromQL annotations) are handed to
whoever asks for them with collecting_warnings(), so the return types stay plain DataFrames.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import requests

from k8sdata.access import current_scope, promql_refusal
from k8sdata.errors import (
    NotConfigured,
    NotInstalled,
    OutOfScope,
    Source,
    SourceError,
    Timeout,
)
from k8sdata.sources.http import JsonHttpClient

if TYPE_CHECKING:
    from k8sdata.config import Settings

_SOURCE: Source = "prometheus"

ALERT_COLUMNS = [
    "alertname", "state", "severity", "namespace", "pod", "app", "summary", "active_at", "labels",
    "description", "value",
]

#: Share of the client timeout given to Prometheus as its own query `timeout`: the server gives up a
#: little before the client does, so the user reads Prometheus' "query timed out" instead of a bare
#: client timeout, and the server never keeps computing an answer nobody will read.
SERVER_TIMEOUT_SHARE = 0.9


#: The collectors of collecting_warnings() open in this context (innermost last). A context variable, not
#: a client attribute: one client is shared by every viewer's thread, and each must see only its own.
_COLLECTORS: ContextVar[tuple[list[str], ...]] = ContextVar("kams_prometheus_warnings", default=())


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """The `warnings` (and Prometheus 3's `infos`) of every successful API answer read in this block, in
    order, repeats kept. They mean the answer may be incomplete or the query questionable (a partial
    response from Thanos or a remote-read source, "metric might not be a counter"), so the caller shows
    them beside the numbers instead of passing them off as the whole truth. Nested blocks each see
    everything read inside them. Their text is the server's: untrusted."""
    seen: list[str] = []
    token = _COLLECTORS.set((*_COLLECTORS.get(), seen))
    try:
        yield seen
    finally:
        _COLLECTORS.reset(token)


def _record_warnings(body: dict[str, Any]) -> None:
    collectors = _COLLECTORS.get()
    if not collectors:
        return
    notes = [str(note) for key in ("warnings", "infos") if isinstance(body.get(key), list)
             for note in body[key]]
    for collector in collectors:
        collector.extend(notes)


def _unix(moment: datetime) -> float:
    if moment.tzinfo is None:  # naive datetimes are taken as UTC, never as the machine's local time
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _sample_value(raw: str) -> float:
    return float(raw)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings; float() reads all of them



class PromClient(JsonHttpClient):
    """Prometheus' HTTP API (or a compatible one: Thanos, Mimir, VictoriaMetrics)."""

    credentials_hint = "Check PROMETHEUS_TOKEN or PROMETHEUS_TOKEN_FILE."

    def __init__(self, url: str, timeout: float, *, bearer_token: str | None = None,
                 bearer_token_file: str | None = None, ca_file: str | None = None,
                 query_timeout: float | None = None) -> None:
        super().__init__(url, timeout, bearer_token=bearer_token, bearer_token_file=bearer_token_file,
                         ca_file=ca_file)
        #: Prometheus' own `timeout` for query and query_range (seconds).
        self.query_timeout = query_timeout if query_timeout is not None else timeout * SERVER_TIMEOUT_SHARE

    def _server_timeout(self) -> str:
        # Whole milliseconds, in Prometheus' duration syntax (it also accepts float seconds, but "1.5e-05"
        # style renderings of tiny floats would not parse).
        return f"{max(1, round(self.query_timeout * 1000))}ms"

    # -- HTTP ----------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        """GET /api/v1/<path> and return `data`; every failure becomes a SourceError kind. A scoped
        person's queries must name only their namespaces (k8sdata.access), checked before sending."""
        refusal = _scope_refusal(path, params)
        if refusal is not None:
            raise OutOfScope(_SOURCE, refusal)
        return self._data(self._response(path, params), path)

    def _data(self, response: requests.Response, path: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        error_type = body.get("errorType", "") if isinstance(body, dict) else ""
        message = body.get("error", "") if isinstance(body, dict) else ""
        status = response.status_code
        if status == 404:
            raise NotInstalled(_SOURCE, f"{path} not found: is {self.url} a Prometheus server?")
        self._raise_for_status(response, path, message)
        if error_type == "timeout":
            raise Timeout(_SOURCE, message or "the query timed out in Prometheus")
        if not isinstance(body, dict) or body.get("status") != "success":
            detail = f"{error_type}: {message}" if error_type else f"HTTP {status}"
            hint = ("Prometheus rejected the query itself; please report it as a KAMS bug."
                    if error_type == "bad_data" else "")
            raise SourceError(_SOURCE, detail, hint=hint)
        _record_warnings(body)
        return body.get("data")

    # -- the contract ------------------------------------------------------------------------------

    def version(self) -> str:
        """Cheap ping: Prometheus' version from buildinfo."""
        data = self._get("/api/v1/status/buildinfo")
        # A build without the release stamp (plain `go install`) reports an empty version.
        return str((data or {}).get("version") or "unknown")

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame:
        """One row per series: its label columns (`__name__` dropped) and `value` (float)."""
        params: dict[str, Any] = {"query": query, "timeout": self._server_timeout()}
        if at is not None:
            params["time"] = _unix(at)
        data: Any = self._get("/api/v1/query", params) or {}  # Prometheus' JSON, as parsed
        kind, result = data.get("resultType"), data.get("result")
        if kind in ("scalar", "string"):
            return pd.DataFrame({"value": [_sample_value(result[1])]})
        rows: list[dict[str, Any]] = []
        for series in result or []:
            labels = {k: v for k, v in (series.get("metric") or {}).items() if k != "__name__"}
            if "value" in series:
                rows.append({**labels, "value": _sample_value(series["value"][1])})
            else:  # a range-vector selector evaluated instantly: keep its newest sample
                rows.append({**labels, "value": _sample_value(series["values"][-1][1])})
        return _frame(rows, ["value"])

    def range(self, query: str, start: datetime, end: datetime, step: float) -> pd.DataFrame:
        """One row per (series, sample): label columns + `timestamp` (UTC datetime) + `value`."""
        if step <= 0:
            raise ValueError("step must be positive")
        params = {"query": query, "start": _unix(start), "end": _unix(end), "step": f"{step:g}",
                  "timeout": self._server_timeout()}
        data = self._get("/api/v1/query_range", params) or {}
        rows: list[dict[str, Any]] = []
        for series in data.get("result") or []:
            labels = {k: v for k, v in (series.get("metric") or {}).items() if k != "__name__"}
            for stamp, raw in series.get("values") or []:
                rows.append({**labels, "timestamp": stamp, "value": _sample_value(raw)})
        frame = _frame(rows, ["timestamp", "value"])
        # Prometheus timestamps are seconds with millisecond precision; going through integer ms
        # avoids float noise such as .523000001.
        millis = (frame["timestamp"].astype("float64") * 1000).round().astype("int64")
        frame["timestamp"] = pd.to_datetime(millis, unit="ms", utc=True)
        return frame

    def alerts(self) -> pd.DataFrame:
        """Active and pending alerts from /api/v1/alerts."""
        data = self._get("/api/v1/alerts") or {}
        rows = []
        for alert in data.get("alerts") or []:
            labels = dict(alert.get("labels") or {})
            annotations = alert.get("annotations") or {}
            rows.append({
                "alertname": labels.get("alertname", ""),
                "state": alert.get("state", ""),
                "severity": labels.get("severity", ""),
                "namespace": labels.get("namespace", ""),
                "pod": labels.get("pod", ""),
                "app": labels.get("app", labels.get("app_kubernetes_io_name", "")),
                "summary": annotations.get("summary", annotations.get("description", "")),
                "active_at": alert.get("activeAt"),
                "labels": labels,
                "description": annotations.get("description", ""),
                "value": _alert_value(alert.get("value")),
            })
        frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
        frame["active_at"] = pd.to_datetime(frame["active_at"], utc=True, format="ISO8601")
        frame["value"] = frame["value"].astype("float64")
        return frame

    def rules(self, kind: Literal["alert", "record"] | None = None) -> list[dict[str, Any]]:
        """/api/v1/rules' groups as Prometheus sends them (name, file, interval, evaluationTime,
        lastEvaluation, rules with health, lastError, state, alerts ...); k8sdata.alerts shapes them."""
        params = {"type": kind} if kind else None
        data = self._get("/api/v1/rules", params) or {}
        return list(data.get("groups") or [])

    def series(self, match: Sequence[str], start: datetime | None = None, end: datetime | None = None
               ) -> list[dict[str, str]]:
        """The label sets of the series that match any of the selectors (`match[]`)."""
        if not match:
            raise ValueError("series() needs at least one selector")
        params: list[tuple[str, Any]] = [("match[]", selector) for selector in match]
        params += _window_params(start, end)
        return [dict(labels) for labels in self._get("/api/v1/series", params) or []]

    def labels(self, match: Sequence[str] = (), start: datetime | None = None, end: datetime | None = None
               ) -> list[str]:
        """Label names in use (optionally only on series matching `match`)."""
        params = [("match[]", selector) for selector in match] + _window_params(start, end)
        return sorted(str(name) for name in self._get("/api/v1/labels", params) or [])

    def label_values(self, name: str, match: Sequence[str] = (), start: datetime | None = None,
                     end: datetime | None = None) -> list[str]:
        """Values one label takes (e.g. every namespace with metrics)."""
        from k8sdata.requests.queries import url_label_name

        params = [("match[]", selector) for selector in match] + _window_params(start, end)
        values = self._get(f"/api/v1/label/{url_label_name(name)}/values", params) or []
        return sorted(str(value) for value in values)


#: Endpoints that answer about Prometheus itself or its rules and alerts (filtered by namespace after they
#: are read), not about series; every other endpoint's selectors are checked.
_UNSCOPED_ENDPOINTS = frozenset({"/api/v1/status/buildinfo", "/api/v1/alerts", "/api/v1/rules"})


def _scope_refusal(path: str, params: dict[str, Any] | list[tuple[str, Any]] | None) -> str | None:
    if current_scope() is None or path in _UNSCOPED_ENDPOINTS:
        return None
    pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
    selectors = [str(value) for key, value in pairs if key in ("query", "match[]")]
    if not selectors:
        return promql_refusal("")
    return next((refusal for refusal in map(promql_refusal, selectors) if refusal), None)


def client_from_settings(settings: Settings, *, timeout: float | None = None) -> PromClient:
    """The PromClient the settings describe: URL, timeout, bearer token (literal or file) and CA.
    Raises NotConfigured when PROMETHEUS_URL is not set."""
    if not settings.prometheus_url:
        raise NotConfigured(_SOURCE)
    return PromClient(settings.prometheus_url, settings.request_timeout if timeout is None else timeout,
                      bearer_token=settings.prometheus_token,
                      bearer_token_file=settings.prometheus_token_file,
                      ca_file=settings.prometheus_ca_file)


def _window_params(start: datetime | None, end: datetime | None) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = []
    if start is not None:
        params.append(("start", _unix(start)))
    if end is not None:
        params.append(("end", _unix(end)))
    return params


def _alert_value(raw: object) -> float:
    """An alert's value: Prometheus sends it as a string ("1e+00"); missing or odd values are NaN."""
    try:
        return float(raw)  # type: ignore[arg-type]  # any JSON value; what float() rejects is caught
    except (TypeError, ValueError):
        return float("nan")


def _frame(rows: list[dict[str, Any]], tail: list[str]) -> pd.DataFrame:
    """Label columns first (sorted, missing labels as ""), then the fixed tail columns."""
    label_names = sorted({key for row in rows for key in row} - set(tail))
    frame = pd.DataFrame(rows, columns=[*label_names, *tail])
    for name in label_names:
        frame[name] = frame[name].fillna("").astype(str)
    frame["value"] = frame["value"].astype("float64")
    return frame
