"""An offline, deterministic, class-structured image classification task for smoke runs and tests.

Each class k has a prototype image: a sum of a few random low-frequency 2-D cosines (seeded by the
dataset seed). A sample is its class prototype, randomly shifted (circularly, up to ``max_shift`` pixels),
scaled by a random contrast in [0.7, 1.3], plus white noise of std ``noise``; values are mapped to uint8.
Classes overlap through the noise and the shifts, so the task is learnable but not trivial.
"""

from __future__ import annotations

import math

import torch

from experiments.data.base import ImageDataset

FREQUENCIES_PER_PROTOTYPE = 4
MAX_FREQUENCY = 3


def make_synthetic(
    num_samples: int,
    num_classes: int = 10,
    image_shape: tuple[int, int, int] = (3, 8, 8),
    noise: float = 0.6,
    max_shift: int = 1,
    seed: int = 0,
    sample_seed: int | None = None,
) -> ImageDataset:
    """``num_samples`` images (classes balanced round-robin); prototypes depend on ``seed`` only, the
    samples on ``sample_seed`` (default ``seed``), so train and test sets share classes."""
    if num_samples < 1 or num_classes < 2:
        raise ValueError(f"need num_samples ≥ 1 and num_classes ≥ 2, got {num_samples}, {num_classes}")
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be C, H, W, each ≥ 1, got {tuple(image_shape)}")
    if not (math.isfinite(noise) and noise >= 0) or max_shift < 0:
        raise ValueError(
            f"need a finite noise ≥ 0 and max_shift ≥ 0, got noise={noise}, max_shift={max_shift}"
        )
    c, h, w = image_shape
    g = torch.Generator().manual_seed(seed)
    rows, cols = torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64)
    yy, xx = torch.meshgrid(rows, cols, indexing="ij")
    protos = torch.zeros(num_classes, c, h, w, dtype=torch.float64)
    for k in range(num_classes):
        for ch in range(c):
            for _ in range(FREQUENCIES_PER_PROTOTYPE):
                fy, fx = torch.randint(0, MAX_FREQUENCY + 1, (2,), generator=g).tolist()
                phase = float(torch.rand(1, generator=g)) * 2 * math.pi
                amp = float(torch.randn(1, generator=g))
                protos[k, ch] += amp * torch.cos(2 * math.pi * (fy * yy / h + fx * xx / w) + phase)
    protos /= protos.flatten(1).std(dim=1).clamp_min(1e-12)[:, None, None, None]
    gs = torch.Generator().manual_seed(seed if sample_seed is None else sample_seed)
    labels = torch.arange(num_samples) % num_classes
    labels = labels[torch.randperm(num_samples, generator=gs)]
    x = protos[labels]
    shifts = torch.randint(-max_shift, max_shift + 1, (num_samples, 2), generator=gs)
    x = torch.stack([torch.roll(xi, (int(s[0]), int(s[1])), dims=(1, 2)) for xi, s in zip(x, shifts)])
    contrast = 0.7 + 0.6 * torch.rand(num_samples, 1, 1, 1, generator=gs, dtype=torch.float64)
    x = contrast * x + noise * torch.randn(x.shape, generator=gs, dtype=torch.float64)
    images = ((x * 0.25 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageDataset(images, labels.long(), num_classes, "synthetic")
