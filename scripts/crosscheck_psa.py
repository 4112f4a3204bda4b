"""Cross-check KAMS's Pod Security Standards checks against the reference implementation's own fixtures.

    .venv/bin/python scripts/crosscheck_psa.py PATH/TO/pod-security-admission/test/testdata [v1.37]

Every pass/fail pod of kubernetes/pod-security-admission's testdata for that version is scanned with
KAMS's PSS checks of its level (restricted includes baseline); the script prints each disagreement and
exits 1 if there is one. Their files are not copied into this repository, so this is a manual check (148
files agreed when the checks were written), not part of `make test`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8sdata.security.engine import builtin_checks, parse_manifests, scan_objects


def disagreements(root: Path, version: str) -> tuple[int, list[str]]:
    checks = builtin_checks()
    seen, wrong = 0, []
    for level, levels in (("baseline", {"baseline"}), ("restricted", {"baseline", "restricted"})):
        chosen = [check for check in checks if check.pss in levels]
        for outcome in ("pass", "fail"):
            for path in sorted((root / level / version / outcome).glob("*.yaml")):
                seen += 1
                found = bool(scan_objects(parse_manifests(path.read_text()), chosen).findings)
                if found != (outcome == "fail"):
                    wrong.append(f"{level}/{version}/{outcome}/{path.name}")
    return seen, wrong


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    seen, wrong = disagreements(Path(argv[0]), argv[1] if len(argv) > 1 else "v1.37")
    for name in wrong:
        print(f"disagrees: {name}")
    print(f"{seen - len(wrong)} of {seen} fixtures agree")
    return 1 if wrong or not seen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
