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


@dataclass(frozen=True)
class DemoPod:
    """A pod of the demo cluster that tests and docs point at by name."""

    namespace: str
    pod: str
    container: str


#: KAMS's own pod (namespace kams, ServiceAccount kams).
KAMS_POD = DemoPod(KAMS_NAMESPACE, "kams-5c7f9d6b4f-r8t2w", "kams")

# The demo's trouble cases (sandbox/cluster/*.yaml), each with its story:
#: CrashLoopBackOff, restartCount 11; its previous log ends with the panic that explains the crash.
CRASHLOOP_POD = DemoPod("legacy", "invoice-sync-5d8b9c7f6-qw8hd", "invoice-sync")
#: Pending (PodScheduled False, Unschedulable): asks for 20Gi; FailedScheduling Warning event.
PENDING_POD = DemoPod("batch", "analytics-etl-6f5d9b8c47-p2xlr", "etl")
#: Running after 3 OOMKilled restarts (lastState terminated OOMKilled, exit 137); memory climbs again.
OOMKILLED_POD = DemoPod("batch", "thumbnailer-b6c7d8f94-j5vxk", "thumbnailer")
#: Deliberately insecure: privileged, hostPath /, hostNetwork, runAsUser 0, :latest, no resources.
INSECURE_POD = DemoPod("legacy", "legacy-portal-84f9c6d7b-tz5nc", "portal")
#: A Job pod that Succeeded (created by CronJob batch/nightly-report).
COMPLETED_POD = DemoPod("batch", "nightly-report-29453880-68m28", "report")
#: RoleBinding that makes legacy's default ServiceAccount cluster-admin.
OVERPRIVILEGED_ROLEBINDING = ("legacy", "legacy-default-admin")
#: Namespaces with and without NetworkPolicies.
NAMESPACES_WITH_NETWORK_POLICIES: tuple[str, ...] = ("shop", "kams")
NAMESPACES_WITHOUT_NETWORK_POLICIES: tuple[str, ...] = ("legacy", "batch", "monitoring", "default")
