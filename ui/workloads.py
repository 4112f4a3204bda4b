"""The Workloads and Nodes tabs of the Pods page.

Thin: k8sdata.pods.workloads and k8sdata.pods.resources do the work; this module caches, formats and draws.
Caching lives here (ui.cache, keyed by cluster, context and namespace; failures are not cached)
rather than in ui/data.py, which another engineer owns this wave; the clients and the raw pod list come
from ui.data, so the Nodes tab shares the Pods table's cached list instead of listing pods again.
Names and messages from the cluster reach the page only through st.dataframe, Altair or escape_markdown.
"""

from __future__ import annotations

import functools

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from k8sdata.pods.resources import SOURCE_METRICS_API
from k8sdata.pods.workloads import (
    ROLLOUT_COMPLETE,
    ROLLOUT_NOT_TRACKED,
    ROLLOUT_PAUSED,
    ROLLOUT_PROGRESSING,
    ROLLOUT_STALLED,
    node_usage,
    nodes_usage_frame,
    workloads_frame,
)
from k8sdata.sources.kube import KubeClient
from k8sdata.sources.prom import PromClient
from ui import data
from ui.cache import cached
from ui.filters import Filters
from ui.render import csv_download, escape_markdown, panel_data, show_source_error

#: Source data is reused this long (the same as ui.data's other lists).
TTL_SECONDS = data.DATA_TTL_SECONDS
GIB = 1024**3

#: The rollout column in plain words.
ROLLOUT_WORDS: dict[str, str] = {
    ROLLOUT_COMPLETE: "Rolled out",
    ROLLOUT_PROGRESSING: "Rolling out",
    ROLLOUT_STALLED: "Stalled (progress deadline exceeded)",
    ROLLOUT_PAUSED: "Paused",
    ROLLOUT_NOT_TRACKED: "Not tracked (OnDelete updates)",
}

WORKLOAD_TABLE = {
    "kind": "Kind", "namespace": "Namespace", "name": "Name", "ready_display": "Ready",
    "available_pct": "Available", "up_to_date": "Up-to-date", "available": "Available pods",
    "rollout_words": "Rollout", "revision": "Revision", "age": "Age", "rollout_message": "Details",
}
NODE_TABLE = {
    "node": "Node", "status": "Status", "roles": "Roles", "pods": "Pods",
    "cpu_allocatable": "CPU allocatable (cores)", "cpu_requested": "CPU requested (cores)",
    "cpu_requested_pct": "CPU requested", "cpu_used": "CPU used (cores)", "cpu_used_pct": "CPU used",
    "memory_allocatable_gib": "Memory allocatable (GiB)", "memory_requested_gib": "Memory requested (GiB)",
    "memory_requested_pct": "Memory requested", "memory_used_gib": "Memory used (GiB)",
    "memory_used_pct": "Memory used", "cpu_capacity": "CPU capacity (cores)",
    "memory_capacity_gib": "Memory capacity (GiB)", "cpu_limits": "CPU limits (cores)",
    "memory_limits_gib": "Memory limits (GiB)",
}


# --- cached source data (leading-underscore arguments are not hashed: the key names the client) ---------
@cached(ttl=TTL_SECONDS)
def _workloads(kube_key: str, namespace: str | None, _kube: KubeClient) -> pd.DataFrame:
    """Four lists (Deployments, StatefulSets, DaemonSets, ReplicaSets), whatever the cluster's size."""
    return workloads_frame(
        _kube.list_deployments(namespace),
        _kube.list_resource("apps/v1", "statefulsets", namespace),
        _kube.list_resource("apps/v1", "daemonsets", namespace),
        _kube.list_resource("apps/v1", "replicasets", namespace),
    )


@cached(ttl=TTL_SECONDS)
def _nodes(kube_key: str, _kube: KubeClient) -> list[dict]:
    return _kube.list_nodes()


@cached(ttl=TTL_SECONDS)
def _node_usage(kube_key: str, prom_url: str, _kube: KubeClient | None, _prom: PromClient | None,
                _pods: list[dict]) -> tuple[pd.DataFrame, str]:
    return node_usage(_prom, _kube, _pods)


def _prom_or_none(settings: Settings) -> PromClient | None:
    try:
        return data.prom_client(settings)
    except NotConfigured:
        return None


# --- Workloads -------------------------------------------------------------------------------------------
def workloads_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: plain-word rollout and the share of desired pods available (0-100)."""
    shown = frame.copy()
    shown["rollout_words"] = shown["rollout"].map(ROLLOUT_WORDS).fillna(shown["rollout"])
    desired = shown["desired"].where(shown["desired"] > 0)
    shown["available_pct"] = (shown["available"] / desired * 100).clip(upper=100).fillna(100.0)
    return shown[list(WORKLOAD_TABLE)].rename(columns=WORKLOAD_TABLE)


def _rollout_summary(frame: pd.DataFrame) -> None:
    counts = frame["rollout"].value_counts()
    stalled, moving, paused = (int(counts.get(k, 0)) for k in (ROLLOUT_STALLED, ROLLOUT_PROGRESSING,
                                                                ROLLOUT_PAUSED))
    columns = st.columns(4)
    columns[0].metric("Workloads", len(frame), border=True)
    columns[1].metric("Rolling out", moving, border=True,
                      help="Waiting for new pods to be updated or to become available "
                           "(kubectl rollout status).")
    columns[2].metric("Stalled", stalled, border=True,
                      help="Deployments that exceeded their progress deadline: the rollout is stuck.")
    columns[3].metric("Paused", paused, border=True, help="Deployments paused with kubectl rollout pause.")
    for row in frame[frame["rollout"] == ROLLOUT_STALLED].itertuples():
        st.error(escape_markdown(f"{row.kind} {row.namespace}/{row.name} is stuck: {row.rollout_message}"),
                 icon=":material/error:")


def render_workloads_tab(filters: Filters) -> None:
    """Deployments, StatefulSets and DaemonSets: counts like kubectl get, rollout like kubectl rollout
    status."""
    settings = Settings.from_env()

    def read() -> pd.DataFrame:
        kube = data.kube_client(settings, filters.context)
        return _workloads(data.kube_key(settings, filters.context), filters.namespace, kube)

    frame = panel_data(data.or_error(read), "Workloads are unavailable", "No Deployments, StatefulSets or "
                       f"DaemonSets in {escape_markdown(filters.namespace_label)}.")
    if frame is None:
        return
    _rollout_summary(frame)
    st.dataframe(
        workloads_table(frame), hide_index=True, width="stretch",
        column_config={
            "Available": st.column_config.ProgressColumn(
                "Available", help="Available pods as a share of the desired count.", format="%.0f%%",
                min_value=0, max_value=100),
            "Details": st.column_config.TextColumn("Details", width="large",
                                                   help="What kubectl rollout status says."),
        },
        key="kams_workloads_table",
    )
    csv_download("Download workloads (CSV)", frame, "workloads.csv", "kams_workloads_csv", icon=None,
                 rerun=True)


# --- Nodes -----------------------------------------------------------------------------------------------
def nodes_table(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    for name in ("memory_allocatable", "memory_requested", "memory_used", "memory_capacity", "memory_limits"):
        shown[f"{name}_gib"] = (shown[name] / GIB).round(2)
    for name in ("cpu_allocatable", "cpu_requested", "cpu_used", "cpu_capacity", "cpu_limits"):
        shown[name] = shown[name].round(3)
    return shown[list(NODE_TABLE)].rename(columns=NODE_TABLE)


def allocation_chart(frame: pd.DataFrame) -> alt.Chart:
    """Requested and used CPU and memory of each node as a share of its allocatable (grouped bars)."""
    rows = []
    for row in frame.itertuples():
        for resource in ("CPU", "Memory"):
            prefix = resource.lower()
            for measure in ("requested", "used"):
                value = getattr(row, f"{prefix}_{measure}_pct")
                if pd.notna(value):
                    rows.append({"node": row.node, "resource": resource, "measure": measure.capitalize(),
                                 "percent": float(value)})
    long = pd.DataFrame(rows, columns=["node", "resource", "measure", "percent"])
    peak = float(long["percent"].max()) if not long.empty else 0.0
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            # 0-100 so bar lengths read as shares of the node; wider only when a node is overcommitted
            x=alt.X("percent:Q", title="% of allocatable",
                    scale=alt.Scale(domain=[0, max(100.0, peak)])),
            y=alt.Y("measure:N", title=None),
            color=alt.Color("measure:N", title=None),
            row=alt.Row("node:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("resource:N", title=None),
            tooltip=["node:N", "resource:N", "measure:N", alt.Tooltip("percent:Q", format=".1f")],
        )
        .properties(height=40, width=260)
    )


def render_nodes_tab(filters: Filters) -> None:
    """Each node's capacity and allocatable, against the requests of its pods and what it uses."""
    settings = Settings.from_env()
    key = data.kube_key(settings, filters.context)
    try:
        kube = data.kube_client(settings, filters.context)
        nodes = _nodes(key, kube)
    except SourceError as error:
        show_source_error(error, "Nodes are unavailable")
        return
    if not nodes:
        st.info("The cluster reports no nodes.")
        return
    # The nodes and their usage do not need the pods list: without it only "requested" is unknown.
    pods = data.or_error(lambda: data.cached_kube(settings, filters.context).list_pods(None))
    if isinstance(pods, SourceError):
        show_source_error(pods, "Pods per node and what they request are unavailable", level="info",
                          after="Capacity, allocatable and usage are shown without them.")
    listed = None if isinstance(pods, SourceError) else pods
    prom = _prom_or_none(settings)
    usage: pd.DataFrame | None = None
    try:
        usage, source = _node_usage(key, prom.url if prom else "", kube, prom, listed or [])
    except SourceError as error:
        show_source_error(error, "Current usage is unavailable", level="info",
                          after="Requests and allocatable are shown without it.")
    else:
        if source == SOURCE_METRICS_API:
            st.caption("Used CPU and memory come from metrics.k8s.io (metrics-server), as in kubectl top "
                       "node: the whole node, system daemons included.")
        else:
            st.caption("Used CPU and memory come from Prometheus: the sum of the containers running on each "
                       "node (metrics.k8s.io was unavailable), so system daemons are not included.")
    frame = nodes_usage_frame(nodes, listed, usage)
    st.caption("Requested is what the scheduler reserves: the requests of every pod on the node that has not "
               "finished, as kubectl describe node adds them up. Percentages are of allocatable.")
    percent = functools.partial(st.column_config.ProgressColumn, min_value=0, max_value=100, format="%.0f%%")
    st.dataframe(
        nodes_table(frame), hide_index=True, width="stretch",
        column_config={
            "CPU requested": percent("CPU requested"),
            "CPU used": percent("CPU used"),
            "Memory requested": percent("Memory requested"),
            "Memory used": percent("Memory used"),
        },
        key="kams_nodes_table",
    )
    csv_download("Download nodes (CSV)", frame, "nodes.csv", "kams_nodes_csv", icon=None, rerun=True)
    st.altair_chart(allocation_chart(frame), width="content")
