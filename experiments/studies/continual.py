"""The continual-learning study (Sections 3.1 and 4, Appendix B.1.1–B.1.3; Figures 3.1, 3.2, 4.1, B.3–B.6).

``python -m experiments continual [--preset smoke|paper] [key=value ...] [--out DIR]``
``python -m experiments continual --plot RUN_DIR [RUN_DIR ...] [--output DIR]`` (redraw figures)

A model is trained on a sequence of tasks over disjoint class subsets (paper: Tiny ImageNet, 40 tasks ×
5 classes, 500 steps per task, Adam with lr 1e-3, 1e-4 for the ViT). Per seed the classes are a seeded
permutation of all classes, split into consecutive tasks. At each task start the output layer can be
re-initialised (``reset_head``: default weights, zero bias, cleared optimizer state) and the loss can
be masked to the task's classes (``mask_loss``: the softmax runs over the task's logits only, and the
predictions are the argmax over those). Interventions (``method``): none, Continual Backpropagation on
every hidden layer (:mod:`experiments.optim.cbp_targets`), shrink-and-perturb after every step, or
coupled L2 regularisation.

``metrics.jsonl`` (written as it goes; every record has ``seed``, ``task``, ``step`` and ``event``):

* ``event="interval"`` every ``log_interval`` steps (and at step 0): ``online_accuracy`` (accuracy of each
  training batch *before* its update, averaged over the interval's samples), ``loss``, the metric suite
  on a fixed metric batch stratified over *all* classes (drawn once per seed) — per layer
  ``layer/<name>/{dead,duplicate,saturated}_fraction`` and ``layer/<name>/effective_rank``, and their
  means over layers ``dead_fraction``, ``duplicate_fraction``, ``saturated_fraction``,
  ``effective_rank`` — and, with CBP, ``cbp_replaced`` (units replaced in the interval);
* ``event="task_end"`` after each task: ``task_accuracy`` (held-out accuracy on the task just trained),
  ``mean_task_accuracy`` (mean of the task-end accuracies of all tasks so far), ``seen_tasks_accuracy``
  (the current model on the held-out data of every task seen so far, averaged over tasks) and
  ``task_online_accuracy`` (online accuracy over the whole task).

Figures (:func:`plot_run`, mean ± std over seeds): ``curves.png`` (online accuracy, dead and duplicate
fraction, effective rank vs step: Figures 3.1, 3.2, 4.1), ``task_accuracy.png``, ``layers.png``
(per-layer duplicate and dead fractions: Figures B.5, B.6), ``lop_scatter.png`` (Figure B.4) and
``summary_bars.png`` (Figure B.3). ``summary.json`` holds the headline numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.config import (
    BaseConfig,
    ConfigError,
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
    dead_fraction,
    duplicate_fraction,
    effective_rank,
    layer_features,
    saturated_fraction,
    stratified_indices,
)
from experiments.models import build, make_spec
from experiments.models.vit import ViT
from experiments.optim.cbp_targets import ModelContinualBackprop
from experiments.optim.plasticity_baselines import l2_optimizer, reset_head_, shrink_and_perturb_
from experiments.runs import MetricsLog, ProgressBar, load_config, load_metrics, new_run_dir, save_config
from experiments.precision import autocast, resolve_amp

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
AUGMENT_PADDING = 4
STATS_SAMPLES = 10_000
"""Images used for the per-channel input normalisation statistics (a seeded subset)."""
SYNTHETIC_DATA_SEED = 0
"""The synthetic dataset is one fixed dataset (like a real one); run seeds change class order and model."""
SYNTHETIC_TEST_SEED_OFFSET = 10_000
VIT_PATCH_CHOICES: tuple[int, ...] = (8, 4, 2, 1)
VIT_MIN_PATCHES = 4
SUMMARY_FILE = "summary.json"
FIGURES_DIR = "figures"
INTERVAL, TASK_END = "interval", "task_end"
SUITE = ("dead_fraction", "duplicate_fraction", "effective_rank", "saturated_fraction")
_GROUPING_IGNORED = {
    "seed",
    "seeds",
    "out",
    "progress",
    "device",
    "figures",
    "plot_window",
    "data_dir",
    "download",
    "pin_memory",
    "amp",
    "eval_batch_size",
    "threads",
}


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
    width: float = param(1.0, "width multiplier of the default sizes", low=0.0, low_open=True)
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
    seeds: tuple[int, ...] = param((), "seeds run one after another in one run dir (empty = seed)", low=0)
    amp: Literal["auto", "off", "bf16", "fp16"] = param(
        "auto", "mixed precision (auto: bf16 on CUDA, off on CPU)"
    )
    pin_memory: Literal["auto", "true", "false"] = param("auto", "pinned host memory (auto: on CUDA only)")
    plot_window: int = param(0, "steps averaged per plotted point (0 = log_interval; paper 1000)", low=0)
    figures: bool = param(True, "write figures at the end of the run")
    threads: int = param(0, "torch intra-op CPU threads during the run (0 = torch's default)", low=0)
    out: str = param("runs", "root folder of run directories")

    def validate(self) -> None:
        super().validate()
        if self.steps_per_task % self.log_interval:
            raise ConfigError(
                f"log_interval={self.log_interval} must divide steps_per_task={self.steps_per_task}"
            )
        if self.seeds and self.seed != 0:
            raise ConfigError(
                f"give either seed={self.seed} or seeds={','.join(map(str, self.seeds))}, not both "
                f"(presets may set seeds; seeds={self.seed} runs seed {self.seed} alone)"
            )
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds={self.seeds} repeats a seed")
        check_image_study_options(self)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for method, keys in METHOD_KEYS.items():
            changed = [k for k in keys if getattr(self, k) != defaults[k]]
            if changed and self.method != method:
                raise ConfigError(
                    f"{', '.join(changed)} only act with method={method} (method={self.method})"
                )

    def run_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]


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


# ----------------------------------------------------------------------------------------------- tasks


def task_classes(num_classes: int, tasks: int, classes_per_task: int, seed: int) -> list[list[int]]:
    """The class subsets of the tasks: a permutation of range(num_classes) seeded by ``seed``, cut into
    ``tasks`` consecutive blocks of ``classes_per_task`` (disjoint; covering when the product is
    ``num_classes``)."""
    if tasks * classes_per_task > num_classes:
        raise ValueError(
            f"tasks × classes_per_task = {tasks} × {classes_per_task} exceeds the "
            f"{num_classes} classes of the dataset"
        )
    order = torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[t * classes_per_task : (t + 1) * classes_per_task] for t in range(tasks)]


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, classes: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, predictions). With ``classes`` (the current task's class ids) the softmax runs over those
    logits only, L = −log softmax(z_C)_y, so the other logits get zero gradient, and a prediction is the
    arg-max over C; without, ordinary cross-entropy and arg-max over all classes. Half-precision logits
    (autocast) are promoted to float32 first."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    if classes is None:
        return F.cross_entropy(logits, targets), logits.argmax(1)
    position = torch.full((logits.shape[1],), -1, dtype=torch.long, device=logits.device)
    position[classes] = torch.arange(len(classes), device=logits.device)
    local = position[targets]
    if bool((local < 0).any()):
        raise ValueError("a target is not one of the task's classes")
    task_logits = logits[:, classes]
    return F.cross_entropy(task_logits, local), classes[task_logits.argmax(1)]


class RunningAccuracy:
    """Sample-weighted running accuracy (and mean loss): ``update``, ``result``, ``reset``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.seen, self.loss_sum = 0, 0, 0.0

    def update(self, correct: int, count: int, loss: float) -> None:
        self.correct += int(correct)
        self.seen += int(count)
        self.loss_sum += float(loss) * int(count)

    def result(self) -> dict[str, float]:
        if self.seen == 0:
            return {}
        return {"accuracy": self.correct / self.seen, "loss": self.loss_sum / self.seen}


def output_layer(model: nn.Module) -> nn.Linear:
    """The classifier layer of a model built by :func:`experiments.models.build`."""
    head = model.head if isinstance(model, ViT) else model[-1]  # type: ignore[index]
    if not isinstance(head, nn.Linear):
        raise TypeError(f"expected the output layer to be nn.Linear, got {type(head).__name__}")
    return head


# ----------------------------------------------------------------------------------------------- data


def load_data(cfg: ContinualConfig) -> tuple[ImageDataset, ImageDataset]:
    """(train, held-out) splits; the synthetic set has tasks × classes_per_task classes."""
    if cfg.dataset == "synthetic":
        classes = cfg.tasks * cfg.classes_per_task
        channels, height, width = cfg.synthetic_shape
        shape = (channels, height, width)
        train = make_synthetic(
            cfg.synthetic_train_per_class * classes,
            classes,
            shape,
            cfg.synthetic_noise,
            seed=SYNTHETIC_DATA_SEED,
        )
        test = make_synthetic(
            cfg.synthetic_test_per_class * classes,
            classes,
            shape,
            cfg.synthetic_noise,
            seed=SYNTHETIC_DATA_SEED,
            sample_seed=SYNTHETIC_DATA_SEED + SYNTHETIC_TEST_SEED_OFFSET,
        )
        return train, test
    return load_dataset(cfg.dataset, cfg.data_dir, True, cfg.download), load_dataset(
        cfg.dataset, cfg.data_dir, False, cfg.download
    )


def _vit_patch(input_shape: tuple[int, int, int]) -> int:
    _, h, w = input_shape
    for p in VIT_PATCH_CHOICES:
        if h % p == 0 and w % p == 0 and (h // p) * (w // p) >= VIT_MIN_PATCHES:
            return p
    return 1


def model_options(cfg: ContinualConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    opts: dict[str, Any] = {"width": cfg.width, "affine": cfg.affine, "dropout": cfg.dropout}
    if cfg.activation != "default":
        opts["activation"] = cfg.activation
    if cfg.normalization != "default":
        opts["normalization"] = cfg.normalization
    if cfg.arch == "vit":
        opts["patch_size"] = cfg.patch_size or _vit_patch(input_shape)
    return opts


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _cycle(loader: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:  # each pass re-shuffles from the loader's seeded generator
        yield from loader


# ----------------------------------------------------------------------------------------------- training


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    classes: torch.Tensor | None,
    amp: torch.dtype | None,
    scaler: Any,
) -> tuple[float, int, torch.Tensor]:
    """One update; returns (loss, correct predictions, logits) computed *before* the update."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with autocast(str(x.device), amp):
        logits = model(x)
    loss, predictions = masked_cross_entropy(logits, y, classes)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return float(loss.detach()), int((predictions == y).sum()), logits.detach()


@torch.no_grad()
def held_out_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: torch.Tensor | None,
    prep: Any,
    batch_size: int,
) -> float:
    """Accuracy in eval mode; with ``classes`` predictions are the arg-max over those classes."""
    model.eval()
    correct = 0
    for i in range(0, len(labels), batch_size):
        logits = model(prep(images[i : i + batch_size])).float()
        y = labels[i : i + batch_size].to(logits.device)
        if classes is None:
            correct += int((logits.argmax(1) == y).sum())
        else:
            correct += int((classes[logits[:, classes].argmax(1)] == y).sum())
    return correct / max(1, len(labels))


def metric_suite(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, float]:
    """Dead, duplicate, saturated fractions and effective rank (Appendix B.1.2) of every hidden layer on
    the metric batch (gradients G from cross-entropy over all classes), plus their means over layers."""
    _, feats, grads = layer_features(model, x, y, seed=seed)
    out: dict[str, float] = {}
    per_metric: dict[str, list[float]] = defaultdict(list)
    for name, H in feats.items():
        values = {
            "dead_fraction": dead_fraction(H),
            "duplicate_fraction": duplicate_fraction(H),
            "effective_rank": effective_rank(H),
            "saturated_fraction": saturated_fraction(H, grads[name]),
        }
        for key, value in values.items():
            out[f"layer/{name}/{key}"] = value
            per_metric[key].append(value)
    out.update({key: float(np.mean(v)) for key, v in per_metric.items()})
    return out


def _make_optimizer(cfg: ContinualConfig, model: nn.Module) -> torch.optim.Optimizer:
    assert cfg.lr is not None  # resolved by resolve_continual_config
    weight_decay = cfg.weight_decay if cfg.method == "l2" else 0.0
    return l2_optimizer(model.parameters(), cfg.optimizer, cfg.lr, weight_decay)


def run_seed(
    cfg: ContinualConfig,
    seed: int,
    train: ImageDataset,
    test: ImageDataset,
    log: MetricsLog,
    bar: ProgressBar,
) -> float:
    """Train one seed through every task, logging to ``log``; returns its wall time in seconds."""
    seed_everything(seed)
    device = cfg.device
    amp = resolve_amp(cfg.amp, device)
    pin = resolve_pin_memory({"auto": "auto", "true": True, "false": False}[cfg.pin_memory], device)
    stats_idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:STATS_SAMPLES]
    mean, std = channel_stats(
        ImageDataset(
            train.images[stats_idx], train.labels[stats_idx], train.num_classes, train.name
        ).as_float()
    )

    def prep(images: torch.Tensor) -> torch.Tensor:
        x = images.to(device, non_blocking=True)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return normalize(x, mean, std)

    order = task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, seed)
    model = build(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape)).to(
        device
    )
    optimizer = _make_optimizer(cfg, model)
    head = output_layer(model)
    cbp = None
    if cfg.method == "cbp":
        cbp = ModelContinualBackprop(
            model,
            optimizer,
            init=cfg.cbp_init,
            replacement_rate=cfg.replacement_rate,
            maturity_threshold=cfg.maturity_threshold,
            decay_rate=cfg.decay_rate,
            utility=cfg.utility,
            generator=torch.Generator().manual_seed(_derived_seed(seed, 1)),
        )
    noise_gen = torch.Generator().manual_seed(_derived_seed(seed, 2))
    aug_gen = torch.Generator().manual_seed(_derived_seed(seed, 3))
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    metric_idx = stratified_indices(train.labels, cfg.metric_batch_size, seed)
    metric_x, metric_y = prep(train.images[metric_idx]), train.labels[metric_idx].to(device)
    test_sets = []
    for classes in order:
        mask = torch.isin(test.labels, torch.tensor(classes))
        test_sets.append((test.images[mask], test.labels[mask]))

    step = 0
    start = time.monotonic()
    log.log(step=0, seed=seed, task=0, event=INTERVAL, **metric_suite(model, metric_x, metric_y, seed))
    interval, whole_task = RunningAccuracy(), RunningAccuracy()
    task_end_accuracies: list[float] = []
    replaced = 0
    for t, classes in enumerate(order):
        class_ids = torch.tensor(classes, device=device)
        if cfg.reset_head:
            reset_head_(head, optimizer)
        mask = torch.isin(train.labels, torch.tensor(classes))
        loader = make_loader(
            train.images[mask],
            train.labels[mask],
            cfg.batch_size,
            shuffle=True,
            seed=_derived_seed(seed, 4, t),
            pin_memory=pin,
        )
        batches = _cycle(loader)
        whole_task.reset()
        for _ in range(cfg.steps_per_task):
            images, labels = next(batches)
            x, y = prep(images), labels.to(device, non_blocking=True)
            if cfg.augment:
                x = random_crop_flip(x, AUGMENT_PADDING, True, aug_gen)
            loss, correct, _ = train_step(
                model, optimizer, x, y, class_ids if cfg.mask_loss else None, amp, scaler
            )
            if cbp is not None:
                replaced += sum(int(r.numel()) for r in cbp.step())
            if cfg.method == "shrink_perturb":
                shrink_and_perturb_(model.parameters(), cfg.shrink, cfg.noise_std, noise_gen)
            step += 1
            interval.update(correct, len(y), loss)
            whole_task.update(correct, len(y), loss)
            bar.update(1, seed=seed, task=t, acc=interval.correct / max(1, interval.seen))
            if step % cfg.log_interval == 0:
                result = interval.result()
                record: dict[str, Any] = {
                    "online_accuracy": result["accuracy"],
                    "loss": result["loss"],
                    "elapsed_s": time.monotonic() - start,
                }
                if cbp is not None:
                    record["cbp_replaced"] = replaced
                    replaced = 0
                record.update(metric_suite(model, metric_x, metric_y, seed))
                log.log(step=step, seed=seed, task=t, event=INTERVAL, **record)
                interval.reset()
        eval_classes = class_ids if cfg.mask_loss else None
        accuracy = held_out_accuracy(model, *test_sets[t], eval_classes, prep, cfg.eval_batch_size)
        task_end_accuracies.append(accuracy)
        seen = [
            held_out_accuracy(
                model,
                *test_sets[s],
                torch.tensor(order[s], device=device) if cfg.mask_loss else None,
                prep,
                cfg.eval_batch_size,
            )
            for s in range(t + 1)
        ]
        log.log(
            step=step,
            seed=seed,
            task=t,
            event=TASK_END,
            classes=classes,
            task_accuracy=accuracy,
            mean_task_accuracy=float(np.mean(task_end_accuracies)),
            seen_tasks_accuracy=float(np.mean(seen)),
            task_online_accuracy=whole_task.result()["accuracy"],
        )
    if cbp is not None:
        cbp.close()
    return time.monotonic() - start


def run(cfg: ContinualConfig) -> Path:
    """Run every seed of ``cfg`` into one new run directory; returns it (config.json, metrics.jsonl,
    summary.json, figures/). The data are loaded before the directory is created, so a missing dataset
    (DatasetNotFound) leaves nothing behind."""
    cfg = with_arch_defaults(cfg)
    train, test = load_data(cfg)
    try:  # checked before the run directory exists: a mistake leaves nothing behind
        task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, 0)
        make_spec(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape))
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    run_dir = new_run_dir(cfg.out, STUDY)
    resolved = {
        "amp": str(resolve_amp(cfg.amp, cfg.device)),
        "seeds": cfg.run_seeds(),
        "pin_memory": resolve_pin_memory(
            {"auto": "auto", "true": True, "false": False}[cfg.pin_memory], cfg.device
        ),
        "input_shape": list(train.input_shape),
        "num_classes": train.num_classes,
        "train_samples": len(train),
        "test_samples": len(test),
    }
    save_config(run_dir, cfg, extra={"resolved": resolved})
    seeds = cfg.run_seeds()
    per_seed: dict[int, float] = {}
    threads_before = torch.get_num_threads()
    try:
        if cfg.threads:  # tiny CPU models: one thread is ~10× faster on a loaded 2-core machine (measured)
            torch.set_num_threads(cfg.threads)
        with (
            MetricsLog(run_dir) as log,
            ProgressBar(len(seeds) * cfg.tasks * cfg.steps_per_task, desc=STUDY, enabled=cfg.progress) as bar,
        ):
            for seed in seeds:
                per_seed[seed] = run_seed(cfg, seed, train, test, log, bar)
    finally:
        torch.set_num_threads(threads_before)
    summary = summarize(run_dir)
    summary["wall_s_per_seed"] = {str(s): wall for s, wall in per_seed.items()}
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if cfg.figures:
        plot_run([run_dir], run_dir / FIGURES_DIR)
    return run_dir


# ----------------------------------------------------------------------------------------------- summary


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def summarize(run_dir: Path) -> dict[str, Any]:
    """Headline numbers, mean and std over seeds: online accuracy of the first and last task and over the
    whole run (Figure B.3), task-end accuracy of the first and last task, and the layer-mean metric suite
    at step 0 and at the end."""
    records = load_metrics(run_dir)
    seeds = sorted({r["seed"] for r in records})
    out: dict[str, Any] = {"seeds": seeds}
    rows: dict[str, list[float]] = defaultdict(list)
    for s in seeds:
        intervals = [r for r in records if r["seed"] == s and r["event"] == INTERVAL]
        ends = [r for r in records if r["seed"] == s and r["event"] == TASK_END]
        online = [r for r in intervals if "online_accuracy" in r]
        last_task = ends[-1]["task"]
        rows["online_accuracy_mean"].append(float(np.mean([r["online_accuracy"] for r in online])))
        rows["online_accuracy_first_task"].append(ends[0]["task_online_accuracy"])
        rows["online_accuracy_last_task"].append(ends[-1]["task_online_accuracy"])
        rows["task_accuracy_first_task"].append(ends[0]["task_accuracy"])
        rows["task_accuracy_last_task"].append(ends[-1]["task_accuracy"])
        rows["mean_task_accuracy"].append(ends[-1]["mean_task_accuracy"])
        for key in SUITE:
            rows[f"{key}_start"].append(intervals[0][key])
            rows[f"{key}_end"].append(intervals[-1][key])
        out.setdefault("tasks", last_task + 1)
    out.update({k: _mean_std(v) for k, v in rows.items()})
    return out


# ----------------------------------------------------------------------------------------------- figures


def group_runs(run_dirs: list[Path]) -> dict[str, list[Path]]:
    """Run directories keyed by a label of the configuration keys that differ between them."""
    configs = {d: _defining_keys(load_config(d)) for d in run_dirs}
    keys = sorted({k for c in configs.values() for k in c})
    # A key is varying when the runs that have it disagree (other methods' parameters are absent).
    varying = [k for k in keys if len({json.dumps(c[k]) for c in configs.values() if k in c}) > 1]
    groups: dict[str, list[Path]] = defaultdict(list)
    for d, c in configs.items():
        label = (
            ", ".join(f"{k}={c[k]}" for k in varying if k in c)
            or f"{c.get('arch')}, norm={c.get('normalization')}"
        )
        groups[label].append(d)
    return dict(groups)


def _defining_keys(config: dict[str, Any]) -> dict[str, Any]:
    """The keys that define a setting: bookkeeping keys and other methods' parameters dropped."""
    unused = {k for method, keys in METHOD_KEYS.items() if method != config.get("method") for k in keys}
    return {k: v for k, v in config.items() if k not in _GROUPING_IGNORED and k not in unused}


def _windowed(points: dict[int, float], window: int) -> dict[int, float]:
    """Average of the values in each window of steps ((k−1)·w, k·w], plotted at k·w (step 0 alone)."""
    bins: dict[int, list[float]] = defaultdict(list)
    for step, value in points.items():
        bins[math.ceil(step / window) * window].append(value)
    return {b: float(np.mean(v)) for b, v in bins.items()}


def seed_series(
    run_dirs: list[Path], key: str, window: int, event: str = INTERVAL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(steps, mean, std, number of seeds) of ``key`` over every seed of ``run_dirs`` (steps all share)."""
    per_seed = []
    for d in run_dirs:
        records = [
            r
            for r in load_metrics(d)
            if r.get("event") == event and isinstance(r.get(key), (int, float)) and not math.isnan(r[key])
        ]
        for s in sorted({r["seed"] for r in records}):
            pts = {r["step"]: float(r[key]) for r in records if r["seed"] == s}
            per_seed.append(_windowed(pts, window) if window > 1 else pts)
    if not per_seed:
        return np.array([]), np.array([]), np.array([]), 0
    steps = sorted(set.intersection(*(set(p) for p in per_seed)))
    values = np.array([[p[s] for s in steps] for p in per_seed], dtype=float)
    return np.array(steps), values.mean(0), values.std(0), len(per_seed)


def _window(run_dirs: list[Path]) -> int:
    cfg = load_config(run_dirs[0])
    return int(cfg.get("plot_window") or cfg.get("log_interval") or 1)


def _style(run_dirs: list[Path]) -> str:
    """Figure 4.1's convention: dotted lines for normalization with affine parameters."""
    cfg = load_config(run_dirs[0])
    return ":" if cfg.get("affine") and cfg.get("normalization") not in ("none",) else "-"


def plot_run(run_dirs: list[Path | str], out_dir: Path | str) -> list[Path]:
    """Draw every figure of the module docstring for ``run_dirs`` (grouped by configuration) into
    ``out_dir``; returns the written files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dirs = [Path(d) for d in run_dirs]
    groups = group_runs(dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    panels = (
        ("online_accuracy", "online accuracy"),
        ("dead_fraction", "dead fraction"),
        ("duplicate_fraction", "duplicate fraction"),
        ("effective_rank", "effective rank (layer mean)"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.5))
    for ax, (key, title) in zip(axes, panels):
        for gi, (label, members) in enumerate(sorted(groups.items())):
            steps, mean, std, n = seed_series(members, key, _window(members))
            if not len(steps):
                continue
            ax.plot(steps, mean, linestyle=_style(members), color=f"C{gi % 10}", label=f"{label} (n={n})")
            ax.fill_between(steps, mean - std, mean + std, color=f"C{gi % 10}", alpha=0.2)
        _task_boundaries(ax, dirs[0])
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    written.append(_save(fig, out_dir / "curves.png", plt, *axes[0].get_legend_handles_labels()))

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for gi, (label, members) in enumerate(sorted(groups.items())):
        steps, mean, std, n = seed_series(members, "task_accuracy", 1, TASK_END)
        if len(steps):
            ax.errorbar(
                np.arange(1, len(steps) + 1),
                mean,
                yerr=std,
                fmt="o-",
                color=f"C{gi % 10}",
                capsize=2,
                label=f"{label} (n={n})",
            )
    ax.set_xlabel("task")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("held-out accuracy at task end")
    ax.grid(alpha=0.3)
    written.append(_save(fig, out_dir / "task_accuracy.png", plt, *ax.get_legend_handles_labels()))

    names = sorted(groups)
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 3.2 * len(names)), squeeze=False)
    for row, label in enumerate(names):
        members = groups[label]
        layers = _layer_names(members[0])
        for col, key in enumerate(("duplicate_fraction", "dead_fraction")):
            ax = axes[row, col]
            for li, layer in enumerate(layers):
                steps, mean, _, _ = seed_series(members, f"layer/{layer}/{key}", _window(members))
                ax.plot(steps, mean, color=plt.cm.viridis(li / max(1, len(layers) - 1)), label=layer)
            ax.set_title(f"{key.replace('_', ' ')} per layer\n{label}", fontsize=8)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        axes[row, 0].legend(fontsize=6, ncol=2, title="layer", title_fontsize=6)
    written.append(_save(fig, out_dir / "layers.png", plt))

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), squeeze=False)
    for ax, label in zip(axes[0], names):
        members = groups[label]
        window = _window(members)
        series = {
            k: seed_series(members, k, window)
            for k in ("duplicate_fraction", "dead_fraction", "online_accuracy")
        }
        common = sorted(set(series["duplicate_fraction"][0]) & set(series["online_accuracy"][0]))
        if common:
            pick = {k: dict(zip(v[0], v[1])) for k, v in series.items()}
            acc = np.array([pick["online_accuracy"][s] for s in common])
            points = ax.scatter(
                [pick["duplicate_fraction"][s] for s in common],
                [pick["dead_fraction"][s] for s in common],
                c=common,
                cmap="viridis",
                s=10 + 120 * acc,
            )
            fig.colorbar(points, ax=ax, label="step")
        ax.set_xlabel("duplicate fraction")
        ax.set_ylabel("dead fraction")
        ax.set_title(f"{label}\n(point size: online accuracy)", fontsize=8)
    written.append(_save(fig, out_dir / "lop_scatter.png", plt))

    bars = (
        ("dead_fraction", "dead fraction"),
        ("duplicate_fraction", "duplicate fraction"),
        ("online_accuracy", "online accuracy"),
    )
    fig, axes = plt.subplots(1, len(bars), figsize=(4.3 * len(bars), 3.5))
    for ax, (key, title) in zip(axes, bars):
        means, stds = [], []
        for label in names:
            per_seed = _per_seed_run_means(groups[label], key)
            means.append(float(np.mean(per_seed)) if per_seed else math.nan)
            stds.append(float(np.std(per_seed)) if per_seed else math.nan)
        patches = ax.bar(
            range(len(names)), means, yerr=stds, color=[f"C{i % 10}" for i in range(len(names))], capsize=3
        )
        ax.set_xticks([])
        ax.set_title(f"{title}\nmean over training (± std over seeds)", fontsize=9)
    written.append(_save(fig, out_dir / "summary_bars.png", plt, list(patches), names))
    return written


def _per_seed_run_means(run_dirs: list[Path], key: str) -> list[float]:
    out = []
    for d in run_dirs:
        records = [
            r
            for r in load_metrics(d)
            if r.get("event") == INTERVAL and isinstance(r.get(key), (int, float)) and not math.isnan(r[key])
        ]
        for s in sorted({r["seed"] for r in records}):
            out.append(float(np.mean([r[key] for r in records if r["seed"] == s])))
    return out


def _layer_names(run_dir: Path) -> list[str]:
    first = next(r for r in load_metrics(run_dir) if r.get("event") == INTERVAL)
    return [
        k[len("layer/") : -len("/dead_fraction")]
        for k in first
        if k.startswith("layer/") and k.endswith("/dead_fraction")
    ]


def _task_boundaries(ax: Any, run_dir: Path) -> None:
    cfg = load_config(run_dir)
    tasks, steps = int(cfg.get("tasks", 0)), int(cfg.get("steps_per_task", 0))
    if 1 < tasks <= 50:
        for t in range(1, tasks):
            ax.axvline(t * steps, color="grey", linewidth=0.5, alpha=0.4)


LEGEND_COLUMNS = 2


def _save(
    fig: Any, path: Path, plt: Any, handles: list | None = None, labels: list[str] | None = None
) -> Path:
    """Save and close ``fig``; with ``handles``, one legend for the whole figure below the panels."""
    if handles:
        rows = math.ceil(len(handles) / LEGEND_COLUMNS)
        height = fig.get_size_inches()[1]
        fig.legend(handles, labels, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7)
        fig.tight_layout(rect=(0, min(0.5, (0.1 + 0.17 * rows) / height), 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default="smoke",
        choices=list(ContinualConfig.PRESETS),
        help="configuration preset (default: smoke)",
    )
    parser.add_argument("--out", default=None, help="root folder of run directories (same as out=DIR)")
    parser.add_argument(
        "--plot",
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="only redraw the figures of these run directories",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="with --plot: folder for the figures (default: figures/ inside the first run directory)",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="configuration overrides")
    parser.epilog = "keys:\n" + ContinualConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the study (or redraw figures with ``--plot``) and print the run directory / figure files."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(
            prog="python -m experiments continual", description=__doc__.splitlines()[0]
        )
        add_arguments(parser)
        args = parser.parse_args(args)
    if args.plot:
        missing = [p for p in args.plot if not (Path(p) / "config.json").is_file()]
        if missing:
            raise FileNotFoundError(f"not run directories (no config.json): {missing}")
        target = Path(args.output) if args.output else Path(args.plot[0]) / FIGURES_DIR
        for path in plot_run(args.plot, target):
            print(path)
        return 0
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    cfg = resolve_continual_config(args.preset, overrides)
    print(run(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
