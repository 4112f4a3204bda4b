"""Security checks as data (checks/<ID>.yaml), the engine that runs them, and the score.

    from k8sdata.security import scan_objects, score
    result = scan_objects(objects)            # Findings for every workload among the objects
    report = score(result.results)            # per category and overall, 0-100 and A-F

See docs/security.md.
"""

from k8sdata.security.engine import (
    EXEMPT_ANNOTATION,
    EXEMPT_REASON_ANNOTATION,
    SEVERITIES,
    Check,
    CheckError,
    CheckResult,
    Finding,
    ScanResult,
    apply_severity_overrides,
    builtin_checks,
    load_checks,
    namespace_pss_labels,
    parse_manifests,
    pss_verdicts,
    scan_objects,
)
from k8sdata.security.scoring import Score, grade, score

__all__ = [
    "EXEMPT_ANNOTATION", "EXEMPT_REASON_ANNOTATION", "SEVERITIES", "Check", "CheckError", "CheckResult",
    "Finding", "ScanResult", "Score", "apply_severity_overrides", "builtin_checks", "grade", "load_checks",
    "namespace_pss_labels", "parse_manifests", "pss_verdicts", "scan_objects", "score",
]
