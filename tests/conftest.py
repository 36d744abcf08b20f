"""Shared fixtures: small architectures and the optional offline data folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neuroevo.architecture import Architecture

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def small_dense() -> Architecture:
    return Architecture.parse("16-12-8-3")


def small_conv(junction: str = "position", conv_style: str = "separable") -> Architecture:
    return Architecture.parse("1x8x8-4c-6c-5-3", junction=junction, conv_style=conv_style)


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


@pytest.fixture
def shared_mnist() -> Path:
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"offline MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST
