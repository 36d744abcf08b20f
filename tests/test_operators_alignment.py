"""Neuron matching, aligned transplant, and the probe forward pass they rely on."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from neuroevo.genomes import permute_incoming_columns
from operators._probe import pre_activations
from operators._records import outgoing_weights
from tests.test_operators_support import (
    CASES,
    DIRECT_CASES,
    EMBEDDING_CASES,
    identical,
    inputs,
    make_pair,
    outputs,
    permuted_copy,
)

SETTINGS = settings(max_examples=12, deadline=None)
seeds = st.integers(0, 10_000)


def _methods(case):
    return ["embedding"] if case[0] == "embedding" else ["weights", "activation"]


@st.composite
def case_and_method(draw, cases=CASES):
    case = draw(st.sampled_from(cases))
    return case, draw(st.sampled_from(_methods(case)))


def _apply(genome, perms):
    result = copy.deepcopy(genome)
    for layer, perm in perms.items():
        result.permute_layer(layer, perm)
    return result


@SETTINGS
@given(case_and_method(), seeds)
def test_matching_undoes_a_permutation(case_method, seed):
    (case, method) = case_method
    reference, _ = make_pair(case, seed)
    other = permuted_copy(reference, torch.Generator().manual_seed(seed))
    probe = inputs(reference.architecture, 32, torch.Generator().manual_seed(seed))
    before = copy.deepcopy(other)
    perms = operators.match_neurons(reference, other, method=method, probe=probe)
    assert identical(other, before)  # matching modifies nothing
    assert sorted(perms) == list(reference.architecture.hidden_layers)
    assert identical(_apply(other, perms), reference)


@SETTINGS
@given(case_and_method(), seeds)
def test_matching_finds_the_permutation_of_a_noisy_copy(case_method, seed):
    (case, method) = case_method
    reference, _ = make_pair(case, seed)
    other = permuted_copy(reference, torch.Generator().manual_seed(seed))
    operators.mut_gaussian(other, sigma=1e-4, indpb=1.0, rng=random.Random(seed))
    probe = inputs(reference.architecture, 64, torch.Generator().manual_seed(seed))
    aligned = _apply(other, operators.match_neurons(reference, other, method=method, probe=probe))
    for layer in reference.architecture.hidden_layers:
        gap = (aligned.layers[layer].record_matrix() - reference.layers[layer].record_matrix()).abs().max()
        assert gap < 1e-2


def _distance(a, b) -> float:
    """Squared distance between two genomes' hidden and output records, neuron i with neuron i."""
    return sum(float((x.record_matrix() - y.record_matrix()).square().sum()) for x, y in zip(a.layers, b.layers))


@SETTINGS
@given(st.sampled_from(CASES), seeds)
def test_data_free_matching_brings_independent_networks_closer(case, seed):
    """Embedding and weight matching never end farther apart than the given order (for weight
    matching this is the Git Re-Basin objective, which its coordinate descent only increases)."""
    reference, other = make_pair(case, seed)
    aligned = _apply(other, operators.match_neurons(reference, other))
    assert _distance(reference, aligned) <= _distance(reference, other) + 1e-9
    assert aligned == other


@SETTINGS
@given(case_and_method(), seeds, st.floats(0, 1), st.data())
def test_aligned_transplant_of_a_permuted_copy_loses_no_accuracy(case_method, seed, coefficient, data):
    (case, method) = case_method
    ind1, _ = make_pair(case, seed)
    ind2 = permuted_copy(ind1, torch.Generator().manual_seed(seed))
    arch = ind1.architecture
    x = inputs(arch, 32, torch.Generator().manual_seed(seed))
    labels = outputs(ind1, x).argmax(dim=1)  # ind1 is 100% accurate on these labels
    layer = data.draw(st.sampled_from(arch.hidden_layers))
    move_outgoing = case[0] == "direct" and data.draw(st.booleans())
    operators.cx_transplant_aligned(
        ind1, ind2, layer=layer, coefficient=coefficient, method=method, probe=x,
        move_outgoing=move_outgoing, rng=random.Random(seed),
    )
    for child in (ind1, ind2):
        logits = outputs(child, x)
        assert bool((logits.argmax(dim=1) == labels).all())
        torch.testing.assert_close(logits, outputs(ind1, x))


@SETTINGS
@given(st.sampled_from(EMBEDDING_CASES), seeds)
def test_embedding_matching_uses_only_the_requested_layers(case, seed):
    reference, other = make_pair(case, seed)
    operators.mut_add_neuron(other, layer=0, rng=random.Random(seed))  # layer 0 no longer pairs up
    perms = operators.match_neurons(reference, other, layers=[1])
    assert list(perms) == [1] and sorted(perms[1].tolist()) == list(range(len(other.layers[1])))
    with pytest.raises(ValueError, match="layer 0 has"):
        operators.match_neurons(reference, other)


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_probe_forward_matches_the_decoded_network(case):
    genome, _ = make_pair(case, 0)
    x = inputs(genome.architecture, 4, torch.Generator().manual_seed(0))
    pre = pre_activations(genome.architecture, genome.layers, x)
    assert len(pre) == genome.n_layers
    torch.testing.assert_close(pre[-1], outputs(genome, x))


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_outgoing_weights_view_follows_the_core_column_layout(case):
    genome, _ = make_pair(case, 0)
    arch = genome.architecture
    for layer in arch.hidden_layers:
        weight = genome.layers[layer + 1]["weight"]
        perm = torch.randperm(len(genome.layers[layer]), generator=torch.Generator().manual_seed(layer))
        permuted = permute_incoming_columns(arch, layer + 1, weight, perm)
        assert torch.equal(outgoing_weights(arch, layer + 1, permuted), outgoing_weights(arch, layer + 1, weight)[perm])
        view = outgoing_weights(arch, layer + 1, weight)
        assert view.untyped_storage().data_ptr() == weight.untyped_storage().data_ptr()


def test_weight_matching_recovers_a_permutation_where_descent_from_identity_stalled():
    """Regression: coordinate descent started from the identity stopped in a local optimum here."""
    case = ("direct", "conv-gap-standard")
    reference, _ = make_pair(case, 6094)
    other = permuted_copy(reference, torch.Generator().manual_seed(6094))
    perms = operators.match_neurons(reference, other, method="weights")
    assert identical(_apply(other, perms), reference)
