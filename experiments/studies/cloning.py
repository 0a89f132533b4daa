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
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from experiments.cloning import compare_with_base, expand_with_plan, manifold_residual
from experiments.config import (
    BaseConfig,
    check_image_study_options,
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
    clone_r2_by_layer,
    effective_rank,
    feature_layers,
    layer_features,
    prediction_agreement,
    stratified_indices,
)
from experiments.models import build
from experiments.optim import make_optimizer
from experiments.precision import autocast, resolve_amp
from experiments.runs import MetricsLog, ProgressBar, new_run_dir, save_config

STUDY = "cloning"
AUGMENT_PADDING = 4


@dataclass
class CloningConfig(BaseConfig):
    """Configuration of the cloning study; presets ``smoke`` (CPU, offline, minutes) and ``paper``."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {
            "dataset": "synthetic", "synthetic_shape": (3, 8, 8), "train_samples": 2048, "test_samples": 512,
            "synthetic_noise": 2.0, "arch": "mlp", "width": 0.25, "base_epochs": 4, "clone_epochs": 40, "batch_size": 64,
            "base_lr": 0.05, "lr": 0.05, "metric_every": 5, "metric_batch": 256, "augment": False, "threads": 1,
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
    width: float = param(1.0, "width multiplier of the base model", low=0.0, low_open=True)
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


def _datasets(cfg: CloningConfig) -> tuple[ImageDataset, ImageDataset]:
    if cfg.dataset == "synthetic":
        shape = tuple(cfg.synthetic_shape)
        n_train = cfg.train_samples or 4096
        n_test = cfg.test_samples or 1024
        train = make_synthetic(n_train, image_shape=shape, noise=cfg.synthetic_noise, seed=cfg.seed)  # type: ignore[arg-type]
        test = make_synthetic(n_test, image_shape=shape, noise=cfg.synthetic_noise, seed=cfg.seed,  # type: ignore[arg-type]
                              sample_seed=cfg.seed + 10_000)
        return train, test
    train = load_dataset(cfg.dataset, cfg.data_dir, True, cfg.download).subset(cfg.train_samples or None, cfg.seed)
    test = load_dataset(cfg.dataset, cfg.data_dir, False, cfg.download).subset(cfg.test_samples or None, cfg.seed)
    return train, test


def _model_options(cfg: CloningConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    opts: dict[str, Any] = {"width": cfg.width, "dropout": cfg.dropout}
    if cfg.activation != "default":
        opts["activation"] = cfg.activation
    if cfg.normalization != "default":
        opts["normalization"] = cfg.normalization
    if cfg.arch == "vit":
        opts["patch_size"] = cfg.patch_size or (8 if min(input_shape[1:]) >= 16 else 4)
    return opts


@dataclass
class _Side:
    """One of the two models trained side by side."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0

    def reset(self) -> None:
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0


def _train_step(side: _Side, x: torch.Tensor, y: torch.Tensor, device: str, amp: torch.dtype | None,
                scaler: Any) -> None:
    side.model.train()
    side.optimizer.zero_grad(set_to_none=True)
    with autocast(device, amp):
        logits = side.model(x)
        loss = F.cross_entropy(logits.float(), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(side.optimizer)
        scaler.update()
    else:
        loss.backward()
        side.optimizer.step()
    side.loss_sum += float(loss.detach()) * len(y)
    side.correct += int((logits.detach().argmax(1) == y).sum())
    side.seen += len(y)


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(y), batch))
    return correct / max(1, len(y))


def run(cfg: CloningConfig) -> Path:
    """Run the study; returns the run directory (config.json, metrics.jsonl, figures/)."""
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = cfg.device
    amp = resolve_amp(cfg.amp, device)
    pin = resolve_pin_memory({"auto": "auto", "true": True, "false": False}[cfg.pin_memory], device)
    train, test = _datasets(cfg)
    mean, std = channel_stats(train.as_float())
    prep = lambda imgs: normalize(imgs.to(device, non_blocking=True).float() / 255.0, mean, std)  # noqa: E731
    run_dir = new_run_dir(cfg.out, STUDY)
    save_config(run_dir, cfg, extra={"resolved": {"amp": str(amp), "pin_memory": pin, "input_shape": list(train.input_shape),
                                                   "num_classes": train.num_classes, "train_samples": len(train),
                                                   "test_samples": len(test)}})
    metric_idx = stratified_indices(train.labels, cfg.metric_batch, cfg.seed)
    metric_x, metric_y = prep(train.images[metric_idx]), train.labels[metric_idx].to(device)
    test_x, test_y = prep(test.images), test.labels.to(device)

    base = build(cfg.arch, train.input_shape, train.num_classes, **_model_options(cfg, train.input_shape)).to(device)
    loader = make_loader(train.images, train.labels, cfg.batch_size, shuffle=True, seed=cfg.seed, pin_memory=pin,
                         num_workers=cfg.num_workers)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None

    def batches() -> Any:
        for images, labels in loader:
            x = prep(images)
            if cfg.augment:
                x = random_crop_flip(x, AUGMENT_PADDING, True, aug_gen)
            yield x, labels.to(device, non_blocking=True)

    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    bar = ProgressBar((cfg.base_epochs + cfg.clone_epochs) * steps_per_epoch, desc=STUDY, enabled=cfg.progress)
    start = time.monotonic()
    with MetricsLog(run_dir) as log:
        base_side = _Side("base", base, make_optimizer("sgd", base.parameters(), lr=cfg.base_lr))
        for epoch in range(cfg.base_epochs):
            base_side.reset()
            for x, y in batches():
                _train_step(base_side, x, y, device, amp, scaler)
                bar.update(1, loss=base_side.loss_sum / base_side.seen)
            log.log(step=epoch - cfg.base_epochs, phase="base", epoch=epoch + 1,
                    base_loss=base_side.loss_sum / base_side.seen, base_acc=base_side.correct / base_side.seen,
                    base_test_acc=_accuracy(base, test_x, test_y, cfg.batch_size))

        clone, plan = expand_with_plan(base, cfg.clone_factor, cfg.perturb, cfg.perturb_scale, cfg.seed)
        check = compare_with_base(base, clone, plan, metric_x, metric_y, train=False, gradient_reference="model")
        base.zero_grad(set_to_none=True)
        clone.zero_grad(set_to_none=True)
        clone_start = [p.detach().clone() for p in clone.parameters()]
        sides = [_Side("clone", clone, _optimizer(cfg, clone)), _Side("base", base, _optimizer(cfg, base))]
        layers = feature_layers(base)
        profiles = {n: plan.outputs[n].profile for n in layers}
        log.log(step=0, phase="clone", epoch=0, expansion_max_deviation=check.max_deviation(),
                **_metrics(base, clone, plan, clone_start, layers, profiles, metric_x, metric_y, cfg))
        for epoch in range(1, cfg.clone_epochs + 1):
            for side in sides:
                side.reset()
            for x, y in batches():
                for side in sides:
                    _train_step(side, x, y, device, amp, scaler)
                bar.update(1, loss=sides[0].loss_sum / sides[0].seen)
            record: dict[str, Any] = {
                "clone_loss": sides[0].loss_sum / sides[0].seen, "clone_acc": sides[0].correct / sides[0].seen,
                "base_loss": sides[1].loss_sum / sides[1].seen, "base_acc": sides[1].correct / sides[1].seen,
                "elapsed_s": time.monotonic() - start,
            }
            if epoch % cfg.metric_every == 0 or epoch == cfg.clone_epochs:
                record["clone_test_acc"] = _accuracy(clone, test_x, test_y, cfg.batch_size)
                record["base_test_acc"] = _accuracy(base, test_x, test_y, cfg.batch_size)
                record.update(_metrics(base, clone, plan, clone_start, layers, profiles, metric_x, metric_y, cfg))
            log.log(step=epoch, phase="clone", epoch=epoch, **record)
    bar.close()
    from experiments.studies.plotting import plot_runs

    plot_runs([run_dir], run_dir / "figures" / "cloning.png")
    return run_dir


def _optimizer(cfg: CloningConfig, model: nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "noisy_sgd":
        return make_optimizer("noisy_sgd", model.parameters(), lr=cfg.lr, sigma0=cfg.sigma0, decay=cfg.decay, seed=cfg.seed)
    return make_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr)


def _metrics(base: nn.Module, clone: nn.Module, plan: Any, clone_start: list[torch.Tensor], layers: list[str],
             profiles: dict[str, Any], x: torch.Tensor, y: torch.Tensor, cfg: CloningConfig) -> dict[str, float]:
    """Cloning R² (forward, backward, mean; per layer), effective ranks, agreement, manifold distances."""
    base_out, base_h, _ = layer_features(base, x, None, layers, seed=cfg.seed)
    clone_out, clone_h, clone_g = layer_features(clone, x, y, layers, seed=cfg.seed)
    r2 = clone_r2_by_layer(clone_h, clone_g, profiles)
    forward = [v for k, v in r2.items() if k.endswith("/forward")]
    backward = [v for k, v in r2.items() if k.endswith("/backward")]
    last = layers[-1]
    out = {
        "cloning_r2": sum(forward + backward) / len(forward + backward),
        "cloning_r2_forward": sum(forward) / len(forward),
        "cloning_r2_backward": sum(backward) / len(backward),
        "clone_effective_rank": effective_rank(clone_h[last]),
        "base_effective_rank": effective_rank(base_h[last]),
        "agreement": prediction_agreement(clone_out, base_out),
        "manifold_residual": manifold_residual(clone, plan),
    }
    with torch.no_grad():
        moved = [p.detach() - p0 for p, p0 in zip(clone.parameters(), clone_start)]
        total = math.sqrt(sum(float((m**2).sum()) for m in moved))
    out["clone_displacement"] = total
    out.update({f"r2/{k}": v for k, v in r2.items()})
    return out


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
