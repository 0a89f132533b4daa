"""The four architectures of Appendix B.1.3 (MLP, CNN, ResNet-18 variant, ViT), built by name.

``build(arch, input_shape=(C, H, W), num_classes=K, **options)``; every architecture takes images
[B, C, H, W]. Options common to all: ``width`` (multiplier of the default sizes), ``activation`` (any
name of the ``theory`` activation registry), ``normalization`` (none|batch|layer|group, see
:mod:`experiments.models.layers`), ``affine``, ``dropout``, ``groups`` (GroupNorm group count; default:
the largest divisor of 8 dividing every normalised width). Architecture options: ``mlp``: depth,
hidden; ``cnn``: channels, fc; ``resnet``: blocks, base_channels; ``vit``: patch_size, dim, depth,
heads, mlp_ratio, attn_dropout. Unknown options are an error listing the valid ones.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from experiments.models.cnn import CNN
from experiments.models.mlp import MLP
from experiments.models.resnet import ResNet
from experiments.models.spec import ARCHITECTURES, ModelSpec, make_spec
from experiments.models.vit import ViT

_CONSTRUCTORS: dict[str, type[nn.Module]] = {"mlp": MLP, "cnn": CNN, "resnet": ResNet, "vit": ViT}

__all__ = ["ARCHITECTURES", "ModelSpec", "build", "construct", "make_spec"]


def construct(spec: ModelSpec) -> nn.Module:
    """The model described by an explicit :class:`ModelSpec` (freshly initialised)."""
    return _CONSTRUCTORS[spec.arch](spec)


def build(
    arch: str, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10, **options: Any
) -> nn.Module:
    """Build ``arch`` ∈ {mlp, cnn, resnet, vit} with the Appendix B.1.3 defaults overridden by ``options``."""
    return construct(make_spec(arch, tuple(input_shape), num_classes, **options))  # type: ignore[arg-type]
