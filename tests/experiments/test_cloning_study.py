"""The cloning study end to end on a tiny offline configuration, its CLI, and the plot command."""

from __future__ import annotations

import json

import pytest
import torch

from experiments.__main__ import SUBCOMMANDS, main
from experiments.config import ConfigError, resolve_config
from experiments.precision import autocast, resolve_amp
from experiments.runs import load_config, load_metrics
from experiments.studies.cloning import CloningConfig, run

TINY = [
    "dataset=synthetic",
    "synthetic_shape=3,8,8",
    "train_samples=128",
    "test_samples=64",
    "width=0.0625",
    "base_epochs=1",
    "clone_epochs=2",
    "metric_every=1",
    "metric_batch=40",
    "batch_size=32",
    "progress=false",
    "threads=1",
]


def test_tiny_run_writes_config_metrics_and_figure(tmp_path):
    cfg = resolve_config(CloningConfig, "smoke", TINY + [f"out={tmp_path}"])
    run_dir = run(cfg)
    assert load_config(run_dir)["clone_epochs"] == 2 and load_config(run_dir)["device"] == "cpu"
    recs = load_metrics(run_dir)
    clone_recs = [r for r in recs if r["phase"] == "clone"]
    assert [r["step"] for r in clone_recs] == [0, 1, 2]
    assert clone_recs[0]["expansion_max_deviation"] <= 1e-5
    assert all(r["cloning_r2"] == pytest.approx(1.0, abs=1e-6) for r in clone_recs)  # SGD stays cloned
    assert {"clone_loss", "base_loss", "clone_effective_rank", "agreement"} <= set(clone_recs[-1])
    assert (run_dir / "figures" / "cloning.png").stat().st_size > 1000
    second = run(cfg)
    assert second != run_dir and len(load_metrics(run_dir)) == len(recs)  # never overwritten


def test_dropout_breaks_cloning_and_bf16_autocast_runs_on_cpu(tmp_path):
    cfg = resolve_config(
        CloningConfig, "smoke", TINY + [f"out={tmp_path}", "dropout=0.3", "amp=bf16", "lr=0.1"]
    )
    recs = [r for r in load_metrics(run(cfg)) if "cloning_r2" in r]
    assert recs[-1]["cloning_r2"] < 1.0 - 1e-6
    assert (
        json.loads((next(tmp_path.rglob("config.json"))).read_text())["resolved"]["amp"] == "torch.bfloat16"
    )


def test_amp_and_autocast_resolution():
    assert resolve_amp("auto", "cpu") is None and resolve_amp("bf16", "cpu") == torch.bfloat16
    with autocast("cpu", torch.bfloat16):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        if not torch.cuda.is_available():
            resolve_config(CloningConfig, "smoke", ["amp=fp16"])
        else:
            raise ConfigError("fp16 needs CUDA")


def test_cli_and_plot(tmp_path, capsys):
    assert set(SUBCOMMANDS) >= {"cloning", "plot"}
    assert main(["cloning", "--preset", "smoke", "--out", str(tmp_path), *TINY]) == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["cloning", "--preset", "smoke", "--out", str(tmp_path), *TINY, "seed=1"]) == 0
    assert main(["plot", str(tmp_path), "--output", str(tmp_path / "all.png")]) == 0
    assert (tmp_path / "all.png").is_file() and run_dir
    assert main(["cloning", "--preset", "smoke", "bogus=1"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
    assert main(["cloning", "--preset", "smoke", "optimizer=rmsprop"]) == 2
    assert "choices: sgd, adam, noisy_sgd" in capsys.readouterr().err


def test_paper_preset_has_the_papers_settings():
    cfg = resolve_config(CloningConfig, "paper", [])
    assert (cfg.dataset, cfg.base_epochs, cfg.clone_epochs, cfg.lr, cfg.sigma0, cfg.decay) == (
        "cifar10",
        20,
        500,
        0.01,
        0.01,
        0.999,
    )
    assert cfg.amp == "auto" and cfg.pin_memory == "auto" and cfg.augment


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "cnn", "resnet", "vit"])
def test_paper_size_models_clone_exactly_in_float32(arch):
    from experiments.cloning import FLOAT32_RTOL, compare_with_base, expand_with_plan
    from experiments.models import build

    torch.manual_seed(0)
    base = build(arch, (3, 32, 32), 10, dropout=0.0)
    with torch.no_grad():
        base.train()
        for _ in range(2):
            base(torch.randn(8, 3, 32, 32))
    clone, plan = expand_with_plan(base, 2)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    report = compare_with_base(base, clone, plan, x, y, train=False, gradient_reference="model")
    assert report.max_deviation() <= FLOAT32_RTOL, report.worst()


def test_bug_cloning_leaves_the_torch_thread_count_changed(tmp_path, monkeypatch):
    """Before: ``threads=2`` called torch.set_num_threads(2) and never restored the caller's setting.
    (Training is replaced by a probe of the thread count: two threads on the loaded CI machine are slow.)"""
    import experiments.studies.cloning as study

    seen = []
    monkeypatch.setattr(
        study, "train_and_log", lambda setup, test, run_dir: seen.append(torch.get_num_threads())
    )
    monkeypatch.setattr(study, "draw_run", lambda run_dir: None)
    before = torch.get_num_threads()
    run_dir = run(resolve_config(CloningConfig, "smoke", [*TINY[:-1], "threads=2", f"out={tmp_path}"]))
    assert seen == [2] and torch.get_num_threads() == before
    assert json.loads((run_dir / "config.json").read_text())["environment"]["torch_threads"] == 2
    assert json.loads((run_dir / "status.json").read_text())["state"] == "complete"


def test_subset_sizes_beyond_the_dataset_are_errors(tmp_path, monkeypatch):
    """train_samples larger than the dataset would silently mean "all" while recording the larger number."""
    import experiments.studies.cloning as study
    from experiments.data import make_synthetic

    monkeypatch.setattr(
        study, "load_dataset", lambda name, data_dir, train, download: make_synthetic(100 if train else 40)
    )
    cfg = resolve_config(CloningConfig, "paper", ["train_samples=101", f"out={tmp_path}"])
    with pytest.raises(
        ConfigError,
        match=r"train_samples=101 exceeds the 100 images of cifar10; give at most 100 \(0 = all\)",
    ):
        study.prepare(cfg)
    cfg = resolve_config(CloningConfig, "paper", ["test_samples=41", f"out={tmp_path}"])
    with pytest.raises(ConfigError, match="test_samples=41 exceeds the 40 images"):
        study.prepare(cfg)
    assert not list(tmp_path.iterdir())
