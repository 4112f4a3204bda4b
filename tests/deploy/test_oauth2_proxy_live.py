"""The oauth2-proxy overlay's configuration, run by the real oauth2-proxy (the version of the overlay's
image, built from github.com/oauth2-proxy/oauth2-proxy/v7 into ~/.cache/kams/servers/oauth2-proxy-<tag>/):
oauth2-proxy accepts it (--config-test), never proxies a visitor who has not signed in, and strips a
visitor's own X-Auth-Request-Email / X-Auth-Request-Groups before a request reaches KAMS, so KAMS_AUTH=proxy
cannot be fooled by a forged header.

Only the addresses are changed for the test: the identity provider is a discovery document served here,
and the upstream is an echo server standing in for KAMS."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from sandbox import realservers
from tests.deploy.manifests import render
from tests.deploy.test_exposure import OAUTH2_PROXY, configmap, container, proxy_config
from tests.plugins.realservers import need_real


def image_tag() -> str:
    return str(container(render(OAUTH2_PROXY), "kams-oauth2-proxy")["image"]).rpartition(":")[2]


@pytest.fixture(scope="module")
def binary() -> Path:
    """The real oauth2-proxy, built by scripts/real-servers.sh at the overlay image's version."""
    assert realservers.version("oauth2-proxy") == image_tag(), (
        "scripts/real-servers/versions.env and the overlay's image disagree on oauth2-proxy's version")
    return need_real("oauth2-proxy")


class _Echo(BaseHTTPRequestHandler):
    """The identity provider's discovery document and keys, and an upstream that records its requests."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
        if self.path == "/.well-known/openid-configuration":
            body: dict[str, Any] = {
                "issuer": base, "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks", "userinfo_endpoint": f"{base}/userinfo",
                "id_token_signing_alg_values_supported": ["RS256"], "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
            }
        elif self.path == "/jwks":
            body = {"keys": []}
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            _Echo.seen.append(headers | {"path": self.path})
            body = {"ok": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _files(tmp_path: Path, issuer: str, upstream: str, bind: str) -> tuple[Path, list[str]]:
    """The overlay's alpha config and arguments with the test's addresses and the Secret's files in tmp."""
    config = proxy_config()
    config["server"]["bindAddress"] = bind
    config["upstreamConfig"]["upstreams"][0]["uri"] = upstream
    [provider] = config["providers"]
    provider["oidcConfig"]["issuerURL"] = issuer
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "client-secret").write_text("test-client-secret", encoding="utf-8")
    (secret / "cookie-secret").write_text("0123456789abcdef0123456789abcdef", encoding="utf-8")
    provider["clientSecretFile"] = str(secret / "client-secret")
    alpha = tmp_path / "alpha-config.yaml"
    alpha.write_text(yaml.safe_dump(config), encoding="utf-8")
    args = []
    for arg in container(render(OAUTH2_PROXY), "kams-oauth2-proxy")["args"]:
        flag, _, value = arg.partition("=")
        if flag == "--alpha-config":
            value = str(alpha)
        elif flag == "--cookie-secret-file":
            value = str(secret / "cookie-secret")
        args.append(f"{flag}={value}")
    return alpha, args


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_oauth2_proxy_accepts_the_overlay_configuration(binary: Path, tmp_path: Path) -> None:
    _, args = _files(tmp_path, "https://idp.example.com", "http://kams:80", "0.0.0.0:4180")
    result = subprocess.run([str(binary), "--config-test", *args], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "configuration is valid" in result.stdout, result.stderr
    # The ConfigMap the Deployment mounts is the one checked.
    assert configmap(render(OAUTH2_PROXY), "kams-oauth2-proxy")["data"]["alpha-config.yaml"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_proxy_never_passes_a_visitor_who_has_not_signed_in_nor_a_forged_identity(
        binary: Path, tmp_path: Path, echo: str) -> None:
    port = _free_port()
    _, args = _files(tmp_path, echo, echo, f"127.0.0.1:{port}")
    # Test-only: one route open without sign-in, to see what the proxy does to a visitor's own headers
    # on the way to the upstream (the same header chain serves signed-in requests).
    args.append("--skip-auth-route=^/open-for-test")
    process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "oauth2-proxy did not start"
                time.sleep(0.2)
        forged = {"X-Auth-Request-Email": "ada@example.com", "X-Auth-Request-Groups": "payments-team"}
        opener = urllib.request.build_opener(_NoRedirect)
        # No session: sent to the identity provider, never to KAMS.
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(urllib.request.Request(f"{base}/", headers=forged), timeout=10)
        assert refused.value.code in {302, 401, 403}
        if refused.value.code == 302:
            assert refused.value.headers["Location"].startswith(f"{echo}/authorize")
        assert not _Echo.seen
        # Through to the upstream: the visitor's own identity headers are gone.
        through = urllib.request.Request(f"{base}/open-for-test", headers=forged)
        with opener.open(through, timeout=10) as answer:
            assert answer.status == 200
        [request] = _Echo.seen
        assert request["path"] == "/open-for-test"
        assert "x-auth-request-email" not in request and "x-auth-request-groups" not in request
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
