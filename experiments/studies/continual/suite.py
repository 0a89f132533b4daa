"""The metric suite logged at every interval of the continual study (Appendix B.1.2)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import nn

from experiments.metrics import (
    dead_fraction,
    duplicate_fraction,
    effective_rank,
    layer_features,
    saturated_fraction,
)

SUITE = ("dead_fraction", "duplicate_fraction", "effective_rank", "saturated_fraction")
"""The layer-mean keys of every interval record (also ``layer/<name>/<key>`` per layer)."""


def metric_suite(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, float]:
    """Dead, duplicate, saturated fractions and effective rank (Appendix B.1.2) of every hidden layer on
    the metric batch (gradients G from cross-entropy over all classes), plus their means over layers.
    Raises :class:`experiments.metrics.NonFiniteFeatures` for a diverged model."""
    _, feats, grads = layer_features(model, x, y, seed=seed)
    out: dict[str, float] = {}
    per_metric: dict[str, list[float]] = defaultdict(list)
    for name, H in feats.items():
        values = {
            "dead_fraction": dead_fraction(H),
            "duplicate_fraction": duplicate_fraction(H),
            "effective_rank": effective_rank(H),
            "saturated_fraction": saturated_fraction(H, grads[name]),
        }
        for key, value in values.items():
            out[f"layer/{name}/{key}"] = value
            per_metric[key].append(value)
    out.update({key: float(np.mean(v)) for key, v in per_metric.items()})
    return out
