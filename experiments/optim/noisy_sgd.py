"""Noisy SGD of Appendix B.1.2 (the perturbation that lets a clone escape its cloning manifold, Section 2).

At step t (counted from 0 per optimizer) every parameter tensor p with gradient g_p gets

    g̃_p = g_p + ε_p,   ε_p ~ N(0, σ_t² ‖g_p‖² I),   σ_t = σ₀ · λ^t,

and then the plain SGD update p ← p − lr · g̃_p. The norm is **per parameter tensor** (‖g_p‖ of that
tensor alone), so each tensor's noise is relative to its own gradient; ``norm="global"`` uses the norm of
all gradients concatenated instead. Noise is drawn from the optimizer's own seeded generator, so runs
are reproducible and independent of the global RNG.
"""

from __future__ import annotations

from typing import Iterable, Literal

import torch
from torch.optim import Optimizer

NOISE_NORMS: tuple[str, ...] = ("tensor", "global")
PAPER_SIGMA0 = 0.01
PAPER_DECAY = 0.999


class NoisySGD(Optimizer):
    """SGD with gradient-proportional Gaussian noise of decaying scale σ_t = σ₀ λ^t (Appendix B.1.2)."""

    def __init__(self, params: Iterable, lr: float, sigma0: float = PAPER_SIGMA0, decay: float = PAPER_DECAY,
                 norm: Literal["tensor", "global"] = "tensor", seed: int = 0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not sigma0 >= 0:
            raise ValueError(f"sigma0 must be ≥ 0, got {sigma0}")
        if not 0 < decay <= 1:
            raise ValueError(f"decay λ must be in (0, 1], got {decay}")
        if norm not in NOISE_NORMS:
            raise ValueError(f"norm must be one of {', '.join(NOISE_NORMS)}, got {norm!r}")
        super().__init__(params, {"lr": lr})
        self.sigma0, self.decay, self.norm = sigma0, decay, norm
        self.t = 0
        self._generator = torch.Generator().manual_seed(seed)

    @property
    def sigma(self) -> float:
        """σ_t for the next step."""
        return self.sigma0 * self.decay**self.t

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        global_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params])) if params else None
        sigma = self.sigma
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                scale = torch.linalg.vector_norm(p.grad) if self.norm == "tensor" else global_norm
                noise = torch.randn(p.shape, generator=self._generator, dtype=torch.float32).to(p.grad)
                p.add_(p.grad + sigma * scale * noise, alpha=-group["lr"])
        self.t += 1
        return loss
