"""In-memory image classification datasets and the errors of the on-disk loaders.

Every problem with a dataset on disk raises :class:`DataFileError` (a ``ValueError``) whose message names the
file or folder and says what is wrong with it; :class:`DatasetNotFound` is the kind that means "not there at
all" (also a ``FileNotFoundError``) and says where to put the files. ``except DataFileError`` catches both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class DataFileError(ValueError):
    """A dataset file or folder is unreadable or holds the wrong content: ``"<path>: <what is wrong>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # pickled as constructed (e.g. back from a job)
        return type(self), (self.path, self.problem)


class DatasetNotFound(DataFileError, FileNotFoundError):
    """The files of a dataset are missing: ``message`` names the missing ``path``, says where files go."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = Path(path)
        self.problem = message
        Exception.__init__(self, message)


def check_folder(path: Path, role: str) -> None:
    """Raise when ``path`` exists but is not a folder (a missing one is the caller's DatasetNotFound)."""
    if path.exists() and not path.is_dir():
        raise DataFileError(path, f"is a file, but it should be a folder ({role})")


def check_not_folder(path: Path, role: str) -> None:
    """Raise when ``path`` is a folder where a file belongs."""
    if path.is_dir():
        raise DataFileError(path, f"is a folder, but it should be a file ({role})")


def check_labels(
    labels: object, path: Path, entry: str, count: int, count_of: str, num_classes: int, dataset: str
) -> np.ndarray:
    """``labels`` (``entry`` of the file ``path``; "" for the whole file) as int64 [count], each in
    0..num_classes-1, where ``count`` is the number of images in ``count_of``; anything else is a
    DataFileError on ``path``. Only integer labels are accepted (no rounding of floats, no parsing of
    strings)."""
    subject = f"{entry} " if entry else ""
    try:
        arr = np.asarray(labels)
    except Exception as err:  # noqa: BLE001 -- ragged or unconvertible sequences: numpy raises several types
        problem = f"{subject}is not a flat sequence of integer labels ({type(err).__name__})"
        raise DataFileError(path, problem) from None
    if arr.ndim != 1:
        raise DataFileError(path, f"{subject}has shape {arr.shape}, expected one label per image [{count}]")
    if arr.dtype.kind not in "iu":
        raise DataFileError(path, f"{subject}has dtype {arr.dtype}, expected integer class indices")
    if len(arr) != count:
        raise DataFileError(path, f"{subject}holds {len(arr)} labels, but {count_of} holds {count} images")
    if len(arr) and (int(arr.min()) < 0 or int(arr.max()) >= num_classes):
        raise DataFileError(
            path,
            f"{subject}has labels in [{int(arr.min())}, {int(arr.max())}], outside "
            f"0..{num_classes - 1} ({dataset} has {num_classes} classes)",
        )
    return arr.astype(np.int64)


@dataclass(frozen=True)
class ImageDataset:
    """Images [N, C, H, W] (uint8 or float) and integer labels [N]; ``classes`` the label names."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise ValueError(
                f"images must be [N, C, H, W] and labels [N]; got {tuple(self.images.shape)}, "
                f"{tuple(self.labels.shape)}"
            )
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes})")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None, seed: int = 0) -> ImageDataset:
        """The first ``n`` samples of a seeded permutation (all when ``n`` is None or ≥ N)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return ImageDataset(self.images[idx], self.labels[idx], self.num_classes, self.name)

    def as_float(self) -> torch.Tensor:
        """Images in [0, 1] as float32."""
        return self.images.float() / 255.0 if self.images.dtype == torch.uint8 else self.images.float()
