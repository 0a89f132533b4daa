"""``python -m experiments plot``: one command redraws any study's figures from its saved runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.__main__ import main as experiments_main
from experiments.config import ConfigError, config_from_dict, resolve_config
from experiments.runs import load_config
from experiments.studies import bitflip, continual


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    bf_cfg = resolve_config(
        bitflip.BitFlipConfig,
        "smoke",
        [
            "seeds=0,1",
            "samples=4000",
            "width=5",
            "switch_step=2000",
            "bin_size=1000",
            "summary_window=1000",
            "probe_size=64",
            "progress=false",
            "figures=false",
        ],
    )
    cl_cfg = continual.resolve_continual_config(
        "smoke",
        [
            "tasks=2",
            "steps_per_task=10",
            "log_interval=5",
            "seeds=0",
            f"out={root}",
            "progress=false",
            "figures=false",
        ],
    )
    return {"bitflip": bitflip.run_study(bf_cfg, root), "continual": continual.run(cl_cfg)}


def test_saved_configuration_round_trips(saved_runs: dict[str, Path]) -> None:
    saved = load_config(saved_runs["bitflip"])
    cfg = config_from_dict(bitflip.BitFlipConfig, saved)
    assert cfg.to_dict() == saved and cfg.width == (5,)
    with pytest.raises(ConfigError, match="unknown keys bogus"):
        config_from_dict(bitflip.BitFlipConfig, {**saved, "bogus": 1})


@pytest.mark.parametrize(
    "study, expected", [("bitflip", ["figure_b1.png", "figure_b2.png"]), ("continual", ["curves.png"])]
)
def test_plot_redraws_each_study(
    saved_runs: dict[str, Path], study: str, expected: list[str], capsys
) -> None:
    assert experiments_main(["plot", str(saved_runs[study])]) == 0
    printed = capsys.readouterr().out
    for name in expected:
        assert name in printed and any(p.name == name for p in saved_runs[study].rglob(name))


def test_plot_refuses_runs_of_two_studies(saved_runs: dict[str, Path], capsys) -> None:
    assert experiments_main(["plot", str(saved_runs["bitflip"]), str(saved_runs["continual"])]) == 2
    assert "runs of several studies" in capsys.readouterr().err


def test_overrides_may_follow_options_but_unknown_options_are_errors(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        experiments_main(["cloning", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert experiments_main(["cloning", "--preset", "smoke", "--out", str(tmp_path), "not_a_key=1"]) == 2
    assert "unknown key 'not_a_key'" in capsys.readouterr().err
