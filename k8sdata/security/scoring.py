"""The security score: one number per category and overall, and an A-F grade.

The unit is a check evaluated on one object (CheckResult): a check that applies to a Deployment counts
once for it, however many containers fail. Like Polaris, a failed "danger" weighs twice a failed
"warning", and a pass weighs as much as a failed danger:

    score = 100 * 2S / (2S + W + 2D)

S = passed evaluations, W = failed evaluations of "warning" checks, D = failed evaluations of "danger"
checks. "info" checks are advisory and do not move the score; exempted evaluations (kams.io/exempt) are
left out entirely. With nothing evaluated the score is 100. Grades: A >= 90, B >= 80, C >= 70, D >= 60,
F below.

No score from missing inputs: a category whose inputs could not all be read (ScanResult.unscored) has
no value and no grade, only a note saying why. A partial category would score what happened to arrive
(an unreadable pods list once raised the score from 81 to 84.4). The Overall is withheld whenever any
category is unscored, for the same reason; otherwise its note names the categories it covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from k8sdata.errors import SourceError
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
    value: float | None  # 0-100, one decimal; None: not scored (`note` says why)
    grade: str | None  # A-F; None when not scored
    #: Why there is no value ("Not scored: ..."), or for the Overall which categories it covers.
    note: str = ""

    @property
    def scored(self) -> bool:
        return self.value is not None

    def label(self) -> str:
        """"84.4 (B)", or "not scored" (for tables and the command line)."""
        return "not scored" if self.value is None else f"{self.value:g} ({self.grade})"


def grade(value: float) -> str:
    return next(letter for lowest, letter in GRADES if value >= lowest)


def _counts(results: list[CheckResult]) -> tuple[int, int, int]:
    counted = [result for result in results if not result.exempt and result.severity != "info"]
    passed = sum(result.passed for result in counted)
    warnings = sum(not result.passed and result.severity == "warning" for result in counted)
    dangers = sum(not result.passed and result.severity == "danger" for result in counted)
    return passed, warnings, dangers


def _score(category: str, results: list[CheckResult], note: str = "") -> Score:
    passed, warnings, dangers = _counts(results)
    denominator = 2 * passed + warnings + 2 * dangers
    value = round(100.0 * 2 * passed / denominator, 1) if denominator else 100.0
    return Score(category, passed, warnings, dangers, value, grade(value), note)


def _unscored(category: str, results: list[CheckResult], note: str) -> Score:
    # The counts of what did arrive stay visible; only the number and grade are withheld.
    return Score(category, *_counts(results), None, None, note)


def names(categories: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return categories[0] if len(categories) == 1 else f"{', '.join(categories[:-1])} and {categories[-1]}"


def kinds_list(kind: str) -> str:
    """"the Pods list", "the NetworkPolicies list", "the Ingresses list" (a Kubernetes kind's list)."""
    plural = (f"{kind[:-1]}ies" if kind.endswith("y") else f"{kind}es" if kind.endswith("s")
              else f"{kind}s")
    return f"the {plural} list"


def unread(failed: Mapping[str, SourceError]) -> str:
    """Why a category is not scored, from the inputs that failed (a phrase such as "the Pods list" ->
    its error): "the Pods list and the Services list could not be read. <each distinct sentence>"."""
    sentences = list(dict.fromkeys(error.sentence.strip() for error in failed.values()))
    return " ".join([f"{names(list(failed))} could not be read.", *sentences])


def score(results: Iterable[CheckResult], unscored: Mapping[str, str] | None = None) -> list[Score]:
    """One Score per category (sorted by name), then the overall one (category "Overall").

    `unscored`: category -> the sentence saying which of its inputs could not be read
    (ScanResult.unscored). Such a category is listed without a value ("Not scored: ..."), even when
    nothing of it was evaluated, and the Overall is then withheld (value None, its note names them)."""
    results = list(results)
    missing = dict(unscored or {})
    categories = sorted({result.category for result in results} | set(missing))
    scores = []
    for category in categories:
        mine = [r for r in results if r.category == category]
        scores.append(_unscored(category, mine, f"Not scored: {missing[category]}") if category in missing
                      else _score(category, mine))
    covered = [category for category in categories if category not in missing]
    if missing:
        note = (f"Withheld: {names(sorted(missing))} could not be scored, so a total would leave "
                "them out.")
        scores.append(_unscored(OVERALL, results, note))
    else:
        scores.append(_score(OVERALL, results, f"From {names(covered)}." if covered
                             else "Nothing was evaluated."))
    return scores


def overall(scores: Iterable[Score]) -> Score | None:
    return next((s for s in scores if s.category == OVERALL), None)
