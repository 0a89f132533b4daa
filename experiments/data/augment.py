"""Training augmentation on tensors on the training device (Appendix B.1.3: random crop with padding and
horizontal flip), and per-channel normalization."""

from __future__ import annotations

import torch


def random_crop_flip(
    x: torch.Tensor, padding: int, flip: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pad by ``padding``, crop back to H×W at a random offset per sample, flip with prob. 1/2.

    Random numbers are drawn on the CPU from ``generator`` (reproducible on any device) and moved over.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images [B, C, H, W], got {tuple(x.shape)}")
    b, _, h, w = x.shape
    if padding > 0:
        padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
        off = torch.randint(0, 2 * padding + 1, (b, 2), generator=generator).to(x.device)
        rows = off[:, 0:1] + torch.arange(h, device=x.device)  # [B, H]
        cols = off[:, 1:2] + torch.arange(w, device=x.device)  # [B, W]
        bidx = torch.arange(b, device=x.device)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[bidx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if flip:
        mask = (torch.rand(b, generator=generator) < 0.5).to(x.device)[:, None, None, None]
        x = torch.where(mask, x.flip(-1), x)
    return x


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of float images [N, C, H, W]."""
    return images.mean(dim=(0, 2, 3)), images.std(dim=(0, 2, 3)).clamp_min(1e-6)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.to(x)[None, :, None, None]) / std.to(x)[None, :, None, None]
