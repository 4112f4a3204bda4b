"""`need_real(program)`: the path of a real server built by scripts/real-servers.sh, for a test or fixture.

When it was not built, the test is skipped with a sentence saying how to build it, or, under
KAMS_REQUIRE_REAL_SERVERS=1 (what .ci/run sets), fails: CI must never pass by skipping the real servers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import realservers


def need_real(program: str) -> Path:
    path = realservers.binary(program)
    if path is None:
        reason = realservers.missing_reason(program)
        if realservers.required():
            pytest.fail(f"{reason} ({realservers.REQUIRE_VARIABLE} is set, so this cannot be skipped)")
        pytest.skip(reason)
    return path
