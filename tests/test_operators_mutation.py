"""Gaussian and structural mutation."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from neuroevo import Architecture
from tests.test_operators_support import (
    CASES,
    DIRECT_CASES,
    EMBEDDING_CASES,
    identical,
    inputs,
    make_genome,
    make_pair,
    outputs,
    shared_encoding,
)

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 10_000)


@SETTINGS
@given(st.sampled_from(CASES), seeds)
def test_gaussian_with_indpb_zero_changes_nothing(case, seed):
    individual, _ = make_pair(case, seed)
    before = copy.deepcopy(individual)
    operators.mut_gaussian(individual, sigma=1.0, indpb=0.0, rng=random.Random(seed))
    assert identical(individual, before)


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.data())
def test_gaussian_mutates_exactly_the_selected_fields(case, seed, data):
    individual, _ = make_pair(case, seed)
    names = sorted({n for layer in individual.layers for n in layer.names})
    fields = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    before = copy.deepcopy(individual)
    operators.mut_gaussian(individual, sigma=0.1, indpb=1.0, fields=fields, rng=random.Random(seed))
    for new, old in zip(individual.layers, before.layers):
        for name in old.names:
            changed = new[name] != old[name]
            assert bool(changed.all()) if name in fields else not bool(changed.any())
    if case[0] == "embedding":
        assert individual.input_encoding is before.input_encoding


def test_gaussian_noise_has_the_requested_rate_and_moments():
    arch = Architecture.parse("16-64-3")
    generator = torch.Generator().manual_seed(0)
    individual = make_genome("embedding", arch, generator, shared_encoding(arch, generator))
    before = copy.deepcopy(individual)
    operators.mut_gaussian(individual, mu=0.5, sigma=0.2, indpb=0.3, fields=["embeddings"], rng=random.Random(0))
    delta = torch.cat([(n["embeddings"] - o["embeddings"]).flatten() for n, o in zip(individual.layers, before.layers)])
    mutated = delta[delta != 0]
    assert abs(mutated.numel() / delta.numel() - 0.3) < 0.06  # ~1100 genes: 5 standard errors
    assert abs(float(mutated.mean()) - 0.5) < 0.05 and abs(float(mutated.std()) - 0.2) < 0.04


@SETTINGS
@given(st.sampled_from(EMBEDDING_CASES), seeds, st.data())
def test_add_neuron_grows_one_hidden_layer(case, seed, data):
    individual, _ = make_pair(case, seed)
    arch = individual.architecture
    layer = data.draw(st.sampled_from([None, *arch.hidden_layers]))
    before = copy.deepcopy(individual)
    operators.mut_add_neuron(individual, layer=layer, rng=random.Random(seed))
    grown = [i for i in range(arch.n_layers) if individual.widths[i] != before.widths[i]]
    assert len(grown) == 1 and individual.widths[grown[0]] == before.widths[grown[0]] + 1
    assert layer is None or grown == [layer]
    old, new = before.layers[grown[0]], individual.layers[grown[0]]
    assert new.select(range(len(old))) == old  # the old neurons are all still there
    individual.validate()
    x = inputs(arch, 4, torch.Generator().manual_seed(seed))
    assert outputs(individual, x).shape == (4, arch.n_classes)
    assert individual.input_encoding is before.input_encoding


@SETTINGS
@given(st.sampled_from(EMBEDDING_CASES), seeds, st.data())
def test_remove_neuron_shrinks_one_hidden_layer(case, seed, data):
    individual, _ = make_pair(case, seed)
    arch = individual.architecture
    layer = data.draw(st.sampled_from([None, *arch.hidden_layers]))
    before = copy.deepcopy(individual)
    operators.mut_remove_neuron(individual, layer=layer, rng=random.Random(seed))
    shrunk = [i for i in range(arch.n_layers) if individual.widths[i] != before.widths[i]]
    assert len(shrunk) == 1 and individual.widths[shrunk[0]] == before.widths[shrunk[0]] - 1
    assert layer is None or shrunk == [layer]
    kept = set(map(tuple, individual.layers[shrunk[0]].record_matrix().tolist()))
    assert kept <= set(map(tuple, before.layers[shrunk[0]].record_matrix().tolist()))
    individual.validate()


def test_remove_neuron_never_empties_a_layer():
    individual, _ = make_pair(EMBEDDING_CASES[0], 0)
    rng = random.Random(0)
    for _ in range(40):
        operators.mut_remove_neuron(individual, rng=rng)
    assert individual.widths == (1, 1, 3)
    before = copy.deepcopy(individual)
    operators.mut_remove_neuron(individual, layer=0, rng=rng)
    assert identical(individual, before)
    individual.validate()


@pytest.mark.parametrize("mutation", [operators.mut_add_neuron, operators.mut_remove_neuron])
def test_structural_mutation_rejects_direct_genomes_and_the_output_layer(mutation):
    direct, _ = make_pair(DIRECT_CASES[0], 0)
    before = copy.deepcopy(direct)
    with pytest.raises(ValueError, match="embedding genomes"):
        mutation(direct)
    assert identical(direct, before)
    individual, _ = make_pair(EMBEDDING_CASES[0], 0)
    before = copy.deepcopy(individual)
    for layer in (-1, 2, 7):
        with pytest.raises(ValueError, match="output layer|out of range"):
            mutation(individual, layer=layer)
    assert identical(individual, before)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"sigma": -1.0}, "sigma"), ({"indpb": 1.5}, "indpb"), ({"fields": ["weights"]}, "unknown record fields")],
)
def test_gaussian_rejects_bad_parameters(kwargs, message):
    individual, _ = make_pair(EMBEDDING_CASES[1], 0)
    before = copy.deepcopy(individual)
    with pytest.raises(ValueError, match=message):
        operators.mut_gaussian(individual, **kwargs)
    assert identical(individual, before)
