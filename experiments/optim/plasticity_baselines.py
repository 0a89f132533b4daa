"""Baselines against which Continual Backpropagation is compared (Section 4, Appendix B.1.1).

* shrink-and-perturb (Ash & Adams 2020; used by Dohare et al. 2024): w ← λ·w + σ·ε, ε ~ N(0, I);
* L2 regularization: the ``weight_decay`` option of torch optimizers, g ← g + λ·w, exposed here as
  :func:`l2_optimizer` so the coupling is explicit (SGD: w ← w − η(g + λw));
* head re-initialization (Appendix B.1.1, continual-learning protocol): the output layer's weights are
  redrawn with the layer's default initialization, its bias set to zero, and its optimizer state cleared.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from experiments.optim.cbp import PER_ENTRY_STATE_KEYS
from experiments.optim.factory import make_optimizer


@torch.no_grad()
def shrink_and_perturb_(
    parameters: Iterable[torch.Tensor],
    shrink: float,
    noise_std: float,
    generator: torch.Generator | None = None,
) -> None:
    """In place: w ← λ·w + σ·ε with ε ~ N(0, I), λ = ``shrink`` ∈ [0, 1], σ = ``noise_std`` ≥ 0."""
    if not 0.0 <= shrink <= 1.0:
        raise ValueError(f"shrink must lie in [0, 1], got {shrink}")
    if noise_std < 0.0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    for parameter in parameters:
        # Drawn on the generator's device (CPU) and moved, so a run draws the same noise on CPU and CUDA.
        noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype).to(parameter.device)
        parameter.mul_(shrink).add_(noise, alpha=noise_std)


def l2_optimizer(
    parameters: Iterable[torch.Tensor], name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """SGD or Adam with coupled L2 regularization: the gradient becomes g + λ·w (λ = ``weight_decay``).

    Built by :func:`experiments.optim.factory.make_optimizer`, which validates the name and options.
    """
    if weight_decay < 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    return make_optimizer(name, parameters, lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def reset_head_(head: nn.Linear, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Re-initialize the output layer: default torch weight init, zero bias, cleared optimizer state."""
    if not isinstance(head, nn.Linear):
        raise TypeError(f"head must be an nn.Linear, got {type(head).__name__}")
    head.reset_parameters()
    if head.bias is not None:
        head.bias.zero_()
    if optimizer is None:
        return
    for parameter in head.parameters():
        state = optimizer.state.get(parameter, {})
        for key in PER_ENTRY_STATE_KEYS:
            buffer = state.get(key)
            if isinstance(buffer, torch.Tensor):
                buffer.zero_()
