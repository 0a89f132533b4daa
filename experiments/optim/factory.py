"""``make_optimizer(name, params, **kw)`` for the studies: SGD, Adam (torch, no momentum / weight decay
unless asked — Appendix B.1.3) and NoisySGD (Appendix B.1.2).

The names, options and constructors are the project's one optimizer table,
:data:`dag_nets.optimizers.OPTIMIZERS`; the studies offer the :data:`STUDY_OPTIMIZERS` among them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch.optim import Optimizer

from dag_nets.optimizers import make_optimizer as _make_optimizer

STUDY_OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "noisy_sgd")


def make_optimizer(name: str, params: Iterable, **kw: Any) -> Optimizer:
    """The optimizer ``name`` ∈ :data:`STUDY_OPTIMIZERS`; unknown names or options raise ValueError."""
    return _make_optimizer(name, params, choices=STUDY_OPTIMIZERS, **kw)
