"""The Overview's health roll-up: pods and request metrics -> one traffic light per application.

Pure: takes DataFrames (the pods table from k8sdata.pods.frames, per-application request metrics from
Prometheus) and returns `AppHealth` records. No I/O, no streamlit, so every rule is unit-tested.

An application is the group of pods sharing (namespace, app), where `app` is the pods table's `app`
column (label app.kubernetes.io/name, else `app`, else the owner's name). Prometheus series are
joined on the same (namespace, app) pair, so an application seen by only one source still appears.

Unknown is not green: when an input that should have been read failed (the pods list, request numbers,
restarts or alerts; a source that is not configured does not count), a light that would be green is grey
and its first reason says what could not be read. Red and amber stay: a problem seen is real.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from k8sdata.errors import NotConfigured, SourceError
from k8sdata.export import frame_to_csv

Light = Literal["green", "amber", "red", "grey"]

# --- Thresholds (policy; change them here, the tests read them too) ---------------------------------
#: Share of requests answered with 5xx at or above which an application is red / amber.
ERROR_RATIO_RED = 0.05
ERROR_RATIO_AMBER = 0.01
#: 95th-percentile latency (seconds) at or above which an application is amber.
LATENCY_P95_AMBER = 1.0
#: Restarts during the last hour at or above which an application is amber.
RESTARTS_1H_AMBER = 1
#: Container states that mean "keeps crashing": any pod in one of these makes its application red.
CRASHLOOP_STATUSES = frozenset({"CrashLoopBackOff", "Init:CrashLoopBackOff"})
#: A firing alert of one of these severities makes its application red; any other firing alert amber.
RED_ALERT_SEVERITIES = frozenset({"critical", "page"})
#: Pods in these phases are finished (Jobs) and say nothing about an application's health.
FINISHED_PHASES = frozenset({"Succeeded"})
#: Namespaces that hold Kubernetes' own machinery rather than the team's applications.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

#: How bad each light is, for sorting (worst first) and for "the worst of several rules".
LIGHT_SEVERITY: Mapping[Light, int] = {"red": 3, "amber": 2, "grey": 1, "green": 0}
LIGHT_SYMBOL: Mapping[Light, str] = {"red": "🔴", "amber": "🟠", "green": "🟢", "grey": "⚪"}
LIGHT_WORD: Mapping[Light, str] = {"red": "Needs attention now", "amber": "Worth a look",
                                   "green": "Healthy", "grey": "No data"}

PODS_COLUMNS = ("namespace", "name", "app", "status", "phase", "is_ready", "restarts")
METRICS_COLUMNS = ("namespace", "app", "request_rate", "error_ratio", "latency_p95")


@dataclass
class AppHealth:
    """One application's traffic light and the plain sentences that explain it."""

    app: str
    namespace: str
    light: Light = "grey"
    reasons: list[str] = field(default_factory=list)
    pods_total: int = 0
    pods_ready: int = 0
    restarts_1h: int | None = None  # None: unknown (no Prometheus); see restarts_total
    request_rate: float | None = None  # req/s; None: no request metrics for this application
    error_ratio: float | None = None  # 0..1
    latency_p95: float | None = None  # seconds
    restarts_total: int = 0  # sum of restartCount over its pods (what Kubernetes alone knows)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # firing: (severity, sentence)

    @property
    def summary(self) -> str:
        """The most important reason, as one sentence."""
        return self.reasons[0] if self.reasons else LIGHT_WORD[self.light]


@dataclass(frozen=True)
class KeyNumbers:
    """The headline numbers across the applications shown."""

    pods_running: int
    pods_not_ready: int
    restarts_1h: int | None  # None when Prometheus could not say
    restarts_total: int
    request_rate: float | None  # req/s summed over applications
    error_ratio: float | None  # failed requests / all requests, weighted by traffic
    latency_p95_worst: float | None  # the slowest application's p95 (p95s cannot be averaged)


# --- Wording -----------------------------------------------------------------------------------------
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_WORDS = {"ms": "millisecond", "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week",
               "y": "year"}


def window_words(window: str) -> str:
    """"5m" -> "5 minutes", "1h" -> "hour", "1h30m" -> "1 hour 30 minutes" (for sentences)."""
    parts = _DURATION_PART.findall(window)
    if not parts:
        return window
    if len(parts) == 1 and parts[0][0] == "1":
        return _UNIT_WORDS[parts[0][1]]
    return " ".join(f"{n} {_UNIT_WORDS[u]}{'' if n == '1' else 's'}" for n, u in parts)


def format_percent(ratio: float) -> str:
    """0.052 -> "5.2%"; tiny but non-zero shares never round to a misleading "0.0%"."""
    percent = ratio * 100
    if 0 < percent < 0.1:
        return "less than 0.1%"
    return f"{percent:.1f}%"


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def format_rate(rate: float) -> str:
    return f"{rate:.1f}" if rate >= 0.95 or rate == 0 else f"{rate:.2f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _number(value: object) -> float | None:
    """A finite float, or None for missing/NaN/inf (0/0 error ratios come back from PromQL as NaN)."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]  # any cell; what float() rejects is caught
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- Roll-up -----------------------------------------------------------------------------------------
def _worse(current: Light, candidate: Light) -> Light:
    return candidate if LIGHT_SEVERITY[candidate] > LIGHT_SEVERITY[current] else current


def _judge(health: AppHealth, window: str, pod_statuses: list[str], has_pods: bool,
           unread: Sequence[str] = ()) -> None:
    """Set health.light and health.reasons from its numbers. Bad news first, then good news. `unread`:
    inputs that failed (not merely absent by configuration); with any, "Healthy" is not known, so what
    would be green is grey; red and amber stay (a problem seen is real)."""
    light: Light = "green"
    bad: list[tuple[int, str]] = []  # (severity, sentence) so the worst reason leads
    good: list[str] = []
    words = window_words(window)

    if has_pods and health.pods_total:
        not_ready = health.pods_total - health.pods_ready
        crashing = sum(1 for status in pod_statuses if status in CRASHLOOP_STATUSES)
        unready_statuses = sorted({s for s in pod_statuses if s and s != "Running"})
        because = f" ({', '.join(unready_statuses)})" if unready_statuses else ""
        if crashing:
            light = _worse(light, "red")
            verb = "keeps" if crashing == 1 else "keep"
            bad.append((3, f"{_plural(crashing, 'pod')} {verb} crashing and restarting (CrashLoopBackOff)"))
        if health.pods_ready == 0:
            light = _worse(light, "red")
            if crashing < not_ready:  # when every pod is crashing, the crash sentence says it all
                bad.append((3, f"None of its {_plural(health.pods_total, 'pod')} is ready{because}"))
        elif not_ready:
            light = _worse(light, "amber")
            bad.append((2, f"{not_ready} of {health.pods_total} pods not ready{because}"))
        else:
            good.append(f"All {_plural(health.pods_total, 'pod')} ready" if health.pods_total > 1
                        else "Its pod is ready")

    if health.restarts_1h is not None and health.restarts_1h >= RESTARTS_1H_AMBER:
        light = _worse(light, "amber")
        bad.append((2, f"Restarted {_plural(health.restarts_1h, 'time')} in the last hour"))

    if health.error_ratio is not None and health.request_rate:
        failed = f"{format_percent(health.error_ratio)} of requests failed in the last {words}"
        if health.error_ratio >= ERROR_RATIO_RED:
            light = _worse(light, "red")
            bad.append((3, failed))
        elif health.error_ratio >= ERROR_RATIO_AMBER:
            light = _worse(light, "amber")
            bad.append((2, failed))
        else:
            good.append(failed)

    if health.latency_p95 is not None and health.request_rate:
        slow = f"1 in 20 requests took {format_seconds(health.latency_p95)} or longer"
        if health.latency_p95 >= LATENCY_P95_AMBER:
            light = _worse(light, "amber")
            bad.append((2, slow))

    for severity, sentence in health.alerts:
        rank: Light = "red" if severity in RED_ALERT_SEVERITIES else "amber"
        light = _worse(light, rank)
        bad.append((LIGHT_SEVERITY[rank], sentence))

    if health.request_rate is not None:
        good.append(f"Serving {format_rate(health.request_rate)} requests per second")

    if not bad and not good:
        # Nothing known about it: neither pods nor traffic. Grey is "we cannot tell", not "fine".
        health.light = "grey"
        health.reasons = ["No pods or request data found for this application"
                          if has_pods else "No request data, and Kubernetes could not be read"]
        return
    health.light = light
    health.reasons = [sentence for _, sentence in sorted(bad, key=lambda item: -item[0])] + good
    if light == "green" and unread:
        # Unknown is not green: the failed input may hold the bad news (a crash loop, a firing alert).
        health.light = "grey"
        health.reasons.insert(0, f"Not known to be healthy: {_and(unread)} could not be read")


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _check_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


def roll_up(
    pods: pd.DataFrame | None,
    metrics: pd.DataFrame | None = None,
    restarts_1h: Mapping[tuple[str, str], float] | None = None,
    *,
    window: str = "5m",
    alerts: pd.DataFrame | None = None,
    unread: Sequence[str] = (),
) -> list[AppHealth]:
    """One AppHealth per (namespace, app), worst first.

    pods: the pods table (columns PODS_COLUMNS) or None when Kubernetes could not be read.
    metrics: per-application request metrics (columns METRICS_COLUMNS) or None without Prometheus.
    restarts_1h: restarts per (namespace, pod) during the last hour, or None when unknown.
    window: the PromQL window the metrics were computed over (used in the sentences).
    alerts: Prometheus alerts (k8sdata.sources.prom.ALERT_COLUMNS); firing ones attach to their application by
        (namespace, app) label, else through their pod; pending ones are ignored.
    unread: what could not be read although it should have been ("its pods", "alerts"; see
        `unread_inputs`): no light is green then, since the missing part may hold the bad news. A source
        that is not configured is absent by choice and does not count.
    """
    apps: dict[tuple[str, str], AppHealth] = {}
    statuses: dict[tuple[str, str], list[str]] = {}

    if pods is not None and not pods.empty:
        _check_columns(pods, PODS_COLUMNS, "pods table")
        live = pods[~pods["phase"].isin(FINISHED_PHASES)]
        for row in live.itertuples(index=False):
            # A bare pod (no app label, no owner) is an application of its own, named after itself.
            app = row.app if isinstance(row.app, str) and row.app else row.name
            key = (str(row.namespace), str(app))
            health = apps.setdefault(key, AppHealth(app=key[1], namespace=key[0]))
            health.pods_total += 1
            health.pods_ready += bool(row.is_ready)
            health.restarts_total += int(_number(row.restarts) or 0)
            # Only unready pods' statuses explain anything ("Pending", "CrashLoopBackOff").
            statuses.setdefault(key, []).append("Running" if row.is_ready else str(row.status))
            if restarts_1h is not None:
                recent = round(_number(restarts_1h.get((key[0], str(row.name)))) or 0)
                health.restarts_1h = (health.restarts_1h or 0) + recent

    if metrics is not None and not metrics.empty:
        _check_columns(metrics, METRICS_COLUMNS, "metrics table")
        for row in metrics.itertuples(index=False):
            key = (str(row.namespace), str(row.app))
            health = apps.setdefault(key, AppHealth(app=key[1], namespace=key[0]))
            health.request_rate = _number(row.request_rate)
            health.error_ratio = _number(row.error_ratio)
            health.latency_p95 = _number(row.latency_p95)
            if restarts_1h is not None and health.restarts_1h is None:
                health.restarts_1h = 0

    if alerts is not None and not alerts.empty:
        _attach_alerts(apps, alerts, pods)

    for key, health in apps.items():
        _judge(health, window, statuses.get(key, []), has_pods=pods is not None, unread=unread)
    return sort_worst_first(apps.values())


#: The inputs of a light, in the words of its "not known to be healthy" sentence.
INPUT_WORDS = {"pods": "its pods", "metrics": "request numbers", "restarts": "recent restarts",
               "alerts": "alerts"}


def unread_inputs(errors: Mapping[str, SourceError | None]) -> list[str]:
    """INPUT_WORDS key -> the error met reading it (None when read) => the words for roll_up's `unread`.
    A k8sdata.errors.NotConfigured (a source left out on purpose) is not unread."""
    return [INPUT_WORDS[name] for name, error in errors.items()
            if error is not None and not isinstance(error, NotConfigured)]


def _attach_alerts(apps: dict[tuple[str, str], AppHealth], alerts: pd.DataFrame,
                   pods: pd.DataFrame | None) -> None:
    pod_app: dict[tuple[str, str], str] = {}
    if pods is not None and not pods.empty:
        pod_app = {(str(ns), str(name)): str(app) for ns, name, app
                   in zip(pods["namespace"], pods["name"], pods["app"], strict=True)}
    for alert in alerts.to_dict("records"):
        if alert.get("state") != "firing":
            continue
        namespace = str(alert.get("namespace") or "")
        app = str(alert.get("app") or "") or pod_app.get((namespace, str(alert.get("pod") or "")), "")
        health = apps.get((namespace, app))
        if health is None:
            continue
        what = str(alert.get("summary") or "").rstrip(".") or "An alert is firing"
        sentence = f"Alert: {what} ({alert.get('alertname') or 'unnamed'})"
        if (str(alert.get("severity") or ""), sentence) not in health.alerts:
            health.alerts.append((str(alert.get("severity") or ""), sentence))


def sort_worst_first(apps: Iterable[AppHealth]) -> list[AppHealth]:
    """Worst light first; within a light, applications serving requests (what customers touch) first."""
    return sorted(apps, key=lambda h: (-LIGHT_SEVERITY[h.light], not h.request_rate, h.namespace, h.app))


def key_numbers(pods: pd.DataFrame | None, apps: Iterable[AppHealth],
                restarts_known: bool) -> KeyNumbers:
    """Headline numbers. `pods` is the same (filtered) pods table the apps were rolled up from."""
    apps = list(apps)
    if pods is not None and not pods.empty:
        live = pods[~pods["phase"].isin(FINISHED_PHASES)]
        running = int((live["phase"] == "Running").sum())
        not_ready = int((~live["is_ready"].astype(bool)).sum())
        restarts_total = int(pd.to_numeric(live["restarts"], errors="coerce").fillna(0).sum())
    else:
        running = not_ready = restarts_total = 0
    with_traffic = [a for a in apps if a.request_rate is not None]
    total_rate = sum(a.request_rate or 0.0 for a in with_traffic) if with_traffic else None
    error_ratio: float | None = None
    if total_rate:
        failed = sum((a.request_rate or 0.0) * (a.error_ratio or 0.0) for a in with_traffic)
        error_ratio = failed / total_rate
    latencies = [a.latency_p95 for a in apps if a.latency_p95 is not None]
    return KeyNumbers(
        pods_running=running,
        pods_not_ready=not_ready,
        restarts_1h=sum(a.restarts_1h or 0 for a in apps) if restarts_known else None,
        restarts_total=restarts_total,
        request_rate=total_rate,
        error_ratio=error_ratio,
        latency_p95_worst=max(latencies) if latencies else None,
    )


# --- Tables ------------------------------------------------------------------------------------------
APPLICATION_TABLE_COLUMNS = ("light", "status", "application", "namespace", "why", "pods_ready",
                             "pods_total", "restarts_1h", "restarts_total", "requests_per_second",
                             "error_percent", "latency_p95_seconds")


def applications_frame(apps: Iterable[AppHealth]) -> pd.DataFrame:
    """The applications table (also what the CSV download contains). Numbers stay numbers."""
    rows = [
        {
            "light": LIGHT_SYMBOL[a.light],
            "status": a.light,
            "application": a.app,
            "namespace": a.namespace,
            "why": "; ".join(a.reasons),
            "pods_ready": a.pods_ready,
            "pods_total": a.pods_total,
            "restarts_1h": a.restarts_1h,
            "restarts_total": a.restarts_total,
            "requests_per_second": None if a.request_rate is None else round(a.request_rate, 3),
            "error_percent": None if a.error_ratio is None else round(a.error_ratio * 100, 2),
            "latency_p95_seconds": None if a.latency_p95 is None else round(a.latency_p95, 3),
        }
        for a in apps
    ]
    frame = pd.DataFrame(rows, columns=list(APPLICATION_TABLE_COLUMNS))
    # Nullable integers so "unknown" stays empty instead of turning the column into floats.
    return frame.astype({"restarts_1h": "Int64"})


def applications_csv(apps: Iterable[AppHealth]) -> bytes:
    """CSV (UTF-8) of the applications table, without the emoji column (spreadsheets mangle it)."""
    # Names come from the cluster: frame_to_csv keeps a label like "=HYPERLINK(...)" text in a spreadsheet.
    return frame_to_csv(applications_frame(apps).drop(columns=["light"]))
