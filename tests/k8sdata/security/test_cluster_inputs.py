"""The security inputs loader and the RBAC/network/version audits against the stand-in API server with
the demo cluster (session fixture `kube_api`): a fixed number of requests, the demo's over-privileged
binding and open namespaces found, KAMS's own ServiceAccount read-only, its SelfSubjectRulesReview equal
to deploy/k8s's ClusterRole, and a failing list shown as one section's sentence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, SourceError
from k8sdata.security.cluster import LISTS, SecurityInputs, collect_security_inputs, security_scan
from k8sdata.security.rbac import SELF_REVIEWS, own_permissions, own_verdict, who_can
from k8sdata.sources.kube import KubeClient
from sandbox import demo_names

ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 1, 1)


def client_for(kubeconfig: Path) -> KubeClient:
    return KubeClient(Settings.from_env({"KUBECONFIG": str(kubeconfig), "KAMS_REQUEST_TIMEOUT": "5"}))


@pytest.fixture
def reader(kube_api: Any) -> Iterator[KubeClient]:
    client = client_for(kube_api.reader_kubeconfig)
    yield client
    client.close()


@pytest.fixture
def demo_inputs(kube_api: Any, reader: KubeClient) -> SecurityInputs:
    return collect_security_inputs(reader, own_namespace=demo_names.KAMS_NAMESPACE)


def test_fixed_number_of_requests_and_never_secrets(kube_api: Any, reader: KubeClient) -> None:
    before = len(kube_api.server.request_log)
    inputs = collect_security_inputs(reader, own_namespace=demo_names.KAMS_NAMESPACE)
    requests = kube_api.server.request_log[before:]
    assert len(requests) == len(LISTS) + 2  # ten lists, /version, one SelfSubjectRulesReview
    assert not any("secrets" in record.path for record in requests)
    assert inputs.sentences() == {}
    assert all(item["kind"] == "Pod" for item in inputs.pods) and inputs.version["gitVersion"]


def test_demo_over_privileged_binding_and_open_namespaces_are_found(demo_inputs: SecurityInputs) -> None:
    result = security_scan(demo_inputs, TODAY)
    namespace, name = demo_names.OVERPRIVILEGED_ROLEBINDING
    assert ("rbac-cluster-admin", "RoleBinding", namespace, name) in {
        (f.id, f.kind, f.namespace, f.name) for f in result.findings}
    open_namespaces = {f.namespace for f in result.findings if f.id == "network-policy-missing"}
    assert open_namespaces == set(demo_names.NAMESPACES_WITHOUT_NETWORK_POLICIES)
    assert not open_namespaces & set(demo_names.NAMESPACES_WITH_NETWORK_POLICIES)
    # The demo's v1.30 API server is past its end of life (2025-07-15) on the demo's anchor date.
    assert any(f.id == "k8s-version-eol" and f.severity == "danger" for f in result.findings)
    # The bootstrap cluster-admin binding to system:masters is built in: no finding, but in who-can.
    assert "cluster-admin" not in {f.name for f in result.findings}
    frame = who_can(demo_inputs.rbac_objects())
    masters = frame[frame["subject_name"] == "system:masters"]
    assert not masters.empty and masters["built_in"].all()


def test_kams_service_account_is_read_only(demo_inputs: SecurityInputs) -> None:
    verdict = own_verdict(demo_inputs.own_review, demo_names.KAMS_NAMESPACE)
    assert verdict.read_only, verdict.sentence
    frame = who_can(demo_inputs.rbac_objects())
    kams = frame[(frame["subject_kind"] == "ServiceAccount") & (frame["subject_name"] == "kams")
                 & (frame["subject_namespace"] == demo_names.KAMS_NAMESPACE)]
    assert kams.empty, kams  # no risky grant reaches KAMS's ServiceAccount


def _triples(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups") or []
            for resource in rule.get("resources") or [] for verb in rule.get("verbs") or []}


def test_reader_rules_review_matches_the_deployed_cluster_role(demo_inputs: SecurityInputs) -> None:
    deployed = yaml.safe_load((ROOT / "deploy" / "k8s" / "clusterrole.yaml").read_text(encoding="utf-8"))
    # What every real cluster grants every ServiceAccount besides: the self reviews, ClusterTrustBundles.
    built_in = SELF_REVIEWS | {"clustertrustbundles"}
    review_rules = [rule for rule in demo_inputs.own_review["status"]["resourceRules"]
                    if not set(rule.get("resources") or []) <= built_in]
    assert _triples(review_rules) == _triples(deployed["rules"])
    permissions = own_permissions(demo_inputs.own_review)
    assert permissions["read_only"].all() and not permissions["resources"].str.contains("secrets").any()


def test_admin_token_is_not_read_only(kube_api: Any) -> None:
    admin = client_for(kube_api.admin_kubeconfig)
    try:
        verdict = own_verdict(admin.self_rules("default"))
    finally:
        admin.close()
    assert not verdict.read_only and "NOT read-only" in verdict.sentence


def test_a_forbidden_list_is_one_sections_sentence(kube_faults: Any, reader: KubeClient) -> None:
    kube_faults.set_fault(r"/networkpolicies", "forbidden")
    inputs = collect_security_inputs(reader)
    assert isinstance(inputs.network_policies, Forbidden)
    assert set(inputs.sentences()) == {"network"}
    assert inputs.own_review is None  # not asked for
    result = security_scan(inputs, TODAY)
    assert any(s.startswith("Network exposure was not checked") for s in result.skipped)
    assert not any(f.category == "Network" for f in result.findings)
    assert any(f.id == "rbac-cluster-admin" for f in result.findings)  # other sections still judged


def test_unreachable_server_keeps_every_error(make_api_server: Any, tmp_path: Path) -> None:
    server = make_api_server()
    kubeconfig = server.write_kubeconfig(tmp_path / "r", demo_names.READER_TOKEN)
    server.stop()
    client = client_for(kubeconfig)
    try:
        inputs = collect_security_inputs(client, own_namespace="kams")
    finally:
        client.close()
    assert all(isinstance(getattr(inputs, name), SourceError) for name in LISTS)
    assert isinstance(inputs.own_review, SourceError) and set(inputs.sentences()) == {
        "rbac", "network", "versions", "own"}
    assert security_scan(inputs, TODAY).findings == []
