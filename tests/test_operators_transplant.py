"""Neuron transplant: what moves where (embedding and direct genomes, hidden and output layers)."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from operators._records import outgoing_weights
from operators.randomness import neuron_count
from tests.test_operators_support import (
    CASES,
    DIRECT_CASES,
    EMBEDDING_CASES,
    identical,
    inputs,
    make_pair,
    outputs,
    rows,
)

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 10_000)


def _grow_or_shrink(genome, rng: random.Random) -> None:
    for _ in range(rng.randrange(5)):
        rng.choice([operators.mut_add_neuron, operators.mut_remove_neuron])(genome, rng=rng)


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.data())
def test_coefficient_zero_is_the_identity(case, seed, data):
    ind1, ind2 = make_pair(case, seed)
    before = copy.deepcopy((ind1, ind2))
    layer = data.draw(st.sampled_from(range(ind1.n_layers)))
    move = data.draw(st.booleans())
    operators.cx_transplant(ind1, ind2, layer=layer, coefficient=0.0, move_outgoing=move, rng=random.Random(seed))
    assert identical(ind1, before[0]) and identical(ind2, before[1])


@SETTINGS
@given(st.sampled_from(CASES), seeds)
def test_coefficient_one_on_every_layer_swaps_the_networks(case, seed):
    """Embedding genomes on a shared basis (any widths) and direct genomes alike: replacing every
    layer entirely turns each parent into the other, function included."""
    ind1, ind2 = make_pair(case, seed)
    rng = random.Random(seed)
    if case[0] == "embedding":
        _grow_or_shrink(ind1, rng)
        _grow_or_shrink(ind2, rng)
    x = inputs(ind1.architecture, 8, torch.Generator().manual_seed(seed))
    before = copy.deepcopy((ind1, ind2))
    for layer in range(ind1.n_layers):
        operators.cx_transplant(ind1, ind2, layer=layer, coefficient=1.0, rng=rng)
    assert ind1 == before[1] and ind2 == before[0]
    torch.testing.assert_close(outputs(ind1, x), outputs(before[1], x))
    torch.testing.assert_close(outputs(ind2, x), outputs(before[0], x))


@SETTINGS
@given(st.sampled_from(EMBEDDING_CASES), seeds, st.floats(0, 1), st.data())
def test_embedding_transplant_exchanges_records_between_sets_of_any_width(case, seed, coefficient, data):
    ind1, ind2 = make_pair(case, seed)
    rng = random.Random(seed)
    _grow_or_shrink(ind1, rng)
    _grow_or_shrink(ind2, rng)
    layer = data.draw(st.sampled_from(ind1.architecture.hidden_layers))
    before = copy.deepcopy((ind1, ind2))
    a, b = before[0].layers[layer], before[1].layers[layer]
    operators.cx_transplant(ind1, ind2, layer=layer, coefficient=coefficient, rng=rng)
    k1, k2 = neuron_count(coefficient, len(a)), neuron_count(coefficient, len(b))
    assert len(ind1.layers[layer]) == len(a) - k1 + k2
    assert len(ind2.layers[layer]) == len(b) - k2 + k1
    # Records are conserved: the two children hold exactly the parents' records between them,
    # and each child holds k of the other parent's records.
    parents = torch.cat([a.record_matrix(), b.record_matrix()])
    children = torch.cat([ind1.layers[layer].record_matrix(), ind2.layers[layer].record_matrix()])
    assert rows(parents) == rows(children)
    from_b = set(map(tuple, b.record_matrix().tolist()))
    assert sum(tuple(r) in from_b for r in ind1.layers[layer].record_matrix().tolist()) == k2
    # Every other layer is untouched.
    for other in range(ind1.n_layers):
        if other != layer:
            assert identical_layer(ind1.layers[other], before[0].layers[other])
            assert identical_layer(ind2.layers[other], before[1].layers[other])


@SETTINGS
@given(st.sampled_from(DIRECT_CASES), seeds, st.floats(0, 1), st.booleans(), st.data())
def test_direct_transplant_swaps_neuron_i_for_neuron_i(case, seed, coefficient, move_outgoing, data):
    ind1, ind2 = make_pair(case, seed)
    arch = ind1.architecture
    layer = data.draw(st.sampled_from(range(arch.n_layers)))
    a, b = copy.deepcopy((ind1, ind2))
    operators.cx_transplant(
        ind1, ind2, layer=layer, coefficient=coefficient, move_outgoing=move_outgoing, rng=random.Random(seed)
    )
    rows1, rows2 = ind1.layers[layer].record_matrix(), ind2.layers[layer].record_matrix()
    rows_a, rows_b = a.layers[layer].record_matrix(), b.layers[layer].record_matrix()
    swapped = (rows1 == rows_b).all(dim=1) & ~(rows_a == rows_b).all(dim=1)
    kept = (rows1 == rows_a).all(dim=1)
    assert bool((swapped | kept).all())
    assert torch.equal(rows2[swapped], rows_a[swapped]) and torch.equal(rows2[kept], rows_b[kept])
    assert int(swapped.sum()) == neuron_count(coefficient, len(rows_a))
    if layer + 1 < arch.n_layers:
        successor = layer + 1
        out1, out_a, out_b = (
            outgoing_weights(arch, successor, g.layers[successor]["weight"]) for g in (ind1, a, b)
        )
        expected = torch.where(swapped.reshape(-1, *[1] * (out_a.dim() - 1)), out_b, out_a) if move_outgoing else out_a
        assert torch.equal(out1, expected)
        assert torch.equal(ind1.layers[successor]["bias"], a.layers[successor]["bias"])


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.floats(0, 1))
def test_output_layer_keeps_classes(case, seed, coefficient):
    ind1, ind2 = make_pair(case, seed)
    a, b = copy.deepcopy((ind1, ind2))
    operators.cx_transplant(ind1, ind2, layer=-1, coefficient=coefficient, rng=random.Random(seed))
    for c in range(ind1.architecture.n_classes):
        rec1 = ind1.layers[-1].select([c]).record_matrix()
        rec2 = ind2.layers[-1].select([c]).record_matrix()
        rec_a = a.layers[-1].select([c]).record_matrix()
        rec_b = b.layers[-1].select([c]).record_matrix()
        assert (torch.equal(rec1, rec_a) and torch.equal(rec2, rec_b)) or (
            torch.equal(rec1, rec_b) and torch.equal(rec2, rec_a)
        )
    for layer in ind1.architecture.hidden_layers:
        assert identical_layer(ind1.layers[layer], a.layers[layer])


def identical_layer(x, y) -> bool:
    return x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names)


def test_embedding_neuron_carries_its_weights_into_the_new_network():
    """A moved embedding neuron's incoming and outgoing weights in its new network are generated
    from its own embedding: with the same neighbours, they are exactly the weights it had."""
    ind1, ind2 = make_pair(EMBEDDING_CASES[0], 0)
    ind2.layers[0] = copy.deepcopy(ind1.layers[0])  # same first layer ...
    ind2.layers[2] = copy.deepcopy(ind1.layers[2])  # ... and output layer, different middle layer
    x = inputs(ind1.architecture, 8, torch.Generator().manual_seed(0))
    expected = outputs(ind2, x)
    operators.cx_transplant(ind1, ind2, layer=1, coefficient=1.0, rng=random.Random(0))
    torch.testing.assert_close(outputs(ind1, x), expected)


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_unaligned_transplant_of_a_permuted_copy_breaks_a_direct_network(case):
    """The permutation problem the aligned operators solve (a control for the aligned tests)."""
    from tests.test_operators_support import permuted_copy

    ind1, _ = make_pair(case, 1)
    ind2 = permuted_copy(ind1, torch.Generator().manual_seed(1))
    x = inputs(ind1.architecture, 16, torch.Generator().manual_seed(0))
    expected = outputs(ind1, x)
    operators.cx_transplant(ind1, ind2, layer=0, coefficient=1.0, rng=random.Random(0))
    assert not torch.allclose(outputs(ind1, x), expected, atol=1e-3)
