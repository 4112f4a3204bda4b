"""The security score: one number per category and overall, and an A-F grade.

The unit is a check evaluated on one object (CheckResult): a check that applies to a Deployment counts
once for it, however many containers fail. Like Polaris, a failed "danger" weighs twice a failed
"warning", and a pass weighs as much as a failed danger:

    score = 100 * 2S / (2S + W + 2D)

S = passed evaluations, W = failed evaluations of "warning" checks, D = failed evaluations of "danger"
checks. "info" checks are advisory and do not move the score; exempted evaluations (kams.io/exempt) are
left out entirely. With nothing evaluated the score is 100. Grades: A >= 90, B >= 80, C >= 70, D >= 60,
F below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from k8sdata.security.engine import CheckResult

OVERALL = "Overall"
#: (lowest score for the grade, grade), best first.
GRADES = ((90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"), (0.0, "F"))


@dataclass(frozen=True)
class Score:
    category: str
    passed: int  # S
    warnings: int  # W
    dangers: int  # D
    value: float  # 0-100, one decimal
    grade: str  # A-F


def grade(value: float) -> str:
    return next(letter for lowest, letter in GRADES if value >= lowest)


def _score(category: str, results: list[CheckResult]) -> Score:
    counted = [result for result in results if not result.exempt and result.severity != "info"]
    passed = sum(result.passed for result in counted)
    warnings = sum(not result.passed and result.severity == "warning" for result in counted)
    dangers = sum(not result.passed and result.severity == "danger" for result in counted)
    denominator = 2 * passed + warnings + 2 * dangers
    value = round(100.0 * 2 * passed / denominator, 1) if denominator else 100.0
    return Score(category, passed, warnings, dangers, value, grade(value))


def score(results: Iterable[CheckResult]) -> list[Score]:
    """One Score per category (sorted by name), then the overall one (category "Overall")."""
    results = list(results)
    categories = sorted({result.category for result in results})
    return [*(_score(category, [r for r in results if r.category == category]) for category in categories),
            _score(OVERALL, results)]
