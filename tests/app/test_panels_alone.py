"""Issue 14, item 5: panels fail alone. Each panel depends only on the reads it needs: with the pods list
refused (403) or failing (500) on the stand-in API server, the Nodes tab still shows the nodes with their
capacity and metrics.k8s.io usage (requests unknown, not 0), and a link to one pod's logs still shows them.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from sandbox.demo_names import WEB
from tests.app.test_workloads_tab import nodes_script, texts
from tests.plugins.app import page_script, run_app_test, set_app_environment

PODS_LIST = r"^/api/v1/pods$"


@pytest.fixture
def env(kube_api: Any, prometheus: Any, monkeypatch: pytest.MonkeyPatch, streamlit_caches: None) -> None:
    set_app_environment(monkeypatch, {"KUBECONFIG": str(kube_api.reader_kubeconfig),
                                      "PROMETHEUS_URL": prometheus.url})


@pytest.mark.parametrize("fault", ["forbidden", "error"])
def test_the_nodes_tab_needs_no_pods_list(env: None, kube_faults: Any, fault: str) -> None:
    kube_faults.set_fault(PODS_LIST, fault)
    at = run_app_test(nodes_script)
    said = texts(at)
    assert "Pods per node and what they request are unavailable" in said, said
    assert "Capacity, allocatable and usage are shown without them" in said
    [table] = [frame.value for frame in at.dataframe]
    assert len(table) >= 2 and table["Node"].notna().all()
    # Usage from metrics.k8s.io still answers; what the pods request is unknown, never a made-up 0.
    assert table["CPU used"].notna().any()
    requested = [column for column in table.columns if "requested" in column.lower()]
    assert requested and all(table[column].isna().all() for column in requested), table[requested]
    assert table["Pods"].isna().all()
    kube_faults.clear_faults()


def test_the_nodes_tab_shows_requests_when_the_pods_list_answers(env: None) -> None:
    [table] = [frame.value for frame in run_app_test(nodes_script).dataframe]
    assert table["Pods"].notna().all() and not math.isnan(float(table["CPU requested"].max()))


@pytest.mark.parametrize("fault", ["forbidden", "error"])
def test_a_link_to_a_pods_logs_needs_no_pods_list(env: None, kube_faults: Any, fault: str) -> None:
    kube_faults.set_fault(r"^/api/v1/(namespaces/[^/]+/)?pods$", fault)
    at = run_app_test(page_script("logs"), pod=f"{WEB.namespace}/{WEB.pod}")
    said = " ".join(str(element.value) for element in [*at.info, *at.caption, *at.markdown])
    said = re.sub(r"\\(.)", r"\1", said)
    assert "The pods list is unavailable" in said and "read by itself" in said, said
    assert re.search(r"\d+ of \d+ lines from 1 of 1 containers", said), said
    assert kube_faults.requests_to(rf"^/api/v1/namespaces/{WEB.namespace}/pods/{WEB.pod}$")
