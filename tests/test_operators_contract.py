"""The DEAP contract, for every operator on every kind of genome (property tests)."""

from __future__ import annotations

import copy
import pickle
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from tests.test_operators_support import CASES, identical, inputs, make_pair, storages

SETTINGS = settings(max_examples=12, deadline=None)


def _vary_widths(genome, rng: random.Random) -> None:
    if genome.encoding == "embedding":
        for _ in range(rng.randrange(4)):
            mutation = rng.choice([operators.mut_add_neuron, operators.mut_remove_neuron])
            mutation(genome, rng=rng)


@st.composite
def crossovers(draw):
    """A crossover call: (name, ind1, ind2, keyword arguments)."""
    case = draw(st.sampled_from(CASES))
    ind1, ind2 = make_pair(case, draw(st.integers(0, 10_000)))
    arch = ind1.architecture
    rng = random.Random(draw(st.integers(0, 10_000)))
    direct = case[0] == "direct"
    name = draw(st.sampled_from(["transplant", "transplant_aligned", "interpolate", "interpolate_aligned"]))
    aligned = name.endswith("aligned")
    if not aligned:
        _vary_widths(ind1, rng)  # transplant handles different widths
        _vary_widths(ind2, rng)
    layers = list(arch.hidden_layers) if aligned else list(range(arch.n_layers))
    kwargs = {}
    if name.startswith("transplant"):
        kwargs.update(layer=draw(st.sampled_from(layers)), coefficient=draw(st.floats(0, 1)), rng=rng)
        if direct:
            kwargs["move_outgoing"] = draw(st.booleans())
    else:
        kwargs.update(alpha=draw(st.floats(0, 1)))
        if ind1.widths == ind2.widths:
            kwargs["layer"] = draw(st.sampled_from([None, *layers]))
        else:
            kwargs["layer"] = draw(st.sampled_from([i for i in layers if ind1.widths[i] == ind2.widths[i]]))
    if direct and aligned:
        kwargs["method"] = draw(st.sampled_from(["weights", "activation"]))
    if direct and draw(st.booleans()):
        kwargs["repair"] = True
    if kwargs.get("method") == "activation" or kwargs.get("repair"):
        kwargs["probe"] = inputs(arch, 16, torch.Generator().manual_seed(0))
    return name, ind1, ind2, kwargs


def _call(name, ind1, ind2, kwargs):
    return getattr(operators, f"cx_{name}")(ind1, ind2, **kwargs)


@SETTINGS
@given(crossovers())
def test_crossover_contract(call):
    name, ind1, ind2, kwargs = call
    ind1.fitness.values, ind2.fitness.values = (0.25,), (0.75,)
    fitness1, fitness2 = ind1.fitness, ind2.fitness
    encoding1 = getattr(ind1, "input_encoding", None)
    before1, before2 = storages(ind1), storages(ind2)

    result = _call(name, ind1, ind2, kwargs)

    assert type(result) is tuple and len(result) == 2
    assert result[0] is ind1 and result[1] is ind2
    assert ind1.fitness is fitness1 and ind2.fitness is fitness2  # never touched, not invalidated
    assert ind1.fitness.values == (0.25,) and ind2.fitness.values == (0.75,)
    assert not storages(ind1) & storages(ind2)
    assert not storages(ind1) & before2 and not storages(ind2) & before1
    for child in (ind1, ind2):
        child.validate()
        assert getattr(child, "input_encoding", None) is encoding1
        for clone in (copy.deepcopy(child), pickle.loads(pickle.dumps(child))):
            # (unpickling a creator class re-creates it in DEAP 1.4, so compare by name)
            assert type(clone).__name__ == type(child).__name__ and identical(clone, child)
            assert clone.fitness.values == child.fitness.values
            assert not storages(clone) & storages(child)


@SETTINGS
@given(crossovers(), st.integers(0, 10_000))
def test_crossover_is_reproducible_with_a_seeded_rng(call, seed):
    name, ind1, ind2, kwargs = call
    copies = copy.deepcopy((ind1, ind2))
    if "rng" in kwargs:
        kwargs["rng"] = random.Random(seed)
    _call(name, ind1, ind2, kwargs)
    if "rng" in kwargs:
        kwargs["rng"] = random.Random(seed)
    _call(name, *copies, kwargs)
    assert identical(ind1, copies[0]) and identical(ind2, copies[1])


def test_default_randomness_is_pythons_random_module():
    results = []
    for _ in range(2):
        ind1, ind2 = make_pair(CASES[0], 3)
        random.seed(42)
        operators.cx_transplant(ind1, ind2, layer=0, coefficient=0.5)
        operators.mut_gaussian(ind1, sigma=0.1, indpb=0.5)
        operators.mut_add_neuron(ind2)
        results.append((ind1, ind2))
    assert identical(results[0][0], results[1][0]) and identical(results[0][1], results[1][1])
    ind1, ind2 = make_pair(CASES[0], 3)
    random.seed(43)
    operators.cx_transplant(ind1, ind2, layer=0, coefficient=0.5)
    assert not identical(ind1, results[0][0])  # the seed matters


MUTATIONS = [
    (operators.mut_gaussian, {"sigma": 0.1, "indpb": 0.5}),
    (operators.mut_add_neuron, {}),
    (operators.mut_remove_neuron, {}),
]


@pytest.mark.parametrize(
    "mutation, kwargs, case",
    [(m, k, c) for m, k in MUTATIONS for c in CASES if c[0] == "embedding" or m is operators.mut_gaussian],
)
def test_mutation_contract(mutation, kwargs, case):
    individual, _ = make_pair(case, 5)
    individual.fitness.values = (0.5,)
    fitness = individual.fitness
    original = copy.deepcopy(individual)
    result = mutation(individual, rng=random.Random(1), **kwargs)
    assert type(result) is tuple and len(result) == 1 and result[0] is individual
    assert individual.fitness is fitness and individual.fitness.values == (0.5,)
    assert not identical(individual, original)
    assert not storages(individual) & storages(original)
    individual.validate()
    assert identical(pickle.loads(pickle.dumps(individual)), individual)
