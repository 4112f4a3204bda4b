"""The object store behind the stand-in API server.

Each object is kept as pre-serialized JSON bytes plus a small index (namespace, name, labels, field
selector values), so a page of a 100,000-pod list is built by joining bytes rather than re-serializing
dicts. One global resourceVersion counter is bumped by every mutation, and a bounded history of
changes lets watches resume from a resourceVersion. Anything older than the compaction horizon is gone:
continue tokens and watches from before it get 410 Expired, as from a compacted etcd.
"""

from __future__ import annotations

import base64
import bisect
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from .resources import ResourceRegistry, ResourceType

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Predicate = Callable[["Entry"], bool]


class ExpiredError(Exception):
    """A continue token or watch resourceVersion older than the compaction horizon. For a continue token,
    args[1] is the token that goes on from the same key at the current revision."""


class NotFoundError(KeyError):
    pass


class ConflictError(ValueError):
    pass


@dataclass(slots=True)
class Entry:
    """One stored object: its bytes as served, and what selectors need to filter without parsing."""

    namespace: str
    name: str
    raw: bytes
    labels: dict[str, str]
    fields: dict[str, str]
    rv: int

    def decode(self) -> dict[str, Any]:
        return orjson.loads(self.raw)


@dataclass
class _Bucket:
    """All objects of one resource type, plus their keys in etcd order (namespace, then name)."""

    entries: dict[Key, Entry] = field(default_factory=dict)
    order: list[Key] = field(default_factory=list)
    order_dirty: bool = False
    last_change_rv: int = 0

    def sorted_keys(self) -> list[Key]:
        if self.order_dirty:
            self.order = sorted(self.entries)
            self.order_dirty = False
        return self.order


@dataclass(frozen=True, slots=True)
class Change:
    rv: int
    resource: tuple[str, str]
    kind: str  # ADDED / MODIFIED / DELETED
    old: Entry | None
    new: Entry  # for DELETED, the final state with the deletion's resourceVersion


@dataclass(eq=False)
class Watcher:
    """A live watch: the store pushes (type, raw object) pairs into its queue."""

    resource: tuple[str, str]
    namespace: str | None
    predicate: Predicate | None
    events: queue.Queue[tuple[str, bytes] | None] = field(default_factory=queue.Queue)
    #: How many synthetic ADDED events for the current state lead the queue, and the store's
    #: resourceVersion when they were taken (for the "initial-events-end" bookmark).
    initial_events: int = 0
    start_rv: int = 0

    def matches(self, entry: Entry | None) -> bool:
        if entry is None:
            return False
        if self.namespace is not None and entry.namespace != self.namespace:
            return False
        return self.predicate is None or self.predicate(entry)

    def offer(self, change: Change) -> None:
        """Translate a change into what this watcher sees, as upstream's filtered watch does: an
        object moving into the selection is ADDED, one moving out of it is DELETED."""
        if change.resource != self.resource:
            return
        was, now = self.matches(change.old), self.matches(change.new)
        if change.kind == "DELETED":
            if was or now:
                self.events.put(("DELETED", change.new.raw))
        elif was and now:
            self.events.put(("MODIFIED", change.new.raw))
        elif now:
            self.events.put(("ADDED", change.new.raw))
        elif was:
            self.events.put(("DELETED", change.new.raw))


@dataclass
class ListPage:
    items: list[Entry]
    resource_version: int
    continue_token: str
    remaining: int | None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The resourceVersion of a continue token that lists at the current revision (upstream's -1).
INCONSISTENT_RV = -1


def encode_continue(rv: int, last: Key) -> str:
    start = f"{last[0]}/{last[1]}\x00"
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, Key]:
    """Raises ValueError for a token that is not one of ours."""
    padded = token + "=" * (-len(token) % 4)
    data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    start = str(data["start"]).rstrip("\x00")
    namespace, _, name = start.partition("/")
    rv = int(data["rv"])
    if rv == 0 or rv < INCONSISTENT_RV:
        raise ValueError(f"continue token with resourceVersion {rv}")
    return rv, (namespace, name)


class Store:
    """Thread-safe object store. Mutate it with add / update / apply / delete; watchers are notified."""

    def __init__(self, registry: ResourceRegistry | None = None, *, history_limit: int = 20_000) -> None:
        self.registry = registry or ResourceRegistry()
        self._lock = threading.RLock()
        self._rv = 1
        self._buckets: dict[tuple[str, str], _Bucket] = {
            rtype.key: _Bucket() for rtype in self.registry.stored()
        }
        self._history: deque[Change] = deque()
        self._history_limit = history_limit
        #: Changes with rv <= horizon are forgotten; tokens and watches older than it expire.
        self._horizon = 0
        self._watchers: set[Watcher] = set()

    # ----------------------------------------------------------------- reading
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def horizon(self) -> int:
        return self._horizon

    def bucket_version(self, resource: tuple[str, str]) -> int:
        """The resourceVersion of the last change to one resource type (for caches)."""
        return self._buckets[resource].last_change_rv

    def get_entry(self, resource: tuple[str, str], namespace: str, name: str) -> Entry | None:
        return self._buckets[resource].entries.get((namespace, name))

    def get(self, resource: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        entry = self.get_entry(resource, namespace, name)
        return entry.decode() if entry else None

    def count(self, resource: tuple[str, str]) -> int:
        return len(self._buckets[resource].entries)

    def entries(self, resource: tuple[str, str], namespace: str | None = None) -> list[Entry]:
        """A consistent snapshot of one resource's entries in list order."""
        with self._lock:
            bucket = self._buckets[resource]
            keys = bucket.sorted_keys()
            start, stop = self._namespace_range(keys, namespace)
            return [bucket.entries[key] for key in keys[start:stop]]

    def objects(self, resource: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]:
        return [entry.decode() for entry in self.entries(resource, namespace)]

    @staticmethod
    def _namespace_range(keys: list[Key], namespace: str | None) -> tuple[int, int]:
        if namespace is None:
            return 0, len(keys)
        start = bisect.bisect_left(keys, (namespace, ""))
        stop = bisect.bisect_left(keys, (namespace + "\x00", ""))
        return start, stop

    def list_page(
        self,
        resource: tuple[str, str],
        *,
        namespace: str | None = None,
        predicate: Predicate | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> ListPage:
        """One page of a list in etcd key order. Raises ExpiredError / ValueError for bad tokens."""
        with self._lock:
            bucket = self._buckets[resource]
            keys = bucket.sorted_keys()
            start, stop = self._namespace_range(keys, namespace)
            list_rv = self._rv
            if continue_token:
                token_rv, last = decode_continue(continue_token)
                if token_rv == INCONSISTENT_RV:
                    pass  # the token a 410 hands out: go on from its key at the current revision
                elif token_rv < self._horizon:
                    raise ExpiredError(token_rv, encode_continue(INCONSISTENT_RV, last))
                else:
                    list_rv = token_rv
                start = max(start, bisect.bisect_right(keys, last))
            items: list[Entry] = []
            position = start
            while position < stop:
                entry = bucket.entries[keys[position]]
                position += 1
                if predicate is None or predicate(entry):
                    items.append(entry)
                    if limit and len(items) >= limit:
                        break
            token = ""
            remaining: int | None = None
            if limit and len(items) >= limit and position < stop:
                token = encode_continue(list_rv, (items[-1].namespace, items[-1].name))
                # Like etcd, the count of what is left is exact only without a selector.
                remaining = stop - position if predicate is None else None
            return ListPage(items, list_rv, token, remaining)

    # ---------------------------------------------------------------- mutating
    def _prepare(self, obj: dict[str, Any], rv: int, existing: Entry | None) -> tuple[ResourceType, Entry]:
        rtype = self.registry.for_object(obj)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name"):
            raise ValueError(f"{rtype.kind} without metadata.name")
        if rtype.namespaced:
            metadata.setdefault("namespace", "default")
        else:
            metadata.pop("namespace", None)
        metadata["resourceVersion"] = str(rv)
        if existing is not None:
            previous = orjson.loads(existing.raw)["metadata"]
            metadata.setdefault("uid", previous.get("uid"))
            metadata.setdefault("creationTimestamp", previous.get("creationTimestamp"))
        # Only computed when missing: these run once per object when 100,000 pods are loaded.
        if not metadata.get("uid"):
            identity = f"{rtype.key}/{metadata.get('namespace', '')}/{metadata['name']}"
            metadata["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, identity))
        if not metadata.get("creationTimestamp"):
            metadata["creationTimestamp"] = _rfc3339(datetime.now(UTC))
        raw = orjson.dumps(obj)
        entry = Entry(
            metadata.get("namespace", ""),
            metadata["name"],
            raw,
            dict(metadata.get("labels") or {}),
            rtype.index_fields(obj),
            rv,
        )
        return rtype, entry

    def _record(self, change: Change) -> None:
        self._buckets[change.resource].last_change_rv = change.rv
        self._history.append(change)
        while len(self._history) > self._history_limit:
            self._horizon = self._history.popleft().rv
        for watcher in list(self._watchers):
            watcher.offer(change)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (a copy); returns it as served. Raises ConflictError if it exists."""
        return self._write(obj, must_exist=False)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an existing object. Raises NotFoundError if it does not exist."""
        return self._write(obj, must_exist=True)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Add or replace."""
        return self._write(obj, must_exist=None)

    def _write(self, obj: dict[str, Any], *, must_exist: bool | None) -> dict[str, Any]:
        obj = orjson.loads(orjson.dumps(obj))  # never alias the caller's dict
        with self._lock:
            rtype = self.registry.for_object(obj)
            metadata = obj.get("metadata", {})
            namespace = (metadata.get("namespace") or "default") if rtype.namespaced else ""
            bucket = self._buckets[rtype.key]
            existing = bucket.entries.get((namespace, metadata.get("name", "")))
            if must_exist is True and existing is None:
                raise NotFoundError(f'{rtype.qualified} "{metadata.get("name")}" not found')
            if must_exist is False and existing is not None:
                raise ConflictError(f'{rtype.qualified} "{metadata.get("name")}" already exists')
            self._rv += 1
            _, entry = self._prepare(obj, self._rv, existing)
            bucket.entries[(entry.namespace, entry.name)] = entry
            if existing is None:
                self._insert_key(bucket, (entry.namespace, entry.name))
            self._record(Change(self._rv, rtype.key, "MODIFIED" if existing else "ADDED", existing, entry))
            return obj

    @staticmethod
    def _insert_key(bucket: _Bucket, key: Key) -> None:
        if bucket.order_dirty:
            return
        if not bucket.order or bucket.order[-1] < key:
            bucket.order.append(key)
        else:
            bisect.insort(bucket.order, key)

    def delete(self, resource: tuple[str, str] | str, namespace: str, name: str) -> dict[str, Any]:
        """Remove an object; `resource` is (group, plural) or a plural of the core group ("pods")."""
        key = ("", resource) if isinstance(resource, str) else resource
        with self._lock:
            bucket = self._buckets[key]
            existing = bucket.entries.pop((namespace, name), None)
            if existing is None:
                raise NotFoundError(f'{key[1]} "{name}" not found')
            position = bisect.bisect_left(bucket.order, (namespace, name))
            if (
                not bucket.order_dirty
                and position < len(bucket.order)
                and bucket.order[position] == (namespace, name)
            ):
                del bucket.order[position]
            self._rv += 1
            obj = existing.decode()
            obj["metadata"]["resourceVersion"] = str(self._rv)
            final = Entry(
                existing.namespace,
                existing.name,
                orjson.dumps(obj),
                existing.labels,
                existing.fields,
                self._rv,
            )
            self._record(Change(self._rv, key, "DELETED", existing, final))
            return obj

    def load(self, objects: Iterable[dict[str, Any]]) -> int:
        """Bulk-load objects at start-up without history (fast path for 100k synthetic pods)."""
        count = 0
        with self._lock:
            for obj in objects:
                self._rv += 1
                copy = orjson.loads(orjson.dumps(obj)) if not isinstance(obj, _Owned) else obj
                rtype = self.registry.for_object(copy)
                bucket = self._buckets[rtype.key]
                key_ns = (copy.get("metadata", {}).get("namespace") or "default") if rtype.namespaced else ""
                existing = bucket.entries.get((key_ns, copy.get("metadata", {}).get("name", "")))
                _, entry = self._prepare(copy, self._rv, existing)
                bucket.entries[(entry.namespace, entry.name)] = entry
                bucket.order_dirty = True
                bucket.last_change_rv = self._rv
                count += 1
            # Nothing before this point can be replayed to a watch.
            self._horizon = self._rv
        return count

    def compact(self) -> int:
        """Forget all history, as an etcd compaction does: every continue token and watch
        resourceVersion issued so far becomes stale (410 Expired). Returns the new horizon."""
        with self._lock:
            self._rv += 1
            self._horizon = self._rv
            self._history.clear()
            return self._horizon

    # ------------------------------------------------------------ snapshots
    def snapshot(self) -> dict[tuple[str, str], dict[Key, Entry]]:
        """The current contents, cheap (entries are immutable once stored); see restore()."""
        with self._lock:
            return {resource: dict(bucket.entries) for resource, bucket in self._buckets.items()}

    def restore(self, snapshot: Mapping[tuple[str, str], Mapping[Key, Entry]]) -> int:
        """Undo mutations made since snapshot(): deleted objects come back, added ones go, changed
        ones get their old content (with fresh resourceVersions, and watchers see it all)."""
        changed = 0
        with self._lock:
            for resource, old_entries in snapshot.items():
                bucket = self._buckets[resource]
                for key in [key for key in bucket.entries if key not in old_entries]:
                    self.delete(resource, *key)
                    changed += 1
                for key, old in old_entries.items():
                    current = bucket.entries.get(key)
                    if current is old:
                        continue
                    obj = old.decode()
                    obj["metadata"].pop("resourceVersion", None)
                    self.apply(obj)
                    changed += 1
        return changed

    # ---------------------------------------------------------------- watching
    def watch(
        self,
        resource: tuple[str, str],
        *,
        namespace: str | None,
        predicate: Predicate | None,
        since: int | None,
    ) -> Watcher:
        """Register a watcher. since=None sends every current object as ADDED first; otherwise the
        changes after `since` are replayed. Raises ExpiredError if `since` is before the horizon."""
        watcher = Watcher(resource, namespace, predicate)
        with self._lock:
            watcher.start_rv = self._rv
            if since is None:
                for entry in self.entries(resource, namespace):
                    if watcher.matches(entry):
                        watcher.events.put(("ADDED", entry.raw))
                        watcher.initial_events += 1
            else:
                if since < self._horizon:
                    raise ExpiredError(since)
                for change in self._history:
                    if change.rv > since:
                        watcher.offer(change)
            self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)
        watcher.events.put(None)

    def close_watchers(self) -> None:
        with self._lock:
            watchers, self._watchers = list(self._watchers), set()
        for watcher in watchers:
            watcher.events.put(None)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for resource in list(self._buckets):
            yield from self.objects(resource)


class _Owned(dict):  # type: ignore[type-arg]
    """Marks a dict the caller hands over for good, so load() can skip the defensive copy."""


def owned(obj: dict[str, Any]) -> dict[str, Any]:
    return _Owned(obj)
