"""The sign-in harness, proven with tiny Streamlit apps of its own: a real OpenID Provider (oidc-provider)
that st.login() signs in through, in Debian's Chromium, and a real nginx whose identity headers reach
st.context.headers in place of forged ones. KAMS's own sign-in is tested elsewhere (tests/app)."""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from sandbox import realservers
from sandbox._http import ThreadedHTTPService
from sandbox.authproxy import EMAIL_HEADER, GROUPS_HEADER, HeaderProxy
from sandbox.identity import ACCOUNTS, ENGINEER, VIEWER, OidcProvider
from tests.plugins.app import ROOT, AppServer, serving_app
from tests.plugins.auth import HeaderProxyFactory, confirm_sign_out, need, sign_in, sign_in_options
from tests.plugins.browser import NewPage, settle

LOGIN_APP = """
import streamlit as st

if not st.user.is_logged_in:
    st.button("Log in", on_click=st.login)
else:
    st.text(f"email={st.user.email}")
    st.text(f"groups={','.join(st.user.get('groups') or [])}")
    st.text(f"name={st.user.name}")
    st.button("Log out", on_click=st.logout)
"""

HEADERS_APP = """
import streamlit as st

st.text(f"email={st.context.headers.get('X-Auth-Request-Email')}")
st.text(f"groups={st.context.headers.get('X-Auth-Request-Groups')}")
"""

FORGED_EMAIL = "mallory@evil.example"


def tiny_app(workdir: Path, source: str, port_options: Any = None) -> Any:
    """`source` served by `streamlit run` from the repository's folder, so under KAMS's own
    .streamlit/config.toml (XSRF protection on), with secrets only from `port_options`."""
    script = workdir / "tiny_app.py"
    script.write_text(source, encoding="utf-8")
    return serving_app({"HOME": str(workdir)}, workdir, script=script, cwd=ROOT, port_options=port_options)


# Without a browser: the provider and the proxy as HTTP sees them.

def test_provider_discovery_names_its_issuer_and_releases_groups(oidc_provider: OidcProvider) -> None:
    document = oidc_provider.discovery()
    assert document["issuer"] == oidc_provider.issuer
    assert document["authorization_endpoint"].startswith(oidc_provider.issuer)
    assert document["end_session_endpoint"] == f"{oidc_provider.issuer}/session/end"
    assert {"openid", "email", "profile", "groups"} <= set(document["scopes_supported"])
    assert {"email", "email_verified", "name", "groups"} <= set(document["claims_supported"])
    assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]


def test_secrets_toml_registers_a_client_for_the_redirect_uri(oidc_provider: OidcProvider,
                                                              tmp_path: Path) -> None:
    redirect_uri = "http://127.0.0.1:8501/oauth2callback"
    path = oidc_provider.write_streamlit_secrets(tmp_path, redirect_uri)
    assert path == tmp_path / ".streamlit" / "secrets.toml"
    auth = tomllib.loads(path.read_text())["auth"]
    assert auth["redirect_uri"] == redirect_uri
    assert auth["server_metadata_url"] == oidc_provider.discovery_url
    assert auth["client_kwargs"] == {"scope": "openid email profile groups"}
    assert len(auth["cookie_secret"]) >= 32 and auth["client_id"] and auth["client_secret"]
    # Two apps, two clients: each knows only its own redirect URI.
    other = oidc_provider.register_client(["http://127.0.0.1:8502/oauth2callback"])
    assert other.client_id != auth["client_id"]
    assert "client_kwargs" not in tomllib.loads(oidc_provider.secrets_toml(redirect_uri, scope=None))["auth"]


class _EchoHeaders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    service = ThreadedHTTPService(_EchoHeaders, thread_name="echo-headers").start()
    try:
        yield service.url
    finally:
        service.stop()


def _headers_through(proxy: HeaderProxy, sent: dict[str, str]) -> dict[str, str]:
    request = urllib.request.Request(f"{proxy.url}/anything", headers=sent)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {name.lower(): value for name, value in json.load(response).items()}


def test_proxy_replaces_or_removes_forged_identity_headers(header_proxy: HeaderProxyFactory,
                                                           echo_upstream: str) -> None:
    forged = {EMAIL_HEADER: FORGED_EMAIL, GROUPS_HEADER.lower(): "admins", "X-Auth-Request_Email": "x@y"}
    signed_in = header_proxy(echo_upstream, email=ENGINEER.email, groups=["platform", "ops"])
    seen = _headers_through(signed_in, forged)
    assert seen["x-auth-request-email"] == ENGINEER.email
    assert seen["x-auth-request-groups"] == "platform,ops"
    assert "x-auth-request_email" not in seen  # nginx drops header names with underscores
    assert seen["host"] == signed_in.url.removeprefix("http://")

    anonymous = header_proxy(echo_upstream)  # no identity: the client's headers are removed, not passed
    seen = _headers_through(anonymous, forged)
    assert "x-auth-request-email" not in seen and "x-auth-request-groups" not in seen


def test_proxy_refuses_values_it_cannot_quote(header_proxy: HeaderProxyFactory, echo_upstream: str) -> None:
    with pytest.raises(ValueError, match="quote"):
        header_proxy(echo_upstream, email='a"; return 200 "x')


@pytest.mark.parametrize(("required", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_program_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, required: str,
                                                              outcome: type[BaseException]) -> None:
    monkeypatch.setenv(realservers.REQUIRE_VARIABLE, required)
    with pytest.raises(outcome, match="nginx is not installed"):
        need("nginx is not installed (make test installs it: scripts/system-deps.sh nginx)")
    need(None)  # nothing missing: nothing happens


# In Chromium.

def _text(page: Any, prefix: str) -> str:
    """The value of the tiny app's `prefix=value` line."""
    from playwright.sync_api import expect

    line = page.get_by_text(re.compile(rf"^{prefix}="))
    expect(line).to_be_visible()
    return str(line.inner_text()).removeprefix(f"{prefix}=")


@pytest.mark.browser
@pytest.mark.slow
def test_st_login_signs_in_through_the_real_provider_and_out_again(oidc_provider: OidcProvider,
                                                                   new_page: NewPage, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with tiny_app(tmp_path, LOGIN_APP, sign_in_options(oidc_provider, tmp_path)) as server:
        page = new_page(height=900)
        page.goto(server.url)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{oidc_provider.issuer}/**")
        sign_in(page, ENGINEER.email)
        page.wait_for_url(f"{server.url}/**")
        assert _text(page, "email") == ENGINEER.email, _log(server)
        assert _text(page, "groups") == "platform"
        assert _text(page, "name") == ENGINEER.name

        # A second tab of the same browser is signed in by Streamlit's cookie, without the provider.
        other = page.context.new_page()
        other.goto(server.url)
        assert _text(other, "email") == ENGINEER.email
        other.close()

        # st.logout(): the provider's end-session page, then back to the app, signed out.
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{oidc_provider.issuer}/**")
        confirm_sign_out(page)
        page.wait_for_url(f"{server.url}/**")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()

        # Signed out at the provider too: logging in asks again, and another account can be chosen.
        page.get_by_role("button", name="Log in").click()
        sign_in(page, VIEWER.sub)
        page.wait_for_url(f"{server.url}/**")
        assert _text(page, "email") == VIEWER.email
        assert _text(page, "groups") == "founders"


@pytest.mark.browser
@pytest.mark.slow
def test_provider_refuses_unknown_accounts_and_cancel_returns_to_the_app(oidc_provider: OidcProvider,
                                                                         new_page: NewPage,
                                                                         tmp_path: Path) -> None:
    from playwright.sync_api import expect

    assert "nobody@example.com" not in {account.email for account in ACCOUNTS}
    with tiny_app(tmp_path, LOGIN_APP, sign_in_options(oidc_provider, tmp_path)) as server:
        page = new_page(height=900)
        page.goto(server.url)
        page.get_by_role("button", name="Log in").click()
        sign_in(page, "nobody@example.com")
        expect(page.get_by_role("alert")).to_have_text("Unknown account: nobody@example.com")
        page.get_by_role("link", name="Cancel").click()  # access_denied back to /oauth2callback
        page.wait_for_url(f"{server.url}/**")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()


def _log(server: AppServer) -> str:
    return server.log_tail()


@pytest.mark.browser
@pytest.mark.slow
def test_proxy_headers_reach_streamlit_over_its_websocket_and_forged_ones_do_not(
        header_proxy: HeaderProxyFactory, chromium: Any, tmp_path: Path) -> None:
    with tiny_app(tmp_path, HEADERS_APP) as server:
        # The browser forges the headers on every request, the WebSocket's handshake included.
        forged = {EMAIL_HEADER: FORGED_EMAIL, GROUPS_HEADER: "admins"}
        context = chromium.new_context(extra_http_headers=forged)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            # Straight to Streamlit, the forgery arrives: the check below would notice a proxy passing it.
            page.goto(server.url)
            assert _text(page, "email") == FORGED_EMAIL, _log(server)
            assert _text(page, "groups") == "admins"

            proxy = header_proxy(server.url, email=VIEWER.email, groups=["founders", "platform"])
            page.goto(proxy.url)
            settle(page)
            assert _text(page, "email") == VIEWER.email, proxy.log_tail()
            assert _text(page, "groups") == "founders,platform"

            anonymous = header_proxy(server.url)
            page.goto(anonymous.url)
            settle(page)
            assert _text(page, "email") == "None"
            assert _text(page, "groups") == "None"
        finally:
            context.close()
