"""Authentication (bearer tokens) and RBAC authorization over the Role/ClusterRole objects in the store.

Rule matching follows kubernetes/plugin/pkg/auth/authorizer/rbac (RuleAllows, ResourceMatches,
NonResourceURLMatches). system:masters may do anything, as in a real cluster. The bootstrap bindings every
cluster has for ordinary users (system:discovery, system:basic-user, system:public-info-viewer, and for
ServiceAccounts the issuer and trust-bundle discovery) are built in, so any authenticated user may read
discovery and ask what it is allowed to do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import demo_names

from .store import Store

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...]


def user_for(name: str, groups: Iterable[str] = ()) -> UserInfo:
    """A user with the groups the authenticator adds: system:authenticated for everyone, and the
    ServiceAccount groups for system:serviceaccount:<ns>:<name> users."""
    all_groups = list(groups)
    if name.startswith("system:serviceaccount:"):
        namespace = name.split(":")[2]
        all_groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    all_groups.append("system:authenticated")
    return UserInfo(name, tuple(dict.fromkeys(all_groups)))


def default_tokens() -> dict[str, UserInfo]:
    return {
        demo_names.READER_TOKEN: user_for(demo_names.READER_USER),
        demo_names.ADMIN_TOKEN: user_for(demo_names.ADMIN_USER, ["system:masters"]),
    }


def tokens_from(spec: Mapping[str, Any] | None) -> dict[str, UserInfo]:
    """Accept {token: "user"}, {token: ("user", [groups])} or {token: UserInfo}; None -> demo tokens."""
    if spec is None:
        return default_tokens()
    tokens: dict[str, UserInfo] = {}
    for token, value in spec.items():
        if isinstance(value, UserInfo):
            tokens[token] = value
        elif isinstance(value, str):
            tokens[token] = user_for(value)
        else:
            name, groups = value
            tokens[token] = user_for(name, groups)
    return tokens


@dataclass(frozen=True)
class Attributes:
    """What a request wants to do, in the authorizer's terms."""

    verb: str
    resource_request: bool
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


# The bootstrap ClusterRoleBindings of every real cluster that reach ordinary users, with their roles' rules
# (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, v1.37): (binding = role name, group, rules).
_HEALTH_URLS = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
BOOTSTRAP_BINDINGS: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("system:discovery", "system:authenticated", [
        {"verbs": ["get"], "nonResourceURLs": [*_HEALTH_URLS, "/openapi", "/openapi/*", "/api", "/api/*",
                                               "/apis", "/apis/*"]},
    ]),
    ("system:basic-user", "system:authenticated", [
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    ]),
    ("system:public-info-viewer", "system:authenticated", [
        {"verbs": ["get"], "nonResourceURLs": _HEALTH_URLS},
    ]),
    ("system:service-account-issuer-discovery", "system:serviceaccounts", [
        {"verbs": ["get"], "nonResourceURLs": ["/.well-known/openid-configuration",
                                               "/.well-known/openid-configuration/",
                                               "/openid/v1/jwks", "/openid/v1/jwks/"]},
    ]),
    ("system:cluster-trust-bundle-discovery", "system:serviceaccounts", [
        {"verbs": ["get", "list", "watch"], "apiGroups": ["certificates.k8s.io"],
         "resources": ["clustertrustbundles"]},
    ]),
]


def _has(values: Iterable[str] | None, wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def resource_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    for rule_resource in rule.get("resources") or []:
        if rule_resource in ("*", attrs.combined_resource):
            return True
        if attrs.subresource and rule_resource == f"*/{attrs.subresource}":
            return True
    return False


def non_resource_url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if attrs.resource_request:
        if not rule.get("resources"):
            return False
        names = rule.get("resourceNames") or []
        return (
            _has(rule.get("apiGroups"), attrs.api_group)
            and resource_matches(rule, attrs)
            and (not names or attrs.name in names)
        )
    return non_resource_url_matches(rule, attrs.path)


def _subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("namespace") or binding_namespace}/{subject.get("name")}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


@dataclass(frozen=True)
class _Grant:
    """Rules one binding grants to its subjects, with where they apply ("" = cluster-wide)."""

    namespace: str
    subjects: tuple[Mapping[str, Any], ...]
    rules: tuple[Mapping[str, Any], ...]
    source: str  # for the allow reason, e.g. 'ClusterRoleBinding "x" of ClusterRole "y"'


class Authorizer:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cache_key: tuple[int, ...] = ()
        self._grants: list[_Grant] = []

    def _rbac_versions(self) -> tuple[int, ...]:
        return tuple(
            self._store.bucket_version((RBAC_GROUP, plural))
            for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
        )

    def _current_grants(self) -> list[_Grant]:
        """Bindings resolved to rules, rebuilt only when an RBAC object changed."""
        key = self._rbac_versions()
        with self._lock:
            if key == self._cache_key:
                return self._grants
            cluster_roles = {
                r["metadata"]["name"]: r for r in self._store.objects((RBAC_GROUP, "clusterroles"))
            }
            roles = {
                (r["metadata"]["namespace"], r["metadata"]["name"]): r
                for r in self._store.objects((RBAC_GROUP, "roles"))
            }
            grants = [
                _Grant("", ({"kind": "Group", "name": group},), tuple(rules),
                       f'ClusterRoleBinding "{name}" of ClusterRole "{name}"')
                for name, group, rules in BOOTSTRAP_BINDINGS
            ]
            for binding in self._store.objects((RBAC_GROUP, "clusterrolebindings")):
                ref = binding.get("roleRef") or {}
                role = cluster_roles.get(ref.get("name")) if ref.get("kind") == "ClusterRole" else None
                if role:
                    grants.append(
                        _Grant(
                            "",
                            tuple(binding.get("subjects") or []),
                            tuple(role.get("rules") or []),
                            f'ClusterRoleBinding "{binding["metadata"]["name"]}" of ClusterRole '
                            f'"{ref.get("name")}"',
                        )
                    )
            for binding in self._store.objects((RBAC_GROUP, "rolebindings")):
                namespace = binding["metadata"]["namespace"]
                ref = binding.get("roleRef") or {}
                if ref.get("kind") == "ClusterRole":
                    role = cluster_roles.get(ref.get("name"))
                else:
                    role = roles.get((namespace, ref.get("name")))
                if role:
                    grants.append(
                        _Grant(
                            namespace,
                            tuple(binding.get("subjects") or []),
                            tuple(role.get("rules") or []),
                            f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                            f'{ref.get("kind")} "{ref.get("name")}"',
                        )
                    )
            self._grants, self._cache_key = grants, key
            return grants

    def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason). A namespaced binding never grants cluster-wide or non-resource access."""
        if "system:masters" in user.groups:
            return True, ""
        for grant in self._current_grants():
            if grant.namespace and (not attrs.resource_request or grant.namespace != attrs.namespace):
                continue
            matching = [s for s in grant.subjects if _subject_matches(s, user, grant.namespace)]
            if not matching:
                continue
            if any(rule_allows(rule, attrs) for rule in grant.rules):
                return (
                    True,
                    f"RBAC: allowed by {grant.source} to {_describe_subject(matching[0], grant.namespace)}",
                )
        return False, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(resourceRules, nonResourceRules) as a SelfSubjectRulesReview reports them."""
        if "system:masters" in user.groups:
            return (
                [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            )
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        for grant in self._current_grants():
            if grant.namespace and grant.namespace != namespace:
                continue
            if not any(_subject_matches(s, user, grant.namespace) for s in grant.subjects):
                continue
            for rule in grant.rules:
                if rule.get("nonResourceURLs"):
                    if not grant.namespace:
                        non_resource_rules.append(
                            {
                                "verbs": list(rule.get("verbs") or []),
                                "nonResourceURLs": list(rule["nonResourceURLs"]),
                            }
                        )
                else:
                    converted: dict[str, Any] = {
                        "verbs": list(rule.get("verbs") or []),
                        "apiGroups": list(rule.get("apiGroups") or []),
                        "resources": list(rule.get("resources") or []),
                    }
                    if rule.get("resourceNames"):
                        converted["resourceNames"] = list(rule["resourceNames"])
                    resource_rules.append(converted)
        return resource_rules, non_resource_rules


def forbidden_message(user: UserInfo, attrs: Attributes, qualified_resource: str) -> str:
    """The exact wording of the real API server's 403 messages."""
    if not attrs.resource_request:
        return f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    reason = (
        f'User "{user.name}" cannot {attrs.verb} resource "{attrs.combined_resource}" in API group '
        f'"{attrs.api_group}" {scope}'
    )
    if attrs.name:
        return f'{qualified_resource} "{attrs.name}" is forbidden: {reason}'
    return f"{qualified_resource} is forbidden: {reason}"
