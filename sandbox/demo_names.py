"""Names the demo data, the sample apps, the exporter and the tests agree on.

The demo cluster's YAML (sandbox/cluster/) must contain pods with exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Namespace of the two applications from the paper KAMS grew out of.
APP_NAMESPACE = "shop"


@dataclass(frozen=True)
class SampleAppPod:
    app: str  # value of the pod label app.kubernetes.io/name (and of `app`)
    namespace: str
    deployment: str
    pod: str
    container: str


WEB = SampleAppPod(app="web", namespace=APP_NAMESPACE, deployment="web",
                   pod="web-6d8f7b9c5d-x7k2p", container="web")
API = SampleAppPod(app="api", namespace=APP_NAMESPACE, deployment="api",
                   pod="api-7c9d5f4b8-m4q9z", container="api")
SAMPLE_APPS: tuple[SampleAppPod, ...] = (WEB, API)

#: KAMS's own namespace and read-only ServiceAccount.
KAMS_NAMESPACE = "kams"
KAMS_SERVICE_ACCOUNT = "kams"

#: Bearer tokens the stand-in API server accepts (demo only; never real secrets).
READER_TOKEN = "kams-reader-demo-token"  # -> system:serviceaccount:kams:kams (read-only ClusterRole)
ADMIN_TOKEN = "kams-admin-demo-token"  # -> user "kubernetes-admin", group system:masters
READER_USER = f"system:serviceaccount:{KAMS_NAMESPACE}:{KAMS_SERVICE_ACCOUNT}"
ADMIN_USER = "kubernetes-admin"

#: Cluster/context name written into sandbox kubeconfigs.
CLUSTER_NAME = "kams-demo"

NODES: tuple[str, ...] = ("demo-control-plane", "demo-worker-1", "demo-worker-2")
