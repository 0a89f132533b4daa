"""``make_optimizer(name, params, **kw)``: SGD, Adam (torch, no momentum / weight decay unless asked —
Appendix B.1.3) and NoisySGD (Appendix B.1.2), with validated names and options."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch.optim import Optimizer

from experiments.optim.noisy_sgd import NoisySGD

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "noisy_sgd": NoisySGD}
_OPTIONS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr", "momentum", "weight_decay"),
    "adam": ("lr", "betas", "eps", "weight_decay"),
    "noisy_sgd": ("lr", "sigma0", "decay", "norm", "seed"),
}


def make_optimizer(name: str, params: Iterable, **kw: Any) -> Optimizer:
    """The optimizer ``name`` ∈ {sgd, adam, noisy_sgd}; unknown names or options raise ValueError."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choices: {', '.join(OPTIMIZERS)}")
    unknown = sorted(set(kw) - set(_OPTIONS[name]))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for optimizer {name!r}; valid: {', '.join(_OPTIONS[name])}")
    if "lr" not in kw:
        raise ValueError(f"optimizer {name!r} needs lr")
    return OPTIMIZERS[name](params, **kw)
