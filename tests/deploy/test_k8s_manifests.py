"""deploy/k8s renders with kustomize, every object is schema-valid, RBAC is read-only, and the pod meets
Pod Security Standards "restricted" (the structural parts that can be checked without a cluster)."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    DOCKERFILE,
    EXPECTED_GRANTS,
    KUBERNETES_VERSION,
    READ_VERBS,
    ROOT,
    grants,
    pod_spec,
    rendered,
    the,
)


def test_base_renders_the_expected_objects() -> None:
    kinds = sorted((obj["kind"], obj["metadata"]["name"]) for obj in rendered())
    assert kinds == sorted([
        ("Namespace", "kams"), ("ServiceAccount", "kams"), ("ClusterRole", "kams-reader"),
        ("ClusterRoleBinding", "kams-reader"), ("ConfigMap", "kams-config"), ("Deployment", "kams"),
        ("Service", "kams"), ("NetworkPolicy", "kams"), ("PrometheusRule", "kams-alerts"),
        ("CronJob", "kams-snapshot"), ("NetworkPolicy", "kams-snapshot"),
        ("PersistentVolumeClaim", "kams-snapshot-spool"),
    ])
    for obj in rendered():
        if obj["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}:
            assert obj["metadata"]["namespace"] == "kams", obj["kind"]


#: Custom resources kubernetes-validate has no schema for; tests/deploy/test_alert_rules.py checks them.
CUSTOM_KINDS = {"PrometheusRule"}


@pytest.mark.parametrize("index", range(11))
def test_every_object_validates_against_the_kubernetes_schema(index: int) -> None:
    obj = [obj for obj in rendered() if obj["kind"] not in CUSTOM_KINDS][index]
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_built_in_object_is_validated() -> None:
    # The parametrised range above must grow with the base, or new objects go unchecked.
    assert len([obj for obj in rendered() if obj["kind"] not in CUSTOM_KINDS]) == 11


def test_cluster_role_is_read_only_exact_and_never_secrets() -> None:
    role = the("ClusterRole", "kams-reader")
    triples = grants(role)
    assert {verb for _, _, verb in triples} == READ_VERBS
    assert not any("*" in part for triple in triples for part in triple)
    assert not any(resource.startswith("secrets") for _, resource, _ in triples)
    assert all("nonResourceURLs" not in rule and "resourceNames" not in rule for rule in role["rules"])
    assert {(group, resource) for group, resource, _ in triples} == EXPECTED_GRANTS
    # every granted resource gets all three read verbs (watch-based refresh needs them together)
    assert triples == {(group, resource, verb) for group, resource in EXPECTED_GRANTS for verb in READ_VERBS}


def test_binding_ties_the_role_to_the_pods_service_account() -> None:
    binding = the("ClusterRoleBinding", "kams-reader")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "kams-reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kams", "namespace": "kams"}]
    assert pod_spec()["serviceAccountName"] == "kams"
    the("ServiceAccount", "kams")


def test_pod_meets_pod_security_restricted() -> None:
    spec = pod_spec()
    pod_context = spec.get("securityContext", {})
    assert not any(spec.get(field) for field in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in volume for volume in spec.get("volumes", []))
    allowed_volume_types = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                            "persistentVolumeClaim", "projected", "secret"}
    for volume in spec.get("volumes", []):
        assert set(volume) - {"name"} <= allowed_volume_types, volume
    assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    for container in spec["containers"] + spec.get("initContainers", []):
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False
        assert context.get("privileged", False) is False
        assert context.get("capabilities", {}).get("drop") == ["ALL"]
        assert not context.get("capabilities", {}).get("add")
        assert context.get("readOnlyRootFilesystem") is True
        assert (context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))) is True
        run_as = context.get("runAsUser", pod_context.get("runAsUser"))
        assert isinstance(run_as, int) and run_as == 10001
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        assert seccomp.get("type") in {"RuntimeDefault", "Localhost"}
        assert all("hostPort" not in port for port in container.get("ports", []))
        # requests and limits for both cpu and memory
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), bound
    namespace_labels = the("Namespace", "kams")["metadata"]["labels"]
    assert namespace_labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_container_serves_streamlit_with_health_probes_and_writable_tmp() -> None:
    [container] = pod_spec()["containers"]
    assert container["image"] == "ghcr.io/OWNER/kams:0.1.0"
    assert {"name": "http", "containerPort": 8501, "protocol": "TCP"} in container["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
        assert container[probe]["httpGet"]["port"] in {"http", 8501}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod_spec()["volumes"]
    config = the("ConfigMap", "kams-config")["data"]
    assert {"PROMETHEUS_URL", "KAMS_S3_BUCKET", "KAMS_S3_PREFIX", "KAMS_REQUEST_TIMEOUT"} <= set(config)
    assert {"configMapRef": {"name": "kams-config"}} in container["envFrom"]
    assert not any(key.startswith("AWS_SECRET") for key in config)


def test_service_and_network_policy_select_the_pod() -> None:
    pod_labels = the("Deployment", "kams")["spec"]["template"]["metadata"]["labels"]
    service = the("Service", "kams")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in {"http", 8501}
    policy = the("NetworkPolicy", "kams")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {port["port"] for rule in policy["ingress"] for port in rule["ports"]}
    assert ingress_ports == {8501}
    egress_ports = {(port["protocol"], port["port"]) for rule in policy["egress"] for port in rule["ports"]}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 9090), ("TCP", 443), ("TCP", 6443)} == egress_ports


def test_dockerfile_matches_the_deployment() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "FROM python:3.11-slim"
    assert "RUN pip install -r requirements.txt" in instructions
    [user] = [line for line in instructions if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] == str(pod_spec()["securityContext"]["runAsUser"])
    assert re.search(r'^CMD \["streamlit", "run", "app.py"', text, re.M)
    assert "EXPOSE 8501" in instructions
    for line in instructions:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
