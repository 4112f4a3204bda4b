"""Sign-in and roles in a real browser (Debian's Chromium), against a real identity provider (the npm
package oidc-provider) and a real trusted proxy (Debian's nginx), with KAMS served by `streamlit run`
on the sandbox servers.

- An engineer signs in, sees every page, and signs out.
- A viewer sees the health page only, and a typed /logs address gives a refusal.
- A stranger is refused, and their session makes no cluster call.
- Proxy mode: nginx names the person; headers forged by the browser are ignored when proxy mode is off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sandbox.identity import ENGINEER, STRANGER, VIEWER, OidcProvider
from tests.plugins.app import sandbox_environment, serving_app
from tests.plugins.auth import HeaderProxyFactory, confirm_sign_out, sign_in, sign_in_options

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICY = f"""\
rules:
  - emails: [{ENGINEER.email}]
    role: engineer
  - groups: [founders]
    role: viewer
"""
ENGINEER_PAGES = ["Overview", "Health", "Pods", "Alerts", "Requests", "Logs", "Security", "History"]



def as_shown(text: str) -> re.Pattern[str]:
    """`text` as the page shows it: escaped Markdown puts an invisible word joiner before an address's @
    (ui.render.escape_markdown), so that the browser does not turn it into a mailto: link."""
    return re.compile(re.escape(text).replace("@", "\u2060?@"))

def kams_env(kube_api: Any, prometheus: Any, s3: Any, workdir: Path, **extra: str) -> dict[str, str]:
    env = sandbox_environment(kube_api, prometheus, s3, workdir)
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    env["KAMS_ACCESS_POLICY"] = str(policy)
    env.pop("KAMS_DEMO", None)
    env.update(extra)
    return env


def heading(page: Any) -> str:
    title = page.locator("h1").first
    title.wait_for(state="visible")
    return str(title.inner_text()).strip()


def nav_links(page: Any) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] a')
    # Each link reads "<icon ligature>\n\n<title>": the title is its last line.
    return [str(text).strip().splitlines()[-1] for text in links.all_inner_texts()]


def sign_in_as(page: Any, server_url: str, provider: OidcProvider, login: str) -> None:
    page.goto(server_url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider.issuer}/**")
    sign_in(page, login)
    page.wait_for_url(f"{server_url}/**")


def test_an_engineer_signs_in_sees_every_page_and_signs_out(oidc_provider: OidcProvider, new_page: Any,
                                                            kube_api: Any, prometheus: Any, s3: Any,
                                                            tmp_path: Path) -> None:
    from playwright.sync_api import expect

    env = kams_env(kube_api, prometheus, s3, tmp_path)
    with serving_app(env, tmp_path, port_options=sign_in_options(oidc_provider, tmp_path)) as server:
        page = new_page()
        page.goto(server.url)
        expect(page.get_by_text("Sign in to see this cluster.")).to_be_visible()
        sign_in_as(page, server.url, oidc_provider, ENGINEER.email)
        assert heading(page) == "Overview", server.log_tail()
        expect(page.get_by_text(f"Signed in as {ENGINEER.name} (engineer; every namespace)")).to_be_visible()
        assert nav_links(page) == ENGINEER_PAGES
        page.goto(f"{server.url}/logs")
        assert heading(page) == "Logs"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{oidc_provider.issuer}/**")
        confirm_sign_out(page)
        page.wait_for_url(f"{server.url}/**")
        expect(page.get_by_text("Sign in to see this cluster.")).to_be_visible()
        page.goto(f"{server.url}/pods")  # signed out: every address is the sign-in page
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert not page.get_by_text("Pods", exact=True).count()


def test_a_viewer_sees_the_health_page_only(oidc_provider: OidcProvider, new_page: Any, kube_api: Any,
                                            prometheus: Any, s3: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    env = kams_env(kube_api, prometheus, s3, tmp_path)
    with serving_app(env, tmp_path, port_options=sign_in_options(oidc_provider, tmp_path)) as server:
        page = new_page()
        sign_in_as(page, server.url, oidc_provider, VIEWER.email)
        assert heading(page) == "Health", server.log_tail()
        assert nav_links(page) in ([], ["Health"])  # one page: Streamlit may hide the list
        page.goto(f"{server.url}/logs")  # typed by hand
        expect(page.get_by_text("Your role (viewer) does not open the Logs page.")).to_be_visible()
        assert heading(page) == "Logs" and not page.locator('[data-testid="stDataFrame"]').count()


def test_a_stranger_is_refused_and_costs_the_cluster_nothing(oidc_provider: OidcProvider, new_page: Any,
                                                             kube_api: Any, prometheus: Any, s3: Any,
                                                             tmp_path: Path) -> None:
    from playwright.sync_api import expect

    env = kams_env(kube_api, prometheus, s3, tmp_path)
    with serving_app(env, tmp_path, port_options=sign_in_options(oidc_provider, tmp_path)) as server:
        before = len(kube_api.server.request_log)
        page = new_page()
        sign_in_as(page, server.url, oidc_provider, STRANGER.email)
        expect(page.get_by_text(as_shown(f"You are signed in as {STRANGER.email}, but the access policy "
                                         "gives that account no access"))).to_be_visible()
        page.goto(f"{server.url}/pods")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert len(kube_api.server.request_log) == before, kube_api.server.request_log[before:]


def test_proxy_mode_takes_the_person_from_the_proxy(header_proxy: HeaderProxyFactory, new_page: Any,
                                                     kube_api: Any, prometheus: Any, s3: Any,
                                                     tmp_path: Path) -> None:
    from playwright.sync_api import expect

    env = kams_env(kube_api, prometheus, s3, tmp_path, KAMS_AUTH="proxy")
    with serving_app(env, tmp_path) as server:
        page = new_page()
        page.goto(header_proxy(server.url, email=VIEWER.email, groups=["founders"]).url)
        assert heading(page) == "Health", server.log_tail()
        expect(page.get_by_text(as_shown(f"Signed in as {VIEWER.email} (viewer; every namespace)"))
               ).to_be_visible()
        page = new_page()
        page.goto(header_proxy(server.url, email=ENGINEER.email).url)
        assert heading(page) == "Overview"
        page = new_page()
        page.goto(header_proxy(server.url).url)  # the proxy let someone through without a name
        expect(page.get_by_text("sent no X-Auth-Request-Email header")).to_be_visible()


def test_forged_headers_are_ignored_when_proxy_mode_is_off(oidc_provider: OidcProvider, chromium: Any,
                                                           kube_api: Any, prometheus: Any, s3: Any,
                                                           tmp_path: Path) -> None:
    from playwright.sync_api import expect

    env = kams_env(kube_api, prometheus, s3, tmp_path)  # OIDC: the secrets file has [auth]
    forged = {"X-Auth-Request-Email": ENGINEER.email, "X-Auth-Request-Groups": "platform"}
    with serving_app(env, tmp_path, port_options=sign_in_options(oidc_provider, tmp_path)) as server:
        context = chromium.new_context(extra_http_headers=forged)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url)
            expect(page.get_by_text("Sign in to see this cluster.")).to_be_visible()
            page.goto(f"{server.url}/pods")
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        finally:
            context.close()


def test_listening_on_every_interface_without_sign_in_serves_nothing(new_page: Any, kube_api: Any,
                                                                     prometheus: Any, s3: Any,
                                                                     tmp_path: Path) -> None:
    """`streamlit run app.py --server.address 0.0.0.0` with no sign-in configured: the sentence on how
    to set one up, at every address, and not one call to the cluster."""
    from playwright.sync_api import expect

    env = sandbox_environment(kube_api, prometheus, s3, tmp_path)
    with serving_app(env, tmp_path, port_options=lambda _port: ["--server.address", "0.0.0.0"]) as server:
        before = len(kube_api.server.request_log)
        page = new_page()
        for address in (server.url, f"{server.url}/pods", f"{server.url}/logs"):
            page.goto(address)
            expect(page.get_by_text("KAMS is listening on a network address without sign-in")).to_be_visible()
        assert not page.locator('[data-testid="stSidebar"]').count()
        assert len(kube_api.server.request_log) == before, kube_api.server.request_log[before:]
