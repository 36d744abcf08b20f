"""Every operator on recurrent hidden layers, in both encodings."""

from __future__ import annotations

import copy
import random

import pytest
import torch

import operators
from neuroevo.architecture import Architecture
from neuroevo.decoding import decode
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome

SPEC = "3-5r-4-6r-2"
RECURRENT = (0, 2)
D = 8


def pair(encoding: str, seed: int = 0, spec: str = SPEC) -> tuple[Genome, Genome]:
    arch = Architecture.parse(spec, activation="tanh")
    generator = torch.Generator().manual_seed(seed)
    if encoding == "embedding":
        basis = InputEncoding.random(arch.n_input_neurons, D, generator=generator)
        return tuple(EmbeddingGenome.random(arch, input_encoding=basis, generator=generator) for _ in range(2))
    return tuple(DirectGenome.random(arch, generator=generator) for _ in range(2))


def permuted(genome: Genome, seed: int) -> Genome:
    """A copy with every hidden layer reordered by a random non-identity permutation (same function)."""
    result = genome.clone()
    generator = torch.Generator().manual_seed(seed)
    for index in genome.architecture.hidden_layers:
        n = genome.widths[index]
        result.permute_layer(index, torch.roll(torch.arange(n), 1)[torch.randperm(n, generator=generator)])
    return result


def run(genome: Genome) -> torch.Tensor:
    x = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return decode(genome)(x)


def storages(genome: Genome) -> set[int]:
    return {t.untyped_storage().data_ptr() for layer in genome.layers for _, t in layer.items()}


# -------------------------------------------------------------------- transplant
@pytest.mark.parametrize("layer", RECURRENT)
def test_embedding_transplant_moves_the_recurrent_key_with_the_record(layer):
    ind1, ind2 = pair("embedding")
    donor = ind2.layers[layer].clone()
    operators.cx_transplant(ind1, ind2, layer=layer, coefficient=1.0, rng=random.Random(0))
    assert ind1.layers[layer] == donor  # keys included
    assert not storages(ind1) & storages(ind2)


def test_embedding_transplant_of_every_layer_carries_the_recurrent_function():
    ind1, ind2 = pair("embedding")
    expected1, expected2 = run(ind2), run(ind1)
    assert not torch.allclose(expected1, expected2)
    for layer in range(ind1.n_layers):
        operators.cx_transplant(ind1, ind2, layer=layer, coefficient=1.0, rng=random.Random(layer))
    torch.testing.assert_close(run(ind1), expected1, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(run(ind2), expected2, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("move_outgoing", [False, True])
def test_direct_transplant_moves_recurrent_rows_and_with_move_outgoing_their_columns(move_outgoing):
    ind1, ind2 = pair("direct")
    a, b = copy.deepcopy((ind1, ind2))
    operators.cx_transplant(ind1, ind2, layer=2, coefficient=0.5, move_outgoing=move_outgoing, rng=random.Random(3))
    moved = torch.ne(ind1.layers[2]["bias"], a.layers[2]["bias"])
    assert int(moved.sum()) == 3  # round(0.5 * 6)
    rows = moved.unsqueeze(1).expand(6, 6)
    from_other = rows | moved.unsqueeze(0) if move_outgoing else rows
    for child, mine, theirs in ((ind1, a, b), (ind2, b, a)):
        expected = torch.where(from_other, theirs.layers[2]["recurrent"], mine.layers[2]["recurrent"])
        assert torch.equal(child.layers[2]["recurrent"], expected)
    assert not storages(ind1) & storages(ind2)


@pytest.mark.parametrize(
    "encoding, method", [("embedding", "embedding"), ("direct", "weights"), ("direct", "activation")]
)
@pytest.mark.parametrize("layer", RECURRENT)
def test_aligned_transplant_with_a_permuted_copy_changes_nothing(encoding, method, layer):
    ind1, _ = pair(encoding)
    ind2 = permuted(ind1, 1)
    before1, before2 = run(ind1), run(ind2)
    probe = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))
    operators.cx_transplant_aligned(
        ind1, ind2, layer=layer, coefficient=0.5, method=method, move_outgoing=True, probe=probe, rng=random.Random(0)
    )
    torch.testing.assert_close(run(ind1), before1)
    torch.testing.assert_close(run(ind2), before2)


def test_unaligned_direct_transplant_of_a_permuted_copy_changes_the_function():
    """The test above could not pass by accident: without alignment the same cross breaks it."""
    ind1, _ = pair("direct")
    ind2 = permuted(ind1, 1)
    before = run(ind1)
    operators.cx_transplant(ind1, ind2, layer=0, coefficient=0.5, rng=random.Random(0))
    assert not torch.allclose(run(ind1), before, atol=1e-4)


# ----------------------------------------------------------------- interpolation
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_interpolation_mixes_recurrent_fields_entry_by_entry(encoding):
    ind1, ind2 = pair(encoding)
    a, b = copy.deepcopy((ind1, ind2))
    operators.cx_interpolate(ind1, ind2, alpha=0.25, layer=2)
    start, end = a.layers[2]["recurrent"], b.layers[2]["recurrent"]
    torch.testing.assert_close(ind1.layers[2]["recurrent"], 0.75 * start + 0.25 * end)
    torch.testing.assert_close(ind2.layers[2]["recurrent"], 0.25 * start + 0.75 * end)
    assert torch.equal(ind1.layers[0]["recurrent"], a.layers[0]["recurrent"])


@pytest.mark.parametrize(
    "encoding, method", [("embedding", "embedding"), ("direct", "weights"), ("direct", "activation")]
)
def test_aligned_interpolation_with_a_permuted_copy_changes_nothing(encoding, method):
    ind1, _ = pair(encoding)
    ind2 = permuted(ind1, 2)
    before = run(ind1)
    probe = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))
    operators.cx_interpolate_aligned(ind1, ind2, alpha=0.5, method=method, probe=probe)
    torch.testing.assert_close(run(ind1), before, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(run(ind2), before, atol=1e-5, rtol=1e-4)


def test_weight_matching_recovers_the_permutation_of_recurrent_layers():
    ind1, _ = pair("direct")
    ind2 = permuted(ind1, 3)
    for layer, perm in operators.match_neurons(ind1, ind2, method="weights").items():
        ind2.permute_layer(layer, perm)
    for mine, theirs in zip(ind1.layers, ind2.layers):
        assert all(torch.equal(mine[n], theirs[n]) for n in mine.names)


def test_repair_scales_recurrent_rows_with_the_incoming_weights():
    ind1, ind2 = pair("direct")
    child = ind1.clone()
    operators.cx_interpolate(child, ind2.clone(), alpha=0.5)
    before = child.clone()
    probe = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    operators.repair(child, ind1, ind2, probe, mix=0.5)
    for index in RECURRENT:
        scale = child.layers[index]["weight"][:, 0] / before.layers[index]["weight"][:, 0]
        assert not torch.allclose(scale, torch.ones_like(scale))
        torch.testing.assert_close(child.layers[index]["recurrent"], before.layers[index]["recurrent"] * scale[:, None])


def test_recurrent_and_feed_forward_genomes_do_not_cross():
    recurrent, _ = pair("direct")
    feed_forward, _ = pair("direct", spec="3-5-4-6r-2")
    with pytest.raises(ValueError, match="layer kinds"):
        operators.cx_transplant(recurrent, feed_forward, layer=1)


# ---------------------------------------------------------------------- mutation
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_gaussian_mutation_reaches_the_recurrent_field(encoding):
    individual, _ = pair(encoding)
    before = individual.clone()
    operators.mut_gaussian(individual, sigma=0.1, indpb=1.0, fields=["recurrent"], rng=random.Random(0))
    for index in RECURRENT:
        assert not torch.equal(individual.layers[index]["recurrent"], before.layers[index]["recurrent"])
        assert torch.equal(individual.layers[index]["bias"], before.layers[index]["bias"])


def test_structural_mutation_of_a_recurrent_embedding_layer():
    individual, _ = pair("embedding")
    keys = individual.layers[0]["recurrent"]
    operators.mut_add_neuron(individual, layer=0, rng=random.Random(0))
    assert individual.widths[0] == 6
    new_key = individual.layers[0]["recurrent"][-1]
    assert 0.3 < new_key.square().mean().sqrt() / keys.square().mean().sqrt() < 3  # at the layer's scale
    assert run(individual).shape == (6, 4, 2)
    operators.mut_remove_neuron(individual, layer=0, rng=random.Random(0))
    operators.mut_remove_neuron(individual, layer=0, rng=random.Random(1))
    assert individual.widths[0] == 4
    individual.validate()
    assert decode(individual).initial_state(3)[0].shape == (3, 4)
