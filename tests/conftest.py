"""Shared fixtures: small architectures, synthetic data, an IDX folder."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from hypothesis import settings

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from tests.test_data import write_idx

# CI runs the same examples every time (a red CI must be reproducible); local runs explore anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
# Only tests/test_cli_train.py still imports this (its owner moves it to the built-in mnist-small).
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def load_benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` as a module (registered, so its dataclasses resolve)."""
    if str(REPO / "benchmarks") not in sys.path:  # as when run as a script: its siblings import by name
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def small_dense() -> Architecture:
    return Architecture.parse("16-12-8-3")


def small_conv(junction: str = "position", conv_style: str = "separable") -> Architecture:
    return Architecture.parse("1x8x8-4c-6c-5-3", junction=junction, conv_style=conv_style)


def synthetic_dataset(architecture: Architecture, n: int = 64, seed: int = 0) -> Dataset:
    """``n`` random images (standard normal) with random labels, shaped for ``architecture``
    (``[N, 1, 1, n_inputs]`` for a dense net), named ``synthetic`` / ``test``."""
    gen = torch.Generator().manual_seed(seed)
    shape = architecture.input_shape if len(architecture.input_shape) == 3 else (1, 1, architecture.n_inputs_flat)
    images = torch.randn(n, *shape, generator=gen)
    labels = torch.randint(0, architecture.n_classes, (n,), generator=gen)
    return Dataset(images, labels, "synthetic", "test", architecture.n_classes)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread avoids thread hand-off overhead on busy machines (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blob_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(7).integers(0, 256, size=(3, 6, 6))
    labels = np.arange(n) % 3
    images = np.clip(prototypes[labels] + rng.normal(0, 40, size=(n, 6, 6)), 0, 255)
    return images.astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture
def idx_folder(tmp_path) -> Path:
    """A learnable 3-class IDX data set of 6x6 images: 150 train, 60 test."""
    folder = tmp_path / "blobs"
    folder.mkdir()
    for prefix, n, seed in (("train", 150, 1), ("t10k", 60, 2)):
        images, labels = _blob_images(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder
