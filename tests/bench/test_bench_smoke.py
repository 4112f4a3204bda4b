"""The bench harness end to end at a tiny size, so `make bench` does not rot. No timed assertions: the
figures are the benchmark's business; this checks that every column is measured and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import main as bench_main


def test_bench_runs_at_a_tiny_size_and_writes_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.md"
    # bench.measure raises if KAMS, kubectl or the watch cache saw a different number of pods than served.
    assert bench_main(["--sizes", "200", "--repeat", "2", "--out", str(out)]) == 0
    table = out.read_text()
    assert table.strip() in capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| 200 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert len(cells) == 9
    assert all(cells[i].endswith(" s") for i in (1, 3, 5, 8))
    assert all(cells[i].endswith(" MB") and float(cells[i].split()[0]) > 0 for i in (2, 4, 6))
    assert float(cells[7]) > 0  # the ratio to kubectl was computed from two real timings
    assert "not measured in this run" in table  # 20k and 100k targets are not claimed from a tiny run
    assert "cores, Python" in table
    runs = next(line for line in table.splitlines() if line.startswith("- 200 pods: "))
    assert runs.count(",") == 3  # two runs of KAMS, of the watch cache and of kubectl, each listed
