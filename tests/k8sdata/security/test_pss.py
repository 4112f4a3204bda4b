"""Pod Security Standards: for every control, the allowed and the disallowed values the official page lists,
on every field path it names (pod level and containers, initContainers, ephemeralContainers).

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the current version), checked
against the reference implementation's checks, kubernetes/pod-security-admission policy/check_*.go
(read only): the same allowed sets (SELinux container_engine_t since v1.31, sysctls through v1.37, the
`image` volume type), the `hostUsers: false` relaxations of v1.35 (runAsNonRoot, runAsUser, Baseline
procMount), Restricted procMount (v1.35), Host Probes / Lifecycle Hooks (v1.34) and the Windows
exemptions (spec.os.name == windows skips Privilege Escalation, Seccomp and Capabilities at Restricted).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from k8sdata.security.engine import builtin_checks, scan_objects
from k8sdata.security.predicates import BASELINE_CAPABILITIES, SAFE_SYSCTLS, SELINUX_TYPES

SOURCE = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
CHECKS = {check.id: check for check in builtin_checks()}
LISTS = ("containers", "initContainers", "ephemeralContainers")
UNSET = object()  # a field left out


def pod(
    spec: dict[str, Any] | None = None,
    *,
    container: dict[str, Any] | None = None,
    list_name: str = "containers",
    annotations: dict[str, str] | None = None,
    pod_context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Pod with one container in `list_name` (plus a plain one in containers, which is always required)."""
    body: dict[str, Any] = {"containers": [{"name": "plain", "image": "app:1"}]}
    if container is not None:
        body.setdefault(list_name, []).append({"name": "c", "image": "app:1", **container})
    if pod_context is not None:
        body["securityContext"] = pod_context
    body.update(spec or {})
    metadata: dict[str, Any] = {"name": "p", "namespace": "ns"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": body}


def violated(check_id: str, obj: dict[str, Any]) -> bool:
    result = scan_objects([obj], [CHECKS[check_id]])
    return any(finding.id == check_id for finding in result.findings)


def sc(**fields: Any) -> dict[str, Any]:
    """A container with this securityContext (UNSET fields left out)."""
    return {"securityContext": {key: value for key, value in fields.items() if value is not UNSET}}


def test_every_pss_control_of_the_page_has_a_check() -> None:
    controls = {(check.pss_control, check.pss) for check in CHECKS.values() if check.pss}
    assert controls == {
        ("HostProcess", "baseline"),
        ("Host Namespaces", "baseline"),
        ("Privileged Containers", "baseline"),
        ("Capabilities", "baseline"),
        ("HostPath Volumes", "baseline"),
        ("Host Ports", "baseline"),
        ("Host Probes / Lifecycle Hooks", "baseline"),
        ("AppArmor", "baseline"),
        ("SELinux", "baseline"),
        ("/proc Mount Type", "baseline"),
        ("Seccomp", "baseline"),
        ("Sysctls", "baseline"),
        ("Volume Types", "restricted"),
        ("Privilege Escalation", "restricted"),
        ("Running as Non-root", "restricted"),
        ("Running as Non-root user", "restricted"),
        ("Seccomp", "restricted"),
        ("Capabilities", "restricted"),
        ("/proc Mount Type", "restricted"),
    }


# ---------------------------------------------------------------------------------------------- Baseline


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(("value", "bad"), [(UNSET, False), (False, False), (True, True)])
def test_host_process(list_name: str, value: Any, bad: bool) -> None:
    options = {} if value is UNSET else {"windowsOptions": {"hostProcess": value}}
    assert (
        violated("pss-host-process", pod(container={"securityContext": options}, list_name=list_name)) == bad
    )
    assert violated("pss-host-process", pod(pod_context=options)) == bad


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
@pytest.mark.parametrize(("value", "bad"), [(UNSET, False), (False, False), (True, True)])
def test_host_namespaces(field: str, value: Any, bad: bool) -> None:
    assert violated("pss-host-namespaces", pod({} if value is UNSET else {field: value})) == bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(("value", "bad"), [(UNSET, False), (False, False), (True, True)])
def test_privileged(list_name: str, value: Any, bad: bool) -> None:
    assert violated("pss-privileged", pod(container=sc(privileged=value), list_name=list_name)) == bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("added", "bad"),
    [
        (UNSET, False),
        ([], False),
        *(([cap], False) for cap in sorted(BASELINE_CAPABILITIES)),
        (["NET_RAW"], True),
        (["SYS_ADMIN"], True),
        (["ALL"], True),
        (["CHOWN", "SYS_PTRACE"], True),
    ],
)
def test_capabilities_baseline(list_name: str, added: Any, bad: bool) -> None:
    capabilities = {} if added is UNSET else {"add": added}
    obj = pod(container=sc(capabilities=capabilities), list_name=list_name)
    assert violated("pss-capabilities-baseline", obj) == bad


def test_capabilities_baseline_default_set_is_the_pages() -> None:
    assert {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    } == BASELINE_CAPABILITIES


@pytest.mark.parametrize(
    ("volumes", "bad"),
    [
        (UNSET, False),
        ([{"name": "v", "emptyDir": {}}], False),
        ([{"name": "v", "hostPath": {"path": "/var/log"}}], True),
        (
            [
                {"name": "ok", "configMap": {"name": "c"}},
                {"name": "v", "hostPath": {"path": "/", "type": ""}},
            ],
            True,
        ),
    ],
)
def test_host_path_volumes(volumes: Any, bad: bool) -> None:
    assert violated("pss-host-path-volumes", pod({} if volumes is UNSET else {"volumes": volumes})) == bad


@pytest.mark.parametrize("list_name", ["containers", "initContainers"])
@pytest.mark.parametrize(
    ("port", "known", "bad"),
    [
        (UNSET, (), False),
        (0, (), False),
        (8080, (), True),
        (80, (80, 443), False),
        (8080, (80, 443), True),
    ],
)
def test_host_ports_with_known_list(list_name: str, port: Any, known: tuple[int, ...], bad: bool) -> None:
    ports = [{"containerPort": 8080} | ({} if port is UNSET else {"hostPort": port})]
    result = scan_objects(
        [pod(container={"ports": ports}, list_name=list_name)],
        [CHECKS["pss-host-ports"]],
        allowed_host_ports=known,
    )
    assert bool(result.findings) == bad


HANDLER_PATHS = [
    (probe, action)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe")
    for action in ("httpGet", "tcpSocket")
] + [
    (f"lifecycle.{hook}", action) for hook in ("postStart", "preStop") for action in ("httpGet", "tcpSocket")
]


@pytest.mark.parametrize(("where", "action"), HANDLER_PATHS)
@pytest.mark.parametrize(
    ("host", "bad"), [(UNSET, False), ("", False), ("127.0.0.1", True), ("example.com", True)]
)
def test_host_probes_and_lifecycle_hooks(where: str, action: str, host: Any, bad: bool) -> None:
    handler = {action: {"port": 8080} | ({} if host is UNSET else {"host": host})}
    container: dict[str, Any] = {}
    if where.startswith("lifecycle."):
        container["lifecycle"] = {where.split(".")[1]: handler}
    else:
        container[where] = handler
    for list_name in ("containers", "initContainers"):
        assert violated("pss-host-probes", pod(container=container, list_name=list_name)) == bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("profile", "bad"),
    [
        (UNSET, False),
        ("RuntimeDefault", False),
        ("Localhost", False),
        ("Unconfined", True),
    ],
)
def test_apparmor_profile_fields(list_name: str, profile: Any, bad: bool) -> None:
    field = {} if profile is UNSET else {"appArmorProfile": {"type": profile}}
    assert violated("pss-apparmor", pod(container={"securityContext": field}, list_name=list_name)) == bad
    assert violated("pss-apparmor", pod(pod_context=field)) == bad


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        (None, False),
        ("", False),
        ("runtime/default", False),
        ("localhost/my-profile", False),
        ("unconfined", True),
        ("docker-default", True),
    ],
)
def test_apparmor_annotations(value: str | None, bad: bool) -> None:
    annotations = {} if value is None else {"container.apparmor.security.beta.kubernetes.io/c": value}
    assert violated("pss-apparmor", pod(container={}, annotations=annotations)) == bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("options", "bad"),
    [
        *(({"type": selinux_type}, False) for selinux_type in sorted(SELINUX_TYPES)),
        ({"level": "s0:c123,c456"}, False),
        ({"type": "spc_t"}, True),
        ({"type": "unconfined_t"}, True),
        ({"user": "system_u"}, True),
        ({"role": "sysadm_r"}, True),
        ({"user": "", "role": ""}, False),
    ],
)
def test_selinux(list_name: str, options: dict[str, str], bad: bool) -> None:
    field = {"seLinuxOptions": options}
    assert violated("pss-selinux", pod(container={"securityContext": field}, list_name=list_name)) == bad
    assert violated("pss-selinux", pod(pod_context=field)) == bad


def test_selinux_types_are_the_pages() -> None:
    assert {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"} == SELINUX_TYPES


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("value", "host_users", "baseline_bad", "restricted_bad"),
    [
        (UNSET, UNSET, False, False),
        ("Default", UNSET, False, False),
        ("Unmasked", UNSET, True, True),
        ("Unmasked", True, True, True),
        ("Unmasked", False, False, True),
        ("Default", False, False, False),
    ],
)
def test_proc_mount(
    list_name: str, value: Any, host_users: Any, baseline_bad: bool, restricted_bad: bool
) -> None:
    obj = pod(
        {} if host_users is UNSET else {"hostUsers": host_users},
        container=sc(procMount=value),
        list_name=list_name,
    )
    assert violated("pss-proc-mount-baseline", obj) == baseline_bad
    assert violated("pss-proc-mount-restricted", obj) == restricted_bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("profile", "bad"),
    [
        (UNSET, False),
        ("RuntimeDefault", False),
        ("Localhost", False),
        ("Unconfined", True),
    ],
)
def test_seccomp_baseline(list_name: str, profile: Any, bad: bool) -> None:
    field = {} if profile is UNSET else {"seccompProfile": {"type": profile}}
    assert (
        violated("pss-seccomp-baseline", pod(container={"securityContext": field}, list_name=list_name))
        == bad
    )
    assert violated("pss-seccomp-baseline", pod(pod_context=field)) == bad


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        *((name, False) for name in sorted(SAFE_SYSCTLS)),
        ("kernel.msgmax", True),
        ("net.core.somaxconn", True),
        ("net.ipv4.ip_forward", True),
        ("vm.swappiness", True),
    ],
)
def test_sysctls(name: str, bad: bool) -> None:
    assert violated("pss-sysctls", pod(pod_context={"sysctls": [{"name": name, "value": "1"}]})) == bad


def test_sysctls_unset_or_empty_pass() -> None:
    assert not violated("pss-sysctls", pod())
    assert not violated("pss-sysctls", pod(pod_context={"sysctls": []}))


# -------------------------------------------------------------------------------------------- Restricted

ALLOWED_VOLUMES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
]
RESTRICTED_VOLUMES = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "portworxVolume",
    "photonPersistentDisk",
    "scaleIO",
    "storageos",
]


@pytest.mark.parametrize(
    ("source", "bad"), [*((s, False) for s in ALLOWED_VOLUMES), *((s, True) for s in RESTRICTED_VOLUMES)]
)
def test_volume_types(source: str, bad: bool) -> None:
    assert violated("pss-volume-types", pod({"volumes": [{"name": "v", source: {}}]})) == bad


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(("value", "bad"), [(False, False), (True, True), (UNSET, True)])
def test_privilege_escalation(list_name: str, value: Any, bad: bool) -> None:
    obj = pod(container=sc(allowPrivilegeEscalation=value), list_name=list_name)
    obj["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False}
    assert violated("pss-privilege-escalation", obj) == bad
    windows = copy.deepcopy(obj)
    windows["spec"]["os"] = {"name": "windows"}
    assert not violated("pss-privilege-escalation", windows)


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("pod_value", "container_value", "bad"),
    [
        (True, UNSET, False),
        (UNSET, True, False),
        (True, True, False),
        (True, False, True),
        (False, True, True),
        (UNSET, UNSET, True),
        (UNSET, False, True),
        (False, UNSET, True),
    ],
)
def test_run_as_non_root(list_name: str, pod_value: Any, container_value: Any, bad: bool) -> None:
    pod_context = {} if pod_value is UNSET else {"runAsNonRoot": pod_value}
    obj = pod(container=sc(runAsNonRoot=container_value), list_name=list_name, pod_context=pod_context)
    obj["spec"]["containers"][0]["securityContext"] = {"runAsNonRoot": True}
    assert violated("pss-run-as-non-root", obj) == bad
    obj["spec"]["hostUsers"] = False  # any value in a user namespace
    assert not violated("pss-run-as-non-root", obj)


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("pod_value", "container_value", "bad"),
    [
        (UNSET, UNSET, False),
        (1000, UNSET, False),
        (UNSET, 1000, False),
        (0, UNSET, True),
        (UNSET, 0, True),
        (1000, 0, True),
        (0, 1000, True),
    ],
)
def test_run_as_user(list_name: str, pod_value: Any, container_value: Any, bad: bool) -> None:
    pod_context = {} if pod_value is UNSET else {"runAsUser": pod_value}
    obj = pod(container=sc(runAsUser=container_value), list_name=list_name, pod_context=pod_context)
    assert violated("pss-run-as-user", obj) == bad
    obj["spec"]["hostUsers"] = False
    assert not violated("pss-run-as-user", obj)


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("pod_type", "container_type", "bad"),
    [
        ("RuntimeDefault", UNSET, False),
        ("Localhost", UNSET, False),
        (UNSET, "RuntimeDefault", False),
        (UNSET, "Localhost", False),
        (UNSET, UNSET, True),
        ("Unconfined", UNSET, True),
        ("RuntimeDefault", "Unconfined", True),
        (UNSET, "Unconfined", True),
    ],
)
def test_seccomp_restricted(list_name: str, pod_type: Any, container_type: Any, bad: bool) -> None:
    pod_context = {} if pod_type is UNSET else {"seccompProfile": {"type": pod_type}}
    container = (
        {} if container_type is UNSET else {"securityContext": {"seccompProfile": {"type": container_type}}}
    )
    obj = pod(container=container, list_name=list_name, pod_context=pod_context)
    obj["spec"]["containers"][0]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    assert violated("pss-seccomp-restricted", obj) == bad
    obj["spec"]["os"] = {"name": "windows"}
    assert not violated("pss-seccomp-restricted", obj)


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    ("capabilities", "bad"),
    [
        ({"drop": ["ALL"]}, False),
        ({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}, False),
        ({"drop": ["NET_RAW", "ALL"]}, False),
        (UNSET, True),
        ({"drop": ["NET_RAW"]}, True),
        ({"drop": ["ALL"], "add": ["CHOWN"]}, True),
        ({"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}, True),
    ],
)
def test_capabilities_restricted(list_name: str, capabilities: Any, bad: bool) -> None:
    obj = pod(container=sc(capabilities=capabilities), list_name=list_name)
    obj["spec"]["containers"][0]["securityContext"] = {"capabilities": {"drop": ["ALL"]}}
    assert violated("pss-capabilities-restricted", obj) == bad
    obj["spec"]["os"] = {"name": "windows"}
    assert not violated("pss-capabilities-restricted", obj)


def test_windows_exemptions_are_only_the_pages() -> None:
    # Only Privilege Escalation, Seccomp and Capabilities at Restricted skip Windows pods (plus the
    # Linux-only read-only root filesystem hygiene check); every other PSS control still applies.
    linux_only = {check.id for check in CHECKS.values() if check.linux_only and check.pss}
    assert linux_only == {"pss-privilege-escalation", "pss-seccomp-restricted", "pss-capabilities-restricted"}
    windows_privileged = pod({"os": {"name": "windows"}}, container=sc(privileged=True))
    assert violated("pss-privileged", windows_privileged)


def test_every_finding_carries_its_controls_level() -> None:
    obj = pod({"hostNetwork": True}, container=sc(privileged=True))
    result = scan_objects([obj])
    levels = {finding.id: finding.pss for finding in result.findings}
    assert levels["pss-privileged"] == levels["pss-host-namespaces"] == "baseline"
    assert levels["pss-run-as-non-root"] == "restricted"
    assert levels.get("image-tag-mutable", "absent") in (None, "absent")

