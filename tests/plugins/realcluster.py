"""The `real_cluster` fixture: a real etcd + kube-apiserver (sandbox.realcluster), started once per session.

    def test_something(real_cluster):
        real_cluster.admin.get("/api/v1/pods")        # system:masters
        real_cluster.reader                            # the deployed ServiceAccount kams/kams
        real_cluster.kams_kubeconfig                   # for KAMS, kubectl ...
        namespace = real_namespace()                   # a fresh namespace of the test's own

Skipped with a sentence where the servers are not built; under KAMS_REQUIRE_REAL_SERVERS=1 (CI) that
fails instead. Tests share the cluster, so each makes its objects in namespaces of its own
(`real_namespace`). They are not deleted: with no controller-manager a deleted namespace stays Terminating
forever, and the whole cluster is thrown away at the end of the session anyway.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator

import pytest

from sandbox.realcluster import RealCluster
from tests.plugins.realservers import need_real

_namespace_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    need_real("etcd")
    need_real("kube-apiserver")
    cluster = RealCluster(tmp_path_factory.mktemp("real_cluster")).start()
    print(f"\n[real_cluster fixture] kube-apiserver {cluster.version} "
          f"ready in {cluster.startup_seconds:.1f}s "
          f"at {cluster.url}", file=sys.stderr)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def real_namespace(real_cluster: RealCluster) -> Callable[..., str]:
    """real_namespace(prefix="t", labels=None) -> the name of a new namespace with its default
    ServiceAccount, unique within the session."""

    def make(prefix: str = "t", labels: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{next(_namespace_numbers)}"
        real_cluster.ensure_namespace(name, labels)
        return name

    return make
