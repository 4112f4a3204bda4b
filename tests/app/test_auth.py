"""Sign-in and roles in the frame (app.py), in-process: the refusals, the roles' pages, and that a
refused session reads nothing from the cluster. The real identity provider and the real proxy are in
tests/app/test_auth_browser.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from sandbox.demo_names import APP_NAMESPACE
from tests.plugins.app import ROOT, app_test, listen_on, rerun, texts

pytestmark = pytest.mark.usefixtures("app_env")

POLICY = """\
rules:
  - emails: [engineer@example.com]
    role: engineer
  - groups: [founders]
    role: viewer
  - emails: [scoped@example.com]
    role: engineer
    namespaces: [shop]
"""
AUTH_SECRETS = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                "client_id": "kams", "client_secret": "s", "server_metadata_url":
                "http://127.0.0.1:9/.well-known/openid-configuration"}


def kams(user: dict[str, Any] | None = None) -> AppTest:
    at = app_test(ROOT / "app.py")
    if user is not None:
        at.user = user
        at.secrets["auth"] = AUTH_SECRETS
    return at


@pytest.fixture
def policy(app_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The policy file, set after app_env (which clears every KAMS setting of the environment)."""
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("KAMS_ACCESS_POLICY", str(path))
    return path


def test_no_sign_in_off_loopback_shows_one_sentence_and_reads_nothing(kube_api: Any) -> None:
    at = kams()
    listen_on("0.0.0.0")
    before = len(kube_api.server.request_log)
    try:
        rerun(at)
    finally:
        listen_on("127.0.0.1")
    assert len(kube_api.server.request_log) == before  # no list, no namespace, no version: nothing
    [sentence] = texts(at.info)
    assert "without sign-in" in sentence and "Sign-in and roles" in sentence
    assert not at.sidebar.selectbox and not at.dataframe and not at.metric
    assert [title.value for title in at.title] == ["KAMS"]


def test_loopback_without_sign_in_is_the_whole_site() -> None:
    at = rerun(kams())
    assert at.title[0].value == "Overview" and at.sidebar.selectbox


@pytest.mark.parametrize("env, words", [
    ({"KAMS_AUTH": "ldap"}, "KAMS_AUTH is 'ldap'"),
    ({"KAMS_AUTH": "oidc"}, "no [auth] section"),
    ({"KAMS_AUTH": "proxy"}, "KAMS_ACCESS_POLICY names no access policy"),
    ({"KAMS_AUTH": "proxy", "KAMS_ACCESS_POLICY": "/nonexistent/policy.yaml"}, "does not exist"),
])
def test_sign_in_that_cannot_work_says_why(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                           words: str, kube_api: Any) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = len(kube_api.server.request_log)
    at = rerun(kams())
    assert words in texts(at.info)[0] and len(kube_api.server.request_log) == before


def test_a_bad_policy_names_its_file_and_line(monkeypatch: pytest.MonkeyPatch, policy: Path) -> None:
    policy.write_text("rules:\n  - emails: [a@example.com]\n    role: admin\n", encoding="utf-8")
    monkeypatch.setenv("KAMS_AUTH", "proxy")
    at = rerun(kams())
    assert texts(at.info)[0].startswith(f"{policy}, line 3: unknown role 'admin'")


def test_proxy_mode_without_the_header_lets_nobody_in(monkeypatch: pytest.MonkeyPatch, policy: Path,
                                                      kube_api: Any) -> None:
    monkeypatch.setenv("KAMS_AUTH", "proxy")
    before = len(kube_api.server.request_log)
    at = rerun(kams())
    assert "sent no X-Auth-Request-Email header" in texts(at.info)[0]
    assert len(kube_api.server.request_log) == before


@pytest.mark.usefixtures("policy")
def test_oidc_not_signed_in_offers_sign_in(kube_api: Any) -> None:
    before = len(kube_api.server.request_log)
    at = rerun(kams({"is_logged_in": False}))
    assert "Sign in to see this cluster." in texts(at.info)[0]
    assert [button.label for button in at.button] == ["Sign in"]
    assert len(kube_api.server.request_log) == before


@pytest.mark.usefixtures("policy")
def test_a_stranger_is_refused_and_may_sign_out(kube_api: Any) -> None:
    before = len(kube_api.server.request_log)
    at = rerun(kams({"is_logged_in": True, "email": "stranger@elsewhere.org"}))
    assert "signed in as stranger@elsewhere.org" in texts(at.info)[0]
    assert [button.label for button in at.button] == ["Sign out"]
    assert len(kube_api.server.request_log) == before


@pytest.mark.usefixtures("policy")
def test_an_engineer_sees_every_page_and_who_is_signed_in() -> None:
    at = rerun(kams({"is_logged_in": True, "email": "engineer@example.com", "name": "Erin Engineer"}))
    assert at.title[0].value == "Overview"
    assert "Signed in as Erin Engineer (engineer; every namespace)" in texts(at.sidebar.caption)
    assert "Sign out" in [button.label for button in at.sidebar.button]
    for page in ("pods", "logs", "security", "health"):
        at.switch_page(f"pages/{page}.py")
        rerun(at)
        assert not [w for w in texts(at.warning) if "does not open" in w], page


@pytest.mark.usefixtures("policy")
def test_a_viewer_sees_the_health_page_only() -> None:
    at = rerun(kams({"is_logged_in": True, "email": "founder@startup.example", "groups": ["founders"]}))
    assert at.title[0].value == "Health"
    assert not at.sidebar.selectbox  # no cluster, namespace or connection controls
    assert "Signed in as founder@startup.example (viewer; every namespace)" in texts(at.sidebar.caption)


@pytest.mark.usefixtures("policy")
def test_a_scoped_engineer_picks_only_their_namespaces() -> None:
    at = rerun(kams({"is_logged_in": True, "email": "scoped@example.com"}))
    namespace = next(box for box in at.sidebar.selectbox if box.label == "Namespace")
    assert namespace.options == [APP_NAMESPACE] and namespace.value == APP_NAMESPACE
    assert "Signed in as scoped@example.com (engineer; shop)" in texts(at.sidebar.caption)


#: Every page and tab a scoped engineer can open, and deep links into a namespace they may not see.
SWEEP: list[tuple[str, dict[str, str]]] = [
    ("pages/overview.py", {}), ("pages/health.py", {}), ("pages/alerts.py", {}), ("pages/security.py", {}),
    ("pages/history.py", {}),
    *[("pages/pods.py", {"tab": tab}) for tab in ("Pods", "Workloads", "Nodes", "Right-sizing")],
    *[("pages/requests.py", {"tab": tab}) for tab in ("Applications", "Charts", "Endpoints",
                                                       "Traffic patterns")],
    *[("pages/logs.py", {"tab": tab}) for tab in ("Logs", "Events", "Security & reliability")],
    ("pages/pods.py", {"pod": "kube-system/coredns-5d78c9869d-abcde"}),
    ("pages/logs.py", {"pod": "kube-system/coredns-5d78c9869d-abcde"}),
    ("pages/requests.py", {"app": "kube-system/coredns"}),
]


@pytest.mark.usefixtures("policy")
def test_a_scoped_engineer_never_asks_for_another_namespace(kube_api: Any, prometheus: Any) -> None:
    """Every page, every tab and deep links elsewhere, as an engineer limited to `shop`: the stand-in
    API's request log and Prometheus' query log hold only that namespace's reads (and API discovery)."""
    from k8sdata.access import api_path_refusal, promql_refusal, scoped

    kube_mark = len(kube_api.server.request_log)
    prom_mark = prometheus.prometheus.query_log_lines()
    at = rerun(kams({"is_logged_in": True, "email": "scoped@example.com"}))
    for page, params in SWEEP:
        at.query_params.clear()
        for name, value in params.items():
            at.query_params[name] = value
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, params, [e.value for e in at.exception])
    paths = [record.path for record in kube_api.server.request_log[kube_mark:]]
    queries = prometheus.prometheus.logged_queries(prom_mark)
    assert any(path.startswith(f"/api/v1/namespaces/{APP_NAMESPACE}/pods") for path in paths), paths
    assert queries, "the pages asked Prometheus nothing: the sweep proves nothing"
    with scoped(frozenset({APP_NAMESPACE})):
        others = [path for path in paths if api_path_refusal(path)]
        unscoped = [query for query in queries if promql_refusal(query)]
    assert not others, others
    assert not unscoped, unscoped
    # The checks themselves: another namespace's path or query, or a cluster-wide one, is refused.
    with scoped(frozenset({APP_NAMESPACE})):
        assert api_path_refusal("/api/v1/namespaces/kube-system/pods") and api_path_refusal("/api/v1/nodes")
        assert api_path_refusal("/apis/rbac.authorization.k8s.io/v1/clusterroles")
        assert not api_path_refusal(f"/apis/apps/v1/namespaces/{APP_NAMESPACE}/deployments")
        assert promql_refusal('up{namespace!=""}') and promql_refusal('x{namespace="shop"} or y{job="a"}')
        assert promql_refusal('x{namespace=~"shop|kube-system"}') and promql_refusal("up")
        assert not promql_refusal('sum(rate(x{namespace="shop", code!=""}[5m])) or vector(0)')
