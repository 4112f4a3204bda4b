"""The check catalogue: every check KAMS makes is one file in checks/ (id, title, category, rule, message,
remediation, docs link), its default severity is in severities.yaml, and the audits that are code are
registered here by the name their checks' `rule: {audit: NAME}` gives.

    python -m k8sdata.security.catalogue --markdown [GROUP]    the id tables of the docs
    python -m k8sdata.security.catalogue --update docs/security*.md   rewrite those tables in place

A table in a Markdown file sits between `<!-- catalogue: GROUP ... -->` and `<!-- /catalogue -->`;
GROUP is `workloads` (the schema and predicate checks) or an audit's name. The docs' tables are
generated, so they cannot drift from the checks (tests/k8sdata/security/test_catalogue.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from k8sdata.security import network, rbac, versions, vulns
from k8sdata.security.engine import CHECKS_DIR, Check, ScanResult, catalogue

#: Audit name -> the function that evaluates its checks (and returns the engine's ScanResult).
AUDITS: dict[str, Callable[..., ScanResult]] = {
    rbac.AUDIT: rbac.rbac_scan,
    network.AUDIT: network.network_scan,
    versions.AUDIT: versions.versions_scan,
    vulns.AUDIT: vulns.vulnerability_scan,
}
#: Audit name -> the score category its module reports unscored sections under.
AUDIT_CATEGORIES = {rbac.AUDIT: rbac.CATEGORY, network.AUDIT: network.CATEGORY,
                    versions.AUDIT: versions.CATEGORY, vulns.AUDIT: vulns.CATEGORY}
WORKLOADS = "workloads"
GROUPS = (WORKLOADS, *AUDITS)

_BLOCK = re.compile(r"(<!-- catalogue: (?P<group>[\w-]+)[^>]*-->\n)(?P<table>.*?)(<!-- /catalogue -->)",
                    re.DOTALL)


def group_of(check: Check) -> str:
    return check.audit or WORKLOADS


def problems(checks: Sequence[Check] | None = None) -> list[str]:
    """What is inconsistent between the checks and the audits in code (empty when all is well)."""
    checks = catalogue() if checks is None else checks
    found = [f"{check.id}: rule.audit names {check.audit!r}, which is not a registered audit"
             for check in checks if check.audit is not None and check.audit not in AUDITS]
    found += [f"audit {name} has no check in {CHECKS_DIR.name}/" for name in AUDITS
              if not any(check.audit == name for check in checks)]
    found += [f"{check.id}: category {check.category!r}, but audit {check.audit} reports "
              f"{AUDIT_CATEGORIES[check.audit]!r}" for check in checks
              if check.audit in AUDIT_CATEGORIES and check.category != AUDIT_CATEGORIES[check.audit]]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _severity(check: Check) -> str:
    cases = ", ".join(f"{case}: {severity}" for case, severity in check.case_severities.items())
    return f"{check.severity} ({cases})" if cases else check.severity


def markdown_table(group: str, checks: Sequence[Check] | None = None) -> str:
    """The table of one group's checks, sorted by category then id, ending in a newline."""
    checks = catalogue() if checks is None else checks
    chosen = sorted((check for check in checks if group_of(check) == group),
                    key=lambda check: (check.category, check.id))
    if group == WORKLOADS:
        rows = ["| id | title | category | default severity | PSS level | notes |",
                "|---|---|---|---|---|---|"]
        rows += [f"| `{check.id}` | {_cell(check.title)} | {check.category} | {_severity(check)} | "
                 f"{check.pss or ''} | {_cell(check.description)} |" for check in chosen]
    else:
        rows = ["| id | title | default severity | what it means |", "|---|---|---|---|"]
        rows += [f"| `{check.id}` | {_cell(check.title)} | {_severity(check)} | "
                 f"{_cell(check.description or check.title)} |" for check in chosen]
    return "\n".join(rows) + "\n"


def generated_blocks(text: str) -> list[tuple[str, str]]:
    """(group, table) of each generated block in a Markdown text, as it stands."""
    return [(match["group"], match["table"]) for match in _BLOCK.finditer(text)]


def regenerate(text: str, checks: Sequence[Check] | None = None) -> str:
    """The Markdown text with every generated block's table rebuilt from the catalogue."""
    def rebuilt(match: re.Match[str]) -> str:
        group = match["group"]
        if group not in GROUPS:
            raise ValueError(f"unknown catalogue group {group!r} (one of {', '.join(GROUPS)})")
        return f"{match[1]}{markdown_table(group, checks)}{match[4]}"

    return _BLOCK.sub(rebuilt, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8sdata.security.catalogue",
                                     description="The security check catalogue's tables for the docs.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", nargs="?", const="", metavar="GROUP",
                        help=f"print the table of GROUP ({', '.join(GROUPS)}), or of every group")
    action.add_argument("--update", nargs="+", type=Path, metavar="FILE",
                        help="rewrite the generated tables in these Markdown files")
    args = parser.parse_args(argv)
    trouble = problems()
    if trouble:
        print("\n".join(trouble), file=sys.stderr)
        return 1
    if args.update:
        for path in args.update:
            text = path.read_text(encoding="utf-8")
            path.write_text(regenerate(text), encoding="utf-8")
        return 0
    groups: list[str] = [args.markdown] if args.markdown else list(GROUPS)
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        parser.error(f"unknown group {unknown[0]!r}: one of {', '.join(GROUPS)}")
    print("\n".join(f"### {group}\n\n{markdown_table(group)}" if len(groups) > 1 else markdown_table(group)
                    for group in groups), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
