"""AppTest of the Workloads and Nodes tabs (ui.workloads) against the stand-in API server with the demo
cluster (Deployments, a StatefulSet, DaemonSets; metrics.k8s.io) and the real demo Prometheus.

The tabs are drawn by tiny scripts of their own, so these tests do not depend on the Pods page around them.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.plugins.app import run_app_test, set_app_environment


def workloads_script() -> None:
    from ui.filters import current_filters
    from ui.workloads import render_workloads_tab

    render_workloads_tab(current_filters())


def nodes_script() -> None:
    from ui.filters import current_filters
    from ui.workloads import render_nodes_tab

    render_nodes_tab(current_filters())


@pytest.fixture
def env(kube_api: Any, prometheus: Any, monkeypatch: pytest.MonkeyPatch, streamlit_caches: None) -> None:
    """Kubernetes and Prometheus configured, nothing else."""
    set_app_environment(monkeypatch, {"KUBECONFIG": str(kube_api.reader_kubeconfig),
                                      "PROMETHEUS_URL": prometheus.url})


def run(script: Any, namespace: str | None = None) -> AppTest:
    return run_app_test(script, namespace)


def texts(at: AppTest) -> str:
    parts = [*at.info, *at.warning, *at.error, *at.caption, *at.markdown]
    return re.sub(r"\\(.)", r"\1", " ".join(str(part.value) for part in parts))


def table(at: AppTest) -> pd.DataFrame:
    assert len(at.dataframe) == 1
    return at.dataframe[0].value


def test_workloads_tab_lists_the_demo_workloads(env: None) -> None:
    at = run(workloads_script)
    frame = table(at)
    assert set(frame["Kind"]) == {"Deployment", "StatefulSet", "DaemonSet"}
    web = frame[(frame["Namespace"] == "shop") & (frame["Name"] == "web")].iloc[0]
    assert (web["Rollout"], web["Ready"], web["Available"]) == ("Rolled out", "1/1", 100.0)
    assert "Rolling out" in set(frame["Rollout"])  # the demo's crash-looping Deployments
    assert {m.label: m.value for m in at.metric}["Workloads"] == str(len(frame))
    assert [button.label for button in at.get("download_button")] == ["Download workloads (CSV)"]


def test_workloads_tab_follows_the_namespace_filter(env: None) -> None:
    frame = table(run(workloads_script, namespace="shop"))
    assert set(frame["Namespace"]) == {"shop"} and set(frame["Name"]) >= {"web", "api"}


def test_workloads_tab_says_why_when_kubernetes_is_unreachable(env: None, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.delenv("KUBECONFIG")
    at = run(workloads_script)
    assert not at.dataframe
    assert "Workloads are unavailable" in texts(at) and "not configured" in texts(at)


def test_nodes_tab_shows_allocation_and_usage(env: None) -> None:
    at = run(nodes_script)
    frame = table(at)
    assert len(frame) == 3
    assert (frame["CPU used"] > 0).all() and (frame["Memory requested"] > 0).all()
    assert (frame["CPU requested (cores)"] <= frame["CPU allocatable (cores)"]).all()
    assert "metrics.k8s.io" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1
    assert [button.label for button in at.get("download_button")] == ["Download nodes (CSV)"]


def test_nodes_tab_falls_back_to_prometheus(env: None, kube_faults: Any) -> None:
    kube_faults.set_fault(r"^/apis/metrics\.k8s\.io/", "error", message="metrics-server is down")
    at = run(nodes_script)
    frame = table(at)
    assert "come from Prometheus" in texts(at)
    assert frame["Memory used"].notna().any()


def test_nodes_tab_without_any_usage_source_still_shows_requests(env: None, kube_faults: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL")
    kube_faults.set_fault(r"^/apis/metrics\.k8s\.io/", "error", message="metrics-server is down")
    at = run(nodes_script)
    frame = table(at)
    assert "Current usage is unavailable" in texts(at)
    assert frame["CPU used"].isna().all() and (frame["CPU requested"] > 0).all()


def test_allocation_chart_reads_against_a_full_node_and_widens_when_overcommitted() -> None:
    from ui.workloads import allocation_chart

    def scale(cpu_requested_pct: float) -> Any:
        frame = pd.DataFrame({"node": ["n"], "cpu_requested_pct": [cpu_requested_pct], "cpu_used_pct": [None],
                              "memory_requested_pct": [10.0], "memory_used_pct": [20.0]})
        chart = allocation_chart(frame).to_dict()
        assert len(chart["datasets"][next(iter(chart["datasets"]))]) == 3  # the unknown "used" is left out
        return chart["encoding"]["x"]["scale"]["domain"]

    assert scale(40.0) == [0, 100.0]
    assert scale(150.0) == [0, 150.0]


def test_workloads_table_words_and_available_share() -> None:
    from k8sdata.pods.workloads import workloads_frame
    from ui.workloads import workloads_table

    deployment = {"metadata": {"namespace": "ns", "name": "d", "generation": 1},
                  "spec": {"replicas": 4, "paused": True},
                  "status": {"observedGeneration": 1, "availableReplicas": 1, "readyReplicas": 1}}
    scaled_to_zero = {"metadata": {"namespace": "ns", "name": "z", "generation": 1}, "spec": {"replicas": 0},
                      "status": {"observedGeneration": 1}}
    shown = workloads_table(workloads_frame([deployment, scaled_to_zero], [], [])).set_index("Name")
    assert (shown.loc["d", "Rollout"], shown.loc["d", "Available"]) == ("Paused", 25.0)
    assert (shown.loc["z", "Rollout"], shown.loc["z", "Available"]) == ("Rolled out", 100.0)


def test_a_stalled_rollout_is_said_in_words(env: None, kube_faults: Any) -> None:
    """A Deployment past its progress deadline (Progressing=False, ProgressDeadlineExceeded) is named in
    an error above the table, with kubectl's sentence."""
    kube_faults.store.add({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"namespace": "shop", "name": "checkout", "generation": 2,
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "annotations": {"deployment.kubernetes.io/revision": "5"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "checkout"}},
                 "template": {"metadata": {"labels": {"app": "checkout"}},
                              "spec": {"containers": [{"name": "app", "image": "checkout:2"}]}}},
        "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2,
                   "availableReplicas": 2,
                   "conditions": [{"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded"}]},
    })
    at = run(workloads_script, namespace="shop")
    checkout = table(at).set_index("Name").loc["checkout"]
    assert (checkout["Rollout"], checkout["Revision"], checkout["Ready"]) == (
        "Stalled (progress deadline exceeded)", "5", "2/2")
    assert {m.label: m.value for m in at.metric}["Stalled"] == "1"
    stuck = 'Deployment shop/checkout is stuck: deployment "checkout" exceeded its progress deadline'
    assert stuck in texts(at)
