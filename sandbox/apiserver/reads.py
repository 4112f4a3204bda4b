"""get and list: one object or a page of a list, as JSON or as a Table, with label and field selectors
and limit/continue paging."""

from __future__ import annotations

from typing import Any

import orjson

from . import tables
from .errors import ApiError, bad_request, not_found
from .resources import ResourceType
from .routing import Route
from .selectors import SelectorError, field_predicate, label_predicate
from .store import Entry, ExpiredError, Predicate
from .transport import Exchange

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)
INVALID_CONTINUE = (
    "invalid continue token: continue key is not valid: incorrect encoded start "
    "resourceVersion (version meta.k8s.io/v1)"
)


def selector_predicate(rtype: ResourceType, query: dict[str, str]) -> Predicate | None:
    """The request's labelSelector and fieldSelector as one test of a stored entry; None when neither."""
    try:
        labels = label_predicate(query.get("labelSelector"))
        fields = field_predicate(query.get("fieldSelector"), rtype.field_labels)
    except SelectorError as error:
        raise bad_request(str(error)) from None
    if labels is None and fields is None:
        return None

    def matches(entry: Entry) -> bool:
        return (labels is None or labels(entry.labels)) and (fields is None or fields(entry.fields))

    return matches


def wants_table(exchange: Exchange) -> bool:
    return tables.wants_table(exchange.headers.get("Accept") or "")


def list_metadata(resource_version: int, continue_token: str, remaining: int | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return metadata


def serve_get(exchange: Exchange, route: Route, query: dict[str, str]) -> None:
    store = exchange.api.store
    namespace = route.namespace if route.rtype.namespaced else ""
    entry = store.get_entry(route.rtype.key, namespace, route.name)
    if entry is None:
        raise not_found(route.rtype, route.name)
    if wants_table(exchange):
        metadata = list_metadata(store.resource_version, "", None)
        exchange.send_bytes(200, tables.table_body(route.rtype, [entry], include_object(query), metadata))
    else:
        exchange.send_bytes(200, entry.raw)


def serve_list(exchange: Exchange, route: Route, query: dict[str, str]) -> None:
    rtype = route.rtype
    predicate = selector_predicate(rtype, query)
    try:
        limit = max(0, int(query.get("limit") or 0))
    except ValueError:
        raise bad_request(f"invalid limit: {query.get('limit')!r}") from None
    try:
        page = exchange.api.store.list_page(
            rtype.key,
            namespace=route.namespace or None,
            predicate=predicate,
            limit=limit,
            continue_token=query.get("continue") or None,
        )
    except ExpiredError as error:
        # Like etcd3's store: the answer carries a token that goes on from the same key at the
        # current revision, for clients that accept an inconsistent list.
        resume = {"continue": error.args[1]} if len(error.args) > 1 else {}
        raise ApiError(410, "Expired", CONTINUE_EXPIRED, metadata=resume) from None
    except (ValueError, KeyError, TypeError):
        raise bad_request(INVALID_CONTINUE) from None
    metadata = list_metadata(page.resource_version, page.continue_token, page.remaining)
    if wants_table(exchange):
        exchange.send_bytes(200, tables.table_body(rtype, page.items, include_object(query), metadata))
        return
    head = (
        b'{"kind":"'
        + rtype.list_kind.encode()
        + b'","apiVersion":"'
        + rtype.group_version.encode()
        + b'","metadata":'
        + orjson.dumps(metadata)
        + b',"items":['
    )
    exchange.stream_items(head, (entry.raw for entry in page.items), b"]}")


def include_object(query: dict[str, str]) -> str:
    return query.get("includeObject") or "Metadata"
