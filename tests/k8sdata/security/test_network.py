"""Network exposure: NetworkPolicy selection (empty selector, matchLabels, matchExpressions, other
namespaces, hostNetwork, finished pods), exposed Services, Ingress TLS per host."""

from __future__ import annotations

from typing import Any

import pytest

from k8sdata.security.network import (
    INGRESS_NO_TLS,
    NAMESPACE_UNPROTECTED,
    POD_UNPROTECTED,
    SERVICE_EXPOSED,
    exposed_services,
    ingress_tls,
    namespace_isolation,
    network_scan,
    pod_isolation,
)


def ns(name: str) -> dict:
    return {"kind": "Namespace", "metadata": {"name": name}}


def pod(namespace: str, name: str, labels: dict | None = None, *, host_network: bool = False,
        phase: str = "Running") -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"hostNetwork": host_network}, "status": {"phase": phase}}


def policy(namespace: str, name: str, selector: dict, **spec: Any) -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": selector, **spec}}


def selected(pods: list[dict], policies: list[dict]) -> dict[str, str]:
    frame = pod_isolation(pods, policies)
    return dict(zip(frame["pod"], frame["policies"], strict=True))


def test_empty_selector_selects_every_pod_of_its_namespace_only() -> None:
    pods = [pod("a", "one", {"app": "x"}), pod("a", "two"), pod("b", "three", {"app": "x"})]
    expected = {"one": "deny-all", "two": "deny-all", "three": ""}
    assert selected(pods, [policy("a", "deny-all", {})]) == expected


@pytest.mark.parametrize(("selector", "expected"), [
    ({"matchLabels": {"app": "web"}}, {"web", "web-canary"}),
    ({"matchLabels": {"app": "web", "track": "canary"}}, {"web-canary"}),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
     {"web", "web-canary", "api"}),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {"api", "bare"}),
    ({"matchExpressions": [{"key": "track", "operator": "Exists"}]}, {"web-canary"}),
    ({"matchExpressions": [{"key": "track", "operator": "DoesNotExist"}]}, {"web", "api", "bare"}),
    ({"matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}]}, {"web"}),
])
def test_selector_forms(selector: dict, expected: set[str]) -> None:
    pods = [pod("a", "web", {"app": "web"}), pod("a", "web-canary", {"app": "web", "track": "canary"}),
            pod("a", "api", {"app": "api"}), pod("a", "bare")]
    found = selected(pods, [policy("a", "p", selector)])
    assert {name for name, policies in found.items() if policies} == expected


def test_policy_types_default_and_explicit() -> None:
    pods = [pod("a", "x")]
    frame = pod_isolation(pods, [policy("a", "in", {})])
    assert frame["ingress_isolated"].item() and not frame["egress_isolated"].item()
    frame = pod_isolation(pods, [policy("a", "out", {}, egress=[{"to": []}])])
    assert frame["egress_isolated"].item()  # egress rules imply Egress when policyTypes is absent
    frame = pod_isolation(pods, [policy("a", "out", {}, policyTypes=["Egress"])])
    assert frame["egress_isolated"].item() and not frame["ingress_isolated"].item()


def test_scan_namespaces_pods_hostnetwork_finished_and_system() -> None:
    namespaces = [ns("open"), ns("partial"), ns("empty"), ns("kube-system"), ns("closed")]
    pods = [pod("open", "a"), pod("partial", "covered", {"app": "web"}), pod("partial", "loose"),
            pod("partial", "node-agent", host_network=True), pod("partial", "done", phase="Succeeded"),
            pod("kube-system", "coredns"), pod("closed", "b")]
    policies = [policy("partial", "web-only", {"matchLabels": {"app": "web"}}),
                policy("closed", "deny", {})]
    frame = namespace_isolation(namespaces, pods, policies)
    assert frame.set_index("namespace").loc["partial", "pods_not_selected"] == 2  # loose + node-agent
    result = network_scan(namespaces, pods, policies, [], [])
    found = {(f.id, f.namespace, f.name) for f in result.findings}
    assert found == {(NAMESPACE_UNPROTECTED, "open", "open"), (NAMESPACE_UNPROTECTED, "empty", "empty"),
                     (POD_UNPROTECTED, "partial", "loose")}
    assert "any pod started there" in next(f.message for f in result.findings if f.name == "empty")
    with_system = network_scan(namespaces, pods, policies, [], [], include_system=True)
    assert (NAMESPACE_UNPROTECTED, "kube-system", "kube-system") in {
        (f.id, f.namespace, f.name) for f in with_system.findings}
    passed = {(r.check_id, r.name) for r in result.results if r.passed}
    assert (NAMESPACE_UNPROTECTED, "closed") in passed and (POD_UNPROTECTED, "covered") in passed


def service(namespace: str, name: str, kind: str, **extra: Any) -> dict:
    spec = {"type": kind, "ports": [{"port": 443, "protocol": "TCP", **extra.pop("port", {})}], **extra}
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}
                       if kind == "LoadBalancer" else {}}}


def test_exposed_services() -> None:
    services = [service("a", "internal", "ClusterIP"),
                service("a", "np", "NodePort", port={"nodePort": 30443}),
                service("a", "lb", "LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/8"]),
                service("a", "dns", "ExternalName")]
    frame = exposed_services(services)
    assert list(frame["service"]) == ["lb", "np"]
    lb = frame.set_index("service").loc["lb"]
    assert lb["external"] == "203.0.113.7" and lb["source_ranges"] == "10.0.0.0/8"
    assert "node:30443" in frame.set_index("service").loc["np", "ports"]
    result = network_scan([], [], [], services, [])
    assert {f.name for f in result.findings if f.id == SERVICE_EXPOSED} == {"lb", "np"}
    assert sum(r.check_id == SERVICE_EXPOSED for r in result.results) == 4


def ingress(name: str, hosts: list[str | None], tls: list[dict] | None = None) -> dict:
    rules = [{"host": host} if host else {} for host in hosts]
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": "web"},
            "spec": {"rules": rules, **({"tls": tls} if tls is not None else {})}}


def test_ingress_tls_per_host() -> None:
    ingresses = [
        ingress("plain", ["a.example.com"]),
        ingress("full", ["a.example.com", "b.example.com"],
                [{"hosts": ["a.example.com", "b.example.com"], "secretName": "ab"}]),
        ingress("half", ["a.example.com", "b.example.com"],
                [{"hosts": ["a.example.com"], "secretName": "a"}]),
        ingress("wild", ["shop.example.com", "deep.shop.example.com"],
                [{"hosts": ["*.example.com"], "secretName": "w"}]),
        ingress("catch-all", [None], [{"secretName": "default"}]),
        ingress("catch-all-plain", [None], [{"hosts": ["x.example.com"]}]),
    ]
    frame = ingress_tls(ingresses)
    covered = {(row.ingress, row.host): row.tls for row in frame.itertuples()}
    assert covered == {
        ("plain", "a.example.com"): False, ("full", "a.example.com"): True, ("full", "b.example.com"): True,
        ("half", "a.example.com"): True, ("half", "b.example.com"): False,
        ("wild", "shop.example.com"): True, ("wild", "deep.shop.example.com"): False,  # one label only
        ("catch-all", "*"): True, ("catch-all-plain", "*"): False,
    }
    result = network_scan([], [], [], [], ingresses)
    messages = {f.name: f.message for f in result.findings if f.id == INGRESS_NO_TLS}
    assert set(messages) == {"plain", "half", "wild", "catch-all-plain"}
    assert "b.example.com" in messages["half"] and "a.example.com" not in messages["half"]
