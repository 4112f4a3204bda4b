"""The RBAC and network audits on manifests (`python -m k8sdata scan PATH|-`), as `--cluster` runs them on
the live cluster: the same risks and checks, on the objects found in the input.

What differs from a cluster, and why:
- RBAC: a binding may refer to a role that is not in the input (the built-in `edit`, or a role from
  another chart), so that binding is said to be "not judged", never "missing"; and a Role or ClusterRole
  that nothing in the input binds is judged on its own rules (rbac.unbound_role_scan), because the
  review of a manifest is where the role is written.
- Network: there are no running pods, so each workload's pod template stands for its pods (the finding
  names the workload). Only namespaces that appear in the input are checked (a Namespace object, or
  the namespace of a workload), and only NetworkPolicies in the input count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from k8sdata.security.cluster import merge_scans
from k8sdata.security.engine import ScanResult, subject_of, top_level
from k8sdata.security.network import network_scan
from k8sdata.security.rbac import RbacObjects, rbac_scan

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
NETWORK_KINDS = ("Namespace", "NetworkPolicy", "Service", "Ingress")


def _of_kind(objects: Iterable[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [dict(obj) for obj in objects if obj.get("kind") == kind]


def rbac_objects(objects: Iterable[Mapping[str, Any]]) -> RbacObjects:
    objects = list(objects)
    return RbacObjects(_of_kind(objects, "Role"), _of_kind(objects, "ClusterRole"),
                       _of_kind(objects, "RoleBinding"), _of_kind(objects, "ClusterRoleBinding"))


def template_pods(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pods, and for every other workload (top level: not owned by another in the input) a stand-in pod
    with its template's labels and spec, keeping the workload's kind and name for the finding."""
    pods = []
    for obj in top_level(objects):
        subject = subject_of(obj)
        if subject is None:
            continue
        pods.append({"kind": subject.kind,
                     "metadata": {"namespace": subject.namespace, "name": subject.name,
                                  "labels": dict(subject.pod_metadata.get("labels") or {})},
                     "spec": dict(subject.pod_spec)})
    return pods


def manifest_audits(objects: Iterable[Mapping[str, Any]], *, include_builtin: bool = False) -> ScanResult:
    """RBAC findings when the input holds RBAC objects; network findings when it holds workloads or
    network objects (Namespaces, NetworkPolicies, Services, Ingresses). Nothing otherwise, so a scan of
    a lone ConfigMap stays silent."""
    objects = [obj for obj in objects if isinstance(obj, Mapping)]
    parts: list[ScanResult] = []
    rbac = rbac_objects(objects)
    if rbac.roles or rbac.cluster_roles or rbac.role_bindings or rbac.cluster_role_bindings:
        parts.append(rbac_scan(rbac, include_builtin=include_builtin, manifests=True))
    pods = template_pods(objects)
    if pods or any(obj.get("kind") in NETWORK_KINDS for obj in objects):
        parts.append(network_scan(_of_kind(objects, "Namespace"), pods, _of_kind(objects, "NetworkPolicy"),
                                  _of_kind(objects, "Service"), _of_kind(objects, "Ingress"),
                                  include_system=include_builtin))
    return merge_scans(parts)
