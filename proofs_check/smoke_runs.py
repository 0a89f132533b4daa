"""The project's studies at smoke scale, for the checks that quote sentences about the paper's experiments.

Section 2 ("in our MLP experiments …", "settings such as Vision Transformers …"), Figure 2.1 and Section 4
speak of the cloning, continual and bit-flipping experiments. Their checks run the project's own code at
the scale of its smoke presets (:mod:`experiments.studies.cloning`, ``continual``, ``bitflip``), with
several seeds, and say so in their detail. This module holds those runs, each computed once per process
(several checks share a run): the caches are keyed by every argument of the run, and every run is a
deterministic function of its arguments, so a check run alone (``--only``) sees the same numbers.

* :func:`clone_trajectory` — the cloning study's phases on its smoke data (synthetic 3×8×8 images, 10
  classes; base MLP of width 0.25 trained ``base_epochs`` with SGD, expanded 2× by
  :func:`experiments.cloning.expand_with_plan`), then the clone alone trained by a chosen rule, recording the
  distance to the cloning manifold (:func:`experiments.cloning.manifold_residual`: the largest relative
  distance of a parameter tensor from its block-constant projection) and the cloning R² (the study's
  layer-mean of forward and backward R², :func:`experiments.metrics.clone_r2_by_layer`).
* :func:`continual_records` — :func:`experiments.studies.continual.run` from its smoke preset.
* :func:`bitflip_records` — :func:`experiments.studies.bitflip.run_study` from its smoke preset.
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from experiments.cloning import expand_with_plan, manifold_residual
from experiments.config import resolve_config
from experiments.data import channel_stats, make_loader, make_synthetic, normalize
from experiments.metrics import clone_r2_by_layer, feature_layers, layer_features, stratified_indices
from experiments.models import build
from experiments.optim import make_optimizer
from experiments.runs import load_metrics
from experiments.studies.bitflip import BitFlipConfig, run_study
from experiments.studies.cloning import CloningConfig
from experiments.studies.continual import resolve_continual_config
from experiments.studies.continual import run as run_continual

CLONING_SMOKE = resolve_config(CloningConfig, "smoke", ["device=cpu", "progress=false"])
"""The cloning study's smoke preset (data, widths, learning rates, batch size, epochs)."""
VIT_PATCH = 4
"""The cloning study's ViT patch size on images smaller than 16 pixels."""


@dataclass(frozen=True)
class NoiseRule:
    """Noisy SGD of Appendix B.1.2 (:class:`experiments.optim.noisy_sgd.NoisySGD`) for the first ``steps``
    steps (``None``: every step), plain SGD after. ``norm``: the noise is relative to each parameter
    tensor's gradient norm (``tensor``, the project's default) or to the whole gradient's (``global``).
    ``per_norm`` divides σ₀ by √(number of coordinates the norm is taken over), so that the noise has norm
    ≈ σ₀‖g‖ instead of ≈ σ₀√p‖g‖ (the literal reading of "noise magnitude 0.01 relative to gradient norms")."""

    sigma0: float
    decay: float = 1.0
    steps: int | None = 1
    norm: str = "tensor"
    per_norm: bool = False


@dataclass(frozen=True)
class CloneSetting:
    """One clone-training run: which model, which training rule, how long."""

    seed: int
    epochs: int
    optimizer: str = "sgd"  # sgd | momentum | adam (plain rules) — or noise=… for noisy SGD
    noise: NoiseRule | None = None
    arch: str = "mlp"
    normalization: str = "default"
    dropout: float = 0.0
    depth: int | None = None  # ViT depth (None: the architecture's default)
    r2_every: int = 5


@dataclass(frozen=True)
class CloneTrajectory:
    """``distance[e]``, ``r2[e]`` after epoch e (index 0 = at expansion), ``after_first_step`` the distance
    after the first step; ``r2_epochs`` the epochs at which R² was measured."""

    setting: CloneSetting
    after_first_step: float
    distance: tuple[float, ...]
    r2_epochs: tuple[int, ...]
    r2: tuple[float, ...]
    parameters: int
    seconds: float = field(default=0.0, compare=False)

    @property
    def growth(self) -> float:
        """distance at the end / distance after the first step (inf when the first step left it exactly)."""
        if self.after_first_step == 0.0:
            return math.inf if self.distance[-1] > 0 else 1.0
        return self.distance[-1] / self.after_first_step


def _model_options(arch: str, normalization: str, dropout: float, depth: int | None) -> dict[str, Any]:
    opts: dict[str, Any] = {"width": CLONING_SMOKE.width, "dropout": dropout}
    if normalization != "default":
        opts["normalization"] = normalization
    if arch == "vit":
        opts["patch_size"] = VIT_PATCH
        if depth is not None:
            opts["depth"] = depth
    return opts


def _shape3(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The (C, H, W) of a synthetic image task."""
    c, h, w = shape
    return c, h, w


@functools.cache
def _smoke_data(seed: int) -> tuple[torch.Tensor, torch.Tensor, int, tuple[int, int, int]]:
    cfg = CLONING_SMOKE
    train = make_synthetic(cfg.train_samples, image_shape=_shape3(cfg.synthetic_shape), noise=cfg.synthetic_noise,
                           seed=seed)
    mean, std = channel_stats(train.as_float())
    x = normalize(train.images.float() / 255.0, mean, std)
    return x, train.labels, train.num_classes, train.input_shape


def _epochs(x: torch.Tensor, y: torch.Tensor, seed: int, phase: int):
    """The batches of one epoch, in the order of the study's seeded loader (a fresh order per phase)."""
    loader = make_loader(torch.arange(len(y)), y, CLONING_SMOKE.batch_size, shuffle=True, seed=seed * 7 + phase)
    for idx, labels in loader:
        yield x[idx], labels


@functools.cache
def trained_base(seed: int, arch: str = "mlp", normalization: str = "default", dropout: float = 0.0,
                 depth: int | None = None) -> nn.Module:
    """The cloning study's phase 1: the base model trained ``base_epochs`` with SGD (``base_lr``).
    Callers must not train the returned model (it is shared)."""
    x, y, classes, shape = _smoke_data(seed)
    torch.manual_seed(seed)
    base = build(arch, shape, classes, **_model_options(arch, normalization, dropout, depth))
    opt = make_optimizer("sgd", base.parameters(), lr=CLONING_SMOKE.base_lr)
    base.train()
    for epoch in range(CLONING_SMOKE.base_epochs):
        for xb, yb in _epochs(x, y, seed, epoch):
            opt.zero_grad()
            F.cross_entropy(base(xb), yb).backward()
            opt.step()
    return base


def _optimizers(setting: CloneSetting, clone: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    """(the rule of every step, or the noisy rule of the first steps; the plain SGD that follows it)."""
    lr = CLONING_SMOKE.lr
    params = list(clone.parameters())
    if setting.noise is None:
        if setting.optimizer == "momentum":
            return make_optimizer("sgd", params, lr=lr, momentum=0.9), None
        return make_optimizer(setting.optimizer, params, lr=lr), None
    rule = setting.noise
    sigma0 = rule.sigma0
    if rule.per_norm:
        if rule.norm != "global":
            raise ValueError("per_norm noise is defined for the global gradient norm only")
        sigma0 /= math.sqrt(sum(p.numel() for p in params))
    noisy = make_optimizer("noisy_sgd", params, lr=lr, sigma0=sigma0, decay=rule.decay, norm=rule.norm,
                           seed=setting.seed)
    return noisy, (make_optimizer("sgd", params, lr=lr) if rule.steps is not None else None)


@functools.cache
def clone_trajectory(setting: CloneSetting) -> CloneTrajectory:
    """Expand the trained base 2× and train the clone alone with ``setting``'s rule (module docstring)."""
    import time

    start = time.perf_counter()
    x, y, _, _ = _smoke_data(setting.seed)
    base = trained_base(setting.seed, setting.arch, setting.normalization, setting.dropout, setting.depth)
    clone, plan = expand_with_plan(base, CLONING_SMOKE.clone_factor)
    metric_idx = stratified_indices(y, CLONING_SMOKE.metric_batch, setting.seed)
    mx, my = x[metric_idx], y[metric_idx]
    layers = feature_layers(base)
    profiles = {n: plan.outputs[n].profile for n in layers}

    def r2() -> float:
        _, h, g = layer_features(clone, mx, my, layers, seed=setting.seed)
        values = list(clone_r2_by_layer(h, g, profiles).values())
        return sum(values) / len(values)

    first, then = _optimizers(setting, clone)
    noisy_steps = setting.noise.steps if setting.noise is not None else None
    distance, r2_epochs, r2s = [manifold_residual(clone, plan)], [0], [r2()]
    after_first, step = math.nan, 0
    clone.train()
    for epoch in range(1, setting.epochs + 1):
        for xb, yb in _epochs(x, y, setting.seed, 100 + epoch):
            opt = first if then is None or noisy_steps is None or step < noisy_steps else then
            opt.zero_grad()
            F.cross_entropy(clone(xb), yb).backward()
            opt.step()
            step += 1
            if step == 1:
                after_first = manifold_residual(clone, plan)
        distance.append(manifold_residual(clone, plan))
        if epoch % setting.r2_every == 0 or epoch == setting.epochs:
            r2_epochs.append(epoch)
            r2s.append(r2())
    return CloneTrajectory(setting, after_first, tuple(distance), tuple(r2_epochs), tuple(r2s),
                           sum(p.numel() for p in clone.parameters()), time.perf_counter() - start)


# ------------------------------------------------------------------------------------------ continual
CONTINUAL_SEEDS, CONTINUAL_SEEDS_THOROUGH = 2, 5
"""Seeds of the continual smoke runs (the preset's two; five under --thorough)."""
CONTINUAL_SMOKE = ("the project's continual study at smoke scale (MLP of width 0.25 with dropout 0.2, Adam lr 1e-3, "
                   "synthetic 3×8×8 images, 4 tasks × 2 classes × 150 steps, metrics every 25 steps on a stratified "
                   "batch of 256; two seeds, five under --thorough)")
"""How the checks that use :func:`continual_intervals` describe the run in their detail."""


def continual_seeds(seed: int, thorough: bool) -> tuple[int, ...]:
    """The seeds of a check's continual runs: ``seed``, ``seed + 1``, …"""
    return tuple(range(seed, seed + (CONTINUAL_SEEDS_THOROUGH if thorough else CONTINUAL_SEEDS)))


def continual_overrides(normalization: str, seeds: tuple[int, ...]) -> tuple[str, ...]:
    """The overrides of a continual smoke run with one normalization (none | batch | layer | group) and seeds."""
    return (f"normalization={normalization}", "seeds=" + ",".join(str(s) for s in seeds))


@functools.cache
def continual_records(overrides: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """Every record of ``metrics.jsonl`` of the continual study's smoke preset with ``overrides``, run in a
    temporary directory (no figures)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = resolve_continual_config("smoke", list(overrides) + [f"out={out}", "figures=false", "progress=false",
                                                                    "device=cpu"])
        run_dir = run_continual(cfg)
        return tuple(load_metrics(run_dir))


def continual_intervals(normalization: str, seeds: tuple[int, ...]) -> dict[int, list[dict[str, Any]]]:
    """The interval records (effective rank, dead and duplicate fractions, …) of the continual smoke run with
    ``normalization``, per seed, in step order."""
    records = [r for r in continual_records(continual_overrides(normalization, seeds)) if r["event"] == "interval"]
    return {s: sorted((r for r in records if r["seed"] == s), key=lambda r: r["step"]) for s in seeds}


# ------------------------------------------------------------------------------------------ bit flipping
@functools.cache
def bitflip_records(overrides: tuple[str, ...]) -> tuple[BitFlipConfig, tuple[dict[str, Any], ...]]:
    """The bit-flipping study's smoke preset with ``overrides``: (its configuration, every metrics record)."""
    cfg = resolve_config(BitFlipConfig, "smoke", list(overrides) + ["figures=false", "progress=false"])
    with tempfile.TemporaryDirectory() as out:
        return cfg, tuple(load_metrics(run_study(cfg, out)))
