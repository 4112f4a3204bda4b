"""A peer's test suite as ours: Polaris's check fixtures (tests/k8sdata/security/polaris/cases.yaml,
transcribed as data from FairwindsOps/polaris `test/checks`, commit recorded there) for every check KAMS
also has. Each case runs through `python -m k8sdata scan` (in process) and must get Polaris's verdict, or
the verdict KAMS gives on purpose where the case says `kams:` and names the difference (docs/security.md,
"Polaris's fixtures")."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sdata.cli import main as cli_main
from k8sdata.security.engine import builtin_checks
from k8sdata.security.policy import AUDIT_IDS

CASES_FILE = Path(__file__).resolve().parent / "polaris" / "cases.yaml"
DATA: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
KNOWN_IDS = {check.id for check in builtin_checks()} | AUDIT_IDS


def _ids(case: dict[str, Any]) -> list[str]:
    wanted = case["kams_check"]
    return list(wanted) if isinstance(wanted, list) else [wanted]


def test_the_data_names_its_source_and_real_checks() -> None:
    assert len(DATA["upstream"]["commit"]) == 40
    assert len(CASES) >= 200
    for case in CASES:
        assert case["expect"] in ("pass", "fail") and case.get("kams", case["expect"]) in ("pass", "fail")
        assert case["source_file"].startswith(f"test/checks/{case['polaris_check']}/")
        assert set(_ids(case)) <= KNOWN_IDS, case["source_file"]
        # A deliberate difference says which one; agreement says nothing.
        assert ("kams" in case) == ("difference" in case), case["source_file"]
        if "kams" in case:
            assert case["kams"] != case["expect"] and case["difference"] in DATA["differences"]


def test_agreement_is_counted() -> None:
    """The tally docs/security.md quotes: cases where KAMS differs, each for a documented reason."""
    differing = [case for case in CASES if "kams" in case]
    assert (len(CASES), len(differing)) == (237, 33)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["source_file"].removeprefix("test/checks/"))
def test_polaris_case(case: dict[str, Any], tmp_path: Path) -> None:
    manifest = tmp_path / "case.yaml"
    manifest.write_text(case["manifest"], encoding="utf-8")
    out = io.StringIO()
    code = cli_main(["scan", str(manifest), "--format", "json", "--show-exempt"], out=out, err=io.StringIO(),
                    environ={})
    assert code == 0, out.getvalue()
    found = [finding for finding in json.loads(out.getvalue()) if finding["id"] in _ids(case)]
    verdict = "fail" if found else "pass"
    assert verdict == case.get("kams", case["expect"]), [finding["message"] for finding in found]
