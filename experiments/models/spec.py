"""Model specifications: the paper's default architectures (Appendix B.1.3) and their options.

:func:`make_spec` turns ``build(arch, input_shape, num_classes, **options)`` arguments into a frozen
:class:`ModelSpec` holding *explicit* sizes (the width multiplier already applied), so that the cloning
expansion (:mod:`experiments.cloning`) can multiply every width by an integer factor exactly.

Defaults (Appendix B.1.3): MLP 5 × 128, ReLU, batch norm before the activation, dropout 0.2; CNN
[64, 128, 256] 3×3 convolutions with 2×2 max pooling and one FC layer of 512, batch norm, dropout 0.1;
ResNet-18 variant ([2, 2, 2, 2] basic blocks, 64 base channels doubling per stage), batch norm, dropout
0.1; ViT with 8×8 patches, dimension 384, depth 6, 6 heads, MLP ratio 4, GELU, layer norm, dropout 0.1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from experiments.models.layers import NORMALIZATIONS, auto_group_count, check_group_count
from theory.activations import get_activation

ARCHITECTURES: tuple[str, ...] = ("mlp", "cnn", "resnet", "vit")

COMMON_DEFAULTS: dict[str, Any] = {
    "width": 1.0,
    "activation": "relu",
    "normalization": "batch",
    "affine": True,
    "dropout": 0.1,
    "groups": None,
}
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"depth": 5, "hidden": 128, "dropout": 0.2},
    "cnn": {"channels": (64, 128, 256), "fc": 512},
    "resnet": {"blocks": (2, 2, 2, 2), "base_channels": 64},
    "vit": {
        "patch_size": 8,
        "dim": 384,
        "depth": 6,
        "heads": 6,
        "mlp_ratio": 4.0,
        "attn_dropout": None,
        "activation": "gelu",
        "normalization": "layer",
    },
}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to construct a model; all sizes explicit. ``clone_factor`` counts expansions."""

    arch: str
    input_shape: tuple[int, int, int]
    num_classes: int
    activation: str
    normalization: str
    affine: bool
    dropout: float
    groups: int
    sizes: tuple[tuple[str, Any], ...]
    clone_factor: int = 1

    def size(self, key: str) -> Any:
        return dict(self.sizes)[key]

    def normalised_widths(self) -> list[int]:
        return normalised_widths(self.arch, dict(self.sizes))

    def scaled(self, factor: int) -> ModelSpec:
        """The spec of the ``factor``-times wider clone (Remark A.4: widths, channels, heads × factor)."""
        sizes = dict(self.sizes)
        if self.arch == "mlp":
            sizes["hidden"] = tuple(h * factor for h in sizes["hidden"])
        elif self.arch == "cnn":
            sizes["channels"] = tuple(c * factor for c in sizes["channels"])
            sizes["fc"] = sizes["fc"] * factor
        elif self.arch == "resnet":
            sizes["base_channels"] = sizes["base_channels"] * factor
        else:  # vit: heads are duplicated, head dimension (and so the softmax scale) kept
            sizes["heads"] = sizes["heads"] * factor
            sizes["mlp_hidden"] = sizes["mlp_hidden"] * factor
        return dataclasses.replace(self, sizes=tuple(sizes.items()), clone_factor=self.clone_factor * factor)


def normalised_widths(arch: str, sizes: dict[str, Any]) -> list[int]:
    """The feature counts that pass through a normalization layer (GroupNorm's G must divide them)."""
    if arch == "mlp":
        return list(sizes["hidden"])
    if arch == "cnn":
        return list(sizes["channels"]) + [sizes["fc"]]
    if arch == "resnet":
        return [sizes["base_channels"] * 2**s for s in range(len(sizes["blocks"]))]
    return [sizes["heads"] * sizes["head_dim"]]


WIDTH_TOL = 1e-9
"""How far n·width may lie from a whole number and still count as one (float round-off of the multiplier)."""


def _scale(n: int, width: float, name: str) -> int:
    """n·width, which must be a whole number ≥ 1: a width that rounds would build another width than it
    records (width=0.001 would build width-1 layers). ValueError names the valid multipliers."""
    scaled = n * width
    whole = round(scaled)
    if whole < 1 or abs(scaled - whole) > WIDTH_TOL * max(1.0, scaled):
        raise ValueError(
            f"width={width:g} gives {scaled:g} units for {name}={n}; the width multiplier must make "
            f"every size a whole number ≥ 1 (here a multiple of 1/{n}, e.g. {1 / n:g}, "
            f"{max(1, round(n / 4)) / n:g} or 1)"
        )
    return whole


def make_spec(arch: str, input_shape: tuple[int, int, int], num_classes: int, **options: Any) -> ModelSpec:
    """Validate ``options`` against the defaults of ``arch`` and compute explicit sizes."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choices: {', '.join(ARCHITECTURES)}")
    defaults = {**COMMON_DEFAULTS, **ARCH_DEFAULTS[arch]}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for arch {arch!r}; valid options: {', '.join(sorted(defaults))}"
        )
    opts = {**defaults, **options}
    if len(tuple(input_shape)) != 3 or any(int(s) < 1 for s in input_shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    input_shape = tuple(int(s) for s in input_shape)  # type: ignore[assignment]
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be ≥ 1, got {num_classes!r}")
    width = float(opts["width"])
    if not width > 0:
        raise ValueError(f"width must be > 0 (a multiplier of the default sizes), got {width}")
    if opts["normalization"] not in NORMALIZATIONS:
        raise ValueError(
            f"unknown normalization {opts['normalization']!r}; choices: {', '.join(NORMALIZATIONS)}"
        )
    get_activation(opts["activation"])  # raises ValueError listing the registered names
    if not 0.0 <= float(opts["dropout"]) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {opts['dropout']}")
    if not isinstance(opts["affine"], bool):
        raise TypeError(f"affine must be a bool, got {opts['affine']!r}")

    sizes: dict[str, Any]
    _, height, width_px = input_shape
    if arch == "mlp":
        if int(opts["depth"]) < 1:
            raise ValueError(f"depth must be ≥ 1, got {opts['depth']}")
        sizes = {"hidden": (_scale(int(opts["hidden"]), width, "hidden"),) * int(opts["depth"])}
    elif arch == "cnn":
        channels = tuple(_scale(int(c), width, "channels") for c in opts["channels"])
        if not channels:
            raise ValueError("channels must list at least one convolution width")
        if min(height, width_px) < 2 ** len(channels):
            raise ValueError(
                f"images of {height}×{width_px} are too small for {len(channels)} 2×2 max-pool stages"
            )
        sizes = {"channels": channels, "fc": _scale(int(opts["fc"]), width, "fc")}
    elif arch == "resnet":
        blocks = tuple(int(b) for b in opts["blocks"])
        if not blocks or min(blocks) < 1:
            raise ValueError(f"blocks must be positive counts per stage, got {opts['blocks']!r}")
        sizes = {
            "blocks": blocks,
            "base_channels": _scale(int(opts["base_channels"]), width, "base_channels"),
        }
    else:
        patch, dim, heads = int(opts["patch_size"]), int(opts["dim"]), int(opts["heads"])
        if heads < 1 or dim % heads:
            raise ValueError(f"dim={dim} must be a positive multiple of heads={heads}")
        if patch < 1 or height % patch or width_px % patch:
            raise ValueError(f"patch_size={patch} must divide the image size {height}×{width_px}")
        head_dim = _scale(dim // heads, width, "head dimension (dim/heads)")
        mlp_ratio = float(opts["mlp_ratio"])
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio}")
        attn_dropout = opts["dropout"] if opts["attn_dropout"] is None else float(opts["attn_dropout"])
        if not 0.0 <= attn_dropout < 1.0:
            raise ValueError(f"attn_dropout must be in [0, 1), got {attn_dropout}")
        sizes = {
            "patch_size": patch,
            "heads": heads,
            "head_dim": head_dim,
            "depth": int(opts["depth"]),
            "mlp_hidden": max(1, round(heads * head_dim * mlp_ratio)),
            "attn_dropout": attn_dropout,
        }
    widths = normalised_widths(arch, sizes)
    if opts["groups"] is None:
        groups = auto_group_count(widths)
    else:
        groups = int(opts["groups"])
        check_group_count(groups, widths)
    return ModelSpec(
        arch=arch,
        input_shape=input_shape,  # type: ignore[arg-type]
        num_classes=int(num_classes),
        activation=str(opts["activation"]),
        normalization=str(opts["normalization"]),
        affine=bool(opts["affine"]),
        dropout=float(opts["dropout"]),
        groups=groups,
        sizes=tuple(sizes.items()),
    )
