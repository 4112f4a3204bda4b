"""AppTest of the Pods page (pages/pods.py, ui.pod_detail, ui.filters) against the stand-in API server with
the demo cluster and the real demo Prometheus (fixtures app_env, kube_api, prometheus).

Assertions look rows up by name and compare sets, so they hold whatever order the table is sorted in.
"""

from __future__ import annotations

import copy
import io
import json
import re
import threading
import time
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from k8sdata.export import frame_to_csv
from k8sdata.pods.frames import pods_frame
from sandbox.demo_names import COMPLETED_POD, CRASHLOOP_POD, OOMKILLED_POD, PENDING_POD
from tests.plugins.app import (
    ROOT,
    app_test,
    clear_streamlit_caches,
    page_script,
    rerun,
    run_app_test,
    table_with,
    unescape,
    widget,
)

pytestmark = pytest.mark.usefixtures("app_env")

PAGE = page_script("pods")


def run_page(namespace: str | None = None, **params: str) -> AppTest:
    return run_app_test(PAGE, namespace, **params)


def pods_table(at: AppTest) -> pd.DataFrame:
    for frame in at.dataframe:
        if {"Namespace", "Name", "Status", "Restarts"} <= set(frame.value.columns):
            return frame.value
    raise AssertionError("no pods table on the page")


def row(table: pd.DataFrame, name: str) -> pd.Series:
    found = table[table["Name"] == name]
    assert len(found) == 1, (name, table["Name"].tolist())
    return found.iloc[0]


def chart_data(arrow: bytes) -> pd.DataFrame:
    """A dataset Streamlit sends beside a Vega-Lite spec (Arrow IPC), as a DataFrame."""
    import pyarrow as pa

    return pa.ipc.open_stream(arrow).read_pandas()


def counts_line(at: AppTest) -> str:
    return next(unescape(m.value) for m in at.markdown if " pods" in unescape(m.value))


def demo_pods(kube_api: Any) -> pd.DataFrame:
    """The expected table, straight from the API server (the page's code path is not used)."""
    from k8sdata.config import Settings
    from k8sdata.sources.kube import KubeClient

    client = KubeClient(Settings.from_env())
    try:
        return pods_frame(client.list_pods())
    finally:
        client.close()


def test_table_has_every_pod_with_kubectl_columns(kube_api: Any) -> None:
    at = run_page()
    table = pods_table(at)
    expected = demo_pods(kube_api)
    assert set(zip(table["Namespace"], table["Name"], strict=True)) == set(
        zip(expected["namespace"], expected["name"], strict=True))
    crash = row(table, CRASHLOOP_POD.pod)
    assert (crash["Status"], crash["Ready"], crash["Restart count"]) == ("CrashLoopBackOff", "0/1", 11)
    assert re.fullmatch(r"11 \(\S+ ago\)", crash["Restarts"])
    assert crash["Workload"] == "Deployment invoice-sync"
    assert "pod-template-hash=5d8b9c7f6" in crash["Labels"].split(",")
    assert (crash["Node"], crash["Pod IP"], crash["QoS"]) == ("demo-worker-1", "10.244.1.18", "Burstable")
    assert row(table, PENDING_POD.pod)["Status"] == "Pending"
    assert row(table, COMPLETED_POD.pod)["Status"] == "Completed"
    assert row(table, COMPLETED_POD.pod)["Workload"].startswith("Job ")
    assert row(table, OOMKILLED_POD.pod)["Restart count"] == 3
    not_ready = int((~expected["is_ready"] & (expected["phase"] != "Succeeded")).sum())
    assert counts_line(at) == f"{len(expected):,} pods, {not_ready:,} not ready"
    assert [b.label for b in at.get("download_button")] == ["Download these pods (CSV)"]


def test_usage_beside_requests_and_limits() -> None:
    table = pods_table(run_page())
    running = row(table, OOMKILLED_POD.pod)
    assert running["CPU request"] == pytest.approx(0.25) and running["CPU limit"] == pytest.approx(0.5)
    assert running["Memory request (MiB)"] == pytest.approx(192) and running["Memory limit (MiB)"] == 256
    assert running["CPU (cores)"] > 0 and running["Memory (MiB)"] > 0
    assert running["CPU / request"] == pytest.approx(running["CPU (cores)"] / 0.25 * 100)
    assert running["Memory / limit"] == pytest.approx(running["Memory (MiB)"] / 256 * 100)
    pending = row(table, PENDING_POD.pod)  # never ran: no usage, requests still shown
    assert pd.isna(pending["CPU (cores)"]) and pending["Memory request (MiB)"] == 20480


def test_sidebar_namespace_filter() -> None:
    table = pods_table(run_page(namespace="batch"))
    assert set(table["Namespace"]) == {"batch"}
    assert {PENDING_POD.pod, OOMKILLED_POD.pod, COMPLETED_POD.pod} <= set(table["Name"])


def test_workload_status_node_and_text_filters() -> None:
    at = run_page()
    everything = pods_table(at)
    widget(at.multiselect, "Workload").select("Deployment invoice-sync")
    table = pods_table(rerun(at))
    assert table["Name"].tolist() == [CRASHLOOP_POD.pod]
    assert counts_line(at).startswith(f"1 pods (of {len(everything):,} listed), 1 not ready")
    widget(at.multiselect, "Workload").unselect("Deployment invoice-sync")

    widget(at.multiselect, "Status").select("Pending")
    table = pods_table(rerun(at))
    assert set(table["Status"]) == {"Pending"} and PENDING_POD.pod in set(table["Name"])
    widget(at.multiselect, "Status").unselect("Pending")

    widget(at.multiselect, "Node").select("demo-worker-2")
    table = pods_table(rerun(at))
    assert set(table["Node"]) == {"demo-worker-2"}
    assert len(table) == int((everything["Node"] == "demo-worker-2").sum())
    widget(at.multiselect, "Node").unselect("demo-worker-2")

    widget(at.text_input, "Search").input("10.244.1.18")  # an IP: found in the Pod IP column
    table = pods_table(rerun(at))
    assert table["Name"].tolist() == [CRASHLOOP_POD.pod]
    widget(at.text_input, "Search").input("INVOICE")  # case-insensitive
    assert set(pods_table(rerun(at))["Name"]) == {CRASHLOOP_POD.pod}


def test_label_selector_goes_to_the_api_server() -> None:
    at = run_page()
    widget(at.text_input, "Label selector").input("pod-template-hash=5d8b9c7f6")
    table = pods_table(rerun(at))
    assert table["Name"].tolist() == [CRASHLOOP_POD.pod]
    widget(at.text_input, "Label selector").input("app in (")  # the server's 400, said as a sentence
    rerun(at)
    assert any("Pods are unavailable" in unescape(e.value) for e in at.error), [e.value for e in at.error]


def test_csv_builder_matches_table_and_guards_formulas() -> None:
    at = run_page(namespace="legacy")
    table = pods_table(at)
    parsed = pd.read_csv(io.BytesIO(frame_to_csv(table)))
    assert list(parsed.columns) == list(table.columns)
    assert sorted(parsed["Name"]) == sorted(table["Name"])
    hostile = table.head(1).assign(Name="=HYPERLINK(\"http://x\")")
    assert b"'=HYPERLINK" in frame_to_csv(hostile)


def test_pod_detail_of_the_crash_looping_pod() -> None:
    at = run_page(pod=f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}")
    metrics = {m.label: unescape(str(m.value)) for m in at.metric}  # values are escaped Markdown
    assert metrics["Status"] == "CrashLoopBackOff" and metrics["Ready"] == "0/1"
    containers = table_with(at, "Last termination")
    crash = containers[containers["Container"] == CRASHLOOP_POD.container].iloc[0]
    assert (crash["Last termination"], crash["Exit code"]) == ("Error", 1)
    assert crash["Reason"] == "CrashLoopBackOff"
    assert crash["Image digest"].startswith("registry.example.com/finance/invoice-sync@sha256:")
    conditions = table_with(at, "Condition")
    assert conditions.set_index("Condition").loc["Ready", "Status"] == "False"
    events = table_with(at, "Count")
    assert "BackOff" in set(events["Reason"])
    assert all(CRASHLOOP_POD.pod in message for message in events["Message"] if "pod" in message)
    charts = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    titles = {json.dumps(spec.get("title", "")) for spec in charts}
    assert any("CPU" in t for t in titles) and any("Restarts" in t for t in titles), titles
    commands = "\n".join(code.value for code in at.code)
    assert f"kubectl logs -n legacy {CRASHLOOP_POD.pod} -c {CRASHLOOP_POD.container} --previous" in commands
    assert widget(at.selectbox, "Pod detail").value == f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"


def test_history_charts_of_a_running_pod_are_vega_lite_with_rule_lines() -> None:
    at = run_page(pod=f"{OOMKILLED_POD.namespace}/{OOMKILLED_POD.pod}")
    charts = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    titles = [json.dumps(spec.get("title", "")) for spec in charts]
    assert len(charts) == 4, titles
    cpu = next(spec for spec in charts if "CPU" in json.dumps(spec.get("title")))
    marks = [json.dumps(layer["mark"]) for layer in cpu["layer"]]
    assert any("line" in m for m in marks) and any("rule" in m for m in marks)
    chart = next(c for c in at.get("vega_lite_chart") if "CPU (cores)" in c.proto.spec)
    frames = [chart_data(dataset.data.data) for dataset in chart.proto.datasets]
    rules = next(frame for frame in frames if "kind" in frame.columns)
    drawn = set(zip(rules["kind"], rules["amount"].round(3), strict=True))
    assert drawn == {("request", 0.25), ("limit", 0.5)}
    assert any("Network" in t for t in titles) and any("Memory" in t for t in titles)


def test_picking_a_pod_puts_it_in_the_address() -> None:
    at = run_page(namespace="batch")
    key = f"{PENDING_POD.namespace}/{PENDING_POD.pod}"
    widget(at.selectbox, "Pod detail").select(key)
    rerun(at)
    assert at.query_params["pod"] in (key, [key])
    assert {m.label: m.value for m in at.metric}["Status"] == "Pending"
    events = table_with(at, "Count")
    assert "FailedScheduling" in set(events["Reason"])


def test_a_linked_pod_that_is_gone_is_said_plainly() -> None:
    at = run_page(pod="legacy/no-such-pod")
    assert any("no-such-pod is not in" in unescape(w.value) for w in at.warning)


def test_a_link_to_a_pod_newer_than_the_cached_list_shows_its_detail(kube_faults: Any) -> None:
    """A link to a pod made after the list was cached lists again instead of calling it gone."""
    source = f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"
    assert {m.label for m in run_page(pod=source).metric} >= {"Status"}  # the list is cached now
    pod = copy.deepcopy(kube_faults.store.get(("", "pods"), CRASHLOOP_POD.namespace, CRASHLOOP_POD.pod))
    pod["metadata"] = {"name": "made-after-the-list", "namespace": CRASHLOOP_POD.namespace}
    kube_faults.store.add(pod)
    at = run_page(pod=f"{CRASHLOOP_POD.namespace}/made-after-the-list")
    assert not any("is not in" in unescape(w.value) for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Status"] == "CrashLoopBackOff"
    assert widget(at.selectbox, "Pod detail").value == f"{CRASHLOOP_POD.namespace}/made-after-the-list"


def test_other_tabs_run_only_when_open() -> None:
    at = run_page(tab="Workloads")
    assert "Kind" in table_with(at, "Kind").columns
    with pytest.raises(AssertionError):
        pods_table(at)  # the Pods tab is closed: its table was not built
    nodes = run_page(tab="Nodes")
    assert "Node" in table_with(nodes, "CPU requested").columns


def test_big_clusters_read_the_shared_watch_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.data

    monkeypatch.setattr(ui.data, "WATCH_THRESHOLD_PODS", 1)
    at = run_page()  # the first list tells the page how big the cluster is
    listed = set(pods_table(at)["Name"])
    rerun(at)
    assert any("shared watch" in unescape(c.value) for c in at.caption)
    assert set(pods_table(at)["Name"]) == listed
    at.session_state["kams_namespace"] = "legacy"
    assert set(pods_table(rerun(at))["Namespace"]) == {"legacy"}
    assert any(t.name.startswith("kams-watch") for t in threading.enumerate())
    clear_streamlit_caches()  # releasing the cached WatchedList stops its thread and closes its watch
    assert not any(t.name.startswith("kams-watch") and t.is_alive() for t in threading.enumerate())


def test_a_big_cluster_s_shared_table_follows_each_viewer_s_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16: a big cluster's table is built once per list version, usage and choice, and shared; a
    viewer's filter or sort never leaks into another viewer's table."""
    import ui.data

    monkeypatch.setattr(ui.data, "WATCH_THRESHOLD_PODS", 1)
    everyone = pods_table(rerun(run_page()))  # the second run reads the watch
    assert any("shared watch" in unescape(c.value) for c in run_page().caption)
    one = run_page()
    widget(one.multiselect, "Status").select("Running")
    running = pods_table(rerun(one))
    assert set(running["Status"]) == {"Running"} and len(running) < len(everyone)
    other = pods_table(run_page())  # another viewer, no filter: every pod, as before
    assert set(other["Name"]) == set(everyone["Name"])
    widget(one.selectbox, "Sort by").select("Restart count")
    rerun(one).toggle[0].set_value(True)
    restarts = pods_table(rerun(one))["Restart count"].tolist()
    assert restarts == sorted(restarts, reverse=True)
    assert pods_table(run_page())["Name"].tolist() == other["Name"].tolist()
    clear_streamlit_caches()


def test_a_big_cluster_s_rows_never_wait_for_usage(monkeypatch: pytest.MonkeyPatch, kube_faults: Any) -> None:
    """Issue 16: at 100,000 pods a metrics.k8s.io list takes seconds. A big cluster's Pods page draws its
    rows with requests and limits at once, reads usage in the background, and shows it on a later run."""
    import ui.data

    monkeypatch.setattr(ui.data, "WATCH_THRESHOLD_PODS", 1)
    monkeypatch.setattr(ui.data, "_cluster_pod_counts", {})  # not known to be big before the first run
    monkeypatch.delenv("PROMETHEUS_URL")  # usage from the stand-in's metrics.k8s.io, slowed here
    monkeypatch.setenv("KAMS_REQUEST_TIMEOUT", "20")  # slow, not failing, even on a busy machine
    kube_faults.set_fault(r"^/apis/metrics\.k8s\.io/", "latency", seconds=ui.data.USAGE_WAIT_SECONDS + 4)
    at = run_page()  # the first list tells the page how big the cluster is
    waiting = pods_table(rerun(at))
    assert any("still being read" in unescape(c.value) for c in at.caption)
    assert "CPU (cores)" not in waiting.columns and waiting["CPU request"].notna().any()
    measured, deadline = waiting, time.monotonic() + 20
    while any("still being read" in unescape(c.value) for c in at.caption) and time.monotonic() < deadline:
        time.sleep(0.5)  # the background read comes back meanwhile
        measured = pods_table(rerun(at))
    assert not any("still being read" in unescape(c.value) for c in at.caption)
    assert measured["CPU (cores)"].notna().any()
    assert set(measured["Name"]) == set(waiting["Name"])
    clear_streamlit_caches()


def test_the_overview_of_a_big_cluster_reads_the_same_watch(monkeypatch: pytest.MonkeyPatch,
                                                            kube_faults: Any) -> None:
    """Issue 16: one list or watch per resource for every page and viewer. Once the cluster is known to be
    big, the Overview (and the Nodes tab) read the Pods page's shared watch instead of listing pods again."""
    import ui.data

    monkeypatch.setattr(ui.data, "WATCH_THRESHOLD_PODS", 1)
    listed = set(pods_table(rerun(run_page()))["Name"])  # the first run learns the size, the second watches
    ui.data._pods.clear()  # no list left in the cache: the Overview must find the pods in the watch
    kube_faults.clear_request_log()
    overview = run_app_test(page_script("overview"))
    pod_lists = [r for r in kube_faults.requests_to(r"^/api/v1/(namespaces/[^/]+/)?pods$")
                 if r.query.get("watch") != "true"]
    assert pod_lists == [], pod_lists
    running = next(m for m in overview.metric if m.label.startswith("Pods"))
    assert str(running.value).strip() and len(listed) > 0
    clear_streamlit_caches()


def test_big_tables_send_one_page_and_sort_every_row_first(kube_api: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.filters

    monkeypatch.setattr(ui.filters, "TABLE_PAGE_ROWS", 5)
    expected = demo_pods(kube_api)
    pages = -(-len(expected) // 5)
    assert pages >= 3, "the demo cluster should need several pages of 5"
    at = run_page()
    assert len(pods_table(at)) == 5
    assert counts_line(at).startswith(f"{len(expected):,} pods,")  # counts cover every row
    assert any(f"Showing rows 1-5 of {len(expected):,}" in unescape(c.value) for c in at.caption)
    page_input = next(n for n in at.number_input if n.label.startswith("Page"))
    assert page_input.label == f"Page (of {pages:,})"
    page_input.set_value(pages)
    last = pods_table(rerun(at))
    assert len(last) == len(expected) - 5 * (pages - 1)
    in_kubectl_order = expected.sort_values(["namespace", "name"])
    assert last["Name"].tolist() == in_kubectl_order["name"].tolist()[5 * (pages - 1):]

    # Sorting happens before paging: page 1 holds the most restarted pods of the whole cluster.
    widget(at.selectbox, "Sort by").select("Restart count")
    rerun(at).toggle[0].set_value(True)  # Descending is enabled once a column is chosen
    next(n for n in at.number_input if n.label.startswith("Page")).set_value(1)
    top = pods_table(rerun(at))
    assert top["Restart count"].tolist() == sorted(expected["restarts"], reverse=True)[:5]
    widget(at.selectbox, "Sort by").select("Age")  # kubectl's text: sorted by the creation time
    at.toggle[0].set_value(False)
    youngest = pods_table(rerun(at))
    assert youngest["Created"].tolist() == sorted(expected["created"], reverse=True)[:5]

    widget(at.multiselect, "Workload").select("Deployment invoice-sync")  # one row: no pages at all
    assert pods_table(rerun(at))["Name"].tolist() == [CRASHLOOP_POD.pod]
    assert not [n for n in at.number_input if n.label.startswith("Page")]


def test_pod_detail_links_to_its_logs_in_the_app() -> None:
    """Through app.py (st.navigation registers the Logs page): the link opens pages/logs.py with
    ?pod=NAMESPACE/NAME, in the same session."""
    from urllib.parse import parse_qs

    at = app_test(ROOT / "app.py", timeout=90)
    at.run()
    at.switch_page("pages/pods.py")
    at.query_params["pod"] = f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"
    rerun(at)
    links = [link.proto for link in at.get("page_link") if "logs" in link.proto.label.lower()]
    assert len(links) == 1, [link.proto.label for link in at.get("page_link")]
    assert links[0].page == "logs" and not links[0].external
    assert parse_qs(links[0].query_string) == {"pod": [f"{CRASHLOOP_POD.namespace}/{CRASHLOOP_POD.pod}"]}
