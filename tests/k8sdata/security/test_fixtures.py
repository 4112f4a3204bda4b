"""Every check has pass and fail fixtures, discovered from tests/k8sdata/security/fixtures/<ID>/:
each pass*.yaml must be evaluated by the check without a finding (pass-windows*: the check must not
apply at all, the PSS page's Windows exemption), each fail*.yaml must give one."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sdata.security.engine import builtin_checks, parse_manifests, scan_objects

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKS = {check.id: check for check in builtin_checks()}


def _fixture_files() -> list[tuple[str, Path]]:
    return [(folder.name, path) for folder in sorted(FIXTURES.iterdir()) if folder.is_dir()
            for path in sorted(folder.glob("*.yaml"))]


def test_every_check_has_pass_and_fail_fixtures() -> None:
    for check_id in CHECKS:
        folder = FIXTURES / check_id
        assert list(folder.glob("pass*.yaml")), f"{check_id}: no pass fixture"
        assert list(folder.glob("fail*.yaml")), f"{check_id}: no fail fixture"


def test_every_fixture_folder_names_a_check() -> None:
    assert {folder.name for folder in FIXTURES.iterdir() if folder.is_dir()} <= set(CHECKS)


@pytest.mark.parametrize(("check_id", "path"), _fixture_files(), ids=lambda v: getattr(v, "name", v))
def test_fixture(check_id: str, path: Path) -> None:
    result = scan_objects(parse_manifests(path.read_text()), [CHECKS[check_id]])
    found = [finding for finding in result.findings if finding.id == check_id]
    if path.name.startswith("pass"):
        # A pass must be a real evaluation, except the Windows exemptions (the check must not apply).
        applied = bool(result.results)
        assert applied != ("windows" in path.name), f"{path}: applied={applied}"
        assert not found, [finding.message for finding in found]
    else:
        assert path.name.startswith("fail"), path
        assert found, f"{path}: expected a {check_id} finding"
        assert all(finding.pss == CHECKS[check_id].pss for finding in found)
