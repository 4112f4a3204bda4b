"""k8sdata.sources.kubeconfig + KubeClient's own HTTP: every way a kubeconfig or a pod can hold credentials,
against the stand-in API server (bearer tokens) and, for what it cannot check (client certificates,
basic auth, proxies), a tiny TLS server of the test's own. And: none of it imports `kubernetes`."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, NotConfigured, Unreachable
from k8sdata.sources.kube import KubeClient, list_contexts
from k8sdata.sources.kubeconfig import kubeconfig_paths, load_kubeconfig
from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.apiserver.rbac import default_tokens
from sandbox.apiserver.tls import sandbox_identity
from tests.plugins.kube_api import fixture_cluster_objects

ROOT = Path(__file__).resolve().parents[2]
ADMIN = demo_names.ADMIN_USER
EXEC_GOOD, EXEC_BAD = "exec-plugin-token", "exec-plugin-stale-token"
# An OpenID Connect id-token (a JWT without "exp": the kubernetes package's loader never refreshes it).
OIDC_JWT = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                    for part in ({"alg": "none", "typ": "JWT"}, {"sub": "oidc-user", "iss": "test"})) + ".sig"


@pytest.fixture(scope="module")
def api() -> Iterator[ApiServer]:
    """One stand-in server for the module, knowing the demo tokens and the ones these tests hand out."""
    tokens = {**default_tokens(), EXEC_GOOD: ("exec-user", ["system:masters"]),
              OIDC_JWT: ("oidc-user", ["system:masters"])}
    with ApiServer(fixture_cluster_objects(), tokens=tokens) as server:
        if server.https_url is None:
            pytest.fail("the stand-in server has no TLS (openssl missing?)")
        yield server


def users_of(server: ApiServer, since: int, at_least: int = 1) -> list[tuple[str | None, int]]:
    """(user, status) of the requests logged after position `since` (the server logs a request just
    after answering it, so wait a moment for the newest)."""
    deadline = time.monotonic() + 5
    while len(server.request_log) - since < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return [(record.user, record.status) for record in server.request_log[since:]]


def write_config(path: Path, server: str, user: dict[str, Any], *, cluster: dict[str, Any] | None = None,
                 name: str = "test", current: str | None = "test") -> Path:
    document: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    if current:
        document["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def ca_data(server: ApiServer) -> dict[str, str]:
    return {"certificate-authority-data": base64.b64encode(server.ca_pem or b"").decode()}


def client_for(path: Path | str, context: str | None = None, timeout: float = 5.0) -> KubeClient:
    return KubeClient(Settings.from_env({"KUBECONFIG": str(path), "KAMS_REQUEST_TIMEOUT": str(timeout)}),
                      context)


def pod_count(client: KubeClient) -> int:
    try:
        return len(client.list_pods())
    finally:
        client.close()


# ------------------------------------------------------------------------------ files, merging, TLS


def test_two_files_merge_first_name_and_first_current_context_win(api: ApiServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_config(tmp_path / "one", api.https_url or "", {"token": demo_names.ADMIN_TOKEN},
                         cluster=ca_data(api), name="shared", current="shared")
    # The second file names "shared" again (a dead server: ignored) and adds "extra"; its
    # current-context comes second, so it is ignored too.
    second_doc = yaml.safe_load(write_config(tmp_path / "two", "https://127.0.0.1:9", {"token": "x"},
                                             name="shared", current="extra").read_text())
    second_doc["contexts"].append({"name": "extra", "context": {"cluster": "shared", "user": "other"}})
    second_doc["users"].append({"name": "other", "user": {"token": demo_names.ADMIN_TOKEN}})
    (tmp_path / "two").write_text(yaml.safe_dump(second_doc))
    listed = os.pathsep.join([str(first), str(tmp_path / "missing"), str(tmp_path / "two")])
    monkeypatch.delenv("KUBECONFIG", raising=False)  # the settings alone carry the list
    settings = Settings.from_env({"KUBECONFIG": listed})
    assert kubeconfig_paths(settings) == [str(first), str(tmp_path / "missing"), str(tmp_path / "two")]
    assert list_contexts(settings) == (["extra", "shared"], "shared")
    # "extra" uses the first file's cluster (the first to name "shared") and the second file's user.
    extra = KubeClient(settings, "extra")
    assert extra.host == api.https_url
    assert pod_count(extra) == len([o for o in fixture_cluster_objects() if o.get("kind") == "Pod"])


def test_unreadable_and_incomplete_kubeconfigs_are_not_configured(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("clusters: [oops")
    with pytest.raises(NotConfigured, match="not valid YAML"):
        load_kubeconfig([tmp_path / "bad"])
    with pytest.raises(NotConfigured, match="no such file"):
        load_kubeconfig([tmp_path / "absent"])
    path = write_config(tmp_path / "nocurrent", "https://127.0.0.1:9", {"token": "t"}, current=None)
    with pytest.raises(NotConfigured) as caught:
        client_for(path)
    assert "KAMS_CONTEXT" in caught.value.sentence


def test_relative_paths_are_relative_to_the_kubeconfigs_folder(api: ApiServer, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(api.ca_pem or b"")
    (folder / "token").write_text(demo_names.ADMIN_TOKEN + "\n")
    path = write_config(folder / "config", api.https_url or "", {"tokenFile": "token"},
                        cluster={"certificate-authority": "ca.pem"})
    monkeypatch.chdir(tmp_path)  # not the kubeconfig's folder
    before = len(api.request_log)
    assert pod_count(client_for(path)) > 0
    assert users_of(api, before) == [(ADMIN, 200)]


def test_ca_data_wins_over_a_ca_file_and_no_ca_means_untrusted(api: ApiServer, tmp_path: Path) -> None:
    user = {"token": demo_names.ADMIN_TOKEN}
    both = write_config(tmp_path / "both", api.https_url or "", user,
                        cluster={**ca_data(api), "certificate-authority": str(tmp_path / "no-such.pem")})
    assert pod_count(client_for(both)) > 0
    (tmp_path / "ca.pem").write_bytes(api.ca_pem or b"")
    as_file = write_config(tmp_path / "file", api.https_url or "", user,
                           cluster={"certificate-authority": str(tmp_path / "ca.pem")})
    assert pod_count(client_for(as_file)) > 0
    missing = write_config(tmp_path / "missing", api.https_url or "", user,
                           cluster={"certificate-authority": str(tmp_path / "no-such.pem")})
    with pytest.raises(NotConfigured, match="TLS certificates"):
        client_for(missing)
    untrusted = write_config(tmp_path / "untrusted", api.https_url or "", user)
    with pytest.raises(Unreachable) as caught:
        pod_count(client_for(untrusted, timeout=2))
    assert "TLS" in caught.value.sentence and "certificate" in caught.value.sentence


def test_insecure_skip_tls_verify_and_tls_server_name(api: ApiServer, tmp_path: Path) -> None:
    user = {"token": demo_names.ADMIN_TOKEN}
    insecure = write_config(tmp_path / "insecure", api.https_url or "", user,
                            cluster={"insecure-skip-tls-verify": True})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # urllib3's per-request InsecureRequestWarning would fail here
        assert pod_count(client_for(insecure)) > 0
    # The certificate names localhost, not the address: tls-server-name says which name to expect.
    by_name = write_config(tmp_path / "named", api.https_url or "", user,
                           cluster={**ca_data(api), "tls-server-name": "localhost"})
    assert pod_count(client_for(by_name)) > 0
    wrong = write_config(tmp_path / "wrong", api.https_url or "", user,
                         cluster={**ca_data(api), "tls-server-name": "api.example.com"})
    with pytest.raises(Unreachable, match="TLS"):
        pod_count(client_for(wrong, timeout=2))


# ------------------------------------------------------------------------------ tokens


def test_token_file_is_read_again_when_it_rotates(api: ApiServer, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(demo_names.ADMIN_TOKEN)
    path = write_config(tmp_path / "config", api.https_url or "",
                        {"tokenFile": str(token), "token": "ignored-when-the-file-is-read"},
                        cluster=ca_data(api))
    client = client_for(path)
    before = len(api.request_log)
    client.version()
    # Rotated as the kubelet does it: a new file renamed over the old one.
    (tmp_path / "token.new").write_text(EXEC_GOOD)
    os.replace(tmp_path / "token.new", token)
    client.version()
    token.write_text("")  # caught mid-write: the last token read is kept
    client.version()
    client.close()
    assert users_of(api, before, 3) == [(ADMIN, 200), ("exec-user", 200), ("exec-user", 200)]


def test_in_cluster_token_rotation_and_ipv6_host(api: ApiServer, tmp_path: Path) -> None:
    """A projected ServiceAccount token: the kubelet writes a new ..data folder and swaps a symlink."""
    mount = tmp_path / "serviceaccount"
    first = mount / "..2026_11_27_01"
    first.mkdir(parents=True)
    (first / "token").write_text(demo_names.ADMIN_TOKEN)
    (first / "ca.crt").write_bytes(api.ca_pem or b"")
    (mount / "..data").symlink_to(first.name)
    for name in ("token", "ca.crt"):
        (mount / name).symlink_to(f"..data/{name}")
    settings = Settings(kubeconfig=None, context=None, in_cluster=True, prometheus_url=None)
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}
    client = KubeClient(settings, service_account_dir=mount, environ=environ)
    assert (client.context, client.host) == ("in-cluster", f"https://127.0.0.1:{api.port}")
    before = len(api.request_log)
    client.version()
    second = mount / "..2026_11_27_02"
    second.mkdir()
    (second / "token").write_text(EXEC_GOOD)
    (second / "ca.crt").write_bytes(api.ca_pem or b"")
    (mount / "..data.tmp").symlink_to(second.name)
    os.replace(mount / "..data.tmp", mount / "..data")
    client.version()
    client.close()
    assert users_of(api, before, 2) == [(ADMIN, 200), ("exec-user", 200)]
    ipv6 = KubeClient(settings, service_account_dir=mount,
                      environ={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"})
    assert ipv6.host == "https://[fd00::1]:443"
    with pytest.raises(NotConfigured, match="KUBERNETES_SERVICE_PORT"):
        KubeClient(settings, service_account_dir=mount, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})


# ------------------------------------------------------------------------------ exec plugins

PLUGIN = textwrap.dedent('''
    """A credential plugin: answers from the state folder; logs each run and its environment."""
    import json, os, sys
    state = sys.argv[1]
    with open(os.path.join(state, "runs"), "a") as runs:
        runs.write(json.dumps({"info": json.loads(os.environ["KUBERNETES_EXEC_INFO"]),
                               "extra": os.environ.get("PLUGIN_EXTRA")}) + "\\n")
    answers = json.load(open(os.path.join(state, "answers")))
    count = sum(1 for _ in open(os.path.join(state, "runs")))
    answer = answers[min(count, len(answers)) - 1]
    if "fail" in answer:
        sys.stderr.write(answer["fail"])
        sys.exit(3)
    print(json.dumps({"apiVersion": answer.get("apiVersion", "client.authentication.k8s.io/v1"),
                      "kind": "ExecCredential", "status": answer["status"]}))
''')


@dataclass
class Plugin:
    folder: Path
    runs_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.runs_path = self.folder / "runs"

    def answers(self, *answers: dict[str, Any]) -> None:
        (self.folder / "answers").write_text(json.dumps(list(answers)))
        self.runs_path.unlink(missing_ok=True)

    def runs(self) -> list[dict[str, Any]]:
        if not self.runs_path.exists():
            return []
        return [json.loads(line) for line in self.runs_path.read_text().splitlines()]

    def user(self, api_version: str = "client.authentication.k8s.io/v1", **extra: Any) -> dict[str, Any]:
        return {"exec": {"apiVersion": api_version, "command": sys.executable,
                         "args": ["-I", "-S", str(self.folder / "plugin.py"), str(self.folder)],
                         "env": [{"name": "PLUGIN_EXTRA", "value": "from-kubeconfig"}],
                         "interactiveMode": "Never", **extra}}


@pytest.fixture
def plugin(tmp_path: Path) -> Plugin:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "plugin.py").write_text(PLUGIN)
    return Plugin(folder)


def stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_exec_plugin_token_is_cached_until_it_expires(api: ApiServer, plugin: Plugin, tmp_path: Path) -> None:
    plugin.answers({"status": {"token": EXEC_GOOD, "expirationTimestamp": stamp(timedelta(hours=1))}})
    path = write_config(tmp_path / "config", api.https_url or "", plugin.user(), cluster=ca_data(api))
    client = client_for(path)
    before = len(api.request_log)
    client.version()
    client.list_namespaces()
    assert users_of(api, before, 2) == [("exec-user", 200), ("exec-user", 200)]
    runs = plugin.runs()
    assert len(runs) == 1  # cached: one run for two requests
    assert runs[0]["info"] == {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                               "spec": {"interactive": False}}
    assert runs[0]["extra"] == "from-kubeconfig"
    client.close()
    # An answer that has expired (v1beta1 this time) is asked for again before each request.
    plugin.answers({"apiVersion": "client.authentication.k8s.io/v1beta1",
                    "status": {"token": EXEC_GOOD, "expirationTimestamp": stamp(timedelta(seconds=-5))}})
    path = write_config(tmp_path / "beta", api.https_url or "",
                        plugin.user("client.authentication.k8s.io/v1beta1"), cluster=ca_data(api))
    client = client_for(path)
    client.version()
    client.version()
    client.close()
    assert len(plugin.runs()) == 2


def test_exec_plugin_runs_again_after_a_401_and_the_request_is_sent_again(api: ApiServer, plugin: Plugin,
                                                                           tmp_path: Path) -> None:
    plugin.answers({"status": {"token": EXEC_BAD}}, {"status": {"token": EXEC_GOOD}})
    client = client_for(write_config(tmp_path / "config", api.https_url or "", plugin.user(),
                                     cluster=ca_data(api)))
    before = len(api.request_log)
    assert client.version().startswith("v1.")
    assert users_of(api, before, 2) == [(None, 401), ("exec-user", 200)]
    assert len(plugin.runs()) == 2
    # A server that keeps refusing: one renewal and one retry, then the 401 is the answer.
    plugin.answers({"status": {"token": EXEC_BAD}})
    client = client_for(write_config(tmp_path / "refused", api.https_url or "", plugin.user(),
                                     cluster=ca_data(api)))
    with pytest.raises(Forbidden):
        client.version()
    assert len(plugin.runs()) == 2


def test_a_failing_plugin_is_one_sentence_and_its_stderr_goes_to_the_log(
        api: ApiServer, plugin: Plugin, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plugin.answers({"fail": "error: SSO session expired for profile prod-secret-profile"})
    client = client_for(write_config(tmp_path / "config", api.https_url or "", plugin.user(),
                                     cluster=ca_data(api)))
    with (caplog.at_level(logging.WARNING, logger="k8sdata.sources.kubeconfig"),
          pytest.raises(Forbidden) as caught):
        client.list_pods()
    sentence = caught.value.sentence
    assert "credential plugin" in sentence and "plugin.py" in sentence
    assert "failed with exit code 3" in sentence
    assert "in a shell" in sentence  # what to do
    assert "prod-secret-profile" not in sentence
    assert "prod-secret-profile" in caplog.text
    missing = write_config(tmp_path / "missing", api.https_url or "",
                           {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                     "command": "kams-no-such-plugin",
                                     "installHint": "Install kams-no-such-plugin from the team wiki."}},
                           cluster=ca_data(api))
    with pytest.raises(NotConfigured) as caught_missing:
        client_for(missing).version()
    assert "kams-no-such-plugin" in caught_missing.value.sentence
    assert caught_missing.value.sentence.endswith("Install kams-no-such-plugin from the team wiki.")


# ------------------------------------------------------------------------------ client certificates,
# basic auth, proxies: a tiny TLS server of our own (the stand-in server authenticates tokens only)


@dataclass
class Seen:
    authorization: str | None
    client_cn: str | None
    path: str


class TinyTlsServer:
    """HTTPS on 127.0.0.1: asks for a client certificate signed by `client_ca` (optional), records
    each request's Authorization header and the certificate's CN, answers an empty PodList."""

    def __init__(self, client_ca: Path) -> None:
        identity = sandbox_identity()
        assert identity is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(identity.cert_path, identity.key_path)
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_OPTIONAL
        self.ca_pem = identity.cert_pem
        self.seen: list[Seen] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                subject = dict(item for part in (cert or {}).get("subject", ()) for item in part)
                outer.seen.append(Seen(self.headers.get("Authorization"), subject.get("commonName"),
                                       self.path))
                body = b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A client CA and one client certificate (CN kams-test-user) it signed."""
    folder = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.pem"),
            "-days", "2", "-subj", "/CN=kams-test-client-ca")
    openssl("req", *ec, "-keyout", str(folder / "client.key"), "-out", str(folder / "client.csr"),
            "-subj", "/O=system:masters/CN=kams-test-user")
    openssl("x509", "-req", "-in", str(folder / "client.csr"), "-CA", str(folder / "ca.pem"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(folder / "client.pem"),
            "-days", "2")
    return folder


@pytest.fixture(scope="module")
def tiny(client_pki: Path) -> Iterator[TinyTlsServer]:
    server = TinyTlsServer(client_pki / "ca.pem")
    yield server
    server.stop()


def tiny_config(tiny: TinyTlsServer, path: Path, user: dict[str, Any], **cluster: Any) -> Path:
    trust = {"certificate-authority-data": base64.b64encode(tiny.ca_pem).decode()}
    return write_config(path, tiny.url, user, cluster={**trust, **cluster})


def test_client_certificate_from_files_and_from_data(tiny: TinyTlsServer, client_pki: Path,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # where the -data key may be written
    as_files = tiny_config(tiny, tmp_path / "files", {"client-certificate": str(client_pki / "client.pem"),
                                                      "client-key": str(client_pki / "client.key")})
    as_data = tiny_config(tiny, tmp_path / "data", {
        "client-certificate-data": base64.b64encode((client_pki / "client.pem").read_bytes()).decode(),
        "client-key-data": base64.b64encode((client_pki / "client.key").read_bytes()).decode()})
    before = len(tiny.seen)
    assert pod_count(client_for(as_files)) == 0
    assert pod_count(client_for(as_data)) == 0
    assert [(s.client_cn, s.authorization) for s in tiny.seen[before:]] == [("kams-test-user", None)] * 2
    # The key from -data went to a private temporary file only while it was loaded.
    assert list(private_tmp.iterdir()) == []
    half = tiny_config(tiny, tmp_path / "half", {"client-certificate": str(client_pki / "client.pem")})
    with pytest.raises(NotConfigured, match="without its key"):
        client_for(half)


def test_exec_plugin_can_answer_with_a_client_certificate(tiny: TinyTlsServer, client_pki: Path,
                                                          plugin: Plugin, tmp_path: Path) -> None:
    plugin.answers({"status": {"clientCertificateData": (client_pki / "client.pem").read_text(),
                               "clientKeyData": (client_pki / "client.key").read_text()}})
    before = len(tiny.seen)
    assert pod_count(client_for(tiny_config(tiny, tmp_path / "config", plugin.user()))) == 0
    assert [(s.client_cn, s.authorization) for s in tiny.seen[before:]] == [("kams-test-user", None)]


def test_basic_auth_header(tiny: TinyTlsServer, tmp_path: Path) -> None:
    path = tiny_config(tiny, tmp_path / "basic", {"username": "admin", "password": "p@ss:word"})
    before = len(tiny.seen)
    assert pod_count(client_for(path)) == 0
    expected = "Basic " + base64.b64encode(b"admin:p@ss:word").decode()
    assert [(s.authorization, s.client_cn) for s in tiny.seen[before:]] == [(expected, None)]


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records the targets it tunnels to."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b" ")[1].decode()
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = [conn, upstream]
                while True:
                    readable, _, _ = select.select(pair, [], [], 5)
                    if not readable:
                        return
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is conn else conn).sendall(data)

    def stop(self) -> None:
        self.listener.close()


def test_proxy_url_tunnels_through_the_proxy(tiny: TinyTlsServer, tmp_path: Path) -> None:
    proxy = ConnectProxy()
    try:
        path = tiny_config(tiny, tmp_path / "proxied", {"token": "through-the-proxy"},
                           **{"proxy-url": proxy.url})
        before = len(tiny.seen)
        assert pod_count(client_for(path)) == 0
    finally:
        proxy.stop()
    assert proxy.targets == [tiny.url.removeprefix("https://")]
    assert [s.authorization for s in tiny.seen[before:]] == ["Bearer through-the-proxy"]
    socks = tiny_config(tiny, tmp_path / "socks", {"token": "t"}, **{"proxy-url": "socks5://127.0.0.1:1080"})
    with pytest.raises(NotConfigured, match="socks5"):
        client_for(socks)


# ------------------------------------------------------------------------------ the legacy fallback


def test_auth_provider_oidc_token_through_the_kubernetes_package(api: ApiServer, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    user = {"auth-provider": {"name": "oidc", "config": {
        "client-id": "kams", "idp-issuer-url": "https://issuer.invalid", "id-token": OIDC_JWT}}}
    path = write_config(tmp_path / "oidc", api.https_url or "", user, cluster=ca_data(api))
    with caplog.at_level(logging.WARNING, logger="k8sdata.sources.kubeconfig"):
        client = client_for(path)
    assert "auth-provider 'oidc'" in caplog.text and "kubernetes package" in caplog.text
    before = len(api.request_log)
    assert pod_count(client) > 0
    assert users_of(api, before) == [("oidc-user", 200)]


# ------------------------------------------------------------------------------ no `kubernetes` import

NO_IMPORT_CHECK = textwrap.dedent('''
    import sys
    from pathlib import Path
    from k8sdata.config import Settings
    from k8sdata.sources.kube import KubeClient
    kubeconfig, port, mount = sys.argv[1:4]
    client = KubeClient(Settings.from_env({"KUBECONFIG": kubeconfig}))
    assert len(client.list_pods()) > 0
    settings = Settings(kubeconfig=None, context=None, in_cluster=True, prometheus_url=None)
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    in_cluster = KubeClient(settings, service_account_dir=Path(mount), environ=environ)
    assert len(in_cluster.list_pods(slim=True)) > 0
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "kubernetes")
    assert not loaded, loaded
    print("no kubernetes")
''')


def test_neither_a_kubeconfig_nor_in_cluster_imports_kubernetes(api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = api.write_kubeconfig(tmp_path / "admin", demo_names.ADMIN_TOKEN)
    mount = tmp_path / "sa"
    mount.mkdir()
    (mount / "token").write_text(demo_names.ADMIN_TOKEN)
    (mount / "ca.crt").write_bytes(api.ca_pem or b"")
    command = [sys.executable, "-c", NO_IMPORT_CHECK, str(kubeconfig), str(api.port), str(mount)]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no kubernetes"
