"""Dataset loaders on tiny generated files in each on-disk format; augmentation; loaders; synthetic task."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from experiments.data import (
    DatasetNotFound,
    load_dataset,
    make_loader,
    make_synthetic,
    random_crop_flip,
    read_idx,
    resolve_pin_memory,
)


def _write_cifar(root, name, n):
    rng = np.random.default_rng(0)
    folder = root / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True)
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if name == "cifar10" else ["train", "test"]
    key = b"labels" if name == "cifar10" else b"fine_labels"
    written = {}
    for f in files:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10 if name == "cifar10" else 100, n).tolist()
        (folder / f).write_bytes(pickle.dumps({b"data": data, key: labels}))
        written[f] = (data, labels)
    return written


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_pickles(tmp_path, name):
    written = _write_cifar(tmp_path, name, 4)
    train = load_dataset(name, tmp_path, train=True)
    test = load_dataset(name, tmp_path, train=False)
    first = "data_batch_1" if name == "cifar10" else "train"
    assert train.images.shape == ((20 if name == "cifar10" else 4), 3, 32, 32) and len(test) == 4
    data, labels = written[first]
    assert torch.equal(train.images[0], torch.from_numpy(data[0].reshape(3, 32, 32)))
    assert train.labels[:4].tolist() == labels
    assert train.num_classes == (10 if name == "cifar10" else 100)


def _idx(magic_dims, payload):
    magic, dims = magic_dims
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 7], dtype=np.uint8)
    for split in ("train", "t10k"):
        for stem, blob in (
            (f"{split}-images-idx3-ubyte", _idx((0x803, (2, 28, 28)), images.tobytes())),
            (f"{split}-labels-idx1-ubyte", _idx((0x801, (2,)), labels.tobytes())),
        ):
            path = tmp_path / (stem + (".gz" if gz else ""))
            path.write_bytes(gzip.compress(blob) if gz else blob)
    ds = load_dataset("mnist", tmp_path, train=False)
    assert ds.images.shape == (2, 1, 28, 28) and ds.labels.tolist() == [3, 7]
    assert torch.equal(ds.images[1, 0], torch.from_numpy(images[1]))
    bad = tmp_path / "bad"
    bad.write_bytes(_idx((0x999, (1,)), b"\x00"))
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)


def test_tiny_imagenet_folder(tmp_path):
    from PIL import Image

    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n01", "n02"]
    (root).mkdir()
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    colours = {"n01": (255, 0, 0), "n02": (0, 0, 255)}
    for w in wnids:
        folder = root / "train" / w / "images"
        folder.mkdir(parents=True)
        Image.new("RGB", (64, 64), colours[w]).save(folder / f"{w}_0.JPEG", quality=95)
        Image.new("L", (64, 64), 128).save(folder / f"{w}_1.png")
    (root / "val" / "images").mkdir(parents=True)
    Image.new("RGB", (64, 64), colours["n02"]).save(root / "val" / "images" / "val_0.JPEG", quality=95)
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t0\t63\t63\n")
    train = load_dataset("tiny_imagenet", tmp_path, train=True)
    val = load_dataset("tiny_imagenet", tmp_path, train=False)
    assert train.images.shape == (4, 3, 64, 64) and train.labels.tolist() == [0, 0, 1, 1]
    assert int(train.images[0, 0].float().mean()) > 240 and int(train.images[0, 2].float().mean()) < 15  # red
    assert int(train.images[1].float().mean()) == 128  # greyscale PNG replicated to RGB
    assert val.labels.tolist() == [1] and int(val.images[0, 2].float().mean()) > 240


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist", "tiny_imagenet"])
def test_missing_files_say_where_to_put_them(tmp_path, name):
    with pytest.raises(DatasetNotFound, match=str(tmp_path)):
        load_dataset(name, tmp_path)


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
