"""MNIST from the IDX files (gzipped or not): ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.

IDX: big-endian magic 0x00000803 (images; then N, rows, cols) or 0x00000801 (labels; then N), then bytes.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from experiments.data.base import DatasetNotFound, ImageDataset
from experiments.data.download import DOWNLOAD_TIMEOUT_S

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally .gz) as a uint8 array of its declared shape."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path} is too short to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise ValueError(f"{path}: magic {magic:#010x} is neither IDX images (0x803) nor labels (0x801)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header declares {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz", root / "MNIST" / "raw" / stem, root / "MNIST" / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    root = Path(data_dir)
    prefix = "train" if train else "t10k"
    stems = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    paths = [_find(root, s) for s in stems]
    if any(p is None for p in paths):
        if not download:
            raise DatasetNotFound(f"MNIST files {stems} (or .gz) missing under {root}; get them from {MIRROR} "
                                  f"or pass download=true")
        for s in stems:
            _fetch_gz(MIRROR + s + ".gz", root / f"{s}.gz")
        paths = [_find(root, s) for s in stems]
    images, labels = read_idx(paths[0]), read_idx(paths[1])  # type: ignore[arg-type]
    return ImageDataset(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)), 10, "mnist")


def _fetch_gz(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            target.write_bytes(r.read())
    except (urllib.error.URLError, OSError) as err:
        raise DatasetNotFound(f"could not download {url} ({err}); place the IDX files under {target.parent}") from None

