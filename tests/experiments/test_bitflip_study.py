"""`python -m experiments bitflip`: configuration, run directory contents, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.config import ConfigError, resolve_config
from experiments.studies.bitflip import BitFlipConfig, main

TINY = [
    "seeds=0,1",
    "samples=4000",
    "switch_step=2000",
    "bin_size=1000",
    "width=3,4",
    "summary_window=2000",
    "probe_size=64",
    "flip_period=500",
    "progress=false",
]


def test_tiny_study_writes_config_metrics_summary_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--preset", "smoke", "--out", str(tmp_path), *TINY]) == 0
    run_dir = Path(capsys.readouterr().out.strip())
    assert run_dir.parent == tmp_path / "bitflip"
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["width"] == [3, 4] and config["samples"] == 4000
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 4 * 2  # widths x bins x seeds
    keys = {"step", "seed", "width", "loss", "effective_rank", "duplicate_fraction", "dead_fraction", "phase"}
    assert all(keys <= set(r) for r in records)
    assert {r["phase"] for r in records if r["step"] <= 2000} == {"sgd"}
    assert {r["phase"] for r in records if r["step"] > 2000} == {"cbp"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["widths"]["3"]) == {"sgd", "cbp"}
    assert (run_dir / "figure_b1.png").stat().st_size > 0 and (run_dir / "figure_b2.png").stat().st_size > 0


def test_unknown_key_lists_valid_keys(capsys: pytest.CaptureFixture) -> None:
    assert main(["widht=5"]) == 2
    error = capsys.readouterr().err
    assert "unknown key 'widht'" in error and "width" in error and "replacement_rate" in error


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["samples=1000", "bin_size=300"], "must divide samples"),
        (["device=cuda"], "CUDA|CPU"),
        (["activation=nope"], "activation"),
        (["flipping_bits=30"], "flipping_bits"),
        (["decay=1.0"], "out of range"),
    ],
)
def test_invalid_values_are_rejected(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(BitFlipConfig, "smoke", overrides)


def test_paper_preset_is_the_papers_grid() -> None:
    cfg = resolve_config(BitFlipConfig, "paper", [])
    assert cfg.width == (5, 10, 50, 100) and cfg.samples == 5_000_000 and cfg.switch_step == 2_500_000
    assert (cfg.replacement_rate, cfg.maturity, cfg.decay, cfg.lr) == (1e-4, 100, 0.99, 0.01)
