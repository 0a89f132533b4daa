"""Dataset loaders on tiny generated files in each on-disk format; augmentation; loaders; synthetic task.

The second half is the bad-file suite of issue 9 §4: every case writes a small valid dataset into tmp_path,
damages one file or folder the way a user or a broken download would, and checks that loading it raises
DataFileError (DatasetNotFound where the data are absent), naming that exact path and what is wrong, in
one line.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from experiments.__main__ import main as cli_main
from experiments.data import (
    DataFileError,
    DatasetNotFound,
    load_dataset,
    make_loader,
    make_synthetic,
    random_crop_flip,
    read_idx,
    resolve_pin_memory,
)
from experiments.data.download import unpack

REPO = Path(__file__).resolve().parents[2]
CIFAR_FILES = {
    "cifar10": [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
    "cifar100": ["train", "test"],
}
CIFAR_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
CIFAR_KEY = {"cifar10": b"labels", "cifar100": b"fine_labels"}
CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
CIFAR_PER_FILE = 4


# ------------------------------------------------------------------------------------ valid files


def _cifar_batch(name: str, n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        CIFAR_KEY[name]: rng.integers(0, CIFAR_CLASSES[name], n).tolist(),
    }


def _write_cifar(root: Path, name: str, n: int = CIFAR_PER_FILE) -> dict[str, dict]:
    folder = root / CIFAR_FOLDER[name]
    folder.mkdir(parents=True)
    written = {}
    for i, f in enumerate(CIFAR_FILES[name]):
        written[f] = _cifar_batch(name, n, seed=i)
        (folder / f).write_bytes(pickle.dumps(written[f]))
    return written


def _py2_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A CIFAR-10 batch as Python 2's cPickle (protocol 2) writes it: str as BINSTRING, numpy.core paths."""

    def s(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b

    n, m = data.shape
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + s(b"b")
        + b"\x87R"
        + b"(K\x01J"
        + struct.pack("<i", n)
        + b"J"
        + struct.pack("<i", m)
        + b"\x86"
        + b"cnumpy\ndtype\n"
        + s(b"u1")
        + b"K\x00K\x01\x87R(K\x03"
        + s(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + b"\x89"
        + s(data.tobytes())
        + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + label_list + b"u."


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


MNIST_IMAGES = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
MNIST_LABELS = np.array([3, 7], dtype=np.uint8)


def _write_mnist(root: Path, gz: bool = False) -> None:
    for split in ("train", "t10k"):
        for stem, blob in (
            (f"{split}-images-idx3-ubyte", _idx(0x803, (2, 28, 28), MNIST_IMAGES.tobytes())),
            (f"{split}-labels-idx1-ubyte", _idx(0x801, (2,), MNIST_LABELS.tobytes())),
        ):
            (root / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)


TINY_WNIDS = ["n01", "n02"]
TINY_COLOURS = {"n01": (255, 0, 0), "n02": (0, 0, 255)}


def _write_tiny(base: Path) -> Path:
    root = base / "tiny-imagenet-200"
    root.mkdir()
    (root / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    for w in TINY_WNIDS:
        folder = root / "train" / w / "images"
        folder.mkdir(parents=True)
        Image.new("RGB", (64, 64), TINY_COLOURS[w]).save(folder / f"{w}_0.JPEG", quality=95)
        Image.new("L", (64, 64), 128).save(folder / f"{w}_1.png")
        (root / "train" / w / f"{w}_boxes.txt").write_text(f"{w}_0.JPEG\t0\t0\t63\t63\n")  # as in the dataset
    (root / "val" / "images").mkdir(parents=True)
    Image.new("RGB", (64, 64), TINY_COLOURS["n02"]).save(root / "val" / "images" / "val_0.JPEG", quality=95)
    Image.new("RGB", (64, 64), TINY_COLOURS["n01"]).save(root / "val" / "images" / "val_1.JPEG", quality=95)
    (root / "val" / "val_annotations.txt").write_text(
        "val_0.JPEG\tn02\t0\t0\t63\t63\nval_1.JPEG\tn01\t0\t0\t63\t63\n"
    )
    return root


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_pickles(tmp_path, name):
    written = _write_cifar(tmp_path, name)
    train = load_dataset(name, tmp_path, train=True)
    test = load_dataset(name, tmp_path, train=False)
    first = CIFAR_FILES[name][0]
    assert train.images.shape == (CIFAR_PER_FILE * (len(CIFAR_FILES[name]) - 1), 3, 32, 32)
    assert len(test) == CIFAR_PER_FILE
    data, labels = written[first][b"data"], written[first][CIFAR_KEY[name]]
    assert torch.equal(train.images[0], torch.from_numpy(data[0].reshape(3, 32, 32)))
    assert train.labels[:CIFAR_PER_FILE].tolist() == labels
    assert train.num_classes == CIFAR_CLASSES[name]


def test_cifar_python2_pickle_loads_like_numpy_pickle(tmp_path):
    """The original batches were written by Python 2 (numpy.core paths, byte strings): the restricted
    unpickler must read them exactly as plain pickle does."""
    _write_cifar(tmp_path, "cifar10")
    data = np.random.default_rng(5).integers(0, 256, (3, 3072), dtype=np.uint8)
    blob = _py2_pickle(data, [0, 9, 4])
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    test = load_dataset("cifar10", tmp_path, train=False)
    reference = pickle.loads(blob, encoding="bytes")
    assert np.array_equal(reference[b"data"], data)
    assert torch.equal(test.images, torch.from_numpy(data.reshape(3, 3, 32, 32)))
    assert test.labels.tolist() == [0, 9, 4]


def test_cifar_str_keys_and_exact_integer_pixels_are_accepted(tmp_path):
    """Documented rules: str keys (a batch re-saved by Python 3) and integer pixels all in 0..255."""
    _write_cifar(tmp_path, "cifar10")
    data = np.random.default_rng(2).integers(0, 256, (2, 3072)).astype(np.int64)
    batch = pickle.dumps({"data": data, "labels": [1, 2]})
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(batch)
    test = load_dataset("cifar10", tmp_path, train=False)
    assert test.images.dtype == torch.uint8
    assert torch.equal(test.images.flatten(1).long(), torch.from_numpy(data))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_cifar_batches_of_every_pickle_protocol_load(tmp_path, protocol):
    """The restricted unpickler admits what numpy writes at each protocol (arrays, numpy scalar labels)."""
    _write_cifar(tmp_path, "cifar10")
    data = np.random.default_rng(protocol).integers(0, 256, (3, 3072), dtype=np.uint8)
    labels = [np.int64(1), np.int64(8), np.int64(0)]
    blob = pickle.dumps({b"data": data, b"labels": labels}, protocol=protocol)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    test = load_dataset("cifar10", tmp_path, train=False)
    assert torch.equal(test.images.flatten(1), torch.from_numpy(data)) and test.labels.tolist() == [1, 8, 0]


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    _write_mnist(tmp_path, gz)
    ds = load_dataset("mnist", tmp_path, train=False)
    assert ds.images.shape == (2, 1, 28, 28) and ds.labels.tolist() == [3, 7]
    assert torch.equal(ds.images[1, 0], torch.from_numpy(MNIST_IMAGES[1]))


def test_tiny_imagenet_folder(tmp_path):
    root = _write_tiny(tmp_path)
    (root / "train" / "n01" / "images" / ".DS_Store").write_bytes(b"\x00")  # hidden files are skipped
    train = load_dataset("tiny_imagenet", tmp_path, train=True)
    val = load_dataset("tiny_imagenet", tmp_path, train=False)
    assert train.images.shape == (4, 3, 64, 64) and train.labels.tolist() == [0, 0, 1, 1]
    assert int(train.images[0, 0].float().mean()) > 240 and int(train.images[0, 2].float().mean()) < 15  # red
    assert int(train.images[1].float().mean()) == 128  # greyscale PNG replicated to RGB
    assert val.labels.tolist() == [1, 0] and int(val.images[0, 2].float().mean()) > 240


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist", "tiny_imagenet"])
def test_missing_files_say_where_to_put_them(tmp_path, name):
    with pytest.raises(DatasetNotFound, match=str(tmp_path)) as info:
        load_dataset(name, tmp_path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataFileError)
    assert str(info.value.path) in str(info.value) and "\n" not in str(info.value)


def test_bug_data_errors_do_not_survive_pickling(tmp_path):
    """Errors travel back from worker processes and Slurm jobs pickled: both kinds must round-trip."""
    missing = tmp_path / "d"
    for err in (DataFileError(tmp_path / "f", "is empty"), DatasetNotFound(missing, f"{missing} is missing")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.path == err.path


def test_unknown_dataset():
    with pytest.raises(ValueError, match="choices: cifar10"):
        load_dataset("imagenet", "/nonexistent")


def test_augmentation_crops_and_flips_like_a_reference():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, padding=1, flip=True, generator=g)
    g = torch.Generator().manual_seed(0)
    off = torch.randint(0, 3, (2, 2), generator=g)
    flips = torch.rand(2, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for b in range(2):
        ref = padded[b, :, off[b, 0] : off[b, 0] + 4, off[b, 1] : off[b, 1] + 4]
        ref = ref.flip(-1) if flips[b] else ref
        assert torch.equal(out[b], ref)
    assert torch.equal(random_crop_flip(x, 0, False), x)


def test_synthetic_is_deterministic_balanced_and_learnable_structure():
    a, b = make_synthetic(200, seed=3), make_synthetic(200, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.bincount(a.labels).tolist() == [20] * 10
    test = make_synthetic(100, seed=3, sample_seed=4)
    x, xt = a.as_float().flatten(1), test.as_float().flatten(1)
    means = torch.stack([x[a.labels == k].mean(0) for k in range(10)])
    nearest = torch.cdist(xt, means).argmin(1)
    assert (nearest == test.labels).float().mean() > 0.5  # class structure carries over to new samples


def test_loader_and_pin_memory_resolution():
    assert resolve_pin_memory("auto", "cpu") is False
    assert resolve_pin_memory(True, "cpu") is torch.cuda.is_available()
    with pytest.raises(ValueError, match="pin_memory"):
        resolve_pin_memory("yes", "cpu")
    ds = make_synthetic(10)
    batches = list(make_loader(ds.images, ds.labels, 4, shuffle=True, seed=0))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    again = list(make_loader(ds.images, ds.labels, 4, shuffle=True, seed=0))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))


def test_bug_loader_and_synthetic_bad_arguments_give_raw_errors():
    """Mismatched tensors gave torch's bare AssertionError; a zero-size synthetic image or NaN noise was
    accepted (empty or all-zero images), a negative max_shift a torch RuntimeError."""
    ds = make_synthetic(10)
    with pytest.raises(ValueError, match="images and labels differ in length: 10 images, 9 labels"):
        make_loader(ds.images, ds.labels[:9], 4, shuffle=False, seed=0)
    with pytest.raises(ValueError, match="num_workers must be ≥ 0, got -1"):
        make_loader(ds.images, ds.labels, 4, shuffle=False, seed=0, num_workers=-1)
    with pytest.raises(ValueError, match=r"image_shape must be C, H, W, each ≥ 1, got \(3, 0, 8\)"):
        make_synthetic(10, image_shape=(3, 0, 8))
    with pytest.raises(ValueError, match="finite noise ≥ 0"):
        make_synthetic(10, noise=float("nan"))
    with pytest.raises(ValueError, match="max_shift ≥ 0"):
        make_synthetic(10, max_shift=-1)


def test_download_failure_says_where_to_put_files(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def refuse(*_args, **_kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DatasetNotFound, match="could not download cifar10.*cifar-10-batches-py"):
        load_dataset("cifar10", tmp_path, download=True)
    with pytest.raises(DatasetNotFound, match="place the IDX files"):
        load_dataset("mnist", tmp_path, download=True)


# ------------------------------------------------------------------------- bad files (issue 9 §4)


@dataclass(frozen=True)
class BadFile:
    """One damaged dataset: ``damage(tmp_path)`` breaks a valid copy written by ``write`` and returns the
    data_dir to load and the path the error must name; ``problem`` is a regex the message must match."""

    id: str
    dataset: str
    write: Callable[[Path], object]
    damage: Callable[[Path], tuple[Path, Path]]
    problem: str
    train: bool
    error: type[DataFileError]


BAD_FILES: list[BadFile] = []
WRITERS: dict[str, Callable[[Path], object]] = {
    "cifar10": lambda p: _write_cifar(p, "cifar10"),
    "cifar100": lambda p: _write_cifar(p, "cifar100"),
    "mnist": _write_mnist,
    "mnist_gz": lambda p: _write_mnist(p, gz=True),
    "tiny_imagenet": _write_tiny,
}


def bad(
    id: str,
    dataset: str,
    problem: str,
    *,
    train: bool = True,
    error: type[DataFileError] = DataFileError,
    write: str | None = None,
) -> Callable:
    def register(damage: Callable[[Path], tuple[Path, Path]]) -> Callable:
        BAD_FILES.append(BadFile(id, dataset, WRITERS[write or dataset], damage, problem, train, error))
        return damage

    return register


def _pickle_to(path: Path, obj: object) -> tuple[Path, Path]:
    path.write_bytes(pickle.dumps(obj))
    return path.parents[1], path


def _c10(tmp: Path, file: str = "data_batch_1") -> Path:
    return tmp / "cifar-10-batches-py" / file


def _batch(**entries: object) -> dict:
    """A 4-image CIFAR-10 batch with some entries replaced (None removes one)."""
    base = {**_cifar_batch("cifar10", CIFAR_PER_FILE), **{k.encode(): v for k, v in entries.items()}}
    return {k: v for k, v in base.items() if v is not None}


# CIFAR pickles: unreadable ------------------------------------------------------------------------------


@bad(
    "cifar-truncated",
    "cifar10",
    r"is not a readable CIFAR pickle \(truncated or corrupt\?\): (EOFError|Unpickling)",
)
def _(tmp):
    f = _c10(tmp)
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    return tmp, f


@bad("cifar-garbled-bytes", "cifar10", r"is not a readable CIFAR pickle")
def _(tmp):
    f = _c10(tmp, "data_batch_2")
    f.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return tmp, f


@bad("cifar-garbled-header", "cifar10", r"is not a readable CIFAR pickle")
def _(tmp):
    f = _c10(tmp)
    f.write_bytes(b"\x80\x09\xde\xad\xbe\xef" + f.read_bytes()[6:])
    return tmp, f


@bad("cifar-empty-file", "cifar10", r"is empty \(0 bytes\), expected a CIFAR pickle batch")
def _(tmp):
    _c10(tmp, "data_batch_5").write_bytes(b"")
    return tmp, _c10(tmp, "data_batch_5")


@bad("cifar-trailing-bytes", "cifar10", r"has 7 bytes after the end of its pickle")
def _(tmp):
    f = _c10(tmp)
    f.write_bytes(f.read_bytes() + b"garbage")
    return tmp, f


@bad("cifar-pickle-of-a-list", "cifar10", r"holds a pickled list, expected a dict with 'data' and 'labels'")
def _(tmp):
    return _pickle_to(_c10(tmp), [1, 2, 3])


@bad("cifar-pickle-of-an-array", "cifar10", r"holds a pickled ndarray, expected a dict")
def _(tmp):
    return _pickle_to(_c10(tmp), np.zeros((4, 3072), np.uint8))


@bad(
    "cifar-pickle-of-another-class",
    "cifar10",
    r"is refused: its pickle refers to collections\.OrderedDict, which no CIFAR batch holds",
)
def _(tmp):
    import collections

    return _pickle_to(_c10(tmp), collections.OrderedDict(_batch()))


# CIFAR pickles: wrong keys ------------------------------------------------------------------------------


@bad("cifar-missing-data", "cifar10", r"has no 'data' entry \(keys: 'labels'\)")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=None))


@bad("cifar-missing-labels", "cifar10", r"has no 'labels' entry \(keys: 'data', 'targets'\)$")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=None, targets=[0, 1, 2, 3]))


@bad(
    "cifar100-batch-in-cifar10-folder",
    "cifar10",
    r"no 'labels' entry .*: it is a cifar100 batch, use dataset=cifar100",
)
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=None, fine_labels=[0, 1, 2, 3], coarse_labels=[0, 1, 2, 3]))


@bad(
    "cifar10-batch-in-cifar100-folder",
    "cifar100",
    r"no 'fine_labels' entry .*: it is a cifar10 batch, use dataset=cifar10",
)
def _(tmp):
    return _pickle_to(tmp / "cifar-100-python" / "train", _batch())


@bad("cifar100-coarse-labels-only", "cifar100", r"no 'fine_labels' entry .*only the 20 coarse labels")
def _(tmp):
    return _pickle_to(tmp / "cifar-100-python" / "train", _batch(labels=None, coarse_labels=[0, 1, 2, 3]))


# CIFAR pickles: wrong arrays ----------------------------------------------------------------------------


@bad("cifar-data-wrong-width", "cifar10", r"'data' has shape \(4, 3000\), expected \[N ≥ 1, 3072\]")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.zeros((4, 3000), np.uint8)))


@bad("cifar-data-4d-hwc", "cifar10", r"'data' has shape \(4, 32, 32, 3\), expected \[N ≥ 1, 3072\]")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.zeros((4, 32, 32, 3), np.uint8)))


@bad("cifar-data-no-images", "cifar10", r"'data' has shape \(0, 3072\), expected \[N ≥ 1, 3072\]")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.zeros((0, 3072), np.uint8), labels=[]))


@bad("cifar-data-a-list", "cifar10", r"'data' is a list, expected a numpy array \[N, 3072\]")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=[[0] * 3072] * 4))


@bad("cifar-data-float01", "cifar10", r"'data' is float64; .*float data is not converted because its scale")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.random.default_rng(0).random((4, 3072))))


@bad("cifar-data-float-0-255", "cifar10", r"'data' is float32; .*not converted")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.full((4, 3072), 200.0, np.float32)))


@bad(
    "cifar-data-int-out-of-range",
    "cifar10",
    r"'data' \(int16\) has values in \[-1, 300\], expected pixels in 0\.\.255",
)
def _(tmp):
    data = np.zeros((4, 3072), np.int16)
    data[0, 0], data[1, 1] = -1, 300
    return _pickle_to(_c10(tmp), _batch(data=data))


@bad("cifar-data-bool", "cifar10", r"'data' has dtype bool, expected uint8 pixels")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(data=np.zeros((4, 3072), bool)))


@bad("cifar-label-count", "cifar10", r"'labels' holds 3 labels, but 'data' holds 4 images")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=[0, 1, 2]))


@bad(
    "cifar-label-too-large",
    "cifar10",
    r"'labels' has labels in \[0, 10\], outside 0\.\.9 \(cifar10 has 10 classes\)",
    train=False,
)
def _(tmp):
    return _pickle_to(_c10(tmp, "test_batch"), _batch(labels=[0, 10, 3, 3]))


@bad("cifar-label-negative", "cifar10", r"'labels' has labels in \[-1, 3\], outside 0\.\.9", train=False)
def _(tmp):
    return _pickle_to(_c10(tmp, "test_batch"), _batch(labels=[0, -1, 3, 3]))


@bad(
    "cifar100-label-too-large",
    "cifar100",
    r"'fine_labels' has labels in \[0, 100\], outside 0\.\.99 \(cifar100",
)
def _(tmp):
    return _pickle_to(
        tmp / "cifar-100-python" / "train", {b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 100]}
    )


@bad("cifar-label-float", "cifar10", r"'labels' has dtype float64, expected integer class indices")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=[0.0, 1.0, 2.0, 3.0]))


@bad("cifar-label-strings", "cifar10", r"'labels' has dtype <U\d+, expected integer class indices")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=["cat", "dog", "cat", "cat"]))


@bad("cifar-label-2d", "cifar10", r"'labels' has shape \(4, 1\), expected one label per image \[4\]")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=[[0], [1], [2], [3]]))


@bad("cifar-label-ragged", "cifar10", r"'labels' is not a flat sequence of integer labels")
def _(tmp):
    return _pickle_to(_c10(tmp), _batch(labels=[[0], [1, 2], 3, 4]))


# CIFAR: files, folders and where they are ---------------------------------------------------------------


@bad("cifar-batch-is-a-folder", "cifar10", r"is a folder, but it should be a file \(a cifar10 pickle batch\)")
def _(tmp):
    f = _c10(tmp, "data_batch_3")
    f.unlink()
    f.mkdir()
    return tmp, f


@bad(
    "cifar-folder-is-a-file",
    "cifar10",
    r"is a file, but it should be a folder \(the cifar10 batches folder\)",
)
def _(tmp):
    folder = tmp / "cifar-10-batches-py"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    folder.write_text("not a folder")
    return tmp, folder


@bad("cifar-data-dir-is-a-file", "cifar10", r"is a file, but it should be a folder \(data_dir\)")
def _(tmp):
    (tmp / "data.tar").write_bytes(b"x")
    return tmp / "data.tar", tmp / "data.tar"


@bad(
    "cifar-batch-missing",
    "cifar10",
    r"cifar10 file missing: .*data_batch_3\. Put the python version",
    error=DatasetNotFound,
)
def _(tmp):
    _c10(tmp, "data_batch_3").unlink()
    return tmp, _c10(tmp, "data_batch_3")


@bad(
    "cifar100-folder-given-for-cifar10",
    "cifar10",
    r"holds cifar-100-python \(cifar100\): use dataset=cifar100",
    error=DatasetNotFound,
    write="cifar100",
)
def _(tmp):
    return tmp, _c10(tmp)


@bad(
    "cifar-data-dir-is-the-batches-folder",
    "cifar10",
    r"data_dir must be the folder that contains "
    r"cifar-10-batches-py, i\.e\. data_dir=",
    error=DatasetNotFound,
)
def _(tmp):
    inner = tmp / "cifar-10-batches-py"
    return inner, inner / "cifar-10-batches-py" / "data_batch_1"


@bad(
    "cifar-archive-not-unpacked",
    "cifar10",
    r"cifar-10-python\.tar\.gz is there but not unpacked",
    error=DatasetNotFound,
    write="mnist",
)
def _(tmp):
    (tmp / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b")
    return tmp, _c10(tmp)


# MNIST IDX files ----------------------------------------------------------------------------------------


def _mnist_file(tmp: Path, blob: bytes, stem: str = "train-images-idx3-ubyte") -> tuple[Path, Path]:
    (tmp / stem).write_bytes(blob)
    return tmp, tmp / stem


def _mnist_gz(tmp: Path, blob: bytes, stem: str = "train-images-idx3-ubyte") -> tuple[Path, Path]:
    (tmp / f"{stem}.gz").write_bytes(blob)
    return tmp, tmp / f"{stem}.gz"


IMAGES_BLOB = _idx(0x803, (2, 28, 28), MNIST_IMAGES.tobytes())
LABELS_BLOB = _idx(0x801, (2,), MNIST_LABELS.tobytes())


@bad("mnist-bad-magic", "mnist", r"starts with 00000999, not an IDX magic number")
def _(tmp):
    return _mnist_file(tmp, _idx(0x999, (2, 28, 28), MNIST_IMAGES.tobytes()))


@bad("mnist-magic-of-another-type", "mnist", r"starts with 00000d03, not an IDX magic number")
def _(tmp):  # type 0x0D (float32) images
    return _mnist_file(tmp, _idx(0xD03, (2, 28, 28), MNIST_IMAGES.tobytes()))


@bad("mnist-files-swapped", "mnist", r"holds IDX labels \(0x00000801\), expected images \(0x00000803\)")
def _(tmp):
    return _mnist_file(tmp, LABELS_BLOB)


@bad("mnist-wrong-dimensions", "mnist", r"holds images of shape \(2, 27, 28\), expected \[N ≥ 1, 28, 28\]")
def _(tmp):
    return _mnist_file(tmp, _idx(0x803, (2, 27, 28), MNIST_IMAGES.tobytes()[: 2 * 27 * 28]))


@bad("mnist-no-images", "mnist", r"holds images of shape \(0, 28, 28\)")
def _(tmp):
    (tmp / "train-labels-idx1-ubyte").write_bytes(_idx(0x801, (0,), b""))
    return _mnist_file(tmp, _idx(0x803, (0, 28, 28), b""))


@bad(
    "mnist-truncated-payload",
    "mnist",
    r"is truncated: its header declares \[2, 28, 28\] \(1568 bytes of data\) "
    r"but it holds 1468",
)
def _(tmp):
    return _mnist_file(tmp, IMAGES_BLOB[:-100])


@bad("mnist-truncated-header", "mnist", r"is truncated inside its header \(8 bytes, 16 needed\)")
def _(tmp):
    return _mnist_file(tmp, IMAGES_BLOB[:8])


@bad("mnist-header-declares-huge-size", "mnist", r"declares \[2147483648, 28, 28\] .* but it holds 1568")
def _(tmp):  # read in chunks: nothing near 1.7 TB is allocated
    return _mnist_file(tmp, _idx(0x803, (2**31, 28, 28), MNIST_IMAGES.tobytes()))


@bad("mnist-trailing-bytes", "mnist", r"holds more data than the \[2\] \(2 bytes\) its header declares")
def _(tmp):
    return _mnist_file(tmp, LABELS_BLOB + b"\x00", "train-labels-idx1-ubyte")


@bad("mnist-too-short", "mnist", r"is too short \(2 bytes\) to be an IDX file")
def _(tmp):
    return _mnist_file(tmp, b"\x00\x00")


@bad("mnist-empty-file", "mnist", r"is empty, expected an IDX file")
def _(tmp):
    return _mnist_file(tmp, b"", "train-labels-idx1-ubyte")


@bad("mnist-label-count", "mnist", r"holds 3 labels, but \S+train-images-idx3-ubyte holds 2 images")
def _(tmp):
    return _mnist_file(tmp, _idx(0x801, (3,), bytes([1, 2, 3])), "train-labels-idx1-ubyte")


@bad(
    "mnist-label-out-of-range",
    "mnist",
    r"has labels in \[3, 10\], outside 0\.\.9 \(MNIST has 10 classes\)",
    train=False,
)
def _(tmp):
    return _mnist_file(tmp, _idx(0x801, (2,), bytes([3, 10])), "t10k-labels-idx1-ubyte")


@bad(
    "mnist-fake-gz-plain-idx",
    "mnist",
    r"is named \.gz but is not gzip-compressed \(it is a plain IDX file: drop "
    r"the \.gz suffix\)",
    write="mnist_gz",
)
def _(tmp):
    return _mnist_gz(tmp, IMAGES_BLOB)


@bad(
    "mnist-fake-gz-other-bytes",
    "mnist",
    r"is named \.gz but is not gzip-compressed \(starts with 3c68746d\)",
    write="mnist_gz",
)
def _(tmp):  # an HTML error page saved under the archive's name
    return _mnist_gz(tmp, b"<html><body>404 Not Found</body></html>")


@bad("mnist-gz-truncated", "mnist", r"is a corrupt or truncated gzip file \(EOFError", write="mnist_gz")
def _(tmp):
    return _mnist_gz(tmp, gzip.compress(IMAGES_BLOB)[:-30])


@bad(
    "mnist-gz-bad-crc",
    "mnist",
    r"is a corrupt or truncated gzip file \(BadGzipFile: CRC check failed",
    write="mnist_gz",
)
def _(tmp):
    blob = bytearray(gzip.compress(IMAGES_BLOB))
    blob[-8] ^= 0xFF
    return _mnist_gz(tmp, bytes(blob))


@bad(
    "mnist-gz-garbled-stream",
    "mnist",
    r"is a corrupt or truncated gzip file \(error: .*invalid",
    write="mnist_gz",
)
def _(tmp):
    blob = bytearray(gzip.compress(IMAGES_BLOB))
    blob[10:14] = b"\xff\xff\xff\xff"  # first bytes of the deflate stream: an invalid block type
    return _mnist_gz(tmp, bytes(blob))


@bad("mnist-gz-empty", "mnist", r"is empty, expected a gzip-compressed IDX file", write="mnist_gz")
def _(tmp):
    return _mnist_gz(tmp, b"", "train-labels-idx1-ubyte")


@bad("mnist-gz-of-bad-idx", "mnist", r"starts with 00000999, not an IDX magic number", write="mnist_gz")
def _(tmp):
    return _mnist_gz(tmp, gzip.compress(_idx(0x999, (2,), b"\x00\x00")), "train-labels-idx1-ubyte")


@bad("mnist-file-is-a-folder", "mnist", r"is a folder, but it should be a file \(an MNIST IDX file\)")
def _(tmp):
    (tmp / "train-images-idx3-ubyte").unlink()
    (tmp / "train-images-idx3-ubyte").mkdir()
    return tmp, tmp / "train-images-idx3-ubyte"


@bad("mnist-data-dir-is-a-file", "mnist", r"is a file, but it should be a folder \(data_dir\)")
def _(tmp):
    return tmp / "t10k-images-idx3-ubyte", tmp / "t10k-images-idx3-ubyte"


@bad(
    "mnist-files-under-other-names",
    "mnist",
    r"MNIST file missing: .*Found instead: train-images\.idx3-ubyte",
    error=DatasetNotFound,
)
def _(tmp):
    (tmp / "train-images-idx3-ubyte").rename(tmp / "train-images.idx3-ubyte")
    return tmp, tmp / "train-images-idx3-ubyte"


# Tiny ImageNet folders ----------------------------------------------------------------------------------


def _tiny(tmp: Path) -> Path:
    return tmp / "tiny-imagenet-200"


def _replace_image(tmp: Path, path: Path, image: Image.Image) -> tuple[Path, Path]:
    image.save(path, format="PNG" if path.suffix == ".png" else "JPEG")
    return tmp, path


@bad(
    "tiny-class-without-images", "tiny_imagenet", r"holds no images, but class n02 is listed in \S+wnids\.txt"
)
def _(tmp):
    folder = _tiny(tmp) / "train" / "n02" / "images"
    for f in folder.iterdir():
        f.unlink()
    return tmp, folder


@bad(
    "tiny-class-without-folder",
    "tiny_imagenet",
    r"is missing: class n02 is listed in \S+wnids\.txt but has no",
)
def _(tmp):
    import shutil

    shutil.rmtree(_tiny(tmp) / "train" / "n02")
    return tmp, _tiny(tmp) / "train" / "n02" / "images"


@bad(
    "tiny-images-folder-is-a-file",
    "tiny_imagenet",
    r"is a file, but it should be a folder \(the training images of class n01\)",
)
def _(tmp):
    import shutil

    folder = _tiny(tmp) / "train" / "n01" / "images"
    shutil.rmtree(folder)
    folder.write_text("x")
    return tmp, folder


@bad(
    "tiny-unlisted-class-folder",
    "tiny_imagenet",
    r"holds class folders not listed in \S+wnids\.txt: n03 \(1 in all\)",
)
def _(tmp):
    (_tiny(tmp) / "train" / "n03" / "images").mkdir(parents=True)
    return tmp, _tiny(tmp) / "train"


@bad("tiny-train-missing", "tiny_imagenet", r"Tiny ImageNet training images missing", error=DatasetNotFound)
def _(tmp):
    import shutil

    shutil.rmtree(_tiny(tmp) / "train")
    return tmp, _tiny(tmp) / "train"


@bad("tiny-wnids-missing", "tiny_imagenet", r"Tiny ImageNet not found: expected", error=DatasetNotFound)
def _(tmp):
    (_tiny(tmp) / "wnids.txt").unlink()
    return tmp, _tiny(tmp) / "wnids.txt"


@bad(
    "tiny-wnids-is-a-folder",
    "tiny_imagenet",
    r"is a folder, but it should be a file \(the Tiny ImageNet class list\)",
)
def _(tmp):
    (_tiny(tmp) / "wnids.txt").unlink()
    (_tiny(tmp) / "wnids.txt").mkdir()
    return tmp, _tiny(tmp) / "wnids.txt"


@bad("tiny-wnids-empty", "tiny_imagenet", r"lists no classes")
def _(tmp):
    (_tiny(tmp) / "wnids.txt").write_text("\n\n")
    return tmp, _tiny(tmp) / "wnids.txt"


@bad("tiny-wnids-duplicate", "tiny_imagenet", r"line 3: class n01 is listed twice")
def _(tmp):
    (_tiny(tmp) / "wnids.txt").write_text("n01\nn02\nn01\n")
    return tmp, _tiny(tmp) / "wnids.txt"


@bad("tiny-wnids-two-on-a-line", "tiny_imagenet", r"line 1: 'n01 n02' is not one class id")
def _(tmp):
    (_tiny(tmp) / "wnids.txt").write_text("n01 n02\n")
    return tmp, _tiny(tmp) / "wnids.txt"


@bad("tiny-wnids-not-text", "tiny_imagenet", r"is not UTF-8 text")
def _(tmp):
    (_tiny(tmp) / "wnids.txt").write_bytes(b"n01\n\xff\xfe\x00\x01")
    return tmp, _tiny(tmp) / "wnids.txt"


@bad(
    "tiny-folder-is-a-file",
    "tiny_imagenet",
    r"is a file, but it should be a folder \(the Tiny ImageNet folder\)",
    write="mnist",
)
def _(tmp):
    _tiny(tmp).write_bytes(b"PK\x03\x04")
    return tmp, _tiny(tmp)


@bad(
    "tiny-data-dir-is-the-dataset-folder",
    "tiny_imagenet",
    r"data_dir must be the folder that contains "
    r"tiny-imagenet-200",
    error=DatasetNotFound,
)
def _(tmp):
    return _tiny(tmp), _tiny(tmp) / "tiny-imagenet-200" / "wnids.txt"


@bad("tiny-undecodable-image", "tiny_imagenet", r"cannot be decoded as an image \(UnidentifiedImageError")
def _(tmp):
    f = _tiny(tmp) / "train" / "n01" / "images" / "n01_0.JPEG"
    f.write_bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    return tmp, f


@bad(
    "tiny-truncated-image",
    "tiny_imagenet",
    r"cannot be decoded as an image \(OSError: image file is truncated",
)
def _(tmp):
    f = _tiny(tmp) / "train" / "n02" / "images" / "n02_0.JPEG"
    Image.effect_noise((64, 64), 60).convert("RGB").save(f, quality=95)  # noise: a long entropy-coded stream
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return tmp, f


@bad("tiny-empty-image-file", "tiny_imagenet", r"cannot be decoded as an image")
def _(tmp):
    f = _tiny(tmp) / "train" / "n02" / "images" / "n02_1.png"
    f.write_bytes(b"")
    return tmp, f


@bad("tiny-image-wrong-size", "tiny_imagenet", r"is 32×32, expected 64×64 \(Tiny ImageNet\)")
def _(tmp):
    return _replace_image(
        tmp, _tiny(tmp) / "train" / "n01" / "images" / "n01_0.JPEG", Image.new("RGB", (32, 32))
    )


@bad("tiny-image-rgba", "tiny_imagenet", r"has image mode RGBA; accepted: RGB, or L")
def _(tmp):
    return _replace_image(
        tmp, _tiny(tmp) / "train" / "n01" / "images" / "n01_1.png", Image.new("RGBA", (64, 64))
    )


@bad("tiny-image-cmyk", "tiny_imagenet", r"has image mode CMYK; accepted: RGB, or L")
def _(tmp):
    return _replace_image(
        tmp, _tiny(tmp) / "train" / "n02" / "images" / "n02_0.JPEG", Image.new("CMYK", (64, 64))
    )


@bad(
    "tiny-non-image-file",
    "tiny_imagenet",
    r"is not an image file \(\.jpeg, \.jpg, \.png\); only images belong in",
)
def _(tmp):
    f = _tiny(tmp) / "train" / "n01" / "images" / "notes.txt"
    f.write_text("todo")
    return tmp, f


@bad("tiny-folder-inside-images", "tiny_imagenet", r"is not an image file")
def _(tmp):
    f = _tiny(tmp) / "train" / "n01" / "images" / "more"
    f.mkdir()
    return tmp, f


def _annotations(tmp: Path, text: str) -> tuple[Path, Path]:
    ann = _tiny(tmp) / "val" / "val_annotations.txt"
    ann.write_text(text)
    return tmp, ann


@bad(
    "tiny-val-annotations-missing",
    "tiny_imagenet",
    r"validation annotations missing",
    train=False,
    error=DatasetNotFound,
)
def _(tmp):
    (_tiny(tmp) / "val" / "val_annotations.txt").unlink()
    return tmp, _tiny(tmp) / "val" / "val_annotations.txt"


@bad(
    "tiny-val-annotations-is-a-folder", "tiny_imagenet", r"is a folder, but it should be a file", train=False
)
def _(tmp):
    (_tiny(tmp) / "val" / "val_annotations.txt").unlink()
    (_tiny(tmp) / "val" / "val_annotations.txt").mkdir()
    return tmp, _tiny(tmp) / "val" / "val_annotations.txt"


@bad(
    "tiny-val-images-is-a-file",
    "tiny_imagenet",
    r"is a file, but it should be a folder \(the Tiny ImageNet "
    r"validation images\)",
    train=False,
)
def _(tmp):
    import shutil

    shutil.rmtree(_tiny(tmp) / "val" / "images")
    (_tiny(tmp) / "val" / "images").write_text("x")
    return tmp, _tiny(tmp) / "val" / "images"


@bad(
    "tiny-annotation-unknown-class",
    "tiny_imagenet",
    r"line 2: class 'n99' is not listed in \S+wnids\.txt",
    train=False,
)
def _(tmp):
    return _annotations(tmp, "val_0.JPEG\tn02\t0\t0\t63\t63\nval_1.JPEG\tn99\t0\t0\t63\t63\n")


@bad("tiny-annotation-missing-file", "tiny_imagenet", r"line 1: \S+val_9\.JPEG does not exist", train=False)
def _(tmp):
    return _annotations(tmp, "val_9.JPEG\tn02\t0\t0\t63\t63\nval_1.JPEG\tn01\t0\t0\t63\t63\n")


@bad(
    "tiny-annotation-malformed-line",
    "tiny_imagenet",
    r"line 1: 'val_0\.JPEG n02' is not 'file<TAB>wnid<TAB>box'",
    train=False,
)
def _(tmp):
    return _annotations(tmp, "val_0.JPEG n02\nval_1.JPEG\tn01\t0\t0\t63\t63\n")


@bad(
    "tiny-annotation-duplicate",
    "tiny_imagenet",
    r"line 2: val_0\.JPEG is annotated twice \(first on line 1\)",
    train=False,
)
def _(tmp):
    return _annotations(tmp, "val_0.JPEG\tn02\t0\t0\t63\t63\nval_0.JPEG\tn01\t0\t0\t63\t63\n")


@bad(
    "tiny-annotation-path-outside",
    "tiny_imagenet",
    r"line 1: '\.\./\.\./wnids\.txt' is not a file name in",
    train=False,
)
def _(tmp):
    return _annotations(tmp, "../../wnids.txt\tn01\t0\t0\t63\t63\n")


@bad("tiny-annotation-empty", "tiny_imagenet", r"annotates no images", train=False)
def _(tmp):
    return _annotations(tmp, "")


@bad(
    "tiny-val-image-not-annotated",
    "tiny_imagenet",
    r"holds 1 images not annotated in \S+val_annotations\.txt: "
    r"val_1\.JPEG",
    train=False,
)
def _(tmp):
    _annotations(tmp, "val_0.JPEG\tn02\t0\t0\t63\t63\n")
    return tmp, _tiny(tmp) / "val" / "images"


@bad("tiny-val-image-wrong-size", "tiny_imagenet", r"is 64×48, expected 64×64", train=False)
def _(tmp):
    return _replace_image(tmp, _tiny(tmp) / "val" / "images" / "val_1.JPEG", Image.new("RGB", (64, 48)))


@pytest.mark.parametrize("case", BAD_FILES, ids=lambda c: c.id)
def test_bug_corrupt_data_file_gives_raw_traceback(tmp_path: Path, case: BadFile) -> None:
    case.write(tmp_path)
    data_dir, expected = case.damage(tmp_path)
    with pytest.raises(DataFileError) as info:
        load_dataset(case.dataset, data_dir, train=case.train)
    err = info.value
    message = str(err)
    assert type(err) is case.error, message
    assert isinstance(err, ValueError)
    assert err.path == expected and str(expected) in message, message
    assert re.search(case.problem, message), message
    assert "\n" not in message and "Traceback" not in message


def test_bug_cifar_pickle_can_run_code(tmp_path: Path) -> None:
    """A crafted batch whose pickle calls os.system is refused before the call runs."""
    _write_cifar(tmp_path, "cifar10")
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    f = _c10(tmp_path)
    f.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": [0]}))
    refused = r"refers to (posix|nt)\.system, which no CIFAR batch holds"
    with pytest.raises(DataFileError, match=refused) as info:
        load_dataset("cifar10", tmp_path)
    assert info.value.path == f and not marker.exists()


def test_read_idx_names_the_file(tmp_path: Path) -> None:
    bad_file = tmp_path / "bad"
    bad_file.write_bytes(_idx(0x999, (1,), b"\x00"))
    with pytest.raises(DataFileError, match=re.escape(str(bad_file)) + ": starts with 00000999"):
        read_idx(bad_file)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_bug_corrupt_downloaded_archive(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / f"data.{kind}"
    archive.write_bytes(b"\x1f\x8b\x08\x00garbage" if kind == "tar.gz" else b"PK\x03\x04garbage")
    problem = re.escape(str(archive)) + r": cannot be unpacked .*download again"
    with pytest.raises(DataFileError, match=problem):
        unpack(archive, tmp_path)


def test_unpack_reads_both_archive_kinds(tmp_path: Path) -> None:
    payload = tmp_path / "src.txt"
    payload.write_text("ok")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.write(payload, "z/src.txt")
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tf:
        tf.add(payload, "t/src.txt")
    unpack(tmp_path / "a.zip", tmp_path / "out")
    unpack(tmp_path / "a.tar.gz", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "z" / "src.txt").read_text() == (out / "t" / "src.txt").read_text() == "ok"


def test_bug_download_of_a_corrupt_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A download that is an HTML error page instead of the archive: the error names the saved archive."""
    import urllib.request

    page = b"<html>captive portal</html>"
    monkeypatch.setattr(urllib.request, "urlopen", lambda *_a, **_k: io.BytesIO(page))
    with pytest.raises(DataFileError, match=r"cifar-10-python\.tar\.gz: cannot be unpacked"):
        load_dataset("cifar10", tmp_path, download=True)


# --------------------------------------------------------------------------- the command line


def _truncate_cifar(data_dir: Path) -> Path:
    _write_cifar(data_dir, "cifar10")
    f = _c10(data_dir)
    f.write_bytes(f.read_bytes()[:100])
    return f


def test_bug_cli_corrupt_cifar_prints_one_line(tmp_path: Path) -> None:
    """``python -m experiments cloning`` on a truncated batch: exit 2, one line naming the file, no traceback,
    no run directory."""
    bad_file = _truncate_cifar(tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments",
            "cloning",
            "--preset",
            "paper",
            "dataset=cifar10",
            f"data_dir={tmp_path / 'data'}",
            f"out={tmp_path / 'runs'}",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {bad_file}: is not a readable CIFAR pickle")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("study", ["cloning", "continual"])
def test_bug_cli_corrupt_data_one_line_for_every_image_study(
    tmp_path: Path, study: str, capsys: pytest.CaptureFixture
) -> None:
    _write_tiny(tmp_path)
    folder = _tiny(tmp_path) / "train" / "n02" / "images"
    for f in folder.iterdir():
        f.unlink()
    assert (
        cli_main(
            [
                study,
                "--preset",
                "paper",
                "dataset=tiny_imagenet",
                f"data_dir={tmp_path}",
                f"out={tmp_path / 'runs'}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    wnids = _tiny(tmp_path) / "wnids.txt"
    assert err == f"error: {folder}: holds no images, but class n02 is listed in {wnids}\n"
    assert not (tmp_path / "runs").exists()
