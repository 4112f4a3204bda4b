"""The security engine: checks as data (checks/<ID>.yaml), run over Kubernetes objects, giving Findings.

One engine serves the live cluster (`python -m k8sdata scan --cluster`, the Security page) and manifests
(`scan PATH`, stdin, CI). It is pure: it takes parsed objects and returns records; reading files or the
API happens in the callers. See docs/security.md for the check format and how to add a check.

Every check KAMS makes is one file in checks/, and its rule is one of:
- `{schema: ...}`: a JSON Schema the target must satisfy;
- `{predicate: name}`: a function in k8sdata.security.predicates, for logic that needs code, such as
  pod-level vs container-level precedence or a look at other objects (PodDisruptionBudgets);
- `{audit: name}`: an audit over other inputs than workloads (RBAC, network, versions, vulnerabilities,
  see k8sdata.security.catalogue). The audit only says what it evaluated and what failed
  (`Evaluation`); `audit_result` turns that into Findings with the check's text, as `scan_objects` does.

Default severities are policy, kept apart from the checks in severities.yaml (users override them with
KAMS_SECURITY_SEVERITY, k8sdata.security.policy).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from k8sdata.security.predicates import PREDICATES, ScanContext, Subject, Violation
from k8sdata.security.sources import documents_with_lines

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
SEVERITIES_FILE = Path(__file__).resolve().parent / "severities.yaml"

#: Severities from least to most serious; "ignore" (only as an override) switches a check off.
SEVERITIES = ("info", "warning", "danger")
IGNORE = "ignore"
#: The container lists of a pod spec, in the order findings are reported.
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
TARGETS = ("container", "pod", "workload")
RULE_KINDS = ("schema", "predicate", "audit")
#: The key in severities.yaml of a check's severity when the audit names no case.
DEFAULT_CASE = "default"
PSS_LEVELS = ("baseline", "restricted")

#: Annotations that exempt an object from checks: "ID[,ID...]" and a free-text reason.
EXEMPT_ANNOTATION = "kams.io/exempt"
EXEMPT_REASON_ANNOTATION = "kams.io/exempt-reason"

#: Kinds whose pod template the engine checks, and where that template lives.
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = tuple(_TEMPLATE_PATHS)
#: Predicate -> the kinds besides the workloads it reads (ScanContext): without them it cannot judge.
PREDICATE_NEEDS: dict[str, tuple[str, ...]] = {
    "pdb_missing": ("PodDisruptionBudget",),
    "token_automounted": ("ServiceAccount",),
}
#: Predicates that read the PodDisruptionBudgets (ScanContext.pdbs).
PDB_PREDICATES = frozenset(name for name, kinds in PREDICATE_NEEDS.items() if "PodDisruptionBudget" in kinds)


class CheckError(ValueError):
    """A check file that does not follow the format (docs/security.md)."""


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    category: str
    severity: str  # default severity (severities.yaml); Settings.security_severity may override it
    target: str  # container | pod | workload; "" for an audit (it decides what it evaluates)
    rule: Mapping[str, Any]  # {"schema": {...}}, {"predicate": "name"} or {"audit": "name"}
    message: str  # may use {container} and {detail}
    remediation: str
    docs: str  # where the check is explained, relative to the repository
    references: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""  # what the check means, for the docs' tables (the title when empty)
    #: Named cases an audit may report with their own default severity (severities.yaml); an override
    #: of the check's severity replaces them too.
    case_severities: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[str, ...] = CONTAINER_LISTS  # container target: which lists
    kinds: tuple[str, ...] = WORKLOAD_KINDS  # only objects of these kinds
    long_running_only: bool = False  # skip Jobs, CronJobs and pods that run to completion
    linux_only: bool = False  # skip pods with spec.os.name == "windows" (the PSS page's exemptions)
    # The compiled schema of a schema rule (built once at load; not part of the check's identity).
    validator: Any = field(default=None, compare=False, repr=False)

    @property
    def pss(self) -> str | None:
        """The Pod Security Standards level of this check's control: None, "baseline" or "restricted"."""
        pss = self.references.get("pss")
        return pss.get("level") if isinstance(pss, Mapping) else None

    @property
    def needs_pdbs(self) -> bool:
        """Whether the check looks at PodDisruptionBudgets (without them it cannot be run)."""
        return self.rule.get("predicate") in PDB_PREDICATES

    @property
    def needs(self) -> tuple[str, ...]:
        """The kinds besides the workloads this check reads (a failed list of one leaves it incomplete)."""
        return PREDICATE_NEEDS.get(str(self.rule.get("predicate")), ())

    @property
    def audit(self) -> str | None:
        """The name of the audit that evaluates this check, None for a workload check."""
        name = self.rule.get("audit")
        return str(name) if name else None

    def severity_of(self, case: str | None) -> str:
        return self.case_severities.get(case, self.severity) if case else self.severity

    @property
    def pss_control(self) -> str | None:
        pss = self.references.get("pss")
        return pss.get("control") if isinstance(pss, Mapping) else None


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    severity: str
    category: str
    kind: str
    namespace: str
    name: str
    container: str | None
    message: str
    remediation: str
    pss: str | None  # None | "baseline" | "restricted"
    exempt: bool = False
    exempt_reason: str | None = None

    #: The keys of the CLI's JSON output, in order (the contract in docs/security.md).
    KEYS = ("id", "title", "severity", "category", "kind", "namespace", "name", "container", "message",
            "remediation", "pss")

    def record(self, *, with_exemption: bool = False) -> dict[str, Any]:
        record = {key: getattr(self, key) for key in self.KEYS}
        if with_exemption:
            record.update(exempt=self.exempt, exempt_reason=self.exempt_reason)
        return record


@dataclass(frozen=True)
class CheckResult:
    """One check evaluated on one object: the unit the score counts (see scoring.py)."""

    check_id: str
    category: str
    severity: str
    kind: str
    namespace: str
    name: str
    passed: bool
    exempt: bool


@dataclass(frozen=True)
class ScanResult:
    findings: list[Finding]
    results: list[CheckResult]
    skipped: list[str] = field(default_factory=list)  # sentences: what could not be evaluated and why
    #: Category -> why it has no score: an input it needs could not be read, so its evaluations are
    #: incomplete and a number would describe only what happened to arrive (scoring.score).
    unscored: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ loading

_REQUIRED = ("id", "title", "category", "rule", "message", "remediation", "docs")


def _rule_of(document: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    rule = document["rule"]
    if not isinstance(rule, Mapping) or len(rule) != 1 or not (set(RULE_KINDS) & set(rule)):
        raise CheckError(f"{source}: rule must be {{schema: ...}}, {{predicate: NAME}} or {{audit: NAME}}")
    if "predicate" in rule and rule["predicate"] not in PREDICATES:
        raise CheckError(f"{source}: unknown predicate {rule['predicate']!r}")
    if "audit" in rule and not isinstance(rule["audit"], str):
        raise CheckError(f"{source}: rule.audit must name an audit")
    return rule


def _check_from_document(document: Mapping[str, Any], source: str,
                         severities: Mapping[str, Any]) -> Check:
    if not isinstance(document, Mapping):
        raise CheckError(f"{source}: a check is a mapping")
    missing = [key for key in _REQUIRED if not document.get(key)]
    rule = _rule_of(document, source) if "rule" not in missing else {}
    if "audit" not in rule and not document.get("target"):
        missing.append("target")
    if missing:
        raise CheckError(f"{source}: missing {', '.join(missing)}")
    if "severity" in document:
        raise CheckError(f"{source}: severity is policy: set it in {SEVERITIES_FILE.name}, not in the check")
    if "audit" not in rule and document["target"] not in TARGETS:
        raise CheckError(f"{source}: target must be one of {', '.join(TARGETS)}")
    check_id = str(document["id"])
    severity, cases = _severity_of(check_id, severities, source)
    validator = None
    if "schema" in rule:
        jsonschema.Draft202012Validator.check_schema(rule["schema"])
        validator = jsonschema.Draft202012Validator(rule["schema"])
    check = Check(
        id=check_id, title=str(document["title"]), category=str(document["category"]),
        severity=severity, target=str(document.get("target") or ""), rule=rule,
        message=str(document["message"]).strip(), remediation=str(document["remediation"]).strip(),
        docs=str(document["docs"]), references=document.get("references") or {},
        description=" ".join(str(document.get("description") or "").split()), case_severities=cases,
        containers=tuple(document.get("containers") or CONTAINER_LISTS),
        kinds=tuple(document.get("kinds") or WORKLOAD_KINDS),
        long_running_only=bool(document.get("long_running_only", False)),
        linux_only=bool(document.get("linux_only", False)), validator=validator,
    )
    if check.pss is not None and check.pss not in PSS_LEVELS:
        raise CheckError(f"{source}: references.pss.level must be baseline or restricted")
    if set(check.containers) - set(CONTAINER_LISTS):
        raise CheckError(f"{source}: containers must name lists of {', '.join(CONTAINER_LISTS)}")
    return check


def _severity_of(check_id: str, severities: Mapping[str, Any], source: str) -> tuple[str, dict[str, str]]:
    """The check's default severity and its named cases: `ID: severity`, or `ID: {default: severity,
    CASE: severity, ...}` for an audit that grades some failures differently."""
    if check_id not in severities:
        raise CheckError(f"{source}: {SEVERITIES_FILE.name} gives no severity for {check_id}")
    entry = severities[check_id]
    cases = {str(case): str(value) for case, value in entry.items()} if isinstance(entry, Mapping) else {
        DEFAULT_CASE: str(entry)}
    if DEFAULT_CASE not in cases or set(cases.values()) - set(SEVERITIES):
        raise CheckError(f"{SEVERITIES_FILE.name}: {check_id}: severity must be one of "
                         f"{', '.join(SEVERITIES)} (a mapping needs {DEFAULT_CASE!r})")
    default = cases.pop(DEFAULT_CASE)
    return default, cases


def load_severities(path: Path = SEVERITIES_FILE) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    if not isinstance(document, Mapping):
        raise CheckError(f"{path.name}: expected a mapping of check id -> severity")
    return dict(document)


def load_checks(directory: Path = CHECKS_DIR, severities: Path | None = None) -> list[Check]:
    """Every check file (<ID>.yaml, the file named by its id), sorted by id, each with its default
    severity from `severities` (default: severities.yaml beside the checks' folder)."""
    defaults = load_severities(severities or directory.parent / SEVERITIES_FILE.name)
    checks = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        check = _check_from_document(document, path.name, defaults)
        if path.stem != check.id:
            raise CheckError(f"{path.name}: the file must be named after its id ({check.id}.yaml)")
        checks.append(check)
    unknown = set(defaults) - {check.id for check in checks}
    if unknown:
        raise CheckError(f"{SEVERITIES_FILE.name} names checks that do not exist: "
                         f"{', '.join(sorted(unknown))}")
    return checks


@functools.cache
def catalogue() -> tuple[Check, ...]:
    """Every check KAMS makes, workload checks and audits alike, sorted by id."""
    return tuple(load_checks(CHECKS_DIR, SEVERITIES_FILE))


@functools.cache
def catalogue_by_id() -> dict[str, Check]:
    return {check.id: check for check in catalogue()}


@functools.cache
def builtin_checks() -> tuple[Check, ...]:
    """The checks `scan_objects` runs on workloads (schema and predicate rules)."""
    return tuple(check for check in catalogue() if check.audit is None)


@functools.cache
def audit_checks(audit: str) -> tuple[Check, ...]:
    """The checks the audit `audit` evaluates, sorted by id."""
    return tuple(check for check in catalogue() if check.audit == audit)


def audit_ids() -> frozenset[str]:
    """The ids of every check an audit in code evaluates."""
    return frozenset(check.id for check in catalogue() if check.audit is not None)


def apply_severity_overrides(checks: Iterable[Check], overrides: Iterable[tuple[str, str]], *,
                             other_ids: Iterable[str] = ()) -> list[Check]:
    """Severity is policy: ID=severity pairs (Settings.security_severity) replace defaults; "ignore"
    drops the check. An unknown id or severity raises, so a typo in configuration is not silent;
    `other_ids` are ids the audits in code use (k8sdata.security.policy applies those)."""
    wanted = dict(overrides)
    checks = list(checks)
    unknown = set(wanted) - {check.id for check in checks} - set(other_ids)
    if unknown:
        raise ValueError(f"KAMS_SECURITY_SEVERITY names unknown checks: {', '.join(sorted(unknown))}")
    bad = {severity for severity in wanted.values() if severity not in (*SEVERITIES, IGNORE)}
    if bad:
        raise ValueError(f"KAMS_SECURITY_SEVERITY: severities must be {', '.join((*SEVERITIES, IGNORE))}")
    return [replace(check, severity=wanted[check.id], case_severities={}) if check.id in wanted else check
            for check in checks if wanted.get(check.id) != IGNORE]


# ------------------------------------------------------------------------------------------ objects

def _dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def subject_of(obj: Mapping[str, Any]) -> Subject | None:
    """The object with its pod template (metadata, spec) extracted; None for kinds without pods."""
    kind = str(obj.get("kind") or "")
    if kind not in _TEMPLATE_PATHS:
        return None
    template = _dig(obj, _TEMPLATE_PATHS[kind]) if _TEMPLATE_PATHS[kind] else obj
    template = template if isinstance(template, Mapping) else {}
    metadata = metadata_value if isinstance(metadata_value := obj.get("metadata"), Mapping) else {}
    return Subject(obj=obj, kind=kind, namespace=str(metadata.get("namespace") or ""),
                   name=str(metadata.get("name") or ""),
                   pod_metadata=pod_metadata if isinstance(pod_metadata := template.get("metadata"), Mapping)
                   else {},
                   pod_spec=pod_spec if isinstance(pod_spec := template.get("spec"), Mapping) else {})


def top_level(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drop objects whose controller is also in the set (a Deployment's ReplicaSets and their Pods, a
    CronJob's Jobs), so a finding is reported once, on the object a person edits."""
    objects = list(objects)
    uids = {_dig(obj, ("metadata", "uid")) for obj in objects} - {None}
    kept = []
    for obj in objects:
        owners = _dig(obj, ("metadata", "ownerReferences")) or []
        if any(isinstance(owner, Mapping) and owner.get("controller") and owner.get("uid") in uids
               for owner in owners):
            continue
        kept.append(obj)
    return kept


def exemptions(subject: Subject) -> tuple[frozenset[str], str | None]:
    """IDs exempted by `kams.io/exempt` on the object or its pod template, and the reason given."""
    ids: set[str] = set()
    reason = None
    for metadata in (subject.obj.get("metadata"), subject.pod_metadata):
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        if not isinstance(annotations, Mapping):
            continue
        ids.update(part.strip() for part in str(annotations.get(EXEMPT_ANNOTATION) or "").split(",")
                   if part.strip())
        reason = reason or (str(annotations.get(EXEMPT_REASON_ANNOTATION) or "").strip() or None)
    return frozenset(ids), reason


def _schema_path(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_violations(check: Check, document: Any, container: str | None) -> list[Violation]:
    errors = list(check.validator.iter_errors(document))
    if not errors:
        return []
    paths = sorted({_schema_path(error.absolute_path) for error in errors} - {""})
    return [Violation(container, ", ".join(paths))]


def _is_long_running(subject: Subject) -> bool:
    if subject.kind in ("Job", "CronJob"):
        return False
    if subject.kind == "Pod":
        owners = _dig(subject.obj, ("metadata", "ownerReferences")) or []
        if any(isinstance(owner, Mapping) and owner.get("kind") == "Job" for owner in owners):
            return False
        return (subject.pod_spec.get("restartPolicy") or "Always") == "Always"
    return True


def iter_containers(pod_spec: Mapping[str, Any], lists: Sequence[str] = CONTAINER_LISTS
                    ) -> Iterator[Mapping[str, Any]]:
    for list_name in lists:
        for container in pod_spec.get(list_name) or []:
            if isinstance(container, Mapping):
                yield container


def _violations(check: Check, subject: Subject, context: ScanContext) -> list[Violation] | None:
    """None when the check does not apply to this object; else its violations (empty = pass)."""
    if subject.kind not in check.kinds:
        return None
    if check.long_running_only and not _is_long_running(subject):
        return None
    if check.linux_only and _dig(subject.pod_spec, ("os", "name")) == "windows":
        return None
    if "predicate" in check.rule:
        return PREDICATES[check.rule["predicate"]](check.containers, subject, context)
    if check.target == "container":
        found: list[Violation] = []
        for container in iter_containers(subject.pod_spec, check.containers):
            found += _schema_violations(check, container, str(container.get("name") or ""))
        return found
    if check.target == "pod":
        return _schema_violations(check, {"metadata": subject.pod_metadata, "spec": subject.pod_spec}, None)
    return _schema_violations(check, subject.obj, None)


def _format(template: str, violation: Violation) -> str:
    # str.replace rather than str.format: names and values come from untrusted manifests.
    return template.replace("{container}", violation.container or "").replace("{detail}", violation.detail)


def service_accounts_by_name(objects: Iterable[Mapping[str, Any]]
                             ) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(namespace, name) -> ServiceAccount, for the effective automount setting of the pods using it."""
    return {(str(_dig(obj, ("metadata", "namespace")) or ""), str(_dig(obj, ("metadata", "name")) or "")): obj
            for obj in objects if obj.get("kind") == "ServiceAccount"}


def scan_objects(objects: Iterable[Mapping[str, Any]], checks: Sequence[Check] | None = None, *,
                 allowed_host_ports: Iterable[int] = (), pdbs_known: bool = True,
                 service_accounts_known: bool = True, dedupe_owned: bool = True) -> ScanResult:
    """Run `checks` (default: every built-in check) on every workload among `objects`.

    `objects` may hold anything (Services, PodDisruptionBudgets, ServiceAccounts, ...): non-workloads
    feed the checks that look across objects. `pdbs_known=False` says the PodDisruptionBudgets could not
    be read, so the PDB check is skipped rather than reporting every workload; likewise
    `service_accounts_known=False` for the ServiceAccounts (the token check then judges only pods that
    set the field themselves). Exempt findings are kept, marked.
    """
    objects = [obj for obj in objects if isinstance(obj, Mapping)]
    checks = list(builtin_checks() if checks is None else checks)
    pdbs = [obj for obj in objects if obj.get("kind") == "PodDisruptionBudget"] if pdbs_known else None
    context = ScanContext(pdbs=pdbs, allowed_host_ports=frozenset(allowed_host_ports),
                          service_accounts=service_accounts_by_name(objects) if service_accounts_known
                          else None)
    findings: list[Finding] = []
    results: list[CheckResult] = []
    for obj in (top_level(objects) if dedupe_owned else objects):
        subject = subject_of(obj)
        if subject is None:
            continue
        exempt_ids, reason = exemptions(subject)
        for check in checks:
            violations = _violations(check, subject, context)
            if violations is None:
                continue
            exempt = check.id in exempt_ids
            results.append(CheckResult(check.id, check.category, check.severity, subject.kind,
                                       subject.namespace, subject.name, not violations, exempt))
            findings += [Finding(
                id=check.id, title=check.title, severity=check.severity, category=check.category,
                kind=subject.kind, namespace=subject.namespace, name=subject.name,
                container=violation.container, message=_format(check.message, violation),
                remediation=check.remediation, pss=check.pss, exempt=exempt,
                exempt_reason=reason if exempt else None) for violation in violations]
    skipped = [] if pdbs_known else ["PodDisruptionBudgets could not be read, so the missing-PDB check "
                                     "was not run."]
    return ScanResult(findings, results, skipped)


@dataclass(frozen=True)
class Evaluation:
    """One check an audit evaluated on one object. `failure` is the detail of what failed (the check's
    message fills its {detail} with it); None when the object passed."""

    check_id: str
    kind: str
    namespace: str
    name: str
    failure: str | None = None
    case: str | None = None  # a named case with its own default severity (severities.yaml)


def audit_result(audit: str, evaluations: Iterable[Evaluation], skipped: Iterable[str] = (),
                 unscored: Mapping[str, str] | None = None) -> ScanResult:
    """The Findings and score units of an audit's evaluations, with the text and default severity of
    each check from the catalogue. An id the catalogue does not give to `audit` raises: an audit cannot
    report a check that is not written down."""
    checks = {check.id: check for check in audit_checks(audit)}
    findings: list[Finding] = []
    results: list[CheckResult] = []
    for evaluation in evaluations:
        check = checks.get(evaluation.check_id)
        if check is None:
            raise CheckError(f"audit {audit} reported {evaluation.check_id}, which is not one of its checks "
                             f"in {CHECKS_DIR.name}/")
        if evaluation.case is not None and evaluation.case not in check.case_severities:
            raise CheckError(f"audit {audit} reported case {evaluation.case!r} of {check.id}, which "
                             f"{SEVERITIES_FILE.name} does not grade")
        severity = check.severity_of(evaluation.case)
        passed = evaluation.failure is None
        results.append(CheckResult(check.id, check.category, severity, evaluation.kind, evaluation.namespace,
                                   evaluation.name, passed, False))
        if evaluation.failure is not None:
            findings.append(Finding(
                id=check.id, title=check.title, severity=severity, category=check.category,
                kind=evaluation.kind, namespace=evaluation.namespace, name=evaluation.name, container=None,
                message=_format(check.message, Violation(None, evaluation.failure)),
                remediation=check.remediation, pss=check.pss))
    return ScanResult(findings, results, list(skipped), dict(unscored or {}))


def parse_manifests(text: str) -> list[dict[str, Any]]:
    """Objects from YAML (or JSON) text: multi-document, `kind: List` items unpacked, blanks dropped,
    nulls read as absent (sources.without_nulls)."""
    return [document for document, _ in documents_with_lines(text)]


def severity_at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def pss_verdicts(findings: Iterable[Finding]) -> dict[str, dict[str, bool]]:
    """Per namespace: would its workloads pass Baseline and Restricted today (exempt findings count as
    failures here: Pod Security Admission knows nothing of KAMS's annotations)? Namespaces without
    PSS findings are absent (they pass both)."""
    verdicts: dict[str, dict[str, bool]] = {}
    for finding in findings:
        if finding.pss is None:
            continue
        verdict = verdicts.setdefault(finding.namespace, {"baseline": True, "restricted": True})
        verdict["restricted"] = False  # Restricted includes every Baseline control
        if finding.pss == "baseline":
            verdict["baseline"] = False
    return verdicts


#: The Pod Security Admission namespace labels (enforce, audit, warn and their -version).
PSS_LABEL_PREFIX = "pod-security.kubernetes.io/"


def namespace_pss_labels(namespace: Mapping[str, Any]) -> dict[str, str]:
    """A Namespace object's `pod-security.kubernetes.io/*` labels, keyed by mode (`enforce`,
    `enforce-version`, `audit`, ...)."""
    labels = _dig(namespace, ("metadata", "labels"))
    if not isinstance(labels, Mapping):
        return {}
    return {key.removeprefix(PSS_LABEL_PREFIX): str(value) for key, value in sorted(labels.items())
            if key.startswith(PSS_LABEL_PREFIX)}
