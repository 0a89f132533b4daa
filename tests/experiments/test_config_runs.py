"""Configuration parsing/validation and run-directory bookkeeping (experiments.config, experiments.runs)."""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pytest
import torch

from experiments.config import (
    MAX_SEED,
    BaseConfig,
    ConfigError,
    config_from_dict,
    inert,
    param,
    resolve_config,
    seed_everything,
)
from experiments.runs import MetricsLog, ProgressBar, load_config, load_metrics, new_run_dir, save_config


@dataclass
class ToyConfig(BaseConfig):
    PRESETS: ClassVar[dict] = {"smoke": {"epochs": 2}, "paper": {"epochs": 500, "lr": 0.01}}
    epochs: int = param(10, "epochs", low=1)
    lr: float = param(0.1, "learning rate", low=0.0, low_open=True)
    optimizer: Literal["sgd", "adam"] = param("sgd", "optimizer")
    widths: tuple[int, ...] = param((4, 8), "widths", low=1)
    flag: bool = param(False, "a flag")


def test_preset_and_overrides_are_typed():
    cfg = resolve_config(
        ToyConfig, "smoke", ["lr=0.5", "optimizer=adam", "widths=1,2,3", "flag=yes", "seed=3"]
    )
    assert (cfg.epochs, cfg.lr, cfg.optimizer, cfg.widths, cfg.flag, cfg.seed) == (
        2,
        0.5,
        "adam",
        (1, 2, 3),
        True,
        3,
    )
    d = cfg.to_dict()
    assert d["widths"] == [1, 2, 3] and d["device"] in ("cpu", "cuda")
    json.dumps(d)


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["nope=1"], "valid keys: seed, device"),
        (["lr=0"], "valid: (0.0, inf]"),
        (["epochs=0"], "valid: [1, inf]"),
        (["epochs=1.5"], "not an integer"),
        (["optimizer=rmsprop"], "choices: sgd, adam"),
        (["flag=maybe"], "not a boolean"),
        (["widths=1,0"], "out of range"),
        (["lr"], "key=value"),
        (["device=tpu"], "choices: auto, cpu"),
    ],
)
def test_config_errors_name_the_valid_choices(overrides, needle):
    with pytest.raises(ConfigError, match=None) as info:
        resolve_config(ToyConfig, "smoke", overrides)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="presets: smoke, paper"):
        resolve_config(ToyConfig, "huge", [])


def test_seed_everything_is_reproducible():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    assert torch.backends.cudnn.deterministic


def test_run_dirs_never_collide(tmp_path):
    dirs = {new_run_dir(tmp_path, "study") for _ in range(5)}
    assert len(dirs) == 5 and all(d.is_dir() for d in dirs)


def test_config_and_metrics_round_trip(tmp_path):
    run = new_run_dir(tmp_path, "toy")
    cfg = resolve_config(ToyConfig, "smoke", [])
    save_config(run, cfg)
    assert load_config(run) == cfg.to_dict()
    with pytest.raises(FileExistsError):
        save_config(run, cfg)
    with MetricsLog(run) as log:
        log.log(step=0, loss=torch.tensor(1.5), acc=np.float32(0.25))
        log.log(step=1, loss=math.nan)
        # flushed as it goes: readable before close
        assert len(load_metrics(run)) == 2
    recs = load_metrics(run)
    assert recs[0] == {"step": 0, "loss": 1.5, "acc": 0.25} and math.isnan(recs[1]["loss"])


def test_progress_bar_renders_loss_and_eta_and_is_silent_off_tty():
    stream = io.StringIO()
    bar = ProgressBar(4, desc="train", stream=stream)
    bar.update(1, loss=0.5)
    assert stream.getvalue() == ""  # StringIO is not a tty
    forced = ProgressBar(4, desc="train", stream=stream, force=True)
    forced.update(2, loss=0.5)
    text = forced.render()
    assert "2/4" in text and "loss=0.5" in text and "ETA" in text


@dataclass
class SeededConfig(BaseConfig):
    PRESETS: ClassVar[dict] = {"default": {}, "many": {"seeds": (0, 1, 2)}, "inert": {"momentum": 0.5}}
    seeds: tuple[int, ...] = param((), "the seeds to run", low=0)
    optimizer: Literal["sgd", "adam"] = param("sgd", "optimizer")
    momentum: float = param(0.0, "sgd momentum", low=0.0)

    def inert_keys(self) -> dict:
        return (
            inert(("momentum",), "optimizer=sgd", f"optimizer={self.optimizer}")
            if self.optimizer != "sgd"
            else {}
        )


def test_bug_duplicate_key_last_one_wins():
    with pytest.raises(ConfigError, match=r"lr is given twice \(lr=0.1, lr=0.2\); give each key once"):
        resolve_config(ToyConfig, "smoke", ["lr=0.1", "lr=0.2"])


@pytest.mark.parametrize("item", ["lr=", "widths=", "optimizer= "])
def test_bug_empty_value_is_accepted(item):
    with pytest.raises(ConfigError, match=f"{item.strip()} has no value"):
        resolve_config(ToyConfig, "smoke", [item])
    with pytest.raises(ConfigError, match="lists no values"):
        resolve_config(ToyConfig, "smoke", ["widths=,"])


def test_bug_seed_1e23_is_not_a_range_error():
    with pytest.raises(ConfigError, match=r"seed=1e23 is out of range; valid: \[0, 4294967295\]"):
        resolve_config(ToyConfig, "smoke", ["seed=1e23"])
    assert resolve_config(ToyConfig, "smoke", ["seed=4294967295"]).seed == MAX_SEED
    assert resolve_config(ToyConfig, "smoke", ["epochs=5e1"]).epochs == 50  # float notation of a whole number
    with pytest.raises(ConfigError, match="epochs='1.5e0' is not an integer"):
        resolve_config(ToyConfig, "smoke", ["epochs=1.5e0"])


def test_integer_lists_take_inclusive_ranges():
    assert resolve_config(ToyConfig, "smoke", ["widths=1..3,7"]).widths == (1, 2, 3, 7)
    with pytest.raises(ConfigError, match="range '3..1' is empty"):
        resolve_config(ToyConfig, "smoke", ["widths=3..1"])


def test_bug_seeds_means_two_things():
    """``seeds`` is the list of seeds to run in every study; an explicit seed=N runs seed N alone."""
    from experiments.studies.bitflip import BitFlipConfig
    from experiments.studies.continual import ContinualConfig

    for cls, preset in ((ContinualConfig, "smoke"), (BitFlipConfig, "smoke"), (SeededConfig, "many")):
        assert resolve_config(cls, preset, ["seeds=3"]).seeds == (3,)
        assert resolve_config(cls, preset, ["seeds=0..2"]).seeds == (0, 1, 2)
        cfg = resolve_config(cls, preset, ["seed=4"])  # replaces the preset's seeds
        assert cfg.seeds == (4,) and cfg.seed == 4
        with pytest.raises(ConfigError, match="give either seed=4 or seeds=1,2"):
            resolve_config(cls, preset, ["seed=4", "seeds=1,2"])
        with pytest.raises(ConfigError, match="repeats a seed"):
            resolve_config(cls, preset, ["seeds=1,1"])


def test_bug_ineffective_keys_are_accepted():
    with pytest.raises(
        ConfigError, match=r"momentum only act with optimizer=sgd \(here optimizer=adam\); drop it"
    ):
        # even at its default value
        resolve_config(SeededConfig, "default", ["optimizer=adam", "momentum=0.0"])
    assert resolve_config(SeededConfig, "inert", ["optimizer=adam"]).momentum == 0.5  # a preset may set it
    assert resolve_config(SeededConfig, "default", ["momentum=0.9"]).momentum == 0.9


def test_machine_checks_apply_when_resolving_not_when_reading_a_saved_run():
    """A GPU run (amp=fp16) must stay readable on a machine without CUDA (to plot it)."""
    from experiments.studies.cloning import CloningConfig

    saved = {**resolve_config(CloningConfig, "smoke", []).to_dict(), "amp": "fp16", "device": "cuda"}
    assert config_from_dict(CloningConfig, saved).amp == "fp16"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="fp16 needs CUDA"):
            resolve_config(CloningConfig, "smoke", ["amp=fp16"])
