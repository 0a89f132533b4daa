"""Batches for training: a DataLoader over in-memory tensors that yields whole batches (no per-sample
Python loop), pinned memory when the training device is CUDA, non-blocking copies to the device."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset


def resolve_pin_memory(flag: bool | str, device: str) -> bool:
    """``auto`` → pin only when training on CUDA; ``True`` on a machine without CUDA resolves to False."""
    if flag == "auto":
        return device.startswith("cuda") and torch.cuda.is_available()
    if flag is not True and flag is not False:
        raise ValueError(f"pin_memory must be true, false or auto, got {flag!r}")
    return flag and torch.cuda.is_available()


def make_loader(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    shuffle: bool,
    seed: int,
    pin_memory: bool = False,
    num_workers: int = 0,
) -> DataLoader:
    """Batches of (images, labels); shuffling from a seeded generator (reproducible epochs)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} images, {len(labels)} labels")
    if num_workers < 0:
        raise ValueError(f"num_workers must be ≥ 0, got {num_workers}")
    dataset = TensorDataset(images, labels)
    generator = torch.Generator().manual_seed(seed)
    base = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(
        dataset,
        sampler=BatchSampler(base, batch_size, drop_last=False),
        batch_size=None,
        pin_memory=pin_memory,
        num_workers=num_workers,
    )


def shuffle_generator(loader: DataLoader) -> torch.Generator | None:
    """The generator that shuffles a :func:`make_loader` loader (None when it does not shuffle): its state
    at an epoch boundary is the whole data-order state of the loader (checkpoints save it)."""
    sampler = getattr(loader.sampler, "sampler", None)
    return sampler.generator if isinstance(sampler, RandomSampler) else None
