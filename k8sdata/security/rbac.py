"""RBAC audit: who can do what risky thing, through which binding and role, and where.

Pure functions over the API objects (Roles, ClusterRoles, RoleBindings, ClusterRoleBindings as
KubeClient.list_resource returns them; list items carry no `kind`, so each kind comes in its own list).
The risks are checks of the catalogue (checks/rbac-*.yaml); this module says which bindings fail them
and the engine makes the Findings, so one scan and one score cover the Pod Security checks and these.
See docs/security-rbac.md.

Built-ins. Every real cluster has dozens of `system:*` ClusterRoles and bindings that the control plane
needs (the controller manager creates pods, the scheduler binds them, system:masters is cluster-admin).
Nobody can act on them, and flagging them would bury the findings people can fix, so a grant is
"built in" when its binding is (name `system:*` or label kubernetes.io/bootstrapping=rbac-defaults) or
its subject is (a `system:*` user or group other than the catch-all groups, or a ServiceAccount in
kube-system). Built-in grants stay in the who-can-do-what frame (column `built_in`) but give no Finding
unless `include_builtin=True`. A binding *to* a built-in role (cluster-admin, edit) is not built in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from k8sdata.security.engine import Check, Evaluation, ScanResult, audit_checks, audit_result, catalogue_by_id
from k8sdata.security.predicates import selector_matches

CATEGORY = "RBAC"
CLUSTER_WIDE = "cluster-wide"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
#: Groups every (authenticated) identity is in: a grant to them is a grant to everyone, never built in.
EVERYONE_GROUPS = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")
SYSTEM_NAMESPACES = ("kube-system",)

READ_VERBS = frozenset({"get", "list", "watch"})
WORKLOAD_RESOURCES: dict[str, tuple[str, ...]] = {
    "": ("pods", "replicationcontrollers"),
    "apps": ("deployments", "statefulsets", "daemonsets", "replicasets"),
    "batch": ("jobs", "cronjobs"),
}
#: Self-reviews every authenticated user may create (system:basic-user): they store nothing.
SELF_REVIEWS = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"})


#: The audit's name in the catalogue (`rule: {audit: rbac_scan}` in checks/rbac-*.yaml).
AUDIT = "rbac_scan"
CLUSTER_ADMIN = "rbac-cluster-admin"


def risk_checks() -> tuple[Check, ...]:
    """The RBAC risks, one check each in the catalogue (id, title, severity, meaning, remediation)."""
    return audit_checks(AUDIT)


# ------------------------------------------------------------------------------------------ rules

def _values(rule: Mapping[str, Any], key: str) -> list[str]:
    return [str(value) for value in rule.get(key) or []]


def _verb(rule: Mapping[str, Any], verbs: Iterable[str]) -> bool:
    granted = set(_values(rule, "verbs"))
    return "*" in granted or bool(granted & set(verbs))


def _resource(rule: Mapping[str, Any], group: str, resource: str) -> bool:
    """Does the rule cover `resource` (maybe "name/subresource") in `group`? The API server's own
    matching: "*" is every resource, "*/sub" is that subresource of every resource."""
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    groups = _values(rule, "apiGroups")
    if "*" not in groups and group not in groups:
        return False
    subresource = resource.split("/", 1)[1] if "/" in resource else None
    for granted in _values(rule, "resources"):
        if granted in ("*", resource) or (subresource and granted == f"*/{subresource}"):
            return True
    return False


def rule_risks(rule: Mapping[str, Any]) -> dict[str, str]:
    """The risks one PolicyRule grants (risk id -> what exactly, for people). cluster-admin is a
    property of the binding (see bindings), not of a rule."""
    found: dict[str, str] = {}
    verbs, resources = _values(rule, "verbs"), _values(rule, "resources")
    wild = []
    if "*" in verbs:
        wild.append("use every verb")
    if any(r == "*" or r.startswith("*/") for r in resources):
        wild.append(f"reach resources {', '.join(r for r in resources if r.startswith('*'))}")
    if wild:
        found["rbac-wildcard"] = " and ".join(wild)
    if _verb(rule, READ_VERBS) and _resource(rule, "", "secrets"):
        names = _values(rule, "resourceNames")
        found["rbac-secrets-read"] = "read secrets" + (f" (only {', '.join(names)})" if names else "")
    # Exec/attach/port-forward: "create" on the subresource, and "get" since clients moved to
    # WebSockets (KEP-4006 upgrades a GET; the create check for it is only now being enforced).
    sub = [r for r in ("pods/exec", "pods/attach", "pods/portforward")
           if _verb(rule, ("create", "get")) and _resource(rule, "", r)]
    if sub:
        found["rbac-pod-exec"] = ", ".join(sub)
    created = [resource for group, names in WORKLOAD_RESOURCES.items() for resource in names
               if _verb(rule, ("create",)) and _resource(rule, group, resource)]
    if created:
        found["rbac-create-workloads"] = "create " + ", ".join(created)
    powers = [f"{verb} {resource}" for verb, group, resource in (
        ("escalate", "rbac.authorization.k8s.io", "roles"),
        ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
        ("bind", "rbac.authorization.k8s.io", "roles"),
        ("bind", "rbac.authorization.k8s.io", "clusterroles"),
        ("impersonate", "", "users"), ("impersonate", "", "groups"), ("impersonate", "", "serviceaccounts"),
        ("impersonate", "authentication.k8s.io", "uids"),
        ("impersonate", "authentication.k8s.io", "userextras"),
    ) if _verb(rule, (verb,)) and _resource(rule, group, resource)]
    if powers:
        found["rbac-escalate-bind-impersonate"] = ", ".join(powers)
    if _verb(rule, ("get", "create", "update", "patch", "delete")) and _resource(rule, "", "nodes/proxy"):
        found["rbac-node-proxy"] = "nodes/proxy"
    if _verb(rule, ("create",)) and _resource(rule, "", "serviceaccounts/token"):
        found["rbac-token-create"] = "create serviceaccounts/token"
    return found


# ------------------------------------------------------------------------------------------ roles

def _meta(obj: Mapping[str, Any], key: str) -> Any:
    metadata = metadata_value if isinstance(metadata_value := obj.get("metadata"), Mapping) else {}
    return metadata.get(key)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = _meta(obj, "labels")
    return labels if isinstance(labels, Mapping) else {}


def is_builtin_name(name: str) -> bool:
    return name.startswith("system:")


def _builtin_object(obj: Mapping[str, Any]) -> bool:
    return (is_builtin_name(str(_meta(obj, "name") or ""))
            or _labels(obj).get(BOOTSTRAP_LABEL) == "rbac-defaults")


def aggregated_rules(cluster_roles: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Each ClusterRole's effective rules. An aggregated ClusterRole (aggregationRule) also gets the
    rules of every ClusterRole its clusterRoleSelectors match, as the aggregation controller does (a
    live cluster has filled them in already; manifests and tests may not have)."""
    own = {str(_meta(role, "name")): list(role.get("rules") or []) for role in cluster_roles}
    effective = {name: list(rules) for name, rules in own.items()}
    for role in cluster_roles:
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if not selectors:
            continue
        name = str(_meta(role, "name"))
        for other in cluster_roles:
            other_name = str(_meta(other, "name"))
            if other_name != name and any(selector_matches(s, _labels(other)) for s in selectors):
                effective[name] += [rule for rule in own[other_name] if rule not in effective[name]]
    return effective


def aggregated_into(cluster_roles: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """ClusterRole name -> the aggregated ClusterRoles that pull its rules in."""
    parents: dict[str, list[str]] = {}
    for role in cluster_roles:
        for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
            for other in cluster_roles:
                if other is not role and selector_matches(selector, _labels(other)):
                    parents.setdefault(str(_meta(other, "name")), []).append(str(_meta(role, "name")))
    return parents


# ------------------------------------------------------------------------------------------ bindings

@dataclass(frozen=True)
class RbacObjects:
    roles: list[dict[str, Any]] = field(default_factory=list)
    cluster_roles: list[dict[str, Any]] = field(default_factory=list)
    role_bindings: list[dict[str, Any]] = field(default_factory=list)
    cluster_role_bindings: list[dict[str, Any]] = field(default_factory=list)


def _subject_builtin(subject: Mapping[str, Any], binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind in ("User", "Group"):
        return is_builtin_name(name) and name not in EVERYONE_GROUPS
    if kind == "ServiceAccount":
        return (subject.get("namespace") or binding_namespace) in SYSTEM_NAMESPACES
    return False


@dataclass(frozen=True)
class Grant:
    """One binding's subjects and the rules they get through it."""

    binding_kind: str  # RoleBinding | ClusterRoleBinding
    binding_namespace: str  # "" for a ClusterRoleBinding
    binding: str
    role_kind: str
    role: str
    subjects: tuple[Mapping[str, Any], ...]
    rules: tuple[Mapping[str, Any], ...]
    role_found: bool
    builtin_binding: bool

    @property
    def scope(self) -> str:
        return self.binding_namespace or CLUSTER_WIDE

    @property
    def where(self) -> str:
        return f"in namespace {self.binding_namespace}" if self.binding_namespace else "cluster-wide"


def grants(objects: RbacObjects) -> list[Grant]:
    cluster_rules = aggregated_rules(objects.cluster_roles)
    # A manifest may leave the namespace out of both a Role and its RoleBinding: the same namespace.
    role_rules = {(str(_meta(r, "namespace") or ""), str(_meta(r, "name"))): list(r.get("rules") or [])
                  for r in objects.roles}
    found: list[Grant] = []
    for kind, bindings in (("ClusterRoleBinding", objects.cluster_role_bindings),
                           ("RoleBinding", objects.role_bindings)):
        for binding in bindings:
            namespace = str(_meta(binding, "namespace") or "") if kind == "RoleBinding" else ""
            ref = binding.get("roleRef") or {}
            role_kind, role = str(ref.get("kind") or ""), str(ref.get("name") or "")
            rules = (cluster_rules.get(role) if role_kind == "ClusterRole"
                     else role_rules.get((namespace, role)) if kind == "RoleBinding" else None)
            found.append(Grant(kind, namespace, str(_meta(binding, "name") or ""), role_kind, role,
                               tuple(s for s in binding.get("subjects") or [] if isinstance(s, Mapping)),
                               tuple(rules or ()), rules is not None, _builtin_object(binding)))
    return found


def grant_risks(grant: Grant) -> dict[str, str]:
    """Risk id -> detail for everything this binding grants (details of several rules joined)."""
    risks: dict[str, list[str]] = {}
    if grant.role_kind == "ClusterRole" and grant.role == "cluster-admin":
        risks[CLUSTER_ADMIN] = ["do anything"]
    for rule in grant.rules:
        for risk, detail in rule_risks(rule).items():
            if detail not in risks.setdefault(risk, []):
                risks[risk].append(detail)
    return {risk: "; ".join(details) for risk, details in risks.items()}


WHO_CAN_COLUMNS = ["subject_kind", "subject_name", "subject_namespace", "risk", "title", "severity",
                   "detail", "binding_kind", "binding", "role_kind", "role", "scope", "built_in"]


def who_can(objects: RbacObjects) -> pd.DataFrame:
    """One row per subject x risk x binding: who can do which risky thing, via which binding and role,
    in which namespace or cluster-wide. Built-in grants are kept and marked (`built_in`)."""
    rows = []
    for grant in grants(objects):
        risks = grant_risks(grant)
        for subject in grant.subjects:
            subject_namespace = (str(subject.get("namespace") or grant.binding_namespace)
                                 if subject.get("kind") == "ServiceAccount" else "")
            for risk_id, detail in risks.items():
                risk = catalogue_by_id()[risk_id]
                rows.append({
                    "subject_kind": str(subject.get("kind") or ""),
                    "subject_name": str(subject.get("name") or ""),
                    "subject_namespace": subject_namespace, "risk": risk_id, "title": risk.title,
                    "severity": risk.severity, "detail": detail, "binding_kind": grant.binding_kind,
                    "binding": (f"{grant.binding_namespace}/{grant.binding}" if grant.binding_namespace
                                else grant.binding),
                    "role_kind": grant.role_kind, "role": grant.role, "scope": grant.scope,
                    "built_in": grant.builtin_binding or _subject_builtin(subject, grant.binding_namespace),
                })
    frame = pd.DataFrame(rows, columns=WHO_CAN_COLUMNS)
    return frame.sort_values(["built_in", "severity", "subject_kind", "subject_name", "risk"],
                             ascending=[True, True, True, True, True], ignore_index=True)


def _describe(subject: Mapping[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f"ServiceAccount {subject.get('namespace') or binding_namespace}/{subject.get('name')}"
    return f"{subject.get('kind')} {subject.get('name')}"


def rbac_scan(objects: RbacObjects, *, include_builtin: bool = False, manifests: bool = False) -> ScanResult:
    """Findings and score units for every binding. The unit is one risk evaluated on one binding (like
    one check on one workload): each binding passes or fails each risk. A binding to cluster-admin
    reports only that (its wildcard, secrets, exec... are what cluster-admin means). Built-in
    bindings, and bindings whose subjects are all built in, are left out unless include_builtin.

    `manifests=True`: the objects are a set of manifests, not the whole cluster. A role a binding refers
    to may simply live elsewhere (the built-in edit, admin, view), so it is "not in the input" rather
    than missing, and roles no binding in the input refers to are judged on their own (unbound_role_scan)."""
    evaluations: list[Evaluation] = []
    skipped: list[str] = []
    for grant in grants(objects):
        subjects = [s for s in grant.subjects
                    if include_builtin or not _subject_builtin(s, grant.binding_namespace)]
        if not include_builtin and (grant.builtin_binding or not subjects):
            continue
        if not grant.role_found and manifests:
            if not (grant.role_kind == "ClusterRole" and grant.role == "cluster-admin"):  # judged by name
                skipped.append(f"{grant.binding_kind} {grant.binding} refers to {grant.role_kind} "
                               f"{grant.role}, which is not in the input, so what it grants was not judged.")
        elif not grant.role_found:
            skipped.append(f"{grant.binding_kind} {grant.binding} refers to {grant.role_kind} {grant.role}, "
                           "which does not exist; it grants nothing until that role is created.")
        risks = grant_risks(grant)
        if CLUSTER_ADMIN in risks:
            risks = {CLUSTER_ADMIN: risks[CLUSTER_ADMIN]}
        who = ", ".join(_describe(s, grant.binding_namespace) for s in subjects) or "no subjects"
        for risk in risk_checks():
            evaluations.append(Evaluation(
                risk.id, grant.binding_kind, grant.binding_namespace, grant.binding,
                f"{who} can {risks[risk.id]} {grant.where} through {grant.role_kind} {grant.role}"
                if risk.id in risks else None))
    result = audit_result(AUDIT, evaluations, skipped)
    if manifests:
        unbound = unbound_role_scan(objects, include_builtin=include_builtin)
        result.findings.extend(unbound.findings)
        result.results.extend(unbound.results)
    return result


def unbound_role_scan(objects: RbacObjects, *, include_builtin: bool = False) -> ScanResult:
    """Risks of the Roles and ClusterRoles that no binding among `objects` refers to (nor pulls in by
    aggregation), judged on the role itself. For manifests only: there the binding is often in another
    file or chart, and the role is what a person reviews; in a live cluster an unbound role grants
    nothing, and unused_roles lists it instead. Built-in roles (system:*, bootstrap label, and the
    default ClusterRoles) are left out unless include_builtin."""
    frame = unused_roles(objects, include_builtin=include_builtin)
    effective = aggregated_rules(objects.cluster_roles)
    namespaced = {(str(_meta(r, "namespace") or ""), str(_meta(r, "name"))): list(r.get("rules") or [])
                  for r in objects.roles}
    evaluations: list[Evaluation] = []
    for row in frame.itertuples():
        kind, namespace, name = str(row.kind), str(row.namespace or ""), str(row.name)
        rules = effective.get(name, []) if kind == "ClusterRole" else namespaced.get((namespace, name), [])
        risks: dict[str, list[str]] = {}
        for rule in rules:
            for risk_id, detail in rule_risks(rule).items():
                if detail not in risks.setdefault(risk_id, []):
                    risks[risk_id].append(detail)
        where = f" in namespace {namespace}" if namespace else " wherever it is bound"
        for risk in risk_checks():
            if risk.id == CLUSTER_ADMIN:
                continue  # a property of a binding to the role named cluster-admin, not of a role's rules
            evaluations.append(Evaluation(
                risk.id, kind, namespace, name,
                f"{kind} {name} lets whoever is bound to it {'; '.join(risks[risk.id])}{where} (no binding "
                "in the input refers to it yet)" if risk.id in risks else None))
    return audit_result(AUDIT, evaluations)


UNUSED_COLUMNS = ["kind", "namespace", "name", "rules", "risks", "built_in"]


def unused_roles(objects: RbacObjects, *, include_builtin: bool = False) -> pd.DataFrame:
    """Roles and ClusterRoles that no binding refers to (and, for ClusterRoles, that no aggregated
    ClusterRole pulls in). Built-in ClusterRoles are routinely unbound (admin, edit, view wait for
    someone to bind them; system:aggregate-to-* feed aggregation), so they are left out unless asked."""
    used_cluster = {str((b.get("roleRef") or {}).get("name")) for b in
                    [*objects.cluster_role_bindings, *objects.role_bindings]
                    if (b.get("roleRef") or {}).get("kind") == "ClusterRole"}
    used_roles = {(str(_meta(b, "namespace") or ""), str((b.get("roleRef") or {}).get("name")))
                  for b in objects.role_bindings if (b.get("roleRef") or {}).get("kind") == "Role"}
    parents = aggregated_into(objects.cluster_roles)
    effective = aggregated_rules(objects.cluster_roles)
    rows = []
    for role in objects.cluster_roles:
        name = str(_meta(role, "name"))
        builtin = _builtin_object(role) or name in ("admin", "edit", "view", "cluster-admin")
        if name in used_cluster or any(parent in used_cluster for parent in parents.get(name, [])):
            continue
        rows.append({"kind": "ClusterRole", "namespace": "", "name": name, "rules": len(effective[name]),
                     "risks": ", ".join(sorted({r for rule in effective[name] for r in rule_risks(rule)})),
                     "built_in": builtin})
    for role in objects.roles:
        key = (str(_meta(role, "namespace") or ""), str(_meta(role, "name")))
        if key in used_roles:
            continue
        rules = list(role.get("rules") or [])
        rows.append({"kind": "Role", "namespace": key[0], "name": key[1], "rules": len(rules),
                     "risks": ", ".join(sorted({r for rule in rules for r in rule_risks(rule)})),
                     "built_in": _builtin_object(role)})
    frame = pd.DataFrame(rows, columns=UNUSED_COLUMNS)
    if not include_builtin:
        frame = frame[~frame["built_in"].astype(bool)]
    return frame.sort_values(["kind", "namespace", "name"], ignore_index=True)


# ------------------------------------------------------------------------------------------ KAMS itself

OWN_COLUMNS = ["type", "verbs", "api_groups", "resources", "resource_names", "urls", "read_only", "note"]


def _rule_read_only(rule: Mapping[str, Any]) -> tuple[bool, str]:
    verbs = set(_values(rule, "verbs"))
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        ok = verbs <= {"get", "head"}
        return ok, "" if ok else "verbs beyond get on URLs"
    if verbs == {"create"} and set(_values(rule, "resources")) <= SELF_REVIEWS and \
            set(_values(rule, "apiGroups")) <= {"authorization.k8s.io", "authentication.k8s.io"}:
        return True, "self-review: every user may ask what it is allowed to do; nothing is stored"
    if _resource(rule, "", "secrets"):
        return False, "touches Secrets"
    if not verbs <= READ_VERBS:
        return False, f"verbs beyond get/list/watch: {', '.join(sorted(verbs - READ_VERBS))}"
    return True, ""


def own_permissions(review: Mapping[str, Any]) -> pd.DataFrame:
    """KAMS's own rules from a SelfSubjectRulesReview (KubeClient.self_rules), one row per rule, each
    judged: read-only means get/list/watch only and never Secrets (the self-review rules every user
    has are allowed: they create nothing)."""
    status = status_value if isinstance(status_value := review.get("status"), Mapping) else review
    rows = []
    for kind, key in (("resource", "resourceRules"), ("non-resource", "nonResourceRules")):
        for rule in status.get(key) or []:
            read_only, note = _rule_read_only(rule)
            rows.append({"type": kind, "verbs": ", ".join(_values(rule, "verbs")),
                         "api_groups": ", ".join(v or "core" for v in _values(rule, "apiGroups")),
                         "resources": ", ".join(_values(rule, "resources")),
                         "resource_names": ", ".join(_values(rule, "resourceNames")),
                         "urls": ", ".join(_values(rule, "nonResourceURLs")),
                         "read_only": read_only, "note": note})
    return pd.DataFrame(rows, columns=OWN_COLUMNS).drop_duplicates(ignore_index=True)


@dataclass(frozen=True)
class OwnVerdict:
    read_only: bool
    sentence: str
    incomplete: bool


def own_verdict(review: Mapping[str, Any], namespace: str = "") -> OwnVerdict:
    """"read-only" (visible proof for the Security page) or what breaks it."""
    status = status_value if isinstance(status_value := review.get("status"), Mapping) else review
    frame = own_permissions(review)
    offending = frame[~frame["read_only"]]
    incomplete = bool(status.get("incomplete"))
    where = f" in namespace {namespace}" if namespace else ""
    if offending.empty:
        sentence = (f"KAMS is read-only{where}: it may only get, list and watch, and never read Secrets "
                    f"({len(frame)} rules checked).")
        if incomplete:
            sentence += (" The API server said this list is incomplete (another authorizer, e.g. a "
                         "webhook, may grant more).")
        return OwnVerdict(True, sentence, incomplete)
    reasons = "; ".join(sorted(set(offending["note"])))
    sentence = (f"KAMS is NOT read-only{where}: {len(offending)} rule(s) allow more ({reasons}). Apply the "
                "ClusterRole in deploy/k8s/ and remove other bindings to its ServiceAccount.")
    return OwnVerdict(False, sentence, incomplete)
