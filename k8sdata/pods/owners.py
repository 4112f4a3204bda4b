"""Naming a pod's workload when its request series do not: from the Kubernetes API, else from its name.

Request series always name their pod, but not always their application (a Prometheus Operator scrape
adds namespace and pod, never app). k8sdata.requests.red asks PromQL first (the app label,
app.kubernetes.io/name, kube-state-metrics' ownership); the pods left over are named here, in order:

1. owner references from the Kubernetes API (a ReplicaSet's pod belongs to its Deployment:
   k8sdata.pods.frames.owner_workload), when the cluster is reachable;
2. the pod's name: the Deployment, StatefulSet, DaemonSet and Job controllers name their pods
   <deployment>-<pod-template-hash>-<5 characters>, <statefulset>-<ordinal> and <owner>-<5 characters>,
   the random parts from Kubernetes' "safe" alphabet (k8s.io/apimachinery/pkg/util/rand), so stripping
   them is a good guess, and is shown as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from k8sdata.sources.kube import KubeClient

SOURCE_API = "owner references"
SOURCE_GUESS = "pod name (guess)"

#: (namespace, pod) pairs -> the workload the Kubernetes API names for those it knows.
OwnerLookup = Callable[[Sequence[tuple[str, str]]], Mapping[tuple[str, str], str]]

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # rand.String's alphabet: no vowels, no 0, 1 or 3
#: A pod-template-hash is a 32-bit hash written in that alphabet, one character per decimal digit, so
#: 6 to 10 characters but for one hash in 20,000; requiring 6 keeps `api-gw-7d9c8` a DaemonSet's pod.
_DEPLOYMENT_POD = re.compile(rf"(.+)-[{_SAFE}]{{6,10}}-[{_SAFE}]{{5}}")
_GENERATED_POD = re.compile(rf"(.+)-[{_SAFE}]{{5}}")
_STATEFUL_POD = re.compile(r"(.+)-\d+")


def guess_workload(pod: str) -> str | None:
    """The workload `pod`'s name suggests, or None when it has no controller's suffix."""
    for pattern in (_DEPLOYMENT_POD, _STATEFUL_POD, _GENERATED_POD):
        # A StatefulSet ordinal is checked before the 5-character suffix only when it is shorter: "web-24567"
        # is more likely a DaemonSet's pod than the 24,568th replica.
        match = pattern.fullmatch(pod)
        if match and not (pattern is _STATEFUL_POD and len(pod) - len(match.group(1)) == 6
                          and _GENERATED_POD.fullmatch(pod)):
            return match.group(1)
    return None


def name_workload(namespace: str, pod: str, known: Mapping[tuple[str, str], str]) -> tuple[str, str]:
    """(workload, source) for a pod PromQL could not name; ("", "") when nothing names it."""
    workload = known.get((namespace, pod))
    if workload:
        return workload, SOURCE_API
    guessed = guess_workload(pod)
    return (guessed, SOURCE_GUESS) if guessed else ("", "")


def lookup_from_pods(pods: pd.DataFrame) -> OwnerLookup:
    """An OwnerLookup over a pods frame (k8sdata.pods.frames: namespace, name, workload_kind, workload)."""
    def lookup(keys: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], str]:
        if pods.empty or not keys:
            return {}
        wanted = set(keys)
        return {(namespace, name): workload for namespace, name, workload in zip(
            pods["namespace"], pods["name"], pods["workload"], strict=True)
            if (namespace, name) in wanted and workload}
    return lookup


def lookup_from_kube(kube: KubeClient, namespace: str = "") -> OwnerLookup:
    """An OwnerLookup that lists pods (only when asked, only in `namespace` when one is set)."""
    def lookup(keys: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], str]:
        from k8sdata.pods.frames import owner_workload

        wanted = set(keys)
        if not wanted:
            return {}
        known = {}
        for pod in kube.list_pods(namespace or None, slim=True):
            key = (pod.metadata.namespace or "", pod.metadata.name or "")
            if key in wanted:
                known[key] = owner_workload(pod.metadata)[1]
        return known
    return lookup
