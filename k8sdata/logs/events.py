"""Pure: Kubernetes events (rows of k8sdata.pods.frames.events_frame) -> the views the Logs page and the
`events` command show: filters, a timeline, and a "security and reliability" classification.

The classification reads an event's reason first, and its message only where the reason alone is
ambiguous (a kubelet reports image pull failures as reason "Failed" or "BackOff", and a controller
reports an admission webhook's or Pod Security's refusal as "FailedCreate"). The reasons are the ones
Kubernetes' own components emit (kubelet, scheduler, controllers, eviction manager), so the view works
on any cluster without configuration.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import pandas as pd

#: category -> what it means, in words a person on call reads.
SECURITY_CATEGORIES: dict[str, str] = {
    "Authorization": "Requests refused by RBAC or authentication (forbidden, unauthorized).",
    "Admission/policy": "Objects refused at admission: Pod Security, policy engines, webhooks, quotas.",
    "Image pull": "Images that could not be pulled (wrong name or tag, missing registry credentials).",
    "OOM": "Containers or processes killed for running out of memory.",
    "BackOff": "Containers restarting again and again (CrashLoopBackOff).",
    "Probe": "Liveness, readiness or startup probes failing.",
    "Mount": "Volumes that could not be attached or mounted (missing Secret or ConfigMap, storage).",
    "Scheduling": "Pods the scheduler cannot place (not enough CPU or memory, taints, affinity).",
    "Eviction": "Pods evicted or preempted (node pressure, higher-priority pods).",
}
#: Columns of events_timeline().
TIMELINE_COLUMNS = ["time", "type", "events"]
#: Columns of category_counts().
CATEGORY_COUNT_COLUMNS = ["category", "events", "occurrences", "description"]

# Reasons that name a category on their own.
_REASON_CATEGORY: dict[str, str] = {
    "forbidden": "Authorization",
    "unauthorized": "Authorization",
    "failedauthentication": "Authorization",
    "failedauthorization": "Authorization",
    "policyviolation": "Admission/policy",  # Kyverno
    "failedadmission": "Admission/policy",
    "failedmount": "Mount",
    "failedattachvolume": "Mount",
    "failedmapvolume": "Mount",
    "oomkilling": "OOM",  # the kernel's OOM killer, reported by the node problem detector / kubelet
    "oomkilled": "OOM",
    "systemoom": "OOM",
    "failedscheduling": "Scheduling",
    "unhealthy": "Probe",
    "probewarning": "Probe",
    "errimagepull": "Image pull",
    "imagepullbackoff": "Image pull",
    "errimageneverpull": "Image pull",
    "inspectfailed": "Image pull",
    "evicted": "Eviction",
    "preempting": "Eviction",
    "preempted": "Eviction",
    "taintmanagereviction": "Eviction",
    "evictionthresholdmet": "Eviction",
    "backoff": "BackOff",  # unless it is about pulling an image (below)
}
# Reasons under which a controller reports that the API server refused to create or change an object.
_ADMISSION_REASONS = frozenset({"failedcreate", "failedupdate", "failedpatch", "faileddelete"})
_ADMISSION_MESSAGE = re.compile(
    r"forbidden|denied by|denied the request|violates podsecurity|admission webhook|exceeded quota",
    re.IGNORECASE)
# RBAC's and authentication's own words, in any component's message.
_AUTHORIZATION_MESSAGE = re.compile(
    r"\bis forbidden\b|\bforbidden:|\bunauthorized\b|cannot (?:get|list|watch|create|update|patch|delete)"
    r" resource", re.IGNORECASE)
_IMAGE_PULL_MESSAGE = re.compile(
    r"errimagepull|imagepullbackoff|pull(?:ing)? image|failed to pull|image pull", re.IGNORECASE)
# Image reasons the kubelet uses both for pulls and for other failures ("Failed" also covers
# CreateContainerConfigError; "BackOff" also covers restart back-off).
_AMBIGUOUS_IMAGE_REASONS = frozenset({"failed", "backoff"})


def classify_event(reason: str, message: str) -> str | None:
    """The SECURITY_CATEGORIES key an event belongs to, or None when it is not security- or
    reliability-relevant (Scheduled, Pulled, Started, ...)."""
    key = (reason or "").strip().lower()
    text = message or ""
    if key in _ADMISSION_REASONS:
        return "Admission/policy" if _ADMISSION_MESSAGE.search(text) else None
    if key in _AMBIGUOUS_IMAGE_REASONS and _IMAGE_PULL_MESSAGE.search(text):
        return "Image pull"
    category = _REASON_CATEGORY.get(key)
    if category is not None:
        # A mount refused by RBAC ("secrets ... is forbidden") is an authorization problem first.
        if category == "Mount" and _AUTHORIZATION_MESSAGE.search(text):
            return "Authorization"
        return category
    if _AUTHORIZATION_MESSAGE.search(text):
        return "Authorization"
    return None


def security_events(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of an events_frame that classify_event picks out, with a "category" column, in the
    frame's order (newest first)."""
    categories = [classify_event(reason, message)
                  for reason, message in zip(frame["reason"], frame["message"], strict=True)]
    picked = frame.assign(category=pd.Series(categories, index=frame.index, dtype="object"))
    return picked[picked["category"].notna()].reset_index(drop=True)


def category_counts(security: pd.DataFrame) -> pd.DataFrame:
    """Per category (every category, in SECURITY_CATEGORIES order, zero when absent): how many event
    records and how many occurrences (the events' summed `count`)."""
    rows = []
    for category, description in SECURITY_CATEGORIES.items():
        chosen = security[security["category"] == category] if not security.empty else security
        rows.append({"category": category, "events": len(chosen),
                     "occurrences": int(chosen["count"].sum()) if len(chosen) else 0,
                     "description": description})
    frame = pd.DataFrame(rows, columns=CATEGORY_COUNT_COLUMNS)
    return frame.astype({"events": "int64", "occurrences": "int64"})


def events_timeline(frame: pd.DataFrame, bucket: str = "5min") -> pd.DataFrame:
    """Event records per time bucket (by last seen) and type, ascending: columns time, type, events.
    Events without a time are left out."""
    timed = frame[frame["last_seen"].notna()]
    if timed.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "type": pd.Series(dtype="object"), "events": pd.Series(dtype="int64")})
    times = pd.to_datetime(timed["last_seen"], utc=True).dt.floor(bucket)
    kinds = timed["type"].where(timed["type"] != "", "Unknown")
    counted = (pd.DataFrame({"time": times, "type": kinds}).groupby(["time", "type"], sort=True)
               .size().rename("events").reset_index())
    return counted.astype({"events": "int64"})[TIMELINE_COLUMNS]


def object_kinds(frame: pd.DataFrame) -> pd.Series:
    """The involved object's kind per row, as events_frame spells it in "object" ("pod/x" -> "pod")."""
    objects = frame["object"].astype("object")
    return objects.map(lambda text: text.split("/", 1)[0] if "/" in text else "")


def filter_events(frame: pd.DataFrame, *, types: Collection[str] = (), namespaces: Collection[str] = (),
                  kinds: Collection[str] = (), objects: Collection[str] = (), reasons: Collection[str] = (),
                  text: str = "") -> pd.DataFrame:
    """Rows matching every given filter (an empty collection does not narrow). Kinds and reasons match
    case-insensitively (kubectl users type "Pod" and "backoff"); `text` is a case-insensitive plain
    substring of the object or the message."""
    keep = pd.Series(True, index=frame.index)
    if types:
        keep &= frame["type"].isin(list(types))
    if namespaces:
        keep &= frame["namespace"].isin(list(namespaces))
    if kinds:
        keep &= object_kinds(frame).str.lower().isin([kind.lower() for kind in kinds])
    if objects:
        keep &= frame["object"].isin(list(objects))
    if reasons:
        keep &= frame["reason"].str.lower().isin([reason.lower() for reason in reasons])
    if text.strip():
        needle = text.strip().lower()
        keep &= (frame["object"].str.lower().str.contains(needle, regex=False)
                 | frame["message"].str.lower().str.contains(needle, regex=False))
    return frame[keep].reset_index(drop=True)
