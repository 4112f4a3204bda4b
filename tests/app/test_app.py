"""AppTest tests of the frame (app.py) and the Overview page, against the real sandbox servers.

AppTest runs the script in this process: `app_env` sets os.environ to the sandbox and clears
Streamlit's caches before and after each test, so no test sees another's data or clients.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.health import LIGHT_WORD
from sandbox.demo_names import API, APP_NAMESPACE, WEB
from tests.plugins.app import ROOT, clear_streamlit_caches, closed_port_url, run_app_test, texts

pytestmark = pytest.mark.usefixtures("app_env")


def run_app() -> AppTest:
    return run_app_test(ROOT / "app.py")


def applications_table(at: AppTest) -> pd.DataFrame:
    for frame in at.dataframe:
        if "application" in frame.value.columns and "why" in frame.value.columns:
            return frame.value
    raise AssertionError("no applications table on the page")


def metric(at: AppTest, label: str) -> str:
    for element in at.metric:
        if element.label == label:
            return str(element.value)
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def test_frame_has_sidebar_filters_status_and_demo_banner(prometheus: Any) -> None:
    at = run_app()
    labels = [box.label for box in at.sidebar.selectbox]
    assert labels == ["Cluster context", "Namespace", "Time range", "Auto-refresh"]
    context = at.sidebar.selectbox[0]
    assert context.value == "kams-demo"
    namespaces = at.sidebar.selectbox[1].options
    assert namespaces[0] == "All namespaces"
    assert {APP_NAMESPACE, "kube-system"} <= set(namespaces)
    assert at.sidebar.selectbox[2].options == ["Last 15 minutes", "Last hour", "Last 6 hours",
                                               "Last 24 hours", "Last 7 days"]
    assert [b.label for b in at.sidebar.button] == ["Refresh now"]
    status = texts(at.sidebar.markdown)
    ok = ":green[:material/check_circle:]"
    assert any(s.startswith(f"{ok} **Kubernetes**: connected, v") for s in status), status
    release = prometheus.flavour.prometheus_release
    assert any(s.startswith(f"{ok} **Prometheus**: connected, Prometheus {release}") for s in status), status
    assert any(s.startswith(f"{ok} **S3**: connected, s3://kams/") for s in status), status
    assert any("Demo cluster" in banner and "KUBECONFIG" in banner for banner in texts(at.info))


def test_overview_shows_both_demo_applications_with_lights_and_numbers() -> None:
    at = run_app()
    assert at.title[0].value == "Overview"
    cards = texts(at.markdown)
    for sample in (WEB, API):
        card = next((c for c in cards if c.startswith(f"**{sample.app}** · {APP_NAMESPACE}")), None)
        assert card is not None, cards
        assert re.search(r":(green|orange|red)-badge\[", card), card
    table = applications_table(at)
    shop = table[table["namespace"] == APP_NAMESPACE].set_index("application")
    assert {WEB.app, API.app} <= set(shop.index)
    for sample in (WEB, API):
        assert shop.loc[sample.app, "status"] in {"green", "amber", "red"}
        assert shop.loc[sample.app, "light"] == LIGHT_WORD[shop.loc[sample.app, "status"]]
        assert shop.loc[sample.app, "requests_per_second"] > 0  # live traffic from the sample apps
        assert shop.loc[sample.app, "pods_total"] >= 1
        assert shop.loc[sample.app, "why"]
    assert float(metric(at, "Requests per second")) > 0
    assert metric(at, "Failed requests").endswith("%")
    assert int(metric(at, "Pods running")) > 0
    assert "Restarts (last hour)" in [m.label for m in at.metric]
    # Nothing is wrong with the sources, so no source sentence at the top.
    assert not at.error
    assert not [w for w in texts(at.warning) if "unavailable" in w]


def test_active_alerts_are_listed() -> None:
    at = run_app()
    assert "Active alerts" in [s.value for s in at.subheader]
    alerts = next((f.value for f in at.dataframe if "alertname" in f.value.columns), None)
    assert alerts is not None, "no alerts table"
    assert len(alerts) >= 1
    assert set(alerts["state"]) <= {"firing", "pending"}
    # The demo's OOMKilled container fires at once (for: 0s).
    assert "ContainerOOMKilled" in set(alerts["alertname"])


def test_kube_system_is_hidden_until_asked_for() -> None:
    at = run_app()
    assert "kube-system" not in set(applications_table(at)["namespace"])
    at.toggle[0].set_value(True).run()
    assert "kube-system" in set(applications_table(at)["namespace"])


def test_namespace_filter_limits_the_page() -> None:
    at = run_app()
    at.sidebar.selectbox[1].set_value(APP_NAMESPACE).run()
    assert not at.exception
    assert set(applications_table(at)["namespace"]) == {APP_NAMESPACE}
    assert any("in shop are doing" in c for c in texts(at.caption))


def test_without_prometheus_the_page_says_so_and_still_shows_pods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL")
    clear_streamlit_caches()
    at = run_app()
    warnings = texts(at.warning)
    assert any("Prometheus is not configured" in w and "PROMETHEUS_URL" in w for w in warnings), warnings
    assert ":gray[:material/radio_button_unchecked:] **Prometheus**: not configured" in texts(
        at.sidebar.markdown)
    table = applications_table(at)
    shop = table[table["namespace"] == APP_NAMESPACE].set_index("application")
    assert {WEB.app, API.app} <= set(shop.index)
    assert shop["requests_per_second"].isna().all()
    assert metric(at, "Requests per second") == "–"
    assert "Restarts (since start)" in [m.label for m in at.metric]
    assert int(metric(at, "Pods running")) > 0
    # The Kubernetes-only panels keep working.
    assert any("reason" in f.value.columns for f in at.dataframe), "warning events table missing"


def test_kubernetes_forbidden_is_a_sentence_and_prometheus_lights_remain(kube_faults: Any) -> None:
    kube_faults.set_fault(r"^/api/v1/(namespaces/[^/]+/)?pods", "forbidden")
    at = run_app()
    errors = texts(at.error)
    assert any("KAMS is not allowed to read this from the Kubernetes API" in e for e in errors), errors
    assert any("ClusterRole" in e for e in errors), errors
    # Prometheus alone still gives both demo applications a light and live numbers.
    table = applications_table(at)
    shop = table[table["namespace"] == APP_NAMESPACE].set_index("application")
    assert {WEB.app, API.app} <= set(shop.index)
    assert (shop.loc[[WEB.app, API.app], "requests_per_second"] > 0).all()
    assert metric(at, "Pods running") == "–"
    # The sidebar still reports the API server itself as reachable (/version is not faulted).
    assert any(s.startswith(":green[:material/check_circle:] **Kubernetes**")
               for s in texts(at.sidebar.markdown))


def test_kubernetes_hang_times_out_into_a_sentence(kube_faults: Any) -> None:
    kube_faults.set_fault(r"^/api/v1/(namespaces/[^/]+/)?pods", "hang")
    at = run_app()
    errors = texts(at.error)
    assert any("The Kubernetes API did not answer in time" in e for e in errors), errors
    assert float(metric(at, "Requests per second")) > 0
    kube_faults.clear_faults()
    clear_streamlit_caches()
    at.run()  # the failure was not cached: the next run reads pods again
    assert not at.error
    assert int(metric(at, "Pods running")) > 0


def test_time_range_auto_refresh_and_refresh_button(kube_faults: Any) -> None:
    at = run_app()
    at.sidebar.selectbox[2].set_value("6h").run()
    assert "Requests per second, last 6 hours" in [s.value for s in at.subheader]
    at.sidebar.selectbox[3].set_value("Every minute").run()
    assert not at.exception
    assert [b.label for b in at.sidebar.button] == ["Refresh now"]  # the frame survives reruns
    # Change the cluster behind the cache: a rerun within the TTL still shows the cached pods...
    kube_faults.store.delete("pods", WEB.namespace, WEB.pod)
    at.run()
    assert applications_table(at).set_index("application").loc[WEB.app, "pods_total"] == 1
    # ...and "Refresh now" forgets them, so the web pod is gone (its traffic alone keeps the app listed).
    at.sidebar.button[0].click().run()
    assert not at.exception
    web = applications_table(at).set_index("application").loc[WEB.app]
    assert web["pods_total"] == 0


def test_unreachable_prometheus_and_refused_s3_show_their_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", closed_port_url())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")
    at = run_app()
    warnings = texts(at.warning)
    assert any("KAMS cannot reach Prometheus" in w for w in warnings), warnings
    status = texts(at.sidebar.markdown)
    error = ":red[:material/error:]"
    assert any(s.startswith(f"{error} **Prometheus**: KAMS cannot reach Prometheus") for s in status), status
    assert any(s.startswith(f"{error} **S3**: ") for s in status), status
    # Kubernetes alone still lights both demo applications.
    table = applications_table(at)
    assert {WEB.app, API.app} <= set(table[table["namespace"] == APP_NAMESPACE]["application"])


def test_overview_without_the_pods_list_shows_no_green_light(kube_faults: Any) -> None:
    """Unknown is not green: with the pods list forbidden, the lights come from request numbers only, and
    an application whose numbers look fine is grey ("not known to be healthy"), never green."""
    kube_faults.set_fault(r"^/api/v1/(namespaces/[^/]+/)?pods$", "forbidden")
    at = run_app()
    table = applications_table(at)
    assert not table.empty
    assert "green" not in set(table["status"]), table[["application", "status", "why"]]
    grey = table[table["status"] == "grey"]
    assert not grey.empty  # the demo's healthy applications, now unknown
    assert grey["why"].str.startswith("Not known to be healthy: its pods could not be read").all()
    cards = texts(at.markdown)
    assert not [card for card in cards if ":green-badge[" in card], cards
    assert any("none is green" in sentence for sentence in texts(at.error))
