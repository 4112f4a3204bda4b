"""The HTTP side of the stand-in API server: routing, authentication, RBAC, faults, the request log,
and the JSON / Table / watch / log responses.

Large lists and every watch or follow stream go out with chunked transfer encoding, built by joining the
store's pre-serialized bytes, so a 100,000-pod list never re-serializes objects.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import re
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml

from sandbox import demo_names

from . import tables
from .metrics import UsageProvider, default_usage_provider, node_metrics, pod_metrics
from .podlogs import (
    LogOptions,
    LogProvider,
    LogRequestError,
    check_log_available,
    choose_container,
    default_log_provider,
    is_true,
)
from .protobuf import ProtobufError, decode_review
from .rbac import Attributes, Authorizer, UserInfo, forbidden_message, tokens_from
from .resources import ResourceType
from .selectors import SelectorError, field_predicate, label_predicate
from .store import Entry, ExpiredError, Store, owned
from .tls import sandbox_identity

GIT_VERSION = "v1.30.0-kams-sandbox"
VERSION_INFO = {
    "major": "1",
    "minor": "30",
    "gitVersion": GIT_VERSION,
    "gitCommit": "kams-sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")
FAULT_KINDS = ("latency", "forbidden", "throttle", "error", "hang")
STREAM_BATCH = 500  # list items per chunk when streaming a list: a page of the usual limit=500 is one


@dataclass(frozen=True)
class RequestRecord:
    time: datetime
    method: str
    path: str
    query: dict[str, str]
    user: str | None
    status: int
    duration: float


@dataclass
class Fault:
    pattern: re.Pattern[str]
    kind: str
    params: dict[str, Any]
    remaining: int | None = None  # None = every matching request
    hits: int = 0


@dataclass
class _Route:
    rtype: ResourceType
    namespace: str
    name: str
    subresource: str


class ApiError(Exception):
    """Ends a request with a Status object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        plain_text: bool = False,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = dict(headers or {})
        self.metadata = metadata or {}
        #: Answered as Go's http.NotFound does, not as a Status: what a real server says for a path
        #: outside every API group it serves.
        self.plain_text = plain_text

    def status_object(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def status_details(name: str, group: str, kind: str) -> dict[str, Any]:
    """Status.details as Go serializes it: empty name and group are left out (omitempty)."""
    details = {"name": name, "group": group, "kind": kind}
    return {key: value for key, value in details.items() if value}


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found',
                    status_details(name, rtype.group, rtype.plural))


def no_such_path(served_group: bool = True) -> ApiError:
    """Inside a served group version a real server answers a Status; elsewhere Go's plain-text 404."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {},
                    plain_text=not served_group)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    api: ApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up or reject our self-signed certificate are normal here, not tracebacks."""
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "kams-sandbox-apiserver"

    # --------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; server.request_log is the record."""

    def setup(self) -> None:
        # One port serves both: a TLS ClientHello starts with 0x16, plain HTTP with a method name.
        context = self.server.api._tls_context
        self._is_tls = False
        # Go's net/http (the real API server) turns Nagle's algorithm off; with it on, every response
        # written in several pieces (headers, then chunks) waits for the client's delayed ACK, ~40 ms
        # a page: 8 s of a 200-page list spent idle.
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            try:
                first = self.request.recv(1, socket.MSG_PEEK)
                if first == b"\x16":
                    self.request = context.wrap_socket(self.request, server_side=True)
                    self._is_tls = True
            except (OSError, ssl.SSLError):
                with contextlib.suppress(OSError):
                    self.request.close()
                raise
        super().setup()
        self.server.api._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.api._track(self.connection, False)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def _send_bytes(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if code != 204:  # HTTP forbids a Content-Length on 204 (Go's server leaves it out)
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._log_request()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, obj: Any, code: int = 200) -> None:
        self._send_bytes(code, orjson.dumps(obj))

    def _send_error(self, error: ApiError) -> None:
        if error.plain_text:
            self._send_bytes(error.code, b"404 page not found\n", "text/plain; charset=utf-8", error.headers)
            return
        self._send_bytes(error.code, orjson.dumps(error.status_object()), headers=error.headers)

    def _start_chunked(self, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def _chunk(self, data: bytes, flush: bool = False) -> None:
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        if flush:
            self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _client_gone(self) -> bool:
        """True once the client has closed its side (a readable socket with nothing to read)."""
        try:
            if isinstance(self.connection, ssl.SSLSocket) and self.connection.pending():
                return False
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if not isinstance(self.connection, ssl.SSLSocket):
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            # TLS cannot peek: read (a streaming client sends nothing more), EOF or close_notify = gone.
            self.connection.settimeout(0)
            try:
                return self.connection.recv(1) == b""
            except (ssl.SSLWantReadError, BlockingIOError):
                return False
            finally:
                self.connection.settimeout(None)
        except (OSError, ValueError):
            return True

    # ---------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        api = self.server.api
        self._started = time.monotonic()
        self._status = 0
        self._logged = False
        self._user: UserInfo | None = None
        split = urlsplit(self.path)
        self._request_path = split.path
        path = split.path.rstrip("/") or "/"
        # The first of a repeated parameter counts, as in Go's url.Values.Get and ListOptions decoding.
        query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        self._query = query
        user: UserInfo | None = None
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        try:
            try:
                user = self._authenticate(path)
                self._user = user
                api._apply_faults(self, path, user)
                self._route(path, query, user, body)
            except ApiError as error:
                self._send_error(error)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        finally:
            self._log_request()

    def _log_request(self) -> None:
        """Record this request once. Plain responses are logged just before their body is written, so a
        client that has read its answer always finds the request in the log (tests count requests)."""
        if self._logged:
            return
        self._logged = True
        self.server.api._log(
            RequestRecord(
                datetime.now(UTC),
                self.command,
                self._request_path,
                self._query,
                self._user.name if self._user else None,
                self._status,
                time.monotonic() - self._started,
            )
        )

    def _authenticate(self, path: str) -> UserInfo | None:
        header = self.headers.get("Authorization") or ""
        if header.lower().startswith("bearer "):
            user = self.server.api.tokens.get(header[7:].strip())
            if user is not None:
                return user
        elif not header and path in ANONYMOUS_PATHS:
            return None
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def _authorize(self, user: UserInfo | None, attrs: Attributes, qualified: str = "") -> None:
        if user is None:  # anonymous: only the public health and version endpoints reach here
            return
        allowed, _ = self.server.api.authorizer.authorize(user, attrs)
        if not allowed:
            details: dict[str, Any] = {}
            if attrs.resource_request:
                details = status_details(attrs.name, attrs.api_group, attrs.resource)
            raise ApiError(403, "Forbidden", forbidden_message(user, attrs, qualified), details)

    # ----------------------------------------------------------------- routing
    def _route(self, path: str, query: dict[str, str], user: UserInfo | None, body: bytes) -> None:
        api = self.server.api
        parts = [part for part in path.split("/") if part]
        is_resource_path = (parts[:2] == ["api", "v1"] and len(parts) > 2) or (
            parts[:1] == ["apis"] and len(parts) > 3
        )
        if not is_resource_path:
            self._authorize(
                user,
                Attributes(
                    verb=self.command.lower() if self.command != "HEAD" else "get",
                    resource_request=False,
                    path=path,
                ),
            )
            if self.command not in ("GET", "HEAD"):
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            try:
                self._send_json(api._non_resource(parts))
            except _PlainOk:
                self._send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return
        if parts[0] == "api":
            group, version, rest = "", "v1", parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        # As upstream's filter chain: the authorizer judges what the URL asks for before anything
        # looks it up, so a reader is refused (403) a resource that does not exist, not told 404.
        namespace, resource, name, subresource = _request_info(rest)
        verb = self._verb(name, query)
        attrs = Attributes(
            verb=verb,
            resource_request=True,
            api_group=group,
            resource=resource,
            subresource=subresource,
            namespace=namespace,
            name=name,
            path=path,
        )
        self._authorize(user, attrs, f"{resource}.{group}" if group else resource)
        route = self._resolve(group, version, rest)
        rtype = route.rtype
        if verb == "create" and rtype.virtual:
            assert user is not None
            self._review(rtype, user, body)
        elif verb not in rtype.verbs and not (route.subresource and verb == "get"):
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        elif route.subresource == "log":
            self._pod_log(route, query)
        elif route.subresource:
            raise no_such_path()
        elif rtype.computed:
            self._metrics(route, query)
        elif verb == "watch":
            self._watch(route, query)
        elif verb == "list":
            self._list(route, query)
        else:
            self._get(route, query)

    def _resolve(self, group: str, version: str, rest: list[str]) -> _Route:
        registry = self.server.api.store.registry
        if (group or version != "v1") and version not in registry.group_versions().get(group, []):
            raise no_such_path(served_group=False)
        namespace = ""
        if rest and rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize"):
            namespace = rest[1]
            rest = rest[2:]
        elif rest and rest[0] == "namespaces" and len(rest) > 1:
            namespace = rest[1]  # the namespace object itself: RBAC sees its own namespace
        if not rest or len(rest) > 3:
            raise no_such_path()
        rtype = registry.lookup(group, version, rest[0])
        if rtype is None:
            raise no_such_path()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and subresource not in rtype.subresources:
            raise no_such_path()
        if rtype.namespaced and name and not namespace:
            raise no_such_path()
        if not rtype.namespaced and rtype.plural != "namespaces" and namespace:
            raise no_such_path()
        return _Route(rtype, namespace, name, subresource)

    def _verb(self, name: str, query: dict[str, str]) -> str:
        if self.command in ("GET", "HEAD"):
            if is_true(query.get("watch")):
                return "watch"
            return "get" if name else "list"
        return {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[self.command]

    # ------------------------------------------------------------- responses
    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept") or ""
        first = accept.split(",")[0]
        return "as=Table" in first and "g=meta.k8s.io" in first

    def _predicate(self, rtype: ResourceType, query: dict[str, str]) -> Any:
        try:
            labels = label_predicate(query.get("labelSelector"))
            supported = rtype.field_labels
            fields = field_predicate(query.get("fieldSelector"), supported)
        except SelectorError as error:
            raise bad_request(str(error)) from None
        if labels is None and fields is None:
            return None

        def matches(entry: Entry) -> bool:
            return (labels is None or labels(entry.labels)) and (fields is None or fields(entry.fields))

        return matches

    def _get(self, route: _Route, query: dict[str, str]) -> None:
        store = self.server.api.store
        namespace = route.namespace if route.rtype.namespaced else ""
        entry = store.get_entry(route.rtype.key, namespace, route.name)
        if entry is None:
            raise not_found(route.rtype, route.name)
        if self._wants_table():
            self._send_table(route.rtype, [entry], query, store.resource_version, "", None)
        else:
            self._send_bytes(200, entry.raw)

    def _list(self, route: _Route, query: dict[str, str]) -> None:
        api = self.server.api
        rtype = route.rtype
        predicate = self._predicate(rtype, query)
        try:
            limit = max(0, int(query.get("limit") or 0))
        except ValueError:
            raise bad_request(f"invalid limit: {query.get('limit')!r}") from None
        try:
            page = api.store.list_page(
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
            raise bad_request(
                "invalid continue token: continue key is not valid: incorrect encoded start "
                "resourceVersion (version meta.k8s.io/v1)"
            ) from None
        if self._wants_table():
            self._send_table(
                rtype, page.items, query, page.resource_version, page.continue_token, page.remaining
            )
            return
        metadata: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        if page.remaining is not None:
            metadata["remainingItemCount"] = page.remaining
        head = (
            b'{"kind":"'
            + rtype.list_kind.encode()
            + b'","apiVersion":"'
            + rtype.group_version.encode()
            + b'","metadata":'
            + orjson.dumps(metadata)
            + b',"items":['
        )
        self._stream_items(head, (entry.raw for entry in page.items), b"]}")

    def _stream_items(self, head: bytes, items: Iterable[bytes], tail: bytes) -> None:
        """The list body as chunks of up to STREAM_BATCH stored objects, each framed and joined in one
        copy and sent in one write (a page of 500: one chunk, the terminator included). Framing chunk
        by chunk with separate writes cost three copies of every byte and ~2x the TLS writes, ~0.7 s of
        this server's CPU per 100,000-pod list (bench/PROFILE.md), all of it taken from the client on
        a 2-core machine."""
        self._start_chunked()
        write = self.wfile.write
        parts: list[bytes] = [b"", head]  # parts[0]: the chunk's size line, known once it is full
        size = len(head)
        separator = b""
        for count, raw in enumerate(items):
            if count and count % STREAM_BATCH == 0:  # a full chunk, and more to come: send it
                parts[0] = b"%x\r\n" % size
                parts.append(b"\r\n")
                write(b"".join(parts))
                parts, size = [b""], 0
            parts.append(separator)
            parts.append(raw)
            size += len(separator) + len(raw)
            separator = b","
        parts.append(tail)
        parts[0] = b"%x\r\n" % (size + len(tail))
        parts.append(b"\r\n0\r\n\r\n")
        # Logged before the last chunk goes out, like a plain response: a client that has read the whole
        # list always finds the request in the log (tests counting requests raced with this before).
        self._log_request()
        write(b"".join(parts))
        self.wfile.flush()

    def _table_bytes(
        self,
        rtype: ResourceType,
        entries: list[Entry],
        query: dict[str, str],
        metadata: dict[str, Any],
        with_columns: bool = True,
    ) -> bytes:
        include = query.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise bad_request(
                f'includeObject: Unsupported value: "{include}": supported values: "Metadata", '
                f'"None", "Object"'
            )
        with gc_paused():  # decoding 500 pods makes many small objects: no collections meanwhile
            sources = [(*tables.table_source(rtype, entry.raw), entry) for entry in entries]
            triples = [(obj, orjson.Fragment(entry.raw), metadata) for obj, metadata, entry in sources]
        columns, rows = tables.table_parts(rtype, triples, include)
        table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
        if with_columns:
            table["columnDefinitions"] = columns
        table["rows"] = rows
        return orjson.dumps(table)

    def _send_table(
        self,
        rtype: ResourceType,
        entries: list[Entry],
        query: dict[str, str],
        rv: int,
        continue_token: str,
        remaining: int | None,
    ) -> None:
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if continue_token:
            metadata["continue"] = continue_token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
        body = self._table_bytes(rtype, entries, query, metadata)
        self._send_bytes(200, body)

    # ------------------------------------------------------------------ watch
    def _watch(self, route: _Route, query: dict[str, str]) -> None:
        api = self.server.api
        rtype = route.rtype
        predicate = self._predicate(rtype, query)
        if route.name:  # a watch on one object is a watch with a name selector
            wanted = route.name

            def one(entry: Entry, inner: Any = predicate) -> bool:
                return entry.name == wanted and (inner is None or inner(entry))

            predicate = one
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
        as_table = self._wants_table()
        self._start_chunked()
        try:
            watcher = api.store.watch(
                rtype.key, namespace=route.namespace or None, predicate=predicate, since=since
            )
        except ExpiredError:
            error = expired(f"too old resource version: {since} ({api.store.horizon})").status_object()
            self._chunk(orjson.dumps({"type": "ERROR", "object": error}) + b"\n", flush=True)
            self._end_chunked()
            return
        next_bookmark = time.monotonic() + api.bookmark_interval
        first_table = True
        initial_left = watcher.initial_events if initial_events else -1
        try:
            while not api._stopping.is_set():
                if initial_left == 0:
                    marker = {
                        "kind": rtype.kind,
                        "apiVersion": rtype.group_version,
                        "metadata": {
                            "resourceVersion": str(watcher.start_rv),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    }
                    self._chunk(orjson.dumps({"type": "BOOKMARK", "object": marker}) + b"\n", flush=True)
                    initial_left = -1
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    marker = {
                        "kind": rtype.kind,
                        "apiVersion": rtype.group_version,
                        "metadata": {"resourceVersion": str(api.store.resource_version)},
                    }
                    self._chunk(orjson.dumps({"type": "BOOKMARK", "object": marker}) + b"\n", flush=True)
                    next_bookmark = now + api.bookmark_interval
                try:
                    item = watcher.events.get(timeout=min(0.25, max(0.01, deadline - now)))
                except Exception:  # queue.Empty: check the client and the clock again
                    if self._client_gone():
                        break
                    continue
                if item is None:
                    break
                kind, raw = item
                if as_table:
                    entry_obj = orjson.loads(raw)
                    entry = Entry(
                        entry_obj["metadata"].get("namespace", ""),
                        entry_obj["metadata"]["name"],
                        raw,
                        {},
                        {},
                        0,
                    )
                    raw = self._table_bytes(
                        rtype,
                        [entry],
                        query,
                        {"resourceVersion": entry_obj["metadata"]["resourceVersion"]},
                        with_columns=first_table,
                    )
                    first_table = False
                self._chunk(b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n", flush=True)
                if initial_left > 0:
                    initial_left -= 1
            self._end_chunked()
        finally:
            api.store.unwatch(watcher)

    # -------------------------------------------------------------------- logs
    def _pod_log(self, route: _Route, query: dict[str, str]) -> None:
        api = self.server.api
        pod_type = route.rtype
        pod = api.store.get(pod_type.key, route.namespace, route.name)
        if pod is None:
            raise not_found(pod_type, route.name)
        now = datetime.now(UTC)
        previous = is_true(query.get("previous"))
        follow = is_true(query.get("follow"))
        try:
            container = choose_container(pod, query.get("container"))
            options = LogOptions.from_query(query, now)
            if not check_log_available(pod, container, previous):
                self._send_bytes(204, b"", "text/plain")
                return
            lines = api.log_provider(pod, container, previous, now)
            if lines is None:
                if previous:
                    raise LogRequestError(
                        f'previous terminated container "{container}" in pod "{route.name}" not found'
                    )
                lines = []
        except LogRequestError as error:
            raise bad_request(str(error)) from None
        selected = options.select(lines)
        budget = options.limit_bytes
        body = options.render(selected)
        if budget is not None:
            body = body[:budget]
        if not follow or previous:
            self._send_bytes(200, body, "text/plain")
            return
        self._start_chunked("text/plain")
        self._chunk(body, flush=True)
        sent = len(body)
        last_seen = lines[-1][0] if lines else None
        deadline = time.monotonic() + api.max_follow_seconds
        while not api._stopping.wait(api.follow_poll_interval):
            if time.monotonic() >= deadline or self._client_gone():
                break
            if budget is not None and sent >= budget:
                break
            fresh = api.log_provider(pod, container, False, datetime.now(UTC)) or []
            new_lines = [line for line in fresh if last_seen is None or line[0] > last_seen]
            if not new_lines:
                continue
            last_seen = new_lines[-1][0]
            data = options.render(new_lines)
            if budget is not None:
                data = data[: budget - sent]
            self._chunk(data, flush=True)
            sent += len(data)
        self._end_chunked()

    # ----------------------------------------------------------------- metrics
    def _metrics(self, route: _Route, query: dict[str, str]) -> None:
        api = self.server.api
        now = datetime.now(UTC)
        rtype = route.rtype
        labels = self._label_only(query)
        if rtype.plural == "pods":
            pods = [
                entry
                for entry in api.store.entries(("", "pods"), route.namespace or None)
                if (not route.name or entry.name == route.name) and (labels is None or labels(entry.labels))
            ]
            items = [m for m in (pod_metrics(e.decode(), api.usage_provider, now) for e in pods) if m]
        else:
            all_pods = api.store.objects(("", "pods"))
            nodes = [
                entry
                for entry in api.store.entries(("", "nodes"))
                if (not route.name or entry.name == route.name) and (labels is None or labels(entry.labels))
            ]
            items = [node_metrics(node.decode(), all_pods, api.usage_provider, now) for node in nodes]
        if route.name:
            if not items:
                raise ApiError(
                    404,
                    "NotFound",
                    f'{rtype.singular or rtype.kind.lower()}.{rtype.group} "{route.name}" not found',
                    status_details(route.name, rtype.group, rtype.plural),
                )
            self._send_json(items[0])
            return
        self._send_json(
            {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.group_version,
                "metadata": {"resourceVersion": ""},
                "items": items,
            }
        )

    def _label_only(self, query: dict[str, str]) -> Any:
        try:
            return label_predicate(query.get("labelSelector"))
        except SelectorError as error:
            raise bad_request(str(error)) from None

    # ----------------------------------------------------------------- reviews
    def _review(self, rtype: ResourceType, user: UserInfo, body: bytes) -> None:
        authorizer = self.server.api.authorizer
        content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        try:
            if content_type == "application/vnd.kubernetes.protobuf":
                review = decode_review(body, rtype.kind)
            elif content_type == "application/json":
                review = orjson.loads(body or b"{}")
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - "
                    "accepted media types include: application/json, application/yaml, "
                    "application/vnd.kubernetes.protobuf",
                )
        except (orjson.JSONDecodeError, ProtobufError) as error:
            raise bad_request(f"the request body could not be decoded: {error}") from None
        spec = review.get("spec") or {}
        if rtype.plural == "selfsubjectaccessreviews":
            resource = spec.get("resourceAttributes")
            non_resource = spec.get("nonResourceAttributes")
            if resource:
                attrs = Attributes(
                    verb=resource.get("verb", ""),
                    resource_request=True,
                    api_group=resource.get("group", ""),
                    resource=resource.get("resource", ""),
                    subresource=resource.get("subresource", ""),
                    namespace=resource.get("namespace", ""),
                    name=resource.get("name", ""),
                )
            elif non_resource:
                attrs = Attributes(
                    verb=non_resource.get("verb", ""),
                    resource_request=False,
                    path=non_resource.get("path", ""),
                )
            else:
                raise ApiError(
                    422,
                    "Invalid",
                    f'{rtype.qualified} "" is invalid: spec.resourceAttributes: '
                    'Invalid value: "null": exactly one of nonResourceAttributes or '
                    "resourceAttributes must be specified",
                )
            allowed, reason = authorizer.authorize(user, attrs)
            status: dict[str, Any] = {"allowed": allowed}
            if reason:
                status["reason"] = reason
        else:
            resource_rules, non_resource_rules = authorizer.rules_for(user, spec.get("namespace", ""))
            status = {
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": False,
            }
            spec = {}  # a real server answers a rules review without echoing its spec
        answer = {
            "kind": rtype.kind,
            "apiVersion": rtype.group_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        self._send_json(answer, 201)


class ApiServer:
    """The stand-in kube-apiserver. Use as a context manager or call start() / stop()."""

    def __init__(
        self,
        objects: Iterable[dict[str, Any]] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Mapping[str, Any] | None = None,
        log_provider: LogProvider | None = None,
        usage_provider: UsageProvider | None = None,
        synthetic_pods: int = 0,
        bookmark_interval: float = 10.0,
        follow_poll_interval: float = 0.5,
        max_follow_seconds: float = 600.0,
        max_watch_seconds: float = 1800.0,
        tls: bool = True,
    ) -> None:
        self.store = Store()
        self.store.load(owned(obj) for obj in _copies(objects))
        if synthetic_pods:
            # Generated objects are fresh dicts nobody else holds, so they skip the defensive copy.
            self.store.load(owned(obj) for obj in synthetic_objects(synthetic_pods))
            # The stored objects live for good: keep the garbage collector from rescanning 100k entries.
            gc.collect()
            gc.freeze()
        self.tokens = tokens_from(tokens)
        self.authorizer = Authorizer(self.store)
        self.log_provider: LogProvider = log_provider or default_log_provider()
        self.usage_provider: UsageProvider = usage_provider or default_usage_provider()
        self.bookmark_interval = bookmark_interval
        self.follow_poll_interval = follow_poll_interval
        self.max_follow_seconds = max_follow_seconds
        self.max_watch_seconds = max_watch_seconds
        self._host, self._requested_port = host, port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._request_log: list[RequestRecord] = []
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._tls = sandbox_identity() if tls else None
        self._tls_context = self._tls.server_context() if self._tls else None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> ApiServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self._host, self._requested_port), _Handler)
        httpd.api = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"kams-apiserver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; ends watches, log follows and hanging faults, and closes open connections."""
        if self._httpd is None:
            return
        self._stopping.set()
        self.store.close_watchers()
        self._httpd.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the API server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Plain http on the server's port (fine for scripts and the Python client; not for kubectl)."""
        return f"http://{self._host}:{self.port}"

    @property
    def https_url(self) -> str | None:
        """The same port over TLS (what kubeconfigs use), or None when openssl was not available."""
        return f"https://{self._host}:{self.port}" if self._tls else None

    @property
    def ca_pem(self) -> bytes | None:
        """The self-signed certificate clients must trust for https_url."""
        return self._tls.cert_pem if self._tls else None

    def _track(self, connection: socket.socket, opened: bool) -> None:
        with self._connections_lock:
            if opened:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # ------------------------------------------------------------ kubeconfig
    def write_kubeconfig(
        self,
        path: str | Path,
        token: str,
        context_name: str = demo_names.CLUSTER_NAME,
        namespace: str = "default",
    ) -> Path:
        """A kubeconfig for this server authenticating with `token`.

        It points at https (with the self-signed certificate embedded) whenever the server has TLS,
        because kubectl silently drops bearer tokens on plain http; otherwise at plain http."""
        user = self.tokens.get(token)
        user_name = (user.name.split(":")[-1] if user else "user") + "@" + context_name
        cluster: dict[str, Any] = {"server": self.url}
        if self._tls is not None:
            cluster = {
                "server": self.https_url,
                "certificate-authority-data": base64.b64encode(self._tls.cert_pem).decode(),
            }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context_name, "cluster": cluster}],
            "users": [{"name": user_name, "user": {"token": token}}],
            "contexts": [
                {
                    "name": context_name,
                    "context": {"cluster": context_name, "user": user_name, "namespace": namespace},
                }
            ],
            "current-context": context_name,
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        target.chmod(0o600)
        return target

    # ---------------------------------------------------------------- faults
    def set_fault(self, path_regex: str, kind: str, *, times: int | None = None, **params: Any) -> Fault:
        """Make requests whose path matches `path_regex` (re.search) misbehave.

        kinds: latency(seconds=1.0) then serve normally; forbidden (403); throttle(retry_after=1) (429);
        error(message=...) (500); hang (hold the connection until the client leaves or the server stops).
        `times` limits how many requests the fault hits (default: all until clear_faults())."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {FAULT_KINDS}")
        fault = Fault(re.compile(path_regex), kind, params, times)
        with self._faults_lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def _matching_fault(self, path: str) -> Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.pattern.search(path) and (fault.remaining is None or fault.remaining > 0):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _apply_faults(self, handler: _Handler, path: str, user: UserInfo | None) -> None:
        fault = self._matching_fault(path)
        if fault is None:
            return
        if fault.kind == "latency":
            self._stopping.wait(float(fault.params.get("seconds", 1.0)))
        elif fault.kind == "forbidden":
            who = user.name if user else "system:anonymous"
            raise ApiError(
                403,
                "Forbidden",
                fault.params.get("message", f'forbidden: User "{who}" cannot get path "{path}"'),
                {},
            )
        elif fault.kind == "throttle":
            retry_after = int(fault.params.get("retry_after", 1))
            raise ApiError(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                {
                    "causes": [{"reason": "TooManyRequests", "message": "injected by the sandbox"}],
                    "retryAfterSeconds": retry_after,
                },
                {"Retry-After": str(retry_after)},
            )
        elif fault.kind == "error":
            raise ApiError(
                500,
                "InternalError",
                "Internal error occurred: " + fault.params.get("message", "injected fault"),
                {"causes": [{"message": fault.params.get("message", "injected fault")}]},
            )
        elif fault.kind == "hang":
            limit = time.monotonic() + float(fault.params.get("seconds", 3600))
            while not self._stopping.wait(0.1):
                if handler._client_gone() or time.monotonic() > limit:
                    break
            handler.close_connection = True
            raise ConnectionAbortedError("hang fault: connection dropped without a response")

    # ------------------------------------------------------------ request log
    def _log(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._request_log.append(record)

    @property
    def request_log(self) -> list[RequestRecord]:
        """A copy of every request served so far, oldest first."""
        with self._log_lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    def requests_to(self, path_regex: str) -> list[RequestRecord]:
        pattern = re.compile(path_regex)
        return [record for record in self.request_log if pattern.search(record.path)]

    # --------------------------------------------------------------- discovery
    def _non_resource(self, parts: list[str]) -> Any:
        registry = self.store.registry
        if parts == []:
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
            paths += [f"/apis/{g}" for g in registry.group_versions()]
            paths += [f"/apis/{g}/{v}" for g, vs in registry.group_versions().items() for v in vs]
            return {"paths": sorted(paths)}
        if parts == ["version"]:
            return VERSION_INFO
        if parts in (["healthz"], ["livez"], ["readyz"]):
            raise _PlainOk()
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self.port}"}
                ],
            }
        if parts == ["api", "v1"]:
            listing = self._resource_list("", "v1")
            del listing["apiVersion"]  # the legacy core group's list has none on a real server
            return listing
        if parts == ["apis"]:
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    self._group(group, versions) for group, versions in registry.group_versions().items()
                ],
            }
        if len(parts) == 2 and parts[0] == "apis":
            versions = registry.group_versions().get(parts[1])
            if versions:
                return {"kind": "APIGroup", "apiVersion": "v1", **self._group(parts[1], versions)}
        if len(parts) == 3 and parts[0] == "apis" and parts[2] in registry.group_versions().get(parts[1], []):
            return self._resource_list(parts[1], parts[2])
        raise no_such_path(served_group=parts[:1] == ["api"])

    @staticmethod
    def _group(group: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rtype in self.store.registry.in_group_version(group, version):
            resources.extend(rtype.discovery_entries())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _request_info(rest: list[str]) -> tuple[str, str, str, str]:
    """(namespace, resource, name, subresource) of a resource URL's tail after the group version, as
    upstream's RequestInfoFactory reads it, whether or not this server serves that resource."""
    namespace = ""
    if len(rest) > 1 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    return namespace, resource, name, subresource


class _PlainOk(Exception):
    """Raised by discovery for /healthz-style endpoints, which answer text, not JSON."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) while building many short-lived objects."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _copies(objects: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for obj in objects:
        yield orjson.loads(orjson.dumps(obj))


def synthetic_objects(n_pods: int, seed: int = 0) -> Iterable[dict[str, Any]]:
    """Objects for --synthetic-pods: sandbox.synthetic's when it exists, else a plain fallback."""
    try:
        from sandbox.synthetic import synthetic_objects as realistic
    except ImportError:
        from ._fallback_synthetic import fallback_synthetic_objects

        return fallback_synthetic_objects(n_pods, seed)
    return realistic(n_pods, seed=seed)
