"""What the RBAC, network and version audits read from a live cluster, in a fixed number of requests.

`collect_security_inputs(kube)` makes exactly `len(LISTS) + 1` requests (ten lists and /version), plus
one SelfSubjectRulesReview when `own_namespace` is given: never one per pod or per namespace, and never
Secrets. Each list that fails keeps its SourceError, so a page shows one sentence for that section while
the others render. `security_scan(inputs, today)` runs the three audits on whatever arrived.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from k8sdata.errors import SourceError
from k8sdata.security import network, rbac, versions
from k8sdata.security.engine import ScanResult
from k8sdata.security.network import network_scan
from k8sdata.security.podlists import audited_pod
from k8sdata.security.rbac import RbacObjects, rbac_scan
from k8sdata.security.scoring import kinds_list, unread
from k8sdata.security.sources import of_kind
from k8sdata.security.versions import versions_scan
from k8sdata.sources.parallel import read_side_by_side
from k8sdata.sources.protocols import ClusterSource

RBAC_GROUP_VERSION = "rbac.authorization.k8s.io/v1"
NETWORKING_GROUP_VERSION = "networking.k8s.io/v1"

#: field -> (group/version, resource, kind): every list the audits need, one request each.
LISTS: dict[str, tuple[str, str, str]] = {
    "roles": (RBAC_GROUP_VERSION, "roles", "Role"),
    "cluster_roles": (RBAC_GROUP_VERSION, "clusterroles", "ClusterRole"),
    "role_bindings": (RBAC_GROUP_VERSION, "rolebindings", "RoleBinding"),
    "cluster_role_bindings": (RBAC_GROUP_VERSION, "clusterrolebindings", "ClusterRoleBinding"),
    "namespaces": ("v1", "namespaces", "Namespace"),
    "pods": ("v1", "pods", "Pod"),
    "network_policies": (NETWORKING_GROUP_VERSION, "networkpolicies", "NetworkPolicy"),
    "services": ("v1", "services", "Service"),
    "ingresses": (NETWORKING_GROUP_VERSION, "ingresses", "Ingress"),
    "nodes": ("v1", "nodes", "Node"),
}
#: Each section's score category (the audits in code name their own).
SECTION_CATEGORIES = {"rbac": rbac.CATEGORY, "network": network.CATEGORY, "versions": versions.CATEGORY}
#: Which lists each section of the page needs.
SECTIONS: dict[str, tuple[str, ...]] = {
    "rbac": ("roles", "cluster_roles", "role_bindings", "cluster_role_bindings"),
    "network": ("namespaces", "pods", "network_policies", "services", "ingresses"),
    "versions": ("version", "nodes"),
}

Listed = list[dict[str, Any]] | SourceError


@dataclass
class SecurityInputs:
    """Each field: the objects (with `kind` set, as the engine wants) or the SourceError that stopped it."""

    roles: Listed = field(default_factory=list)
    cluster_roles: Listed = field(default_factory=list)
    role_bindings: Listed = field(default_factory=list)
    cluster_role_bindings: Listed = field(default_factory=list)
    namespaces: Listed = field(default_factory=list)
    pods: Listed = field(default_factory=list)
    network_policies: Listed = field(default_factory=list)
    services: Listed = field(default_factory=list)
    ingresses: Listed = field(default_factory=list)
    nodes: Listed = field(default_factory=list)
    version: dict[str, Any] | SourceError = field(default_factory=dict)  # /version
    own_review: dict[str, Any] | SourceError | None = None  # SelfSubjectRulesReview, when asked
    own_namespace: str | None = None

    def error(self, section: str) -> SourceError | None:
        """The first failure among the lists a section needs ("rbac", "network", "versions", "own")."""
        names = ("own_review",) if section == "own" else SECTIONS[section]
        return next((value for value in (getattr(self, name) for name in names)
                     if isinstance(value, SourceError)), None)

    def failed(self, section: str) -> dict[str, SourceError]:
        """Every input of a section that failed, as "the Roles list" (or "the API server's version")
        -> its error."""
        found = {}
        for name in SECTIONS[section]:
            value = getattr(self, name)
            if isinstance(value, SourceError):
                found["the API server's version" if name == "version" else
                      kinds_list(LISTS[name][2])] = value
        return found

    def unscored(self) -> dict[str, str]:
        """Score category -> why it is not scored, for each audit with an input that failed."""
        return {SECTION_CATEGORIES[section]: unread(failed) for section in SECTIONS
                if (failed := self.failed(section))}

    def sentences(self) -> dict[str, str]:
        """Section -> the sentence to show instead of it (only failed sections)."""
        found = {}
        for section in (*SECTIONS, "own"):
            error = self.error(section)
            if error is not None:
                found[section] = error.sentence
        return found

    def rbac_objects(self) -> RbacObjects | SourceError:
        error = self.error("rbac")
        if error is not None:
            return error
        return RbacObjects(_listed(self.roles), _listed(self.cluster_roles), _listed(self.role_bindings),
                           _listed(self.cluster_role_bindings))


def _listed(value: Listed) -> list[dict[str, Any]]:
    """A field of a section that SecurityInputs.error() found no failure in: a list."""
    assert not isinstance(value, SourceError)
    return value


def collect_security_inputs(kube: ClusterSource, *, own_namespace: str | None = None) -> SecurityInputs:
    """Read everything the RBAC, network and version audits need through KubeClient (list_resource,
    get_json("/version"), self_rules). `own_namespace` (KAMS's own namespace) adds KAMS's
    SelfSubjectRulesReview there; cluster-wide grants show in any namespace's review."""
    inputs = SecurityInputs(own_namespace=own_namespace)
    reads: dict[str, Callable[[], Any]] = {
        name: functools.partial(kube.list_resource, group_version, resource)
        for name, (group_version, resource, _kind) in LISTS.items()}
    # The audits read little of each pod; a list already read whole (ListOnce) serves as it is.
    reads["pods"] = functools.partial(kube.list_resource, *LISTS["pods"][:2], slim=audited_pod)
    reads["version"] = functools.partial(kube.get_json, "/version")
    if own_namespace:
        reads["own_review"] = functools.partial(kube.self_rules, own_namespace)
    # Side by side: twenty lists cost the slowest one, not their sum (a hung server: one timeout).
    for name, answer in read_side_by_side(reads).items():
        if name in LISTS and not isinstance(answer, SourceError):
            answer = of_kind(answer, LISTS[name][2])
        setattr(inputs, name, answer)
    return inputs


def merge_scans(results: Iterable[ScanResult]) -> ScanResult:
    """Several scans' findings, results and skipped sentences as one (one score covers them all)."""
    merged = ScanResult([], [], [])
    for result in results:
        merged.findings.extend(result.findings)
        merged.results.extend(result.results)
        merged.skipped.extend(result.skipped)
        merged.unscored.update(result.unscored)
    return merged


def security_scan(inputs: SecurityInputs, today: dt.date, *, include_builtin: bool = False) -> ScanResult:
    """RBAC, network and version findings from whatever was read; a section that could not be read
    adds its sentence to `skipped` instead of findings."""
    parts: list[ScanResult] = []
    objects = inputs.rbac_objects()
    if isinstance(objects, SourceError):
        parts.append(ScanResult([], [], [f"RBAC was not audited: {objects.sentence}"]))
    else:
        parts.append(rbac_scan(objects, include_builtin=include_builtin))
    network_error = inputs.error("network")
    if network_error is not None:
        parts.append(ScanResult([], [], [f"Network exposure was not checked: {network_error.sentence}"]))
    else:
        parts.append(network_scan(_listed(inputs.namespaces), _listed(inputs.pods),
                                  _listed(inputs.network_policies), _listed(inputs.services),
                                  _listed(inputs.ingresses), include_system=include_builtin))
    version = None if isinstance(inputs.version, SourceError) else inputs.version
    nodes = None if isinstance(inputs.nodes, SourceError) else inputs.nodes
    outdated = versions_scan(version, nodes, today)
    if isinstance(inputs.version, SourceError):  # say why, instead of versions_scan's generic sentence
        outdated.skipped[0] = f"The Kubernetes version was not checked: {inputs.version.sentence}"
    if isinstance(inputs.nodes, SourceError):
        outdated.skipped.append(f"Kubelet versions were not checked: {inputs.nodes.sentence}")
    parts.append(outdated)
    # A section with any input missing has no score: its evaluations would cover only what arrived.
    parts.append(ScanResult([], [], [], inputs.unscored()))
    return merge_scans(parts)
