"""The stand-in API server: its lifecycle, kubeconfig, faults and request log, and the HTTP handler,
a thin router that authenticates, authorizes and hands each request to the endpoint for its concern:
discovery, reads (get, list), watch, podlogs, metrics, access (reviews)."""

from __future__ import annotations

import base64
import contextlib
import gc
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml

from sandbox import demo_names

from . import access, discovery, reads, routing, watch
from .discovery import GIT_VERSION
from .errors import ApiError, method_not_allowed, no_such_path
from .faults import Fault, FaultList, inject
from .metrics import UsageProvider, default_usage_provider, serve_metrics
from .podlogs import LogProvider, default_log_provider, serve_pod_log
from .rbac import Attributes, Authorizer, UserInfo, tokens_from
from .requestlog import RequestLog, RequestRecord
from .store import Store, owned
from .tls import sandbox_identity
from .transport import STREAM_BATCH, Exchange, HTTPServer

__all__ = ["GIT_VERSION", "STREAM_BATCH", "ApiServer", "Fault", "RequestRecord"]


class _Handler(Exchange):
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
        split = urlsplit(self.path)
        # The first of a repeated parameter counts, as in Go's url.Values.Get and ListOptions decoding.
        query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        self.begin_request(split.path, query)
        path = split.path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            try:
                authorization = self.headers.get("Authorization") or ""
                self.user = access.authenticate(authorization, self.api.tokens, path)
                fault = self.api.faults.take(path)
                if fault is not None:
                    inject(fault, self, path, self.user)
                self._route(path, query, self.user, body)
            except ApiError as error:
                self.send_error_status(error)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        finally:
            self.record_request()

    def _route(self, path: str, query: dict[str, str], user: UserInfo | None, body: bytes) -> None:
        parts = [part for part in path.split("/") if part]
        if not routing.is_resource_path(parts):
            verb = self.command.lower() if self.command != "HEAD" else "get"
            attrs = Attributes(verb=verb, resource_request=False, path=path)
            access.authorize(self.api.authorizer, user, attrs)
            discovery.serve_non_resource(self, parts)
            return
        group, version, rest = routing.group_version_rest(parts)
        # As upstream's filter chain: the authorizer judges what the URL asks for before anything
        # looks it up, so a reader is refused (403) a resource that does not exist, not told 404.
        attrs = routing.requested_attributes(self.command, path, group, rest, query)
        qualified = f"{attrs.resource}.{group}" if group else attrs.resource
        access.authorize(self.api.authorizer, user, attrs, qualified)
        verb = attrs.verb
        route = routing.resolve(self.api.store.registry, group, version, rest)
        rtype = route.rtype
        if verb == "create" and rtype.virtual:
            assert user is not None
            access.serve_review(self, rtype, user, body)
        elif verb not in rtype.verbs and not (route.subresource and verb == "get"):
            raise method_not_allowed()
        elif route.subresource == "log":
            serve_pod_log(self, route, query)
        elif route.subresource:
            raise no_such_path()
        elif rtype.computed:
            serve_metrics(self, route, query)
        elif verb == "watch":
            watch.serve_watch(self, route, query)
        elif verb == "list":
            reads.serve_list(self, route, query)
        else:
            reads.serve_get(self, route, query)


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
        self.faults = FaultList()
        self.request_records = RequestLog()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._tls = sandbox_identity() if tls else None
        self.tls_context: ssl.SSLContext | None = self._tls.server_context() if self._tls else None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> ApiServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = HTTPServer((self._host, self._requested_port), _Handler)
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
        return f"http://{self.address}"

    @property
    def https_url(self) -> str | None:
        """The same port over TLS (what kubeconfigs use), or None when openssl was not available."""
        return f"https://{self.address}" if self._tls else None

    @property
    def ca_pem(self) -> bytes | None:
        """The self-signed certificate clients must trust for https_url."""
        return self._tls.cert_pem if self._tls else None

    @property
    def address(self) -> str:
        """host:port as clients reach this server (what discovery tells them)."""
        return f"{self._host}:{self.port}"

    @property
    def stopping(self) -> threading.Event:
        """Set once stop() begins: watches, log follows and hanging faults end when they see it."""
        return self._stopping

    def track_connection(self, connection: socket.socket, opened: bool) -> None:
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
        return self.faults.add(path_regex, kind, times, params)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ------------------------------------------------------------ request log
    @property
    def request_log(self) -> list[RequestRecord]:
        """A copy of every request served so far, oldest first."""
        return self.request_records.records()

    def clear_request_log(self) -> None:
        self.request_records.clear()

    def requests_to(self, path_regex: str) -> list[RequestRecord]:
        return self.request_records.matching(path_regex)


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
