"""The cloning study (Section 2, Figure 2.1, Figures B.7–B.14): train a base model, expand it by cloning,
train clone and base side by side, and log loss, accuracy, cloning R² and effective rank over time.

``python -m experiments cloning [--preset smoke|paper] [key=value ...] [--out DIR]``

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
"""

from __future__ import annotations

import argparse
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
from experiments.cloning import compare_with_base, expand_with_plan, manifold_residual
from experiments.cloning.expand import ClonePlan
from experiments.config import (
    BaseConfig,
    ConfigError,
    Inert,
    check_image_study_machine,
    check_image_study_options,
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
    open_run,
    require_finite,
    torch_threads,
)
from experiments.studies.figure_files import StudyFigures, save_figure, setup_matplotlib

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


@dataclass
class CloningConfig(BaseConfig):
    """Configuration of the cloning study; presets ``smoke`` (CPU, offline, minutes) and ``paper``."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {
            "dataset": "synthetic", "synthetic_shape": (3, 8, 8), "train_samples": 2048, "test_samples": 512,
            "synthetic_noise": 2.0, "arch": "mlp", "width": 0.25, "base_epochs": 4, "clone_epochs": 40,
            "batch_size": 64, "base_lr": 0.05, "lr": 0.05, "metric_every": 5, "metric_batch": 256,
            "augment": False, "threads": 1,
        },
        "paper": {"dataset": "cifar10", "base_epochs": 20, "clone_epochs": 500, "metric_every": 5},
    }

    dataset: Literal["synthetic", "cifar10", "cifar100", "mnist", "tiny_imagenet"] = param("cifar10", "dataset")
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
        "default", "normalization; default = batch (layer for vit), Figure B.7")
    dropout: float = param(0.0, "dropout probability of base and clone", low=0.0, high=1.0, high_open=True)
    patch_size: int = param(0, "ViT patch size (0 = 8, or 4 for images smaller than 16)", low=0)
    clone_factor: int = param(2, "width expansion factor", low=2)
    perturb: Literal["none", "equitable", "forward"] = param("none", "symmetry-breaking variant of the expansion")
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
    amp: Literal["auto", "off", "bf16", "fp16"] = param("auto", "mixed precision (auto: bf16 on CUDA, off on CPU)")
    pin_memory: Literal["auto", "true", "false"] = param("auto", "pinned host memory (auto: on CUDA only)")
    num_workers: int = param(0, "DataLoader worker processes", low=0)
    out: str = param("runs", "root folder of run directories")
    threads: int = param(0, "torch intra-op threads (0 = torch's default)", low=0)

    def validate(self) -> None:
        super().validate()
        check_image_study_options(self)

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
        test = make_synthetic(n_test, image_shape=shape, noise=cfg.synthetic_noise, seed=cfg.seed,  # type: ignore[arg-type]
                              sample_seed=cfg.seed + SYNTHETIC_TEST_SEED_OFFSET)
        return train, test
    full_train = load_dataset(cfg.dataset, cfg.data_dir, True, cfg.download)
    full_test = load_dataset(cfg.dataset, cfg.data_dir, False, cfg.download)
    for key, n, full in (("train_samples", cfg.train_samples, full_train), ("test_samples", cfg.test_samples, full_test)):
        if n > len(full):
            raise ConfigError(f"{key}={n} exceeds the {len(full)} images of {cfg.dataset}; give at most {len(full)} (0 = all)")
    return full_train.subset(cfg.train_samples or None, cfg.seed), full_test.subset(cfg.test_samples or None, cfg.seed)


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
        return normalize(images.to(self.precision.device, non_blocking=True).float() / 255.0, self.mean, self.std)


def prepare(cfg: CloningConfig) -> tuple[CloningSetup, ImageDataset]:
    """Load the data and check every setting that needs it (model sizes) — before any run directory
    exists; returns the setup and the test split. Raises :class:`ConfigError` for a bad setting."""
    check_out_root(cfg.out, STUDY)
    train, test = load_data(cfg)
    try:
        make_spec(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape))
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    for key, size in (("metric_batch", cfg.metric_batch), ("batch_size", cfg.batch_size)):
        if size > len(train):
            raise ConfigError(f"{key}={size} exceeds the {len(train)} training images; give at most {len(train)}")
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
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(y), batch))
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
            raise Diverged.at(f"the {side.name}'s parameters are not finite", phase=state.phase, epoch=state.epoch)


def clone_metrics(setup: CloningSetup, state: CloningState, metric_x: torch.Tensor, metric_y: torch.Tensor) -> dict[str, float]:
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
        ranks = {"clone_effective_rank": effective_rank(clone_h[last]), "base_effective_rank": effective_rank(base_h[last])}
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
        return make_optimizer("noisy_sgd", model.parameters(), lr=cfg.lr, sigma0=cfg.sigma0, decay=cfg.decay, seed=cfg.seed)
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
        plan, [p.detach().clone() for p in clone.parameters()], layers, {n: plan.outputs[n].profile for n in layers}
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
        resolved = {"amp": str(setup.precision.dtype), "pin_memory": setup.pin_memory,
                    "input_shape": list(train.input_shape), "num_classes": train.num_classes,
                    "train_samples": len(train), "test_samples": len(test)}
        with open_run(cfg.out, STUDY, cfg, extra={"resolved": resolved}) as run_dir:
            train_and_log(setup, test, run_dir)
            draw_run(run_dir)
    return run_dir


def train_and_log(setup: CloningSetup, test: ImageDataset, run_dir: Path) -> None:
    """Both phases, logging one record per epoch to ``run_dir``'s metrics.jsonl."""
    cfg, train, device = setup.cfg, setup.train, setup.precision.device
    metric_idx = stratified_indices(train.labels, cfg.metric_batch, cfg.seed)
    metric_x, metric_y = setup.prep(train.images[metric_idx]), train.labels[metric_idx].to(device)
    test_x, test_y = setup.prep(test.images), test.labels.to(device)
    base = build(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape)).to(device)
    state = CloningState(
        sides=[Side("base", base, make_optimizer("sgd", base.parameters(), lr=cfg.base_lr))],
        loader=make_loader(train.images, train.labels, cfg.batch_size, shuffle=True, seed=cfg.seed,
                           pin_memory=setup.pin_memory, num_workers=cfg.num_workers),
        aug_gen=torch.Generator().manual_seed(cfg.seed + AUGMENT_SEED_OFFSET),
        scaler=setup.precision.new_scaler(),
    )
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    start = time.monotonic()
    with (
        MetricsLog(run_dir) as log,
        ProgressBar((cfg.base_epochs + cfg.clone_epochs) * steps_per_epoch, desc=STUDY, enabled=cfg.progress) as bar,
    ):
        while state.epoch < cfg.base_epochs:
            train_epoch(setup, state, bar)
            side = state.sides[0]
            log.log(step=state.epoch - 1 - cfg.base_epochs, phase="base", epoch=state.epoch,
                    base_loss=side.epoch.loss_sum / side.epoch.seen, base_acc=side.epoch.correct / side.epoch.seen,
                    base_test_acc=accuracy(base, test_x, test_y, cfg.batch_size))
        deviation = expand(setup, state, metric_x, metric_y)
        log.log(step=0, phase="clone", epoch=0, expansion_max_deviation=deviation,
                **clone_metrics(setup, state, metric_x, metric_y))
        while state.epoch < cfg.clone_epochs:
            train_epoch(setup, state, bar)
            record: dict[str, Any] = {**state.sides[0].summary(), **state.sides[1].summary(),
                                      "elapsed_s": time.monotonic() - start}
            if state.epoch % cfg.metric_every == 0 or state.epoch == cfg.clone_epochs:
                check_parameters(state)
                record["clone_test_acc"] = accuracy(state.sides[0].model, test_x, test_y, cfg.batch_size)
                record["base_test_acc"] = accuracy(state.sides[1].model, test_x, test_y, cfg.batch_size)
                record.update(clone_metrics(setup, state, metric_x, metric_y))
            log.log(step=state.epoch, phase="clone", epoch=state.epoch, **record)


# ----------------------------------------------------------------------------------------------- analysis, figure


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
    ("Effective rank, last hidden layer (solid: clone, dashed: base)", ("clone_effective_rank", "base_effective_rank"),
     "effective rank"),
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
                ax.plot(s.steps, s.mean, color=colour, linestyle="-" if ki == 0 else "--",
                        label=f"{label} {who}".strip() + (f" ({s.n_label})" if pooled else ""))
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
    parser.add_argument("--preset", default="smoke", choices=list(CloningConfig.PRESETS),
                        help="configuration preset (default: smoke)")
    parser.add_argument("--out", default=None, help="root folder of run directories (same as out=DIR)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="configuration overrides")
    parser.epilog = "keys:\n" + CloningConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = resolve_config(CloningConfig, args.preset, overrides)
    run_dir = run(cfg)
    print(run_dir)
    return 0
