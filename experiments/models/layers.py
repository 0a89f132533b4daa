"""Building blocks shared by the four architectures of Appendix B.1.3: activations and normalizations.

Normalization choices (``normalization=none|batch|layer|group``), by the shape of what is normalised:

==========  ======================  =================================  =====================================
kind        vectors [B, C]          feature maps [B, C, H, W]          tokens [B, N, D]
==========  ======================  =================================  =====================================
batch       BatchNorm1d(C)          BatchNorm2d(C)                     BatchNorm1d(D) over all B·N tokens
layer       LayerNorm(C)            GroupNorm(1, C): over (C, H, W),   LayerNorm(D), per token
                                    per-channel γ, β
group       GroupNorm(G, C)         GroupNorm(G, C)                    GroupNorm(G, D), per token
==========  ======================  =================================  =====================================

"layer" on feature maps normalises each sample over all of (C, H, W) with one (γ, β) per channel (so its
parameters have the same shape at any image size and clone per channel). Every choice is exact under
cloning with adjacent clones (see :mod:`experiments.cloning`): the statistics over k copies of each unit
equal the base statistics. G is the same for base and clone (the clone's groups hold k copies of each
base group's channels).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from theory.activations import get_activation

NORMALIZATIONS: tuple[str, ...] = ("none", "batch", "layer", "group")
Layout = Literal["vector", "map", "tokens"]
DEFAULT_GROUP_COUNT = 8
"""Largest GroupNorm group count chosen automatically."""
MIN_GROUP_SIZE = 4
"""Automatic group counts keep at least this many channels per group (a group of one channel normalises
every sample to β and passes no signal)."""


class Elementwise(nn.Module):
    """An elementwise nonlinearity from the ``theory`` activation registry (any registered name)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.fn = get_activation(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn.torch_fn(x)

    def extra_repr(self) -> str:
        return self.name


class Tokenwise(nn.Module):
    """Apply a [batch, features] normalization to [B, N, D] tokens by folding N into the batch."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return self.norm(x.reshape(-1, shape[-1])).reshape(shape)


def auto_group_count(widths: list[int]) -> int:
    """Largest G ≤ ``DEFAULT_GROUP_COUNT`` dividing every width with ≥ ``MIN_GROUP_SIZE`` channels per
    group in the narrowest layer; 1 when there is none (so every width is valid)."""
    for g in range(DEFAULT_GROUP_COUNT, 1, -1):
        if all(w % g == 0 for w in widths) and min(widths) // g >= MIN_GROUP_SIZE:
            return g
    return 1


def check_group_count(groups: int, widths: list[int]) -> None:
    bad = [w for w in widths if w % groups]
    if groups < 1 or bad:
        valid = [g for g in range(1, min(widths) + 1) if all(w % g == 0 for w in widths)]
        raise ValueError(
            f"groups={groups} must be ≥ 1 and divide every normalised width; it does not divide {bad}. "
            f"Widths: {widths}; valid group counts: {valid}"
        )


def make_norm(kind: str, num_features: int, layout: Layout, affine: bool, groups: int) -> nn.Module:
    """The normalization of the table in the module docstring (``nn.Identity`` for ``none``)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        if layout == "map":
            return nn.BatchNorm2d(num_features, affine=affine)
        bn = nn.BatchNorm1d(num_features, affine=affine)
        return Tokenwise(bn) if layout == "tokens" else bn
    if kind == "layer":
        if layout == "map":
            return nn.GroupNorm(1, num_features, affine=affine)
        return nn.LayerNorm(num_features, elementwise_affine=affine)
    if kind == "group":
        gn = nn.GroupNorm(groups, num_features, affine=affine)
        return Tokenwise(gn) if layout == "tokens" else gn
    raise ValueError(f"unknown normalization {kind!r}; choices: {', '.join(NORMALIZATIONS)}")
