"""The cloning study (Section 2, Figure 2.1, Figures B.7–B.14): train a base model, expand it by cloning,
train clone and base side by side, and log loss, accuracy, cloning R² and effective rank over time.

``python -m experiments cloning [--preset smoke|paper] [key=value ...] [--out DIR]``
``python -m experiments cloning --resume RUN_DIR`` (continue a killed run from its checkpoint)

Phases: (1) the base trains ``base_epochs`` with plain SGD (``base_lr``); (2) it is expanded by
``clone_factor`` (optionally with a symmetry-breaking ``perturb``), the expansion is verified against
the base on a metric batch (written to the log as ``expansion_max_deviation``); (3) clone and base both
train ``clone_epochs`` with ``optimizer`` (sgd | adam | noisy_sgd) on the same batches in the same order.
Dropout (``dropout``) is part of the architecture of both. Every ``metric_every`` epochs the metric
batch (stratified over classes) gives per-layer forward and backward cloning R², effective ranks of
both models, prediction agreement and the distance of the clone from its cloning manifold.

The loop's state is explicit: :class:`CloningSetup` holds what the run reads and never changes (data on
the device, metric batch, precision), :class:`CloningState` what training changes (the two
:class:`Side`\\ s, the phase and epoch, the augmentation generator, the gradient scaler, the expansion).
A non-finite loss or non-finite parameters / features stop the run as :class:`experiments.runs.Diverged`.

Checkpoints (``checkpoint_every`` epochs, counted over both phases; :mod:`experiments.checkpoint`) are
taken at epoch boundaries and hold the :class:`CloningState`: both models and optimizers (with noisy
SGD's step counter and noise generator), the phase and epoch, the loader's shuffling generator and the
augmentation generator, the gradient scaler, the clone's parameters right after cloning; the clone's
structure and its :class:`ClonePlan` are rebuilt by expanding a freshly built base (the plan depends only
on the architecture). :func:`resume` continues a killed run; its metrics equal an uninterrupted run's
(except the wall-clock ``elapsed_s``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from experiments.analysis import Groups, StudyKind, group_runs, load_run, series
from experiments.checkpoint import (
    Checkpointer,
    load_checkpoint,
    load_optimizer_state,
    module_to_cpu_state,
    optimizer_to_cpu_state,
    restore_global_rng,
)
from experiments.cloning import compare_with_base, expand_with_plan, manifold_residual
from experiments.cloning.expand import ClonePlan
from experiments.config import (
    BaseConfig,
    ConfigError,
    Inert,
    check_image_study_machine,
    check_image_study_options,
    config_from_dict,
    image_study_inert_keys,
    inert,
    param,
    resolve_config,
    seed_everything,
)
from experiments.data import (
    ImageDataset,
    channel_stats,
    load_dataset,
    make_loader,
    make_synthetic,
    normalize,
    random_crop_flip,
    resolve_pin_memory,
    shuffle_generator,
)
from experiments.metrics import (
    NonFiniteFeatures,
    RunningAccuracy,
    clone_r2_by_layer,
    effective_rank,
    feature_layers,
    layer_features,
    prediction_agreement,
    stratified_indices,
)
from experiments.models import build, make_spec
from experiments.optim import make_optimizer
from experiments.precision import Precision
from experiments.runs import (
    Diverged,
    MetricsLog,
    ProgressBar,
    check_out_root,
    check_resumable,
    open_run,
    require_finite,
    torch_threads,
    tracked_run,
)
from experiments.studies.figure_files import StudyFigures, save_figure, setup_matplotlib
from experiments.studies.resume_cli import add_resume_argument, check_resume_alone

STUDY = "cloning"
AUGMENT_PADDING = 4
SYNTHETIC_TRAIN_DEFAULT, SYNTHETIC_TEST_DEFAULT = 4096, 1024
"""Synthetic set sizes when ``train_samples`` / ``test_samples`` are 0."""
SYNTHETIC_TEST_SEED_OFFSET = 10_000
AUGMENT_SEED_OFFSET = 1
VIT_LARGE_PATCH, VIT_SMALL_PATCH, VIT_LARGE_IMAGE = 8, 4, 16
"""patch_size=0: 8×8 patches for images of at least 16 pixels a side, 4×4 below."""
PIN_MEMORY: dict[str, bool | str] = {"auto": "auto", "true": True, "false": False}
FIGURE_NAME = "cloning.png"
DEFAULT_PRESET = "smoke"
DEFAULT_CHECKPOINT_EPOCHS = 10
"""Epochs between checkpoints: a paper-preset ResNet-18 pair on CIFAR-10 takes very roughly 10–20 s per
epoch on an A100-class GPU with bf16 (an estimate, see ``python -m experiments gpu-check``), so a few
minutes."""


@dataclass
class CloningConfig(BaseConfig):
    """Configuration of the cloning study; presets ``smoke`` (CPU, offline, minutes) and ``paper``."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {
            "dataset": "synthetic",
            "synthetic_shape": (3, 8, 8),
            "train_samples": 2048,
            "test_samples": 512,
            "synthetic_noise": 2.0,
            "arch": "mlp",
            "width": 0.25,
            "base_epochs": 4,
            "clone_epochs": 40,
            "batch_size": 64,
            "base_lr": 0.05,
            "lr": 0.05,
            "metric_every": 5,
            "metric_batch": 256,
            "augment": False,
            "threads": 1,
        },
        "paper": {"dataset": "cifar10", "base_epochs": 20, "clone_epochs": 500, "metric_every": 5},
    }

    dataset: Literal["synthetic", "cifar10", "cifar100", "mnist", "tiny_imagenet"] = param(
        "cifar10", "dataset"
    )
    data_dir: str = param("data", "folder holding the dataset files")
    download: bool = param(False, "download the dataset when missing (needs network)")
    synthetic_shape: tuple[int, ...] = param((3, 8, 8), "C,H,W of the synthetic task", low=1)
    synthetic_noise: float = param(0.6, "pixel noise std of the synthetic task (prototype std 1)", low=0.0)
    train_samples: int = param(0, "train subset size (0 = all)", low=0)
    test_samples: int = param(0, "test subset size (0 = all)", low=0)
    arch: Literal["mlp", "cnn", "resnet", "vit"] = param("mlp", "architecture (Appendix B.1.3)")
    width: float = param(
        1.0, "width multiplier of the base model (every size must come out whole)", low=0.0, low_open=True
    )
    activation: str = param("default", "activation (theory registry name; default = relu, gelu for vit)")
    normalization: Literal["default", "none", "batch", "layer", "group"] = param(
        "default", "normalization; default = batch (layer for vit), Figure B.7"
    )
    dropout: float = param(0.0, "dropout probability of base and clone", low=0.0, high=1.0, high_open=True)
    patch_size: int = param(0, "ViT patch size (0 = 8, or 4 for images smaller than 16)", low=0)
    clone_factor: int = param(2, "width expansion factor", low=2)
    perturb: Literal["none", "equitable", "forward"] = param(
        "none", "symmetry-breaking variant of the expansion"
    )
    perturb_scale: float = param(0.1, "perturbation std relative to each weight's RMS", low=0.0)
    base_lr: float = param(0.01, "SGD learning rate of the base pre-training", low=0.0, low_open=True)
    optimizer: Literal["sgd", "adam", "noisy_sgd"] = param("sgd", "optimizer of the side-by-side phase")
    lr: float = param(0.01, "learning rate of the side-by-side phase", low=0.0, low_open=True)
    sigma0: float = param(0.01, "noisy SGD initial relative noise σ₀", low=0.0)
    decay: float = param(0.999, "noisy SGD decay λ", low=0.0, high=1.0, low_open=True)
    batch_size: int = param(128, "batch size", low=1)
    base_epochs: int = param(20, "epochs of base pre-training", low=0)
    clone_epochs: int = param(500, "epochs of side-by-side training", low=1)
    metric_every: int = param(5, "epochs between metric evaluations", low=1)
    metric_batch: int = param(512, "size of the stratified metric batch", low=2)
    augment: bool = param(True, "random crop (padding 4) and horizontal flip on the device")
    amp: Literal["auto", "off", "bf16", "fp16"] = param(
        "auto", "mixed precision (auto: bf16 on CUDA, off on CPU)"
    )
    pin_memory: Literal["auto", "true", "false"] = param("auto", "pinned host memory (auto: on CUDA only)")
    num_workers: int = param(0, "DataLoader worker processes", low=0)
    out: str = param("runs", "root folder of run directories")
    threads: int = param(0, "torch intra-op threads (0 = torch's default)", low=0)
    checkpoint_every: int = param(
        DEFAULT_CHECKPOINT_EPOCHS, "epochs (both phases) between checkpoints, for --resume (0 = none)", low=0
    )

    def validate(self) -> None:
        super().validate()
        check_image_study_options(self)

    def total_steps(self, train_samples: int) -> int:
        """Training batches of the whole run (the progress bar's count) for ``train_samples`` images."""
        return (self.base_epochs + self.clone_epochs) * math.ceil(train_samples / self.batch_size)

    def check_machine(self) -> None:
        check_image_study_machine(self)

    def inert_keys(self) -> dict[str, Inert]:
        out = image_study_inert_keys(self)
        if self.optimizer != "noisy_sgd":
            out |= inert(("sigma0", "decay"), "optimizer=noisy_sgd", f"optimizer={self.optimizer}")
        if self.perturb == "none":
            out |= inert(("perturb_scale",), "perturb=equitable or perturb=forward", "perturb=none")
        if self.base_epochs == 0:
            out |= inert(("base_lr",), "base_epochs ≥ 1", "base_epochs=0")
        return out


# ----------------------------------------------------------------------------------------------- setup


def load_data(cfg: CloningConfig) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) of ``cfg.dataset``, subset to ``train_samples`` / ``test_samples``."""
    if cfg.dataset == "synthetic":
        shape = tuple(cfg.synthetic_shape)
        n_train = cfg.train_samples or SYNTHETIC_TRAIN_DEFAULT
        n_test = cfg.test_samples or SYNTHETIC_TEST_DEFAULT
        train = make_synthetic(n_train, image_shape=shape, noise=cfg.synthetic_noise, seed=cfg.seed)  # type: ignore[arg-type]
        test = make_synthetic(
            n_test,
            image_shape=shape,  # type: ignore[arg-type]
            noise=cfg.synthetic_noise,
            seed=cfg.seed,
            sample_seed=cfg.seed + SYNTHETIC_TEST_SEED_OFFSET,
        )
        return train, test
    full_train = load_dataset(cfg.dataset, cfg.data_dir, True, cfg.download)
    full_test = load_dataset(cfg.dataset, cfg.data_dir, False, cfg.download)
    for key, n, full in (
        ("train_samples", cfg.train_samples, full_train),
        ("test_samples", cfg.test_samples, full_test),
    ):
        if n > len(full):
            raise ConfigError(
                f"{key}={n} exceeds the {len(full)} images of {cfg.dataset}; "
                f"give at most {len(full)} (0 = all)"
            )
    return full_train.subset(cfg.train_samples or None, cfg.seed), full_test.subset(
        cfg.test_samples or None, cfg.seed
    )


def model_options(cfg: CloningConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Keyword options of :func:`experiments.models.build` for the base model."""
    opts: dict[str, Any] = {"width": cfg.width, "dropout": cfg.dropout}
    if cfg.activation != "default":
        opts["activation"] = cfg.activation
    if cfg.normalization != "default":
        opts["normalization"] = cfg.normalization
    if cfg.arch == "vit":
        large = min(input_shape[1:]) >= VIT_LARGE_IMAGE
        opts["patch_size"] = cfg.patch_size or (VIT_LARGE_PATCH if large else VIT_SMALL_PATCH)
    return opts


@dataclass(frozen=True)
class CloningSetup:
    """What the run reads and never changes: data and normalisation, metric batch, test set, precision."""

    cfg: CloningConfig
    train: ImageDataset
    mean: torch.Tensor
    std: torch.Tensor
    precision: Precision
    pin_memory: bool

    def prep(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images to the device, in [0, 1], normalised per channel."""
        return normalize(
            images.to(self.precision.device, non_blocking=True).float() / 255.0, self.mean, self.std
        )


def prepare(cfg: CloningConfig, check_out: bool = True) -> tuple[CloningSetup, ImageDataset]:
    """Load the data and check every setting that needs it (model sizes) — before any run directory
    exists; returns the setup and the test split. Raises :class:`ConfigError` for a bad setting."""
    if check_out:
        check_out_root(cfg.out, STUDY)
    train, test = load_data(cfg)
    try:
        make_spec(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape))
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    for key, size in (("metric_batch", cfg.metric_batch), ("batch_size", cfg.batch_size)):
        if size > len(train):
            raise ConfigError(
                f"{key}={size} exceeds the {len(train)} training images; give at most {len(train)}"
            )
    mean, std = channel_stats(train.as_float())
    precision = Precision.resolve(cfg.amp, cfg.device)
    pin = resolve_pin_memory(PIN_MEMORY[cfg.pin_memory], cfg.device)
    return CloningSetup(cfg, train, mean, std, precision, pin), test


# ----------------------------------------------------------------------------------------------- state


@dataclass
class Side:
    """One of the two models trained side by side, with its running accuracy of the current epoch."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: RunningAccuracy = field(default_factory=RunningAccuracy)

    def summary(self) -> dict[str, float]:
        result = self.epoch.result()
        return {f"{self.name}_loss": result["loss"], f"{self.name}_acc": result["accuracy"]}


@dataclass
class Expansion:
    """The clone's construction: its plan, its parameters right after cloning, the layers measured."""

    plan: ClonePlan
    start: list[torch.Tensor]
    layers: list[str]
    profiles: dict[str, Any]


@dataclass
class CloningState:
    """Everything training changes: the sides (the base alone before cloning), phase, epoch, generators."""

    sides: list[Side]
    loader: Any
    aug_gen: torch.Generator
    scaler: Any
    phase: Literal["base", "clone"] = "base"
    epoch: int = 0
    expansion: Expansion | None = None


def train_step(side: Side, x: torch.Tensor, y: torch.Tensor, precision: Precision, scaler: Any) -> float:
    """One optimizer step of ``side`` on (x, y); returns the loss computed before the update."""
    side.model.train()
    side.optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        logits = side.model(x)
        loss = F.cross_entropy(logits.float(), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(side.optimizer)
        scaler.update()
    else:
        loss.backward()
        side.optimizer.step()
    value = float(loss.detach())
    side.epoch.update(int((logits.detach().argmax(1) == y).sum()), len(y), value)
    return value


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """Eval-mode accuracy of ``model`` on (x, y) in batches of ``batch``."""
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(y), batch)
    )
    return correct / max(1, len(y))


def batches(setup: CloningSetup, state: CloningState) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of prepared (and, with ``augment``, augmented) batches in the loader's seeded order."""
    for images, labels in state.loader:
        x = setup.prep(images)
        if setup.cfg.augment:
            x = random_crop_flip(x, AUGMENT_PADDING, True, state.aug_gen)
        yield x, labels.to(setup.precision.device, non_blocking=True)


def train_epoch(setup: CloningSetup, state: CloningState, bar: ProgressBar) -> None:
    """One epoch of every side on the same batches; a non-finite loss is :class:`Diverged`."""
    state.epoch += 1
    for side in state.sides:
        side.epoch.reset()
    for x, y in batches(setup, state):
        for side in state.sides:
            loss = train_step(side, x, y, setup.precision, state.scaler)
            require_finite(loss, f"the {side.name}'s training loss", phase=state.phase, epoch=state.epoch)
        lead = state.sides[0].epoch
        bar.update(1, loss=lead.loss_sum / lead.seen)


def check_parameters(state: CloningState) -> None:
    """:class:`Diverged` when a parameter of a side holds NaN or inf."""
    for side in state.sides:
        if not all(bool(torch.isfinite(p).all()) for p in side.model.parameters()):
            raise Diverged.at(
                f"the {side.name}'s parameters are not finite", phase=state.phase, epoch=state.epoch
            )


def clone_metrics(
    setup: CloningSetup, state: CloningState, metric_x: torch.Tensor, metric_y: torch.Tensor
) -> dict[str, float]:
    """Cloning R² (forward, backward, mean; per layer), effective ranks, agreement, manifold distances."""
    assert state.expansion is not None
    check_parameters(state)
    clone, base = state.sides[0].model, state.sides[1].model
    exp, seed = state.expansion, setup.cfg.seed
    try:
        base_out, base_h, _ = layer_features(base, metric_x, None, exp.layers, seed=seed)
        clone_out, clone_h, clone_g = layer_features(clone, metric_x, metric_y, exp.layers, seed=seed)
        r2 = clone_r2_by_layer(clone_h, clone_g, exp.profiles)
        last = exp.layers[-1]
        ranks = {
            "clone_effective_rank": effective_rank(clone_h[last]),
            "base_effective_rank": effective_rank(base_h[last]),
        }
    except NonFiniteFeatures as err:
        raise Diverged.at(str(err), phase=state.phase, epoch=state.epoch) from None
    forward = [v for k, v in r2.items() if k.endswith("/forward")]
    backward = [v for k, v in r2.items() if k.endswith("/backward")]
    out = {
        "cloning_r2": sum(forward + backward) / len(forward + backward),
        "cloning_r2_forward": sum(forward) / len(forward),
        "cloning_r2_backward": sum(backward) / len(backward),
        **ranks,
        "agreement": prediction_agreement(clone_out, base_out),
        "manifold_residual": manifold_residual(clone, exp.plan),
    }
    with torch.no_grad():
        moved = [p.detach() - p0 for p, p0 in zip(clone.parameters(), exp.start)]
        total = math.sqrt(sum(float((m**2).sum()) for m in moved))
    out["clone_displacement"] = total
    out.update({f"r2/{k}": v for k, v in r2.items()})
    return out


def side_by_side_optimizer(cfg: CloningConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer of the side-by-side phase (noisy SGD with its σ₀, λ and the run's seed)."""
    if cfg.optimizer == "noisy_sgd":
        return make_optimizer(
            "noisy_sgd", model.parameters(), lr=cfg.lr, sigma0=cfg.sigma0, decay=cfg.decay, seed=cfg.seed
        )
    return make_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr)


def expand(setup: CloningSetup, state: CloningState, metric_x: torch.Tensor, metric_y: torch.Tensor) -> float:
    """Clone the base (phase → clone), verify the expansion; returns its largest deviation from the base."""
    cfg = setup.cfg
    check_parameters(state)
    base = state.sides[0].model
    clone, plan = expand_with_plan(base, cfg.clone_factor, cfg.perturb, cfg.perturb_scale, cfg.seed)
    check = compare_with_base(base, clone, plan, metric_x, metric_y, train=False, gradient_reference="model")
    base.zero_grad(set_to_none=True)
    clone.zero_grad(set_to_none=True)
    layers = feature_layers(base)
    state.expansion = Expansion(
        plan,
        [p.detach().clone() for p in clone.parameters()],
        layers,
        {n: plan.outputs[n].profile for n in layers},
    )
    state.sides = [
        Side("clone", clone, side_by_side_optimizer(cfg, clone)),
        Side("base", base, side_by_side_optimizer(cfg, base)),
    ]
    state.phase, state.epoch = "clone", 0
    return check.max_deviation()


def run(cfg: CloningConfig) -> Path:
    """Run the study; returns the run directory (config.json, status.json, metrics.jsonl, figures/).
    Everything is checked before the directory is created; a divergence stops the run (status
    ``diverged``, :class:`experiments.runs.Diverged`)."""
    with torch_threads(cfg.threads):
        seed_everything(cfg.seed)
        setup, test = prepare(cfg)
        train = setup.train
        resolved = {
            "amp": str(setup.precision.dtype),
            "pin_memory": setup.pin_memory,
            "input_shape": list(train.input_shape),
            "num_classes": train.num_classes,
            "train_samples": len(train),
            "test_samples": len(test),
        }
        with open_run(cfg.out, STUDY, cfg, extra={"resolved": resolved}) as run_dir:
            train_and_log(setup, test, run_dir)
            draw_run(run_dir)
    return run_dir


def resume(run_dir: str | Path) -> Path:
    """Continue the killed run ``run_dir`` from its checkpoint (from its start when it has none), in the
    same directory and at the torch thread count it ran with; returns the directory."""
    run_dir = Path(run_dir)
    body = check_resumable(run_dir)
    cfg = config_from_dict(CloningConfig, body["config"])
    cfg.check_machine()
    checkpoint = load_checkpoint(run_dir, STUDY, body["config"])
    with torch_threads(int(body["environment"]["torch_threads"])):
        seed_everything(cfg.seed)
        setup, test = prepare(cfg, check_out=False)
        at = f"epoch {checkpoint['step']}" if checkpoint else "the start (no checkpoint)"
        with tracked_run(run_dir, f"resumed from {at}"):
            train_and_log(setup, test, run_dir, checkpoint)
            if not (run_dir / "figures" / FIGURE_NAME).exists():  # drawn already when killed just after it
                draw_run(run_dir)
    return run_dir


def capture_state(state: CloningState) -> dict[str, Any]:
    """The checkpoint of ``state`` at an epoch boundary (module docstring)."""
    generator = shuffle_generator(state.loader)
    return {
        "phase": state.phase,
        "epoch": state.epoch,
        "sides": [
            {
                "name": side.name,
                "model": module_to_cpu_state(side.model),
                "optimizer": optimizer_to_cpu_state(side.optimizer),
            }
            for side in state.sides
        ],
        "loader_generator": None if generator is None else generator.get_state(),
        "aug_generator": state.aug_gen.get_state(),
        "scaler": None if state.scaler is None else state.scaler.state_dict(),
        "clone_start": None if state.expansion is None else [p.cpu().clone() for p in state.expansion.start],
    }


def restore_state(setup: CloningSetup, state: CloningState, saved: dict[str, Any]) -> None:
    """Bring the fresh ``state`` (base built, loader made) to the checkpoint ``saved``; in the clone phase
    the clone is rebuilt by expanding the base and its plan recomputed, then every state is loaded."""
    cfg, device = setup.cfg, setup.precision.device
    base = state.sides[0].model
    if saved["phase"] == "clone":
        clone, plan = expand_with_plan(base, cfg.clone_factor, "none", cfg.perturb_scale, cfg.seed)
        layers = feature_layers(base)
        start = [t.to(device) for t in saved["clone_start"]]
        state.expansion = Expansion(plan, start, layers, {n: plan.outputs[n].profile for n in layers})
        state.sides = [
            Side("clone", clone, side_by_side_optimizer(cfg, clone)),
            Side("base", base, side_by_side_optimizer(cfg, base)),
        ]
    if [side.name for side in state.sides] != [side["name"] for side in saved["sides"]]:
        raise ValueError(
            f"the checkpoint's models {[s['name'] for s in saved['sides']]} do not match the phase"
        )
    for side, side_state in zip(state.sides, saved["sides"]):
        side.model.load_state_dict(side_state["model"])
        load_optimizer_state(side.optimizer, side_state["optimizer"])
    state.phase, state.epoch = saved["phase"], saved["epoch"]
    generator = shuffle_generator(state.loader)
    if generator is not None:
        generator.set_state(saved["loader_generator"])
    state.aug_gen.set_state(saved["aug_generator"])
    if state.scaler is not None:
        state.scaler.load_state_dict(saved["scaler"])


def train_and_log(
    setup: CloningSetup, test: ImageDataset, run_dir: Path, checkpoint: dict[str, Any] | None = None
) -> None:
    """Both phases, logging one record per epoch to ``run_dir``'s metrics.jsonl; with ``checkpoint``,
    from that checkpoint on (the global random states restored last, after every object is rebuilt)."""
    cfg, train, device = setup.cfg, setup.train, setup.precision.device
    metric_idx = stratified_indices(train.labels, cfg.metric_batch, cfg.seed)
    metric_x, metric_y = setup.prep(train.images[metric_idx]), train.labels[metric_idx].to(device)
    test_x, test_y = setup.prep(test.images), test.labels.to(device)
    base = build(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape)).to(
        device
    )
    state = CloningState(
        sides=[Side("base", base, make_optimizer("sgd", base.parameters(), lr=cfg.base_lr))],
        loader=make_loader(
            train.images,
            train.labels,
            cfg.batch_size,
            shuffle=True,
            seed=cfg.seed,
            pin_memory=setup.pin_memory,
            num_workers=cfg.num_workers,
        ),
        aug_gen=torch.Generator().manual_seed(cfg.seed + AUGMENT_SEED_OFFSET),
        scaler=setup.precision.new_scaler(),
    )
    elapsed_before, lines = 0.0, 0
    if checkpoint is not None:
        restore_state(setup, state, checkpoint["state"])
        elapsed_before, lines = float(checkpoint["state"].get("elapsed_s", 0.0)), checkpoint["metric_lines"]
        restore_global_rng(checkpoint["rng"])
    saver = Checkpointer(run_dir, STUDY, json_config(cfg), cfg.checkpoint_every)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    start = time.monotonic() - elapsed_before

    def epochs_done() -> int:
        return state.epoch if state.phase == "base" else cfg.base_epochs + state.epoch

    def maybe_checkpoint(log: MetricsLog) -> None:
        if saver.due(epochs_done()):
            log.sync()
            body = capture_state(state) | {"elapsed_s": time.monotonic() - start}
            saver.save(epochs_done(), log.lines, body)

    with (
        MetricsLog(run_dir, keep_lines=lines) as log,
        ProgressBar(cfg.total_steps(len(train)), desc=STUDY, enabled=cfg.progress) as bar,
    ):
        bar.count = epochs_done() * steps_per_epoch
        while state.phase == "base" and state.epoch < cfg.base_epochs:
            train_epoch(setup, state, bar)
            side = state.sides[0]
            log.log(
                step=state.epoch - 1 - cfg.base_epochs,
                phase="base",
                epoch=state.epoch,
                base_loss=side.epoch.loss_sum / side.epoch.seen,
                base_acc=side.epoch.correct / side.epoch.seen,
                base_test_acc=accuracy(base, test_x, test_y, cfg.batch_size),
            )
            maybe_checkpoint(log)
        if state.phase == "base":
            deviation = expand(setup, state, metric_x, metric_y)
            log.log(
                step=0,
                phase="clone",
                epoch=0,
                expansion_max_deviation=deviation,
                **clone_metrics(setup, state, metric_x, metric_y),
            )
        while state.epoch < cfg.clone_epochs:
            train_epoch(setup, state, bar)
            record: dict[str, Any] = {
                **state.sides[0].summary(),
                **state.sides[1].summary(),
                "elapsed_s": time.monotonic() - start,
            }
            if state.epoch % cfg.metric_every == 0 or state.epoch == cfg.clone_epochs:
                check_parameters(state)
                record["clone_test_acc"] = accuracy(state.sides[0].model, test_x, test_y, cfg.batch_size)
                record["base_test_acc"] = accuracy(state.sides[1].model, test_x, test_y, cfg.batch_size)
                record.update(clone_metrics(setup, state, metric_x, metric_y))
            log.log(step=state.epoch, phase="clone", epoch=state.epoch, **record)
            if state.epoch < cfg.clone_epochs:  # the last epoch needs none: the run is complete
                maybe_checkpoint(log)


def json_config(cfg: BaseConfig) -> dict[str, Any]:
    """The configuration as ``config.json`` holds it (what a checkpoint is compared with on resume)."""
    return json.loads(json.dumps(cfg.to_dict(), allow_nan=False))


# ------------------------------------------------------------------------------------------ analysis, figure


def missing_records(cfg: CloningConfig, records: list[dict[str, Any]]) -> str | None:
    """What a finished run has and ``records`` lack: the clone-phase record of the last epoch."""
    if any(r.get("phase") == "clone" and r.get("epoch") == cfg.clone_epochs for r in records):
        return None
    clone = [int(r.get("epoch", 0)) for r in records if r.get("phase") == "clone"]
    if not clone:
        return f"no clone-phase records (of {cfg.clone_epochs} epochs)"
    return f"the clone phase stops at epoch {max(clone)} of {cfg.clone_epochs}"


KIND = StudyKind(STUDY, CloningConfig, missing_records, lambda config: str(config.get("optimizer", "run")))
"""The cloning study for :mod:`experiments.analysis`: one seed per run directory."""

PANELS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Cloning R²", ("cloning_r2",), "R²"),
    ("Training loss (solid: clone, dashed: base)", ("clone_loss", "base_loss"), "loss"),
    (
        "Effective rank, last hidden layer (solid: clone, dashed: base)",
        ("clone_effective_rank", "base_effective_rank"),
        "effective rank",
    ),
)


def is_clone_phase(record: dict[str, Any]) -> bool:
    return record.get("phase") == "clone"


def draw(groups: Groups, targets: dict[str, Path]) -> list[Path]:
    """The three panels (Figure 2.1 layout) for every group, mean ± std over its seeds, into cloning.png."""
    plt = setup_matplotlib()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.6))
    for ax, (title, keys, ylabel) in zip(axes, PANELS):
        for gi, label in enumerate(sorted(groups)):
            colour = f"C{gi % 10}"
            for ki, key in enumerate(keys):
                s = series(groups[label], key, is_clone_phase)
                if not len(s):
                    continue
                who = key.split("_")[0] if len(keys) > 1 else ""
                pooled = int(s.count.max()) > 1
                ax.plot(
                    s.steps,
                    s.mean,
                    color=colour,
                    linestyle="-" if ki == 0 else "--",
                    label=f"{label} {who}".strip() + (f" ({s.n_label})" if pooled else ""),
                )
                if pooled:
                    ax.fill_between(s.steps, s.mean - s.std, s.mean + s.std, color=colour, alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("epoch after cloning")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, targets[FIGURE_NAME], dpi=120)]


FIGURES = StudyFigures(KIND, (FIGURE_NAME,), lambda run_dir: run_dir / "figures", draw)
"""The cloning study's figure set for ``python -m experiments plot``."""


def draw_run(run_dir: Path) -> Path:
    """The run's own figure, ``figures/cloning.png``."""
    target = run_dir / "figures" / FIGURE_NAME
    target.parent.mkdir(exist_ok=True)
    return draw(group_runs([load_run(run_dir, KIND)]), {FIGURE_NAME: target})[0]


# ----------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default=None,
        choices=list(CloningConfig.PRESETS),
        help="configuration preset (default: smoke)",
    )
    parser.add_argument("--out", default=None, help="root folder of run directories (same as out=DIR)")
    add_resume_argument(parser)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="configuration overrides")
    parser.epilog = "keys:\n" + CloningConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace) -> int:
    if args.resume:
        check_resume_alone(args)
        print(resume(args.resume))
        return 0
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = resolve_config(CloningConfig, args.preset or DEFAULT_PRESET, overrides)
    run_dir = run(cfg)
    print(run_dir)
    return 0
