"""In-memory image classification datasets and the common errors of the on-disk loaders."""

from __future__ import annotations

from dataclasses import dataclass

import torch


class DatasetNotFound(FileNotFoundError):
    """The files of a dataset are missing; the message says where to put them."""


@dataclass(frozen=True)
class ImageDataset:
    """Images [N, C, H, W] (uint8 or float) and integer labels [N]; ``classes`` the label names."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise ValueError(f"images must be [N, C, H, W] and labels [N]; got {tuple(self.images.shape)}, "
                             f"{tuple(self.labels.shape)}")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes})")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None, seed: int = 0) -> "ImageDataset":
        """The first ``n`` samples of a seeded permutation (all when ``n`` is None or ≥ N)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return ImageDataset(self.images[idx], self.labels[idx], self.num_classes, self.name)

    def as_float(self) -> torch.Tensor:
        """Images in [0, 1] as float32."""
        return self.images.float() / 255.0 if self.images.dtype == torch.uint8 else self.images.float()
