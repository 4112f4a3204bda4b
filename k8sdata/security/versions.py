"""Outdated software: the cluster's Kubernetes minor against its end of life, and kubelet version skew.

Pure functions. The end-of-life dates ship as data (kubernetes_eol.yaml, with its source and the date
it was read); the version comes from the API server's /version and each node's
status.nodeInfo.kubeletVersion. Images not pinned by digest are the engine's `image-not-pinned` check
(checks/image-not-pinned.yaml), not repeated here.

Skew policy (kubernetes.io/releases/version-skew-policy, "kubelet"): the kubelet must not be newer than
kube-apiserver and may be up to three minor versions older (two before Kubernetes 1.28).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from k8sdata.security.engine import Evaluation, ScanResult, audit_result

CATEGORY = "Versions"
EOL_FILE = Path(__file__).resolve().parent / "kubernetes_eol.yaml"
WARN_DAYS = 90  # warn when end of life is closer than this

#: The audit's name in the catalogue, and the ids of its checks (each written in checks/<ID>.yaml).
AUDIT = "versions_scan"
VERSION_EOL = "k8s-version-eol"
KUBELET_SKEW = "kubelet-version-skew"
#: The case of VERSION_EOL graded apart in severities.yaml: end of life is near, not yet past.
EOL_SOON = "eol-soon"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class MinorRelease:
    minor: str  # "1.30"
    released: dt.date
    end_of_life: dt.date


@dataclass(frozen=True)
class EolTable:
    releases: tuple[MinorRelease, ...]  # newest first
    source: str
    read_on: dt.date

    def get(self, minor: str) -> MinorRelease | None:
        return next((release for release in self.releases if release.minor == minor), None)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def load_eol(path: Path = EOL_FILE) -> EolTable:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    releases = tuple(MinorRelease(str(row["minor"]), _date(row["released"]), _date(row["end_of_life"]))
                     for row in document["releases"])
    return EolTable(tuple(sorted(releases, key=lambda r: minor_key(r.minor), reverse=True)),
                    str(document["source"]), _date(document["read_on"]))


@functools.cache
def builtin_eol() -> EolTable:
    return load_eol()


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from "v1.30.2", "v1.29.3-eks-1234", "1.30"; None if unreadable."""
    match = _VERSION.match(str(text or "").strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def minor_key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def server_version(version_info: Mapping[str, Any] | str) -> str:
    """The gitVersion from /version (a dict) or the string itself."""
    if isinstance(version_info, Mapping):
        return str(version_info.get("gitVersion") or "")
    return str(version_info)


@dataclass(frozen=True)
class VersionStatus:
    version: str  # as the server reports it
    minor: str | None  # "1.30"
    status: str  # supported | eol-soon | end-of-life | unknown
    end_of_life: dt.date | None
    days_left: int | None  # negative once past
    newest: str  # newest minor in the data
    sentence: str


def version_status(version_info: Mapping[str, Any] | str, today: dt.date,
                   table: EolTable | None = None, *, warn_days: int = WARN_DAYS) -> VersionStatus:
    """The cluster's minor against the end-of-life data: past end of life, ending within `warn_days`,
    supported, or unknown (a version the data does not know: newer than it, or unreadable)."""
    table = table or builtin_eol()
    version = server_version(version_info)
    parsed = parse_version(version)
    newest = table.releases[0].minor
    if parsed is None:
        return VersionStatus(version, None, "unknown", None, None, newest,
                             f"The API server's version ({version or 'none'}) could not be read.")
    minor = f"{parsed[0]}.{parsed[1]}"
    release = table.get(minor)
    if release is None:
        newer = minor_key(minor) > minor_key(newest)
        why = (f"newer than the end-of-life data (read {table.read_on}; newest {newest}): update "
               "k8sdata/security/kubernetes_eol.yaml" if newer else "not in the end-of-life data")
        return VersionStatus(version, minor, "unknown", None, None, newest,
                             f"Kubernetes {version} (minor {minor}) is {why}.")
    days_left = (release.end_of_life - today).days
    behind = sum(1 for r in table.releases if minor_key(r.minor) > minor_key(minor))
    later = f" The newest minor is {newest}" + (f" ({behind} minor(s) ahead)." if behind else ".")
    if days_left < 0:
        status = "end-of-life"
        sentence = (f"Kubernetes {minor} reached end of life on {release.end_of_life} ({-days_left} days "
                    f"ago): it gets no security fixes. Upgrade the cluster.{later}")
    elif days_left < warn_days:
        status = "eol-soon"
        sentence = (f"Kubernetes {minor} reaches end of life on {release.end_of_life}, in {days_left} days. "
                    f"Plan the upgrade now.{later}")
    else:
        status = "supported"
        sentence = f"Kubernetes {minor} is supported until {release.end_of_life} ({days_left} days).{later}"
    return VersionStatus(version, minor, status, release.end_of_life, days_left, newest, sentence)


def eol_frame(today: dt.date, table: EolTable | None = None, *, warn_days: int = WARN_DAYS) -> pd.DataFrame:
    """The end-of-life table for the page: one row per minor with its status today."""
    table = table or builtin_eol()
    rows = []
    for release in table.releases:
        days = (release.end_of_life - today).days
        status = "end-of-life" if days < 0 else "eol-soon" if days < warn_days else "supported"
        if release.released > today:
            status = "not released"
        rows.append({"minor": release.minor, "released": release.released,
                     "end_of_life": release.end_of_life, "days_left": days, "status": status})
    return pd.DataFrame(rows, columns=["minor", "released", "end_of_life", "days_left", "status"])


def max_kubelet_skew(server_minor: int) -> int:
    """Minors a kubelet may lag kube-apiserver: 3 since Kubernetes 1.28, 2 before (KEP-3935)."""
    return 3 if server_minor >= 28 else 2


SKEW_COLUMNS = ["node", "kubelet", "api_server", "minors_behind", "checked", "ok", "problem"]


def kubelet_skew(nodes: Sequence[Mapping[str, Any]], version_info: Mapping[str, Any] | str) -> pd.DataFrame:
    """One row per node: its kubelet version, how many minors it is behind the API server (negative:
    ahead), and whether the skew policy allows it."""
    server = parse_version(server_version(version_info))
    rows = []
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name") or "")
        kubelet_text = str(((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")
        kubelet = parse_version(kubelet_text)
        behind: int | None = None
        problem = ""
        if server is None:
            problem = "the API server's version is unknown"
        elif kubelet is None:
            problem = "the node reports no kubelet version"
        elif kubelet[0] != server[0]:
            problem = "different major version"
        else:
            behind = server[1] - kubelet[1]
            allowed = max_kubelet_skew(server[1])
            if behind < 0:
                problem = f"kubelet is {-behind} minor(s) newer than the API server; never allowed"
            elif behind > allowed:
                problem = f"kubelet is {behind} minors older than the API server; at most {allowed} allowed"
        known = server is not None and kubelet is not None
        rows.append({"node": name, "kubelet": kubelet_text, "api_server": server_version(version_info),
                     "minors_behind": behind, "checked": known, "ok": known and not problem,
                     "problem": problem})
    return pd.DataFrame(rows, columns=SKEW_COLUMNS)


def versions_scan(version_info: Mapping[str, Any] | str | None, nodes: Sequence[Mapping[str, Any]] | None,
                  today: dt.date, table: EolTable | None = None) -> ScanResult:
    """Findings and score units: the cluster version (kind Cluster) and each node's kubelet (kind Node).
    An unknown version gives no finding, only a skipped sentence (nothing to judge)."""
    evaluations: list[Evaluation] = []
    skipped: list[str] = []
    if version_info is None:
        skipped.append("The API server's version could not be read, so its end of life was not checked.")
    else:
        status = version_status(version_info, today, table)
        if status.status == "unknown":
            skipped.append(status.sentence)
        else:
            evaluations.append(Evaluation(
                VERSION_EOL, "Cluster", "", status.version,
                status.sentence if status.status in ("end-of-life", EOL_SOON) else None,
                EOL_SOON if status.status == EOL_SOON else None))
    if nodes is not None and version_info is not None:
        for row in kubelet_skew(nodes, version_info).itertuples():
            if not row.checked:
                skipped.append(f"Node {row.node}: {row.problem}, so its kubelet skew was not checked.")
                continue
            evaluations.append(Evaluation(
                KUBELET_SKEW, "Node", "", row.node,
                None if row.ok else f"{row.node} runs kubelet {row.kubelet} against API server "
                                    f"{row.api_server}: {row.problem}"))
    return audit_result(AUDIT, evaluations, skipped)
