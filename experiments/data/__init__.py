"""Datasets of Appendix B.1.3 (CIFAR-10/100, MNIST, Tiny ImageNet) and an offline synthetic task.

``load_dataset(name, data_dir, train, download=False)``; ``download=True`` fetches the public archive with
urllib when the network allows. Every problem with the files on disk raises :class:`DataFileError` (a
ValueError) naming the file and what is wrong with it; a missing dataset is its subclass
:class:`DatasetNotFound` (also a FileNotFoundError), which says where to put the files.
"""

from __future__ import annotations

from pathlib import Path

from experiments.data.augment import channel_stats, normalize, random_crop_flip
from experiments.data.base import DataFileError, DatasetNotFound, ImageDataset
from experiments.data.cifar import load_cifar
from experiments.data.loader import make_loader, resolve_pin_memory, shuffle_generator
from experiments.data.mnist import load_mnist, read_idx
from experiments.data.synthetic import make_synthetic
from experiments.data.tiny_imagenet import load_tiny_imagenet

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "mnist", "tiny_imagenet")
DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int, int]] = {
    "cifar10": ((3, 32, 32), 10, 50_000),
    "cifar100": ((3, 32, 32), 100, 50_000),
    "mnist": ((1, 28, 28), 10, 60_000),
    "tiny_imagenet": ((3, 64, 64), 200, 100_000),
}
"""(C, H, W), classes and training images of each dataset's standard split (Appendix B.1.3): what a sweep
checks model sizes and counts steps with before any data is loaded."""

__all__ = [
    "DATASETS",
    "DATASET_SHAPES",
    "DataFileError",
    "DatasetNotFound",
    "ImageDataset",
    "channel_stats",
    "load_dataset",
    "make_loader",
    "make_synthetic",
    "normalize",
    "random_crop_flip",
    "read_idx",
    "resolve_pin_memory",
    "shuffle_generator",
]


def load_dataset(name: str, data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    """The ``train`` or test split of ``name`` ∈ DATASETS from ``data_dir``."""
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, data_dir, train, download)
    if name == "mnist":
        return load_mnist(data_dir, train, download)
    if name == "tiny_imagenet":
        return load_tiny_imagenet(data_dir, train, download)
    raise ValueError(f"unknown dataset {name!r}; choices: {', '.join(DATASETS)} (or 'synthetic' in studies)")
