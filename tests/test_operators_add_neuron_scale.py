"""``mut_add_neuron`` draws the new neuron at the scale of the layer it joins."""

from __future__ import annotations

import random

import pytest
import torch

import operators
from neuroevo import Architecture, EmbeddingGenome

DRAWS = 40


def _mean_ratio(genome, layer: int, field: str) -> float:
    """The new neuron's ``field`` norm over the layer's mean norm, averaged over ``DRAWS`` draws."""
    mean_norm = genome.layers[layer][field].flatten(1).norm(dim=1).mean()
    ratios = []
    for seed in range(DRAWS):
        grown = genome.clone()
        operators.mut_add_neuron(grown, layer=layer, rng=random.Random(seed))
        ratios.append(float(grown.layers[layer][field][-1].norm() / mean_norm))
    return sum(ratios) / DRAWS


@pytest.mark.parametrize(
    "spec, d, layer",
    [
        ("256-32-24-3", 16, 0),  # fan-in shrinks embeddings after 256 inputs
        ("256-32-24-3", 16, 1),  # and enlarges them after 32 small ones
        ("1x8x8-4c-6c-5-3", 8, 1),  # a conv layer (free junction: features too)
    ],
)
def test_new_neuron_is_at_the_layers_scale_in_a_fan_in_genome(spec, d, layer):
    arch = Architecture.parse(spec, junction="free")
    genome = EmbeddingGenome.random(arch, d, init="fan-in", generator=torch.Generator().manual_seed(0))
    fields = [f for f in ("embeddings", "kernels", "features") if f in genome.layers[layer]]
    for field in fields:
        assert 1 / 1.5 < _mean_ratio(genome, layer, field) < 1.5, field


def test_new_neuron_after_the_layer_was_rescaled():
    """Whatever changed the layer's scale (training, say), the new neuron follows it."""
    arch = Architecture.parse("16-12-8-3")
    genome = EmbeddingGenome.random(arch, 8, generator=torch.Generator().manual_seed(0))
    genome.layers[0] = genome.layers[0].replace(embeddings=genome.layers[0]["embeddings"] * 10)
    assert 1 / 1.5 < _mean_ratio(genome, 0, "embeddings") < 1.5


def test_all_zero_layer_falls_back_to_the_initial_rule():
    arch = Architecture.parse("16-12-8-3")
    genome = EmbeddingGenome.random(arch, 8, generator=torch.Generator().manual_seed(0))
    genome.layers[0] = genome.layers[0].replace(embeddings=torch.zeros(12, 8))
    operators.mut_add_neuron(genome, layer=0, rng=random.Random(0))
    new = genome.layers[0]["embeddings"][-1]
    assert new.abs().sum() > 0 and float(genome.layers[0]["bias"][-1]) == 0.0
    assert 0.3 < float(new.norm()) < 3.0  # z ~ N(0, 1/d): norm about 1
