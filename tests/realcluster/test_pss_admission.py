"""KAMS's Pod Security Standards verdicts agree with the real PodSecurity admission of kube-apiserver.

Every pod is created with dryRun=All in namespaces labelled `enforce=baseline` and `enforce=restricted`: the
admission must reject it exactly when KAMS's checks of that level find a violation. The pods are the
upstream test tables of k8s.io/pod-security-admission (test/testdata/<level>/<version>/{pass,fail}, from
the Go module cache the kube-apiserver build filled, at the server's own version) and the pod templates of
KAMS's own check fixtures (tests/k8sdata/security/fixtures/pss-*).
"""

from __future__ import annotations

import copy
import itertools
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from k8sdata.security.engine import PSS_LEVELS, builtin_checks, parse_manifests, scan_objects
from sandbox import realservers
from sandbox.realcluster import ApiError, RealCluster

OWN_FIXTURES = Path(__file__).resolve().parent.parent / "k8sdata" / "security" / "fixtures"
#: KAMS fixtures that no real cluster can hold, and why they stay (they still matter for manifest scans).
NOT_CREATABLE = {
    "kams pss-proc-mount-baseline/fail.yaml#0":
        "procMount Unmasked without hostUsers: false. The API server refuses it, and with hostUsers: false "
        "baseline allows it (since 1.35), so only a manifest scan or an older cluster can show this failure",
}
_attempts = itertools.count(1)


def upstream_testdata() -> Path:
    """k8s.io/pod-security-admission's test/testdata at the staging version of the built kube-apiserver."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is needed to find the pod-security-admission module (the real-server build uses it)")
    staging = "v0" + realservers.version("kube-apiserver").removeprefix("v1")
    found = subprocess.run([go, "mod", "download", "-json", f"k8s.io/pod-security-admission@{staging}"],
                           capture_output=True, text=True, timeout=300, check=True, cwd="/")
    return Path(json.loads(found.stdout)["Dir"]) / "test" / "testdata"


def minor_version(cluster: RealCluster) -> str:
    major, minor = cluster.version.removeprefix("v").split(".")[:2]
    return f"v{major}.{minor}"


def pod_of(document: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The pod a document makes: itself, or a workload's pod template as a Pod."""
    if document.get("kind") == "Pod":
        pod = copy.deepcopy(dict(document))
    else:
        spec = document.get("spec") or {}
        template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") or spec.get("template")
        if not template:
            return None
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": copy.deepcopy(template.get("metadata") or {}),
               "spec": copy.deepcopy(template["spec"])}
    pod["metadata"] = {"name": name, "labels": pod["metadata"].get("labels") or {},
                       "annotations": pod["metadata"].get("annotations") or {}}
    # The ServiceAccount admission would refuse a pod naming an account that does not exist.
    pod["spec"].pop("serviceAccountName", None)
    pod["spec"].pop("serviceAccount", None)
    return pod


def upstream_pods(root: Path, version: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for level in PSS_LEVELS:
        for outcome in ("pass", "fail"):
            for path in sorted((root / level / version / outcome).glob("*.yaml")):
                for document in parse_manifests(path.read_text(encoding="utf-8")):
                    pod = pod_of(document, f"{level[0]}{outcome}-{path.stem}".replace("_", "-"))
                    if pod is not None:
                        yield f"upstream {level}/{version}/{outcome}/{path.name}", pod


def own_pods() -> Iterator[tuple[str, dict[str, Any]]]:
    for index, path in enumerate(sorted(OWN_FIXTURES.glob("pss-*/*.yaml"))):
        for position, document in enumerate(parse_manifests(path.read_text(encoding="utf-8"))):
            pod = pod_of(document, f"own-{index}-{position}")
            if pod is not None:
                yield f"kams {path.parent.name}/{path.name}#{position}", pod


def kams_violates(pod: Mapping[str, Any], level: str) -> bool:
    levels = {"baseline"} if level == "baseline" else {"baseline", "restricted"}
    checks = [check for check in builtin_checks() if check.pss in levels]
    return bool(scan_objects([pod], checks).findings)


def admission_rejects(cluster: RealCluster, namespace: str, pod: Mapping[str, Any]) -> bool:
    body = copy.deepcopy({**pod, "metadata": {**pod["metadata"], "namespace": namespace}})
    ephemeral = body["spec"].pop("ephemeralContainers", None)
    try:
        if not ephemeral:
            cluster.admin.create(body, dry_run=True)
            return False
        # Ephemeral containers cannot be set on create: `kubectl debug` adds them to a running pod through
        # the ephemeralcontainers subresource, which PodSecurity checks too. So: a real pod, then that update.
        body["metadata"]["name"] += f"-{next(_attempts)}"
        created = cluster.admin.create(body)
        created["spec"]["ephemeralContainers"] = ephemeral
        path = cluster.admin.path_of(created) + "/ephemeralcontainers?dryRun=All"
        cluster.admin.request("PUT", path, created)
    except ApiError as error:
        if error.status == 403 and "violates PodSecurity" in str(error.body.get("message")):
            return True
        raise
    return False


def invalid_reason(cluster: RealCluster, namespace: str, pod: Mapping[str, Any]) -> str | None:
    """Why the server refuses the pod before any admission plugin sees it (422), or None.

    The API server validates a pod before its validating admission runs, so a pod it finds invalid never
    reaches PodSecurity. PSA's own tables test the policy library alone and hold a few such pods."""
    try:
        admission_rejects(cluster, namespace, pod)
    except ApiError as error:
        if error.status == 422:
            return str(error.body.get("message"))
        raise
    return None


@pytest.fixture(scope="module")
def enforcing_namespaces(real_cluster: RealCluster, real_namespace: Callable[..., str]) -> dict[str, str]:
    namespaces = {level: real_namespace(f"pss-{level}", {
        "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "latest"})
        for level in PSS_LEVELS}
    namespaces["privileged"] = real_namespace("pss-privileged")
    return namespaces


def disagreements(cluster: RealCluster, namespaces: Mapping[str, str],
                  pods: list[tuple[str, dict[str, Any]]]) -> list[str]:
    wrong = []
    for source, pod in pods:
        if invalid_reason(cluster, namespaces["privileged"], pod):
            continue
        for level in PSS_LEVELS:
            kams, admission = kams_violates(pod, level), admission_rejects(cluster, namespaces[level], pod)
            if kams != admission:
                wrong.append(f"{source} at {level}: KAMS says {'violates' if kams else 'allowed'}, "
                             f"the admission {'rejects' if admission else 'admits'}")
    return wrong


def test_upstream_testdata_verdicts_match_the_admission(real_cluster: RealCluster,
                                                        enforcing_namespaces: dict[str, str]) -> None:
    pods = list(upstream_pods(upstream_testdata(), minor_version(real_cluster)))
    assert len(pods) > 100, f"expected the full upstream table, found {len(pods)} pods"
    assert disagreements(real_cluster, enforcing_namespaces, pods) == []
    # Each table also says its own verdict (its pass/ or fail/ folder, at its level): KAMS agrees with it
    # for every pod, including those the API server would refuse outright.
    mislabelled = [source for source, pod in pods
                   if kams_violates(pod, source.split()[1].split("/")[0]) != ("/fail/" in source)]
    assert mislabelled == []
    invalid = {source: reason for source, pod in pods
               if (reason := invalid_reason(real_cluster, enforcing_namespaces["privileged"], pod))}
    print("Left out, invalid for the API server itself:", json.dumps(invalid, indent=1))
    # Only a handful: the comparison must cover the table, not quietly drop it.
    assert len(invalid) <= len(pods) // 20, invalid


def test_kams_fixture_verdicts_match_the_admission(real_cluster: RealCluster,
                                                   enforcing_namespaces: dict[str, str]) -> None:
    pods = list(own_pods())
    assert len(pods) > 30
    # KAMS's fixtures are pods a real cluster would run: none may be invalid, but the one that cannot be.
    privileged = enforcing_namespaces["privileged"]
    invalid = {source for source, pod in pods if invalid_reason(real_cluster, privileged, pod)}
    assert invalid == set(NOT_CREATABLE)
    assert disagreements(real_cluster, enforcing_namespaces, pods) == []


def test_the_admission_is_really_enforcing(real_cluster: RealCluster,
                                           enforcing_namespaces: dict[str, str]) -> None:
    """Guards the comparison against a silently disabled admission: a privileged pod is rejected at
    baseline and a plain root pod at restricted, with the admission's own message."""
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
                  "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause",
                                           "securityContext": {"privileged": True}}]}}
    plain = {**privileged, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause"}]}}
    assert admission_rejects(real_cluster, enforcing_namespaces["baseline"], privileged)
    assert not admission_rejects(real_cluster, enforcing_namespaces["baseline"], plain)
    assert admission_rejects(real_cluster, enforcing_namespaces["restricted"], plain)
