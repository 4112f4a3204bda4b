"""Render deploy/k8s/prometheusrule.yaml from the one source of KAMS's alert rules,
sandbox/prometheus/rules.yml (the file the demo's Prometheus loads).

    python deploy/render_rules.py > deploy/k8s/prometheusrule.yaml

The groups are copied as they are, except `for:`: the demo waits seconds so alerts fire while someone
watches, a production cluster waits minutes so a blip does not page anyone. PRODUCTION_FOR must name
every alert, so a new rule cannot ship without that decision (tests/deploy/test_alert_rules.py checks
it, and that the committed manifest is exactly what this script prints).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "sandbox" / "prometheus" / "rules.yml"

#: How long each alert's condition must hold in production before it fires (kubernetes-mixin's values
#: where it has the alert).
PRODUCTION_FOR: dict[str, str] = {
    "KubePodCrashLooping": "15m",
    "KubePodNotReady": "15m",
    "ContainerOOMKilled": "0s",
    "ContainerMemoryNearLimit": "15m",
    "HighErrorRate": "10m",
    "HighLatencyP95": "10m",
    "ApplicationDown": "5m",
    "TargetDown": "15m",
}

HEADER = """\
# GENERATED from sandbox/prometheus/rules.yml by `python deploy/render_rules.py`; edit that file, then
# regenerate. KAMS's alert rules for the Prometheus Operator (kube-prometheus-stack): high error ratio,
# high p95 latency, an application down, a pod crash-looping, a container near its memory limit, and a
# few neighbours. The operator loads PrometheusRules whose labels match its ruleSelector; the
# kube-prometheus-stack chart's default selector is `release: <its release name>`, so set that label
# (kustomize `labels:` in an overlay) if your release is not called kube-prometheus-stack.
"""


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as `|` blocks, as people write them."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _string)


def production_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule groups with production `for:` durations (recording rules are kept as they are)."""
    rendered = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            rule = dict(rule)
            if "alert" in rule:
                rule["for"] = PRODUCTION_FOR[rule["alert"]]
            rules.append(rule)
        rendered.append({**group, "rules": rules})
    return rendered


def prometheus_rule(rules_file: Path = RULES_FILE) -> dict[str, Any]:
    groups = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "kams-alerts",
            "labels": {"app.kubernetes.io/name": "kams", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": production_groups(groups)},
    }


def render(rules_file: Path = RULES_FILE) -> str:
    return HEADER + yaml.dump(prometheus_rule(rules_file), Dumper=_LiteralDumper, sort_keys=False,
                              width=120)


if __name__ == "__main__":
    sys.stdout.write(render())
