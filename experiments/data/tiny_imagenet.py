"""Tiny ImageNet (Appendix B.1.3: 64×64 RGB) from its standard folder layout under
``data_dir/tiny-imagenet-200``: ``wnids.txt`` (one class id a line); ``train/<wnid>/images/*.JPEG``;
``val/images/*.JPEG`` with ``val/val_annotations.txt`` (tab-separated: file name, wnid, box). Images are
decoded with Pillow (a dependency of matplotlib).

What the loader accepts (anything else is a :class:`DataFileError` naming the file or folder): every class of
``wnids.txt`` (no duplicates) has a training folder with at least one image and ``train/`` has no other
class folders; every annotation names a listed class and an existing file, each file once, and every image
in ``val/images`` is annotated; images are 64×64 in mode RGB, or L (greyscale, replicated to 3 channels).
Hidden files (names starting with ".") are skipped; any other file whose suffix is not an image suffix is an
error, so nothing is silently left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from experiments.data.base import DataFileError, DatasetNotFound, ImageDataset, check_folder, check_not_folder
from experiments.data.download import fetch_and_extract

FOLDER = "tiny-imagenet-200"
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
IMAGE_SIDE = 64  # Appendix B.1.3
ACCEPTED_MODES = ("RGB", "L")
ANNOTATIONS = "val_annotations.txt"
FIRST_NAMES = 5  # names listed in an error before "..."


def _decode(path: Path) -> np.ndarray:
    """A 64×64 RGB or L image as uint8 [3, 64, 64]."""
    try:
        with Image.open(path) as im:
            if im.size != (IMAGE_SIDE, IMAGE_SIDE):
                raise DataFileError(
                    path, f"is {im.size[0]}×{im.size[1]}, expected {IMAGE_SIDE}×{IMAGE_SIDE} (Tiny ImageNet)"
                )
            if im.mode not in ACCEPTED_MODES:
                raise DataFileError(
                    path,
                    f"has image mode {im.mode}; accepted: RGB, or L (greyscale, replicated to 3 channels)",
                )
            im.load()
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except DataFileError:
        raise
    except Exception as err:  # noqa: BLE001 -- Pillow reports unreadable or truncated files in many types
        raise DataFileError(path, f"cannot be decoded as an image ({type(err).__name__}: {err})") from None
    return arr.transpose(2, 0, 1)


def _image_files(folder: Path) -> list[Path]:
    """The image files of ``folder``, sorted; hidden files skipped, any other entry an error."""
    files = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() or p.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataFileError(
                p, f"is not an image file ({', '.join(IMAGE_SUFFIXES)}); only images belong in {folder}"
            )
        files.append(p)
    return files


def _first(names: list[str]) -> str:
    """Up to FIRST_NAMES of ``names``, then "..." if there are more."""
    return ", ".join(names[:FIRST_NAMES]) + (" ..." if len(names) > FIRST_NAMES else "")


def _read_text(path: Path) -> str:
    check_not_folder(path, "a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({err.strerror or err})") from None


def _read_wnids(path: Path) -> list[str]:
    wnids: list[str] = []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        wnid = line.strip()
        if not wnid:
            continue
        if len(wnid.split()) != 1:
            raise DataFileError(path, f"line {lineno}: {line!r} is not one class id")
        if wnid in wnids:
            raise DataFileError(path, f"line {lineno}: class {wnid} is listed twice")
        wnids.append(wnid)
    if not wnids:
        raise DataFileError(path, "lists no classes (expected one wnid a line)")
    return wnids


def _train_items(root: Path, wnids: list[str], wnids_file: Path) -> list[tuple[Path, int]]:
    train_dir = root / "train"
    check_folder(train_dir, "the Tiny ImageNet training folder")
    if not train_dir.is_dir():
        raise DatasetNotFound(
            train_dir,
            f"Tiny ImageNet training images missing: expected {train_dir} with "
            f"one folder per class of {wnids_file}",
        )
    listed = set(wnids)
    unlisted = sorted(p.name for p in train_dir.iterdir() if p.is_dir() and p.name not in listed)
    if unlisted:
        raise DataFileError(
            train_dir,
            f"holds class folders not listed in {wnids_file}: {_first(unlisted)} ({len(unlisted)} in all)",
        )
    items: list[tuple[Path, int]] = []
    for label, wnid in enumerate(wnids):
        folder = train_dir / wnid / "images"
        check_folder(train_dir / wnid, f"the training folder of class {wnid}")
        check_folder(folder, f"the training images of class {wnid}")
        if not folder.is_dir():
            raise DataFileError(
                folder,
                f"is missing: class {wnid} is listed in {wnids_file} but has no training images folder",
            )
        files = _image_files(folder)
        if not files:
            raise DataFileError(folder, f"holds no images, but class {wnid} is listed in {wnids_file}")
        items += [(p, label) for p in files]
    return items


def _val_items(root: Path, index: dict[str, int], wnids_file: Path) -> list[tuple[Path, int]]:
    val_dir, images_dir = root / "val", root / "val" / "images"
    ann = val_dir / ANNOTATIONS
    check_folder(val_dir, "the Tiny ImageNet validation folder")
    check_folder(images_dir, "the Tiny ImageNet validation images")
    check_not_folder(ann, "the validation annotations")
    if not ann.is_file():
        raise DatasetNotFound(ann, f"Tiny ImageNet validation annotations missing: {ann}")
    if not images_dir.is_dir():
        raise DatasetNotFound(images_dir, f"Tiny ImageNet validation images missing: {images_dir}")
    items: list[tuple[Path, int]] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_read_text(ann).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DataFileError(ann, f"line {lineno}: {line!r} is not 'file<TAB>wnid<TAB>box'")
        name, wnid = parts[0], parts[1]
        if wnid not in index:
            raise DataFileError(ann, f"line {lineno}: class {wnid!r} is not listed in {wnids_file}")
        if Path(name).name != name or name in ("", ".", ".."):
            raise DataFileError(ann, f"line {lineno}: {name!r} is not a file name in {images_dir}")
        if name in seen:
            raise DataFileError(ann, f"line {lineno}: {name} is annotated twice (first on line {seen[name]})")
        if not (images_dir / name).is_file():
            raise DataFileError(ann, f"line {lineno}: {images_dir / name} does not exist")
        seen[name] = lineno
        items.append((images_dir / name, index[wnid]))
    if not items:
        raise DataFileError(ann, "annotates no images")
    unannotated = [p.name for p in _image_files(images_dir) if p.name not in seen]
    if unannotated:
        raise DataFileError(
            images_dir, f"holds {len(unannotated)} images not annotated in {ann}: {_first(unannotated)}"
        )
    return items


def load_tiny_imagenet(data_dir: str | Path, train: bool = True, download: bool = False) -> ImageDataset:
    base = Path(data_dir)
    root = base / FOLDER
    wnids_file = root / "wnids.txt"
    check_folder(base, "data_dir")
    check_folder(root, "the Tiny ImageNet folder")
    check_not_folder(wnids_file, "the Tiny ImageNet class list")
    if not wnids_file.is_file():
        if not download:
            hint = (
                f" data_dir must be the folder that contains {FOLDER}, i.e. data_dir={base.parent}."
                if (base / "wnids.txt").is_file()
                else ""
            )
            raise DatasetNotFound(
                wnids_file,
                f"Tiny ImageNet not found: expected {wnids_file} (unzip {URL} "
                f"under {data_dir}) or pass download=true.{hint}",
            )
        fetch_and_extract(URL, base, wnids_file, "Tiny ImageNet")
    wnids = _read_wnids(wnids_file)
    if train:
        items = _train_items(root, wnids, wnids_file)
    else:
        items = _val_items(root, {w: i for i, w in enumerate(wnids)}, wnids_file)
    images = np.stack([_decode(p) for p, _ in items])
    labels = np.asarray([c for _, c in items], dtype=np.int64)
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), len(wnids), "tiny_imagenet")
