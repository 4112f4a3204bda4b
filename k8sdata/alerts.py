"""Alerts: what fires (Prometheus' /api/v1/alerts), what Alertmanager does with it (API v2: silenced,
inhibited), and whether the rules themselves work (/api/v1/rules: health, last error, evaluation time).

Every function returns a DataFrame with fixed columns (even when empty) or raises a SourceError:
source "prometheus" for Prometheus, "alertmanager" for Alertmanager. No streamlit here.

    prom = k8sdata.sources.prom.client_from_settings(settings)
    prometheus_alerts(prom)                       # PROMETHEUS_ALERT_COLUMNS, firing first
    rule_health(prom)                             # RULE_COLUMNS, broken rules first
    alertmanager_alerts(alertmanager_from_settings(settings))   # ALERTMANAGER_COLUMNS
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sdata.sources.alertmanager import AlertmanagerClient
from k8sdata.sources.prom import ALERT_COLUMNS, PromClient

if TYPE_CHECKING:
    pass

#: Labels every alert row already shows in its own column; `labels_text` lists the others.
_OWN_COLUMN_LABELS = frozenset({"alertname", "severity", "namespace", "pod", "app"})
#: Sort order: the worst first.
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3, "none": 4}
STATE_RANK = {"firing": 0, "pending": 1, "inactive": 2}

#: k8sdata.sources.prom.ALERT_COLUMNS plus `labels_text` ("k=v, ..." of the labels without their own column).
PROMETHEUS_ALERT_COLUMNS = [*ALERT_COLUMNS, "labels_text"]

ALERTMANAGER_COLUMNS = [
    "alertname", "status", "severity", "namespace", "pod", "app", "summary", "description", "starts_at",
    "updated_at", "ends_at", "silenced_by", "inhibited_by", "receivers", "fingerprint", "labels",
    "labels_text",
]
#: Alertmanager's own state words -> what the page says: "active" (notifications go out), "silenced",
#: "inhibited" (both "suppressed" in the API), "unprocessed" (just received, not routed yet).
STATUS_WORDS = ("active", "silenced", "inhibited", "unprocessed")

RULE_COLUMNS = [
    "group", "file", "rule", "kind", "health", "last_error", "state", "severity", "query",
    "evaluation_seconds", "last_evaluation", "group_evaluation_seconds", "group_interval_seconds",
    "group_last_evaluation", "alerts_firing", "alerts_pending",
]
HEALTH_RANK = {"err": 0, "unknown": 1, "ok": 2}


def labels_text(labels: Mapping[str, str], *, skip: Iterable[str] = _OWN_COLUMN_LABELS) -> str:
    """Labels as plain `key=value` pairs, sorted, for tables and CSV (shown as text, never Markdown)."""
    hidden = set(skip)
    return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()) if key not in hidden)


# --- Prometheus -------------------------------------------------------------------------------------------
def prometheus_alerts(prom: PromClient) -> pd.DataFrame:
    """Pending and firing alerts, firing first, then by severity, name, namespace and pod."""
    frame = prom.alerts()
    frame["labels_text"] = [labels_text(labels) for labels in frame["labels"]]
    return _sorted(frame[PROMETHEUS_ALERT_COLUMNS], "state", STATE_RANK)


def rule_health(prom: PromClient) -> pd.DataFrame:
    """One row per rule (alerting and recording) with its group's evaluation, unhealthy rules first.

    `evaluation_seconds` is the rule's own last evaluation time; a group taking longer than its interval
    (`group_evaluation_seconds` > `group_interval_seconds`) skips evaluations, which the page points out.
    """
    rows: list[dict[str, Any]] = []
    for group in prom.rules():
        group_fields = {
            "group": str(group.get("name", "")),
            "file": str(group.get("file", "")),
            "group_evaluation_seconds": _float(group.get("evaluationTime")),
            "group_interval_seconds": _float(group.get("interval")),
            "group_last_evaluation": group.get("lastEvaluation"),
        }
        for rule in group.get("rules") or []:
            alerts = rule.get("alerts") or []
            kind = "alert" if rule.get("type") == "alerting" else "record"
            rows.append({
                **group_fields,
                "rule": str(rule.get("name", "")),
                "kind": kind,
                "health": str(rule.get("health", "unknown")),
                "last_error": str(rule.get("lastError", "") or ""),
                "state": str(rule.get("state", "")) if kind == "alert" else "",
                "severity": str((rule.get("labels") or {}).get("severity", "")),
                "query": str(rule.get("query", "")),
                "evaluation_seconds": _float(rule.get("evaluationTime")),
                "last_evaluation": rule.get("lastEvaluation"),
                "alerts_firing": sum(1 for alert in alerts if alert.get("state") == "firing"),
                "alerts_pending": sum(1 for alert in alerts if alert.get("state") == "pending"),
            })
    frame = pd.DataFrame(rows, columns=RULE_COLUMNS)
    for column in ("last_evaluation", "group_last_evaluation"):
        # Prometheus reports "0001-01-01T00:00:00Z" for a rule never evaluated yet: no time at all.
        stamps = frame[column].where(~frame[column].astype(str).str.startswith("0001-"))
        frame[column] = pd.to_datetime(stamps, utc=True, format="ISO8601")
    for column in ("evaluation_seconds", "group_evaluation_seconds", "group_interval_seconds"):
        frame[column] = frame[column].astype("float64")
    for column in ("alerts_firing", "alerts_pending"):
        frame[column] = frame[column].astype("int64")
    order = frame["health"].map(HEALTH_RANK).fillna(1)
    return (frame.assign(_order=order).sort_values(["_order", "group", "rule"], kind="stable")
            .drop(columns="_order").reset_index(drop=True))



def alertmanager_alerts(client: AlertmanagerClient) -> pd.DataFrame:
    """Alertmanager's alerts with their status (active, silenced, inhibited, unprocessed), active first."""
    rows = []
    for alert in client.alerts():
        labels = dict(alert.get("labels") or {})
        annotations = alert.get("annotations") or {}
        status = alert.get("status") or {}
        silenced_by = list(status.get("silencedBy") or [])
        inhibited_by = list(status.get("inhibitedBy") or [])
        state = str(status.get("state", ""))
        if state == "suppressed":
            word = "silenced" if silenced_by else "inhibited"
        else:
            word = state if state in STATUS_WORDS else state or "unprocessed"
        rows.append({
            "alertname": labels.get("alertname", ""),
            "status": word,
            "severity": labels.get("severity", ""),
            "namespace": labels.get("namespace", ""),
            "pod": labels.get("pod", ""),
            "app": labels.get("app", labels.get("app_kubernetes_io_name", "")),
            "summary": annotations.get("summary", ""),
            "description": annotations.get("description", ""),
            "starts_at": alert.get("startsAt"),
            "updated_at": alert.get("updatedAt"),
            "ends_at": alert.get("endsAt"),
            "silenced_by": ", ".join(silenced_by),
            "inhibited_by": ", ".join(inhibited_by),
            "receivers": ", ".join(str(r.get("name", "")) for r in alert.get("receivers") or []),
            "fingerprint": str(alert.get("fingerprint", "")),
            "labels": labels,
            "labels_text": labels_text(labels),
        })
    frame = pd.DataFrame(rows, columns=ALERTMANAGER_COLUMNS)
    for column in ("starts_at", "updated_at", "ends_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return _sorted(frame, "status", {word: rank for rank, word in enumerate(STATUS_WORDS)})


# --- helpers -----------------------------------------------------------------------------------------------
def in_namespace(frame: pd.DataFrame, namespace: str | None) -> pd.DataFrame:
    """Rows of one namespace (None = all). Alerts without a namespace label (a scrape target down,
    a cluster-wide rule) belong to no namespace and are left out when one is chosen."""
    if not namespace:
        return frame
    return frame[frame["namespace"] == namespace].reset_index(drop=True)


def _sorted(frame: pd.DataFrame, state_column: str, state_rank: Mapping[str, int]) -> pd.DataFrame:
    order = pd.DataFrame({
        "_state": frame[state_column].map(state_rank).fillna(len(state_rank)),
        "_severity": frame["severity"].map(SEVERITY_RANK).fillna(len(SEVERITY_RANK)),
    })
    keys = ["_state", "_severity", "alertname", "namespace", "pod"]
    return (pd.concat([frame, order], axis=1).sort_values(keys, kind="stable")
            .drop(columns=["_state", "_severity"]).reset_index(drop=True))


def _float(raw: object) -> float:
    try:
        return float(raw)  # type: ignore[arg-type]  # any JSON value; what float() rejects is caught
    except (TypeError, ValueError):
        return float("nan")


