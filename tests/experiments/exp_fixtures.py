"""Shared fixtures for the experiments tests: tiny models moved away from initialization."""

from __future__ import annotations

import torch
from torch import nn

from experiments.models import build

TINY_INPUT = (3, 8, 8)
TINY_CLASSES = 5
TINY_WIDTH = 0.0625
ARCH_OPTIONS = {"mlp": {}, "cnn": {}, "resnet": {"blocks": (1, 1)}, "vit": {"patch_size": 4, "depth": 2}}
PERTURB_RELATIVE = 0.5
BN_WARMUP_PASSES = 3


def moved_model(arch: str, normalization: str, dtype: torch.dtype, seed: int = 0, **options) -> nn.Module:
    """A tiny model whose parameters and running statistics are moved away from initialization:
    each parameter gets noise of 0.5 × its RMS, then a few train-mode passes move BN running stats."""
    torch.manual_seed(seed)
    opts = {
        "width": TINY_WIDTH,
        "dropout": 0.0,
        "normalization": normalization,
        **ARCH_OPTIONS[arch],
        **options,
    }
    model = build(arch, TINY_INPUT, TINY_CLASSES, **opts).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(PERTURB_RELATIVE * p.pow(2).mean().sqrt().clamp_min(0.02) * torch.randn_like(p))
        model.train()
        for _ in range(BN_WARMUP_PASSES):
            model(torch.randn(32, *TINY_INPUT, dtype=dtype))
    return model


def batch(dtype: torch.dtype, n: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *TINY_INPUT, generator=g).to(dtype), torch.randint(
        0, TINY_CLASSES, (n,), generator=g
    )
