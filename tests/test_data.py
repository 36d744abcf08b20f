"""Tests of neuroevo.data: IDX and CIFAR readers, load_dataset, splits, batches."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroevo.data import (
    KNOWN_DATASETS,
    NORMALISATION,
    Dataset,
    UnsafePickleError,
    load_dataset,
    read_idx,
    safe_load_pickle,
    train_holdout_split,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

_TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """Writes ``array`` as an IDX file (big-endian), gzip-compressed if ``gz``."""
    code = _TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_images(n: int, h: int = 4, w: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w), dtype=np.uint8)


def write_idx_folder(folder: Path, *, n_train: int = 12, n_test: int = 5, gz_train: bool = True) -> dict:
    """A tiny IDX folder: gzip train files, raw test files; labels 0..3."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "train": (make_images(n_train, seed=1), (np.arange(n_train) % 4).astype(np.uint8)),
        "test": (make_images(n_test, seed=2), (np.arange(n_test) % 4).astype(np.uint8)),
    }
    suffix = ".gz" if gz_train else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", data["train"][0], gz=gz_train)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", data["train"][1], gz=gz_train)
    write_idx(folder / "t10k-images-idx3-ubyte", data["test"][0])
    write_idx(folder / "t10k-labels-idx1-ubyte", data["test"][1])
    return data


def identity_dataset(n: int = 50, n_classes: int = 5) -> Dataset:
    """Sample i has all pixels equal to i and label i % n_classes."""
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return Dataset(images, torch.arange(n) % n_classes, name="toy", split="train", n_classes=n_classes)


def ids(images: torch.Tensor) -> list[int]:
    return images[:, 0, 0, 0].long().tolist()


# --- IDX reader -------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    out = read_idx(write_idx(tmp_path / "x-idx3", array, gz=gz))
    assert out.shape == (2, 3, 5)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_names_file(tmp_path, gz):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", make_images(3))
    raw = path.read_bytes()[:-5]
    path.write_bytes(gzip.compress(raw)[:-10] if gz else raw)
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "short-idx"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "a-idx1", np.arange(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path)


@pytest.mark.parametrize(
    "content, problem",
    [(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "magic number"), (bytes([0, 0, 0x42, 1, 0, 0, 0, 0]), "type code")],
)
def test_read_idx_foreign_file(tmp_path, content, problem):
    path = tmp_path / "foreign-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


# --- load_dataset on IDX folders --------------------------------------------------------------


def test_load_idx_folder(tmp_path):
    folder = tmp_path / "digits"
    data = write_idx_folder(folder)
    train = load_dataset(folder, "train")
    test = load_dataset(str(folder), split="test")

    assert train.name == test.name == "idx:digits"
    assert (train.split, test.split) == ("train", "test")
    assert len(train) == 12 and len(test) == 5
    assert train.input_shape == (1, 4, 3)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.shape == (12, 1, 4, 3)
    assert train.n_classes == test.n_classes == 4
    np.testing.assert_array_equal(train.labels.numpy(), data["train"][1])
    np.testing.assert_array_equal(test.labels.numpy(), data["test"][1])

    # unknown folder: standardised with the train split's own pixel statistics
    pixels = data["train"][0].astype(np.float64) / 255
    assert train.mean == pytest.approx((pixels.mean(),)) and train.std == pytest.approx((pixels.std(),))
    assert test.mean == train.mean and test.std == train.std
    assert float(train.images.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(train.images.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    restored = test.images * test.std[0] + test.mean[0]
    np.testing.assert_allclose(restored[:, 0].numpy(), data["test"][0] / 255, atol=1e-6)


@pytest.mark.parametrize("folder_name, known", [("mnist", "mnist"), ("Fashion_MNIST", "fashion-mnist")])
def test_recognised_folder_uses_fixed_constants(tmp_path, folder_name, known):
    data = write_idx_folder(tmp_path / folder_name)
    train = load_dataset(tmp_path / folder_name)
    mean, std = NORMALISATION[known]
    assert train.name == f"idx:{folder_name}"
    assert (train.mean, train.std, train.n_classes) == (mean, std, 10)
    expected = (data["train"][0] / 255 - mean[0]) / std[0]
    np.testing.assert_allclose(train.images[:, 0].numpy(), expected, atol=1e-5)


def test_shared_mnist_style_names_and_gz_twins(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    images, labels = make_images(6), np.arange(6, dtype=np.uint8) % 3
    write_idx(folder / "train-5k-images-idx3-ubyte.gz", images, gz=True)
    write_idx(folder / "train-5k-labels-idx1-ubyte.gz", labels, gz=True)
    write_idx(folder / "train-5k-labels-idx1-ubyte", labels)  # raw twin, as torchvision leaves them
    (folder / "README.md").write_text("not data")
    ds = load_dataset(folder)
    assert len(ds) == 6 and ds.labels.tolist() == labels.tolist()


def test_several_candidates(tmp_path):
    folder = tmp_path / "f"
    write_idx_folder(folder)
    write_idx(folder / "train-5k-images-idx3-ubyte.gz", make_images(2), gz=True)
    with pytest.raises(ValueError, match="several") as info:
        load_dataset(folder)
    message = str(info.value)
    assert str(folder) in message and "train-5k-images-idx3-ubyte.gz" in message


def test_missing_files(tmp_path):
    folder = tmp_path / "f"
    write_idx_folder(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="labels") as info:
        load_dataset(folder, "test")
    assert str(folder) in str(info.value) and "t10k-images-idx3-ubyte" in str(info.value)


def test_count_mismatch(tmp_path):
    folder = tmp_path / "f"
    write_idx_folder(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_dataset(folder, "test")


def test_test_label_beyond_train_classes(tmp_path):
    folder = tmp_path / "f"
    write_idx_folder(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 7], dtype=np.uint8))
    with pytest.raises(ValueError, match="label 7 out of range"):
        load_dataset(folder, "test")


def test_corrupt_file_in_folder_names_file(tmp_path):
    folder = tmp_path / "f"
    write_idx_folder(folder)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="truncated") as info:
        load_dataset(folder, "test")
    assert str(path) in str(info.value)


def test_torchvision_raw_subfolder(tmp_path):
    write_idx_folder(tmp_path / "MNIST" / "raw")
    ds = load_dataset(tmp_path / "MNIST")
    assert ds.name == "idx:MNIST" and ds.mean == NORMALISATION["mnist"][0]


# --- known names, bad input -------------------------------------------------------------------


def test_known_name_from_root(tmp_path, monkeypatch):
    write_idx_folder(tmp_path / "MNIST" / "raw")
    ds = load_dataset("MNIST", "test", root=tmp_path)
    assert (ds.name, ds.split, len(ds), ds.n_classes) == ("mnist", "test", 5, 10)
    monkeypatch.setenv("NEUROEVO_DATA", str(tmp_path))
    assert len(load_dataset("mnist")) == 12


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST/raw"), ("fashion-mnist", "FashionMNIST/raw"),
                                          ("cifar10", "cifar-10-batches-py")])
def test_known_name_missing(tmp_path, name, folder):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset(name, root=tmp_path / "empty")
    message = str(info.value)
    assert name in message and str(tmp_path / "empty" / folder) in message and "download=True" in message


def test_unknown_name_lists_known(tmp_path):
    with pytest.raises(ValueError) as info:
        load_dataset("imagenet")
    assert "imagenet" in str(info.value)
    assert all(name in str(info.value) for name in KNOWN_DATASETS)
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        load_dataset(file)


def test_unknown_split(tmp_path):
    write_idx_folder(tmp_path / "f")
    with pytest.raises(ValueError, match="validation"):
        load_dataset(tmp_path / "f", "validation")


# --- CIFAR-10 ---------------------------------------------------------------------------------


def write_cifar_folder(folder: Path, *, per_batch: int = 3, protocol: int = 2) -> dict:
    """Tiny CIFAR-10 python-batch folder: 5 train batches + test batch + meta."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        out[name] = (data, labels)
    meta = {b"num_cases_per_batch": per_batch, b"label_names": [b"airplane"] * 10, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return out


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_folder_round_trip(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    batches = write_cifar_folder(folder, protocol=protocol)
    train = load_dataset(folder, "train")
    test = load_dataset(tmp_path, "test")  # parent folder holding cifar-10-batches-py/
    assert (train.name, len(train), train.input_shape, train.n_classes) == ("cifar10", 15, (3, 32, 32), 10)
    assert len(test) == 3 and test.split == "test"
    expected_labels = sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert train.labels.tolist() == expected_labels
    # channel-major layout: first 1024 values red, then green, then blue, rows of 32
    data = batches["data_batch_2"][0]
    mean, std = NORMALISATION["cifar10"]
    img = train.images[3]  # first image of data_batch_2
    for c in range(3):
        expected = (data[0, c * 1024 : (c + 1) * 1024].reshape(32, 32) / 255 - mean[c]) / std[c]
        np.testing.assert_allclose(img[c].numpy(), expected, atol=1e-5)
    assert safe_load_pickle(folder / "batches.meta")[b"num_cases_per_batch"] == 3
    assert len(load_dataset("cifar10", "test", root=tmp_path)) == 3


def test_cifar_missing_batch(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4") as info:
        load_dataset(folder)
    assert str(folder) in str(info.value)


def test_cifar_malformed_batch(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match="3072") as info:
        load_dataset(folder, "test")
    assert "test_batch" in str(info.value)


def test_numpy1_pickle_names_accepted(tmp_path):
    """Pickles written with numpy 1.x name ``numpy.core.multiarray`` (as the official CIFAR files do)."""
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    blob = pickle.dumps({b"data": array, b"labels": [1, 2]}, protocol=2)
    if b"numpy._core.multiarray" in blob:
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path = tmp_path / "old"
    path.write_bytes(blob)
    np.testing.assert_array_equal(safe_load_pickle(path)[b"data"], array)


class _Exploit:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit(f"touch {marker}"), b"labels": []}))
    with pytest.raises(UnsafePickleError, match="system") as info:
        load_dataset(folder, "test")
    assert "test_batch" in str(info.value)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError):
        safe_load_pickle(folder / "test_batch")


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    path = tmp_path / "p"
    path.write_bytes(pickle.dumps({"f": Path("/etc")}))
    with pytest.raises(UnsafePickleError, match="pathlib"):
        safe_load_pickle(path)


# --- Dataset ----------------------------------------------------------------------------------


def test_dataset_basics():
    ds = identity_dataset(10)
    assert len(ds) == 10 and ds.input_shape == (1, 2, 2) and ds.device.type == "cpu"
    moved = ds.to("cpu")
    assert moved.name == ds.name and torch.equal(moved.images, ds.images)
    assert "toy" in repr(ds) and "n=10" in repr(ds)
    with pytest.raises(ValueError, match="labels"):
        Dataset(ds.images, ds.labels.int(), name="x", split="train", n_classes=5)
    with pytest.raises(ValueError, match="images"):
        Dataset(ds.images[:, 0], ds.labels, name="x", split="train", n_classes=5)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        Dataset(ds.images, ds.labels[:9], name="x", split="train", n_classes=5)


def test_batches_shuffled_cover_every_sample_once():
    ds = identity_dataset(23)
    seen = []
    sizes = []
    for images, labels in ds.batches(5, shuffle=True, generator=torch.Generator().manual_seed(3)):
        assert images.device == ds.device and images.shape[1:] == (1, 2, 2)
        assert (labels == torch.tensor(ids(images)) % 5).all()
        seen += ids(images)
        sizes.append(len(labels))
    assert sorted(seen) == list(range(23)) and seen != list(range(23))
    assert sizes == [5, 5, 5, 5, 3]
    again = [i for images, _ in ds.batches(5, shuffle=True, generator=torch.Generator().manual_seed(3))
             for i in ids(images)]
    assert again == seen


def test_batches_in_order_and_drop_last():
    ds = identity_dataset(7)
    assert [ids(x) for x, _ in ds.batches(3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [len(y) for _, y in ds.batches(3, shuffle=True, drop_last=True)] == [3, 3]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            next(ds.batches(bad, shuffle=False))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dataset_on_cuda():
    ds = identity_dataset(23).to("cuda")
    assert ds.images.is_cuda and ds.labels.is_cuda
    for generator in (torch.Generator().manual_seed(0), torch.Generator("cuda").manual_seed(0), None):
        seen = []
        for images, labels in ds.batches(4, shuffle=True, generator=generator):
            assert images.is_cuda and labels.is_cuda
            seen += ids(images.cpu())
        assert sorted(seen) == list(range(23))
    train, held = train_holdout_split(ds, 0.25, seed=0, stratify=True)
    assert train.images.is_cuda and held.labels.is_cuda and len(held) == 6


# --- splits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("holdout, expected", [(10, 10), (0.2, 10), (1, 1), (49, 49), (0.5, 25)])
@pytest.mark.parametrize("stratify", [False, True])
def test_split_sizes_disjoint_deterministic(holdout, expected, stratify):
    ds = identity_dataset(50)
    train, held = train_holdout_split(ds, holdout, seed=7, stratify=stratify)
    assert len(held) == expected and len(train) == 50 - expected
    assert set(ids(train.images)).isdisjoint(ids(held.images))
    assert sorted(ids(train.images) + ids(held.images)) == list(range(50))
    assert (train.split, held.split) == ("train-minus-holdout", "holdout")
    assert (train.name, train.n_classes) == ("toy", 5)
    assert (held.labels == held.images[:, 0, 0, 0].long() % 5).all()
    train2, held2 = train_holdout_split(ds, holdout, seed=7, stratify=stratify)
    assert ids(held2.images) == ids(held.images) and ids(train2.images) == ids(train.images)


def test_split_seed_matters_and_ignores_global_rng():
    ds = identity_dataset(100)
    torch.manual_seed(0)
    a = ids(train_holdout_split(ds, 0.3, seed=1)[1].images)
    torch.manual_seed(123)
    assert ids(train_holdout_split(ds, 0.3, seed=1)[1].images) == a
    assert ids(train_holdout_split(ds, 0.3, seed=2)[1].images) != a


def test_split_stratified_proportions():
    ds = identity_dataset(100, n_classes=4)  # 25 per class
    _, held = train_holdout_split(ds, 0.2, seed=0, stratify=True)
    assert torch.bincount(held.labels, minlength=4).tolist() == [5, 5, 5, 5]
    _, held = train_holdout_split(ds, 6, seed=0, stratify=True)
    assert sorted(torch.bincount(held.labels, minlength=4).tolist()) == [1, 1, 2, 2]


def test_split_of_test_names():
    ds = identity_dataset(10)
    ds = Dataset(ds.images, ds.labels, name="toy", split="test", n_classes=5)
    train, held = train_holdout_split(ds, 2, seed=0)
    assert (train.split, held.split) == ("test-minus-holdout", "test-holdout")


@pytest.mark.parametrize("bad", [0, 50, 60, -3, 0.0, 1.0, 1.5, -0.1, 0.001, float("nan"), True, "0.1", None])
def test_split_invalid_holdout(bad):
    with pytest.raises(ValueError) as info:
        train_holdout_split(identity_dataset(50), bad, seed=0)
    assert repr(bad) in str(info.value)


# --- real data (slow; the built-in mnist-small: tests/test_builtin_data.py) ----------------


@pytest.mark.slow
def test_debian_fashion_mnist():
    if not DEBIAN_FASHION.is_dir():
        pytest.skip(f"{DEBIAN_FASHION} not present")
    train = load_dataset(DEBIAN_FASHION, "train")
    test = load_dataset(DEBIAN_FASHION, "test")
    assert (len(train), len(test)) == (60000, 10000)
    assert train.input_shape == (1, 28, 28) and train.mean == NORMALISATION["fashion-mnist"][0]
    assert torch.bincount(train.labels, minlength=10).tolist() == [6000] * 10
    assert torch.bincount(test.labels, minlength=10).tolist() == [1000] * 10
    assert abs(float(train.images.mean())) < 0.01 and abs(float(train.images.std()) - 1) < 0.01
