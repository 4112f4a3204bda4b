"""The resource types the stand-in API server serves, as discovery describes them.

One table drives discovery (/api, /apis, APIResourceList), URL routing, the store's buckets and the
field selectors each resource accepts, so a resource is added in exactly one place.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

READ_VERBS: tuple[str, ...] = ("get", "list", "watch")
CREATE_ONLY: tuple[str, ...] = ("create",)


def _dig(obj: dict[str, Any], dotted: str) -> str:
    """The string value at a dotted path ("spec.nodeName"), "" when absent, as field selectors see it."""
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = READ_VERBS
    categories: tuple[str, ...] = ()
    #: Extra field selector labels beyond metadata.name / metadata.namespace (dotted object paths).
    selectable_fields: tuple[str, ...] = ()
    #: Subresources served under this resource, e.g. ("log",) for pods.
    subresources: tuple[str, ...] = ()
    #: Computed at request time (metrics.k8s.io) rather than kept in the store.
    computed: bool = False
    #: Only POST is meaningful (authorization reviews); never listed or stored.
    virtual: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """How error messages name the resource: "pods", "deployments.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def field_labels(self) -> frozenset[str]:
        """Every field a fieldSelector may name for this resource."""
        return frozenset(("metadata.name", "metadata.namespace", *self.selectable_fields))

    def index_fields(self, obj: dict[str, Any]) -> dict[str, str]:
        """The values field selectors compare against, extracted once when the object is stored."""
        metadata = obj.get("metadata", {})
        fields = {
            "metadata.name": metadata.get("name", ""),
            "metadata.namespace": metadata.get("namespace", ""),
        }
        for dotted in self.selectable_fields:
            value = _dig(obj, dotted)
            if value:  # absent means "" to a selector; interning shares the few distinct values
                fields[dotted] = sys.intern(value)
        return fields

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in self.subresources:
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get"],
                }
            )
        return entries


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    # core/v1
    ResourceType(
        "", "v1", "namespaces", "namespace", "Namespace", False, ("ns",), selectable_fields=("status.phase",)
    ),
    ResourceType(
        "", "v1", "nodes", "node", "Node", False, ("no",), selectable_fields=("spec.unschedulable",)
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        categories=("all",),
        selectable_fields=_POD_FIELDS,
        subresources=("log",),
    ),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",), selectable_fields=_EVENT_FIELDS),
    ResourceType("", "v1", "services", "service", "Service", True, ("svc",), categories=("all",)),
    ResourceType("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "secret", "Secret", True, selectable_fields=("type",)),
    # apps/v1
    ResourceType(
        "apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), categories=("all",)
    ),
    ResourceType("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), categories=("all",)),
    ResourceType(
        "apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",), categories=("all",)
    ),
    ResourceType("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",), categories=("all",)),
    # batch/v1
    ResourceType("batch", "v1", "jobs", "job", "Job", True, categories=("all",)),
    ResourceType("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), categories=("all",)),
    # policy/v1
    ResourceType("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", True,
                 ("pdb",)),
    # networking.k8s.io/v1
    ResourceType(
        "networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", True, ("netpol",)
    ),
    ResourceType("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",)),
    # rbac.authorization.k8s.io/v1
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
    ),
    # events.k8s.io/v1 is served from the same bucket as core events would need conversion; left out.
    # metrics.k8s.io/v1beta1 (computed from pods and the usage model at request time)
    ResourceType(
        "metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", True, verbs=("get", "list"), computed=True
    ),
    ResourceType(
        "metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", False, verbs=("get", "list"), computed=True
    ),
    # aquasecurity.github.io/v1alpha1 (Trivy operator CRD)
    ResourceType(
        "aquasecurity.github.io",
        "v1alpha1",
        "vulnerabilityreports",
        "vulnerabilityreport",
        "VulnerabilityReport",
        True,
        ("vuln", "vulns"),
    ),
    # Its cluster-scoped twin, as trivy-operator's CRD defines it (scope Cluster, shortName clustervuln:
    # deploy/helm/crds/aquasecurity.github.io_clustervulnerabilityreports.yaml).
    ResourceType(
        "aquasecurity.github.io",
        "v1alpha1",
        "clustervulnerabilityreports",
        "clustervulnerabilityreport",
        "ClusterVulnerabilityReport",
        False,
        ("clustervuln",),
    ),
    # authorization.k8s.io/v1
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        False,
        verbs=CREATE_ONLY,
        virtual=True,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        False,
        verbs=CREATE_ONLY,
        virtual=True,
    ),
)


@dataclass
class ResourceRegistry:
    """Look-ups over RESOURCE_TYPES by URL parts and by an object's apiVersion/kind."""

    types: tuple[ResourceType, ...] = RESOURCE_TYPES
    _by_path: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str], ResourceType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rtype in self.types:
            self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
            if not rtype.computed and not rtype.virtual:
                self._by_kind[(rtype.group_version, rtype.kind)] = rtype

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def for_object(self, obj: dict[str, Any]) -> ResourceType:
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        try:
            return self._by_kind[key]
        except KeyError:
            raise ValueError(f"the stand-in API server does not serve {key[0]} {key[1]}") from None

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core group -> its versions, in table order (the first is preferred)."""
        groups: dict[str, list[str]] = {}
        for rtype in self.types:
            if rtype.group and rtype.version not in groups.setdefault(rtype.group, []):
                groups[rtype.group].append(rtype.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rtype for rtype in self.types if rtype.group == group and rtype.version == version]

    def stored(self) -> Iterable[ResourceType]:
        return (rtype for rtype in self.types if not rtype.computed and not rtype.virtual)
