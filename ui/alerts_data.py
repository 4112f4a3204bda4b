"""Cached access to k8sdata.alerts for the Alerts page.

Clients are shared (ui.cache), one per server and credentials (thread-safe, no per-user data); their
answers are cached for DATA_TTL_SECONDS, keyed by the server's URL. A failure is remembered for a few
seconds by ui.cache's FailureGuard, then asked again.

The Prometheus client is every page's shared one, ui.data.prom_client (built by
k8sdata.sources.prom.client_from_settings, so PROMETHEUS_TOKEN(_FILE) and PROMETHEUS_CA_FILE apply).
"""

from __future__ import annotations

import pandas as pd

from k8sdata import alerts
from k8sdata.config import Settings
from k8sdata.sources.alertmanager import AlertmanagerClient, alertmanager_from_settings
from k8sdata.sources.prom import PromClient
from ui.cache import cached
from ui.data import DATA_TTL_SECONDS, prom_client, shared_breaker


@cached(shared=True, guard=False, keep_on_refresh=True)
def _alertmanager_client(settings: Settings) -> AlertmanagerClient:
    client = alertmanager_from_settings(settings)
    client.breaker = shared_breaker("alertmanager", client.url, settings)
    return client




def alertmanager_client(settings: Settings) -> AlertmanagerClient:
    """Raises NotConfigured (uncached) when ALERTMANAGER_URL is not set."""
    if not settings.alertmanager_url:
        return alertmanager_from_settings(settings)  # raises NotConfigured
    return _alertmanager_client(settings)


@cached(ttl=DATA_TTL_SECONDS)
def _prometheus_alerts(url: str, _client: PromClient) -> pd.DataFrame:
    return alerts.prometheus_alerts(_client)


@cached(ttl=DATA_TTL_SECONDS)
def _rule_health(url: str, _client: PromClient) -> pd.DataFrame:
    return alerts.rule_health(_client)


@cached(ttl=DATA_TTL_SECONDS)
def _alertmanager_alerts(url: str, _client: AlertmanagerClient) -> pd.DataFrame:
    return alerts.alertmanager_alerts(_client)


def prometheus_alerts(settings: Settings) -> pd.DataFrame:
    """k8sdata.alerts.PROMETHEUS_ALERT_COLUMNS, firing first; raises SourceError."""
    client = prom_client(settings)
    return _prometheus_alerts(client.url, client)


def rule_health(settings: Settings) -> pd.DataFrame:
    """k8sdata.alerts.RULE_COLUMNS, broken rules first; raises SourceError."""
    client = prom_client(settings)
    return _rule_health(client.url, client)


def alertmanager_alerts(settings: Settings) -> pd.DataFrame:
    """k8sdata.alerts.ALERTMANAGER_COLUMNS, active first; raises SourceError (NotConfigured too)."""
    client = alertmanager_client(settings)
    return _alertmanager_alerts(client.url, client)


def clear() -> None:
    """Forget the cached answers (the page's Refresh button); clients stay, they hold no data."""
    for function in (_prometheus_alerts, _rule_health, _alertmanager_alerts):
        function.clear()
