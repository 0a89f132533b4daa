"""``python -m dag_nets stability`` end to end on a tiny configuration."""

from __future__ import annotations

from pathlib import Path

from dag_nets.__main__ import main


def test_stability_command_writes_plot(tmp_path: Path, capsys) -> None:
    rc = main(["stability", "--widths", "2", "2", "--steps", "4", "--checkpoints", "2", "--samples", "8", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "saddle" in out or "stable" in out or "degenerate" in out or "unstable" in out
    assert (tmp_path / "stability.png").stat().st_size > 1000
    assert len((tmp_path / "stability.csv").read_text().splitlines()) == 1 + 2 * 2


def test_bad_arguments(capsys) -> None:
    assert main(["stability", "--clone", "0"]) == 2
