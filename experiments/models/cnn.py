"""Convolutional network of Appendix B.1.3: [3×3 conv → norm → activation → 2×2 max-pool → dropout] per
stage (channels [64, 128, 256]), then flatten → Linear(512) → norm → activation → dropout → Linear."""

from __future__ import annotations

from torch import nn

from experiments.models.layers import Elementwise, make_norm
from experiments.models.spec import ModelSpec


class CNN(nn.Sequential):
    def __init__(self, spec: ModelSpec) -> None:
        in_ch, height, width = spec.input_shape
        layers: list[nn.Module] = []
        for ch in spec.size("channels"):
            layers += [
                nn.Conv2d(in_ch, ch, kernel_size=3, stride=1, padding=1),
                make_norm(spec.normalization, ch, "map", spec.affine, spec.groups),
                Elementwise(spec.activation),
                nn.MaxPool2d(2),
                nn.Dropout(spec.dropout),
            ]
            in_ch, height, width = ch, height // 2, width // 2
        fc = spec.size("fc")
        layers += [
            nn.Flatten(),
            nn.Linear(in_ch * height * width, fc),
            make_norm(spec.normalization, fc, "vector", spec.affine, spec.groups),
            Elementwise(spec.activation),
            nn.Dropout(spec.dropout),
            nn.Linear(fc, spec.num_classes),
        ]
        super().__init__(*layers)
        self.spec = spec
