"""NaN or Inf written into a genome after construction: every operator refuses it, naming the
argument (ind1, ind2, individual, ...) and the layer, and leaves every argument untouched."""

from __future__ import annotations

import copy
import random

import pytest
import torch

import operators
from tests.test_operators_support import CASES, inputs, make_pair

BAD_VALUES = [float("nan"), float("inf"), float("-inf")]


def _poison(genome, layer: int, value: float) -> None:
    """Write ``value`` into one scalar of ``genome``'s layer ``layer``, in place (as a user might)."""
    name = "embeddings" if "embeddings" in genome.layers[layer] else "weight"
    genome.layers[layer][name].view(-1)[0] = value


def _same(a, b) -> bool:
    """Exactly the same tensors, NaN included, in the same order."""
    return a.widths == b.widths and all(
        x.names == y.names and all(torch.equal(torch.nan_to_num(x[n]), torch.nan_to_num(y[n])) for n in x.names)
        and all(torch.equal(x[n].isnan(), y[n].isnan()) for n in x.names)
        for x, y in zip(a.layers, b.layers)
    )


def _crossover_calls(genome):
    """(name, function, keyword arguments) of every crossover the package exports, and of the
    other functions that take two genomes, with options that reach their matching code."""
    probe = inputs(genome.architecture, 4, torch.Generator().manual_seed(0))
    direct = genome.encoding == "direct"
    calls = [
        ("cx_transplant", operators.cx_transplant, {"layer": 0, "rng": random.Random(0)}),
        ("cx_transplant_aligned", operators.cx_transplant_aligned, {"layer": 0, "rng": random.Random(0)}),
        ("cx_interpolate", operators.cx_interpolate, {}),
        ("cx_interpolate_aligned", operators.cx_interpolate_aligned, {}),
        ("match_neurons", operators.match_neurons, {}),
    ]
    if direct:
        calls += [
            ("cx_interpolate_aligned", operators.cx_interpolate_aligned, {"method": "activation", "probe": probe}),
            ("cx_transplant", operators.cx_transplant, {"repair": True, "probe": probe}),
        ]
    assert {name for name, _, _ in calls} >= {n for n in operators.__all__ if n.startswith("cx_")}
    return calls


NAMES = {"match_neurons": ("reference", "other")}


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("value", BAD_VALUES)
def test_crossovers_reject_a_non_finite_parent(case, which, value):
    for name, function, kwargs in _crossover_calls(make_pair(case, 0)[0]):
        pair = list(make_pair(case, 0))
        layer = pair[which].n_layers - 1 - which  # the output layer of ind1, the last hidden of ind2
        _poison(pair[which], layer, value)
        before = copy.deepcopy(pair)
        label = NAMES.get(name, ("ind1", "ind2"))[which]
        with pytest.raises(ValueError, match=rf"^{label}: layer {layer} contains NaN or Inf"):
            function(*pair, **kwargs)
        assert _same(pair[0], before[0]) and _same(pair[1], before[1]), name


MUTATIONS = [
    (operators.mut_gaussian, {"sigma": 0.1, "indpb": 1.0}),
    (operators.mut_add_neuron, {}),
    (operators.mut_remove_neuron, {}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("mutation, kwargs", MUTATIONS, ids=lambda m: getattr(m, "__name__", ""))
def test_mutations_reject_a_non_finite_individual(case, mutation, kwargs):
    individual = make_pair(case, 0)[0]
    _poison(individual, 1, float("nan"))
    before = copy.deepcopy(individual)
    with pytest.raises(ValueError, match=r"^individual: layer 1 contains NaN or Inf"):
        mutation(individual, rng=random.Random(0), **kwargs)
    assert _same(individual, before)


def test_repair_names_the_genome_at_fault():
    child, other = make_pair(("direct", "dense"), 0)
    reference = copy.deepcopy(child)
    _poison(reference, 0, float("inf"))
    probe = inputs(child.architecture, 4, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"^reference: layer 0 contains NaN or Inf"):
        operators.repair(child, reference, other, probe)


@pytest.mark.parametrize("mu, sigma", [(float("nan"), 0.1), (float("inf"), 0.1), (0.0, float("inf"))])
def test_gaussian_mutation_rejects_non_finite_noise(mu, sigma):
    individual = make_pair(("embedding", "dense"), 0)[0]
    before = copy.deepcopy(individual)
    with pytest.raises(ValueError, match="finite"):
        operators.mut_gaussian(individual, mu=mu, sigma=sigma, indpb=1.0)
    assert _same(individual, before)
