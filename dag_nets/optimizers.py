"""The optimizers of Remark 2.4 and Appendix B, one table for dag_nets trajectories and the experiments.

:data:`OPTIMIZERS` maps every name to its torch optimizer and the options it takes:

* ``sgd`` (options momentum, weight_decay — coupled L2), ``momentum`` and ``nesterov`` (momentum 0.9),
  ``rmsprop``, ``adam`` (betas, eps, weight_decay — coupled L2), ``adamw`` (decoupled decay), ``l2``
  (SGD with coupled L2, torch's ``weight_decay``) and ``adam_l2`` (Adam with coupled L2), with
  weight decay λ = :data:`DEFAULT_WEIGHT_DECAY` unless given;
* ``noisy_sgd`` — :class:`NoisySGD`, the paper's noisy SGD (Appendix B.1.2).

Noisy SGD (Appendix B.1.2). At step t (counted from 0) every parameter tensor p with gradient g_p gets

    g̃_p = g_p + ε_p,   ε_p ~ N(0, σ_t² ‖g_p‖² I),   σ_t = σ₀ · λ^t   (σ₀ = 0.01, λ = 0.999),

then the SGD update p ← p − lr · g̃_p. The norm is per parameter tensor (``norm="tensor"``; ``"global"``
uses the norm of all gradients together). :func:`gradient_noise` is that perturbation alone, so
dag_nets' ``noisy_sgd`` symmetry breaker can put it in front of any optimizer; with plain SGD the two
are the same computation. Noise is drawn in float32 on the CPU from a seeded generator and then cast
and moved, so a run draws the same noise in any parameter dtype and on any device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.optim import Optimizer

from dag_nets.validation import check_real

PAPER_SIGMA0 = 0.01
"""σ₀ of Appendix B.1.2 (and Section 2's "noise magnitude 0.01 relative to gradient norms")."""
PAPER_DECAY = 0.999
"""λ of Appendix B.1.2: σ_t = σ₀ λ^t."""
NOISE_NORMS: tuple[str, ...] = ("tensor", "global")
DEFAULT_MOMENTUM = 0.9
DEFAULT_WEIGHT_DECAY = 1e-2
DEFAULT_LR = 0.05


def noise_scale(sigma0: float, decay: float, t: int) -> float:
    """σ_t = σ₀ λ^t (Appendix B.1.2)."""
    return sigma0 * decay**t


def check_noise(sigma0: float, decay: float, norm: str) -> None:
    check_real(sigma0, "sigma0", low=0.0)
    decay = check_real(decay, "decay")
    if not 0 < decay <= 1:
        raise ValueError(f"decay λ must be in (0, 1], got {decay}")
    if norm not in NOISE_NORMS:
        raise ValueError(f"norm must be one of {', '.join(NOISE_NORMS)}, got {norm!r}")


@torch.no_grad()
def gradient_noise(
    params: Sequence[torch.Tensor], sigma: float, generator: torch.Generator, norm: str = "tensor"
) -> list[torch.Tensor | None]:
    """ε_p = σ ‖g‖ · N(0, I) for every p (None where p has no gradient), with ‖g‖ = ‖g_p‖
    (``norm="tensor"``) or the norm of all gradients (``"global"``); the module docstring's formula."""
    grads = [p.grad for p in params]
    present = [g for g in grads if g is not None]
    if norm == "global" and present:
        total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in present]))
    out: list[torch.Tensor | None] = []
    for g in grads:
        if g is None:
            out.append(None)
            continue
        scale = torch.linalg.vector_norm(g) if norm == "tensor" else total
        out.append(sigma * scale * torch.randn(g.shape, generator=generator, dtype=torch.float32).to(g))
    return out


class NoisySGD(Optimizer):
    """SGD with gradient-proportional Gaussian noise of decaying scale σ_t = σ₀ λ^t (Appendix B.1.2)."""

    def __init__(
        self,
        params: Iterable,
        lr: float,
        sigma0: float = PAPER_SIGMA0,
        decay: float = PAPER_DECAY,
        norm: Literal["tensor", "global"] = "tensor",
        seed: int = 0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        check_noise(sigma0, decay, norm)
        super().__init__(params, {"lr": lr})
        self.sigma0, self.decay, self.norm = sigma0, decay, norm
        self.t = 0
        self._generator = torch.Generator().manual_seed(seed)

    @property
    def sigma(self) -> float:
        """σ_t for the next step."""
        return noise_scale(self.sigma0, self.decay, self.t)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"]]
        noise = iter(gradient_noise(params, self.sigma, self._generator, self.norm))
        for group in self.param_groups:
            for p in group["params"]:
                eps = next(noise)
                if eps is not None:
                    p.add_(p.grad + eps, alpha=-group["lr"])
        self.t += 1
        return loss


@dataclass(frozen=True)
class OptimizerKind:
    """One row of :data:`OPTIMIZERS`: how to build the optimizer and which options it takes."""

    build: Callable[..., Optimizer]
    options: tuple[str, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)  # settings the name implies (not options)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # option defaults that differ from torch's


_DECAY = {"weight_decay": DEFAULT_WEIGHT_DECAY}
OPTIMIZERS: dict[str, OptimizerKind] = {
    "sgd": OptimizerKind(torch.optim.SGD, ("lr", "momentum", "weight_decay")),
    "momentum": OptimizerKind(torch.optim.SGD, ("lr",), fixed={"momentum": DEFAULT_MOMENTUM}),
    "nesterov": OptimizerKind(
        torch.optim.SGD, ("lr",), fixed={"momentum": DEFAULT_MOMENTUM, "nesterov": True}
    ),
    "rmsprop": OptimizerKind(torch.optim.RMSprop, ("lr",)),
    "adam": OptimizerKind(torch.optim.Adam, ("lr", "betas", "eps", "weight_decay")),
    "adamw": OptimizerKind(torch.optim.AdamW, ("lr", "weight_decay"), defaults=_DECAY),
    "l2": OptimizerKind(torch.optim.SGD, ("lr", "weight_decay"), defaults=_DECAY),
    "adam_l2": OptimizerKind(torch.optim.Adam, ("lr", "weight_decay"), defaults=_DECAY),
    "noisy_sgd": OptimizerKind(NoisySGD, ("lr", "sigma0", "decay", "norm", "seed")),
}
"""Every optimizer name of the project (module docstring)."""


def make_optimizer(
    name: str, params: Iterable, *, choices: Sequence[str] | None = None, **options: Any
) -> Optimizer:
    """The optimizer ``name`` of :data:`OPTIMIZERS` with ``options`` (``lr`` required). ``choices``
    restricts the names a caller offers. Unknown names or options raise ValueError naming the valid ones."""
    offered = tuple(OPTIMIZERS) if choices is None else tuple(choices)
    if name not in offered:
        raise ValueError(f"unknown optimizer {name!r}; choices: {', '.join(offered)}")
    kind = OPTIMIZERS[name]
    unknown = sorted(set(options) - set(kind.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for optimizer {name!r}; valid: {', '.join(kind.options)}"
        )
    if "lr" not in options:
        raise ValueError(f"optimizer {name!r} needs lr")
    check_real(options["lr"], "lr", positive=True)
    return kind.build(params, **{**kind.defaults, **options, **kind.fixed})


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name (:data:`OPTIMIZERS`), its learning rate and options, built on demand."""

    name: str = "sgd"
    lr: float = DEFAULT_LR
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; choices: {', '.join(OPTIMIZERS)}")
        check_real(self.lr, "lr", positive=True)
        valid = OPTIMIZERS[self.name].options
        unknown = sorted(set(self.options) - set(valid) | ({"lr"} & set(self.options)))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for optimizer {self.name!r}; valid: "
                f"{', '.join(o for o in valid if o != 'lr') or 'none'} (lr is its own field)"
            )

    @classmethod
    def of(cls, spec: OptimizerSpec | str) -> OptimizerSpec:
        """A spec as is, or a bare name with the default learning rate :data:`DEFAULT_LR`."""
        if isinstance(spec, OptimizerSpec):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        raise TypeError(f"optimizer must be an OptimizerSpec or a name, got {type(spec).__name__}")

    def build(self, params: Iterable) -> Optimizer:
        return make_optimizer(self.name, params, lr=self.lr, **self.options)
