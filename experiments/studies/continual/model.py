"""The continual study's model: build options from the configuration, the classifier layer."""

from __future__ import annotations

from typing import Any

from torch import nn

from experiments.models.vit import ViT
from experiments.studies.continual.config import ContinualConfig

VIT_PATCH_CHOICES: tuple[int, ...] = (8, 4, 2, 1)
VIT_MIN_PATCHES = 4


def vit_patch(input_shape: tuple[int, int, int]) -> int:
    """The largest of 8, 4, 2, 1 dividing the image that leaves at least ``VIT_MIN_PATCHES`` patches."""
    _, h, w = input_shape
    for p in VIT_PATCH_CHOICES:
        if h % p == 0 and w % p == 0 and (h // p) * (w // p) >= VIT_MIN_PATCHES:
            return p
    return 1


def model_options(cfg: ContinualConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Keyword options of :func:`experiments.models.build` for this configuration."""
    opts: dict[str, Any] = {"width": cfg.width, "affine": cfg.affine, "dropout": cfg.dropout}
    if cfg.activation != "default":
        opts["activation"] = cfg.activation
    if cfg.normalization != "default":
        opts["normalization"] = cfg.normalization
    if cfg.arch == "vit":
        opts["patch_size"] = cfg.patch_size or vit_patch(input_shape)
    return opts


def output_layer(model: nn.Module) -> nn.Linear:
    """The classifier layer of a model built by :func:`experiments.models.build`."""
    head = model.head if isinstance(model, ViT) else model[-1]  # type: ignore[index]
    if not isinstance(head, nn.Linear):
        raise TypeError(f"expected the output layer to be nn.Linear, got {type(head).__name__}")
    return head
