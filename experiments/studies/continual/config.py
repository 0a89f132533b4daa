"""Configuration of the continual study: the paper's protocol as field defaults (Appendix B.1.1, B.1.3)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from experiments.config import (
    MAX_SEED,
    BaseConfig,
    ConfigError,
    Inert,
    check_image_study_machine,
    check_image_study_options,
    image_study_inert_keys,
    inert,
    param,
    resolve_config,
)

STUDY = "continual"
DEFAULT_LR: dict[str, float] = {"mlp": 1e-3, "cnn": 1e-3, "resnet": 1e-3, "vit": 1e-4}
"""Appendix B.1.3: Adam with lr 0.001 for every architecture except the ViT (0.0001)."""
DEFAULT_DROPOUT: dict[str, float] = {"mlp": 0.2, "cnn": 0.1, "resnet": 0.1, "vit": 0.1}
"""Appendix B.1.3 defaults (the models' own defaults, restated so the resolved value is recorded)."""
METHOD_KEYS: dict[str, tuple[str, ...]] = {
    "cbp": ("replacement_rate", "maturity_threshold", "decay_rate", "utility", "cbp_init"),
    "shrink_perturb": ("shrink", "noise_std"),
    "l2": ("weight_decay",),
}
"""Keys that only act under one ``method``: setting them for another method is an error, not ignored."""
DEFAULT_CHECKPOINT_STEPS = 2500
"""Steps between checkpoints: at the paper scale a ResNet-18 on 64×64 Tiny ImageNet batches does very
roughly 20–40 steps/s on an A100-class GPU with bf16 (an estimate; ``python -m experiments gpu-check``
measures it), so a checkpoint every one to two minutes; a seed is 20,000 steps."""


@dataclass
class ContinualConfig(BaseConfig):
    """Configuration of the continual study; field defaults are the paper's protocol (Appendix B.1.1)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {
            "dataset": "synthetic",
            "synthetic_shape": (3, 8, 8),
            "tasks": 4,
            "classes_per_task": 2,
            "steps_per_task": 150,
            "batch_size": 64,
            "width": 0.25,
            "log_interval": 25,
            "metric_batch_size": 256,
            "synthetic_noise": 1.5,
            "seeds": (0, 1),
            "threads": 1,
        },
        "paper": {"seeds": (0, 1, 2, 3, 4), "plot_window": 1000},
    }

    dataset: Literal["tiny_imagenet", "cifar10", "cifar100", "mnist", "synthetic"] = param(
        "tiny_imagenet", "dataset (synthetic: offline, tasks × classes_per_task classes)"
    )
    data_dir: str = param("data", "folder holding the dataset files")
    download: bool = param(False, "download the dataset when missing (needs network)")
    synthetic_shape: tuple[int, ...] = param((3, 8, 8), "C,H,W of the synthetic images", low=1)
    synthetic_train_per_class: int = param(300, "synthetic training images per class", low=1)
    synthetic_test_per_class: int = param(100, "synthetic held-out images per class", low=1)
    synthetic_noise: float = param(0.6, "std of the synthetic images' white noise (difficulty)", low=0.0)
    tasks: int = param(40, "number of tasks", low=1)
    classes_per_task: int = param(5, "classes per task (disjoint)", low=2)
    steps_per_task: int = param(500, "optimizer steps per task", low=1)
    batch_size: int = param(128, "training batch size (not stated in the paper)", low=1)
    arch: Literal["mlp", "cnn", "resnet", "vit"] = param("mlp", "architecture (Appendix B.1.3)")
    width: float = param(
        1.0, "width multiplier of the default sizes (every size must come out whole)", low=0.0, low_open=True
    )
    activation: str = param("default", "activation (theory registry name; default = relu, gelu for vit)")
    normalization: Literal["default", "none", "batch", "layer", "group"] = param(
        "default", "normalization; default = batch (layer for vit)"
    )
    affine: bool = param(True, "learnable affine (γ, β) in the normalization layers")
    dropout: float | None = param(
        None, "dropout probability (none = 0.2 for mlp, 0.1 otherwise)", low=0.0, high=1.0, high_open=True
    )
    patch_size: int = param(0, "ViT patch size (0 = 8, or the largest of 4, 2, 1 giving ≥ 4 patches)", low=0)
    optimizer: Literal["adam", "sgd"] = param("adam", "optimizer (torch defaults, no momentum or decay)")
    lr: float | None = param(
        None, "learning rate (none = 1e-3, 1e-4 for vit; the resolved value is saved)", low=0.0, low_open=True
    )
    method: Literal["none", "cbp", "shrink_perturb", "l2"] = param("none", "plasticity intervention")
    replacement_rate: float = param(1e-4, "cbp: replacement rate r", low=0.0, high=1.0)
    maturity_threshold: int = param(100, "cbp: maturity threshold (steps)", low=0)
    decay_rate: float = param(0.99, "cbp: utility decay rate ρ", low=0.0, high=1.0, high_open=True)
    utility: Literal["contribution", "adaptable_contribution"] = param("contribution", "cbp: utility measure")
    cbp_init: Literal["default", "kaiming"] = param(
        "default", "cbp: re-init of incoming weights (default: as built)"
    )
    shrink: float = param(
        0.9999, "shrink_perturb: w ← shrink·w + noise_std·ε after every step", low=0.0, high=1.0
    )
    noise_std: float = param(1e-4, "shrink_perturb: noise standard deviation", low=0.0)
    weight_decay: float = param(1e-4, "l2: coupled L2 coefficient λ (gradient g + λw)", low=0.0)
    reset_head: bool = param(True, "re-initialise the output layer at each task start (Appendix B.1.1)")
    mask_loss: bool = param(True, "softmax over the current task's classes only")
    augment: bool = param(False, "random crop (padding 4) and horizontal flip")
    log_interval: int = param(50, "steps between interval records (must divide steps_per_task)", low=1)
    metric_batch_size: int = param(512, "size of the fixed metric batch (stratified over all classes)", low=2)
    eval_batch_size: int = param(512, "batch size of held-out evaluation", low=1)
    seeds: tuple[int, ...] = param(
        (),
        "the seeds to run, one after another in one run dir (3 = seed 3 alone; 0..4 = five; empty = seed)",
        low=0,
        high=MAX_SEED,
    )
    amp: Literal["auto", "off", "bf16", "fp16"] = param(
        "auto", "mixed precision (auto: bf16 on CUDA, off on CPU)"
    )
    pin_memory: Literal["auto", "true", "false"] = param("auto", "pinned host memory (auto: on CUDA only)")
    plot_window: int = param(0, "steps averaged per plotted point (0 = log_interval; paper 1000)", low=0)
    figures: bool = param(True, "write figures at the end of the run")
    threads: int = param(0, "torch intra-op CPU threads during the run (0 = torch's default)", low=0)
    out: str = param("runs", "root folder of run directories")
    checkpoint_every: int = param(
        DEFAULT_CHECKPOINT_STEPS, "optimizer steps between checkpoints, for --resume (0 = none)", low=0
    )

    def validate(self) -> None:
        super().validate()
        if self.steps_per_task % self.log_interval:
            raise ConfigError(
                f"log_interval={self.log_interval} must divide steps_per_task={self.steps_per_task}"
            )
        check_image_study_options(self)

    def check_machine(self) -> None:
        check_image_study_machine(self)

    def inert_keys(self) -> dict[str, Inert]:
        out = image_study_inert_keys(self)
        for method, keys in METHOD_KEYS.items():
            if self.method != method:
                out |= inert(keys, f"method={method}", f"method={self.method}")
        if self.method == "cbp" and self.replacement_rate == 0:
            others = [k for k in METHOD_KEYS["cbp"] if k != "replacement_rate"]
            out |= inert(others, "replacement_rate > 0", "replacement_rate=0: CBP replaces no unit")
        return out

    def run_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]

    def total_steps(self) -> int:
        """Optimizer steps of the whole run, every seed (the progress bar's count)."""
        return len(self.run_seeds()) * self.tasks * self.steps_per_task


def resolve_continual_config(preset: str = "smoke", overrides: list[str] | None = None) -> ContinualConfig:
    """:func:`resolve_config`, then the architecture-dependent defaults made explicit (lr, dropout), so
    that ``config.json`` records the values actually used."""
    return with_arch_defaults(resolve_config(ContinualConfig, preset, overrides))


def with_arch_defaults(cfg: ContinualConfig) -> ContinualConfig:
    """``cfg`` with ``lr=None`` / ``dropout=None`` replaced by the architecture's paper default."""
    return dataclasses.replace(
        cfg,
        lr=DEFAULT_LR[cfg.arch] if cfg.lr is None else cfg.lr,
        dropout=DEFAULT_DROPOUT[cfg.arch] if cfg.dropout is None else cfg.dropout,
    )
