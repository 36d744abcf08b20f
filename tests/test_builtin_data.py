"""The built-in data set mnist-small: loadable by name anywhere (no network, no data folder), its
files and licence in the package, the script that builds it, and errors that name the way out."""

from __future__ import annotations

import gzip
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroevo.data import (
    BUILTIN_DATASET,
    KNOWN_DATASETS,
    NORMALISATION,
    PYTHON_WORDING,
    DataUnavailableError,
    DownloadError,
    Wording,
    builtin_folder,
    load_dataset,
    read_idx,
    read_idx_split,
    write_idx,
)
from tests.conftest import REPO, load_benchmark

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "README.md", "LICENSE")


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    """A fresh user: empty home, no $NEUROEVO_DATA, another working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEUROEVO_DATA", raising=False)
    monkeypatch.chdir(tmp_path)


def test_mnist_small_loads_by_name_with_no_data_folder(no_data_anywhere):
    assert BUILTIN_DATASET == "mnist-small" and BUILTIN_DATASET in KNOWN_DATASETS
    train = load_dataset("mnist-small", "train")
    test = load_dataset("MNIST-Small", "test", root="/nonexistent", download=False)
    assert (train.name, train.split, len(train)) == ("mnist-small", "train", 5000)
    assert (test.name, test.split, len(test)) == ("mnist-small", "test", 10_000)
    assert train.input_shape == test.input_shape == (1, 28, 28) and train.n_classes == test.n_classes == 10
    assert (train.mean, train.std) == NORMALISATION["mnist"]
    assert torch.bincount(train.labels, minlength=10).tolist() == [500] * 10
    assert torch.bincount(test.labels, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(float(train.images.mean())) < 0.1 and abs(float(train.images.std()) - 1) < 0.1


def test_the_package_holds_the_files_and_their_licence():
    folder = builtin_folder(BUILTIN_DATASET)
    assert all((folder / name).is_file() for name in FILES)
    assert sum((folder / name).stat().st_size for name in FILES) < 3 * 2**20
    licence = (folder / "LICENSE").read_text()
    assert "Yann LeCun" in licence and "Corinna Cortes" in licence and "CC BY-SA 3.0" in licence
    with pytest.raises(ValueError, match="not a built-in data set"):
        builtin_folder("mnist")


def test_setup_cfg_and_manifest_ship_the_files():
    setup = (REPO / "setup.cfg").read_text()
    assert "[options.package_data]" in setup and "builtin/*/*" in setup
    assert "recursive-include neuroevo/data/builtin" in (REPO / "MANIFEST.in").read_text()


@pytest.mark.slow
def test_the_wheel_contains_the_builtin_data_set(tmp_path):
    source = tmp_path / "source"  # a copy: building leaves build/ and egg-info folders behind
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("neuroevo", "operators", "populations"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("neuroevo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"neuroevo/data/builtin/mnist-small/{name}" for name in FILES} <= names


def test_a_path_named_like_the_builtin_set_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="not an existing folder"):
        load_dataset(Path("mnist-small"))


def test_an_unknown_name_lists_the_known_names_and_the_builtin_one():
    with pytest.raises(ValueError) as info:
        load_dataset("mnist-tiny")
    message = str(info.value)
    assert "'mnist-tiny'" in message and all(name in message for name in KNOWN_DATASETS)
    assert "mnist-small is built in" in message


# ---------------------------------------------------------------- errors
CLI = Wording(download="add --download", root="point --data-root", folder="give --data a folder",
              builtin="--data mnist-small")


def test_a_missing_data_set_is_explained_in_the_callers_words(tmp_path):
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("fashion-mnist", root=tmp_path)
    error = info.value
    assert isinstance(error, FileNotFoundError)
    assert "pass download=True" in str(error) and "pass root=" in str(error) and "--download" not in str(error)
    flags = error.message(CLI)
    assert "add --download" in flags and "point --data-root" in flags and "download=True" not in flags
    assert str(tmp_path / "FashionMNIST" / "raw") in flags and "--data mnist-small" in flags
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_failed_download_is_a_download_error(tmp_path, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist", root=tmp_path, download=True)
    error = info.value
    assert isinstance(error, RuntimeError) and "Network is unreachable" in str(error)
    assert PYTHON_WORDING.builtin in str(error) and "--data mnist-small" in error.message(CLI)


# ------------------------------------------------------- the build script
def test_write_idx_writes_the_idx_layout_with_a_fixed_gzip_header(tmp_path):
    array = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    raw = write_idx(tmp_path / "a", array, compress=False).read_bytes()
    assert raw == bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    packed = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert gzip.decompress(packed) == raw and packed[4:8] == b"\0\0\0\0"  # no time stamp
    assert np.array_equal(read_idx(tmp_path / "b.gz"), array)
    with pytest.raises(ValueError, match="dtype"):
        write_idx(tmp_path / "c", array.astype(np.int64))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.gz"]


def _source(folder: Path) -> Path:
    """An IDX folder of 3 unequal classes: 60 train (30/20/10), 30 test (10 each)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, labels in (("train", np.repeat([0, 1, 2], [30, 20, 10])), ("t10k", np.repeat([0, 1, 2], 10))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (len(labels), 4, 4), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return folder


def test_build_script_cuts_stratified_subsets_reproducibly(tmp_path):
    build = load_benchmark("build_mnist_small").build
    source = _source(tmp_path / "source")
    first = build(source, tmp_path / "a", {"train": 30, "test": None}, seed=3)
    second = build(source, tmp_path / "b", {"train": 30, "test": None}, seed=3)
    assert first == second and first["train"]["per_class"] == [15, 10, 5] and first["test"]["n"] == 30
    for name in FILES[:4]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    images, labels = read_idx_split(tmp_path / "a", "train")
    source_images, source_labels = read_idx_split(source, "train")
    rows = [int(np.flatnonzero((source_images == image).all(axis=(1, 2)))[0]) for image in images]
    assert rows == sorted(rows) and np.array_equal(source_labels[rows], labels)  # source order, labels kept
    assert all(np.array_equal(a, b) for a, b in zip(read_idx_split(tmp_path / "a", "test"),
                                                    read_idx_split(source, "test")))
    with pytest.raises(ValueError, match="has 30 samples"):
        build(source, tmp_path / "c", {"train": None, "test": 31})
