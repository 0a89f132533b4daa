"""ResNet-18 variant of Appendix B.1.3 (CIFAR-style 3×3 stem, [2, 2, 2, 2] basic blocks, channels doubling
per stage from 64, global average pooling, one linear classifier)."""

from __future__ import annotations

import torch
from torch import nn

from experiments.models.layers import Elementwise, make_norm
from experiments.models.spec import ModelSpec


class BasicBlock(nn.Module):
    """out = act(norm2(conv2(drop(act(norm1(conv1(x)))))) + shortcut(x)); shortcut = 1×1 conv + norm
    when the shape changes, identity otherwise. Both branches carry the same cloning profile."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, spec: ModelSpec) -> None:
        super().__init__()

        def norm(channels: int) -> nn.Module:
            return make_norm(spec.normalization, channels, "map", spec.affine, spec.groups)

        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.norm1 = norm(out_ch)
        self.act1 = Elementwise(spec.activation)
        self.drop = nn.Dropout(spec.dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1)
        self.norm2 = norm(out_ch)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride), norm(out_ch))
            if stride != 1 or in_ch != out_ch
            else nn.Identity()
        )
        self.act2 = Elementwise(spec.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.norm2(self.conv2(self.drop(self.act1(self.norm1(self.conv1(x))))))
        return self.act2(branch + self.shortcut(x))


class ResNet(nn.Sequential):
    def __init__(self, spec: ModelSpec) -> None:
        in_ch = spec.input_shape[0]
        base = spec.size("base_channels")
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, base, 3, stride=1, padding=1),
            make_norm(spec.normalization, base, "map", spec.affine, spec.groups),
            Elementwise(spec.activation),
        ]
        ch = base
        for stage, count in enumerate(spec.size("blocks")):
            out_ch = base * 2**stage
            for b in range(count):
                layers.append(BasicBlock(ch, out_ch, 2 if (stage > 0 and b == 0) else 1, spec))
                ch = out_ch
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, spec.num_classes)]
        super().__init__(*layers)
        self.spec = spec
