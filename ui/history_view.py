"""Drawing for the History page: the trends (one Altair chart each, days on x), the snapshots by cluster
and day, and a preview and download of any archived table.

Archived text (pod names, event messages) reaches the page only through st.dataframe, Altair and
escape_markdown. The download button hands out the archived file's exact bytes (read through
`archive.read_table`, so they match the manifest); a viewer limited to some namespaces gets only their
rows instead, as CSV built by k8sdata.export.frame_to_csv.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import altair as alt
import pandas as pd
import streamlit as st

from k8sdata.archive.store import SnapshotInfo
from k8sdata.archive.trends import TRENDS, Mirror, TrendResults
from k8sdata.config import Settings
from k8sdata.errors import NotConfigured, SourceError
from ui import data, history_data
from ui.history_data import PREVIEW_ROWS, scoped_frame, table_frame
from ui.render import csv_download, escape_markdown, show_source_error

#: Phase colours: mid-tones readable on light and dark backgrounds (as ui.render's light colours).
PHASE_COLOURS = {"Running": "#21a366", "Succeeded": "#4a90d9", "Pending": "#e08a00", "Failed": "#e0403a",
                 "Unknown": "#8a8f98", "": "#b0b4ba"}
SNAPSHOT_COLUMNS = {"cluster": "Cluster", "day": "Day", "time": "Time (UTC)", "tables": "Tables",
                    "size_kb": "Size (KB)", "complete": "Complete"}

SETUP = """History reads the snapshot archive, and no archive is configured. To set one up:

1. Choose where snapshots go: an S3 bucket (`KAMS_S3_BUCKET`, optionally `KAMS_S3_PREFIX` and
   `AWS_ENDPOINT_URL_S3`; credentials from boto3's usual chain) or a local folder (`KAMS_ARCHIVE_DIR`),
   and set the same variable for this website.
2. Take snapshots: `python -m k8sdata snapshot --to s3://BUCKET/PREFIX` (or `--to DIR`) by hand or from
   cron, or in the cluster turn on the `kams-snapshot` CronJob (`deploy/k8s/cronjob.yaml`, every 15
   minutes; it ships suspended).
3. Come back here: the trends appear from the first snapshot on. docs/archive.md has the details."""


def render_setup() -> None:
    st.info(SETUP, icon=":material/info:")


def snapshot_label(snapshot: SnapshotInfo) -> str:
    seq = f" (#{snapshot.seq})" if snapshot.seq > 1 else ""
    return f"{snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC{seq} · {snapshot.cluster}"


def snapshots_table(snapshots: Sequence[SnapshotInfo]) -> pd.DataFrame:
    """One row per snapshot, newest first: cluster, day, time, tables, size, complete."""
    rows = [{"cluster": snap.cluster, "day": f"{snap.taken_at:%Y-%m-%d}",
             "time": f"{snap.taken_at:%H:%M:%S}" + (f".{snap.seq}" if snap.seq > 1 else ""),
             "tables": ", ".join(snap.tables), "size_kb": round(snap.size_bytes / 1024, 1),
             "complete": snap.complete} for snap in snapshots]
    return pd.DataFrame(rows, columns=list(SNAPSHOT_COLUMNS)).rename(columns=SNAPSHOT_COLUMNS)


def choose_cluster(snapshots: Sequence[SnapshotInfo]) -> str | None:
    """The cluster the page shows (a select box when the archive holds several); None when none."""
    clusters = sorted({snap.cluster for snap in snapshots})
    if len(clusters) <= 1:
        return clusters[0] if clusters else None
    return st.selectbox("Cluster", clusters, key="kams_history_cluster")


def render_snapshots(snapshots: Sequence[SnapshotInfo], days: int) -> None:
    st.subheader("Snapshots")
    if not snapshots:
        st.info(f"No snapshots were taken in the last {days} days.", icon=":material/info:")
        return
    incomplete = sum(1 for snap in snapshots if not snap.complete)
    st.caption(f"{len(snapshots)} snapshot(s) in the last {days} days, newest first"
               + (f"; {incomplete} incomplete (no manifest: the run stopped half-way), never read."
                  if incomplete else "."))
    st.dataframe(snapshots_table(snapshots), hide_index=True, key="kams_history_snapshots",
                 column_config={"Complete": st.column_config.CheckboxColumn()})


def _for_cluster(frame: pd.DataFrame, cluster: str | None) -> pd.DataFrame:
    return frame[frame["cluster"] == cluster] if cluster is not None else frame


def _security_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(id_vars=["dt"], value_vars=["mean_score", "last_score"], var_name="measure",
                      value_name="score").replace({"measure": {"mean_score": "mean of the day",
                                                               "last_score": "day's last snapshot"}})
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("dt:O", title="Day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("score:Q", title="Overall score", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("measure:N", title=None),
        tooltip=[alt.Tooltip("dt:N", title="day"), "measure:N",
                 alt.Tooltip("score:Q", format=".1f")])


def _bar_chart(frame: pd.DataFrame, column: str, title: str) -> alt.Chart:
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("dt:O", title="Day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{column}:Q", title=title, axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("dt:N", title="day"),
                 alt.Tooltip(f"{column}:Q", title=title)])


def _requests_chart(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("dt:O", title="Day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("mean_rps:Q", title="Requests per second (mean)"),
        tooltip=[alt.Tooltip("dt:N", title="day"),
                 alt.Tooltip("mean_rps:Q", title="mean rps", format=".2f"),
                 alt.Tooltip("estimated_requests:Q", title="estimated requests that day", format=",.0f"),
                 alt.Tooltip("snapshots:Q", title="snapshots")])


def _phases_chart(frame: pd.DataFrame) -> alt.Chart:
    present = set(frame["phase"])
    domain = [name for name in PHASE_COLOURS if name in present] + sorted(present - set(PHASE_COLOURS))
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("dt:O", title="Day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("pods:Q", title="Pods (day's last snapshot)", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("phase:N", title="Phase", scale=alt.Scale(
            domain=domain, range=[PHASE_COLOURS.get(name, "#8a8f98") for name in domain])),
        tooltip=[alt.Tooltip("dt:N", title="day"), "phase:N", "pods:Q"])


CHARTS: dict[str, tuple[str, Callable[[pd.DataFrame], alt.Chart]]] = {
    "security": ("Security score per day", _security_chart),
    "restarts": ("Restarts per day", lambda frame: _bar_chart(frame, "restarts", "Restarts")),
    "requests": ("Requests per day", _requests_chart),
    "warnings": ("Warning events per day", lambda frame: _bar_chart(frame, "warning_events",
                                                                     "Distinct Warning events")),
    "phases": ("Pods per phase", _phases_chart),
}


def render_mirror_notes(mirrored: Mirror) -> None:
    for problem in mirrored.problems:
        st.warning(escape_markdown(problem), icon=":material/warning:")


def render_trends(results: TrendResults, cluster: str | None) -> None:
    st.subheader("Trends")
    for name, (title, draw) in CHARTS.items():
        st.markdown(f"**{title}**")
        st.caption(escape_markdown(TRENDS[name].meaning))
        if name in results.withheld:
            st.info(escape_markdown(results.withheld[name]), icon=":material/lock:")
            continue
        if name in results.errors:
            show_source_error(results.errors[name], f"The {title.lower()} trend is unavailable")
            continue
        frame = _for_cluster(results.frames[name], cluster)
        if frame.empty:
            st.caption(f"No archived {TRENDS[name].table} table in this window yet.")
            continue
        st.altair_chart(draw(frame).properties(height=240), width="stretch")


def render_preview(snapshots: Sequence[SnapshotInfo], read: Callable[[SnapshotInfo, str], bytes],
                   namespaces: frozenset[str] | None) -> None:
    """Pick a complete snapshot and one of its tables: a preview, and a download of the archived file."""
    st.subheader("Preview and download")
    complete = [snap for snap in snapshots if snap.complete]
    if not complete:
        st.caption("There is no complete snapshot to preview in this window.")
        return
    chosen = st.selectbox("Snapshot", complete, format_func=snapshot_label, key="kams_history_snapshot")
    if chosen is None:
        return
    table = st.selectbox("Table", list(chosen.tables), key="kams_history_table")
    if table is None:
        return
    try:
        body = read(chosen, table)
    except SourceError as error:
        show_source_error(error, f"The {table} table cannot be shown")
        return
    frame = table_frame(body)
    shown = scoped_frame(frame, namespaces)
    if shown is None:
        st.info(escape_markdown(f"The {table} table is the whole cluster's, and your access is limited to "
                                f"the namespaces {', '.join(sorted(namespaces or ())) or 'none'}."),
                icon=":material/lock:")
        return
    name = chosen.key(table).rsplit("/", 1)[-1]
    file_name = f"{chosen.cluster}-{chosen.taken_at:%Y-%m-%d}-{name}"
    download: bytes | pd.DataFrame
    if namespaces is None:
        download, note = body, "the archived file, byte for byte"
    else:
        download, note = shown, "only your namespaces' rows"
    st.caption(f"{len(shown)} row(s)" + (f"; the first {PREVIEW_ROWS} are shown" if len(shown) > PREVIEW_ROWS
                                         else "") + f". The download is {note}.")
    st.dataframe(shown.head(PREVIEW_ROWS), hide_index=True, key="kams_history_preview")
    csv_download(f"Download {table}.csv", download, file_name, "kams_history_download")


# --- the page ------------------------------------------------------------------------------------------
def render_history_page(settings: Settings, namespaces: frozenset[str] | None) -> None:
    """The archive's trends, snapshots and tables, for a viewer who may see `namespaces` (None: every one);
    without an archive, how to set one up."""
    title, refresh = st.columns([5, 1], vertical_alignment="bottom")
    title.title("History")
    if refresh.button("Refresh", icon=":material/refresh:", key="kams_history_refresh"):
        history_data.clear()

    store = data.or_error(lambda: data.archive(settings))
    if isinstance(store, NotConfigured):
        render_setup()
        return
    if isinstance(store, SourceError):
        show_source_error(store, "The archive cannot be opened")
        return
    st.caption(f"From the archive {store.describe()} (times in UTC).")
    days = st.selectbox("Days", history_data.DAY_CHOICES, index=history_data.DAY_CHOICES.index(
        history_data.DEFAULT_DAYS), format_func=lambda count: f"Last {count} days", key="kams_history_days")
    listed = data.or_error(lambda: history_data.snapshots(settings, days))
    if isinstance(listed, SourceError):
        show_source_error(listed, "The archive cannot be listed")
        return
    cluster = choose_cluster(listed)
    shown = [snap for snap in listed if cluster is None or snap.cluster == cluster]
    with st.status("Reading the archive...", expanded=False) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, text: str) -> None:
            bar.progress(done / total if total else 1.0, text=text)

        mirrored = data.or_error(lambda: history_data.mirror(settings, days, progress))
        trends = None if isinstance(mirrored, SourceError) else history_data.trends(mirrored, namespaces)
        status.update(label="Archive read.", state="complete")
    if isinstance(mirrored, SourceError):
        show_source_error(mirrored, "The trends are unavailable")
    else:
        render_mirror_notes(mirrored)
    if trends is not None:
        render_trends(trends, cluster)
    render_snapshots(shown, days)
    render_preview(shown, lambda snap, table: history_data.table_bytes(settings, snap, table), namespaces)
