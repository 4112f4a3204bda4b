"""Kubernetes credentials without the `kubernetes` package: kubeconfig files and the in-cluster
ServiceAccount, read the way kubectl (client-go) reads them.

Why not the `kubernetes` package: importing it costs ~43 MB resident (a tenth of KAMS's memory
budget), and KAMS only needs it to find a server, a CA and a token. The one exception is a legacy
`auth-provider` (gcp, oidc, azure) user: only then is the package imported, lazily, and its own loader
refreshes that token (AuthProviderCredentials).

What is read, as client-go reads it:
- $KUBECONFIG with several files (os.pathsep) is merged: the first file to name a cluster, user or
  context wins, and the first file that sets current-context sets it. Missing files are skipped.
- Relative paths in a kubeconfig (certificate-authority, client-certificate, client-key, tokenFile, an
  exec command with a "/") are relative to the folder of the file that holds them.
- cluster: server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name, proxy-url.
- user: token / tokenFile (the file wins and is re-read when it changes), client-certificate(-data) +
  client-key(-data), username/password, exec credential plugins, auth-provider (see above).
- in-cluster: KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount's token (re-read when it changes and
  at least every minute: projected tokens rotate) and ca.crt.

Everything here fails as k8sdata.errors.NotConfigured (or Forbidden for a credential plugin that
refuses), with a sentence that says what to fix. Nothing here sends a request to the cluster.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml

from k8sdata.config import SERVICE_ACCOUNT_TOKEN, Settings
from k8sdata.errors import Forbidden, NotConfigured, Source

log = logging.getLogger(__name__)

#: The pseudo-context name for the ServiceAccount mounted into KAMS's own pod.
IN_CLUSTER_CONTEXT = "in-cluster"

#: How long a credential plugin may run (client-go waits forever; a page must not).
EXEC_TIMEOUT = 30.0
#: A plugin's credential is renewed this long before its expirationTimestamp, so a request sent just
#: before the expiry does not arrive just after it.
EXEC_EXPIRY_MARGIN = timedelta(seconds=10)
#: A token file is re-read at least this often even if it looks unchanged (client-go: every minute).
TOKEN_FILE_PERIOD = 60.0

_SOURCE: Source = "kubernetes"
_EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


# ------------------------------------------------------------------------------------ kubeconfig files

@dataclass(frozen=True)
class Entry:
    """One named cluster, user or context of a kubeconfig, and the folder its relative paths start from."""

    name: str
    body: Mapping[str, Any]
    folder: Path

    def path(self, key: str) -> str | None:
        """A file path field resolved against the folder of the kubeconfig it came from."""
        value = self.body.get(key)
        if not value:
            return None
        return str(self.folder / os.path.expanduser(str(value)))


@dataclass(frozen=True)
class Kubeconfig:
    """Several kubeconfig files merged as kubectl merges $KUBECONFIG."""

    files: tuple[Path, ...]
    clusters: Mapping[str, Entry]
    users: Mapping[str, Entry]
    contexts: Mapping[str, Entry]
    current_context: str | None
    raw: Mapping[str, Any] = field(repr=False)  # the merged document (for the auth-provider fallback)


def kubeconfig_paths(settings: Settings) -> list[str]:
    """The kubeconfig files to merge, in $KUBECONFIG's order (Settings.kubeconfig holds them joined by
    os.pathsep); a file listed twice is read once, as kubectl does."""
    if not settings.kubeconfig:
        return []
    return list(dict.fromkeys(part for part in settings.kubeconfig.split(os.pathsep) if part.strip()))


def load_kubeconfig(paths: Sequence[str | Path]) -> Kubeconfig:
    """Read and merge kubeconfig files; files that do not exist are skipped (as kubectl does), but at
    least one must exist and every existing one must be a readable kubeconfig."""
    clusters: dict[str, Entry] = {}
    users: dict[str, Entry] = {}
    contexts: dict[str, Entry] = {}
    current: str | None = None
    read: list[Path] = []
    raw: dict[str, list[dict[str, Any]]] = {"clusters": [], "users": [], "contexts": []}
    for name in paths:
        path = Path(os.path.expanduser(str(name)))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as error:
            detail = f"cannot read kubeconfig {path}: {error.strerror or error}"
            raise NotConfigured(_SOURCE, detail) from None
        try:
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except yaml.YAMLError as error:
            raise NotConfigured(_SOURCE, f"kubeconfig {path} is not valid YAML: {error}") from None
        if not isinstance(document, dict):
            raise NotConfigured(_SOURCE, f"kubeconfig {path} is not a kubeconfig (no mapping at the top)")
        read.append(path)
        folder = Path(os.path.abspath(path)).parent  # client-go: the file's folder, symlinks not followed
        for key, kind, target in (("clusters", "cluster", clusters), ("users", "user", users),
                                  ("contexts", "context", contexts)):
            for item in document.get(key) or []:
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                entry_name = str(item["name"])
                body = item.get(kind)
                if entry_name not in target:  # the first file to set a name wins
                    target[entry_name] = Entry(entry_name, body if isinstance(body, dict) else {}, folder)
                    raw[key].append(item)
        if current is None and document.get("current-context"):
            current = str(document["current-context"])
    if not read:
        first = str(paths[0]) if paths else "(none)"
        raise NotConfigured(_SOURCE, f"cannot read kubeconfig {first}: no such file")
    merged = {"apiVersion": "v1", "kind": "Config", **raw, "current-context": current or ""}
    return Kubeconfig(tuple(read), clusters, users, contexts, current, merged)


def list_contexts(settings: Settings) -> tuple[list[str], str | None]:
    """(context names, current context). In-cluster without a kubeconfig: (["in-cluster"], "in-cluster")."""
    if settings.kubeconfig:
        config = load_kubeconfig(kubeconfig_paths(settings))
        names = sorted(config.contexts)
        current = config.current_context
        if settings.context and settings.context in names:
            current = settings.context
        return names, current
    if settings.in_cluster:
        return [IN_CLUSTER_CONTEXT], IN_CLUSTER_CONTEXT
    return [], None


# ------------------------------------------------------------------------------------ TLS

@dataclass(frozen=True, eq=False)
class ClientCertificate:
    """A client certificate and its key: PEM files, or PEM bytes (kubeconfig *-data, a plugin's answer).
    Compared by identity: a new object means a new certificate (a renewed plugin credential)."""

    cert_file: str | None = None
    key_file: str | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None

    def load_into(self, context: ssl.SSLContext) -> None:
        """ssl can load a certificate chain only from files: PEM bytes go to private files (0600, in a
        0700 folder) that are removed as soon as they are loaded, so no key stays on disk."""
        if self.cert_pem is None and self.key_pem is None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
            return
        folder = tempfile.mkdtemp(prefix="kams-client-cert-")
        try:
            cert_path = self.cert_file or _private_file(folder, "cert.pem", self.cert_pem or b"")
            key_path = self.key_file or _private_file(folder, "key.pem", self.key_pem or b"")
            context.load_cert_chain(cert_path, key_path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _private_file(folder: str, name: str, data: bytes) -> str:
    path = os.path.join(folder, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str | None = None
    ca_pem: bytes | None = None  # wins over ca_file, as certificate-authority-data does in client-go
    insecure: bool = False  # insecure-skip-tls-verify
    server_name: str | None = None  # tls-server-name: the name the certificate must carry (and SNI)

    def context(self, certificate: ClientCertificate | None) -> ssl.SSLContext:
        """An SSLContext trusting the cluster's CA (else certifi's bundle, as the kubernetes client
        did), with the client certificate loaded. Raises NotConfigured for unreadable files."""
        from urllib3.util.ssl_ import create_urllib3_context

        context = create_urllib3_context()
        try:
            if self.insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif self.ca_pem is not None:
                context.load_verify_locations(cadata=self.ca_pem.decode("ascii", "replace"))
            elif self.ca_file:
                context.load_verify_locations(cafile=self.ca_file)
            else:
                try:
                    import certifi
                    context.load_verify_locations(cafile=certifi.where())
                except ImportError:  # pragma: no cover - certifi is a dependency of requests/botocore
                    context.load_default_certs()
            if certificate is not None:
                certificate.load_into(context)
        except (OSError, ssl.SSLError, ValueError) as error:
            raise NotConfigured(_SOURCE, f"cannot load the TLS certificates: {error}") from None
        return context


# ------------------------------------------------------------------------------------ credentials

@dataclass(frozen=True, eq=False)
class Auth:
    """What one request carries: an Authorization header value and/or a client certificate."""

    authorization: str | None = None
    certificate: ClientCertificate | None = None


class Credentials(Protocol):
    def auth(self) -> Auth:
        """The credential for the next request (cheap: called for every request)."""
        ...

    def renew(self, failed: Auth) -> bool:
        """The server answered 401 to `failed`: fetch a new credential if one can be had, and say
        whether a retry would send something different."""
        ...

    def close(self) -> None: ...


class StaticCredentials:
    """A fixed token, basic auth or client certificate (or nothing: anonymous)."""

    def __init__(self, authorization: str | None = None,
                 certificate: ClientCertificate | None = None) -> None:
        self._auth = Auth(authorization, certificate)

    def auth(self) -> Auth:
        return self._auth

    def renew(self, failed: Auth) -> bool:
        return False

    def close(self) -> None:
        pass


class TokenFileCredentials:
    """A bearer token read from a file, re-read when the file changes (a projected ServiceAccount
    token is swapped in by a symlink: a new inode) and at least every `period` seconds."""

    def __init__(self, path: str, certificate: ClientCertificate | None = None, *,
                 fallback: str | None = None, period: float = TOKEN_FILE_PERIOD) -> None:
        self.path = path
        self._certificate = certificate
        self._period = period
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._read_at = 0.0
        self._auth = Auth(f"Bearer {fallback}" if fallback else None, certificate)
        if not self._reload() and fallback is None:
            raise NotConfigured(_SOURCE, f"cannot read the token file {path}")

    def _reload(self) -> bool:
        """Read the file if it changed (or the period passed); False if it cannot be read."""
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        now = time.monotonic()
        if stamp == self._stamp and now - self._read_at < self._period:
            return True
        with self._lock:
            try:
                token = Path(self.path).read_text(encoding="utf-8").strip()
            except OSError:
                return False
            if not token:  # a file caught while being written: keep the last token, try again next time
                return False
            self._stamp, self._read_at = stamp, now
            if self._auth.authorization != f"Bearer {token}":
                self._auth = Auth(f"Bearer {token}", self._certificate)
        return True

    def auth(self) -> Auth:
        self._reload()  # an unreadable file keeps the last token read, as client-go does
        return self._auth

    def renew(self, failed: Auth) -> bool:
        self._stamp = None  # read again whatever the file's stamp says
        self._reload()
        return self._auth.authorization != failed.authorization

    def close(self) -> None:
        pass


class ExecCredentials:
    """An `exec` credential plugin (client.authentication.k8s.io/v1 or v1beta1), as client-go runs it:
    KUBERNETES_EXEC_INFO in its environment, no terminal, its answer cached until expirationTimestamp
    and renewed after a 401. Its stderr goes to KAMS's log only (it may hold anything)."""

    def __init__(self, spec: Mapping[str, Any], user: Entry, cluster: Mapping[str, Any],
                 certificate: ClientCertificate | None = None, *, timeout: float = EXEC_TIMEOUT) -> None:
        command = str(spec.get("command") or "")
        if not command:
            raise NotConfigured(_SOURCE, f"the user {user.name!r} has an exec plugin without a command")
        self.api_version = str(spec.get("apiVersion") or "")
        if self.api_version not in _EXEC_API_VERSIONS:
            spoken = " and ".join(_EXEC_API_VERSIONS)
            raise NotConfigured(_SOURCE, f"the exec plugin {command!r} asks for apiVersion "
                                         f"{self.api_version!r}; KAMS speaks {spoken}")
        if spec.get("interactiveMode") == "Always":
            raise NotConfigured(_SOURCE, f"the exec plugin {command!r} needs a terminal "
                                         "(interactiveMode: Always), which KAMS does not have")
        # client-go resolves a command with a path separator against the kubeconfig's folder only.
        self.command = str(user.folder / command) if os.sep in command and not os.path.isabs(command) \
            else command
        self.args = [str(arg) for arg in spec.get("args") or []]
        self.env = {str(item["name"]): str(item.get("value", "")) for item in spec.get("env") or []
                    if isinstance(item, dict) and item.get("name")}
        self.install_hint = str(spec.get("installHint") or "").strip()
        self.timeout = timeout
        info: dict[str, Any] = {"apiVersion": self.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if spec.get("provideClusterInfo"):
            info["spec"]["cluster"] = _exec_cluster_info(cluster)
        self._exec_info = orjson.dumps(info).decode()
        self._certificate = certificate
        self._lock = threading.Lock()
        self._auth: Auth | None = None
        self._expires: datetime | None = None

    @property
    def command_line(self) -> str:
        return " ".join([os.path.basename(self.command), *self.args])

    def auth(self) -> Auth:
        current = self._auth
        if current is not None and not self._expired():
            return current
        with self._lock:  # one run for every thread that finds the credential missing or stale
            if self._auth is None or self._expired():
                self._auth = self._run()
            return self._auth

    def _expired(self) -> bool:
        return self._expires is not None and datetime.now(UTC) >= self._expires - EXEC_EXPIRY_MARGIN

    def renew(self, failed: Auth) -> bool:
        with self._lock:
            if self._auth is failed or self._auth is None:  # else another thread renewed it already
                self._auth = self._run()
            return True

    def close(self) -> None:
        pass

    def _run(self) -> Auth:
        environment = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": self._exec_info}
        try:
            completed = subprocess.run([self.command, *self.args], env=environment, stdin=subprocess.DEVNULL,
                                       capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            hint = self.install_hint or f"Install {os.path.basename(self.command)!r}, or fix the exec " \
                                        "command of this user in the kubeconfig."
            raise NotConfigured(_SOURCE, f"the credential plugin {self.command!r} is not installed",
                                hint=hint) from None
        except subprocess.TimeoutExpired:
            raise Forbidden(_SOURCE, f"the credential plugin `{self.command_line}` did not answer within "
                                     f"{self.timeout:g} s", hint=self._hint()) from None
        except OSError as error:
            raise NotConfigured(_SOURCE, f"the credential plugin {self.command!r} cannot be started: "
                                         f"{error.strerror or error}") from None
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        if completed.returncode != 0:
            log.warning("kubernetes credential plugin %r exited with code %d: %s", self.command_line,
                        completed.returncode, stderr)
            raise Forbidden(_SOURCE, f"the credential plugin `{self.command_line}` failed "
                                     f"with exit code {completed.returncode}", hint=self._hint())
        if stderr:
            log.info("kubernetes credential plugin %r said: %s", self.command_line, stderr)
        auth, expires = self._parse(completed.stdout)
        self._expires = expires
        return auth

    def _hint(self) -> str:
        return (f"Run `{self.command_line}` in a shell to see why (often: log in again, or its "
                "credentials expired), then reload; KAMS's log has the plugin's own message.")

    def _parse(self, stdout: bytes) -> tuple[Auth, datetime | None]:
        def unreadable(why: str) -> Forbidden:
            log.warning("kubernetes credential plugin %r: %s", self.command_line, why)
            return Forbidden(_SOURCE, f"the credential plugin `{self.command_line}` gave an answer KAMS "
                                      f"cannot use ({why})", hint=self._hint())

        try:
            answer = orjson.loads(stdout)
        except orjson.JSONDecodeError:
            raise unreadable("not JSON") from None
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise unreadable("not an ExecCredential")
        if answer.get("apiVersion") != self.api_version:
            raise unreadable(f"apiVersion {answer.get('apiVersion')!r}, expected {self.api_version!r}")
        status = answer.get("status")
        if not isinstance(status, dict):
            raise unreadable("no status")
        token = status.get("token")
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if bool(cert) != bool(key):
            raise unreadable("a client certificate without its key, or a key without its certificate")
        if not token and not cert:
            raise unreadable("neither a token nor a client certificate")
        certificate = ClientCertificate(cert_pem=str(cert).encode(), key_pem=str(key).encode()) if cert \
            else self._certificate
        expires = None
        if status.get("expirationTimestamp"):
            try:
                expires = datetime.fromisoformat(str(status["expirationTimestamp"]))
            except ValueError:
                raise unreadable("an unreadable expirationTimestamp") from None
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
        return Auth(f"Bearer {token}" if token else None, certificate), expires


def _exec_cluster_info(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """spec.cluster of KUBERNETES_EXEC_INFO (provideClusterInfo), as client-go fills it."""
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for key, name in (("tls-server-name", "tls-server-name"), ("insecure-skip-tls-verify",
                                                                "insecure-skip-tls-verify"),
                      ("proxy-url", "proxy-url")):
        if cluster.get(key):
            info[name] = cluster[key]
    if cluster.get("certificate-authority-data"):
        info["certificate-authority-data"] = cluster["certificate-authority-data"]
    for extension in cluster.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = extension.get("extension")
    return info


class AuthProviderCredentials:
    """A legacy `auth-provider` user (gcp, oidc, azure): the `kubernetes` package's own loader makes
    and refreshes the token, asked for it before every request (its refresh hook runs there). The
    package is imported only here, so every other configuration stays without its ~43 MB."""

    def __init__(self, config: Kubeconfig, context: str, user: Entry,
                 certificate: ClientCertificate | None = None) -> None:
        provider = str((user.body.get("auth-provider") or {}).get("name") or "?")
        log.warning("kubeconfig user %r uses the legacy auth-provider %r: loading the kubernetes package "
                    "(about 40 MB more memory) to produce its token; an exec plugin would not need it",
                    user.name, provider)
        try:
            from kubernetes.client import Configuration
            from kubernetes.config.kube_config import KubeConfigLoader
        except ImportError:
            raise NotConfigured(_SOURCE, f"the user {user.name!r} uses the auth-provider {provider!r}, "
                                         "which needs the Python package `kubernetes`",
                                hint="Install it (pip install kubernetes), or use an exec plugin.") from None
        # Only what the loader needs to make a token: this context, its user, and its cluster without
        # TLS files (KAMS sets TLS up itself; the loader would copy CA data into temporary files).
        context_entry = config.contexts[context]
        cluster_name = str(context_entry.body.get("cluster") or "")
        document = {
            "current-context": context,
            "contexts": [{"name": context, "context": dict(context_entry.body)}],
            "clusters": [{"name": cluster_name, "cluster": {}}],
            "users": [{"name": user.name, "user": dict(user.body)}],
        }
        self._configuration = Configuration()
        try:
            KubeConfigLoader(config_dict=document, active_context=context,
                             config_base_path=str(user.folder)).load_and_set(self._configuration)
        except Exception as error:  # the loader raises ConfigException, KeyError, refresh errors...
            raise NotConfigured(_SOURCE, f"the auth-provider {provider!r} of user {user.name!r} gave no "
                                         f"token: {error}") from None
        if not self._header():
            raise NotConfigured(_SOURCE, f"the auth-provider {provider!r} of user {user.name!r} gave no "
                                         "token (the kubernetes package supports gcp and oidc)",
                                hint="Use an exec credential plugin for this cluster instead.")
        self._certificate = certificate
        self._auth = Auth(self._header(), certificate)

    def _header(self) -> str | None:
        value = self._configuration.get_api_key_with_prefix("BearerToken")
        return str(value) if value else None

    def auth(self) -> Auth:
        header = self._header()  # runs the package's refresh hook (an expired gcp/oidc token renews)
        if header != self._auth.authorization:
            self._auth = Auth(header, self._certificate)
        return self._auth

    def renew(self, failed: Auth) -> bool:
        return False

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------ connections

@dataclass(frozen=True)
class Connection:
    """Where one context's server is and how to talk to it."""

    context: str
    server: str  # scheme://host:port, no trailing slash
    tls: TlsSettings
    credentials: Credentials
    certificate: ClientCertificate | None = None  # the kubeconfig's own client certificate, if any
    proxy_url: str | None = None


def connection_for(settings: Settings, context: str | None = None, *,
                   service_account_dir: Path = SERVICE_ACCOUNT_TOKEN.parent,
                   environ: Mapping[str, str] | None = None) -> Connection:
    """The connection for `context` (None: the settings' context, else the kubeconfig's current one);
    in-cluster when asked for "in-cluster" or when there is no kubeconfig but a ServiceAccount."""
    if context == IN_CLUSTER_CONTEXT or (not settings.kubeconfig and settings.in_cluster):
        return in_cluster_connection(service_account_dir, os.environ if environ is None else environ)
    if not settings.kubeconfig:
        raise NotConfigured(_SOURCE)
    config = load_kubeconfig(kubeconfig_paths(settings))
    return kubeconfig_connection(config, context or config.current_context)


def in_cluster_connection(service_account_dir: Path, environ: Mapping[str, str]) -> Connection:
    host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise NotConfigured(_SOURCE, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set, "
                                     "so KAMS is not running in a pod")
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    ca_file = service_account_dir / "ca.crt"
    if not ca_file.is_file():
        raise NotConfigured(_SOURCE, f"the ServiceAccount's CA {ca_file} is missing")
    credentials = TokenFileCredentials(str(service_account_dir / "token"))
    return Connection(IN_CLUSTER_CONTEXT, f"https://{host}:{port}", TlsSettings(ca_file=str(ca_file)),
                      credentials)


def kubeconfig_connection(config: Kubeconfig, context: str | None) -> Connection:
    if not context:
        raise NotConfigured(_SOURCE, "the kubeconfig sets no current-context",
                            hint="Set KAMS_CONTEXT to one of its contexts, or run "
                                 "`kubectl config use-context NAME`.")
    entry = config.contexts.get(context)
    if entry is None:
        raise NotConfigured(_SOURCE, f"the kubeconfig has no context {context!r}")
    cluster_name, user_name = str(entry.body.get("cluster") or ""), str(entry.body.get("user") or "")
    cluster = config.clusters.get(cluster_name)
    if cluster is None:
        raise NotConfigured(_SOURCE, f"context {context!r} names the cluster {cluster_name!r}, which the "
                                     "kubeconfig does not define")
    server = str(cluster.body.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise NotConfigured(_SOURCE, f"cluster {cluster_name!r} has no server address (https://...)")
    tls = TlsSettings(
        ca_file=cluster.path("certificate-authority"),
        ca_pem=_b64(cluster.body.get("certificate-authority-data"), "certificate-authority-data"),
        insecure=bool(cluster.body.get("insecure-skip-tls-verify")),
        server_name=str(cluster.body.get("tls-server-name") or "") or None,
    )
    proxy_url = str(cluster.body.get("proxy-url") or "") or None
    if proxy_url and not proxy_url.startswith(("http://", "https://")):
        raise NotConfigured(_SOURCE, f"cluster {cluster_name!r} uses the proxy {proxy_url!r}; KAMS supports "
                                     "http:// and https:// proxies only")
    user = config.users.get(user_name) if user_name else None
    certificate = _client_certificate(user) if user else None
    credentials = _credentials(config, context, user, cluster, certificate)
    return Connection(context, server, tls, credentials, certificate, proxy_url)


def _b64(value: Any, what: str) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError:
        raise NotConfigured(_SOURCE, f"{what} in the kubeconfig is not base64") from None


def _client_certificate(user: Entry) -> ClientCertificate | None:
    """client-certificate(-data) + client-key(-data); the -data form wins, as in client-go."""
    cert_pem = _b64(user.body.get("client-certificate-data"), "client-certificate-data")
    key_pem = _b64(user.body.get("client-key-data"), "client-key-data")
    cert_file = None if cert_pem else user.path("client-certificate")
    key_file = None if key_pem else user.path("client-key")
    has_cert, has_key = bool(cert_pem or cert_file), bool(key_pem or key_file)
    if not has_cert and not has_key:
        return None
    if has_cert != has_key:
        raise NotConfigured(_SOURCE, f"user {user.name!r} has a client certificate without its key, or a key "
                                     "without its certificate")
    return ClientCertificate(cert_file, key_file, cert_pem, key_pem)


def _credentials(config: Kubeconfig, context: str, user: Entry | None, cluster: Entry,
                 certificate: ClientCertificate | None) -> Credentials:
    """The user's way to authenticate, in the order the kubernetes client tried them: auth-provider,
    token (tokenFile wins over token), exec plugin, username/password; else the client certificate
    alone, or anonymous."""
    if user is None:
        return StaticCredentials(None, None)
    body = user.body
    if body.get("auth-provider"):
        return AuthProviderCredentials(config, context, user, certificate)
    token = str(body.get("token") or "").strip() or None
    token_file = user.path("tokenFile")
    if token_file:
        return TokenFileCredentials(token_file, certificate, fallback=token)
    if token:
        return StaticCredentials(f"Bearer {token}", certificate)
    if isinstance(body.get("exec"), dict):
        return ExecCredentials(body["exec"], user, cluster.body, certificate)
    if body.get("username") is not None and body.get("password") is not None:
        pair = f"{body['username']}:{body['password']}".encode()
        return StaticCredentials(f"Basic {base64.b64encode(pair).decode()}", certificate)
    return StaticCredentials(None, certificate)
