"""Sign-in fixtures: a real OpenID Provider (oidc-provider, sandbox/identity.py) and a real trusted proxy
(Debian's nginx, sandbox/authproxy.py), for tests of st.login() and of KAMS_AUTH=proxy.

    def test_sign_in(oidc_provider, new_page, tmp_path):
        options = sign_in_options(oidc_provider, tmp_path)        # per port: a client and a secrets.toml
        with serving_app(env, tmp_path, port_options=options) as server:
            page = new_page()
            page.goto(server.url)
            page.get_by_role("button", name="Log in").click()     # the app's st.login() button
            sign_in(page, "engineer@example.com")                # the IdP's form, back to the app

    def test_proxy(header_proxy, ...):
        proxy = header_proxy(server.url, email="viewer@example.com", groups=["founders"])
        page.goto(proxy.url)                                     # the app sees X-Auth-Request-* headers

`oidc_provider` is one provider for the session (accounts: sandbox.identity.ACCOUNTS); `header_proxy` is a
factory whose proxies stop after the test. When node, the provider's node_modules or nginx are missing,
the test is skipped with a sentence, or fails under KAMS_REQUIRE_REAL_SERVERS=1 (CI), as need_real does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sandbox import realservers
from sandbox.authproxy import HeaderProxy, nginx_missing_reason
from sandbox.identity import OidcProvider, node_missing_reason

if TYPE_CHECKING:
    from playwright.sync_api import Page

HeaderProxyFactory = Callable[..., HeaderProxy]


def need(reason: str | None) -> None:
    """Skip with `reason` (a missing program), or fail when CI requires the real servers; None: go on."""
    if reason is None:
        return
    if realservers.required():
        pytest.fail(f"{reason} ({realservers.REQUIRE_VARIABLE} is set, so this cannot be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider on a free loopback port for the session: `.issuer`, `.discovery_url`, the static
    client `.client_id`/`.client_secret` (no redirect URIs: use register_client or sign_in_options),
    `.register_client(redirect_uris)`, `.secrets_toml(redirect_uri)`, `.write_streamlit_secrets(dir, uri)`."""
    need(node_missing_reason())
    provider = OidcProvider(tmp_path_factory.mktemp("oidc")).start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def header_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeaderProxyFactory]:
    """`header_proxy(upstream_url, email=None, groups=None, extra_headers={})`: a started nginx in front
    of the upstream (HTTP and WebSocket) that sets X-Auth-Request-Email and X-Auth-Request-Groups
    (comma-joined) in place of whatever the client sent; `.url` is where to go. Stopped after the test."""
    need(nginx_missing_reason())
    proxies: list[HeaderProxy] = []

    def start(upstream: str, email: str | None = None, groups: Sequence[str] | None = None,
              **options: Any) -> HeaderProxy:
        proxy = HeaderProxy(tmp_path_factory.mktemp("nginx"), upstream, email=email, groups=groups, **options)
        proxies.append(proxy)
        return proxy.start()

    try:
        yield start
    finally:
        for proxy in proxies:
            proxy.stop()


def sign_in_options(provider: OidcProvider, workdir: Path,
                    **secrets_options: Any) -> Callable[[int], list[str]]:
    """For serving_app/start_app_server's `port_options`: once the app's port is known, a client is
    registered for http://127.0.0.1:PORT/oauth2callback, WORKDIR/.streamlit/secrets.toml written with
    its `[auth]` section, and `--secrets.files` pointed at it (nothing of ~/.streamlit or the repository
    is read). `secrets_options` go to OidcProvider.secrets_toml (scope=None: Streamlit's default scope,
    without groups; cookie_secret)."""

    def options(port: int) -> list[str]:
        redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
        path = provider.write_streamlit_secrets(workdir, redirect_uri, **secrets_options)
        return ["--secrets.files", str(path)]

    return options


def sign_in(page: Page, login: str) -> None:
    """On the provider's sign-in page (where st.login() sends the browser): type the account's email (or
    sub) and press "Sign in"; the provider then redirects back to the app's /oauth2callback. Waits for the
    form first, so it can be called right after clicking the app's log-in button."""
    email = page.get_by_label("Email")
    email.wait_for(state="visible")
    email.fill(login)
    page.get_by_role("button", name="Sign in").click()


def confirm_sign_out(page: Page) -> None:
    """On the provider's end-session page (where st.logout() sends the browser): "Yes, sign me out"; the
    provider then redirects to the app's /oauth2callback, which sends the browser to the app's root."""
    button = page.get_by_role("button", name="Yes, sign me out")
    button.wait_for(state="visible")
    button.click()
