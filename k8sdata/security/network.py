"""Network exposure: pods no NetworkPolicy selects, Services reachable from outside, Ingress hosts
without TLS. Pure functions over API objects (dicts as KubeClient lists them); results are frames for
the page, and for the scan and the score the evaluations of the network checks (checks/network-*.yaml),
which the engine turns into Findings.

How NetworkPolicy selection works (kubernetes.io "Network Policies"): a policy applies to the pods of
its own namespace that its `podSelector` matches; the empty selector `{}` selects every pod there. A pod
no policy selects is "non-isolated": it accepts traffic from anywhere and may send it anywhere. A pod
with hostNetwork uses the node's network, which NetworkPolicy does not govern at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from k8sdata.security.engine import Evaluation, ScanResult, audit_result
from k8sdata.security.predicates import selector_matches

CATEGORY = "Network"
#: Namespaces of the control plane itself: their pods are the cluster's own, often hostNetwork.
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
EXPOSED_TYPES = ("LoadBalancer", "NodePort")

#: The ids of the checks this audit evaluates (each written in checks/<ID>.yaml).
NAMESPACE_UNPROTECTED = "network-policy-missing"
POD_UNPROTECTED = "network-pod-not-selected"
SERVICE_EXPOSED = "network-service-exposed"
INGRESS_NO_TLS = "network-ingress-no-tls"

#: The audit's name in the catalogue (`rule: {audit: network_scan}` in checks/network-*.yaml).
AUDIT = "network_scan"


def _meta(obj: Mapping[str, Any], key: str) -> Any:
    metadata = metadata_value if isinstance(metadata_value := obj.get("metadata"), Mapping) else {}
    return metadata.get(key)


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj, "name") or "")


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj, "namespace") or "")


def _policy_types(policy: Mapping[str, Any]) -> list[str]:
    """The directions a policy isolates: spec.policyTypes, or as the API defaults it (Ingress always,
    Egress when the policy has egress rules)."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return [str(t) for t in spec["policyTypes"]]
    return ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _is_finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


POD_COLUMNS = ["namespace", "pod", "policies", "ingress_isolated", "egress_isolated", "host_network",
               "system"]


def pod_isolation(pods: Sequence[Mapping[str, Any]], policies: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per running pod: the NetworkPolicies that select it and the directions they isolate.
    Finished pods (Succeeded/Failed) have no network and are left out."""
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for policy in policies:
        by_namespace.setdefault(_namespace(policy), []).append(policy)
    rows = []
    for pod in pods:
        if _is_finished(pod):
            continue
        namespace = _namespace(pod)
        labels = _meta(pod, "labels") or {}
        selecting = [p for p in by_namespace.get(namespace, [])
                     if selector_matches((p.get("spec") or {}).get("podSelector") or {}, labels)]
        types = {t for p in selecting for t in _policy_types(p)}
        rows.append({"namespace": namespace, "pod": _name(pod),
                     "policies": ", ".join(sorted(_name(p) for p in selecting)),
                     "ingress_isolated": "Ingress" in types, "egress_isolated": "Egress" in types,
                     "host_network": bool((pod.get("spec") or {}).get("hostNetwork")),
                     "system": namespace in SYSTEM_NAMESPACES})
    return pd.DataFrame(rows, columns=POD_COLUMNS).sort_values(["namespace", "pod"], ignore_index=True)


NAMESPACE_COLUMNS = ["namespace", "policies", "pods", "pods_not_selected", "system"]


def namespace_isolation(namespaces: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]],
                        policies: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per namespace: how many NetworkPolicies it has, its running pods, and how many of them
    no policy selects. `namespaces` are Namespace objects (or bare names)."""
    names = sorted({ns if isinstance(ns, str) else _name(ns) for ns in namespaces}
                   | {_namespace(p) for p in pods})
    isolation = pod_isolation(pods, policies)
    policy_counts = pd.Series([_namespace(p) for p in policies], dtype=object).value_counts()
    rows = []
    for name in names:
        mine = isolation[isolation["namespace"] == name]
        rows.append({"namespace": name, "policies": int(policy_counts.get(name, 0)), "pods": len(mine),
                     "pods_not_selected": int((mine["policies"] == "").sum()),
                     "system": name in SYSTEM_NAMESPACES})
    return pd.DataFrame(rows, columns=NAMESPACE_COLUMNS)


SERVICE_COLUMNS = ["namespace", "service", "type", "ports", "external", "source_ranges"]


def exposed_services(services: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Services of type LoadBalancer or NodePort (a LoadBalancer also opens a port on every node unless
    allocateLoadBalancerNodePorts is false), with their ports and external addresses."""
    rows = []
    for service in services:
        spec = service.get("spec") or {}
        if spec.get("type") not in EXPOSED_TYPES:
            continue
        ports = [f"{p.get('port')}" + (f"->node:{p['nodePort']}" if p.get("nodePort") else "")
                 + f"/{p.get('protocol') or 'TCP'}" for p in spec.get("ports") or []]
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external = [str(i.get("ip") or i.get("hostname")) for i in ingress]
        external += [str(ip) for ip in spec.get("externalIPs") or []]
        rows.append({"namespace": _namespace(service), "service": _name(service), "type": spec.get("type"),
                     "ports": ", ".join(ports), "external": ", ".join(external),
                     "source_ranges": ", ".join(spec.get("loadBalancerSourceRanges") or [])})
    frame = pd.DataFrame(rows, columns=SERVICE_COLUMNS)
    return frame.sort_values(["namespace", "service"], ignore_index=True)


def _tls_covers(tls_host: str, host: str) -> bool:
    if tls_host == host:
        return True
    # A wildcard certificate host covers exactly one more label: *.example.com covers a.example.com.
    return tls_host.startswith("*.") and "." in host and host.split(".", 1)[1] == tls_host[2:]


INGRESS_COLUMNS = ["namespace", "ingress", "host", "tls", "secret"]


def ingress_tls(ingresses: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per Ingress host (rules without a host are "*"): whether a spec.tls entry covers it.
    A tls entry without hosts covers the rules without a host (the controller's default server)."""
    rows = []
    for ingress in ingresses:
        spec = ingress.get("spec") or {}
        tls = [t for t in spec.get("tls") or [] if isinstance(t, Mapping)]
        hosts = list(dict.fromkeys(str(r.get("host") or "*") for r in spec.get("rules") or []
                                   if isinstance(r, Mapping)))
        if not hosts and spec.get("defaultBackend"):
            hosts = ["*"]
        for host in hosts:
            covering = [t for t in tls if (host == "*" and not t.get("hosts"))
                        or any(_tls_covers(str(h), host) for h in t.get("hosts") or [])]
            rows.append({"namespace": _namespace(ingress), "ingress": _name(ingress), "host": host,
                         "tls": bool(covering),
                         "secret": ", ".join(str(t.get("secretName") or "") for t in covering)})
    return pd.DataFrame(rows, columns=INGRESS_COLUMNS).sort_values(["namespace", "ingress", "host"],
                                                                   ignore_index=True)


def network_scan(namespaces: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]],
                 policies: Sequence[Mapping[str, Any]], services: Sequence[Mapping[str, Any]],
                 ingresses: Sequence[Mapping[str, Any]], *, include_system: bool = False) -> ScanResult:
    """Findings and score units. A namespace without any NetworkPolicy is one finding (not one per
    pod); in a namespace that has policies, each running pod none selects is one. hostNetwork pods are
    skipped (policies cannot govern them; the PSS host-namespaces check reports them). The system
    namespaces (kube-system, kube-public, kube-node-lease) are left out unless include_system."""
    evaluations: list[Evaluation] = []
    isolation = pod_isolation(pods, policies)
    # Manifest scans pass workloads' pod templates as pods: the finding names the object a person edits.
    kinds = {(_namespace(pod), _name(pod)): str(pod.get("kind") or "Pod") for pod in pods}
    for row in namespace_isolation(namespaces, pods, policies).itertuples():
        if row.system and not include_system:
            continue
        if row.policies > 0:
            evaluations.append(Evaluation(NAMESPACE_UNPROTECTED, "Namespace", row.namespace, row.namespace))
        else:
            evaluations.append(Evaluation(
                NAMESPACE_UNPROTECTED, "Namespace", row.namespace, row.namespace,
                f"Namespace {row.namespace} has no NetworkPolicy: "
                + (f"its {row.pods} running pod(s) accept" if row.pods else "any pod started there accepts")
                + " traffic from every pod in the cluster and may connect anywhere."))
            continue
        for pod in isolation[(isolation["namespace"] == row.namespace) & ~isolation["host_network"]
                             ].itertuples():
            # Isolated means ingress isolated: a policy whose policyTypes leave Ingress out selects the pod
            # and still lets anything in. Egress isolation is shown on the page, not required.
            kind = kinds.get((row.namespace, pod.pod), "Pod")
            who = f"Pod {pod.pod}" if kind == "Pod" else f"The pods of {kind} {pod.pod}"
            failure = None
            if not pod.ingress_isolated and pod.policies:
                failure = (f"{who} {'is' if kind == 'Pod' else 'are'} selected only by NetworkPolicies "
                           f"that do not isolate ingress ({pod.policies}: policyTypes without Ingress), so "
                           "anything may connect.")
            elif not pod.ingress_isolated:
                failure = (f"{who} match{'es' if kind == 'Pod' else ''} none of the namespace's "
                           f"{row.policies} NetworkPolicies, so {'it is' if kind == 'Pod' else 'they are'} "
                           "not isolated.")
            evaluations.append(Evaluation(POD_UNPROTECTED, kind, row.namespace, pod.pod, failure))
    exposed = exposed_services(services)
    for service in services:
        namespace, name = _namespace(service), _name(service)
        if namespace in SYSTEM_NAMESPACES and not include_system:
            continue
        match = exposed[(exposed["namespace"] == namespace) & (exposed["service"] == name)]
        failure = None
        if not match.empty:
            found = match.iloc[0]
            failure = (f"Service {name} is of type {found['type']} (ports {found['ports']})"
                       + (f", reachable at {found['external']}" if found["external"] else "")
                       + ": it is reachable from outside the cluster.")
        evaluations.append(Evaluation(SERVICE_EXPOSED, "Service", namespace, name, failure))
    tls = ingress_tls(ingresses)
    for (namespace, name), hosts in tls.groupby(["namespace", "ingress"], sort=True):
        plain = sorted(hosts.loc[~hosts["tls"], "host"])
        evaluations.append(Evaluation(
            INGRESS_NO_TLS, "Ingress", namespace, name,
            f"Ingress {name} serves {', '.join(plain)} over plain HTTP (no spec.tls entry covers "
            f"{'it' if len(plain) == 1 else 'them'})." if plain else None))
    return audit_result(AUDIT, evaluations)
