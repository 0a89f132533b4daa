"""MNIST from the IDX files (gzipped or not): ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
(Appendix B.1.3: 28×28 greyscale, 10 classes).

IDX: a big-endian magic ``0x0000TTDD`` (type TT = 0x08 unsigned bytes, DD dimensions: 0x00000803 images
with N, rows, cols; 0x00000801 labels with N), the DD sizes as big-endian uint32, then exactly their
product of bytes. A file named ``.gz`` must be gzip-compressed. Every departure (bad magic, a header
or payload shorter or longer than declared, images not 28×28, label count or range) is a
:class:`DataFileError` naming the file.
"""

from __future__ import annotations

import gzip
import io
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from experiments.data.base import (
    DataFileError,
    DatasetNotFound,
    ImageDataset,
    check_folder,
    check_labels,
    check_not_folder,
)
from experiments.data.download import DOWNLOAD_TIMEOUT_S

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
IMAGE_SIDE = 28  # Appendix B.1.3
NUM_CLASSES = 10
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_KIND = {IMAGE_MAGIC: "images (0x00000803)", LABEL_MAGIC: "labels (0x00000801)"}


def _read_up_to(fh: io.BufferedIOBase, n: int) -> bytes:
    """At most ``n`` bytes, in chunks: a header declaring a huge size allocates only what the file holds."""
    parts, got = [], 0
    while got < n and (chunk := fh.read(min(READ_CHUNK, n - got))):
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _parse(fh: io.BufferedIOBase, path: Path) -> np.ndarray:
    magic_bytes = _read_up_to(fh, 4)
    if not magic_bytes:
        raise DataFileError(path, "is empty, expected an IDX file")
    if len(magic_bytes) < 4:
        raise DataFileError(path, f"is too short ({len(magic_bytes)} bytes) to be an IDX file")
    magic = int.from_bytes(magic_bytes, "big")
    if magic not in _KIND:
        raise DataFileError(
            path,
            f"starts with {magic_bytes.hex()}, not an IDX magic number (images 00000803 or labels 00000801)",
        )
    ndim = magic_bytes[3]
    header = _read_up_to(fh, 4 * ndim)
    if len(header) < 4 * ndim:
        raise DataFileError(
            path, f"is truncated inside its header ({4 + len(header)} bytes, {4 + 4 * ndim} needed)"
        )
    dims = [int.from_bytes(header[4 * i : 4 * i + 4], "big") for i in range(ndim)]
    size = int(np.prod(dims, dtype=object))
    payload = _read_up_to(fh, size + 1)
    if len(payload) < size:
        raise DataFileError(
            path,
            f"is truncated: its header declares {dims} ({size} bytes of data) but it holds {len(payload)}",
        )
    if len(payload) > size:
        raise DataFileError(path, f"holds more data than the {dims} ({size} bytes) its header declares")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzip-compressed when named .gz) as uint8 of its declared shape."""
    path = Path(path)
    check_not_folder(path, "an IDX file")
    try:
        with path.open("rb") as fh:
            if path.suffix != ".gz":
                return _parse(fh, path)
            start = fh.read(4)
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({err.strerror or err})") from None
    if not start:
        raise DataFileError(path, "is empty, expected a gzip-compressed IDX file")
    if not start.startswith(GZIP_MAGIC):
        plain = int.from_bytes(start, "big") in _KIND
        what = "it is a plain IDX file: drop the .gz suffix" if plain else f"starts with {start.hex()}"
        raise DataFileError(path, f"is named .gz but is not gzip-compressed ({what})")
    try:
        with gzip.open(path, "rb") as fh:
            return _parse(fh, path)
    except (OSError, EOFError, zlib.error) as err:
        problem = f"is a corrupt or truncated gzip file ({type(err).__name__}: {err})"
        raise DataFileError(path, problem) from None


def _find(root: Path, stem: str) -> Path | None:
    raw = root / "MNIST" / "raw"
    for candidate in (root / stem, root / f"{stem}.gz", raw / stem, raw / f"{stem}.gz"):
        check_not_folder(candidate, "an MNIST IDX file")
        if candidate.is_file():
            return candidate
    return None


def _missing_hint(root: Path) -> str:
    """IDX-looking files under other names (e.g. ``train-images.idx3-ubyte`` from some archives)."""
    known = {
        f"{split}-{kind}-ubyte{gz}"
        for split in ("train", "t10k")
        for kind in ("images-idx3", "labels-idx1")
        for gz in ("", ".gz")
    }
    found = sorted(
        p.name
        for folder in (root, root / "MNIST" / "raw")
        if folder.is_dir()
        for p in folder.iterdir()
        if "idx" in p.name and p.name not in known
    )
    return f" Found instead: {', '.join(found)} (rename them to the names above)." if found else ""


def load_mnist(data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    root = Path(data_dir)
    check_folder(root, "data_dir")
    prefix = "train" if train else "t10k"
    stems = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    paths = [_find(root, s) for s in stems]
    if download and any(p is None for p in paths):
        for s, p in zip(stems, paths):
            if p is None:
                _fetch_gz(MIRROR + s + ".gz", root / f"{s}.gz")
        paths = [_find(root, s) for s in stems]
    image_path, label_path = paths
    if image_path is None or label_path is None:
        missing = root / stems[0 if image_path is None else 1]
        where = f"{missing} (or .gz, or under {root / 'MNIST' / 'raw'})"
        raise DatasetNotFound(
            missing,
            f"MNIST file missing: {where}; get it from {MIRROR} or pass download=true.{_missing_hint(root)}",
        )
    images, labels = read_idx(image_path), read_idx(label_path)
    _check_kind(image_path, images, IMAGE_MAGIC)
    _check_kind(label_path, labels, LABEL_MAGIC)
    if images.shape[0] == 0 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataFileError(
            image_path,
            f"holds images of shape {images.shape}, expected [N ≥ 1, {IMAGE_SIDE}, {IMAGE_SIDE}] (MNIST)",
        )
    y = check_labels(labels, label_path, "", len(images), str(image_path), NUM_CLASSES, "MNIST")
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    return ImageDataset(x, torch.from_numpy(y), NUM_CLASSES, "mnist")


def _check_kind(path: Path, array: np.ndarray, magic: int) -> None:
    if array.ndim != (magic & 0xFF):
        other = LABEL_MAGIC if magic == IMAGE_MAGIC else IMAGE_MAGIC
        raise DataFileError(
            path, f"holds IDX {_KIND[other]}, expected {_KIND[magic]} (images and labels files swapped?)"
        )


def _fetch_gz(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            target.write_bytes(r.read())
    except (urllib.error.URLError, OSError) as err:
        raise DatasetNotFound(
            target, f"could not download {url} ({err}); place the IDX files so that {target} exists"
        ) from None
