"""The Prometheus connection layer: the only module that talks to Prometheus.

Plain `requests` against the HTTP API (prometheus-api-client has no timeout by default and no helpers
for alerts), with `timeout=` on every call and every failure mapped to a k8sdata.errors kind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import requests

from k8sdata.errors import (
    Forbidden,
    NotConfigured,
    NotInstalled,
    RateLimited,
    SourceError,
    Timeout,
    Unreachable,
)

_SOURCE = "prometheus"

ALERT_COLUMNS = [
    "alertname", "state", "severity", "namespace", "pod", "app", "summary", "active_at", "labels",
]


def _unix(moment: datetime) -> float:
    if moment.tzinfo is None:  # naive datetimes are taken as UTC, never as the machine's local time
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _sample_value(raw: str) -> float:
    return float(raw)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings; float() reads all of them


class PromClient:
    """Thread-safe: the session is only used for GETs, and its pool is guarded by urllib3."""

    def __init__(self, url: str, timeout: float) -> None:
        if not url:
            raise NotConfigured(_SOURCE)
        if not url.startswith(("http://", "https://")):
            raise NotConfigured(_SOURCE, f"{url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self._session.close()

    # -- HTTP ----------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET /api/v1/<path> and return `data`; every failure becomes a SourceError kind."""
        try:
            response = self._session.get(f"{self.url}{path}", params=params,
                                         timeout=(self.timeout, self.timeout))
        except (requests.ConnectTimeout, requests.ReadTimeout):
            raise Timeout(_SOURCE, f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as error:
            text = str(error)
            if "Read timed out" in text:
                raise Timeout(_SOURCE, f"no answer within {self.timeout:g} s") from None
            if "NameResolution" in text or "Name or service not known" in text:
                raise Unreachable(_SOURCE, "the server's name does not resolve") from None
            raise Unreachable(_SOURCE, "connection refused") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
            raise NotConfigured(_SOURCE, str(error)) from None
        except requests.RequestException as error:
            raise Unreachable(_SOURCE, f"{type(error).__name__}: {error}") from None
        return self._data(response, path)

    def _data(self, response: requests.Response, path: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        error_type = body.get("errorType", "") if isinstance(body, dict) else ""
        message = body.get("error", "") if isinstance(body, dict) else ""
        status = response.status_code
        if status in (401, 403):
            raise Forbidden(_SOURCE, message or f"HTTP {status}")
        if status == 404:
            raise NotInstalled(_SOURCE, f"{path} not found: is {self.url} a Prometheus server?")
        if status == 429:
            retry = response.headers.get("Retry-After")
            try:
                retry_after = float(retry) if retry else None
            except ValueError:
                retry_after = None
            raise RateLimited(_SOURCE, message, retry_after=retry_after)
        if error_type == "timeout" or status == 504:
            raise Timeout(_SOURCE, message or "the query timed out in Prometheus")
        if not isinstance(body, dict) or body.get("status") != "success":
            detail = f"{error_type}: {message}" if error_type else f"HTTP {status}"
            hint = ("Prometheus rejected the query itself; please report it as a KAMS bug."
                    if error_type == "bad_data" else "")
            raise SourceError(_SOURCE, detail, hint=hint)
        return body.get("data")

    # -- the contract ------------------------------------------------------------------------------

    def version(self) -> str:
        """Cheap ping: Prometheus' version from buildinfo."""
        data = self._get("/api/v1/status/buildinfo")
        return str((data or {}).get("version", "unknown"))

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame:
        """One row per series: its label columns (`__name__` dropped) and `value` (float)."""
        params: dict[str, Any] = {"query": query}
        if at is not None:
            params["time"] = _unix(at)
        data = self._get("/api/v1/query", params) or {}
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
        params = {"query": query, "start": _unix(start), "end": _unix(end), "step": f"{step:g}"}
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
            })
        frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
        frame["active_at"] = pd.to_datetime(frame["active_at"], utc=True, format="ISO8601")
        return frame


def _frame(rows: list[dict[str, Any]], tail: list[str]) -> pd.DataFrame:
    """Label columns first (sorted, missing labels as ""), then the fixed tail columns."""
    label_names = sorted({key for row in rows for key in row} - set(tail))
    frame = pd.DataFrame(rows, columns=[*label_names, *tail])
    for name in label_names:
        frame[name] = frame[name].fillna("").astype(str)
    frame["value"] = frame["value"].astype("float64")
    return frame
