"""Issue 17: nulls read as the API server reads them, effective settings (automount from the
ServiceAccount, pull policy and requests as defaulted), secrets in env values (never echoed), and the
RBAC and network audits on manifests."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from k8sdata.cli import main as cli_main
from k8sdata.security.engine import builtin_checks, parse_manifests, scan_objects
from k8sdata.security.manifests import manifest_audits
from k8sdata.security.rbac import risk_checks
from k8sdata.security.sources import without_nulls

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKS = {check.id: check for check in builtin_checks()}


def scan(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return cli_main(["scan", *args], out=out, err=io.StringIO(), environ={}), out.getvalue()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "input.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------- nulls

def test_nulls_are_absent() -> None:
    assert without_nulls({"a": None, "b": {"c": None, "d": [None, 1, {"e": None}]}}) == {"b": {"d": [1, {}]}}
    (obj,) = parse_manifests("kind: Pod\nspec:\n  containers:\n  - name: c\n    resources:\n      limits:\n")
    assert obj["spec"]["containers"][0]["resources"] == {}


def test_every_schema_check_has_a_null_fixture() -> None:
    schema_checks = [check_id for check_id, check in CHECKS.items() if "schema" in check.rule]
    assert schema_checks
    for check_id in schema_checks:
        assert list((FIXTURES / check_id).glob("*null*.yaml")), f"{check_id}: no fixture with a null field"


def test_the_issue_case_empty_limits_and_requests(tmp_path: Path) -> None:
    path = write(tmp_path, "kind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers:\n"
                           "  - name: c\n    image: nginx:1.27.0\n    resources:\n"
                           "      limits:\n      requests:\n")
    ids = {finding["id"] for finding in json.loads(scan([str(path), "--format", "json"])[1])}
    assert {"memory-limit-missing", "cpu-limit-missing", "requests-missing"} <= ids


# ---------------------------------------------------------------------------------- effective values

POD = """kind: Pod
metadata: {name: p, namespace: team}
spec:
  serviceAccountName: app
  %s
  containers:
  - {name: c, image: "nginx:1.27.0"}
"""
ACCOUNT = ("---\nkind: ServiceAccount\nmetadata: {name: app, namespace: team}\n"
           "automountServiceAccountToken: %s\n")


@pytest.mark.parametrize(("pod_line", "account", "mounted"), [
    ("", ACCOUNT % "false", False),
    ("", ACCOUNT % "true", True),
    ("", "", True),  # the ServiceAccount is not in the input: its default applies
    ("automountServiceAccountToken: true", ACCOUNT % "false", True),
    ("automountServiceAccountToken: false", ACCOUNT % "true", False),
])
def test_automount_is_the_pods_else_its_service_accounts(pod_line: str, account: str, mounted: bool) -> None:
    objects = parse_manifests(POD % pod_line + account)
    result = scan_objects(objects, [CHECKS["service-account-token-automounted"]])
    assert bool(result.findings) == mounted


def test_automount_without_service_accounts_judges_only_pods_that_say() -> None:
    check = CHECKS["service-account-token-automounted"]
    unknown = scan_objects(parse_manifests(POD % ""), [check], service_accounts_known=False)
    assert not unknown.results  # no verdict from a list that could not be read
    said = scan_objects(parse_manifests(POD % "automountServiceAccountToken: true"), [check],
                        service_accounts_known=False)
    assert said.findings


@pytest.mark.parametrize(("container", "found"), [
    ({"name": "c", "image": "nginx"}, False),  # defaulted to Always
    ({"name": "c", "image": "nginx:1.27.0"}, False),  # defaulted to IfNotPresent, a version tag
    ({"name": "c", "image": "nginx:latest", "imagePullPolicy": "IfNotPresent"}, True),
    ({"name": "c", "image": "nginx:1.27.0", "imagePullPolicy": "Never"}, True),
])
def test_pull_policy_as_defaulted(container: dict, found: bool) -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}
    assert bool(scan_objects([pod], [CHECKS["image-pull-policy"]]).findings) == found


# ------------------------------------------------------------------------------------ secrets in values

SECRETS = {
    "KEY_MATERIAL": ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAplaceholder\n"
                     "-----END RSA PRIVATE KEY-----"),
    "UPSTREAM": "AKIAIOSFODNN7EXAMPLE",
    "HELPER": "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
    "CHAT": "xoxb-1234567890-abcdefghij",
    "SESSIONLESS": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
                    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    "DATABASE_URL": "postgres://app:pl41nt3xt@db:5432/app",
    "SIGNING_KEY": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "DB_PASSWORD": "hunter2",
}
PLAIN = {"CACHE_KEY": "users", "LOG_LEVEL": "debug", "DB_URL": "postgres://app:$(DB_PASSWORD)@db/app"}


def _secret_pod(tmp_path: Path) -> Path:
    env = [{"name": name, "value": value} for name, value in {**SECRETS, **PLAIN}.items()]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "leaky", "namespace": "team"},
           "spec": {"containers": [{"name": "app", "image": "nginx:1.27.0", "env": env}]}}
    return write(tmp_path, json.dumps(pod))


def test_secret_values_are_found_by_shape_and_never_echoed(tmp_path: Path) -> None:
    path = _secret_pod(tmp_path)
    outputs = {fmt: scan([str(path), "--format", fmt])[1] for fmt in ("json", "csv", "sarif", "table")}
    (finding,) = [f for f in json.loads(outputs["json"]) if f["id"] == "env-secret-literal"]
    for name in SECRETS:
        assert name in finding["message"]
    for name in PLAIN:
        assert name not in finding["message"]
    assert "a PEM private key" in finding["message"] and "a JSON Web Token" in finding["message"]
    rows = [row for row in csv.DictReader(io.StringIO(outputs["csv"])) if row["id"] == "env-secret-literal"]
    assert rows
    for value in SECRETS.values():
        for part in value.split("\n"):
            for fmt, text in outputs.items():
                assert part not in text, f"{fmt} echoes a secret value"
    # The records the page and the snapshot CSV draw come from the same Findings.
    objects = parse_manifests(path.read_text())
    for record in scan_objects(objects).findings:
        assert not any(value in json.dumps(record.record(with_exemption=True)) for value in SECRETS.values())


# ------------------------------------------------------------------------------ RBAC and network in manifests

RBAC_INPUT = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: debugger}
rules:
- apiGroups: [""]
  resources: [pods/exec, secrets]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: debuggers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: debugger}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: oncall}
"""


def test_rbac_in_manifests_the_issue_case(tmp_path: Path) -> None:
    code, out = scan([str(write(tmp_path, RBAC_INPUT)), "--format", "json", "--fail-on", "danger"])
    found = {(f["id"], f["kind"], f["name"]) for f in json.loads(out)}
    assert {("rbac-pod-exec", "ClusterRoleBinding", "debuggers"),
            ("rbac-secrets-read", "ClusterRoleBinding", "debuggers")} <= found
    assert code == 3


@pytest.mark.parametrize(("text", "risks"), [
    ("kind: ClusterRoleBinding\nmetadata: {name: ops}\nroleRef: {kind: ClusterRole, name: cluster-admin}\n"
     "subjects: [{kind: User, name: alice}]\n", {"rbac-cluster-admin"}),
    ("kind: Role\nmetadata: {name: r, namespace: team}\nrules:\n- {apiGroups: ['*'], resources: ['*'], "
     "verbs: ['*']}\n", {check.id for check in risk_checks()} - {"rbac-cluster-admin"}),
    ("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- {apiGroups: [rbac.authorization.k8s.io], "
     "resources: [clusterroles], verbs: [escalate, bind]}\n- {apiGroups: [''], resources: [users], "
     "verbs: [impersonate]}\n- {apiGroups: [''], resources: [nodes/proxy], verbs: [get]}\n"
     "- {apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}\n",
     {"rbac-escalate-bind-impersonate", "rbac-node-proxy", "rbac-token-create"}),
    # Built-ins are skipped as in the cluster audit (Polaris skips the same names).
    ("kind: ClusterRole\nmetadata: {name: 'system:thing'}\nrules:\n- {apiGroups: ['*'], resources: ['*'], "
     "verbs: ['*']}\n", set()),
    ("kind: ClusterRole\nmetadata: {name: admin}\nrules:\n- {apiGroups: [''], resources: [pods/attach], "
     "verbs: [create]}\n", set()),
])
def test_rbac_risks_in_manifests(text: str, risks: set[str]) -> None:
    assert {f.id for f in manifest_audits(parse_manifests(text)).findings} == risks


def test_unbound_role_is_judged_only_until_a_binding_in_the_input_carries_it() -> None:
    role = ("kind: Role\nmetadata: {name: r, namespace: team}\nrules:\n"
            "- {apiGroups: [''], resources: [pods/exec], verbs: [create]}\n")
    alone = manifest_audits(parse_manifests(role)).findings
    assert [(f.id, f.kind) for f in alone] == [("rbac-pod-exec", "Role")]
    bound = role + ("---\nkind: RoleBinding\nmetadata: {name: b, namespace: team}\n"
                    "roleRef: {kind: Role, name: r}\nsubjects: [{kind: User, name: bob}]\n")
    assert [(f.id, f.kind) for f in manifest_audits(parse_manifests(bound)).findings] == [
        ("rbac-pod-exec", "RoleBinding")]


NETWORK_INPUT = """kind: Namespace
metadata: {name: shop}
---
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27.0"}]}
---
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "nginx:1.27.0"}]}
---
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: api-egress, namespace: shop}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Egress]}
---
kind: Deployment
metadata: {name: worker, namespace: batch}
spec:
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: worker, image: "nginx:1.27.0"}]}
---
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, ports: [{port: 443}]}
---
kind: Ingress
metadata: {name: web, namespace: shop}
spec: {rules: [{host: shop.example.com}]}
"""


def test_network_checks_in_manifests() -> None:
    result = manifest_audits(parse_manifests(NETWORK_INPUT))
    found = {(f.id, f.kind, f.namespace, f.name) for f in result.findings}
    assert found == {
        # Selected, but by an egress-only policy: ingress is open.
        ("network-pod-not-selected", "Deployment", "shop", "api"),
        ("network-policy-missing", "Namespace", "batch", "batch"),
        ("network-service-exposed", "Service", "shop", "web"),
        ("network-ingress-no-tls", "Ingress", "shop", "web"),
    }


def test_a_lone_config_map_is_not_audited() -> None:
    assert not manifest_audits(parse_manifests("kind: ConfigMap\nmetadata: {name: c}\n")).results
