"""Named predicates: the rules that need code (checks/<ID>.yaml says `rule: {predicate: NAME}`).

A predicate takes the container lists the check covers, the object under check (its pod template already
extracted) and the scan context, and returns the violations (empty = pass) or None when it does not
apply. Pod Security Standards predicates follow the official page
(https://kubernetes.io/docs/concepts/security/pod-security-standards/) and agree with the reference
implementation's checks (kubernetes/pod-security-admission, policy/check_*.go), including pod-level vs
container-level precedence and the `hostUsers: false` (user namespace) relaxations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Subject:
    obj: Mapping[str, Any]  # the object as given (Deployment, Pod, CronJob, ...)
    kind: str
    namespace: str
    name: str
    pod_metadata: Mapping[str, Any]  # the pod (template) metadata
    pod_spec: Mapping[str, Any]  # the pod (template) spec


@dataclass(frozen=True)
class ScanContext:
    pdbs: list[Mapping[str, Any]] | None  # None: PodDisruptionBudgets unknown (could not be listed)
    allowed_host_ports: frozenset[int]  # the Host Ports control's known list (empty: none allowed)


@dataclass(frozen=True)
class Violation:
    container: str | None  # None: a pod-level or object-level field
    detail: str  # what is wrong, e.g. the field path and value (never a secret's value)


Predicate = Callable[[Sequence[str], Subject, ScanContext], "list[Violation] | None"]
PREDICATES: dict[str, Predicate] = {}


def predicate(function: Predicate) -> Predicate:
    PREDICATES[function.__name__] = function
    return function


# -------------------------------------------------------------------------------------------- helpers

def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _containers(spec: Mapping[str, Any], lists: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for list_name in lists:
        for container in spec.get(list_name) or []:
            if isinstance(container, Mapping):
                yield str(container.get("name") or ""), container


def _shown(value: Any) -> str:
    """A field value as it is written in YAML (true, not True); unset fields say so."""
    if value is None:
        return "unset"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _user_namespace(spec: Mapping[str, Any]) -> bool:
    """`hostUsers: false`: the pod runs in its own user namespace (PSS relaxes some controls then)."""
    return spec.get("hostUsers") is False


def _pod_context(subject: Subject) -> Mapping[str, Any]:
    context = subject.pod_spec.get("securityContext")
    return context if isinstance(context, Mapping) else {}


def _container_context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    context = container.get("securityContext")
    return context if isinstance(context, Mapping) else {}


# ---------------------------------------------------------------------------- PSS Baseline controls

@predicate
def host_process(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """HostProcess: windowsOptions.hostProcess allowed undefined/nil or false (pod and containers)."""
    found = []
    if _get(_pod_context(subject), "windowsOptions", "hostProcess") is True:
        found.append(Violation(None, "spec.securityContext.windowsOptions.hostProcess=true"))
    for name, container in _containers(subject.pod_spec, lists):
        if _get(_container_context(container), "windowsOptions", "hostProcess") is True:
            found.append(Violation(name, "securityContext.windowsOptions.hostProcess=true"))
    return found


#: Capabilities: the default set a container may add at Baseline.
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                                   "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                                   "SYS_CHROOT"})


@predicate
def capabilities_baseline(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        added = _get(_container_context(container), "capabilities", "add") or []
        bad = sorted({str(cap) for cap in added} - BASELINE_CAPABILITIES)
        if bad:
            found.append(Violation(name, "capabilities.add: " + ", ".join(bad)))
    return found


@predicate
def host_ports(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Host Ports: undefined/nil, 0, or a port on the known list (Settings.security_allowed_host_ports;
    Pod Security Admission itself supports no list, so the default list is empty)."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        bad = sorted({int(port["hostPort"]) for port in container.get("ports") or []
                      if isinstance(port, Mapping) and port.get("hostPort")}
                     - context.allowed_host_ports)
        if bad:
            found.append(Violation(name, "hostPort " + ", ".join(map(str, bad))))
    return found


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HOOKS = ("postStart", "preStop")


@predicate
def host_probes(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Host Probes / Lifecycle Hooks (v1.34+): the host of httpGet and tcpSocket handlers must be ""
    or undefined, in probes and in postStart/preStop hooks."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        handlers = [(probe, container.get(probe)) for probe in _PROBES]
        handlers += [(f"lifecycle.{hook}", _get(container, "lifecycle", hook)) for hook in _HOOKS]
        bad = [f"{where}.{action}.host" for where, handler in handlers for action in ("httpGet", "tcpSocket")
               if _get(handler, action, "host")]
        if bad:
            found.append(Violation(name, ", ".join(bad)))
    return found


def _apparmor_type_allowed(profile: Any) -> bool:
    return not isinstance(profile, Mapping) or profile.get("type") in ("RuntimeDefault", "Localhost")


@predicate
def apparmor(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """AppArmor: appArmorProfile.type RuntimeDefault, Localhost or undefined (pod and containers); the
    beta annotations container.apparmor.security.beta.kubernetes.io/* runtime/default, localhost/*,
    empty or undefined."""
    found = []
    if not _apparmor_type_allowed(_pod_context(subject).get("appArmorProfile")):
        found.append(Violation(None, "spec.securityContext.appArmorProfile.type="
                               f"{_get(_pod_context(subject), 'appArmorProfile', 'type')}"))
    for name, container in _containers(subject.pod_spec, lists):
        profile = _container_context(container).get("appArmorProfile")
        if not _apparmor_type_allowed(profile):
            found.append(Violation(name, f"securityContext.appArmorProfile.type={_get(profile, 'type')}"))
    annotations = subject.pod_metadata.get("annotations") or {}
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    for key, value in sorted(annotations.items()) if isinstance(annotations, Mapping) else ():
        value = str(value or "")
        if key.startswith(prefix) and value and value != "runtime/default" and not value.startswith(
                "localhost/"):
            found.append(Violation(key.removeprefix(prefix) or None, f"annotation {key}={value}"))
    return found


#: SELinux: the types a pod or container may set (container_engine_t since v1.31).
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _selinux_problems(options: Any) -> list[str]:
    if not isinstance(options, Mapping):
        return []
    problems = []
    if str(options.get("type") or "") not in SELINUX_TYPES:
        problems.append(f"seLinuxOptions.type={options.get('type')}")
    problems += [f"seLinuxOptions.{key} set" for key in ("user", "role") if options.get(key)]
    return problems


@predicate
def selinux(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    found = []
    problems = _selinux_problems(_pod_context(subject).get("seLinuxOptions"))
    if problems:
        found.append(Violation(None, "spec.securityContext." + ", ".join(problems)))
    for name, container in _containers(subject.pod_spec, lists):
        problems = _selinux_problems(_container_context(container).get("seLinuxOptions"))
        if problems:
            found.append(Violation(name, "securityContext." + ", ".join(problems)))
    return found


def _proc_mount(lists: Sequence[str], subject: Subject) -> list[Violation]:
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        proc_mount = _container_context(container).get("procMount")
        if proc_mount not in (None, "Default"):
            found.append(Violation(name, f"securityContext.procMount={proc_mount}"))
    return found


@predicate
def proc_mount_baseline(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """/proc Mount Type at Baseline: undefined/nil or Default, any value when hostUsers is false."""
    return [] if _user_namespace(subject.pod_spec) else _proc_mount(lists, subject)


@predicate
def proc_mount_restricted(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """/proc Mount Type at Restricted (v1.35+): undefined/nil or Default, even in a user namespace."""
    return _proc_mount(lists, subject)


_SECCOMP_ALLOWED = ("RuntimeDefault", "Localhost")


def _pod_seccomp(subject: Subject) -> tuple[Any, list[Violation]]:
    """The pod-level seccompProfile.type, and its violation when it is set to a disallowed value."""
    pod_type = _get(_pod_context(subject), "seccompProfile", "type")
    if pod_type is not None and pod_type not in _SECCOMP_ALLOWED:
        return pod_type, [Violation(None, f"spec.securityContext.seccompProfile.type={pod_type}")]
    return pod_type, []


@predicate
def seccomp_baseline(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Seccomp at Baseline: seccompProfile.type RuntimeDefault, Localhost or undefined (not Unconfined)."""
    _, found = _pod_seccomp(subject)
    for name, container in _containers(subject.pod_spec, lists):
        container_type = _get(_container_context(container), "seccompProfile", "type")
        if container_type is not None and container_type not in _SECCOMP_ALLOWED:
            found.append(Violation(name, f"securityContext.seccompProfile.type={container_type}"))
    return found


#: Sysctls: the safe set (namespaced and isolated from other pods), as of v1.37.
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
})


@predicate
def sysctls(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    names = [str(_get(entry, "name")) for entry in _pod_context(subject).get("sysctls") or []]
    bad = sorted(set(names) - SAFE_SYSCTLS)
    return [Violation(None, "spec.securityContext.sysctls: " + ", ".join(bad))] if bad else []


# -------------------------------------------------------------------------- PSS Restricted controls

#: Volume Types: the inline volume sources Restricted allows (a volume with no source defaults to emptyDir).
RESTRICTED_VOLUME_SOURCES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                                       "persistentVolumeClaim", "projected", "secret"})


@predicate
def volume_types(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    bad = []
    for volume in subject.pod_spec.get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        sources = sorted(key for key in volume if key != "name" and volume[key] is not None)
        bad += [f"{volume.get('name')} ({source})" for source in sources
                if source not in RESTRICTED_VOLUME_SOURCES]
    return [Violation(None, "spec.volumes: " + ", ".join(bad))] if bad else []


@predicate
def privilege_escalation(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Privilege Escalation: allowPrivilegeEscalation must be false on every container (Linux only)."""
    return [Violation(name, "securityContext.allowPrivilegeEscalation="
                      + _shown(_container_context(container).get("allowPrivilegeEscalation")))
            for name, container in _containers(subject.pod_spec, lists)
            if _container_context(container).get("allowPrivilegeEscalation") is not False]


@predicate
def run_as_non_root(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Running as Non-root: runAsNonRoot true on the pod (containers may leave it unset) or on every
    container; an explicit false anywhere fails; any value when hostUsers is false (v1.35+)."""
    if _user_namespace(subject.pod_spec):
        return []
    found = []
    pod_value = _pod_context(subject).get("runAsNonRoot")
    if pod_value is False:
        found.append(Violation(None, "spec.securityContext.runAsNonRoot=false"))
    for name, container in _containers(subject.pod_spec, lists):
        value = _container_context(container).get("runAsNonRoot")
        if value is False:
            found.append(Violation(name, "securityContext.runAsNonRoot=false"))
        elif value is None and pod_value is not True:
            found.append(Violation(name, "runAsNonRoot is set neither on the pod nor on the container"))
    return found


@predicate
def run_as_user(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Running as Non-root user: runAsUser must not be 0 (pod or container); any value when hostUsers is
    false (v1.35+)."""
    if _user_namespace(subject.pod_spec):
        return []
    found = []
    if _pod_context(subject).get("runAsUser") == 0:
        found.append(Violation(None, "spec.securityContext.runAsUser=0"))
    found += [Violation(name, "securityContext.runAsUser=0")
              for name, container in _containers(subject.pod_spec, lists)
              if _container_context(container).get("runAsUser") == 0]
    return found


@predicate
def seccomp_restricted(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Seccomp at Restricted: RuntimeDefault or Localhost must be set, on the pod (containers may then
    leave it unset) or on every container (Linux only)."""
    pod_type, found = _pod_seccomp(subject)
    for name, container in _containers(subject.pod_spec, lists):
        container_type = _get(_container_context(container), "seccompProfile", "type")
        if container_type is None:
            if pod_type not in _SECCOMP_ALLOWED:
                found.append(Violation(name, "seccompProfile is set neither on the pod nor on the container"))
        elif container_type not in _SECCOMP_ALLOWED:
            found.append(Violation(name, f"securityContext.seccompProfile.type={container_type}"))
    return found


@predicate
def capabilities_restricted(lists: Sequence[str], subject: Subject, context: ScanContext
                            ) -> list[Violation]:
    """Capabilities at Restricted: drop must include ALL; add only NET_BIND_SERVICE (Linux only)."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        capabilities = _get(_container_context(container), "capabilities") or {}
        problems = []
        if "ALL" not in [str(cap) for cap in capabilities.get("drop") or []]:
            problems.append("capabilities.drop does not include ALL")
        added = sorted({str(cap) for cap in capabilities.get("add") or []} - {"NET_BIND_SERVICE"})
        if added:
            problems.append("capabilities.add: " + ", ".join(added))
        if problems:
            found.append(Violation(name, "; ".join(problems)))
    return found


# ------------------------------------------------------------------------------------ hygiene checks

def image_reference(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a port in the registry is not a tag."""
    name, _, digest = image.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


@predicate
def image_tag_mutable(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """`:latest` or no tag (which means latest), unless pinned by digest."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        image = str(container.get("image") or "")
        _, tag, digest = image_reference(image)
        if not digest and tag in (None, "latest"):
            found.append(Violation(name, image or "(no image)"))
    return found


@predicate
def image_pull_policy(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Never (any image already on the node runs, without the registry's authorization), or IfNotPresent
    with a mutable tag (nodes keep running whatever `latest` was when they first pulled it)."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        image = str(container.get("image") or "")
        _, tag, digest = image_reference(image)
        policy = container.get("imagePullPolicy")
        if policy == "Never":
            found.append(Violation(name, "imagePullPolicy=Never"))
        elif policy == "IfNotPresent" and not digest and tag in (None, "latest"):
            found.append(Violation(name, f"imagePullPolicy=IfNotPresent with {image}"))
    return found


@predicate
def image_not_pinned(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    return [Violation(name, str(container.get("image") or "(no image)"))
            for name, container in _containers(subject.pod_spec, lists)
            if not image_reference(str(container.get("image") or ""))[2]]


@predicate
def token_automounted(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """The pod does not opt out of the ServiceAccount token (automountServiceAccountToken: false)."""
    value = subject.pod_spec.get("automountServiceAccountToken")
    return [] if value is False else [Violation(None, f"automountServiceAccountToken={_shown(value)}")]


@predicate
def default_service_account(lists: Sequence[str], subject: Subject, context: ScanContext
                            ) -> list[Violation]:
    account = subject.pod_spec.get("serviceAccountName") or subject.pod_spec.get("serviceAccount")
    return [Violation(None, "serviceAccountName=default")] if account in (None, "", "default") else []


#: Names that look like they hold a secret (matched case-insensitively on word parts).
SECRET_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
                         r"CREDENTIALS?|AUTH|CLIENT_SECRET|CONNECTION_STRING|DSN)(_|$)", re.IGNORECASE)


@predicate
def env_secret_literal(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """An env var whose name looks secret with a literal `value` (not valueFrom a Secret). Only names
    are reported, never values."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        names = sorted({str(env.get("name")) for env in container.get("env") or []
                        if isinstance(env, Mapping) and env.get("value") not in (None, "")
                        and SECRET_NAME.search(str(env.get("name") or ""))})
        if names:
            found.append(Violation(name, ", ".join(names)))
    return found


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; an empty selector selects all."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


@predicate
def pdb_missing(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation] | None:
    """No PodDisruptionBudget in the namespace selects the workload's pods (needs the set of PDBs)."""
    if context.pdbs is None:
        return None
    labels = subject.pod_metadata.get("labels") or {}
    for pdb in context.pdbs:
        if _get(pdb, "metadata", "namespace") in (subject.namespace, None, "") and selector_matches(
                _get(pdb, "spec", "selector"), labels):
            return []
    return [Violation(None, "no PodDisruptionBudget selects its pods")]
