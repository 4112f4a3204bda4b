"""Each list read at most once for one piece of work (a snapshot, a security scan), shared by everything
in it that needs that list, and no request at all once the server is known to be down.

A list may be asked for reduced (`slim`, applied to each item page by page as it is decoded, so the full
objects of a 100,000-pod list never exist at once). A reduced answer serves later reduced requests; a
full answer serves every request. Different lists are read side by side; the same list is read once
however many threads ask for it together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from k8sdata.errors import NotConfigured, SourceError, Timeout, Unreachable
from k8sdata.sources.kube import Slim
from k8sdata.sources.protocols import ClusterSource

#: After these, the same source is not asked again during this piece of work.
_SOURCE_DOWN = (Unreachable, Timeout, NotConfigured)

ListKey = tuple[str, str, str | None, str | None]


class _Listed:
    def __init__(self, items: list[dict[str, Any]] | SourceError, full: bool) -> None:
        self.items = items
        self.full = full


class ListOnce:
    """A ClusterSource over another one (a KubeClient), for one piece of work: throw it away after."""

    def __init__(self, kube: ClusterSource) -> None:
        self._kube = kube
        self._lists: dict[ListKey, _Listed] = {}
        self._locks: dict[ListKey, threading.Lock] = {}
        self._guard = threading.Lock()
        self.down: SourceError | None = None

    def _call(self, fetch: Callable[[], Any]) -> Any:
        if self.down is not None:
            raise self.down
        try:
            return fetch()
        except SourceError as error:
            if isinstance(error, _SOURCE_DOWN):
                self.down = error
            raise

    def list_resource(self, group_version: str, resource: str, namespace: str | None = None,
                      label_selector: str | None = None, *, slim: Slim | None = None
                      ) -> list[dict[str, Any]]:
        key = (group_version, resource, namespace, label_selector)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one read per list; other lists go on side by side
            found = self._lists.get(key)
            if found is None or (slim is None and not found.full):
                try:
                    items = self._call(lambda: self._kube.list_resource(
                        group_version, resource, namespace=namespace, label_selector=label_selector,
                        slim=slim))
                    found = _Listed(items, full=slim is None)
                except SourceError as error:
                    found = _Listed(error, full=True)
                self._lists[key] = found
        if isinstance(found.items, SourceError):
            raise found.items
        return found.items

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.list_resource("v1", "pods", namespace)

    def list_events(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.list_resource("v1", "events", namespace)

    def get_json(self, path: str, query: list[tuple[str, str | int]] | None = None) -> dict[str, Any]:
        return self._call(lambda: self._kube.get_json(path, query))

    def self_rules(self, namespace: str) -> dict[str, Any]:
        return self._call(lambda: self._kube.self_rules(namespace))
