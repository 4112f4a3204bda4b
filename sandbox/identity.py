"""A real OpenID Provider for the sign-in tests: the npm package oidc-provider (sandbox/oidc/provider.js),
started as a child process on a free loopback port.

    with OidcProvider(workdir).start() as idp:
        idp.issuer, idp.discovery_url                  # http://127.0.0.1:PORT, .../.well-known/openid-...
        client = idp.register_client([f"http://127.0.0.1:{port}/oauth2callback"])
        idp.write_streamlit_secrets(directory, redirect_uri)   # directory/.streamlit/secrets.toml, [auth]

The provider knows the accounts of ACCOUNTS (or those given): its sign-in page asks for an "Email" (an
account's email or sub) and has a "Sign in" button; tests.plugins.auth.sign_in takes those steps. ID tokens
carry sub, email, email_verified, name and, when the `groups` scope is asked for, groups.

One static client (`client_id`/`client_secret`, with the redirect URIs given at construction) exists from
the start; `register_client` registers more through the provider's dynamic client registration (RFC 7591),
for apps whose port is chosen after the provider started. Streamlit's Authlib client authenticates with
client_secret_basic, the default here.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Self

from sandbox._process import end_process, ready_line

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "sandbox" / "oidc"
PROVIDER_SCRIPT = NODE_DIR / "provider.js"
START_TIMEOUT_SECONDS = 30.0
HTTP_TIMEOUT_SECONDS = 10.0
#: What st.login() asks for when secrets.toml names no scope is "openid email profile"; the test IdP
#: releases groups only with this scope (as Dex and Okta do), so the secrets written here ask for it.
SCOPE_WITH_GROUPS = "openid email profile groups"


@dataclass(frozen=True)
class Account:
    """A person the provider can sign in; the ID token's claims are these fields."""

    sub: str
    email: str
    name: str
    groups: tuple[str, ...] = ()
    email_verified: bool = True

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "groups": list(self.groups)}


ENGINEER = Account("engineer", "engineer@example.com", "Erin Engineer", ("platform",))
VIEWER = Account("viewer", "viewer@example.com", "Victor Viewer", ("founders",))
STRANGER = Account("stranger", "stranger@elsewhere.org", "Sam Stranger", ())
ACCOUNTS: tuple[Account, ...] = (ENGINEER, VIEWER, STRANGER)


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


def node_missing_reason() -> str | None:
    """Why the provider cannot run here (no node, or its packages not installed), or None."""
    if shutil.which("node") is None:
        return "node is not installed (make test installs it: scripts/system-deps.sh nodejs npm)"
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return f"{NODE_DIR.relative_to(ROOT)}/node_modules is missing (make test runs npm ci there)"
    return None


def _toml_string(value: str) -> str:
    # A JSON string of printable text is a TOML basic string.
    return json.dumps(value, ensure_ascii=True)


@dataclass
class OidcProvider:
    """oidc-provider as a child process. Not started by the constructor: call start() (or use `with`)."""

    workdir: Path
    accounts: Sequence[Account] = ACCOUNTS
    client_id: str = "kams"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: Sequence[str] = ()
    token_endpoint_auth_method: str = "client_secret_basic"
    #: The scopes that release the groups claim (e.g. ("profile",) for an IdP that always sends them).
    groups_scopes: Sequence[str] = ("groups",)
    issuer: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _registration_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "oidc-provider.log"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def client(self) -> OidcClient:
        """The static client given at construction."""
        return OidcClient(self.client_id, self.client_secret, tuple(self.redirect_uris))

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> Self:
        reason = node_missing_reason()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "oidc-provider.json"
        config = {
            "clients": [{"client_id": self.client_id, "client_secret": self.client_secret,
                         "redirect_uris": list(self.redirect_uris),
                         "token_endpoint_auth_method": self.token_endpoint_auth_method}]
            if self.redirect_uris else [],
            "accounts": [account.as_json() for account in self.accounts],
            "groups_scopes": list(self.groups_scopes),
            "initial_access_token": self._registration_token,
        }
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        config_path.chmod(0o600)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(["node", str(PROVIDER_SCRIPT), str(config_path)], cwd=NODE_DIR,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log)
        deadline = time.monotonic() + timeout
        try:
            ready = json.loads(self._first_line(deadline))
            self.issuer, self.port = str(ready["issuer"]), int(ready["port"])
            self._check_discovery(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _first_line(self, deadline: float) -> str:
        assert self.process is not None
        return ready_line(self.process, deadline, "oidc-provider", self.log_tail)

    def _check_discovery(self, deadline: float) -> None:
        """The port is ours: the discovery document names our issuer."""
        last = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {self.log_tail()}")
            try:
                if self.discovery()["issuer"] == self.issuer:
                    return
                last = "discovery names another issuer"
            except (OSError, ValueError, KeyError) as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"oidc-provider's discovery did not answer: {last} {self.log_tail()}")

    def discovery(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.discovery_url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            document: dict[str, Any] = json.load(response)
            return document

    def register_client(self, redirect_uris: Sequence[str], *,
                        post_logout_redirect_uris: Sequence[str] | None = None,
                        token_endpoint_auth_method: str | None = None) -> OidcClient:
        """A new confidential client (authorization code flow), registered through RFC 7591 registration.
        Its post-logout redirect URIs default to its redirect URIs (st.logout() returns to
        /oauth2callback)."""
        metadata = {
            "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris or redirect_uris),
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": token_endpoint_auth_method or self.token_endpoint_auth_method,
        }
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._registration_token}"}
        request = urllib.request.Request(f"{self.issuer}/reg", data=json.dumps(metadata).encode(),
                                         method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"client registration failed: {error.code} {error.read()!r}") from error
        return OidcClient(answer["client_id"], answer["client_secret"], tuple(answer["redirect_uris"]))

    def secrets_toml(self, redirect_uri: str, *, client: OidcClient | None = None,
                     cookie_secret: str | None = None, scope: str | None = SCOPE_WITH_GROUPS) -> str:
        """A secrets.toml `[auth]` section for st.login() against this provider. Without `client`, one is
        registered for `redirect_uri`; scope None leaves Streamlit's default (no groups)."""
        if client is None:
            client = self.register_client([redirect_uri])
        lines = [
            "[auth]",
            f"redirect_uri = {_toml_string(redirect_uri)}",
            f"cookie_secret = {_toml_string(cookie_secret or secrets.token_urlsafe(32))}",
            f"client_id = {_toml_string(client.client_id)}",
            f"client_secret = {_toml_string(client.client_secret)}",
            f"server_metadata_url = {_toml_string(self.discovery_url)}",
        ]
        if scope is not None:
            lines.append(f"client_kwargs = {{ scope = {_toml_string(scope)} }}")
        return "\n".join(lines) + "\n"

    def write_streamlit_secrets(self, directory: Path, redirect_uri: str, **options: Any) -> Path:
        """Write DIRECTORY/.streamlit/secrets.toml with the `[auth]` section of secrets_toml(); returns its
        path (for `streamlit run` started in DIRECTORY, or given as `--secrets.files PATH`)."""
        path = directory / ".streamlit" / "secrets.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.secrets_toml(redirect_uri, **options), encoding="utf-8")
        path.chmod(0o600)
        return path

    def log_tail(self, characters: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-characters:]
        return ""

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_provider(workdir: Path, **options: Any) -> Iterator[OidcProvider]:
    """A started OidcProvider, stopped on exit."""
    provider = OidcProvider(workdir, **options).start()
    try:
        yield provider
    finally:
        provider.stop()
