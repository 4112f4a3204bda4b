"""Proof that KAMS is read-only, from the real authorizer: kube-apiserver's RBAC, given exactly the
ServiceAccount and ClusterRole of `kubectl kustomize deploy/k8s`, refuses the token every Secret, `pods/exec`,
`pods/attach`, `pods/portforward` and every write, and allows the reads KAMS makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.realcluster import RealCluster

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READ_VERBS = ("get", "list", "watch")


def can(cluster: RealCluster, verb: str, resource: str, *, group: str = "", subresource: str = "",
        namespace: str = "default") -> bool:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                              "subresource": subresource, "namespace": namespace}}}
    answer = cluster.reader.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    return bool(answer["status"].get("allowed"))


@pytest.fixture(scope="module")
def pod_namespace(real_cluster: RealCluster, real_namespace: Callable[..., str]) -> str:
    namespace = real_namespace("readonly")
    real_cluster.load([{"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "web", "namespace": namespace},
                        "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "nginx"}]}},
                       {"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "db-password", "namespace": namespace},
                        "stringData": {"password": "hunter2"}}])
    return namespace


def test_secrets_are_refused_everywhere(real_cluster: RealCluster, pod_namespace: str) -> None:
    for path in ("/api/v1/secrets", f"/api/v1/namespaces/{pod_namespace}/secrets",
                 f"/api/v1/namespaces/{pod_namespace}/secrets/db-password"):
        status, body = real_cluster.reader.raw("GET", path)
        assert status == 403, (path, body[:200])
        assert b"secrets" in body and b"system:serviceaccount:kams:kams" in body
    for verb in (*READ_VERBS, *WRITE_VERBS):
        assert not can(real_cluster, verb, "secrets", namespace=pod_namespace)


@pytest.mark.parametrize("subresource", ["exec", "attach", "portforward"])
def test_interactive_pod_subresources_are_refused(real_cluster: RealCluster, pod_namespace: str,
                                                  subresource: str) -> None:
    status, body = real_cluster.reader.raw(
        "POST", f"/api/v1/namespaces/{pod_namespace}/pods/web/{subresource}?command=sh&stdout=true")
    assert status == 403, body[:200]
    for verb in ("create", "get"):
        assert not can(real_cluster, verb, "pods", subresource=subresource, namespace=pod_namespace)


WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/namespaces/{ns}/pods",
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
      "spec": {"containers": [{"name": "x", "image": "x"}]}}),
    ("DELETE", "/api/v1/namespaces/{ns}/pods/web", None),
    ("PATCH", "/api/v1/namespaces/{ns}/pods/web", {"metadata": {"labels": {"touched": "yes"}}}),
    ("POST", "/api/v1/namespaces/{ns}/configmaps",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    ("POST", "/apis/apps/v1/namespaces/{ns}/deployments",
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}),
    ("POST", "/api/v1/namespaces/{ns}/pods/web/eviction",
     {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web"}}),
    ("POST", "/api/v1/namespaces/kams/serviceaccounts/kams/token",
     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
      "subjects": [{"kind": "ServiceAccount", "name": "kams", "namespace": "kams"}]}),
    ("DELETE", "/api/v1/namespaces/{ns}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_writes_are_refused(real_cluster: RealCluster, pod_namespace: str, method: str, path: str,
                            body: dict[str, Any] | None) -> None:
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    status, answer = real_cluster.reader.raw(method, path.format(ns=pod_namespace), body,
                                             content_type=content_type)
    assert status == 403, answer[:300]


def test_the_rules_the_server_grants_are_reads_only(real_cluster: RealCluster, pod_namespace: str) -> None:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": pod_namespace}}
    rules = real_cluster.reader.request(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", review)["status"]["resourceRules"]
    granted = {(group, resource) for rule in rules for group in rule.get("apiGroups", [])
               for resource in rule.get("resources", [])}
    assert ("", "pods") in granted and ("", "secrets") not in granted
    assert not any("*" in resource for _group, resource in granted)
    # The only non-read verbs are the self-reviews every authenticated user is given (system:basic-user).
    self_reviews = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}
    for rule in rules:
        extra = set(rule["verbs"]) - set(READ_VERBS)
        assert not extra or set(rule.get("resources", [])) <= self_reviews, rule


@pytest.mark.parametrize(("group", "resource"), [
    ("", "pods"), ("", "pods/log"), ("", "events"), ("", "nodes"), ("", "namespaces"), ("", "services"),
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ("batch", "jobs"), ("batch", "cronjobs"), ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("policy", "poddisruptionbudgets"), ("metrics.k8s.io", "pods"),
])
def test_the_reads_kams_makes_are_allowed(real_cluster: RealCluster, pod_namespace: str, group: str,
                                          resource: str) -> None:
    name, _, subresource = resource.partition("/")
    verbs = ("get",) if subresource else ("list", "watch")
    for verb in verbs:
        assert can(real_cluster, verb, name, group=group, subresource=subresource, namespace=pod_namespace)
