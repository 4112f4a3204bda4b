"""The pod detail shown under the pods table: containers (images with digests, state, last termination),
conditions, the pod's events, history charts from Prometheus and how to read its logs.

Thin: k8sdata.pods.frames and k8sdata.pods.history do the work. Names, images, messages and events come from
the cluster and are untrusted: they reach the page only through st.dataframe, st.code, Altair or
escape_markdown, never as Markdown or HTML.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.pods.frames import events_frame, pod_conditions_frame, pod_containers_frame
from k8sdata.pods.history import PodHistory
from ui import data
from ui.filters import Filters
from ui.render import escape_markdown, panel_data, show_source_error

#: The Logs page (registered in app.py); `?pod=NAMESPACE/NAME` opens it on one pod's logs.
LOGS_PAGE = "pages/logs.py"
GIB = 1024**3
MIB = 1024**2
CHART_HEIGHT = 220

CONTAINER_TABLE = {
    "container": "Container", "type": "Type", "state": "State", "state_reason": "Reason",
    "ready": "Ready", "restarts": "Restarts", "last_reason": "Last termination",
    "last_exit_code": "Exit code", "last_finished": "Last finished", "image": "Image",
    "image_id": "Image digest", "cpu_request": "CPU request", "cpu_limit": "CPU limit",
    "memory_request": "Memory request", "memory_limit": "Memory limit", "state_message": "Message",
}
CONDITION_TABLE = {"type": "Condition", "status": "Status", "reason": "Reason", "message": "Message",
                   "last_transition": "Since"}
EVENT_TABLE = {"type": "Type", "reason": "Reason", "age": "Last seen", "count": "Count",
               "message": "Message"}


def find_pod(pods: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any] | None:
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if metadata.get("name") == name and metadata.get("namespace") == namespace:
            return pod
    return None


def logs_commands(pod: Mapping[str, Any]) -> str:
    """The kubectl commands that show this pod's logs (current and, after a restart, the previous run),
    one per container, shell-quoted (names come from the cluster), beside the link to the Logs page."""
    metadata = pod.get("metadata") or {}
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    restarted = {c.get("name") for c in (pod.get("status") or {}).get("containerStatuses") or []
                 if int(c.get("restartCount") or 0) > 0}
    lines = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        container_name = str(container.get("name") or "")
        base = shlex.join(["kubectl", "logs", "-n", namespace, name, "-c", container_name])
        lines.append(base)
        if container_name in restarted:
            lines.append(f"{base} --previous")
    return "\n".join(lines)


# --- charts ------------------------------------------------------------------------------------------
def _usage_chart(series: pd.DataFrame, value: str, request: pd.DataFrame, limit: pd.DataFrame,
                 title: str, unit: str, scale: float) -> alt.LayerChart | alt.FacetChart:
    """One line per container, with its request (dashed) and limit (solid) as horizontal rule lines."""
    usage = series.assign(amount=series[value] / scale)
    rules = pd.concat([
        request.assign(kind="request"), limit.assign(kind="limit"),
    ], ignore_index=True)
    rules = rules.assign(amount=rules[value] / scale) if not rules.empty else pd.DataFrame(
        {"container": [], "kind": [], "amount": []})
    lines = alt.Chart(usage).mark_line().encode(
        x=alt.X("timestamp:T", title=None),
        y=alt.Y("amount:Q", title=unit),
        color=alt.Color("container:N", title="Container"),
        tooltip=["container:N", alt.Tooltip("timestamp:T", format="%H:%M:%S"),
                 alt.Tooltip("amount:Q", format=".3f", title=unit)],
    )
    rule_lines = alt.Chart(rules).mark_rule(strokeWidth=2).encode(
        y="amount:Q",
        color=alt.Color("container:N", title="Container"),
        strokeDash=alt.StrokeDash("kind:N", title="Line", scale=alt.Scale(
            domain=["request", "limit"], range=[[6, 4], [1, 0]])),
        tooltip=["container:N", "kind:N", alt.Tooltip("amount:Q", format=".3f", title=unit)],
    )
    return alt.layer(lines, rule_lines).properties(title=title, height=CHART_HEIGHT)


def cpu_chart(history: PodHistory) -> alt.LayerChart | alt.FacetChart:
    assert isinstance(history.cpu, pd.DataFrame)
    return _usage_chart(history.cpu, "cores", _amount(history.cpu_request), _amount(history.cpu_limit),
                        "CPU (cores)", "cores", 1.0)


def memory_chart(history: PodHistory) -> alt.LayerChart | alt.FacetChart:
    assert isinstance(history.memory, pd.DataFrame)
    return _usage_chart(history.memory, "bytes", _amount(history.memory_request),
                        _amount(history.memory_limit), "Memory working set (MiB)",
                        "MiB", MIB)


def _amount(panel: pd.DataFrame | SourceError) -> pd.DataFrame:
    """A request/limit panel, or no rule lines when it failed (the failure is said once, above)."""
    return panel if isinstance(panel, pd.DataFrame) else pd.DataFrame()


def network_chart(network: pd.DataFrame) -> alt.Chart:
    frame = network.assign(kib=network["bytes_per_second"] / 1024)
    return alt.Chart(frame).mark_line().encode(
        x=alt.X("timestamp:T", title=None),
        y=alt.Y("kib:Q", title="KiB/s"),
        color=alt.Color("direction:N", title="Direction"),
        tooltip=["direction:N", alt.Tooltip("timestamp:T", format="%H:%M:%S"),
                 alt.Tooltip("kib:Q", format=".1f", title="KiB/s")],
    ).properties(title="Network receive and transmit (KiB/s)", height=CHART_HEIGHT)


def restarts_chart(restarts: pd.DataFrame) -> alt.Chart:
    return alt.Chart(restarts).mark_line(interpolate="step-after").encode(
        x=alt.X("timestamp:T", title=None),
        y=alt.Y("count:Q", title="Restarts", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("container:N", title="Container"),
        tooltip=["container:N", alt.Tooltip("timestamp:T", format="%H:%M:%S"), "count:Q"],
    ).properties(title="Restarts (kubectl's RESTARTS counter)", height=CHART_HEIGHT)


def _panel(panel: pd.DataFrame | SourceError, what: str, draw: Any) -> None:
    if panel_data(panel, f"{what} is unavailable", f"{what}: Prometheus has no samples for this pod in the "
                  "chosen time range.", level="info", empty_level="caption") is not None:
        st.altair_chart(draw(), width="stretch")


def _usage_panel(usage: pd.DataFrame | SourceError, request: pd.DataFrame | SourceError,
                 limit: pd.DataFrame | SourceError, what: str, draw: Any) -> None:
    """Usage against request and limit: drawn with only the rule lines when the container had no usage
    samples (a container waiting in CrashLoopBackOff has no cgroup, so cAdvisor reports nothing)."""
    rules = len(_amount(request)) + len(_amount(limit))
    if isinstance(usage, pd.DataFrame) and usage.empty and rules:
        st.caption(f"{what}: no usage samples in the chosen time range (the container was not running); "
                   "its request and limit are drawn.")
        st.altair_chart(draw(), width="stretch")
    else:
        _panel(usage, what, draw)


def _history(settings: Settings, filters: Filters, namespace: str, name: str) -> None:
    st.markdown(f"**History** · {escape_markdown(filters.time_range_label.lower())}")
    st.caption("CPU and memory per container, with its request (dashed line) and limit (solid line).")
    try:
        found = data.pod_history(settings, namespace, name, filters.time_range)
    except SourceError as error:
        show_source_error(error, "History charts are unavailable", level="info")
        return
    left, right = st.columns(2)
    with left:
        _usage_panel(found.cpu, found.cpu_request, found.cpu_limit, "CPU", lambda: cpu_chart(found))
        _panel(found.network, "Network", lambda: network_chart(found.network))
    with right:
        _usage_panel(found.memory, found.memory_request, found.memory_limit, "Memory",
                     lambda: memory_chart(found))
        _panel(found.restarts, "Restarts", lambda: restarts_chart(found.restarts))


# --- the detail --------------------------------------------------------------------------------------
def render_pod_detail(settings: Settings, filters: Filters, pod: Mapping[str, Any], row: Mapping[str, Any]
                      ) -> None:
    """Everything about one pod. `row` is its line of the pods table (kubectl's columns)."""
    metadata = pod.get("metadata") or {}
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    st.subheader(f"Pod {escape_markdown(namespace)}/{escape_markdown(name)}", divider="gray")
    # Two rows of three: six side by side truncate kubectl's longer words ("CrashLoopBackOff", "3 (5m ago)").
    columns = [*st.columns(3), *st.columns(3)]
    # st.metric draws its value as Markdown, and kubectl's STATUS is the pod's status.reason or a
    # container's waiting/terminated reason: free text anyone who can write pod status chooses.
    boxes = (("Status", row.get("status")), ("Ready", row.get("ready")),
             ("Restarts", row.get("restarts_display")), ("Age", row.get("age")), ("Node", row.get("node")),
             ("QoS class", row.get("qos_class")))
    for column, (label, value) in zip(columns, boxes, strict=True):
        column.metric(label, escape_markdown("–" if pd.isna(value) or value == "" else value), border=True)
    workload = f"{row.get('workload_kind', '')} {row.get('workload', '')}".strip()
    st.caption(escape_markdown(f"Workload: {workload or 'none'} · Pod IP: {row.get('ip') or 'none'}"))

    st.markdown("**Containers**")
    containers = pod_containers_frame(pod)
    st.dataframe(containers[list(CONTAINER_TABLE)].rename(columns=CONTAINER_TABLE), hide_index=True,
                 width="stretch", key="kams_pod_containers",
                 column_config={"Last finished": st.column_config.DatetimeColumn(format="distance"),
                                "Message": st.column_config.TextColumn(width="large")})

    st.markdown("**Conditions**")
    conditions = pod_conditions_frame(pod)
    st.dataframe(conditions[list(CONDITION_TABLE)].rename(columns=CONDITION_TABLE), hide_index=True,
                 width="stretch", key="kams_pod_conditions",
                 column_config={"Since": st.column_config.DatetimeColumn(format="distance"),
                                "Message": st.column_config.TextColumn(width="large")})

    st.markdown("**Events**")
    try:
        events = events_frame(data.pod_events(settings, filters.context, namespace, name))
    except SourceError as error:
        show_source_error(error, "Events are unavailable", level="info")
    else:
        if events.empty:
            st.caption("No events for this pod (Kubernetes keeps events for about an hour).")
        else:
            st.dataframe(events[list(EVENT_TABLE)].rename(columns=EVENT_TABLE), hide_index=True,
                         width="stretch", key="kams_pod_events",
                         column_config={"Message": st.column_config.TextColumn(width="large")})

    _history(settings, filters, namespace, name)

    st.markdown("**Logs**")
    _logs_link(namespace, name)
    st.caption("Or with kubectl (the same read-only access):")
    st.code(logs_commands(pod) or "(this pod has no containers)", language="bash")


def logs_query(namespace: str, name: str) -> dict[str, str]:
    """The Logs page's query parameters that open it on one pod."""
    return {"pod": f"{namespace}/{name}"}


def _logs_link(namespace: str, name: str) -> None:
    """A link to the Logs page on this pod, in the same session (sidebar choices kept)."""
    try:
        st.page_link(LOGS_PAGE, label="Open this pod's logs", icon=":material/article:",
                     query_params=logs_query(namespace, name))
    except StreamlitPageNotFoundError:
        # Only when pages/pods.py runs without app.py's st.navigation (a page test running the file
        # alone): no page is registered to link to.
        st.caption("Open the Logs page and choose this pod.")
