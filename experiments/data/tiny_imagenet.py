"""Tiny ImageNet (64×64 RGB, 200 classes) from its standard folder layout under ``data_dir/tiny-imagenet-200``:
``wnids.txt``; ``train/<wnid>/images/*.JPEG``; ``val/images/*.JPEG`` with ``val/val_annotations.txt``
(tab-separated: file name, wnid, box). Images are decoded with Pillow (shipped with matplotlib), falling
back to matplotlib.image; greyscale images are replicated to 3 channels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from experiments.data.base import DatasetNotFound, ImageDataset
from experiments.data.download import fetch_and_extract

FOLDER = "tiny-imagenet-200"
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def _decode(path: Path) -> np.ndarray:
    try:
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except ImportError:  # Pillow missing: matplotlib reads PNG natively, JPEG only through Pillow
        import matplotlib.image as mpimg

        arr = mpimg.imread(path)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        arr = arr[..., :3]
    return arr.transpose(2, 0, 1)


def load_tiny_imagenet(data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    root = Path(data_dir) / FOLDER
    wnids_file = root / "wnids.txt"
    if not wnids_file.is_file():
        if not download:
            raise DatasetNotFound(f"Tiny ImageNet not found: expected {wnids_file} (unzip {URL} under {data_dir}) "
                                  f"or pass download=true")
        fetch_and_extract(URL, Path(data_dir), wnids_file, "Tiny ImageNet")
    wnids = [w.strip() for w in wnids_file.read_text().splitlines() if w.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    items: list[tuple[Path, int]] = []
    if train:
        for w in wnids:
            folder = root / "train" / w / "images"
            items += [(p, index[w]) for p in sorted(folder.glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        ann = root / "val" / "val_annotations.txt"
        if not ann.is_file():
            raise DatasetNotFound(f"Tiny ImageNet validation annotations missing: {ann}")
        for line in ann.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                if parts[1] not in index:
                    raise ValueError(f"{ann}: wnid {parts[1]!r} is not listed in {wnids_file}")
                items.append((root / "val" / "images" / parts[0], index[parts[1]]))
    if not items:
        raise DatasetNotFound(f"no images found under {root / ('train' if train else 'val')}")
    images = np.stack([_decode(p) for p, _ in items])
    labels = np.asarray([c for _, c in items], dtype=np.int64)
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), len(wnids), "tiny_imagenet")
