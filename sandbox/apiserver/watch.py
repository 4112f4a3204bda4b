"""watch: a chunked stream of change events, with bookmarks, sendInitialEvents (client-go's watch-list),
a watch on one object, and Table events for kubectl get --watch."""

from __future__ import annotations

import time
from typing import Any

import orjson

from . import tables
from .errors import bad_request, expired
from .reads import include_object, selector_predicate, wants_table
from .resources import ResourceType
from .routing import Route, is_true
from .store import Entry, ExpiredError, Predicate
from .transport import Exchange


def _named(name: str, inner: Predicate | None) -> Predicate:
    """A watch on one object is a watch with a name selector."""

    def one(entry: Entry) -> bool:
        return entry.name == name and (inner is None or inner(entry))

    return one


def _bookmark(rtype: ResourceType, metadata: dict[str, Any]) -> bytes:
    marker = {"kind": rtype.kind, "apiVersion": rtype.group_version, "metadata": metadata}
    return orjson.dumps({"type": "BOOKMARK", "object": marker}) + b"\n"


def _table_event_object(rtype: ResourceType, raw: bytes, include: str, with_columns: bool) -> bytes:
    obj = orjson.loads(raw)
    entry = Entry(obj["metadata"].get("namespace", ""), obj["metadata"]["name"], raw, {}, {}, 0)
    metadata = {"resourceVersion": obj["metadata"]["resourceVersion"]}
    return tables.table_body(rtype, [entry], include, metadata, with_columns=with_columns)


def serve_watch(exchange: Exchange, route: Route, query: dict[str, str]) -> None:
    api = exchange.api
    rtype = route.rtype
    predicate = selector_predicate(rtype, query)
    if route.name:
        predicate = _named(route.name, predicate)
    since_text = query.get("resourceVersion") or ""
    since: int | None = None
    # sendInitialEvents (client-go's watch-list): the current state as ADDED events, then a
    # bookmark annotated "k8s.io/initial-events-end", then changes.
    initial_events = is_true(query.get("sendInitialEvents"))
    if since_text not in ("", "0") and not initial_events:
        try:
            since = int(since_text)
        except ValueError:
            raise bad_request(f"resourceVersion: Invalid value: {since_text!r}") from None
    try:
        timeout = float(query.get("timeoutSeconds") or api.max_watch_seconds)
    except ValueError:
        raise bad_request("timeoutSeconds: Invalid value") from None
    deadline = time.monotonic() + min(timeout, api.max_watch_seconds)
    bookmarks = is_true(query.get("allowWatchBookmarks"))
    as_table = wants_table(exchange)
    exchange.start_chunked()
    try:
        watcher = api.store.watch(
            rtype.key, namespace=route.namespace or None, predicate=predicate, since=since
        )
    except ExpiredError:
        error = expired(f"too old resource version: {since} ({api.store.horizon})").status_object()
        exchange.chunk(orjson.dumps({"type": "ERROR", "object": error}) + b"\n", flush=True)
        exchange.end_chunked()
        return
    next_bookmark = time.monotonic() + api.bookmark_interval
    first_table = True
    initial_left = watcher.initial_events if initial_events else -1
    try:
        while not api.stopping.is_set():
            if initial_left == 0:
                initial_end = {
                    "resourceVersion": str(watcher.start_rv),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                }
                exchange.chunk(_bookmark(rtype, initial_end), flush=True)
                initial_left = -1
            now = time.monotonic()
            if now >= deadline:
                break
            if bookmarks and now >= next_bookmark:
                current = {"resourceVersion": str(api.store.resource_version)}
                exchange.chunk(_bookmark(rtype, current), flush=True)
                next_bookmark = now + api.bookmark_interval
            try:
                item = watcher.events.get(timeout=min(0.25, max(0.01, deadline - now)))
            except Exception:  # queue.Empty: check the client and the clock again
                if exchange.client_gone():
                    break
                continue
            if item is None:
                break
            kind, raw = item
            if as_table:
                raw = _table_event_object(rtype, raw, include_object(query), with_columns=first_table)
                first_table = False
            exchange.chunk(b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n", flush=True)
            if initial_left > 0:
                initial_left -= 1
        exchange.end_chunked()
    finally:
        api.store.unwatch(watcher)
