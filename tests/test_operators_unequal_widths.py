"""Crossover of genomes whose layer widths differ (embedding genomes after structural mutation).

The rules (docs/operators.md): interpolation pairs neurons by position (aligned: by a rectangular
assignment) and leaves each parent's unpaired neurons in its child as they are; the aligned
transplant swaps matched pairs only. Either way each child keeps its own parent's widths.
"""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest
import torch
from deap import algorithms, base, tools
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from neuroevo import decode
from tests.test_operators_support import (
    CASES,
    EMBEDDING_CASES,
    architecture,
    identical,
    inputs,
    make_genome,
    make_pair,
    permuted_copy,
    rows,
)

#: Every crossover the package exports: a new one joins these tests automatically.
CROSSOVERS = sorted(name for name in operators.__all__ if name.startswith("cx_"))
SETTINGS = settings(max_examples=15, deadline=None)


def _grown_copy(genome, seed: int, extra: int):
    """A permuted copy of ``genome`` with ``extra`` fresh neurons added to every hidden layer."""
    generator = torch.Generator().manual_seed(seed)
    result = permuted_copy(genome, generator)
    rng = random.Random(seed)
    for layer in genome.architecture.hidden_layers:
        for _ in range(extra):
            operators.mut_add_neuron(result, layer=layer, rng=rng)
    return result


def _records(genome, layer: int):
    return rows(genome.layers[layer].record_matrix())


# ------------------------------------------------------------------ the stated rules
@pytest.mark.parametrize("case", EMBEDDING_CASES)
@pytest.mark.parametrize("wider", ["ind1", "ind2"])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_interpolation_mixes_the_first_pairs_and_keeps_the_rest(case, wider, alpha):
    ind1, ind2 = make_pair(case, 0)
    operators.mut_add_neuron(ind1 if wider == "ind1" else ind2, layer=0, rng=random.Random(1))
    operators.mut_remove_neuron(ind2 if wider == "ind1" else ind1, layer=1, rng=random.Random(2))
    a, b = copy.deepcopy(ind1), copy.deepcopy(ind2)
    widths1, widths2 = ind1.widths, ind2.widths

    operators.cx_interpolate(ind1, ind2, alpha=alpha)

    assert ind1.widths == widths1 and ind2.widths == widths2
    for layer in range(a.n_layers):
        m = min(len(a.layers[layer]), len(b.layers[layer]))
        for name in a.layers[layer].names:
            x, y = a.layers[layer][name], b.layers[layer][name]
            assert torch.equal(ind1.layers[layer][name][:m], torch.lerp(x[:m], y[:m], alpha))
            assert torch.equal(ind2.layers[layer][name][:m], torch.lerp(x[:m], y[:m], 1.0 - alpha))
            assert torch.equal(ind1.layers[layer][name][m:], x[m:])  # unpaired: as they were
            assert torch.equal(ind2.layers[layer][name][m:], y[m:])


@SETTINGS
@given(
    case=st.sampled_from(EMBEDDING_CASES),
    seed=st.integers(0, 1000),
    extra=st.integers(1, 3),
    swap=st.booleans(),
    alpha=st.floats(0, 1),
    layer=st.sampled_from([None, 0, 1]),
)
def test_aligned_interpolation_with_a_grown_permuted_copy_changes_nothing(case, seed, extra, swap, alpha, layer):
    """Every neuron of A finds its copy in B, so mixing matched pairs mixes equal records."""
    a = make_pair(case, seed)[0]
    b = _grown_copy(a, seed, extra)
    ind1, ind2 = (b, a) if swap else (a, b)
    expected1, expected2 = copy.deepcopy(ind1), copy.deepcopy(ind2)

    operators.cx_interpolate_aligned(ind1, ind2, alpha=alpha, layer=layer)

    assert ind1.widths == expected1.widths and ind2.widths == expected2.widths
    for layer_index in range(a.n_layers):
        for got, expected in ((ind1, expected1), (ind2, expected2)):
            assert torch.allclose(
                torch.tensor(_records(got, layer_index)), torch.tensor(_records(expected, layer_index)), atol=1e-6
            )


@SETTINGS
@given(
    case=st.sampled_from(EMBEDDING_CASES),
    seed=st.integers(0, 1000),
    extra=st.integers(1, 3),
    swap=st.booleans(),
    coefficient=st.floats(0, 1),
    layer=st.sampled_from([0, 1, -2]),
)
def test_aligned_transplant_with_a_grown_permuted_copy_changes_nothing(case, seed, extra, swap, coefficient, layer):
    a = make_pair(case, seed)[0]
    b = _grown_copy(a, seed, extra)
    ind1, ind2 = (b, a) if swap else (a, b)
    expected1, expected2 = copy.deepcopy(ind1), copy.deepcopy(ind2)
    x = inputs(a.architecture, 8, torch.Generator().manual_seed(seed))

    operators.cx_transplant_aligned(ind1, ind2, layer=layer, coefficient=coefficient, rng=random.Random(seed))

    assert ind1 == expected1 and ind2 == expected2  # as sets: only identical records traded places
    with torch.no_grad():
        assert torch.allclose(decode(ind1)(x), decode(expected1)(x), atol=1e-5)


@pytest.mark.parametrize("case", EMBEDDING_CASES)
@pytest.mark.parametrize("coefficient", [0.5, 1.0])
def test_aligned_transplant_swaps_matched_pairs_only(case, coefficient):
    ind1, ind2 = make_pair(case, 3)
    rng = random.Random(4)
    for _ in range(3):
        operators.mut_add_neuron(ind2, layer=0, rng=rng)
    before1, before2 = _records(ind1, 0), _records(ind2, 0)
    n1, n2 = len(ind1.layers[0]), len(ind2.layers[0])

    operators.cx_transplant_aligned(ind1, ind2, layer=0, coefficient=coefficient, rng=random.Random(5))

    assert len(ind1.layers[0]) == n1 and len(ind2.layers[0]) == n2
    assert sorted(_records(ind1, 0) + _records(ind2, 0)) == sorted(before1 + before2)  # records only move
    moved = sum((Counter(_records(ind1, 0)) - Counter(before1)).values())
    assert moved == round(coefficient * min(n1, n2))


def test_match_neurons_still_asks_for_equal_widths():
    """``match_neurons`` returns permutations, which need equal widths; ``aligned_pairs`` does not."""
    ind1, ind2 = make_pair(EMBEDDING_CASES[0], 0)
    operators.mut_add_neuron(ind2, layer=0, rng=random.Random(0))
    with pytest.raises(ValueError, match="layer 0 has 8 neurons in one parent and 9"):
        operators.match_neurons(ind1, ind2, layers=[0])
    copy_, pairs = operators.alignment.aligned_pairs(ind1, ind2, layers=[0])
    assert copy_.widths == ind2.widths and pairs[0].tolist() == list(range(8))


# ------------------------------------------------------------------ inside DEAP's eaSimple
def _mutate_structure(individual):
    """Noise, then grow or shrink a random hidden layer: widths drift apart every generation."""
    operators.mut_gaussian(individual, sigma=0.05, indpb=0.2)
    mutation = random.choice([operators.mut_add_neuron, operators.mut_add_neuron, operators.mut_remove_neuron])
    return mutation(individual)


def _mate(name: str, calls: list):
    """The crossover ``name`` on a random layer it accepts, recording the parents' widths."""
    crossover = getattr(operators, name)

    def mate(ind1, ind2):
        arch = ind1.architecture
        calls.append((ind1.widths, ind2.widths))
        layers = list(arch.hidden_layers) if name.endswith("aligned") else list(range(arch.n_layers))
        if name.startswith("cx_transplant"):
            return crossover(ind1, ind2, layer=random.choice(layers), coefficient=random.random())
        return crossover(ind1, ind2, alpha=random.random(), layer=random.choice([None, *layers]))

    return mate


def _run(case, name: str, seed: int):
    encoding, arch_name = case
    arch = architecture(arch_name)
    generator = torch.Generator().manual_seed(seed)
    basis = make_pair(case, seed)[0].input_encoding if encoding == "embedding" else None
    x = inputs(arch, 16, generator)
    calls: list = []

    def individual():
        return make_genome(encoding, arch, torch.Generator().manual_seed(random.getrandbits(63)), basis)

    @torch.no_grad()
    def evaluate(genome):
        return (float(decode(genome)(x)[:, 0].mean()),)  # cheap and synthetic: the class-0 logit

    toolbox = base.Toolbox()
    toolbox.register("population", tools.initRepeat, list, individual)
    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", _mate(name, calls))
    if encoding == "embedding":
        toolbox.register("mutate", _mutate_structure)
    else:  # direct widths are fixed by the weight shapes: no structural mutation exists for them
        toolbox.register("mutate", operators.mut_gaussian, sigma=0.05, indpb=0.2)
    toolbox.register("select", tools.selTournament, tournsize=2)
    random.seed(seed)
    population, logbook = algorithms.eaSimple(
        toolbox.population(n=8), toolbox, cxpb=0.9, mutpb=0.9, ngen=4, verbose=False
    )
    return population, logbook, calls


@pytest.mark.parametrize("name", CROSSOVERS)
@pytest.mark.parametrize("case", [c for c in CASES if c[1] in ("dense", "conv-free-separable")], ids=str)
def test_ea_simple_mixing_structural_mutation_with_every_crossover(case, name):
    population, logbook, calls = _run(case, name, seed=CROSSOVERS.index(name))
    assert len(logbook) == 5 and len(population) == 8
    for individual in population:
        individual.validate()
        assert individual.fitness.valid
    if case[0] == "embedding":
        assert any(w1 != w2 for w1, w2 in calls), "the run never crossed parents of different widths"
