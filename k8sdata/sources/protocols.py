"""What the pure code needs of a source, as typed contracts. The real clients (KubeClient, PromClient)
satisfy them, and so do the website's caching wrappers (ui.data's CachedKube and CachedProm) and the
snapshot's counting reader: whoever computes asks for the narrowest one it uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import pandas as pd


class InstantSource(Protocol):
    """Prometheus, for one moment's value of a query."""

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame: ...


class RangeSource(Protocol):
    """Prometheus, for a query's values over a time range."""

    def range(self, query: str, start: datetime, end: datetime, step: float) -> pd.DataFrame: ...


class PromSource(InstantSource, RangeSource, Protocol):
    """Prometheus, for the Overview and the health page: values, ranges and what is firing."""

    def alerts(self) -> pd.DataFrame: ...


class PodSource(Protocol):
    """Kubernetes, for the pods list (the client, or the shared watch behind the website's wrapper)."""

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]: ...


class PodEventSource(PodSource, Protocol):
    """Kubernetes, for pods and their events (the Overview)."""

    def list_events(self, namespace: str | None = None) -> list[dict[str, Any]]: ...


class ResourceSource(Protocol):
    """Kubernetes, for any list by group, version and resource, and any path read as JSON (the security
    scan, the snapshot, the command line)."""

    def list_resource(self, group_version: str, resource: str, namespace: str | None = None,
                      label_selector: str | None = None, *,
                      slim: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]: ...

    def get_json(self, path: str, query: list[tuple[str, str | int]] | None = None) -> dict[str, Any]: ...


class ClusterSource(PodSource, ResourceSource, Protocol):
    """Kubernetes, for the security scan: every list it audits, /version, and KAMS's own permissions (a
    SelfSubjectRulesReview in `namespace`)."""

    def self_rules(self, namespace: str) -> dict[str, Any]: ...
