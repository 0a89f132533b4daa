"""The continual study's training loop for one seed, with its state explicit (Appendix B.1.1).

What a seed reads but never changes is a :class:`SeedSetup` (rebuilt from the configuration and the
seed); everything training changes is a :class:`SeedState`: model, optimizer, CBP, the noise and
augmentation generators, the gradient scaler, the position (task, step, step within the task), the
current task's batch stream and the running accuracies. The loop is a sequence of small functions of
(configuration, setup, state): :func:`begin_task`, :func:`train_one_step`, :func:`interval_record`,
:func:`end_task`, driven by :func:`run_seed`. Besides the state, dropout masks and the head's
re-initialisation draw from torch's global generator (seeded by :func:`seed_everything`).

Divergence: a non-finite training loss, non-finite parameters at a logging point or non-finite
features stop the seed with :class:`experiments.runs.Diverged` (seed, task, step).

Checkpoints: :func:`capture_seed_state` is the whole :class:`SeedState` (model, optimizer, CBP with its
generator, noise and augmentation generators, gradient scaler, counters, running accuracies, the task's
batch stream as pass / position / generator state at the pass start); :func:`restore_seed_state` brings a
freshly made state back to it. torch's global generator (dropout masks, the head's re-initialisation, each
loader iterator's base seed) is restored by the caller after that (:mod:`experiments.checkpoint`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from experiments.checkpoint import (
    Checkpointer,
    load_optimizer_state,
    load_running_accuracy,
    module_to_cpu_state,
    optimizer_to_cpu_state,
    restore_global_rng,
    running_accuracy_state,
)
from experiments.config import seed_everything
from experiments.data import (
    ImageDataset,
    channel_stats,
    make_loader,
    normalize,
    random_crop_flip,
    resolve_pin_memory,
)
from experiments.metrics import NonFiniteFeatures, RunningAccuracy, stratified_indices
from experiments.models import build
from experiments.optim.cbp_targets import ModelContinualBackprop
from experiments.optim.plasticity_baselines import l2_optimizer, reset_head_, shrink_and_perturb_
from experiments.precision import Precision, autocast
from experiments.runs import Diverged, MetricsLog, ProgressBar, require_finite
from experiments.studies.continual.config import ContinualConfig
from experiments.studies.continual.loss import masked_cross_entropy
from experiments.studies.continual.model import model_options, output_layer
from experiments.studies.continual.suite import metric_suite
from experiments.studies.continual.tasks import TaskBatches, task_classes, task_test_sets

INTERVAL, TASK_END = "interval", "task_end"
AUGMENT_PADDING = 4
STATS_SAMPLES = 10_000
"""Images used for the per-channel input normalisation statistics (a seeded subset)."""
PIN_MEMORY: dict[str, bool | str] = {"auto": "auto", "true": True, "false": False}
CBP_STREAM, NOISE_STREAM, AUGMENT_STREAM, BATCH_STREAM = 1, 2, 3, 4
"""Sub-streams of a seed (:func:`derived_seed`)."""


def derived_seed(*parts: int) -> int:
    """A 32-bit seed drawn from numpy's SeedSequence of ``parts`` (independent sub-streams of a seed)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


@dataclass(frozen=True)
class SeedSetup:
    """What one seed's training reads and never changes."""

    seed: int
    precision: Precision
    pin_memory: bool
    mean: torch.Tensor
    std: torch.Tensor
    order: list[list[int]]
    train: ImageDataset
    metric_x: torch.Tensor
    metric_y: torch.Tensor
    test_sets: list[tuple[torch.Tensor, torch.Tensor]]

    def prep(self, images: torch.Tensor) -> torch.Tensor:
        return prepare_images(images, self.mean, self.std, self.precision.device)

    def task_ids(self, task: int) -> torch.Tensor:
        """The class ids of ``task`` on the device."""
        return torch.tensor(self.order[task], device=self.precision.device)


def prepare_images(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, device: str) -> torch.Tensor:
    """Images to the device, scaled to [0, 1] when uint8, normalised per channel."""
    x = images.to(device, non_blocking=True)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return normalize(x, mean, std)


@dataclass
class SeedState:
    """Everything one seed's training changes."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    head: nn.Linear
    cbp: ModelContinualBackprop | None
    noise_gen: torch.Generator
    aug_gen: torch.Generator
    scaler: Any
    task: int = 0
    step: int = 0
    task_step: int = 0
    batches: TaskBatches | None = None
    task_ids: torch.Tensor | None = None
    interval: RunningAccuracy = field(default_factory=RunningAccuracy)
    whole_task: RunningAccuracy = field(default_factory=RunningAccuracy)
    task_end_accuracies: list[float] = field(default_factory=list)
    replaced: int = 0


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


def make_seed_setup(cfg: ContinualConfig, seed: int, train: ImageDataset, test: ImageDataset) -> SeedSetup:
    """The fixed parts of one seed: normalisation statistics, class order, metric batch, held-out sets.
    Uses its own generators only (never torch's global one)."""
    device = cfg.device
    stats_idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:STATS_SAMPLES]
    mean, std = channel_stats(
        ImageDataset(
            train.images[stats_idx], train.labels[stats_idx], train.num_classes, train.name
        ).as_float()
    )
    order = task_classes(train.num_classes, cfg.tasks, cfg.classes_per_task, seed)
    metric_idx = stratified_indices(train.labels, cfg.metric_batch_size, seed)
    return SeedSetup(
        seed=seed,
        precision=Precision.resolve(cfg.amp, device),
        pin_memory=resolve_pin_memory(PIN_MEMORY[cfg.pin_memory], device),
        mean=mean,
        std=std,
        order=order,
        train=train,
        metric_x=prepare_images(train.images[metric_idx], mean, std, device),
        metric_y=train.labels[metric_idx].to(device),
        test_sets=task_test_sets(test, order),
    )


def make_seed_state(cfg: ContinualConfig, setup: SeedSetup) -> SeedState:
    """A fresh model (drawn from torch's global generator, seeded by the caller), its optimizer and CBP."""
    train = setup.train
    model = build(cfg.arch, train.input_shape, train.num_classes, **model_options(cfg, train.input_shape))
    model = model.to(setup.precision.device)
    assert cfg.lr is not None  # resolved by with_arch_defaults
    optimizer = l2_optimizer(
        model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay if cfg.method == "l2" else 0.0
    )
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
            generator=torch.Generator().manual_seed(derived_seed(setup.seed, CBP_STREAM)),
        )
    return SeedState(
        model=model,
        optimizer=optimizer,
        head=output_layer(model),
        cbp=cbp,
        noise_gen=torch.Generator().manual_seed(derived_seed(setup.seed, NOISE_STREAM)),
        aug_gen=torch.Generator().manual_seed(derived_seed(setup.seed, AUGMENT_STREAM)),
        scaler=setup.precision.new_scaler(),
    )


def measure(cfg: ContinualConfig, setup: SeedSetup, state: SeedState) -> dict[str, float]:
    """The metric suite on the metric batch; non-finite parameters or features are :class:`Diverged`."""
    check_parameters(state, setup.seed)
    try:
        return metric_suite(state.model, setup.metric_x, setup.metric_y, setup.seed)
    except NonFiniteFeatures as err:
        raise Diverged.at(str(err), seed=setup.seed, task=state.task, step=state.step) from None


def check_parameters(state: SeedState, seed: int) -> None:
    """:class:`Diverged` when a parameter holds NaN or inf."""
    if not all(bool(torch.isfinite(p).all()) for p in state.model.parameters()):
        raise Diverged.at("the parameters are not finite", seed=seed, task=state.task, step=state.step)


def begin_task(cfg: ContinualConfig, setup: SeedSetup, state: SeedState) -> None:
    """Reset the head (``reset_head``) and start the task's batch stream and whole-task accuracy."""
    if cfg.reset_head:
        reset_head_(state.head, state.optimizer)
    open_task_stream(cfg, setup, state)
    state.task_step = 0
    state.whole_task.reset()


def open_task_stream(cfg: ContinualConfig, setup: SeedSetup, state: SeedState) -> None:
    """The current task's batch stream and class ids (a task's loader is seeded by seed and task)."""
    mask = torch.isin(setup.train.labels, torch.tensor(setup.order[state.task]))
    loader = make_loader(
        setup.train.images[mask],
        setup.train.labels[mask],
        cfg.batch_size,
        shuffle=True,
        seed=derived_seed(setup.seed, BATCH_STREAM, state.task),
        pin_memory=setup.pin_memory,
    )
    state.batches = TaskBatches(loader)
    state.task_ids = setup.task_ids(state.task)


def capture_seed_state(state: SeedState, elapsed_s: float) -> dict[str, Any]:
    """The checkpoint of one seed's :class:`SeedState` in the middle of a task (module docstring)."""
    assert state.batches is not None, "checkpoints are taken inside a task"
    return {
        "model": module_to_cpu_state(state.model),
        "optimizer": optimizer_to_cpu_state(state.optimizer),
        "cbp": None if state.cbp is None else state.cbp.state_dict(),
        "noise_generator": state.noise_gen.get_state(),
        "aug_generator": state.aug_gen.get_state(),
        "scaler": None if state.scaler is None else state.scaler.state_dict(),
        "task": state.task,
        "step": state.step,
        "task_step": state.task_step,
        "batches": state.batches.state(),
        "interval": running_accuracy_state(state.interval),
        "whole_task": running_accuracy_state(state.whole_task),
        "task_end_accuracies": list(state.task_end_accuracies),
        "replaced": state.replaced,
        "elapsed_s": elapsed_s,
    }


def restore_seed_state(
    cfg: ContinualConfig, setup: SeedSetup, state: SeedState, saved: dict[str, Any]
) -> None:
    """Bring a fresh ``state`` (from :func:`make_seed_state`) to the checkpoint ``saved``."""
    state.model.load_state_dict(saved["model"])
    load_optimizer_state(state.optimizer, saved["optimizer"])
    if (saved["cbp"] is None) != (state.cbp is None):
        raise ValueError("the checkpoint and the configuration differ in using CBP")
    if state.cbp is not None:
        state.cbp.load_state_dict(saved["cbp"])
    state.noise_gen.set_state(saved["noise_generator"])
    state.aug_gen.set_state(saved["aug_generator"])
    if state.scaler is not None:
        state.scaler.load_state_dict(saved["scaler"])
    state.task, state.step, state.task_step = saved["task"], saved["step"], saved["task_step"]
    open_task_stream(cfg, setup, state)
    assert state.batches is not None
    state.batches.restore(saved["batches"])
    load_running_accuracy(state.interval, saved["interval"])
    load_running_accuracy(state.whole_task, saved["whole_task"])
    state.task_end_accuracies = list(saved["task_end_accuracies"])
    state.replaced = saved["replaced"]


def train_one_step(cfg: ContinualConfig, setup: SeedSetup, state: SeedState) -> None:
    """One optimizer step on the next batch of the current task, then CBP / shrink-and-perturb."""
    assert state.batches is not None, "begin_task first"
    images, labels = state.batches.next()
    x, y = setup.prep(images), labels.to(setup.precision.device, non_blocking=True)
    if cfg.augment:
        x = random_crop_flip(x, AUGMENT_PADDING, True, state.aug_gen)
    classes = state.task_ids if cfg.mask_loss else None
    loss, correct, _ = train_step(
        state.model, state.optimizer, x, y, classes, setup.precision.dtype, state.scaler
    )
    require_finite(loss, "the training loss", seed=setup.seed, task=state.task, step=state.step + 1)
    if state.cbp is not None:
        state.replaced += sum(int(r.numel()) for r in state.cbp.step())
    if cfg.method == "shrink_perturb":
        shrink_and_perturb_(state.model.parameters(), cfg.shrink, cfg.noise_std, state.noise_gen)
    state.step += 1
    state.task_step += 1
    state.interval.update(correct, len(y), loss)
    state.whole_task.update(correct, len(y), loss)


def interval_record(
    cfg: ContinualConfig, setup: SeedSetup, state: SeedState, elapsed_s: float
) -> dict[str, Any]:
    """The interval record (online accuracy and loss since the last one, the metric suite); resets the
    interval's counters."""
    result = state.interval.result()
    record: dict[str, Any] = {
        "online_accuracy": result["accuracy"],
        "loss": result["loss"],
        "elapsed_s": elapsed_s,
    }
    if state.cbp is not None:
        record["cbp_replaced"] = state.replaced
        state.replaced = 0
    record.update(measure(cfg, setup, state))
    state.interval.reset()
    return record


def end_task(cfg: ContinualConfig, setup: SeedSetup, state: SeedState) -> dict[str, Any]:
    """The task-end record (held-out accuracy of this task and of every task so far); moves to the next."""
    check_parameters(state, setup.seed)

    def accuracy(task: int, ids: torch.Tensor | None = None) -> float:
        classes = (setup.task_ids(task) if ids is None else ids) if cfg.mask_loss else None
        return held_out_accuracy(
            state.model, *setup.test_sets[task], classes, setup.prep, cfg.eval_batch_size
        )

    task = state.task
    current = accuracy(task, state.task_ids)
    state.task_end_accuracies.append(current)
    seen = [accuracy(s) for s in range(task + 1)]
    record = {
        "classes": setup.order[task],
        "task_accuracy": current,
        "mean_task_accuracy": float(np.mean(state.task_end_accuracies)),
        "seen_tasks_accuracy": float(np.mean(seen)),
        "task_online_accuracy": state.whole_task.result()["accuracy"],
    }
    state.task += 1
    return record


@dataclass
class SeedCheckpoints:
    """Where a seed's checkpoints go: ``saver.due(step)`` says when, ``save(step, metric_lines,
    seed_state)`` writes one (the caller adds the run-level part of the state: seeds done, wall times)."""

    saver: Checkpointer
    save: Callable[[int, int, dict[str, Any]], Any]


def run_seed(
    cfg: ContinualConfig,
    seed: int,
    train: ImageDataset,
    test: ImageDataset,
    log: MetricsLog,
    bar: ProgressBar,
    checkpoints: SeedCheckpoints | None = None,
    resume: dict[str, Any] | None = None,
) -> float:
    """Train one seed through every task, logging to ``log``; returns its wall time in seconds. With
    ``checkpoints``, a checkpoint is saved every ``checkpoint_every`` steps; with ``resume`` (a checkpoint
    body whose ``state["seed_state"]`` belongs to this seed) the seed continues from it."""
    seed_everything(seed)
    setup = make_seed_setup(cfg, seed, train, test)
    state = make_seed_state(cfg, setup)
    elapsed_before = 0.0
    if resume is None:
        log.log(step=0, seed=seed, task=0, event=INTERVAL, **measure(cfg, setup, state))
    else:
        saved = resume["state"]["seed_state"]
        restore_seed_state(cfg, setup, state, saved)
        elapsed_before = float(saved["elapsed_s"])
        restore_global_rng(resume["rng"])
        bar.count += state.step
    start = time.monotonic() - elapsed_before
    in_task = resume is not None
    try:
        while state.task < cfg.tasks:
            if not in_task:
                begin_task(cfg, setup, state)
            in_task = False
            while state.task_step < cfg.steps_per_task:
                train_one_step(cfg, setup, state)
                bar.update(
                    1, seed=seed, task=state.task, acc=state.interval.correct / max(1, state.interval.seen)
                )
                if state.step % cfg.log_interval == 0:
                    record = interval_record(cfg, setup, state, time.monotonic() - start)
                    log.log(step=state.step, seed=seed, task=state.task, event=INTERVAL, **record)
                if checkpoints is not None and checkpoints.saver.due(state.step):
                    log.sync()
                    checkpoints.save(
                        state.step, log.lines, capture_seed_state(state, time.monotonic() - start)
                    )
            task, step = state.task, state.step
            log.log(step=step, seed=seed, task=task, event=TASK_END, **end_task(cfg, setup, state))
    finally:
        if state.cbp is not None:
            state.cbp.close()
    return time.monotonic() - start
