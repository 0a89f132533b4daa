"""CIFAR-10 / CIFAR-100 from the standard python pickle batches (Appendix B.1.3).

Layout under ``data_dir``: ``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch`` (labels ``labels``);
``cifar-100-python/train``, ``test`` (labels ``fine_labels``). Each pickle holds ``data`` as uint8
[N, 3072] (3 × 32 × 32, channel-major).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from experiments.data.base import DatasetNotFound, ImageDataset
from experiments.data.download import fetch_and_extract

_SOURCES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels", 10,
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", 100,
                 "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
}


def load_cifar(name: str, data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    folder, train_files, test_files, label_key, classes, url = _SOURCES[name]
    root = Path(data_dir) / folder
    files = [root / f for f in (train_files if train else test_files)]
    if not all(f.is_file() for f in files):
        if download:
            fetch_and_extract(url, Path(data_dir), files[0], name)
        else:
            missing = [str(f) for f in files if not f.is_file()]
            raise DatasetNotFound(
                f"{name} files missing: {missing}. Put the python version ({url}) unpacked under {data_dir} "
                f"or pass download=true"
            )
    images, labels = [], []
    for f in files:
        with f.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return ImageDataset(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), classes, name)
