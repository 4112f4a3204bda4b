"""The demo cluster's ClusterRole kams-reader (sandbox/cluster/) must be the one we ship in deploy/k8s,
so that the demo shows exactly what a real installation can and cannot see."""

from __future__ import annotations

from typing import Any

from sandbox.cluster_loader import load_demo_objects
from tests.deploy.manifests import READ_VERBS, grants, the


def demo_object(kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in load_demo_objects() if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"sandbox/cluster/ should define exactly one {kind} {name}"
    return matches[0]


def test_demo_role_is_read_only_and_never_secrets() -> None:
    triples = grants(demo_object("ClusterRole", "kams-reader"))
    assert {verb for _, _, verb in triples} <= READ_VERBS
    assert not any("*" in part for triple in triples for part in triple)
    assert not any(resource.startswith("secrets") for _, resource, _ in triples)


def test_demo_role_grants_everything_kams_needs() -> None:
    """Anything deploy grants but the demo doesn't would make a page fail only in the demo."""
    missing = grants(the("ClusterRole", "kams-reader")) - grants(demo_object("ClusterRole", "kams-reader"))
    assert not missing, f"the demo's kams-reader lacks {sorted(missing)}"


def test_demo_binding_matches_deploy() -> None:
    demo = demo_object("ClusterRoleBinding", "kams-reader")
    shipped = the("ClusterRoleBinding", "kams-reader")
    assert demo["roleRef"] == shipped["roleRef"]
    assert demo["subjects"] == shipped["subjects"]


def test_demo_role_equals_the_shipped_role() -> None:
    demo = grants(demo_object("ClusterRole", "kams-reader"))
    shipped = grants(the("ClusterRole", "kams-reader"))
    assert demo == shipped, (f"only in the demo: {sorted(demo - shipped)}; "
                             f"only in deploy/k8s: {sorted(shipped - demo)}")
