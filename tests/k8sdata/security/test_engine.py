"""The engine's plumbing: check files, pod templates of every workload kind, owner dedupe, exemptions,
severity overrides, PSS verdicts per namespace, the cluster source, and the score formula."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from k8sdata.errors import Forbidden, NotInstalled
from k8sdata.security import scoring
from k8sdata.security.engine import (
    CheckError,
    CheckResult,
    apply_severity_overrides,
    builtin_checks,
    load_checks,
    pss_verdicts,
    scan_objects,
    subject_of,
    top_level,
)
from k8sdata.security.sources import cluster_objects

PRIVILEGED = {"containers": [{"name": "c", "image": "a:1", "securityContext": {"privileged": True}}]}


def _meta(name: str, uid: str | None = None, owner: str | None = None, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns", **extra}
    if uid:
        metadata["uid"] = uid
    if owner:
        metadata["ownerReferences"] = [{"kind": "X", "name": "o", "uid": owner, "controller": True}]
    return metadata


@pytest.mark.parametrize(
    ("kind", "wrap"),
    [
        ("Pod", lambda spec: spec),
        ("Deployment", lambda spec: {"template": {"spec": spec}}),
        ("StatefulSet", lambda spec: {"template": {"spec": spec}}),
        ("DaemonSet", lambda spec: {"template": {"spec": spec}}),
        ("ReplicaSet", lambda spec: {"template": {"spec": spec}}),
        ("Job", lambda spec: {"template": {"spec": spec}}),
        ("CronJob", lambda spec: {"jobTemplate": {"spec": {"template": {"spec": spec}}}}),
    ],
)
def test_pod_template_of_every_workload_kind(kind: str, wrap: Any) -> None:
    obj = {"kind": kind, "metadata": _meta("w"), "spec": wrap(PRIVILEGED)}
    subject = subject_of(obj)
    assert subject is not None and subject.pod_spec["containers"][0]["name"] == "c"
    assert [f.id for f in scan_objects([obj]).findings if f.id == "pss-privileged"] == ["pss-privileged"]


def test_objects_without_pods_are_ignored() -> None:
    assert subject_of({"kind": "Service", "metadata": _meta("s")}) is None
    assert scan_objects([{"kind": "ConfigMap"}, "junk", None]).findings == []  # type: ignore[list-item]


def test_owned_objects_are_reported_on_their_owner_only() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": _meta("d", uid="u1"),
        "spec": {"template": {"spec": PRIVILEGED}},
    }
    replica_set = {
        "kind": "ReplicaSet",
        "metadata": _meta("d-1", uid="u2", owner="u1"),
        "spec": {"template": {"spec": PRIVILEGED}},
    }
    pod = {"kind": "Pod", "metadata": _meta("d-1-x", uid="u3", owner="u2"), "spec": PRIVILEGED}
    orphan = {"kind": "Pod", "metadata": _meta("bare", uid="u4", owner="gone"), "spec": PRIVILEGED}
    assert [o["metadata"]["name"] for o in top_level([deployment, replica_set, pod, orphan])] == ["d", "bare"]
    names = {f.name for f in scan_objects([deployment, replica_set, pod, orphan]).findings}
    assert names == {"d", "bare"}


def test_exemption_on_the_pod_template_with_reason() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": _meta("d"),
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "kams.io/exempt": "pss-privileged,single-replica",
                        "kams.io/exempt-reason": "CNI agent",
                    }
                },
                "spec": PRIVILEGED,
            }
        },
    }
    result = scan_objects([obj])
    privileged = [f for f in result.findings if f.id == "pss-privileged"]
    assert privileged and all(f.exempt and f.exempt_reason == "CNI agent" for f in privileged)
    assert not any(f.exempt for f in result.findings if f.id not in ("pss-privileged", "single-replica"))
    assert all(r.exempt == (r.check_id in ("pss-privileged", "single-replica")) for r in result.results)


def test_severity_overrides() -> None:
    checks = apply_severity_overrides(
        builtin_checks(), [("pss-privileged", "warning"), ("pdb-missing", "ignore")]
    )
    by_id = {check.id: check for check in checks}
    assert by_id["pss-privileged"].severity == "warning" and "pdb-missing" not in by_id
    with pytest.raises(ValueError, match="unknown checks"):
        apply_severity_overrides(builtin_checks(), [("nope", "info")])
    with pytest.raises(ValueError, match="severities"):
        apply_severity_overrides(builtin_checks(), [("pss-privileged", "critical")])


def test_check_files_are_validated(tmp_path: Path) -> None:
    good = (Path(__file__).resolve().parents[3] / "k8sdata/security/checks/pss-privileged.yaml").read_text()
    folder = tmp_path / "checks"
    folder.mkdir()
    severities = tmp_path / "severities.yaml"
    severities.write_text("pss-privileged: danger\n")
    (folder / "other-name.yaml").write_text(good)
    with pytest.raises(CheckError, match="named after its id"):
        load_checks(folder)
    (folder / "other-name.yaml").unlink()
    (folder / "pss-privileged.yaml").write_text(good)
    assert [check.severity for check in load_checks(folder)] == ["danger"]
    for policy, problem in (("pss-privileged: critical\n", "severity must be"),
                            ("pss-privileged: {eol-soon: warning}\n", "severity must be"),
                            ("other: danger\n", "gives no severity"),
                            ("pss-privileged: danger\nnope: info\n", "do not exist")):
        severities.write_text(policy)
        with pytest.raises(CheckError, match=problem):
            load_checks(folder)
    severities.write_text("pss-privileged: danger\n")
    (folder / "pss-privileged.yaml").write_text(good + "severity: danger\n")
    with pytest.raises(CheckError, match="severity is policy"):
        load_checks(folder)
    (folder / "pss-privileged.yaml").write_text(
        good.replace("rule:\n  schema:", "rule:\n  predicate: nope\n  x:"))
    with pytest.raises(CheckError):
        load_checks(folder)
    (folder / "pss-privileged.yaml").write_text(good.replace("docs: ", "doc: "))
    with pytest.raises(CheckError, match="missing docs"):
        load_checks(folder)


def test_builtin_checks_have_unique_ids_and_references() -> None:
    checks = builtin_checks()
    assert len({check.id for check in checks}) == len(checks) >= 32
    assert all(check.pss_control for check in checks if check.id.startswith("pss-"))


def test_pss_verdicts_per_namespace() -> None:
    baseline_bad = {"kind": "Pod", "metadata": {"name": "a", "namespace": "one"}, "spec": PRIVILEGED}
    restricted_bad = {
        "kind": "Pod",
        "metadata": {"name": "b", "namespace": "two"},
        "spec": {"containers": [{"name": "c", "image": "a:1"}]},
    }
    verdicts = pss_verdicts(scan_objects([baseline_bad, restricted_bad]).findings)
    assert verdicts == {
        "one": {"baseline": False, "restricted": False},
        "two": {"baseline": True, "restricted": False},
    }


class _Client:
    """Answers KubeClient.list_resource like the API: items without kind; PDBs forbidden."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def list_resource(self, group_version: str, resource: str, namespace: str | None = None, *,
                      slim: Callable[[dict[str, Any]], Any] | None = None) -> list[Any]:
        self.asked.append((group_version, resource))
        if resource == "poddisruptionbudgets":
            raise Forbidden("Kubernetes API", "poddisruptionbudgets is forbidden")
        if resource == "cronjobs":
            raise NotInstalled("Kubernetes API", "batch/v1 cronjobs")
        if resource == "deployments":
            return [{"metadata": _meta("d"), "spec": {"replicas": 3, "template": {"spec": PRIVILEGED}}}]
        return []


def test_cluster_source_lists_workloads_never_secrets_and_skips_what_fails() -> None:
    client = _Client()
    objects = cluster_objects(client)
    assert ("v1", "secrets") not in client.asked
    assert [obj["kind"] for obj in objects.items] == ["Deployment"]
    assert objects.pdbs_known is False and len(objects.skipped) == 2
    result = scan_objects(objects.items, pdbs_known=objects.pdbs_known)
    assert "pdb-missing" not in {f.id for f in result.findings}
    assert "pss-privileged" in {f.id for f in result.findings}


def _results(
    passed: int, warnings: int, dangers: int, category: str = "C", **extra: int
) -> list[CheckResult]:
    rows = [CheckResult("x", category, "warning", "Pod", "ns", "p", True, False)] * passed
    rows += [CheckResult("x", category, "warning", "Pod", "ns", "p", False, False)] * warnings
    rows += [CheckResult("x", category, "danger", "Pod", "ns", "p", False, False)] * dangers
    rows += [CheckResult("x", category, "info", "Pod", "ns", "p", False, False)] * extra.get("info", 0)
    rows += [CheckResult("x", category, "danger", "Pod", "ns", "p", False, True)] * extra.get("exempt", 0)
    return rows


@pytest.mark.parametrize(
    ("passed", "warnings", "dangers", "value", "grade"),
    [
        (10, 0, 0, 100.0, "A"),
        (0, 0, 0, 100.0, "A"),
        (8, 2, 0, 88.9, "B"),
        (8, 0, 2, 80.0, "B"),
        (6, 2, 2, 66.7, "D"),
        (1, 0, 3, 25.0, "F"),
        (7, 1, 1, 82.4, "B"),
        (45, 10, 0, 90.0, "A"),
    ],
)
def test_score_formula(passed: int, warnings: int, dangers: int, value: float, grade: str) -> None:
    overall = scoring.score(_results(passed, warnings, dangers, info=3, exempt=4))[-1]
    assert (overall.category, overall.value, overall.grade) == ("Overall", value, grade)
    assert (overall.passed, overall.warnings, overall.dangers) == (passed, warnings, dangers)


def test_score_per_category_then_overall() -> None:
    scores = scoring.score(_results(1, 0, 1, "B") + _results(3, 1, 0, "A"))
    assert [(s.category, s.value) for s in scores] == [("A", 85.7), ("B", 50.0), ("Overall", 72.7)]
    assert [scoring.grade(v) for v in (90, 89.9, 80, 70, 60, 59.9)] == ["A", "B", "B", "C", "D", "F"]


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({}, True),
        (None, False),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "api"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
    ],
)
def test_pdb_selector_semantics(selector: Any, selected: bool) -> None:
    from k8sdata.security.predicates import selector_matches

    assert selector_matches(selector, {"app": "web", "tier": "front"}) == selected


def test_namespace_pss_labels() -> None:
    from k8sdata.security.engine import namespace_pss_labels

    namespace = {
        "kind": "Namespace",
        "metadata": {
            "name": "kams",
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "app": "kams",
            },
        },
    }
    assert namespace_pss_labels(namespace) == {"enforce": "restricted", "enforce-version": "latest"}
    assert namespace_pss_labels({"metadata": {"name": "x"}}) == {}
