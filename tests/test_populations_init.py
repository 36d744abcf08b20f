"""train_parents passes the embedding initialisation through (the command line's --init)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neuroevo.genomes import EmbeddingGenome
from neuroevo.training import TrainConfig, train_genome
from populations import train_parents
from tests.conftest import small_dense, synthetic_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = TrainConfig(steps=2, batch_size=16, validate_every=1, max_lr=0.01)


@pytest.mark.parametrize("init", ["fan-in", "normal"])
def test_train_parents_starts_from_the_requested_initialisation(init):
    arch = small_dense()
    data = synthetic_dataset(arch, n=32)
    (parent,) = train_parents(arch, 1, data, None, d=4, init=init, config=CONFIG)
    start = EmbeddingGenome.random(arch, 4, init=init, generator=torch.Generator().manual_seed(0))
    expected = train_genome(start, data, None, config=dataclasses.replace(CONFIG, train_input_encoding=True),
                            progress=False).genome
    assert parent == expected
    other = "normal" if init == "fan-in" else "fan-in"
    (different,) = train_parents(arch, 1, data, None, d=4, init=other, config=CONFIG)
    assert different != parent
