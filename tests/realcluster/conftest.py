"""Fixtures for the demo cluster (sandbox/cluster/ and Trivy's CRDs) in the session's real kube-apiserver,
and KAMS's environment for it: what `python -m sandbox.realcluster --demo` serves. Helpers are in
tests/realcluster/realdemo.py.

The demo's objects have fixed names and namespaces, so they are loaded once per session (`real_demo`);
tests read them and never change them.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cluster_loader import load_demo_objects
from sandbox.realcluster import RealCluster, demo_definitions


@pytest.fixture(scope="session")
def real_demo_objects() -> list[dict[str, Any]]:
    """The demo's objects as loaded (timestamps moved to the session's start)."""
    return load_demo_objects()


@pytest.fixture(scope="session")
def real_demo(real_cluster: RealCluster, real_demo_objects: list[dict[str, Any]]) -> RealCluster:
    """The session's real cluster with the demo loaded (once): status through the status subresource."""
    real_cluster.load([*demo_definitions(), *real_demo_objects])
    return real_cluster


@pytest.fixture(scope="session")
def real_demo_env(real_demo: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """KAMS's settings for the real server as the deployed ServiceAccount, and nothing else: no
    Prometheus, Alertmanager, S3 or Clair, and a HOME without a kubeconfig of the machine's user."""
    return {"HOME": str(tmp_path_factory.mktemp("real-demo-home")),
            "KUBECONFIG": str(real_demo.kams_kubeconfig)}
