"""Where the objects to scan come from: manifests (files, folders, stdin) or the live cluster.

Manifests keep their file and line, so findings can point at them (SARIF for code scanning), and are
read as the API server reads them: a null field is an absent one (`without_nulls`). The cluster is read
through KubeClient's list calls only: workloads, Pods, PodDisruptionBudgets and ServiceAccounts, never
Secrets.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from k8sdata.errors import SourceError
from k8sdata.security.podlists import AuditedPods
from k8sdata.sources.parallel import read_side_by_side
from k8sdata.sources.protocols import ResourceSource

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

#: (group/version, resource, kind) of everything a cluster scan lists.
CLUSTER_LISTS = (
    ("apps/v1", "deployments", "Deployment"),
    ("apps/v1", "statefulsets", "StatefulSet"),
    ("apps/v1", "daemonsets", "DaemonSet"),
    ("apps/v1", "replicasets", "ReplicaSet"),
    ("batch/v1", "jobs", "Job"),
    ("batch/v1", "cronjobs", "CronJob"),
    ("v1", "pods", "Pod"),
)
PDB_LIST = ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget")
#: ServiceAccounts: a pod that leaves automountServiceAccountToken unset gets its account's setting.
SERVICE_ACCOUNT_LIST = ("v1", "serviceaccounts", "ServiceAccount")
#: The lists a cluster scan reads besides the workloads: the checks that look across objects need them.
CONTEXT_LISTS = (PDB_LIST, SERVICE_ACCOUNT_LIST)


@dataclass
class Objects:
    items: list[dict[str, Any]] = field(default_factory=list)
    #: (kind, namespace, name) -> (file as given, 1-based line of its document)
    locations: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # sentences about what could not be read
    pdbs_known: bool = True
    service_accounts_known: bool = True
    #: Kind -> the error that stopped its list ("PodDisruptionBudget" too): which scores are incomplete.
    failed: dict[str, SourceError] = field(default_factory=dict)


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = metadata_value if isinstance(metadata_value := obj.get("metadata"), Mapping) else {}
    return (str(obj.get("kind") or ""), str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def without_nulls(value: Any) -> Any:
    """The value as the API server would store it: a key whose value is null is absent (`limits:` with
    nothing after it is no limits at all), and null list items are dropped. A schema's `required`
    would otherwise be satisfied by the null and the nested rule never run. Objects read from the API
    need none of this: the server has already dropped every null."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value if item is not None]
    return value


def documents_with_lines(text: str) -> list[tuple[dict[str, Any], int]]:
    """Each mapping document of a multi-document YAML text with the line it starts on, nulls dropped
    (`without_nulls`); `kind: *List` items are unpacked (they share their list's line)."""
    found: list[tuple[dict[str, Any], int]] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() just said there is one
            document = without_nulls(loader.construct_document(node))
            line = node.start_mark.line + 1
            if not isinstance(document, dict):
                continue
            if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
                found += [(item, line) for item in document["items"] if isinstance(item, dict)]
            else:
                found.append((document, line))
    finally:
        loader.dispose()
    return found


def add_manifest_text(objects: Objects, text: str, uri: str) -> None:
    for document, line in documents_with_lines(text):
        objects.items.append(document)
        objects.locations.setdefault(_key(document), (uri, line))


def manifest_files(paths: Iterable[str]) -> list[Path]:
    """Files as given, and the manifest files under folders (sorted, recursive)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"no such file or folder: {raw}")
    return files


def of_kind(items: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Listed items with their kind, which list items do not carry and the engine and audits need. An
    item already named (AuditedPods names the pods it decodes) is kept as it is, not copied."""
    return [item if item.get("kind") == kind else {**item, "kind": kind} for item in items]


#: The pods list, read after the other workloads: their uids decide which pods are kept whole.
POD_LIST = CLUSTER_LISTS[-1]


def cluster_objects(client: ResourceSource, namespace: str | None = None) -> Objects:
    """Workloads, Pods, PodDisruptionBudgets and ServiceAccounts through KubeClient.list_resource. A list
    that fails is skipped with a sentence (other kinds are still scanned); without PDBs the PDB check is
    not run, and without ServiceAccounts the token check judges only pods that set the field. Pods come
    last, reduced to what the audits read when a listed controller is scanned instead (AuditedPods)."""
    objects = Objects()
    # Side by side: the slowest list, not the sum of them (k8sdata.sources.parallel).
    answers: dict[str, Any] = read_side_by_side({
        kind: functools.partial(client.list_resource, group_version, resource, namespace=namespace)
        for group_version, resource, kind in (*CLUSTER_LISTS, *CONTEXT_LISTS) if kind != POD_LIST[2]})
    controllers = {str(uid) for _gv, _resource, kind in CLUSTER_LISTS if kind != POD_LIST[2]
                   and not isinstance(items := answers[kind], SourceError)
                   for item in items if (uid := (item.get("metadata") or {}).get("uid"))}
    try:
        answers[POD_LIST[2]] = client.list_resource(POD_LIST[0], POD_LIST[1], namespace=namespace,
                                                    slim=AuditedPods(controllers))
    except SourceError as failed:
        answers[POD_LIST[2]] = failed
    for _group_version, _resource, kind in CLUSTER_LISTS:
        items = answers[kind]
        if isinstance(items, SourceError):
            objects.skipped.append(f"{kind}s were not scanned: {items.sentence}")
            objects.failed[kind] = items
            continue
        objects.items += of_kind(items, kind)
    pdbs = answers[PDB_LIST[2]]
    if not isinstance(pdbs, SourceError):
        objects.items += of_kind(pdbs, PDB_LIST[2])
    else:
        error = pdbs
        objects.pdbs_known = False
        objects.failed[PDB_LIST[2]] = error
        objects.skipped.append(f"PodDisruptionBudgets could not be read, so the missing-PDB check was not "
                               f"run: {error.sentence}")
    accounts = answers[SERVICE_ACCOUNT_LIST[2]]
    if not isinstance(accounts, SourceError):
        objects.items += of_kind(accounts, SERVICE_ACCOUNT_LIST[2])
    else:
        objects.service_accounts_known = False
        objects.failed[SERVICE_ACCOUNT_LIST[2]] = accounts
        objects.skipped.append("ServiceAccounts could not be read, so the token check judged only pods that "
                               f"set automountServiceAccountToken themselves: {accounts.sentence}")
    return objects


def skipped_sentences(objects: Objects, engine_skipped: Sequence[str]) -> list[str]:
    """What was not evaluated, each said once: the source's sentences say why (e.g. PDBs forbidden); an
    engine sentence that only repeats one of them without the cause is dropped."""
    engine_only = [sentence for sentence in engine_skipped
                   if not any(said.startswith(sentence.rstrip(".")) for said in objects.skipped)]
    return list(dict.fromkeys([*objects.skipped, *engine_only]))
