"""The Kubernetes connection layer: every request KAMS sends to a cluster goes through here.

Design (see DESIGN.md, "Facts learned"): every list is fetched raw, paged with `limit=500` +
`continue`, parsed with orjson/msgspec while the garbage collector is paused, and trimmed to what KAMS
uses. HTTP is urllib3's, directly: one PoolManager per client (thread-safe), retries off (a hung server
would otherwise cost 4x the timeout), the same (connect, read) timeout on every call. Credentials come
from k8sdata.sources.kubeconfig, so the `kubernetes` package (~43 MB resident) is never imported, except for a
legacy auth-provider user. Every failure leaves this module as a k8sdata.errors.SourceError kind.
Secrets are never read.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import orjson
import urllib3

from k8sdata.access import api_path_refusal
from k8sdata.config import SERVICE_ACCOUNT_TOKEN, Settings
from k8sdata.errors import (
    Forbidden,
    KubeletUnreachable,
    LogNotAvailable,
    NeverReadsSecrets,
    NotInstalled,
    OutOfScope,
    PodGone,
    RateLimited,
    Source,
    SourceError,
    Timeout,
    Unreachable,
)
from k8sdata.gcpause import gc_paused
from k8sdata.pods.podshape import POD_SHAPE
from k8sdata.sources.breaker import CircuitBreaker
from k8sdata.sources.kubeconfig import (
    IN_CLUSTER_CONTEXT,
    Auth,
    ClientCertificate,
    Connection,
    connection_for,
    list_contexts,
)

__all__ = ["IN_CLUSTER_CONTEXT", "PAGE_SIZE", "KubeClient", "ListExpired", "ListShape", "Slim",
           "list_contexts"]

log = logging.getLogger(__name__)

PAGE_SIZE = 500

#: Field paths dropped from every object: by far the largest parts of a pod, and no page uses them.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

#: Resources KAMS refuses to read, whatever the caller asks (the ServiceAccount cannot either).
_FORBIDDEN_PATH = re.compile(r"/secrets(/|$|\?)")

_SOURCE: Source = "kubernetes"

#: Connections kept per pool: the pages of a list, the watch cache's watch, and log reads of several
#: viewers at once; more are opened when needed and closed after use (block=False).
_POOL_SIZE = 16
_USER_AGENT = "kams (urllib3)"


# --------------------------------------------------------------------------------------------- errors

def _status_message(body: bytes | str | None) -> str:
    """The `message` of a Kubernetes Status object, or the body's first line."""
    if not body:
        return ""
    with contextlib.suppress(orjson.JSONDecodeError, TypeError):
        status = orjson.loads(body)
        if isinstance(status, dict):
            return str(status.get("message") or "")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = None
    with contextlib.suppress(AttributeError, TypeError):
        value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ListExpired(SourceError):
    """410 Expired: a continue token outlived the server's history (etcd compaction)."""

    kind = "expired"

    def _what(self) -> str:
        return f"{self.source_name} forgot where a long list had got to"

    def _next(self) -> str:
        return "Reload to list again from the start."


def _from_http(status: int, body: bytes | str | None, headers: Any, path: str) -> SourceError:
    message = _status_message(body)
    if status == 410:
        return ListExpired(_SOURCE, message)
    if status in (401, 403):
        return Forbidden(_SOURCE, message or f"HTTP {status} for {path}")
    if status == 404:
        return NotInstalled(_SOURCE, message or f"{path} is not served by this cluster")
    if status == 429:
        return RateLimited(_SOURCE, message, retry_after=_retry_after(headers))
    if status == 504:
        return Timeout(_SOURCE, message or f"gateway timeout for {path}")
    return SourceError(_SOURCE, f"HTTP {status}" + (f": {message}" if message else ""))


#: kube-apiserver's message when it cannot reach the kubelet for a log: `Get "https://NODE:10250/
#: containerLogs/NS/POD/C?...": dial tcp ...` (the address, then Go's reason).
_KUBELET_LOG_FAILURE = re.compile(
    r'"https?://(?P<address>[^/"]+)/containerLogs/[^"]*":\s*(?P<reason>.*)', re.S)


def _kubelet_failure(status: int, message: str) -> KubeletUnreachable | None:
    """The kubelet-unreachable error a 5xx log answer means, or None for any other failure."""
    match = _KUBELET_LOG_FAILURE.search(message) if status >= 500 else None
    if match is None:
        return None
    return KubeletUnreachable(_SOURCE, f"kubelet {match['address']}: {match['reason'].strip()[:200]}")


class _HttpStatus(Exception):
    """A non-2xx answer, raised inside this module only: `_source_errors` maps it with `_from_http`,
    and pod_log gives 404 and 400 their own meanings first."""

    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


def _from_transport(error: BaseException, path: str) -> SourceError:
    """Map urllib3/socket failures; MaxRetryError wraps the real cause in `.reason`."""
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    # Order matters: urllib3's NewConnectionError (refused, DNS) subclasses ConnectTimeoutError.
    if isinstance(error, urllib3.exceptions.NameResolutionError):
        return Unreachable(_SOURCE, "the server's name does not resolve")
    if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionError):
        return Unreachable(_SOURCE, "connection refused")
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return Timeout(_SOURCE, f"no connection within the timeout for {path}")
    if isinstance(error, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return Timeout(_SOURCE, f"no answer within the timeout for {path}")
    if isinstance(error, urllib3.exceptions.SSLError):
        return Unreachable(_SOURCE, f"TLS failed: {error}")
    if isinstance(error, urllib3.exceptions.ProtocolError):
        # A connection dropped mid-answer: the read may have been cut by a timeout inside it.
        cause = error.args[1] if len(error.args) > 1 else None
        if isinstance(cause, TimeoutError):
            return Timeout(_SOURCE, f"no answer within the timeout for {path}")
        return Unreachable(_SOURCE, "the connection was dropped")
    return Unreachable(_SOURCE, f"{type(error).__name__}: {error}")


# --------------------------------------------------------------------------------------------- parsing

def _parse(raw: bytes) -> dict[str, Any]:
    """Parse one answer with the garbage collector paused (see gc_paused)."""
    with gc_paused():
        return orjson.loads(raw)


def trim_object(item: dict[str, Any]) -> dict[str, Any]:
    """Drop what no page uses and what makes objects large (managedFields, last-applied copy)."""
    metadata = item.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(_LAST_APPLIED, None)
    return item


#: Reduces one parsed item (e.g. watchcache's field filter).
Slim = Callable[[dict[str, Any]], Any]
#: Decodes one list page's bytes into (items, the list's resourceVersion, the continue token or "").
PageDecoder = Callable[[bytes], tuple[list[Any], str, str]]


@runtime_checkable
class ListShape(Protocol):
    """Decodes list pages from bytes straight into slim items (k8sdata.pods.podshape.POD_SHAPE), and slims
    one already parsed item (a watch event's object) the same way."""

    def __call__(self, item: dict[str, Any]) -> Any: ...

    def page_decoder(self) -> PageDecoder:
        """A decoder for the pages of one list (it may share equal parts between that list's items)."""
        ...


def _page_decoder(slim: Slim | ListShape | None) -> PageDecoder:
    if isinstance(slim, ListShape):
        return slim.page_decoder()

    def decode(raw: bytes) -> tuple[list[Any], str, str]:
        body = orjson.loads(raw)
        metadata = body.get("metadata") or {}
        version, token = str(metadata.get("resourceVersion") or ""), str(metadata.get("continue") or "")
        items = body.get("items") or []
        del body
        if slim is None:
            return [trim_object(item) for item in items], version, token
        return [slim(trim_object(item)) for item in items], version, token

    return decode


@contextlib.contextmanager
def _source_errors(path: str) -> Iterator[None]:
    """Every failure of one request leaves as a SourceError kind."""
    try:
        yield
    except _HttpStatus as error:
        raise _from_http(error.status, error.body, error.headers, path) from None
    except SourceError:
        raise
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _from_transport(error, path) from None


_ITEMS_KEY = b'"items":'


def _continue_token(raw: bytes) -> str:
    """A list page's `continue` token without parsing its items: the API server writes a list's
    metadata before its items, so the part before "items" is enough (else: the whole body)."""
    cut = raw.find(_ITEMS_KEY)
    head: Any = None
    if cut > 0:
        with contextlib.suppress(orjson.JSONDecodeError):
            head = orjson.loads(raw[:cut] + b'"items":null}')
    if not isinstance(head, dict) or "metadata" not in head:  # metadata after the items: parse it all
        try:
            head = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return ""  # the page's decoder reports what is wrong with it
    metadata = head.get("metadata") if isinstance(head, dict) else None
    return str((metadata or {}).get("continue") or "") if isinstance(metadata, dict) else ""


# --------------------------------------------------------------------------------------------- client

class KubeClient:
    """One connection to one cluster context. Thread-safe: urllib3's pool manager is, and this class
    keeps no per-request state, so one instance is shared by every viewer (st.cache_resource)."""

    def __init__(self, settings: Settings, context: str | None = None, *,
                 service_account_dir: Path = SERVICE_ACCOUNT_TOKEN.parent,
                 environ: Mapping[str, str] | None = None) -> None:
        """`service_account_dir` and `environ` locate the in-cluster credentials (tests point them at
        a fake pod's files; in a pod the defaults are right). Raises NotConfigured when there is no
        usable configuration; nothing is sent to the server yet."""
        self.settings = settings
        wanted = context if context is not None else settings.context
        timeout = settings.request_timeout
        self._timeout: tuple[float, float] = (timeout, timeout)
        self._connection: Connection = connection_for(
            settings, wanted, service_account_dir=service_account_dir, environ=environ)
        self.context: str = self._connection.context
        self.host: str = self._connection.server
        #: Set by whoever shares this client (the website): one timeout, not one per request.
        self.breaker: CircuitBreaker | None = None
        self._pool_lock = threading.Lock()
        # Built now, so a bad CA or client certificate file is reported by the constructor.
        self._pool_certificate: ClientCertificate | None = self._connection.certificate
        self._pool = self._new_pool(self._pool_certificate)
        if self._connection.tls.insecure and self.host.startswith("https://"):
            # Said once here rather than by urllib3 once a request (a 100,000-pod list is 200 requests).
            log.warning("insecure-skip-tls-verify is set for %s: KAMS does not check that server's "
                        "certificate", self.host)
            host = urllib3.util.parse_url(self.host).host or ""
            warnings.filterwarnings("ignore", message=f".*host '{re.escape(host.strip('[]'))}'",
                                    category=urllib3.exceptions.InsecureRequestWarning)

    def _new_pool(self, certificate: ClientCertificate | None) -> urllib3.PoolManager:
        """One pool manager for this client's server. retries=False, not 0: urllib3 then raises the
        underlying error itself and never repeats a request; redirects are answers, not followed."""
        tls = self._connection.tls
        options: dict[str, Any] = {
            "num_pools": 2, "maxsize": _POOL_SIZE, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=self._timeout[0], read=self._timeout[1]),
        }
        if self.host.startswith("https://"):
            options["ssl_context"] = tls.context(certificate)
            if tls.insecure:
                options.update(cert_reqs="CERT_NONE", assert_hostname=False)
            elif tls.server_name:
                options["server_hostname"] = tls.server_name  # SNI and the name the certificate must carry
        if self._connection.proxy_url:
            return urllib3.ProxyManager(self._connection.proxy_url, **options)
        return urllib3.PoolManager(**options)

    def _pool_for(self, certificate: ClientCertificate | None) -> urllib3.PoolManager:
        """The pool for the credential's client certificate: a credential plugin that answers with a
        new certificate gets a new pool (an SSLContext cannot unload a certificate). The old pool is
        left to requests still using it and closes when it is dropped."""
        if certificate is self._pool_certificate:
            return self._pool
        with self._pool_lock:
            if certificate is not self._pool_certificate:
                self._pool = self._new_pool(certificate)
                self._pool_certificate = certificate
            return self._pool

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.clear()
        with contextlib.suppress(Exception):
            self._connection.credentials.close()

    # -- raw HTTP ----------------------------------------------------------------------------------

    def _send(self, method: str, path: str, query: list[tuple[str, str | int]] | None, *,
              accept: str = "application/json", body: bytes | None = None,
              timeout: tuple[float, float] | None = None) -> Any:
        """Send one request and return the response once its status and headers are in (the body is
        the caller's to read). A non-2xx answer raises _HttpStatus with its body. A 401 renews the
        credential once (an exec plugin runs again) and repeats the request once."""
        if _FORBIDDEN_PATH.search(path):
            raise NeverReadsSecrets(_SOURCE)
        refusal = api_path_refusal(path)
        if refusal is not None:
            raise OutOfScope(_SOURCE, refusal)
        url = self.host + path + (f"?{urlencode(query)}" if query else "")
        connect, read = timeout or self._timeout
        headers = {"Accept": accept, "User-Agent": _USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        credentials = self._connection.credentials
        for attempt in range(2):
            auth: Auth = credentials.auth()
            if auth.authorization:
                headers["Authorization"] = auth.authorization
            else:
                headers.pop("Authorization", None)
            pool = self._pool_for(auth.certificate)
            response = pool.request(method, url, headers=headers, body=body, preload_content=False,
                                    timeout=urllib3.Timeout(connect=connect, read=read),
                                    retries=False, redirect=False)
            if 200 <= response.status < 300:
                return response
            try:
                error_body = response.read()
            finally:
                response.release_conn()
            if response.status == 401 and attempt == 0 and credentials.renew(auth):
                log.info("the Kubernetes API answered 401 for %s: renewed the credential, sending it again",
                         path)
                continue
            raise _HttpStatus(response.status, error_body, response.headers)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _request_errors(self, path: str, *, ask: bool = True, record: bool = True) -> Iterator[None]:
        """`_source_errors`, through the client's circuit breaker (k8sdata.sources.breaker) when it has one:
        while the server is known to be gone a request fails at once (`ask`: this is a new request), and a
        timeout or a refused connection tells the breaker (`record`: unless the wait was someone else's,
        such as a kubelet behind the API server)."""
        breaker = self.breaker
        if breaker is not None and ask:
            breaker.check()
        try:
            with _source_errors(path):
                yield
        except SourceError as error:
            if breaker is not None and (record or isinstance(error, RateLimited)):
                breaker.record(error)  # a 429 is the API server's own answer, whoever serves the rest
            raise

    def _get(self, path: str, query: list[tuple[str, str | int]] | None = None) -> bytes:
        """GET path and return the body; every failure becomes a SourceError kind."""
        return self._read(self._open(path, query), path)

    def _open(self, path: str, query: list[tuple[str, str | int]] | None = None) -> Any:
        """Send GET path and return the response once its status and headers are in; the body is left
        to `_read` (meanwhile the server goes on writing it into the socket's buffers)."""
        with self._request_errors(path):
            return self._send("GET", path, query)

    def _read(self, response: Any, path: str) -> bytes:
        """The whole body of a response from `_open`; its connection goes back to the pool."""
        try:
            with self._request_errors(path, ask=False):
                return response.read()
        finally:
            with contextlib.suppress(Exception):
                response.release_conn()

    def get_json(self, path: str, query: list[tuple[str, str | int]] | None = None) -> dict[str, Any]:
        raw = self._get(path, query)
        try:
            return _parse(raw)
        except orjson.JSONDecodeError as error:
            raise SourceError(_SOURCE, f"unreadable answer from {path}: {error}") from None

    def iter_pages(self, path: str, **params: str | None) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's trimmed items, `limit=500` at a time, following `continue`.

        Raises ListExpired if a continue token goes stale mid-way (pages already yielded cannot be
        taken back, so streaming callers decide); list_path restarts instead.
        """
        base: list[tuple[str, str | int]] = [(k, v) for k, v in params.items() if v]
        token: str | None = None
        while True:
            query = [*base, ("limit", PAGE_SIZE)]
            if token:
                query.append(("continue", token))
            body = self.get_json(path, query)
            items = body.get("items") or []
            yield [trim_object(item) for item in items]
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def list_with_version(self, path: str, slim: Slim | ListShape | None = None,
                          **params: str | None) -> tuple[list[Any], str]:
        """The whole list and its resourceVersion (the point a watch resumes from).

        `slim` reduces the items: a ListShape (k8sdata.pods.podshape.POD_SHAPE) decodes each page's bytes
        straight into slim items, so full objects are never built; a plain function is applied to each
        parsed item page by page (a 100,000-pod list then holds at most one page of full objects).
        A 410 on a continue token restarts the list once, as kubectl and client-go's pager do."""
        base: list[tuple[str, str | int]] = [(k, v) for k, v in params.items() if v]
        for attempt in range(2):
            try:
                with gc_paused():  # the whole list, not only each page's parse: see gc_paused
                    return self._list_pages(path, base, _page_decoder(slim))
            except ListExpired:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _list_pages(self, path: str, base: list[tuple[str, str | int]], decode: PageDecoder
                    ) -> tuple[list[Any], str]:
        """Follow `continue` page by page, one request ahead: as soon as page n is read, the request
        for page n+1 goes out (its token is in page n's metadata, read without parsing the items), and
        page n is decoded while the server prepares and sends page n+1 into the socket's buffers.

        One thread, on purpose: a reader thread was measured slower (bench/PROFILE.md): the decoder
        holds the GIL for a whole page and a TLS read needs it back for every 16 KB record."""
        items: list[Any] = []
        version: str | None = None

        def request(token: str) -> Any:
            query: list[tuple[str, str | int]] = [*base, ("limit", PAGE_SIZE)]
            if token:
                query.append(("continue", token))
            return self._open(path, query)

        response = request("")
        while response is not None:
            raw = self._read(response, path)
            token = _continue_token(raw)
            response = request(token) if token else None
            try:
                page_items, page_version, _ = decode(raw)
            except (ValueError, TypeError) as error:  # orjson / msgspec decode and validation errors
                if response is not None:
                    with contextlib.suppress(Exception):
                        response.close()
                raise SourceError(_SOURCE, f"unreadable answer from {path}: {error}") from None
            del raw
            if version is None:  # the first page's version is the list's consistent snapshot
                version = page_version
            items.extend(page_items)
        return items, version or ""

    def watch_events(self, path: str, resource_version: str, *, timeout_seconds: int = 300,
                     on_response: Callable[[Any], None] | None = None,
                     **params: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream (type, object) watch events from `resource_version` with bookmarks on.

        The server ends the stream after `timeout_seconds`; the read timeout is a little longer than
        that, so a silent, hung server costs at most timeout_seconds + request_timeout, never forever.
        An ERROR event with code 410 (and an HTTP 410) raises ListExpired: the caller must list again.
        `on_response` receives the open HTTP response, so another thread can close it to stop at once.
        """
        if _FORBIDDEN_PATH.search(path):
            raise NeverReadsSecrets(_SOURCE)
        refusal = api_path_refusal(path)
        if refusal is not None:
            raise OutOfScope(_SOURCE, refusal)
        query: list[tuple[str, str | int]] = [(k, v) for k, v in params.items() if v]
        query += [("watch", "true"), ("allowWatchBookmarks", "true"),
                  ("resourceVersion", resource_version), ("timeoutSeconds", int(timeout_seconds))]
        connect_timeout = self._timeout[0]
        read_timeout = float(timeout_seconds) + self._timeout[1]
        response = None
        try:
            with _source_errors(path):
                response = self._send("GET", path, query, timeout=(connect_timeout, read_timeout))
            if on_response is not None:
                on_response(response)
            pending = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                pending += chunk
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if line.strip():
                        yield _watch_event(line, path)
            if pending.strip():
                yield _watch_event(pending, path)
        except SourceError:
            raise
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            # ValueError: reading from a response another thread closed (stop()).
            if isinstance(error, ValueError) and not isinstance(error, orjson.JSONDecodeError):
                raise Unreachable(_SOURCE, "the watch was closed") from None
            raise _from_transport(error, path) from None
        finally:
            if response is not None:
                with contextlib.suppress(Exception):
                    response.release_conn()

    def list_path(self, path: str, **params: str | None) -> list[dict[str, Any]]:
        """The whole list of full (trimmed) objects; see list_with_version."""
        return self.list_with_version(path, None, **params)[0]

    # -- the contract ------------------------------------------------------------------------------

    def version(self) -> str:
        """Cheap ping: the server's gitVersion."""
        return str(self.get_json("/version").get("gitVersion", "unknown"))

    def list_namespaces(self) -> list[str]:
        return sorted(str(item["metadata"]["name"]) for item in self.list_path("/api/v1/namespaces"))

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None, *, slim: bool = False) -> list[Any]:
        """Pods as the API serves them (trimmed dicts), or with slim=True as k8sdata.pods.podshape slim
        pods: the same keys, only what the pods table, pod detail, resources and workloads read,
        decoded without building the rest (several times faster, a fifth of the memory at 100,000)."""
        return self.list_with_version(_core_path("pods", namespace), POD_SHAPE if slim else None,
                                      labelSelector=label_selector, fieldSelector=field_selector)[0]

    def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        """One pod (trimmed as list items are): what a page linked to one pod can show when the pods list
        itself fails (a 403 on the list, a 500, a list too big for the server)."""
        return trim_object(self.get_json(f"{_core_path('pods', namespace)}/{_check_segment(name)}"))

    def list_nodes(self) -> list[dict[str, Any]]:
        return self.list_path("/api/v1/nodes")

    def list_events(self, namespace: str | None = None, field_selector: str | None = None
                    ) -> list[dict[str, Any]]:
        return self.list_path(_core_path("events", namespace), fieldSelector=field_selector)

    def list_deployments(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.list_path(_group_path("apps/v1", "deployments", namespace))

    def list_resource(self, group_version: str, resource: str, namespace: str | None = None,
                      label_selector: str | None = None, *, slim: Slim | None = None) -> list[dict[str, Any]]:
        """Any list, e.g. ("apps/v1", "statefulsets") or ("v1", "services"); 404 -> NotInstalled. `slim`
        reduces each item as its page is decoded (see list_with_version)."""
        if resource == "secrets":
            raise NeverReadsSecrets(_SOURCE)
        if group_version == "v1":
            path = _core_path(resource, namespace)
        else:
            path = _group_path(group_version, resource, namespace)
        return self.list_with_version(path, slim, labelSelector=label_selector)[0]

    def pod_log(self, namespace: str, pod: str, *, container: str, tail_lines: int | None = None,
                since_seconds: int | None = None, since_time: datetime | None = None,
                previous: bool = False, timestamps: bool = True, limit_bytes: int = 2_000_000,
                timeout: float | None = None) -> bytes:
        """One container's log (pods/log), raw bytes, never more than `limit_bytes`.

        Bounded on purpose: the caller must give `tail_lines`, `since_seconds` or `since_time` (a log
        can be gigabytes), `limit_bytes` is always sent and also enforced while reading, and the
        request has a timeout. kube-apiserver forwards `sinceTime` to the kubelet with whole seconds
        only, so it is sent that way: a follower must drop the lines of that second it already has.
        403 -> Forbidden; 404 -> PodGone; 400 (not started, no previous run...) -> LogNotAvailable
        with the kubelet's own sentence; 204 (the pod has no node yet) -> LogNotAvailable; a 5xx naming
        the kubelet's address -> KubeletUnreachable.
        """
        if tail_lines is None and since_seconds is None and since_time is None:
            raise ValueError("a log read needs tail_lines, since_seconds or since_time")
        if limit_bytes < 1:
            raise ValueError("limit_bytes must be at least 1")
        path = f"{_core_path('pods', namespace)}/{_check_segment(pod)}/log"
        query: list[tuple[str, str | int]] = [("container", container), ("limitBytes", int(limit_bytes))]
        if tail_lines is not None:
            query.append(("tailLines", max(0, int(tail_lines))))
        if since_seconds is not None:
            query.append(("sinceSeconds", max(1, int(since_seconds))))
        elif since_time is not None:
            query.append(("sinceTime", since_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        if previous:
            query.append(("previous", "true"))
        if timestamps:
            query.append(("timestamps", "true"))
        seconds = self._timeout if timeout is None else (timeout, timeout)
        response = None
        try:
            # A log is served by the pod's kubelet through the API server: its slowness is the kubelet's.
            with self._request_errors(path, record=False):
                try:
                    response = self._send("GET", path, query, accept="text/plain, */*", timeout=seconds)
                except _HttpStatus as error:  # the kubelet's answers that are not failures of the source
                    if error.status == 404:
                        raise PodGone(_SOURCE, f"{namespace}/{pod}") from None
                    if error.status == 400:
                        raise LogNotAvailable(_SOURCE, _status_message(error.body) or "no log") from None
                    kubelet = _kubelet_failure(error.status, _status_message(error.body))
                    if kubelet is not None:
                        raise kubelet from None
                    raise
                if response.status == 204:
                    # kube-apiserver's answer for a pod no node runs yet (LogLocation has no kubelet to ask):
                    # an empty body would read as "the container wrote nothing".
                    unscheduled = f'pod "{pod}" is not scheduled on a node yet, so container "{container}" ' \
                                  "has not started"
                    raise LogNotAvailable(_SOURCE, unscheduled,
                                          hint="Its log appears once the pod is scheduled and has started.")
                chunks: list[bytes] = []
                size = 0
                # Read in pieces and stop at the limit even if a server ignores limitBytes.
                for chunk in response.stream(64 * 1024, decode_content=True):
                    chunks.append(chunk[: limit_bytes - size])
                    size += len(chunks[-1])
                    if size >= limit_bytes:
                        break
                return b"".join(chunks)
        finally:
            if response is not None:
                with contextlib.suppress(Exception):
                    response.release_conn()

    def self_rules(self, namespace: str) -> dict[str, Any]:
        """KAMS's own permissions in `namespace`: POST a SelfSubjectRulesReview and return the review
        (its `status` holds resourceRules, nonResourceRules, incomplete). This is the one write-verb
        request KAMS makes; it creates nothing (reviews are not stored) and every user may send it."""
        path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": _check_segment(namespace)}}
        response = None
        try:
            with self._request_errors(path):
                response = self._send("POST", path, None, body=orjson.dumps(body))
                raw = response.read()
        finally:
            if response is not None:
                with contextlib.suppress(Exception):
                    response.release_conn()
        try:
            return _parse(raw)
        except orjson.JSONDecodeError as error:
            raise SourceError(_SOURCE, f"unreadable answer from {path}: {error}") from None


def _check_segment(value: str) -> str:
    """A path segment from a caller (namespace, resource): refuse anything that could change the path."""
    if not value or "/" in value or value in (".", "..") or "?" in value or "#" in value:
        raise ValueError(f"not a valid name: {value!r}")
    return value


def _core_path(resource: str, namespace: str | None) -> str:
    if namespace:
        return f"/api/v1/namespaces/{_check_segment(namespace)}/{_check_segment(resource)}"
    return f"/api/v1/{_check_segment(resource)}"


def _group_path(group_version: str, resource: str, namespace: str | None) -> str:
    if namespace:
        return f"/apis/{group_version}/namespaces/{_check_segment(namespace)}/{_check_segment(resource)}"
    return f"/apis/{group_version}/{_check_segment(resource)}"


def _watch_event(line: bytes, path: str) -> tuple[str, dict[str, Any]]:
    """One watch line -> (type, object); ERROR events become SourceErrors (410 -> ListExpired)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise SourceError(_SOURCE, f"unreadable watch event from {path}: {error}") from None
    kind = str(event.get("type") or "")
    obj = event.get("object") or {}
    if kind == "ERROR":
        code = int(obj.get("code") or 0) if isinstance(obj, dict) else 0
        raise _from_http(code or 500, orjson.dumps(obj), None, path)
    return kind, trim_object(obj) if isinstance(obj, dict) else {}
