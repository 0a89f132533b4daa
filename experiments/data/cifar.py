"""CIFAR-10 / CIFAR-100 from the standard python pickle batches (Appendix B.1.3: 32×32 RGB).

Layout under ``data_dir``: ``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch`` (labels ``labels``);
``cifar-100-python/train``, ``test`` (labels ``fine_labels``). Each pickle is a dict holding ``data``, a
uint8 array [N, 3072] (3 × 32 × 32, channel-major), and N integer labels.

What a batch may hold, checked file by file (anything else is a :class:`DataFileError` naming the file):

- the pickle is read by an unpickler that builds only dicts, lists, tuples, bytes, strings, numbers and numpy
  arrays, so a pickle of anything else is refused before any of its code runs;
- keys may be bytes (the original Python 2 pickles) or str (a batch re-saved from Python 3);
- ``data`` must be a 2-D array [N ≥ 1, 3072]; a 4-D array is refused because its channel order cannot be
  told from the file;
- pixel type: uint8 as is; another integer type only when every value lies in 0..255 (converted exactly);
  float (or any other) data is refused, never cast, because its scale (0..1 or 0..255) cannot be told;
- labels: N integers in 0..classes-1.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
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
from experiments.data.download import fetch_and_extract

IMAGE_SHAPE = (3, 32, 32)  # Appendix B.1.3
PIXELS = int(np.prod(IMAGE_SHAPE))
PIXEL_MAX = 255


@dataclass(frozen=True)
class CifarSource:
    """Where one CIFAR variant lives under ``data_dir`` and how its labels are keyed."""

    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    num_classes: int
    url: str

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1]


SOURCES: dict[str, CifarSource] = {
    "cifar10": CifarSource(
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "labels",
        10,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": CifarSource(
        "cifar-100-python",
        ("train",),
        ("test",),
        "fine_labels",
        100,
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}

# The globals a numpy array needs to unpickle (numpy ≥ 2 writes numpy._core, older numpy numpy.core; bytes
# pickled by Python 3 at protocol ≤ 2 go through _codecs.encode).
_NUMPY_GLOBALS = {("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")}
_NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"


class _RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a class or function outside the CIFAR format."""


class _ArrayUnpickler(pickle.Unpickler):
    """Builds plain containers and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}:
            return super().find_class(module, name)
        for core in ("numpy.core.", "numpy._core."):
            if module.startswith(core) and (module[len(core) :], name) in _NUMPY_GLOBALS:
                return super().find_class(f"{_NUMPY_CORE}.{module[len(core) :]}", name)
        raise _RefusedGlobal(f"{module}.{name}")


def _unpickle(path: Path) -> object:
    check_not_folder(path, "a CIFAR pickle batch")
    try:  # from the open file: the unpickler reads array data straight into place (~10x faster than bytes)
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size == 0:
                raise DataFileError(path, "is empty (0 bytes), expected a CIFAR pickle batch")
            obj = _ArrayUnpickler(stream, encoding="bytes").load()
            end = stream.tell()
    except _RefusedGlobal as err:
        problem = (
            f"is refused: its pickle refers to {err}, which no CIFAR batch holds (only dicts, lists, "
            f"bytes, strings, numbers and numpy arrays are loaded)"
        )
        raise DataFileError(path, problem) from None
    except DataFileError:
        raise
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({err.strerror or err})") from None
    except Exception as err:  # noqa: BLE001 -- a damaged pickle fails in many ways (EOFError, KeyError, ...)
        raise DataFileError(
            path, f"is not a readable CIFAR pickle (truncated or corrupt?): {type(err).__name__}: {err}"
        ) from None
    if end != size:
        raise DataFileError(
            path, f"has {size - end} bytes after the end of its pickle (garbled or two files joined?)"
        )
    return obj


def _other_variant(name: str) -> tuple[str, CifarSource]:
    other = "cifar100" if name == "cifar10" else "cifar10"
    return other, SOURCES[other]


def _read_batch(path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] of one batch file, checked as the module says."""
    source = SOURCES[name]
    obj = _unpickle(path)
    if not isinstance(obj, dict):
        raise DataFileError(
            path,
            f"holds a pickled {type(obj).__name__}, expected a dict with 'data' and '{source.label_key}'",
        )
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    keys = ", ".join(sorted(repr(k) for k in batch))
    if "data" not in batch:
        raise DataFileError(path, f"has no 'data' entry (keys: {keys})")
    if source.label_key not in batch:
        hint = _label_hint(batch, name)
        raise DataFileError(path, f"has no '{source.label_key}' entry (keys: {keys}){hint}")
    data = batch["data"]
    if not isinstance(data, np.ndarray):
        raise DataFileError(path, f"'data' is a {type(data).__name__}, expected a numpy array [N, {PIXELS}]")
    if data.ndim != 2 or data.shape[1] != PIXELS or data.shape[0] == 0:
        raise DataFileError(
            path,
            f"'data' has shape {data.shape}, expected [N ≥ 1, {PIXELS}] (N images of 3×32×32, channel-major)",
        )
    labels = check_labels(
        batch[source.label_key], path, f"'{source.label_key}'", len(data), "'data'", source.num_classes, name
    )
    return _as_pixels(data, path).reshape(-1, *IMAGE_SHAPE), labels


def _label_hint(batch: dict, name: str) -> str:
    other, other_source = _other_variant(name)
    if other_source.label_key in batch or (other == "cifar100" and "coarse_labels" in batch):
        return f": it is a {other} batch, use dataset={other}"
    if "coarse_labels" in batch:
        return ": it holds only the 20 coarse labels, this loader reads the 100 fine ones"
    return ""


def _as_pixels(data: np.ndarray, path: Path) -> np.ndarray:
    """uint8 pixels: uint8 as is, other integers only when all lie in 0..255; anything else refused."""
    if data.dtype == np.uint8:
        return data
    if data.dtype.kind in "iu":
        lo, hi = int(data.min()), int(data.max())
        if lo < 0 or hi > PIXEL_MAX:
            raise DataFileError(
                path, f"'data' ({data.dtype}) has values in [{lo}, {hi}], expected pixels in 0..{PIXEL_MAX}"
            )
        return data.astype(np.uint8)
    if data.dtype.kind == "f":
        raise DataFileError(
            path,
            f"'data' is {data.dtype}; CIFAR pixels are uint8 0..{PIXEL_MAX}, and "
            f"float data is not converted because its scale (0..1 or 0..{PIXEL_MAX}) "
            f"cannot be told",
        )
    raise DataFileError(path, f"'data' has dtype {data.dtype}, expected uint8 pixels")


def _missing_hint(root: Path, name: str) -> str:
    """What a user who has the files in the wrong place most likely did."""
    source = SOURCES[name]
    other, other_source = _other_variant(name)
    if (root / other_source.folder).is_dir():
        return f" {root} holds {other_source.folder} ({other}): use dataset={other}, or add {name}."
    if root.name == source.folder or (root / source.train_files[0]).exists():
        return f" data_dir must be the folder that contains {source.folder}, i.e. data_dir={root.parent}."
    if (root / source.archive).is_file():
        return f" {root / source.archive} is there but not unpacked: unpack it there (tar xzf)."
    return ""


def load_cifar(name: str, data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    source = SOURCES[name]
    root = Path(data_dir)
    check_folder(root, "data_dir")
    check_folder(root / source.folder, f"the {name} batches folder")
    files = [root / source.folder / f for f in (source.train_files if train else source.test_files)]
    for f in files:
        check_not_folder(f, f"a {name} pickle batch")
    if download and not all(f.is_file() for f in files):
        fetch_and_extract(source.url, root, files[0], name)
    missing = [f for f in files if not f.is_file()]
    if missing:
        how = f"Put the python version ({source.url}) unpacked under {root}"
        how += "." if download else " or pass download=true."
        hint = _missing_hint(root, name)
        raise DatasetNotFound(missing[0], f"{name} file missing: {missing[0]}. {how}{hint}")
    batches = [_read_batch(f, name) for f in files]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), source.num_classes, name)
