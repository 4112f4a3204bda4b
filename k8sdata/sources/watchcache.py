"""A list-then-watch cache (what client-go calls an informer) and a single-flight helper.

Why: at 100,000 pods a full list costs seconds and hundreds of MB on the API server and in KAMS. A
`WatchedList` lists once (pages of 500, gc paused: KubeClient.list_with_version; with slim=slim_pod each
page's bytes are decoded straight into slim pods by msgspec, k8sdata.pods.podshape), then follows a
watch from the list's resourceVersion in a background thread and applies ADDED / MODIFIED / DELETED to
its items, kept per namespace by name. `snapshot()` reads them without network I/O, so a refresh costs
what changed, not what exists. A 410 Expired (HTTP or an ERROR event: the watch fell behind etcd's
compaction) relists; connection errors back off and retry; the watch always carries timeoutSeconds and
a read timeout, so nothing waits forever.

`SingleFlight`: concurrent callers of the same key wait for the one call in flight and share its result
or exception, so 50 viewers refreshing together cause one list, not 50.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import chain
from typing import Any, Generic, TypeVar

from k8sdata.errors import SourceError, Timeout
from k8sdata.pods.podshape import POD_SHAPE, Pod, PodShape
from k8sdata.sources.kube import KubeClient, ListExpired, ListShape, Slim

T = TypeVar("T")
#: namespace -> name -> item. Two levels instead of one dict keyed by (namespace, name): the keys are
#: the items' own strings, so the index costs no tuple per item (~6 MB and 0.03 s at 100,000 pods).
Items = dict[str, dict[str, Any]]

#: The slim pod shape for `WatchedList(kube, "/api/v1/pods", slim=slim_pod)`: the first list decodes each
#: page's bytes straight into slim pods (k8sdata.pods.podshape: only the fields KAMS reads, several times
#: faster and a fifth of the memory of parsed dicts at 100,000 pods); watch events are slimmed the same way.
slim_pod = POD_SHAPE


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name); "" for a cluster-scoped object's namespace."""
    if isinstance(obj, Pod) and obj.metadata is not None:  # a slim pod: plain attribute reads
        metadata = obj.metadata
        return metadata.namespace or "", metadata.name or ""
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _index(items: Iterable[Any]) -> Items:
    """The items by namespace, then name, in the list's order (a later duplicate replaces the earlier
    one, as a dict would). A list comes grouped by namespace (the API's key order), so the namespace's
    dict is looked up once per run of items, not per item."""
    by_namespace: Items = {}
    current: str | None = None
    names: dict[str, Any] = {}
    for item in items:
        namespace, name = _key(item)
        if namespace != current:
            current = namespace
            names = by_namespace.setdefault(namespace, {})
        names[name] = item
    return by_namespace


class WatchedList:
    """The current items of one list path (e.g. "/api/v1/pods"), kept fresh by a watch. Thread-safe.

    The first list starts at once in a background thread; `wait_ready` waits for it. After that,
    `snapshot()` never touches the network. `stop()` ends the thread (it closes the open watch)."""

    def __init__(self, kube: KubeClient, path: str, *, slim: Slim | ListShape | None = None,
                 watch_timeout_seconds: int = 300, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0, **params: str | None) -> None:
        self.kube = kube
        self.path = path
        self._slim = slim
        self._params = params
        self._watch_timeout = watch_timeout_seconds
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._lock = threading.Lock()
        self._items: Items = {}
        self._version = ""
        self._ready = threading.Event()
        self._attempted = threading.Event()  # the first list finished, well or badly
        self._stopping = threading.Event()
        self._response: Any = None
        self._last_event_item: Any = None  # what the last ADDED / MODIFIED event brought (see _slimmed)
        self.last_error: SourceError | None = None
        #: Counters for tests and the bench: how many full lists and watch connections were made.
        self.lists = 0
        self.watches = 0
        self._thread = threading.Thread(target=self._run, name=f"kams-watch{path}", daemon=True)
        self._thread.start()

    # -- readers -----------------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> None:
        """Return once the first list is in; raise its SourceError if it failed, Timeout if slow."""
        if self._ready.is_set():
            return
        self._attempted.wait(timeout)
        if self._ready.is_set():
            return
        if self.last_error is not None:
            raise self.last_error
        raise Timeout("kubernetes", f"the first list of {self.path} took longer than {timeout:g} s")

    def snapshot(self) -> tuple[list[Any], int]:
        """(items, resourceVersion) as of the last event applied. Waits for the first list (up to the
        client's request timeout x 10) and raises its error; never waits on the network after that.
        The items are the cache's own objects (a new list of them, ~6 ms at 100,000): treat them as
        read-only. Items come grouped by namespace, in the first list's order, changes last."""
        self.wait_ready(self.kube.settings.request_timeout * 10)
        with self._lock:
            items = list(chain.from_iterable(names.values() for names in self._items.values()))
            version = self._version
        return items, int(version) if version.isdigit() else 0

    def __len__(self) -> int:
        with self._lock:
            return sum(len(names) for names in self._items.values())

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def ready_within(self, seconds: float) -> bool:
        """Whether the first list is in after waiting at most `seconds`; raises its SourceError when it
        failed. False while it is still coming (at 100,000 pods it takes seconds)."""
        self._attempted.wait(seconds)
        if self._ready.is_set():
            return True
        if self._attempted.is_set() and self.last_error is not None:
            raise self.last_error
        return False

    def stop(self) -> None:
        self._stopping.set()
        response = self._response
        if response is not None:  # unblock a read in progress
            with contextlib.suppress(Exception):
                response.shutdown()
            with contextlib.suppress(Exception):
                response.close()
        self._thread.join(timeout=10)

    # -- the background thread ---------------------------------------------------------------------

    def _relist(self) -> None:
        items, version = self.kube.list_with_version(self.path, self._slim, **self._params)
        fresh = _index(items)
        del items  # the index holds the items; the list can go before the old index does
        with self._lock:
            self._items = fresh
            self._version = version
        self._last_event_item = None  # a pod of the old list: let it go
        self.lists += 1
        self.last_error = None
        self._ready.set()
        self._attempted.set()

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind == "BOOKMARK":
            with self._lock:
                self._version = version or self._version
            return
        namespace, name = _key(obj)
        item = self._slimmed(obj, namespace, name) if kind in ("ADDED", "MODIFIED") else None
        with self._lock:
            if kind == "DELETED":
                names = self._items.get(namespace)
                if names is not None:
                    names.pop(name, None)
                    if not names:
                        del self._items[namespace]
            elif item is not None:
                self._items.setdefault(namespace, {})[name] = item
            if version:
                self._version = version

    def _slimmed(self, obj: dict[str, Any], namespace: str, name: str) -> Any:
        """An ADDED or MODIFIED event's object as the cache keeps it. Slim pods share their equal parts
        with the version they replace, or for a new pod with the pod the last event brought, as a list's
        pods share theirs (k8sdata.pods.podshape.PodShape.watched): else every pod an event brings would cost
        ~4x a listed one. (Read without the lock: this thread is the only one that changes the items.)"""
        if not self._slim:
            return obj
        if not isinstance(self._slim, PodShape):
            return self._slim(obj)
        names = self._items.get(namespace)
        like = names.get(name) if names else None
        item = self._slim.watched(obj, like if like is not None else self._last_event_item)
        self._last_event_item = item
        return item

    def _keep_response(self, response: Any) -> None:
        self._response = response
        if self._stopping.is_set():  # stop() ran between the request and now
            with contextlib.suppress(Exception):
                response.close()

    def _run(self) -> None:
        delay = self._backoff_initial
        need_list = True
        while not self._stopping.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                self.watches += 1
                for kind, obj in self.kube.watch_events(
                    self.path, self._version, timeout_seconds=self._watch_timeout,
                    on_response=self._keep_response, **self._params,
                ):
                    if self._stopping.is_set():
                        return
                    self._apply(kind, obj)
                    delay = self._backoff_initial
                # The server ended the watch (its timeoutSeconds): resume from the last version.
                continue
            except ListExpired as error:
                # Our resourceVersion is older than the server's history: only a new list can catch up
                # (at once, unless the list itself expired twice: then back off like any failure).
                self.last_error = error
                if not need_list:
                    need_list = True
                    continue
            except SourceError as error:
                self.last_error = error
            except Exception as error:
                self.last_error = SourceError("kubernetes", f"{type(error).__name__}: {error}")
            finally:
                self._response = None
                self._attempted.set()
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self._backoff_max)


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share one execution: the first caller runs `fn`, the others
    wait for it and get the same result (or the same exception). Later calls run `fn` again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call[T]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.result  # type: ignore[return-value]
        try:
            call.result = fn()
            return call.result
        except BaseException as error:
            call.error = error
            raise
        finally:
            with self._lock:
                self._calls.pop(key, None)
            call.done.set()


class _Call(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
