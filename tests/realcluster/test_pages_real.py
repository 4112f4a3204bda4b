"""Every page under AppTest against the real kube-apiserver with the demo loaded, read as the deployed
ServiceAccount kams/kams (KUBECONFIG=kams.kubeconfig) and nothing else: no Prometheus, Alertmanager, S3.

Each page must run without an exception, be refused nothing (the ClusterRole of deploy/k8s grants every
read a page makes, so no "not allowed" sentence may appear anywhere), show the real data, and say in one
plain sentence what the real server cannot give: usage (no metrics-server), logs (no kubelet), and what
needs Prometheus.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sandbox.demo_names import (
    CRASHLOOP_POD,
    INSECURE_POD,
    NODES,
    OOMKILLED_POD,
    OVERPRIVILEGED_ROLEBINDING,
    PENDING_POD,
    WEB,
)
from sandbox.realcluster import RealCluster
from tests.app.test_logs_page import sentences
from tests.plugins.app import ROOT, page_script, run_app_test, set_app_environment, table_with, texts
from tests.realcluster.realdemo import DEMO_NAMESPACES, server_rows

#: A Forbidden sentence (k8sdata.errors.Forbidden) or the server's own refusal.
REFUSED = re.compile(r"forbidden|not allowed|Grant the KAMS ServiceAccount|access denied", re.IGNORECASE)
NO_METRICS_API = ("This cluster does not serve metrics.k8s.io: metrics-server is not installed. Install "
                  "metrics-server (what kubectl top reads), or set PROMETHEUS_URL to a Prometheus that "
                  "scrapes the kubelets' cAdvisor.")
NO_PROMETHEUS = "Prometheus is not configured. Set PROMETHEUS_URL to your Prometheus server's address."
#: The pages' workload kinds, as the demo's objects name them.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@pytest.fixture(autouse=True)
def real_app(real_demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, streamlit_caches: None) -> None:
    set_app_environment(monkeypatch, real_demo_env)


def run_page(name: str, namespace: str | None = None, **params: str) -> AppTest:
    """The page, run once as a visitor opens it; refused nothing, whatever else it says."""
    at = run_app_test(page_script(name), namespace, **params)
    said = sentences(at)
    assert not REFUSED.search(said), said
    return at


def demo_pod_keys(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects if o["kind"] == "Pod"}


def test_app_frame_connects_to_the_real_server(real_demo: RealCluster) -> None:
    at = run_app_test(ROOT / "app.py")
    assert [title.value for title in at.title] == ["Overview"]
    status = texts(at.sidebar.markdown)
    assert any(f"**Kubernetes**: connected, {real_demo.version}" in line for line in status), status
    namespaces = at.sidebar.selectbox[1].options
    assert set(namespaces) >= DEMO_NAMESPACES, namespaces
    assert not REFUSED.search(sentences(at))


def test_overview_lights_the_demo_applications() -> None:
    at = run_page("overview", CRASHLOOP_POD.namespace)
    apps = table_with(at, "application", "light")
    lights = dict(zip(apps["application"], apps["light"], strict=True))
    assert lights == {"invoice-sync": "Needs attention now", "legacy-portal": "Healthy"}, lights
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Pods running"], metrics["Pods not ready"]) == ("2", "1"), metrics
    # Prometheus is simply absent: said once, as a warning, with what still works.
    warnings = texts(at.warning)
    assert len(warnings) == 1 and warnings[0].startswith(NO_PROMETHEUS), warnings
    assert not at.error
    events = table_with(at, "reason", "object")
    warned = set(zip(events["reason"], events["object"], strict=True))
    assert ("BackOff", f"pod/{CRASHLOOP_POD.pod}") in warned


def pods_table(at: AppTest) -> pd.DataFrame:
    return table_with(at, "Namespace", "Name", "Status", "Ready", "Restarts")


def test_pods_table_is_the_servers_with_requests_and_no_usage(real_demo: RealCluster,
                                                             real_demo_objects: list[dict[str, Any]]) -> None:
    at = run_page("pods")
    table = pods_table(at)
    rows = {(ns, name): row for ns, name, row in zip(table["Namespace"], table["Name"],
                                                     table.to_dict("records"), strict=True)}
    expected = demo_pod_keys(real_demo_objects)
    assert expected <= set(rows)
    server = server_rows(real_demo, "/api/v1/pods")
    for namespace, name in expected:
        theirs, ours = server[f"{namespace}/{name}"], rows[(namespace, name)]
        assert (ours["Ready"], ours["Status"], ours["Restart count"]) == (
            theirs["Ready"], theirs["Status"], int(str(theirs["Restarts"]).split()[0])), (name, ours, theirs)
    # No metrics-server and no Prometheus: one sentence that names what to install, and the requests
    # and limits, which need neither, are still in the table (without empty usage columns).
    assert texts(at.info) == [f"Current usage is unavailable: {NO_METRICS_API} Requests and limits are shown "
                              "without it."]
    assert "CPU (cores)" not in table.columns and "CPU / request" not in table.columns
    oom = rows[(OOMKILLED_POD.namespace, OOMKILLED_POD.pod)]
    assert (oom["CPU request"], oom["CPU limit"]) == (pytest.approx(0.25), pytest.approx(0.5))
    assert (oom["Memory request (MiB)"], oom["Memory limit (MiB)"]) == (192, 256)
    assert rows[(PENDING_POD.namespace, PENDING_POD.pod)]["Memory request (MiB)"] == 20480


def test_pod_detail_of_the_crashing_pod() -> None:
    at = run_page("pods", pod=f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}")
    assert f"Pod {CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}" in texts(at.subheader)
    containers = table_with(at, "Container", "State", "Restarts")
    assert containers[["Container", "Restarts"]].values.tolist() == [[CRASHLOOP_POD.container, 11]]
    events = table_with(at, "Type", "Reason", "Count")
    assert "BackOff" in set(events["Reason"])
    assert f"History charts are unavailable: {NO_PROMETHEUS}" in texts(at.info)


def test_workloads_tab_lists_the_demo_workloads(real_demo_objects: list[dict[str, Any]]) -> None:
    at = run_page("pods", tab="Workloads")
    table = table_with(at, "Kind", "Namespace", "Name", "Rollout")
    listed = set(zip(table["Kind"], table["Namespace"], table["Name"], strict=True))
    loaded = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in real_demo_objects
              if o["kind"] in WORKLOAD_KINDS}
    assert loaded and loaded <= listed
    rollout = dict(zip(zip(table["Namespace"], table["Name"], strict=True), table["Rollout"], strict=True))
    assert rollout[(WEB.namespace, WEB.deployment)] == "Rolled out"
    assert rollout[(CRASHLOOP_POD.namespace, "invoice-sync")] == "Rolling out"


def test_nodes_tab_shows_requests_and_says_why_usage_is_missing(real_demo: RealCluster) -> None:
    at = run_page("pods", tab="Nodes")
    table = table_with(at, "Node", "Status", "CPU requested (cores)")
    demo = table.set_index("Node").loc[list(NODES)]  # other tests' nodes share the server
    assert set(demo["Status"]) == {"Ready"} and (demo["CPU requested (cores)"] > 0).all()
    assert texts(at.info) == [f"Current usage is unavailable: {NO_METRICS_API} Requests and allocatable "
                              "are shown without it."]


def test_rightsizing_tab_says_it_needs_prometheus() -> None:
    at = run_page("pods", tab="Right-sizing")
    assert texts(at.warning) == [f"Right-sizing needs the usage history in Prometheus: {NO_PROMETHEUS}"]


def test_requests_page_says_prometheus_is_not_configured_calmly() -> None:
    at = run_page("requests")
    assert not at.error  # a setting left unset is not a failure
    assert texts(at.warning) == [f"Request metrics are unavailable: {NO_PROMETHEUS}"]


def test_alerts_page_says_what_is_not_configured() -> None:
    at = run_page("alerts")
    assert not at.error
    warnings = texts(at.warning)
    assert warnings == [f"Alerts are unavailable: {NO_PROMETHEUS}",
                        f"Rule health is unavailable: {NO_PROMETHEUS}"]
    assert any(text.startswith("Alertmanager is not configured") for text in texts(at.info))


def test_logs_page_says_the_kubelet_cannot_be_reached() -> None:
    at = run_page("logs", pod=f"{WEB.namespace}/{WEB.pod}")
    warnings = texts(at.warning)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"Logs of {WEB.namespace}/{WEB.pod} (container {WEB.container}) are "
                                  "unavailable: The API server could not reach the kubelet that keeps this "
                                  "log (kubelet demo-worker-1:10250: dial tcp"), warnings
    assert "HTTP 500" not in warnings[0] and "check the server's logs" not in warnings[0]


def test_logs_page_says_an_unscheduled_pod_has_no_log_yet() -> None:
    at = run_page("logs", pod=f"{PENDING_POD.namespace}/{PENDING_POD.pod}")
    assert texts(at.warning) == [
        f"Logs of {PENDING_POD.namespace}/{PENDING_POD.pod} (container {PENDING_POD.container}) are "
        f'unavailable: Pod "{PENDING_POD.pod}" is not scheduled on a node yet, so container '
        f'"{PENDING_POD.container}" has not started. Its log appears once the pod is scheduled and has '
        "started."]


def test_logs_page_events_are_the_servers_events(real_demo: RealCluster,
                                                 real_demo_objects: list[dict[str, Any]]) -> None:
    at = run_page("logs", tab="Events")
    table = table_with(at, "Namespace", "Reason", "Object", "Message")
    shown = {(ns, reason, obj, message) for ns, reason, obj, message in zip(
        table["Namespace"], table["Reason"], table["Object"], table["Message"], strict=True)}
    # The server adds events of its own (kube-apiserver's ClusterIP repair in default, for one).
    server = {(key.split("/")[0], row["Reason"], row["Object"], row["Message"])
              for key, row in server_rows(real_demo, "/api/v1/events").items()}
    assert shown == server
    loaded = {(o["metadata"]["namespace"], o["reason"], o["message"]) for o in real_demo_objects
              if o["kind"] == "Event"}
    assert loaded <= {(ns, reason, message) for ns, reason, _obj, message in shown}
    at = run_page("logs", tab="Security & reliability")
    flagged = table_with(at, "Reason", "Object", "Category")
    assert {("FailedScheduling", f"pod/{PENDING_POD.pod}"), ("BackOff", f"pod/{CRASHLOOP_POD.pod}")} <= set(
        zip(flagged["Reason"], flagged["Object"], strict=True))


def test_security_page_reads_everything_it_audits(real_demo: RealCluster) -> None:
    at = run_page("security")
    namespaces = table_with(at, "Namespace", "enforce", "Passes Baseline today", "Passes Restricted today")
    assert set(namespaces["Namespace"]) >= DEMO_NAMESPACES
    labels = {item["metadata"]["name"]: item["metadata"].get("labels") or {}
              for item in real_demo.reader.get("/api/v1/namespaces")["items"]}
    by_namespace = namespaces.set_index("Namespace")
    for namespace in DEMO_NAMESPACES:
        enforce = labels[namespace].get("pod-security.kubernetes.io/enforce", "")
        assert by_namespace.loc[namespace, "enforce"] == enforce, namespace
        if enforce == "restricted":  # the real PodSecurity admission let these pods in
            assert by_namespace.loc[namespace, "Passes Restricted today"], namespace
    assert not by_namespace.loc[INSECURE_POD.namespace, "Passes Baseline today"]
    findings = pd.concat([frame.value for frame in at.dataframe if "Remediation" in frame.value.columns])
    checks = set(zip(findings["Check"], findings["Namespace"], findings["Object"], strict=True))
    assert ("pss-privileged", INSECURE_POD.namespace, "legacy-portal") in checks
    assert ("rbac-cluster-admin", *OVERPRIVILEGED_ROLEBINDING) in checks
    # KAMS's own permissions come from the real authorizer (a SelfSubjectRulesReview).
    assert any(text.startswith("KAMS is read-only in namespace") for text in texts(at.success))
    images = table_with(at, "Image", "Status", "Critical")
    portal = images[images["Image"] == "registry.example.com/legacy/portal:latest"].iloc[0]
    assert (portal["Status"], portal["Critical"]) == ("scanned", 6)
    skew = table_with(at, "Node", "Kubelet", "Api server")
    assert set(skew["Api server"]) == {real_demo.version} and set(NODES) <= set(skew["Node"])
