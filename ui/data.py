"""Cached access to k8sdata for the pages, declared through ui.cache (the one cache layer).

- Clients are shared resources, keyed by the settings and context / URL: one thread-safe client per
  cluster or server, shared by every viewer, holding no per-user data, each with its source's circuit
  breaker (k8sdata.sources.breaker).
- Data is cached with a short TTL, and it is the *source* data (raw pod lists, query results) that is
  cached, keyed by what was asked; filtering and roll-ups happen outside, per view. Query results are
  copied per reader; raw Kubernetes lists and the frames built from them are shared (read-only, never
  copied; see below).
- Every cached read goes through ui.cache's FailureGuard: one call in flight per key, and a failure
  remembered for a few seconds, so 50 viewers of a failing source wait out one timeout, not 50.

Pages call `overview_data(...)`, `connection_statuses(...)`, `contexts(...)`, `namespaces(...)`, and
for the Pods page `pods_view(...)`, `pods_usage(...)`, `pods_requests(...)`, `pod_events(...)`,
`pod_history(...)`.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, cast

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from k8sdata import health
from k8sdata.access import current_scope
from k8sdata.archive.spool import Spool
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.overview import OverviewData, collect_overview
from k8sdata.pods import history, resources
from k8sdata.pods.frames import PodsFrameBuilder, pods_frame
from k8sdata.requests.conventions import BUILTIN_CONVENTIONS, conventions_from_settings
from k8sdata.sources.archive import FolderArchive, S3Archive, archive_from_settings
from k8sdata.sources.breaker import CircuitBreaker, backoff_for
from k8sdata.sources.kube import KubeClient, list_contexts
from k8sdata.sources.prom import PromClient, client_from_settings
from k8sdata.sources.watchcache import WatchedList, slim_pod
from ui.cache import FAILURE_TTL_SECONDS, cached, forget_data, guarded

T = TypeVar("T")

#: How long source data is reused before asking the servers again (also the instant-query time bucket):
#: the shortest auto-refresh interval (ui.filters.AUTO_REFRESH), so that any number of viewers refreshing
#: that often cost one list per resource per refresh, not two. Refresh asks again at once.
DATA_TTL_SECONDS = 30
#: Raw lists kept per (cluster, namespace) at most; each can be large.
MAX_CACHED_LISTS = 32
#: Connection pings are cheap but shown on every page: keep them a little longer.
STATUS_TTL_SECONDS = 30
#: Answers that summarise days of history (right-sizing's 7-day p95 and peak) hardly move in minutes
#: and are among the heaviest queries Prometheus gets: they are evaluated at 10-minute steps and kept
#: that long, not recomputed every DATA_TTL_SECONDS.
HISTORY_TTL_SECONDS = 600


# --- clients -----------------------------------------------------------------------------------------
class _Breakers:
    """One circuit breaker per source and cluster (k8sdata.sources.breaker), shared by every viewer, so that
    one timeout marks the source down for everyone for a short back-off; the Refresh button closes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[Hashable, CircuitBreaker] = {}

    def get(self, key: Hashable, request_timeout: float) -> CircuitBreaker:
        with self._lock:
            return self._breakers.setdefault(key, CircuitBreaker(backoff_for(request_timeout)))

    def reset(self) -> None:
        with self._lock:
            for breaker in self._breakers.values():
                breaker.reset()

    def retry_at(self, since: float) -> float | None:
        """When every source that answered 429 at `since` or later allows KAMS to ask again."""
        with self._lock:
            due = [when for breaker in self._breakers.values() if (when := breaker.rate_limited(since))]
        return max(due, default=None)


@cached(shared=True, guard=False, keep_on_refresh=True)
def _breakers() -> _Breakers:
    return _Breakers()


def keep_retry_promises(since: float) -> None:
    """A source that answered 429 during this run (at `since`, time.monotonic(), or later) was shown with
    "KAMS will try again in N seconds": a timer reruns the app once that time has passed, without a click.
    Called at the end of the run; a run without a 429 draws no timer, which stops the previous one."""
    due = _breakers().retry_at(since)
    if due is None:
        return
    wait = max(0.5, due - time.monotonic())

    @st.fragment(run_every=wait)
    def _retry_when_allowed() -> None:
        if time.monotonic() >= due:
            st.rerun(scope="app")

    _retry_when_allowed()


def shared_breaker(source: str, key: Hashable, settings: Settings) -> CircuitBreaker:
    """The breaker of one source (kubernetes, prometheus, alertmanager, clair) at one address."""
    return _breakers().get((source, key), settings.request_timeout)


@cached(shared=True, guard=False, keep_on_refresh=True)
def _kube_client(settings: Settings, context: str | None) -> KubeClient:
    client = KubeClient(settings, context)
    client.breaker = shared_breaker("kubernetes", (client.host, client.context), settings)
    return client


@cached(shared=True, guard=False, keep_on_refresh=True)
def _prom_client(settings: Settings) -> PromClient:
    # From the settings as a whole, so the bearer token (or its file) and the CA reach every page.
    client = client_from_settings(settings)
    client.breaker = shared_breaker("prometheus", client.url, settings)
    return client


def kube_client(settings: Settings, context: str | None) -> KubeClient:
    """The shared client for a context; raises NotConfigured (uncached) when there is no cluster."""
    if not settings.kubernetes_configured:
        raise NotConfigured("kubernetes")
    return _kube_client(settings, context)


def prom_client(settings: Settings) -> PromClient:
    if not settings.prometheus_url:
        raise NotConfigured("prometheus")
    return _prom_client(settings)


def kube_key(settings: Settings, context: str | None) -> str:
    """Cache key for one cluster: which kubeconfig (or in-cluster) and which context."""
    source = settings.kubeconfig or ("in-cluster" if settings.in_cluster else "none")
    return f"{source}|{context}"


# --- cached source data ------------------------------------------------------------------------------
# Leading-underscore parameters are not hashed by Streamlit: the client is identified by the key.
#
# Raw API lists are shared (st.cache_resource underneath) rather than copied (st.cache_data pickles a value
# on every read, and 20,000 pods pickle to ~60 MB in ~4.5 s (measured here), which every rerun would
# pay. cache_resource hands out the one shared object instead; that is safe because nothing mutates it
# (k8sdata.pods.frames only reads) and it holds cluster data, the same for every viewer.
@cached(ttl=DATA_TTL_SECONDS, max_entries=MAX_CACHED_LISTS, shared=True)
def _pods(kube_key: str, namespace: str | None, _kube: KubeClient) -> list[dict[str, Any]]:
    # Slim pods (k8sdata.pods.podshape), as the watch cache of big clusters keeps them: every reader of this
    # list (pods table, pod detail, logs, resources, workloads, overview) reads only kept fields, which
    # tests/k8sdata/test_podshape.py checks against the full JSON.
    return _kube.list_pods(namespace, slim=True)


@cached(ttl=DATA_TTL_SECONDS, max_entries=MAX_CACHED_LISTS, shared=True)
def _events(kube_key: str, namespace: str | None, _kube: KubeClient) -> list[dict[str, Any]]:
    return _kube.list_events(namespace)


@cached(ttl=DATA_TTL_SECONDS)
def _namespaces(kube_key: str, _kube: KubeClient) -> list[str]:
    return _kube.list_namespaces()


@cached(ttl=STATUS_TTL_SECONDS)
def _kube_version(kube_key: str, _kube: KubeClient) -> str:
    return _kube.version()


def _instant_at(prom: PromClient, query: str, at_bucket: float | None) -> pd.DataFrame:
    return prom.instant(query, None if at_bucket is None else datetime.fromtimestamp(at_bucket, UTC))


@cached(ttl=DATA_TTL_SECONDS)
def _instant(url: str, query: str, at_bucket: float | None, _prom: PromClient) -> pd.DataFrame:
    return _instant_at(_prom, query, at_bucket)


@cached(ttl=HISTORY_TTL_SECONDS)
def _history_instant(url: str, query: str, at_bucket: float | None, _prom: PromClient) -> pd.DataFrame:
    return _instant_at(_prom, query, at_bucket)


@cached(ttl=DATA_TTL_SECONDS)
def _range(url: str, query: str, start: datetime, end: datetime, step: float, _prom: PromClient
           ) -> pd.DataFrame:
    return _prom.range(query, start, end, step)


@cached(ttl=DATA_TTL_SECONDS)
def _alerts(url: str, _prom: PromClient) -> pd.DataFrame:
    return _prom.alerts()


@cached(ttl=STATUS_TTL_SECONDS)
def _prom_version(url: str, _prom: PromClient) -> str:
    return _prom.version()


# --- the Pods page's data ------------------------------------------------------------------------------
#: From this many pods in the whole cluster on, the Pods page reads a shared list-then-watch cache (one
#: list, then only changes) instead of listing every TTL. Below it a plain list every TTL is cheaper
#: than a thread and a watch connection per cluster.
WATCH_THRESHOLD_PODS = 5_000
#: Pod counts seen per cluster (all namespaces), which decide the path above. Shared by every viewer.
_cluster_pod_counts: dict[str, int] = {}


def _stop_watch(watched: Any) -> None:
    watched.stop()


@cached(max_entries=8, shared=True, guard=False, keep_on_refresh=True, on_release=_stop_watch)
def _watched_pods(kube_key: str, _kube: KubeClient) -> Any:
    """One WatchedList of every pod per cluster, shared by all viewers (50 viewers: one list)."""
    return WatchedList(_kube, "/api/v1/pods", slim=slim_pod)


#: How long a page waits for a big cluster's watch to have its first list before using the cached list.
WATCH_READY_WAIT_SECONDS = 0.5


@cached(ttl=DATA_TTL_SECONDS, max_entries=MAX_CACHED_LISTS, shared=True)
def _selected_pods(kube_key: str, namespace: str | None, label_selector: str, _kube: KubeClient
                   ) -> list[dict[str, Any]]:
    """A server-side labelSelector list (the API server filters; nothing else is transferred)."""
    return _kube.list_pods(namespace, label_selector=label_selector, slim=True)  # slim: as _pods


@cached(ttl=DATA_TTL_SECONDS * 4, max_entries=MAX_CACHED_LISTS, shared=True, guard=False)
def _pods_frame_entry(kube_key: str, namespace: str | None, label_selector: str, token: str,
                      _pods: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    # The list is kept in the entry on purpose: a plain list's token is its id(), and holding the list
    # means no later list can get the same id while this entry can still be hit.
    return pods_frame(_pods), _pods


def _pods_frame(kube_key: str, namespace: str | None, label_selector: str, token: str,
                pods: list[dict[str, Any]]) -> pd.DataFrame:
    """k8sdata.pods.frames.pods_frame of one list, built once per list version (token) for every viewer.
    Held as a resource (not pickled per read); pages filter it into new frames and never mutate it."""
    return _pods_frame_entry(kube_key, namespace, label_selector, token, pods)[0]


@cached(max_entries=8, shared=True, guard=False, keep_on_refresh=True)
def _frame_builder(kube_key: str) -> PodsFrameBuilder:
    """One PodsFrameBuilder per cluster's watch cache: a refresh builds rows only for the pods that
    changed since the last one (thread-safe; it holds rows of cluster data, the same for every viewer)."""
    return PodsFrameBuilder()


@cached(ttl=DATA_TTL_SECONDS * 4, max_entries=MAX_CACHED_LISTS, shared=True, guard=False)
def _watched_frame_entry(kube_key: str, token: str, _items: list[dict[str, Any]]
                         ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The whole-cluster frame of one watch snapshot (token = its version and time bucket), built once
    for every viewer; the snapshot list is kept with it, as in _pods_frame_entry."""
    return _frame_builder(kube_key).frame(_items), _items


@cached(ttl=DATA_TTL_SECONDS * 4, max_entries=MAX_CACHED_LISTS, shared=True, guard=False)
def _pods_usage_frame(kube_key: str, namespace: str | None, label_selector: str, token: str,
                      usage_bucket: int, _pods: list[dict[str, Any]], _usage: pd.DataFrame | None
                      ) -> pd.DataFrame:
    return resources.pod_usage_frame(_pods, _usage)


@cached(ttl=DATA_TTL_SECONDS)
def _current_usage(kube_key: str, prom_url: str, namespace: str | None, _kube: KubeClient | None,
                   _prom: PromClient | None) -> tuple[pd.DataFrame, str]:
    return resources.current_usage(_prom, _kube, namespace)


@cached(ttl=DATA_TTL_SECONDS)
def _pod_events(kube_key: str, namespace: str, name: str, _kube: KubeClient) -> list[dict[str, Any]]:
    return _kube.list_events(namespace, field_selector=f"involvedObject.name={name}")


@cached(ttl=DATA_TTL_SECONDS * 4, max_entries=MAX_CACHED_LISTS, shared=True, guard=False)
def _namespace_slice(kube_key: str, namespace: str, token: str, _frame: pd.DataFrame,
                     _items: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One namespace of the whole-cluster watch snapshot, cut once per snapshot version for every viewer."""
    frame = _frame[_frame["namespace"] == namespace].reset_index(drop=True)
    items = [pod for pod in _items if (pod.get("metadata") or {}).get("namespace") == namespace]
    return frame, items


@dataclass(frozen=True)
class PodsView:
    """The pods the Pods page shows, before its own filters."""

    raw: list[dict[str, Any]]  # the API objects (read-only: shared by every viewer)
    frame: pd.DataFrame  # k8sdata.pods.frames.pods_frame of raw, filtered to the namespace (read-only)
    token: str  # identifies this version of the list (cache key for what is derived from it)
    watched: bool  # True when it came from the shared list-then-watch cache
    #: Why the list could not be read, when the view holds only the one linked pod, read by itself.
    partial: SourceError | None = None

    def has_pod(self, key: str) -> bool:
        """Whether NAMESPACE/NAME is in this view."""
        namespace, _, name = key.partition("/")
        return bool(((self.frame["namespace"] == namespace) & (self.frame["name"] == name)).any())


def pods_view(settings: Settings, context: str | None, namespace: str | None,
              label_selector: str = "", *, fresh: bool = False) -> PodsView:
    """Pods of a namespace (None = all), optionally narrowed by a server-side label selector.

    Big clusters (WATCH_THRESHOLD_PODS) are read from the shared WatchedList once its first list is in,
    and narrowed to the namespace in pandas; small ones, and big ones until then, are listed (cached
    DATA_TTL_SECONDS). `fresh` lists again instead of using a cached list (the watch is already current).
    Raises SourceError."""
    kube = cached_kube(settings, context)
    if fresh:
        # Only this list's entry: other namespaces and viewers keep theirs.
        _pods.clear(kube.key, namespace, kube.client)
        _selected_pods.clear(kube.key, namespace, label_selector.strip(), kube.client)
    selector = label_selector.strip()
    if selector:
        raw = _selected_pods(kube.key, namespace, selector, kube.client)
        token = f"list{id(raw)}"
        return PodsView(raw, _pods_frame(kube.key, namespace, selector, token, raw), token, False)
    watched = kube.ready_watch()
    if watched is not None:
        items, version = watched.snapshot()
        # The time bucket renews AGE and RESTARTS' "(5m ago)" every TTL even when no pod changed; that
        # refresh reuses every row (PodsFrameBuilder), so it costs a fraction of a second at 100,000 pods.
        bucket = math.floor(datetime.now(UTC).timestamp() / DATA_TTL_SECONDS)
        token = f"watch{version}-{len(items)}-{bucket}"
        frame = _watched_frame_entry(kube.key, token, items)[0]
        if namespace is not None:
            frame, items = _namespace_slice(kube.key, namespace, token, frame, items)
        return PodsView(items, frame, token, True)
    raw = kube.listed_pods(namespace)
    token = f"list{id(raw)}"
    return PodsView(raw, _pods_frame(kube.key, namespace, "", token, raw), token, False)


def linked_pods_view(settings: Settings, context: str | None, namespace: str | None, linked: str,
                     label_selector: str = "") -> PodsView:
    """pods_view for a page opened from a link to one pod (NAMESPACE/NAME): when a cached list does not
    have it, list once more, since the link may name a pod made after the list was cached (an alert, a
    chat message). Raises SourceError."""
    try:
        view = pods_view(settings, context, namespace, label_selector)
    except SourceError as error:
        if not linked:
            raise
        # The list failed, but the link names one pod: read it alone, so its logs (or detail) still show.
        pod_namespace, _, name = linked.partition("/")
        try:
            pod = guarded(("pod", kube_key(settings, context), linked),
                           lambda: kube_client(settings, context).get_pod(pod_namespace, name))
        except (SourceError, ValueError):
            raise error from None
        return PodsView([pod], pods_frame([pod]), f"one{id(pod)}", False, partial=error)
    if linked and not view.watched and not view.has_pod(linked):
        view = pods_view(settings, context, namespace, label_selector, fresh=True)
    return view


def pods_usage(settings: Settings, context: str | None, namespace: str | None, view: PodsView
               ) -> tuple[pd.DataFrame, str, str] | None:
    """Per pod usage against requests and limits (k8sdata.pods.resources.POD_USAGE_COLUMNS), its source
    ("prometheus" | "metrics.k8s.io") and a key naming this frame for what is cached from it: two
    Prometheus queries (or one metrics.k8s.io list) per TTL, whatever the number of pods. Raises
    SourceError when no usage source works.

    A large cluster's usage never holds up the rows: it is read in the background
    (Prefetch), the last answer serves meanwhile, and None means the first answer is not back yet (at
    100,000 pods a metrics.k8s.io list takes seconds)."""
    kube = cached_kube(settings, context)
    try:
        prom: PromClient | None = prom_client(settings)
    except NotConfigured:
        prom = None
    prom_url = prom.url if prom else ""
    if view.watched or kube.big:
        # Big (watched, or just found big by this run's first list): the first visitor waits no more.
        client = kube.client
        got = _prefetch().get(("usage", kube.key, prom_url, namespace),
                              lambda: resources.current_usage(prom, client, namespace),
                              wait=USAGE_WAIT_SECONDS, ttl=DATA_TTL_SECONDS)
        if got is None:
            return None
        if isinstance(got, SourceError):
            raise got
        usage, source = got
    else:
        usage, source = _current_usage(kube.key, prom_url, namespace, kube.client, prom)
    bucket = math.floor(datetime.now(UTC).timestamp() / DATA_TTL_SECONDS)
    frame = _pods_usage_frame(kube.key, namespace, "", view.token, bucket, view.raw, usage)
    return frame, source, f"{kube.key}|{namespace}|{view.token}|{bucket}"


#: The usage bucket of a frame built without usage: no real time bucket is negative.
_NO_USAGE_BUCKET = -1


def requests_key(settings: Settings, context: str | None, namespace: str | None, view: PodsView) -> str:
    """What names pods_requests' frame for what is cached from it (as pods_usage's key does its own)."""
    return f"{kube_key(settings, context)}|{namespace}|{view.token}|{_NO_USAGE_BUCKET}"


def pods_requests(settings: Settings, context: str | None, namespace: str | None, view: PodsView
                  ) -> pd.DataFrame:
    """pods_usage's frame with NaN usage: the requests and limits, which need only the pods, for when no
    usage source works (a cluster without metrics-server and Prometheus still has them)."""
    kube = cached_kube(settings, context)
    return _pods_usage_frame(kube.key, namespace, "", view.token, _NO_USAGE_BUCKET, view.raw, None)


def pod_events(settings: Settings, context: str | None, namespace: str, name: str) -> list[dict[str, Any]]:
    """Events about one pod (fieldSelector involvedObject.name, so the server filters). Raises SourceError."""
    kube = cached_kube(settings, context)
    return _pod_events(kube.key, namespace, name, kube.client)


def pod_history(settings: Settings, namespace: str, pod: str, time_range: timedelta) -> history.PodHistory:
    """k8sdata.pods.history.pod_history over the last `time_range`, the end rounded to the TTL so viewers and
    reruns within the TTL share the cached range queries. Raises NotConfigured without Prometheus."""
    end_seconds = math.floor(datetime.now(UTC).timestamp() / DATA_TTL_SECONDS) * DATA_TTL_SECONDS
    end = datetime.fromtimestamp(end_seconds, UTC)
    start = end - time_range
    return history.pod_history(cached_prom(settings), namespace, pod, start, end,
                               history.history_step(start, end))


def clear_data_caches() -> None:
    """The Refresh button: forget cached data and failures, and ask every source again now (clients stay;
    they hold no data)."""
    forget_data()
    _breakers().reset()
    _prefetch().forget()


class CachedKube:
    """A KubeClient seen through the data cache (satisfies k8sdata.sources.protocols.PodEventSource)."""

    def __init__(self, client: KubeClient, key: str) -> None:
        self.client, self.key = client, key

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The pods of a namespace (None: all). A big cluster's come from the shared watch (one list, then
        only changes, for every page and viewer), never from a list of their own beside it."""
        watched = self.ready_watch()
        if watched is not None:
            items, _version = watched.snapshot()
            if namespace is None:
                return items
            return [pod for pod in items if (pod.get("metadata") or {}).get("namespace") == namespace]
        return self.listed_pods(namespace)

    @property
    def big(self) -> bool:
        """Whether a list of every pod has found this cluster big (WATCH_THRESHOLD_PODS)."""
        return _cluster_pod_counts.get(self.key, 0) >= WATCH_THRESHOLD_PODS

    def ready_watch(self) -> WatchedList | None:
        """A big cluster's shared watch once its first list is in, else None (the cached plain list serves
        meanwhile: at 100,000 pods that first list takes seconds, and no visitor should wait for it)."""
        if not self.big:
            return None
        watched = _watched_pods(self.key, self.client)
        return watched if watched.ready_within(WATCH_READY_WAIT_SECONDS) else None

    def listed_pods(self, namespace: str | None) -> list[dict[str, Any]]:
        """The cached plain list. A list of every pod records the cluster's size; once that is big the
        shared watch starts at once, its first list in the background, so the next reader finds it in."""
        pods = _pods(self.key, namespace, self.client)
        if namespace is None:
            _cluster_pod_counts[self.key] = len(pods)
        if self.big:
            _watched_pods(self.key, self.client)
        return pods

    def list_events(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return _events(self.key, namespace, self.client)

    def list_namespaces(self) -> list[str]:
        return _namespaces(self.key, self.client)

    def version(self) -> str:
        return _kube_version(self.key, self.client)


class CachedProm:
    """A PromClient seen through the data cache (satisfies k8sdata.sources.protocols.PromSource).

    Instant queries "at now" are evaluated at the start of the current TTL bucket, so every viewer in
    the same TTL shares one answer instead of each asking at their own millisecond.
    """

    def __init__(self, client: PromClient, *, history: bool = False) -> None:
        """history=True: for summaries of days (HISTORY_TTL_SECONDS buckets and cache)."""
        self.client = client
        self._bucket_seconds = HISTORY_TTL_SECONDS if history else DATA_TTL_SECONDS
        self._instant = _history_instant if history else _instant

    def instant(self, query: str, at: datetime | None = None) -> pd.DataFrame:
        moment = (at or datetime.now(UTC)).timestamp()
        bucket = float(math.floor(moment / self._bucket_seconds) * self._bucket_seconds)
        return self._instant(self.client.url, query, bucket, self.client)

    def range(self, query: str, start: datetime, end: datetime, step: float) -> pd.DataFrame:
        return _range(self.client.url, query, start, end, step, self.client)

    def alerts(self) -> pd.DataFrame:
        return _alerts(self.client.url, self.client)

    def version(self) -> str:
        return _prom_version(self.client.url, self.client)


def cached_kube(settings: Settings, context: str | None) -> CachedKube:
    """Raises SourceError (NotConfigured, ...) when no client can be made."""
    return CachedKube(kube_client(settings, context), kube_key(settings, context))


def cached_prom(settings: Settings, *, history: bool = False) -> CachedProm:
    """history=True for queries that summarise days (see HISTORY_TTL_SECONDS)."""
    return CachedProm(prom_client(settings), history=history)


def or_error(make: Callable[[], T]) -> T | SourceError:
    """The made object, or the SourceError met making it: a page draws the sentence in that panel and
    goes on with the others (collect_overview accepts either too)."""
    try:
        return make()
    except SourceError as error:
        return error


# --- what pages call ---------------------------------------------------------------------------------
def contexts(settings: Settings) -> tuple[list[str], str | None]:
    """(context names, current); ([], None) when Kubernetes is not configured or unreadable."""
    try:
        return list_contexts(settings)
    except SourceError:
        return [], None


#: How long the sidebar waits for the namespace list before drawing without it (the page must not wait).
NAMESPACES_WAIT_SECONDS = 0.5
#: How long a large cluster's Pods page waits for current usage before drawing the rows without it.
USAGE_WAIT_SECONDS = 1.0


class Prefetch:
    """Reads that must never hold up a page (the sidebar's): started in a worker thread, waited for a
    moment, and remembered. A read that is not back in time returns the last answer (or None); it goes on
    in the background and its answer serves the next run. One read in flight per key. Thread-safe, and
    shared by every viewer; the workers call k8sdata only (no Streamlit)."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="kams-prefetch")
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future[Any]] = {}
        self._answers: dict[Hashable, tuple[Any, float]] = {}  # key -> (value or SourceError, when)

    def get(self, key: Hashable, read: Callable[[], T], *, wait: float, ttl: float) -> T | SourceError | None:
        now = time.monotonic()
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None and now - answer[1] < ttl:
                return cast("T | SourceError", answer[0])
            future = self._running.get(key)
            if future is None:
                # The caller's context variables (its namespace scope) hold in the worker too.
                future = self._pool.submit(contextvars.copy_context().run, self._settle, key, read)
                self._running[key] = future
        try:
            return cast("T | SourceError", future.result(timeout=wait))
        except FutureTimeout:
            return cast("T | SourceError | None", answer[0] if answer is not None else None)

    def _settle(self, key: Hashable, read: Callable[[], Any]) -> Any:
        try:
            value: Any = read()
        except SourceError as error:
            value = error
        with self._lock:
            # Failures are kept briefly (FAILURE_TTL_SECONDS apart), answers for the caller's ttl.
            self._answers[key] = (value, time.monotonic() - (STATUS_TTL_SECONDS - FAILURE_TTL_SECONDS
                                                             if isinstance(value, SourceError) else 0.0))
            self._running.pop(key, None)
        return value

    def forget(self) -> None:
        with self._lock:
            self._answers.clear()


@cached(shared=True, guard=False, keep_on_refresh=True)
def _prefetch() -> Prefetch:
    return Prefetch()


def namespaces(settings: Settings, context: str | None) -> list[str] | SourceError | None:
    """The cluster's namespaces; None while the list has not come back within NAMESPACES_WAIT_SECONDS (a
    hanging API server): the sidebar then draws without it and the page goes on."""
    try:
        client = kube_client(settings, context)
    except SourceError as error:
        return error
    return _prefetch().get(("namespaces", kube_key(settings, context)), client.list_namespaces,
                           wait=NAMESPACES_WAIT_SECONDS, ttl=STATUS_TTL_SECONDS)


def overview_data(settings: Settings, context: str | None, namespace: str | None, window: str,
                  time_range: timedelta, include_system: bool) -> OverviewData:
    """Everything the Overview shows. Never raises a SourceError: each section carries its own.

    Assembled once per DATA_TTL_SECONDS for every viewer with the same view (and the same namespace
    scope), and shared: at 100,000 pods the roll-up is seconds of CPU, which thirty viewers refreshing
    together would otherwise each spend. Read-only, like every shared answer."""
    return _overview_data(settings, context, namespace, window, time_range, include_system, current_scope())


@cached(ttl=DATA_TTL_SECONDS, max_entries=MAX_CACHED_LISTS, shared=True, guard=False)
def _overview_data(settings: Settings, context: str | None, namespace: str | None, window: str,
                   time_range: timedelta, include_system: bool, scope: frozenset[str] | None) -> OverviewData:
    conventions = or_error(lambda: conventions_from_settings(settings))
    prom = or_error(lambda: cached_prom(settings))
    if isinstance(conventions, SourceError):  # custom request settings that are no names: say so there
        prom, conventions = conventions, BUILTIN_CONVENTIONS
    return collect_overview(
        or_error(lambda: cached_kube(settings, context)),
        prom,
        namespace,
        window,
        datetime.now(UTC),
        time_range=time_range,
        conventions=conventions,
        hide_namespaces=frozenset() if include_system else health.SYSTEM_NAMESPACES,
    )


# --- connection status -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionStatus:
    source: str  # "Kubernetes", "Prometheus", "S3", "Spool"
    state: Literal["ok", "not configured", "error", "waiting"]
    text: str  # "connected, v1.31.0" / "not configured" / the error's sentence


def _status(source: str, check: Callable[[], str]) -> ConnectionStatus:
    try:
        return ConnectionStatus(source, "ok", check())
    except NotConfigured:
        return ConnectionStatus(source, "not configured", "not configured")
    except SourceError as error:
        return ConnectionStatus(source, "error", error.sentence)


@cached(shared=True, guard=False, keep_on_refresh=True)
def _archive(settings: Settings) -> S3Archive | FolderArchive | None:
    """The archive (one boto3 client, thread-safe) shared by every viewer; None when archiving is off."""
    return archive_from_settings(settings)


def archive(settings: Settings) -> S3Archive | FolderArchive:
    """The configured archive; raises NotConfigured("s3") when neither S3 nor a folder is set."""
    chosen = _archive(settings)
    if chosen is None:
        raise NotConfigured("s3")
    return chosen


@cached(ttl=STATUS_TTL_SECONDS)
def _s3_status(settings: Settings) -> str:
    """"connected, s3://bucket/prefix at URL"; raises a SourceError on failure (so it is not cached)."""
    chosen = archive(settings)
    chosen.ping()
    if isinstance(chosen, FolderArchive):
        return f"archiving to the folder {chosen.describe()}"
    return f"connected, {chosen.describe()}"


@cached(ttl=STATUS_TTL_SECONDS, guard=False)
def _spool_status(settings: Settings, archive_works: bool) -> ConnectionStatus:
    """How many snapshots wait in the spool for this archive. While the archive works the website uploads
    them first (k8sdata.archive.spool: oldest first, verified; one uploader at a time across processes), as
    the CLI and the CronJob do, so a backlog left by an outage goes without anyone running a command."""
    chosen = _archive(settings)
    spool = Spool.from_settings(settings)
    if chosen is None:
        return ConnectionStatus("Spool", "not configured", "not configured")
    destination = chosen.destination()
    drained = spool.drain(chosen) if archive_works else None
    waiting = spool.count(destination)
    uploaded = len(drained.uploaded) if drained is not None else 0
    done = f"; {uploaded} spooled snapshot(s) uploaded just now" if uploaded else ""
    if not waiting:
        return ConnectionStatus("Spool", "ok", f"empty{done}")
    why = drained.error.sentence if drained is not None and drained.error is not None else (
        "they are uploaded once the archive works again" if not archive_works
        else "another KAMS process is uploading them" if drained is not None and drained.busy
        else "some cannot be read; see the snapshot command's output")
    return ConnectionStatus("Spool", "waiting", f"{waiting} snapshot(s) wait in {spool.root}{done}: {why}")


def connection_statuses(settings: Settings, context: str | None) -> list[ConnectionStatus]:
    """Kubernetes, Prometheus and S3: ok (with version) / not configured / the failure's sentence; then
    the spool: how many snapshots wait for the archive (uploaded here first when the archive works)."""
    checks: list[tuple[str, Callable[[], str]]] = [
        ("Kubernetes", lambda: f"connected, {cached_kube(settings, context).version()}"),
        ("Prometheus", lambda: f"connected, Prometheus {cached_prom(settings).version()}"),
        ("S3", lambda: _s3_status(settings)),
    ]
    # Side by side: three hanging sources cost one timeout, not three. The workers carry this run's
    # Streamlit context, so the cached functions they call behave as in the script's own thread.
    run_context = get_script_run_ctx()

    def check(source: str, ping: Callable[[], str]) -> ConnectionStatus:
        if run_context is not None:
            add_script_run_ctx(threading.current_thread(), run_context)
        return _status(source, ping)

    with ThreadPoolExecutor(len(checks), thread_name_prefix="kams-status") as pool:
        futures = [pool.submit(contextvars.copy_context().run, check, source, ping)
                   for source, ping in checks]
        statuses = [future.result() for future in futures]
    if statuses[-1].state != "not configured":  # no archive: no spool worth a line
        archive_works = statuses[-1].state == "ok"
        statuses.append(_status_of("Spool", lambda: _spool_status(settings, archive_works)))
    return statuses


def _status_of(source: str, check: Callable[[], ConnectionStatus]) -> ConnectionStatus:
    """A check that decides its own state; its failure is shown as any other source's."""
    try:
        return check()
    except SourceError as error:
        return ConnectionStatus(source, "error", error.sentence)
