"""A real trusted proxy for the sign-in tests: Debian's nginx, run as the current user from a config in a
temporary folder, forwarding HTTP and WebSocket to an upstream and setting the headers an auth proxy
(oauth2-proxy's `--set-xauthrequest`) sets.

    with HeaderProxy(workdir, "http://127.0.0.1:8501", email="engineer@example.com",
                     groups=["platform"]).start() as proxy:
        proxy.url   # http://127.0.0.1:PORT: the upstream, seen with X-Auth-Request-Email/-Groups

nginx's proxy_set_header replaces whatever header of that name the client sent; an empty value (email or
groups None/empty) removes it, so a forged header never reaches the upstream. Groups are joined with
commas. Host is passed through (Streamlit checks WebSocket origins against it).

Everything nginx writes (pid, error log, access log, temp folders) is in the work folder; the port is
picked by binding port 0 and releasing it, and another is tried when nginx finds it taken meanwhile. The
proxy's identity is checked before use: /__kams_proxy answers this instance's random token.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self
from urllib.parse import urlsplit

from sandbox._process import end_process

START_TIMEOUT_SECONDS = 15.0
ATTEMPTS = 3
EMAIL_HEADER = "X-Auth-Request-Email"
GROUPS_HEADER = "X-Auth-Request-Groups"
#: Header values go into nginx.conf as quoted strings: no quotes, backslashes, `$` (variables) or braces.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9@._+,:;=/ ()\-]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")


def nginx_path() -> str | None:
    """Debian's nginx: on PATH, or in /usr/sbin (not on every user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def nginx_missing_reason() -> str | None:
    if nginx_path() is None:
        return "nginx is not installed (make test installs it: scripts/system-deps.sh nginx)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quoted(value: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"header value {value!r} has characters the test proxy does not quote")
    return f'"{value}"'


@dataclass
class HeaderProxy:
    """nginx in front of `upstream` (http://host:port), setting the identity headers."""

    workdir: Path
    upstream: str
    email: str | None = None
    groups: Sequence[str] | None = None
    #: More headers to set (name -> value; "" removes the client's header of that name).
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _token: str = field(default_factory=lambda: secrets.token_hex(16))
    _log: IO[bytes] | None = None

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def headers(self) -> dict[str, str]:
        """What the upstream is sent in place of anything the client sent ("" = header removed)."""
        return {EMAIL_HEADER: self.email or "", GROUPS_HEADER: ",".join(self.groups or ()),
                **self.extra_headers}

    def config(self, port: int) -> str:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {self.upstream!r}")
        set_headers = []
        for name, value in self.headers().items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"bad header name {name!r}")
            set_headers.append(f"            proxy_set_header {name} {_quoted(value)};")
        work = self.workdir
        # As root, workers would switch to `nobody`, who cannot enter the private work folder.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        header_lines = "\n".join(set_headers)
        return f"""{user}worker_processes 1;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /__kams_proxy {{
            default_type text/plain;
            return 200 "{self._token}";
        }}
        location / {{
            proxy_pass http://{parts.hostname}:{parts.port};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
{header_lines}
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
    }}
}}
"""

    def start(self, timeout: float = START_TIMEOUT_SECONDS, attempts: int = ATTEMPTS) -> Self:
        nginx = nginx_path()
        if nginx is None:
            raise RuntimeError(nginx_missing_reason())
        self.workdir.mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(attempts):
            port = _free_port()
            config_path = self.workdir / "nginx.conf"
            config_path.write_text(self.config(port), encoding="utf-8")
            self._log = (self.workdir / "nginx.out").open("ab")
            # -e: the error log before the config is read (the default is /var/log/nginx, not ours).
            self.process = subprocess.Popen(
                [nginx, "-p", str(self.workdir), "-c", str(config_path), "-e", str(self.error_log)],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            self.port, self.url = port, f"http://127.0.0.1:{port}"
            if self._wait_ready(time.monotonic() + timeout):
                return self
            last = self.log_tail()
            self.stop()
        raise RuntimeError(f"nginx did not start in {attempts} attempts: {last}")

    def _wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False  # e.g. bind() failed: the port was taken meanwhile
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"{self.url}/__kams_proxy", timeout=2) as response:
                if response.read().decode() == self._token:
                    return True
            time.sleep(0.1)
        return False

    def log_tail(self, characters: int = 3000) -> str:
        text = ""
        for path in (self.workdir / "nginx.out", self.error_log):
            with contextlib.suppress(OSError):
                text += path.read_text(encoding="utf-8", errors="replace")[-characters:]
        return text

    def stop(self) -> None:
        if self.process is not None:
            # nginx: SIGTERM is a fast shutdown of master and workers; SIGKILL must reach them all.
            end_process(self.process, grace=10, kill=functools.partial(self._kill_group, self.process.pid))
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _kill_group(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
