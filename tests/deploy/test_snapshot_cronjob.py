"""deploy/k8s's kams-snapshot CronJob: runs `python -m k8sdata snapshot --to s3://...` every 15 minutes
with the Deployment's image, ServiceAccount, settings and Pod Security "restricted" context, never two at
once, suspended exactly while archiving is off, and fenced by its own NetworkPolicy."""

from __future__ import annotations

from typing import Any

from k8sdata.cli import build_parser
from tests.deploy.manifests import pod_spec, the


def cronjob() -> dict[str, Any]:
    return the("CronJob", "kams-snapshot")


def job_pod_spec() -> dict[str, Any]:
    return cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_runs_every_15_minutes_one_at_a_time_and_finishes_before_the_next() -> None:
    spec = cronjob()["spec"]
    assert spec["schedule"] == "*/15 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] < 15 * 60
    assert job_pod_spec()["restartPolicy"] == "Never"


def test_suspended_exactly_while_archiving_is_off() -> None:
    bucket = the("ConfigMap", "kams-config")["data"]["KAMS_S3_BUCKET"]
    assert cronjob()["spec"]["suspend"] is (bucket == "")


def test_same_image_account_settings_and_security_context_as_the_deployment() -> None:
    web = pod_spec()
    job = job_pod_spec()
    [web_container] = web["containers"]
    [container] = job["containers"]
    assert container["image"] == web_container["image"]
    assert job["serviceAccountName"] == web["serviceAccountName"] == "kams"
    assert job["securityContext"] == web["securityContext"]
    assert container["securityContext"] == web_container["securityContext"]
    assert container["envFrom"] == web_container["envFrom"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound])
    # Read-only root filesystem: Python and boto3 write only to /tmp (HOME).
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    assert not any(probe in container for probe in ("livenessProbe", "readinessProbe", "startupProbe"))


def test_command_is_the_snapshot_cli_with_the_configured_bucket() -> None:
    [container] = job_pod_spec()["containers"]
    command = container["command"]
    assert command[:4] == ["python", "-m", "k8sdata", "snapshot"]
    assert command[4:] == ["--to", "s3://$(KAMS_S3_BUCKET)/$(KAMS_S3_PREFIX)"]
    # The kubelet expands $(VAR) from the container's environment: both come from the ConfigMap.
    assert {"KAMS_S3_BUCKET", "KAMS_S3_PREFIX"} <= set(the("ConfigMap", "kams-config")["data"])
    args = build_parser().parse_args(command[3:])
    assert args.command == "snapshot" and args.to.startswith("s3://")


def test_exemptions_carry_a_reason_and_only_what_a_cronjob_can_break() -> None:
    annotations = cronjob()["metadata"]["annotations"]
    exempt = set(annotations["kams.io/exempt"].split(","))
    assert exempt == {"service-account-token-automounted", "image-not-pinned"}
    assert annotations["kams.io/exempt-reason"].strip()


def test_network_policy_selects_the_job_pods_and_admits_nothing() -> None:
    labels = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    policy = the("NetworkPolicy", "kams-snapshot")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and not policy.get("ingress")
    web_policy = the("NetworkPolicy", "kams")["spec"]
    assert policy["egress"] == web_policy["egress"]
    # The website's Service and policy must not pick up the job's pods.
    assert not the("Service", "kams")["spec"]["selector"].items() <= labels.items()
    assert not web_policy["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_spool_is_a_claim_that_outlives_the_job_pod() -> None:
    [container] = job_pod_spec()["containers"]
    assert {"name": "KAMS_SPOOL_DIR", "value": "/var/spool/kams"} in container["env"]
    assert {"name": "spool", "mountPath": "/var/spool/kams"} in container["volumeMounts"]
    [volume] = [volume for volume in job_pod_spec()["volumes"] if volume["name"] == "spool"]
    claim = the("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["metadata"]["namespace"] == cronjob()["metadata"]["namespace"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    # The job's user owns what it writes there (fsGroup), under the restricted Pod Security profile.
    assert job_pod_spec()["securityContext"]["fsGroup"] == 10001
