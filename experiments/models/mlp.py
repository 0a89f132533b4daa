"""Multi-layer perceptron of Appendix B.1.3: flatten → [Linear → norm → activation → dropout] × depth →
Linear."""

from __future__ import annotations

import math

from torch import nn

from experiments.models.layers import Elementwise, make_norm
from experiments.models.spec import ModelSpec


class MLP(nn.Sequential):
    """Image input [B, C, H, W] is flattened; hidden widths ``spec.size('hidden')``; norm before
    activation."""

    def __init__(self, spec: ModelSpec) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = math.prod(spec.input_shape)
        for width in spec.size("hidden"):
            layers += [
                nn.Linear(fan_in, width),
                make_norm(spec.normalization, width, "vector", spec.affine, spec.groups),
                Elementwise(spec.activation),
                nn.Dropout(spec.dropout),
            ]
            fan_in = width
        layers.append(nn.Linear(fan_in, spec.num_classes))
        super().__init__(*layers)
        self.spec = spec
