"""HTTP/1.1 plumbing shared by every endpoint: TLS and plain HTTP on one port, plain and chunked
responses, noticing a client that has gone, and one request-log record per request.

Large lists and every watch or follow stream go out with chunked transfer encoding, built by joining the
store's pre-serialized bytes, so a 100,000-pod list never re-serializes objects.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import orjson

from .errors import ApiError
from .rbac import UserInfo
from .requestlog import RequestRecord

if TYPE_CHECKING:
    from .server import ApiServer

STREAM_BATCH = 500  # list items per chunk when streaming a list: a page of the usual limit=500 is one


class HTTPServer(ThreadingHTTPServer):
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


class Exchange(BaseHTTPRequestHandler):
    """One connection's request and response; the endpoints write their answers through it."""

    protocol_version = "HTTP/1.1"
    server: HTTPServer
    server_version = "kams-sandbox-apiserver"
    user: UserInfo | None
    query: dict[str, str]

    @property
    def api(self) -> ApiServer:
        return self.server.api

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; server.request_log is the record."""

    def setup(self) -> None:
        # One port serves both: a TLS ClientHello starts with 0x16, plain HTTP with a method name.
        context = self.api.tls_context
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
            except (OSError, ssl.SSLError):
                with contextlib.suppress(OSError):
                    self.request.close()
                raise
        super().setup()
        self.api.track_connection(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.api.track_connection(self.connection, False)

    # ------------------------------------------------------------ request log
    def begin_request(self, path: str, query: dict[str, str]) -> None:
        self._started = time.monotonic()
        self._status = 0
        self._logged = False
        self.user = None
        self._request_path = path
        self.query = query

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def record_request(self) -> None:
        """Record this request once. Plain responses are logged just before their body is written, so a
        client that has read its answer always finds the request in the log (tests count requests)."""
        if self._logged:
            return
        self._logged = True
        self.api.request_records.append(
            RequestRecord(
                datetime.now(UTC),
                self.command,
                self._request_path,
                self.query,
                self.user.name if self.user else None,
                self._status,
                time.monotonic() - self._started,
            )
        )

    # -------------------------------------------------------------- responses
    def send_bytes(
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
        self.record_request()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj: Any, code: int = 200) -> None:
        self.send_bytes(code, orjson.dumps(obj))

    def send_error_status(self, error: ApiError) -> None:
        if error.plain_text:
            self.send_bytes(error.code, b"404 page not found\n", "text/plain; charset=utf-8", error.headers)
            return
        self.send_bytes(error.code, orjson.dumps(error.status_object()), headers=error.headers)

    def start_chunked(self, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def chunk(self, data: bytes, flush: bool = False) -> None:
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        if flush:
            self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def stream_items(self, head: bytes, items: Iterable[bytes], tail: bytes) -> None:
        """A list body as chunks of up to STREAM_BATCH stored objects, each framed and joined in one
        copy and sent in one write (a page of 500: one chunk, the terminator included). Framing chunk
        by chunk with separate writes cost three copies of every byte and ~2x the TLS writes, ~0.7 s of
        this server's CPU per 100,000-pod list (bench/PROFILE.md), all of it taken from the client on
        a 2-core machine."""
        self.start_chunked()
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
        self.record_request()
        write(b"".join(parts))
        self.wfile.flush()

    def client_gone(self) -> bool:
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
