"""Alertmanager's API v2, read-only: what it holds (active, silenced, inhibited) and its silences. The
tables built from them are k8sdata.alerts'."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from k8sdata.errors import NotConfigured, NotInstalled, Source, SourceError
from k8sdata.sources.http import JsonHttpClient

if TYPE_CHECKING:
    from k8sdata.config import Settings


class AlertmanagerClient(JsonHttpClient):
    """Alertmanager's API v2 (0.16 and later; also Mimir's and Thanos' Alertmanager). Read-only."""

    source: Source = "alertmanager"
    credentials_hint = "Check the credentials KAMS uses for Alertmanager."

    def _tls_hint(self) -> str:
        return "Alertmanager's certificate is not trusted by this machine's CA bundle."

    def _get_v2(self, path: str, params: list[tuple[str, Any]] | None = None) -> Any:
        response = self._response(f"/api/v2{path}", params)
        body = _json_or_none(response)
        message = body if isinstance(body, str) else (body or {}).get("message", "") if isinstance(
            body, dict) else ""
        if response.status_code == 404:
            raise NotInstalled(self.source, f"/api/v2{path} not found: is {self.url} an Alertmanager "
                                            "(0.16 or later)?")
        self._raise_for_status(response, path, str(message))
        if response.status_code != 200 or body is None:
            raise SourceError(self.source, str(message) or f"HTTP {response.status_code}")
        return body

    def version(self) -> str:
        status = self._get_v2("/status")
        return str(((status or {}).get("versionInfo") or {}).get("version") or "unknown")

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert it holds: active, silenced, inhibited and unprocessed."""
        params = [("active", "true"), ("silenced", "true"), ("inhibited", "true"), ("unprocessed", "true")]
        return list(self._get_v2("/alerts", params) or [])

    def silences(self) -> list[dict[str, Any]]:
        return list(self._get_v2("/silences") or [])


def alertmanager_from_settings(settings: Settings) -> AlertmanagerClient:
    """Raises NotConfigured (source "alertmanager") when ALERTMANAGER_URL is not set."""
    if not settings.alertmanager_url:
        raise NotConfigured("alertmanager")
    return AlertmanagerClient(settings.alertmanager_url, settings.request_timeout)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
