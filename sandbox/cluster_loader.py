"""Load the demo cluster's objects and make them look live.

The YAML under sandbox/cluster/ is written as if the current time were DEMO_ANCHOR. Loading shifts
every RFC 3339 timestamp by (now - DEMO_ANCHOR), so a pod created "3 days before the anchor" is three
days old whenever the demo starts, and the files themselves never change.

Two exceptions keep the shifted cluster true to life:
- dates about the world, not the cluster, stay as written: a CVE's publishedDate and lastModifiedDate
  in a VulnerabilityReport (`CVE_DATE_FIELDS`);
- a name made from a time follows its time: a CronJob's Job is named <cronjob>-<scheduled minute since
  the epoch>, so after shifting, each such Job is renamed after its shifted scheduled time, with its
  pods' job-name labels and owner references and the events naming it (`rename_cronjob_jobs`). The
  pods keep their names (sandbox.demo_names points at them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

DEMO_ANCHOR = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CLUSTER_DIR = Path(__file__).with_name("cluster")

# The C loader is about 7x faster on the demo cluster; fall back where libyaml is missing.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?Z$")


def shift_timestamp(value: str, delta: timedelta) -> str:
    """Shift one RFC 3339 UTC timestamp, keeping its precision (metav1.Time vs MicroTime)."""
    match = _TIMESTAMP.match(value)
    if not match:
        return value
    moved = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) + delta
    return moved.strftime("%Y-%m-%dT%H:%M:%S") + (match.group(2) or "") + "Z"


def rebase(obj: Any, delta: timedelta) -> Any:
    """Return a copy of obj with every timestamp string shifted by delta."""
    if isinstance(obj, dict):
        return {key: rebase(value, delta) for key, value in obj.items()}
    if isinstance(obj, list):
        return [rebase(value, delta) for value in obj]
    if isinstance(obj, str):
        return shift_timestamp(obj, delta)
    return obj


#: Fields of a VulnerabilityReport's `report.vulnerabilities` items that are facts about the CVE.
CVE_DATE_FIELDS = ("publishedDate", "lastModifiedDate")
#: Trivy Operator's report kinds that carry such vulnerabilities (namespaced and cluster-scoped).
VULNERABILITY_REPORT_KINDS = ("VulnerabilityReport", "ClusterVulnerabilityReport")


def rebase_document(document: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """rebase(), except the CVE dates of Trivy's vulnerability reports, which keep their real values."""
    moved = rebase(document, delta)
    if document.get("kind") in VULNERABILITY_REPORT_KINDS:
        originals = (document.get("report") or {}).get("vulnerabilities") or []
        for shifted, original in zip(moved["report"]["vulnerabilities"], originals, strict=True):
            shifted.update({key: original[key] for key in CVE_DATE_FIELDS if key in original})
    return moved


#: The CronJob controller's annotation on each Job: the schedule time the Job was made for.
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
#: Labels the Job controller puts on a Job's pod template (and so on its pods): the Job's name.
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")


def cronjob_job_name(cronjob: str, scheduled: datetime) -> str:
    """The name the CronJob controller gives the Job scheduled at `scheduled` (kubernetes
    pkg/controller/cronjob getJobName: "%s-%d" of the CronJob's name and the Unix time in minutes)."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def _controller(obj: dict[str, Any]) -> dict[str, Any] | None:
    return next((ref for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)


def _renamed_labels(labels: dict[str, str] | None, renames: dict[str, str]) -> None:
    for key in JOB_NAME_LABELS:
        if labels and labels.get(key) in renames:
            labels[key] = renames[labels[key]]


def rename_cronjob_jobs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rename, in place, every CronJob-owned Job whose name does not match its scheduled time, and what
    names it: the Job's job-name labels, its pods' labels and owner references, and events about it
    (involvedObject, the event's own name "<job>.<id>", and the Job's name in messages such as
    "Created job <name>"; a pod name that starts with the Job's name is left alone)."""
    renames: dict[tuple[str, str], str] = {}
    for obj in objects:
        owner = _controller(obj) if obj.get("kind") == "Job" else None
        scheduled = (obj["metadata"].get("annotations") or {}).get(SCHEDULED_ANNOTATION)
        if owner is None or owner.get("kind") != "CronJob" or not scheduled:
            continue
        wanted = cronjob_job_name(owner["name"], datetime.fromisoformat(scheduled.replace("Z", "+00:00")))
        if wanted != obj["metadata"]["name"]:
            renames[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = wanted
    for (namespace, old), new in renames.items():
        in_namespace = {old: new}
        whole_name = re.compile(rf"(?<![\w-]){re.escape(old)}(?![\w-])")
        for obj in objects:
            metadata = obj["metadata"]
            if metadata.get("namespace") != namespace:
                continue
            kind = obj.get("kind")
            if kind == "Job" and metadata["name"] == old:
                metadata["name"] = new
                template = (obj.get("spec") or {}).get("template") or {}
                _renamed_labels(metadata.get("labels"), in_namespace)
                _renamed_labels((template.get("metadata") or {}).get("labels"), in_namespace)
            elif kind == "Pod":
                _renamed_labels(metadata.get("labels"), in_namespace)
                for ref in metadata.get("ownerReferences") or []:
                    if ref.get("kind") == "Job" and ref.get("name") == old:
                        ref["name"] = new
            elif kind == "Event":
                involved = obj.get("involvedObject") or {}
                if involved.get("kind") == "Job" and involved.get("name") == old:
                    involved["name"] = new
                    if metadata["name"].startswith(old + "."):
                        metadata["name"] = new + metadata["name"][len(old):]
                if obj.get("message"):
                    obj["message"] = whole_name.sub(new, obj["message"])
    return objects


def iter_yaml_documents(directory: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            for document in yaml.load_all(handle, Loader=_YAML_LOADER):
                if not document:
                    continue
                if document.get("kind", "").endswith("List") and "items" in document:
                    yield from document["items"]
                else:
                    yield document


def delta_to(now: datetime | None = None) -> timedelta:
    now = now or datetime.now(UTC)
    return timedelta(seconds=int((now - DEMO_ANCHOR).total_seconds()))


def load_demo_objects(now: datetime | None = None, directory: Path = CLUSTER_DIR) -> list[dict[str, Any]]:
    """All demo objects, timestamps shifted so that DEMO_ANCHOR becomes `now` (default: the clock), CVE
    dates kept, and CronJob-owned Jobs named after their shifted scheduled times."""
    delta = delta_to(now)
    objects = [rebase_document(document, delta) for document in iter_yaml_documents(directory)]
    return rename_cronjob_jobs(objects)
