"""KAMS's alert rules: one source (sandbox/prometheus/rules.yml) and the PrometheusRule rendered from it
(deploy/k8s/prometheusrule.yaml) stay in sync, both pass `promtool check rules`, the PrometheusRule has
the shape the Prometheus Operator's CRD requires (kubernetes-validate has no schema for it), promtool's
unit tests prove each required alert fires on known input, and the demo's crash-looping pod and daily
error burst make them fire against the real demo Prometheus."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import BASE, ROOT, rendered
from tests.plugins.prometheus import Promtool

RULES_FILE = ROOT / "sandbox" / "prometheus" / "rules.yml"
MANIFEST = BASE / "prometheusrule.yaml"
UNIT_TESTS = Path(__file__).with_name("alert_rules_test.yml")
REQUIRED_ALERTS = {"HighErrorRate", "HighLatencyP95", "ApplicationDown", "KubePodCrashLooping",
                   "ContainerMemoryNearLimit"}
# The CRD's pattern for `for` (monitoring.coreos.com/v1 Duration) and Prometheus' label name rule.
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
                      r"(([0-9]+)ms)?)$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}

render_script = runpy.run_path(str(ROOT / "deploy" / "render_rules.py"))


def source_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def without_for(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**group, "rules": [{k: v for k, v in rule.items() if k != "for"} for rule in group["rules"]]}
            for group in groups]


def test_committed_manifest_is_what_the_script_renders() -> None:
    assert MANIFEST.read_text(encoding="utf-8") == render_script["render"](), (
        "deploy/k8s/prometheusrule.yaml is stale: run python deploy/render_rules.py > "
        "deploy/k8s/prometheusrule.yaml")


def test_prometheus_rule_groups_equal_the_sandbox_rules_except_production_for() -> None:
    groups = manifest()["spec"]["groups"]
    assert without_for(groups) == without_for(source_groups())
    alerts = {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}
    assert set(alerts) == set(render_script["PRODUCTION_FOR"]), "every alert needs a production `for:`"
    assert set(alerts) >= REQUIRED_ALERTS
    assert {name: rule["for"] for name, rule in alerts.items()} == render_script["PRODUCTION_FOR"]


def test_prometheus_rule_has_the_crd_shape_and_is_in_the_kustomization() -> None:
    [rule_object] = [obj for obj in rendered() if obj["kind"] == "PrometheusRule"]
    assert rule_object["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule_object["metadata"]["name"] == "kams-alerts"
    assert rule_object["metadata"]["namespace"] == "kams"
    assert set(rule_object) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule_object["spec"]) == {"groups"}
    names = [group["name"] for group in rule_object["spec"]["groups"]]
    assert len(names) == len(set(names)) and all(names)
    for group in rule_object["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules", "partial_response_strategy", "limit"}
        assert group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, rule
            assert ("alert" in rule) != ("record" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            if "for" in rule:
                assert DURATION.match(rule["for"]), rule["for"]
            for mapping in ("labels", "annotations"):
                for key, value in (rule.get(mapping) or {}).items():
                    assert LABEL_NAME.match(key) and isinstance(value, str), (mapping, key, value)
            if "alert" in rule:
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}
                assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_promtool_accepts_both_files(promtool: Promtool, tmp_path: Path) -> None:
    source = promtool("check", "rules", str(RULES_FILE))
    assert source.returncode == 0 and "SUCCESS" in source.stdout, source.stderr
    extracted = tmp_path / "prometheusrule-groups.yml"
    extracted.write_text(yaml.safe_dump({"groups": manifest()["spec"]["groups"]}), encoding="utf-8")
    deployed = promtool("check", "rules", str(extracted))
    count = sum(len(group["rules"]) for group in source_groups())
    assert deployed.returncode == 0 and f"SUCCESS: {count} rules found" in deployed.stdout, deployed.stderr


def test_promtool_unit_tests_fire_each_required_alert_on_known_input(promtool: Promtool) -> None:
    cases = yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))["tests"]
    tested = {case["alertname"] for test in cases for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested >= REQUIRED_ALERTS
    result = promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
