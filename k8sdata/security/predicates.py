"""Named predicates: the rules that need code (checks/<ID>.yaml says `rule: {predicate: NAME}`).

A predicate takes the container lists the check covers, the object under check (its pod template already
extracted) and the scan context, and returns the violations (empty = pass) or None when it does not
apply. Pod Security Standards predicates follow the official page
(https://kubernetes.io/docs/concepts/security/pod-security-standards/) and agree with the reference
implementation's checks (kubernetes/pod-security-admission, policy/check_*.go), including pod-level vs
container-level precedence and the `hostUsers: false` (user namespace) relaxations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from k8sdata.security.images import parse_image


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
    #: (namespace, name) -> ServiceAccount; None: unknown (could not be listed). In manifests, the
    #: ServiceAccounts of the same input.
    service_accounts: Mapping[tuple[str, str], Mapping[str, Any]] | None = None


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

@predicate
def image_tag_mutable(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """`:latest` or no tag (which means latest), unless pinned by digest."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        image = str(container.get("image") or "")
        if parse_image(image).is_mutable:
            found.append(Violation(name, image or "(no image)"))
    return found


def effective_pull_policy(container: Mapping[str, Any]) -> str:
    """imagePullPolicy as the API server defaults it when unset: Always for `:latest` or no tag (unless
    pinned by digest), IfNotPresent otherwise."""
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    return "Always" if parse_image(str(container.get("image") or "")).is_mutable else "IfNotPresent"


@predicate
def image_pull_policy(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """Never (any image already on the node runs, without the registry's authorization), or IfNotPresent
    with a mutable tag (nodes keep running whatever `latest` was when they first pulled it). An unset
    policy is judged as the API server defaults it (effective_pull_policy): never a violation."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        image = str(container.get("image") or "")
        policy = effective_pull_policy(container)
        if policy == "Never":
            found.append(Violation(name, "imagePullPolicy=Never"))
        elif policy == "IfNotPresent" and parse_image(image).is_mutable:
            found.append(Violation(name, f"imagePullPolicy=IfNotPresent with {image}"))
    return found


@predicate
def image_not_pinned(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    return [Violation(name, str(container.get("image") or "(no image)"))
            for name, container in _containers(subject.pod_spec, lists)
            if parse_image(str(container.get("image") or "")).digest is None]


def service_account_name(spec: Mapping[str, Any]) -> str:
    """The pod's ServiceAccount as the API server defaults it: serviceAccountName, else the deprecated
    serviceAccount, else "default"."""
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


@predicate
def token_automounted(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation] | None:
    """The effective automountServiceAccountToken is not false: the pod's field when set, else its
    ServiceAccount's (the kubelet's rule), else true. A ServiceAccount absent from what was read counts as
    one that leaves the default; when the ServiceAccounts could not be read at all, only pods that set
    the field are judged (None otherwise: no verdict from missing data)."""
    value = subject.pod_spec.get("automountServiceAccountToken")
    if isinstance(value, bool):
        return [] if value is False else [Violation(None, "automountServiceAccountToken=true on the pod")]
    if context.service_accounts is None:
        return None
    name = service_account_name(subject.pod_spec)
    account = context.service_accounts.get((subject.namespace, name))
    inherited = account.get("automountServiceAccountToken") if account is not None else None
    if inherited is False:
        return []
    if account is None:
        return [Violation(None, f"unset on the pod; ServiceAccount {name} was not found, so the default "
                                "(mounted) applies")]
    return [Violation(None, f"unset on the pod, and ServiceAccount {name} has "
                            f"automountServiceAccountToken={_shown(inherited)}")]


@predicate
def default_service_account(lists: Sequence[str], subject: Subject, context: ScanContext
                            ) -> list[Violation]:
    account = service_account_name(subject.pod_spec)
    return [Violation(None, "serviceAccountName=default")] if account == "default" else []


def _quantity_set(resources: Mapping[str, Any], bound: str, resource: str) -> bool:
    values = resources.get(bound)
    return isinstance(values, Mapping) and values.get(resource) not in (None, "")


@predicate
def requests_missing(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """CPU and memory requests, as the API server completes them: a resource with a limit and no request
    gets the limit as its request, so only a resource with neither is missing."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        resources = container.get("resources")
        resources = resources if isinstance(resources, Mapping) else {}
        missing = [resource for resource in ("cpu", "memory")
                   if not _quantity_set(resources, "requests", resource)
                   and not _quantity_set(resources, "limits", resource)]
        if missing:
            found.append(Violation(name, " and ".join(f"{resource} request" for resource in missing)))
    return found


#: Names that look like they hold a secret (matched case-insensitively on word parts): any literal value
#: under them is reported.
SECRET_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
                         r"CREDENTIALS?|AUTH|CLIENT_SECRET|CONNECTION_STRING|DSN)(_|$)", re.IGNORECASE)
#: Names that may hold a secret (CACHE_KEY, AZURE_BATCH_KEY, SESSION_SALT, DB_PASS, ...): a literal
#: value under them is reported only when it looks random (`looks_random`), since many such values are
#: plain words.
SUSPICIOUS_NAME = re.compile(r"KEY|SALT|SIGN|HMAC|SESSION|COOKIE|CERT|PASS|CRED|PRIVATE|BEARER|SECRET|"
                             r"TOKEN|AUTH", re.IGNORECASE)
#: Value shapes that are secrets whatever the variable is called: (what to say, pattern). What is said
#: names the shape only: the value itself never reaches a finding.
SECRET_VALUE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Polaris's fixture writes three dashes; PEM has five. Either way it is a key.
    ("a PEM private key", re.compile(r"-+\s*BEGIN[ A-Z0-9]*PRIVATE KEY", re.IGNORECASE)),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a Stripe live key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{16,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    # A password inside a URL (postgres://user:pw@host), but not $(OTHER_VAR), which Kubernetes expands
    # from another variable, the right way to build such a URL.
    ("a password in a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?!\$[({])[^/\s@]+@", re.IGNORECASE)),
)
#: `looks_random`: at least this long, and at least this many bits of entropy per character (random
#: hex is about 3.7-4, base64 about 5-6; words and host names stay below).
RANDOM_MIN_LENGTH = 16
RANDOM_MIN_BITS = 3.5


def looks_random(value: str) -> bool:
    """A value that looks like generated key material: long, no spaces, letters and digits, and a high
    Shannon entropy per character."""
    if len(value) < RANDOM_MIN_LENGTH or any(char.isspace() for char in value):
        return False
    if value.startswith(("/", "./", "~/")) or "://" in value:  # a file or an address names a secret, at most
        return False
    if not (any(char.isdigit() for char in value) and any(char.isalpha() for char in value)):
        return False
    counts = [value.count(char) for char in set(value)]
    bits = -sum(count / len(value) * math.log2(count / len(value)) for count in counts)
    return bits >= RANDOM_MIN_BITS


def secret_in_env(name: str, value: str) -> str | None:
    """Why a literal env var holds a secret (a phrase naming the shape, never the value), or None."""
    for label, pattern in SECRET_VALUE_SHAPES:
        if pattern.search(value):
            return label
    if SECRET_NAME.search(name):
        return "a literal value under a secret-looking name"
    if SUSPICIOUS_NAME.search(name) and looks_random(value):
        return "a random-looking value under a key-like name"
    return None


@predicate
def env_secret_literal(lists: Sequence[str], subject: Subject, context: ScanContext) -> list[Violation]:
    """A literal env `value` (not valueFrom a Secret) that holds a secret: a well-known secret shape in
    the value (PEM private key, cloud and chat tokens, JWTs, a password in a URL), any value under a
    secret-looking name, or a random-looking value under a key-like name. Only names and the kind of
    secret are reported, never values."""
    found = []
    for name, container in _containers(subject.pod_spec, lists):
        reasons: dict[str, str] = {}
        for env in container.get("env") or []:
            if not isinstance(env, Mapping) or env.get("value") in (None, ""):
                continue
            env_name = str(env.get("name") or "")
            reason = secret_in_env(env_name, str(env["value"]))
            if reason is not None:
                reasons.setdefault(env_name, reason)
        if reasons:
            found.append(Violation(name, ", ".join(f"{env_name} ({reason})"
                                                   for env_name, reason in sorted(reasons.items()))))
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
