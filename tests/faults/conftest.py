"""The fault matrix's summary at the end of the run (every run that failed, and the slowest)."""

from __future__ import annotations

from typing import Any

#: Lines the matrix module leaves for the summary (tests/faults/test_fault_matrix.py).
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUMMARY:
        terminalreporter.section("fault matrix")
        for line in SUMMARY:
            terminalreporter.write_line(line)
