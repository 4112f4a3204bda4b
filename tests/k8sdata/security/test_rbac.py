"""RBAC audit: each risk rule, wildcard edge cases, aggregated ClusterRoles, built-ins, unused roles,
the who-can frame, and KAMS's own permissions (units here; against the stand-in server in
test_cluster_inputs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from k8sdata.security import score
from k8sdata.security.rbac import (
    RbacObjects,
    own_permissions,
    own_verdict,
    rbac_scan,
    risk_checks,
    rule_risks,
    unused_roles,
    who_can,
)

RBAC = "rbac.authorization.k8s.io"


def rule(verbs: list[str], resources: list[str], groups: tuple[str, ...] = ("",), **extra: Any) -> dict:
    return {"apiGroups": list(groups), "resources": resources, "verbs": verbs, **extra}


def cluster_role(name: str, rules: list[dict], labels: dict | None = None, **extra: Any) -> dict:
    metadata = {"name": name, "labels": labels or {}}
    return {"kind": "ClusterRole", "metadata": metadata, "rules": rules, **extra}


def role(namespace: str, name: str, rules: list[dict]) -> dict:
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def binding(name: str, role_kind: str, role_name: str, subjects: list[dict], namespace: str | None = None,
            labels: dict | None = None) -> dict:
    metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata, "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
            "subjects": subjects}


def sa(name: str, namespace: str | None = None) -> dict:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": namespace} if namespace else {})}


# --------------------------------------------------------------------------------- one rule, one risk

@pytest.mark.parametrize(("the_rule", "expected"), [
    (rule(["*"], ["configmaps"]), {"rbac-wildcard"}),
    # "*" covers subresources too, so a get on everything includes pods/exec and nodes/proxy.
    (rule(["get"], ["*"]), {"rbac-wildcard", "rbac-secrets-read", "rbac-pod-exec", "rbac-node-proxy"}),
    (rule(["get"], ["*/scale"], ("apps",)), {"rbac-wildcard"}),
    (rule(["get", "list"], ["configmaps"]), set()),
    (rule(["list"], ["secrets"]), {"rbac-secrets-read"}),
    (rule(["watch"], ["secrets"], ("*",)), {"rbac-secrets-read"}),
    (rule(["get"], ["secrets"], ("apps",)), set()),  # no secrets in the apps group
    (rule(["create", "delete"], ["secrets"]), set()),  # writes are not reads
    (rule(["create"], ["pods/exec"]), {"rbac-pod-exec"}),
    (rule(["get"], ["pods/attach"]), {"rbac-pod-exec"}),  # WebSocket clients upgrade a GET
    (rule(["create"], ["pods/portforward"]), {"rbac-pod-exec"}),
    (rule(["create"], ["*/exec"]), {"rbac-wildcard", "rbac-pod-exec"}),
    (rule(["get"], ["pods/log"]), set()),
    (rule(["create"], ["pods"]), {"rbac-create-workloads"}),
    (rule(["create"], ["deployments"], ("apps",)), {"rbac-create-workloads"}),
    (rule(["create"], ["cronjobs"], ("batch",)), {"rbac-create-workloads"}),
    (rule(["create"], ["deployments"], ("extensions",)), set()),
    (rule(["update", "patch"], ["deployments"], ("apps",)), set()),
    (rule(["escalate"], ["clusterroles"], (RBAC,)), {"rbac-escalate-bind-impersonate"}),
    (rule(["bind"], ["roles"], (RBAC,)), {"rbac-escalate-bind-impersonate"}),
    (rule(["impersonate"], ["users", "groups"]), {"rbac-escalate-bind-impersonate"}),
    (rule(["impersonate"], ["serviceaccounts"]), {"rbac-escalate-bind-impersonate"}),
    (rule(["get", "list"], ["roles"], (RBAC,)), set()),
    (rule(["get"], ["nodes/proxy"]), {"rbac-node-proxy"}),
    (rule(["get"], ["nodes/metrics", "nodes/stats"]), set()),
    (rule(["create"], ["serviceaccounts/token"]), {"rbac-token-create"}),
    (rule(["get"], ["serviceaccounts"]), set()),
    ({"nonResourceURLs": ["*"], "verbs": ["get"]}, set()),  # URLs only: no resources reached
])
def test_each_rule_gives_exactly_its_risks(the_rule: dict, expected: set[str]) -> None:
    assert set(rule_risks(the_rule)) == expected


def test_full_wildcard_rule_is_every_risk_and_secret_names_are_reported() -> None:
    every_rule_risk = {check.id for check in risk_checks()} - {"rbac-cluster-admin"}
    assert set(rule_risks(rule(["*"], ["*"], ("*",)))) == every_rule_risk
    detail = rule_risks(rule(["get"], ["secrets"], resourceNames=["app-tls"]))["rbac-secrets-read"]
    assert "app-tls" in detail


# --------------------------------------------------------------------------------- bindings

def objects(**kwargs: list[dict]) -> RbacObjects:
    return RbacObjects(kwargs.get("roles", []), kwargs.get("cluster_roles", []),
                       kwargs.get("role_bindings", []), kwargs.get("cluster_role_bindings", []))


BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}
ADMIN = cluster_role("cluster-admin",
                     [rule(["*"], ["*"], ("*",)), {"nonResourceURLs": ["*"], "verbs": ["*"]}], BOOTSTRAP)


def test_cluster_admin_binding_is_one_finding_with_its_subjects_and_scope() -> None:
    rbac = objects(cluster_roles=[ADMIN], role_bindings=[
        binding("ns-admin", "ClusterRole", "cluster-admin", [sa("default")], namespace="team")])
    result = rbac_scan(rbac)
    assert [(f.id, f.kind, f.namespace, f.name) for f in result.findings] == [
        ("rbac-cluster-admin", "RoleBinding", "team", "ns-admin")]
    assert "ServiceAccount team/default" in result.findings[0].message
    assert "in namespace team" in result.findings[0].message
    # One evaluation per risk per binding, so the score sees the other seven as not applicable passes.
    assert len(result.results) == len(risk_checks())
    assert score(result.results)[-1].dangers == 1


def test_role_binding_to_a_namespaced_role_and_who_can_rows() -> None:
    rbac = objects(
        roles=[role("shop", "debugger", [rule(["create"], ["pods/exec"]), rule(["get"], ["secrets"])])],
        role_bindings=[binding("debuggers", "Role", "debugger",
                               [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "oncall"}],
                               namespace="shop")])
    frame = who_can(rbac)
    assert set(zip(frame["subject_name"], frame["risk"], strict=True)) == {
        ("alice", "rbac-pod-exec"), ("alice", "rbac-secrets-read"),
        ("oncall", "rbac-pod-exec"), ("oncall", "rbac-secrets-read")}
    assert set(frame["scope"]) == {"shop"} and set(frame["binding"]) == {"shop/debuggers"}
    assert not frame["built_in"].any()
    findings = rbac_scan(rbac).findings
    assert {f.id for f in findings} == {"rbac-pod-exec", "rbac-secrets-read"}
    assert all("User alice, Group oncall" in f.message for f in findings)


def test_role_binding_cannot_use_a_role_of_another_namespace() -> None:
    rbac = objects(roles=[role("other", "reader", [rule(["get"], ["secrets"])])],
                   role_bindings=[binding("b", "Role", "reader", [sa("x")], namespace="shop")])
    result = rbac_scan(rbac)
    assert result.findings == []
    assert any("does not exist" in sentence for sentence in result.skipped)


def test_aggregated_cluster_role_collects_the_matching_roles_rules() -> None:
    parent = cluster_role("monitoring", [], aggregationRule={"clusterRoleSelectors": [
        {"matchLabels": {"example.com/aggregate-to-monitoring": "true"}},
        {"matchExpressions": [{"key": "extra", "operator": "Exists"}]}]})
    child_secrets = cluster_role("monitoring-secrets", [rule(["list"], ["secrets"])],
                                 {"example.com/aggregate-to-monitoring": "true"})
    child_proxy = cluster_role("monitoring-proxy", [rule(["get"], ["nodes/proxy"])], {"extra": "yes"})
    unrelated = cluster_role("unrelated", [rule(["create"], ["pods"])], {"other": "x"})
    rbac = objects(cluster_roles=[parent, child_secrets, child_proxy, unrelated],
                   cluster_role_bindings=[
                       binding("monitoring", "ClusterRole", "monitoring", [sa("prom", "mon")])])
    assert {f.id for f in rbac_scan(rbac).findings} == {"rbac-secrets-read", "rbac-node-proxy"}
    frame = who_can(rbac)
    assert set(frame["scope"]) == {"cluster-wide"} and set(frame["subject_namespace"]) == {"mon"}
    # The children are used through the aggregated parent; "unrelated" is not used by anyone.
    unused = unused_roles(rbac)
    assert list(unused["name"]) == ["unrelated"] and unused["risks"].iloc[0] == "rbac-create-workloads"


def test_builtins_are_marked_in_who_can_and_left_out_of_findings() -> None:
    node_proxier = cluster_role("system:node-proxier", [rule(["get"], ["nodes/proxy"])])
    rbac = objects(cluster_roles=[ADMIN, node_proxier], cluster_role_bindings=[
        binding("cluster-admin", "ClusterRole", "cluster-admin",
                [{"kind": "Group", "name": "system:masters"}], labels=BOOTSTRAP),
        binding("kube-proxy", "ClusterRole", "system:node-proxier", [sa("kube-proxy", "kube-system")]),
        binding("everyone-admin", "ClusterRole", "cluster-admin",
                [{"kind": "Group", "name": "system:authenticated"}]),
    ])
    frame = who_can(rbac)
    builtin = dict(zip(frame["binding"], frame["built_in"], strict=False))
    assert builtin == {"cluster-admin": True, "kube-proxy": True, "everyone-admin": False}
    # Granting cluster-admin to every authenticated user is never "built in".
    assert [(f.id, f.name) for f in rbac_scan(rbac).findings] == [("rbac-cluster-admin", "everyone-admin")]
    assert {f.name for f in rbac_scan(rbac, include_builtin=True).findings} == {
        "cluster-admin", "kube-proxy", "everyone-admin"}


def test_unused_roles_skip_builtins_unless_asked() -> None:
    rbac = objects(cluster_roles=[cluster_role("edit", [rule(["create"], ["pods"])],
                                               {"kubernetes.io/bootstrapping": "rbac-defaults"}),
                                  cluster_role("old-ci", [rule(["*"], ["*"])])],
                   roles=[role("shop", "used", []), role("shop", "stale", [])],
                   role_bindings=[binding("b", "Role", "used", [sa("x")], namespace="shop")])
    assert list(unused_roles(rbac)[["kind", "name"]].itertuples(index=False, name=None)) == [
        ("ClusterRole", "old-ci"), ("Role", "stale")]
    assert "edit" in set(unused_roles(rbac, include_builtin=True)["name"])


# --------------------------------------------------------------------------------- KAMS's own rules

SELF_REVIEWS = {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}


def review(*resource_rules: dict, non_resource: tuple[dict, ...] = (), incomplete: bool = False) -> dict:
    return {"kind": "SelfSubjectRulesReview", "status": {
        "resourceRules": list(resource_rules), "nonResourceRules": list(non_resource),
        "incomplete": incomplete}}


def test_read_only_verdict() -> None:
    good = review(SELF_REVIEWS, rule(["get", "list", "watch"], ["pods", "nodes"]),
                  non_resource=({"verbs": ["get"], "nonResourceURLs": ["/version"]},))
    verdict = own_verdict(good, "kams")
    assert verdict.read_only and "read-only in namespace kams" in verdict.sentence
    assert own_permissions(good)["read_only"].all()
    assert "incomplete" in own_verdict(review(SELF_REVIEWS, incomplete=True)).sentence


@pytest.mark.parametrize("bad_rule", [
    rule(["get"], ["secrets"], resourceNames=["kams-config"]),  # even one named Secret
    rule(["list"], ["*"]),  # a wildcard includes secrets
    rule(["get", "list", "watch", "delete"], ["pods"]),
    rule(["*"], ["pods"]),
    rule(["create"], ["selfsubjectaccessreviews", "pods"], ("authorization.k8s.io", "")),
])
def test_not_read_only(bad_rule: dict) -> None:
    verdict = own_verdict(review(SELF_REVIEWS, bad_rule))
    assert not verdict.read_only and "NOT read-only" in verdict.sentence
    assert list(own_permissions(review(SELF_REVIEWS, bad_rule))["read_only"]) == [True, False]


def test_posting_urls_is_not_read_only() -> None:
    assert not own_verdict(review(non_resource=({"verbs": ["post"], "nonResourceURLs": ["/x"]},))).read_only
