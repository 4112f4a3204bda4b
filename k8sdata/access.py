"""Who may see what: the access policy (a YAML file, KAMS_ACCESS_POLICY) and the decision it gives.

    # Rules are tried in order; the first whose emails, domains or groups match decides.
    rules:
      - emails: [ada@example.com]
        role: engineer                 # every page
      - groups: [payments-team]
        role: engineer
        namespaces: [payments, shop]   # only these namespaces' data
      - domains: [example.com]
        role: viewer                   # the health page only

Anyone no rule matches is refused. Emails and domains are compared without regard to case; groups
exactly (identity providers and proxies spell them as they were created). A malformed file, a key this
format does not know, or an unknown role stops start-up with a sentence naming the file and the line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

Role = Literal["viewer", "engineer"]
ROLES: tuple[Role, ...] = ("viewer", "engineer")
_RULE_KEYS = frozenset({"emails", "domains", "groups", "role", "namespaces"})
_MATCHERS = ("emails", "domains", "groups")


class PolicyError(ValueError):
    """The access policy cannot be used; str() is the sentence to show, naming the file and line."""


@dataclass(frozen=True)
class Identity:
    """The signed-in person, as the identity provider or the trusted proxy names them."""

    email: str
    groups: tuple[str, ...] = ()
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower() if "@" in self.email else ""


@dataclass(frozen=True)
class Access:
    """What one person may see. namespaces None = every namespace."""

    role: Role
    namespaces: frozenset[str] | None = None

    @property
    def engineer(self) -> bool:
        return self.role == "engineer"


#: Everything, for a deployment with no sign-in on loopback (the demo, `make run` on a laptop).
LOCAL_ACCESS = Access("engineer")


@dataclass(frozen=True)
class Rule:
    emails: frozenset[str]
    domains: frozenset[str]
    groups: frozenset[str]
    access: Access
    line: int  # where the rule starts in its file, 1-based

    def matches(self, identity: Identity) -> bool:
        return (identity.email.lower() in self.emails or identity.domain in self.domains
                or not self.groups.isdisjoint(identity.groups))


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    source: str = ""

    def decide(self, identity: Identity) -> Access | None:
        """The first matching rule's access; None (refused) when no rule matches or the person has no
        email and no group to match."""
        if not identity.email and not identity.groups:
            return None
        return next((rule.access for rule in self.rules if rule.matches(identity)), None)


def _where(source: str, node: yaml.Node) -> str:
    return f"{source}, line {node.start_mark.line + 1}"


def _strings(source: str, key: str, node: yaml.Node) -> list[str]:
    if not isinstance(node, yaml.SequenceNode) or not all(
            isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str" and item.value.strip()
            for item in node.value):
        raise PolicyError(f"{_where(source, node)}: `{key}` must be a list of names, like [a, b].")
    return [item.value.strip() for item in node.value]


def _rule(source: str, node: yaml.Node) -> Rule:
    if not isinstance(node, yaml.MappingNode):
        raise PolicyError(f"{_where(source, node)}: each rule is a mapping (emails, domains, groups, role, "
                          "namespaces).")
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        if key not in _RULE_KEYS:
            raise PolicyError(f"{_where(source, key_node)}: unknown key {key!r} in a rule; the keys are "
                              f"{', '.join(sorted(_RULE_KEYS))}.")
        if key in fields:
            raise PolicyError(f"{_where(source, key_node)}: {key!r} is given twice in one rule.")
        fields[key] = value_node
    role_node = fields.get("role")
    if role_node is None:
        raise PolicyError(f"{_where(source, node)}: the rule has no role (viewer or engineer).")
    role = role_node.value if isinstance(role_node, yaml.ScalarNode) else None
    if role not in ROLES:
        raise PolicyError(f"{_where(source, role_node)}: unknown role {role!r}; the roles are viewer and "
                          "engineer.")
    matchers = {key: _strings(source, key, fields[key]) for key in _MATCHERS if key in fields}
    if not any(matchers.values()):
        raise PolicyError(f"{_where(source, node)}: the rule matches nobody; give emails, domains or "
                          "groups.")
    namespaces = _strings(source, "namespaces", fields["namespaces"]) if "namespaces" in fields else None
    if namespaces == []:
        raise PolicyError(f"{_where(source, fields['namespaces'])}: an empty namespaces list would show "
                          "nothing; leave it out for every namespace.")
    return Rule(emails=frozenset(email.lower() for email in matchers.get("emails", [])),
                domains=frozenset(domain.lower().lstrip("@") for domain in matchers.get("domains", [])),
                groups=frozenset(matchers.get("groups", [])),
                access=Access(role, frozenset(namespaces) if namespaces is not None else None),
                line=node.start_mark.line + 1)


def parse_policy(text: str, source: str = "the access policy") -> Policy:
    """The policy in `text`. Raises PolicyError with the file (`source`) and line of the first problem."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not YAML"
        raise PolicyError(f"{source}{line}: {problem}.") from None
    if root is None:
        raise PolicyError(f"{source}: the file is empty; it needs a `rules:` list.")
    rules_node = None
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "rules":
                rules_node = value_node
            else:
                key = getattr(key_node, "value", "")
                raise PolicyError(f"{_where(source, key_node)}: unknown key {key!r}; the policy has one key, "
                                  "rules.")
    if not isinstance(rules_node, yaml.SequenceNode):
        where = _where(source, rules_node) if rules_node is not None else _where(source, root)
        raise PolicyError(f"{where}: the policy needs a `rules:` list.")
    return Policy(tuple(_rule(source, node) for node in rules_node.value), source)


def load_policy(path: str | Path) -> Policy:
    """The policy file at `path`. Raises PolicyError (a missing or unreadable file too)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: cannot read the access policy ({error.__class__.__name__}: "
                          f"{getattr(error, 'strerror', None) or error}).") from None
    return parse_policy(text, str(path))


def groups_from_header(value: str | None) -> tuple[str, ...]:
    """oauth2-proxy's X-Auth-Request-Groups: comma-separated group names."""
    return tuple(group.strip() for group in (value or "").split(",") if group.strip())


def groups_from_claims(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The `groups` claim of an ID token: a list of names, or one comma-separated string."""
    raw = claims.get("groups")
    if isinstance(raw, str):
        return groups_from_header(raw)
    if isinstance(raw, Iterable):
        return tuple(str(group) for group in raw if str(group).strip())
    return ()


# -- the namespaces this thread may read: enforced where data is fetched --------------------------------
#: Set by the website for each run of a scoped person's session (ui/auth.py); read by k8sdata.sources.kube and
#: k8sdata.sources.prom before every request. A ContextVar: each session's script runs in its own thread, and
#: a worker thread inherits it only when started with the caller's context (k8sdata.logs.containers does).
_SCOPE: ContextVar[frozenset[str] | None] = ContextVar("kams_access_scope", default=None)

#: Paths that describe the API, not the cluster's objects: open to everyone signed in.
_DISCOVERY_PATH = re.compile(r"^/(?:version|api|apis|api/v1|apis/[^/]+|apis/[^/]+/[^/]+)/?$")
_NAMESPACED_PATH = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)/namespaces/([^/?]+)(?:/|$)")
#: A label matcher on a namespace label (`namespace`, `exported_namespace`,
#: `destination_workload_namespace`, ...), bare or quoted, and its value.
_NAMESPACE_MATCHER = re.compile(
    r'(?:^|[{,\s])(?:"[^"]*namespace"|(?:[A-Za-z_][A-Za-z0-9_]*)?namespace)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def set_scope(namespaces: frozenset[str] | None) -> None:
    """The namespaces this thread's requests may read from now on (None = every namespace)."""
    _SCOPE.set(namespaces)


def current_scope() -> frozenset[str] | None:
    return _SCOPE.get()


@contextlib.contextmanager
def scoped(namespaces: frozenset[str] | None) -> Iterator[None]:
    token = _SCOPE.set(namespaces)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _scope_words(scope: frozenset[str]) -> str:
    return ", ".join(sorted(scope)) or "none"


def api_path_refusal(path: str) -> str | None:
    """Why this thread may not GET `path` from the Kubernetes API (None: it may)."""
    scope = _SCOPE.get()
    if scope is None:
        return None
    bare = path.split("?", 1)[0]
    if _DISCOVERY_PATH.match(bare):
        return None
    namespaced = _NAMESPACED_PATH.match(bare)
    if namespaced and namespaced.group(1) in scope:
        return None
    return (f"Your access is limited to the namespaces {_scope_words(scope)}, so KAMS does not read "
            f"{'another namespace' if namespaced else 'cluster-wide objects'} for you.")


def _selectors(query: str) -> Iterator[str]:
    """The bodies of the label-matcher braces of a PromQL query (braces inside strings are text)."""
    depth, start, quote, escaped = 0, 0, "", False
    for index, char in enumerate(query):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth, start = depth + 1, index + 1
        elif char == "}" and depth:
            depth -= 1
            yield query[start:index]


def promql_refusal(query: str) -> str | None:
    """Why this thread may not send `query` (None: it may). Scoped, every series selector must hold a
    namespace label equal to an allowed namespace, and none may match namespaces any other way."""
    scope = _SCOPE.get()
    if scope is None:
        return None
    refusal = (f"Your access is limited to the namespaces {_scope_words(scope)}, so KAMS does not ask "
               "Prometheus about other namespaces for you.")
    selectors = list(_selectors(query))
    if not selectors:
        return refusal
    for selector in selectors:
        matchers = _NAMESPACE_MATCHER.findall(selector)
        if not matchers or any(op != "=" or value not in scope for op, value in matchers):
            return refusal
    return None
