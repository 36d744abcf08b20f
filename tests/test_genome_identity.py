"""Genome identity: ``==`` and ``content_hash`` never depend on the order of hidden neurons, even
when neurons of a layer have equal incoming records (duplicates), and still tell different
networks apart."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo import Architecture, DirectGenome, EmbeddingGenome, Genome, NeuronSet
from neuroevo.genomes.direct import incoming_blocks
from neuroevo.neurons import lexsort_rows, row_ranks
from tests.test_operators_support import CASES, architecture, permuted_copy

SETTINGS = settings(max_examples=40, deadline=None)
#: (source, destination, twin) per duplication: neuron ``destination`` gets ``source``'s record;
#: a twin also gets its outgoing weights (then the two are interchangeable).
duplications = st.lists(st.tuples(st.integers(0, 63), st.integers(0, 63), st.booleans()), min_size=1, max_size=6)


def _with_duplicates(genome: Genome, copies: list[tuple[int, int, bool]], quantise: bool) -> Genome:
    """A new genome of the same class whose hidden layers hold duplicated neuron records.

    ``quantise`` rounds every value to a multiple of 1/2 first, which makes equal values (and so
    neurons that colour refinement finds hard to tell apart) common.
    """
    arch = genome.architecture
    layers = [NeuronSet(**{n: (t * 2).round() / 2 if quantise else t.clone() for n, t in layer.items()})
              for layer in genome.layers]
    for step, (source, destination, twin) in enumerate(copies):
        index = arch.hidden_layers[step % len(arch.hidden_layers)]
        n = len(layers[index])
        source, destination = source % n, destination % n
        rows = list(range(n))
        rows[destination] = rows[source]
        layers[index] = layers[index].select(rows)
        if twin and genome.encoding == "direct":
            weight = layers[index + 1]["weight"].clone()
            blocks = incoming_blocks(arch, index + 1, weight)
            blocks[:, destination] = blocks[:, source]
            layers[index + 1] = layers[index + 1].replace(weight=weight)
    if genome.encoding == "direct":
        return DirectGenome(arch, layers)
    return EmbeddingGenome(arch, genome.input_encoding, layers)


def _random_genome(case: tuple[str, str], seed: int) -> Genome:
    encoding, name = case
    generator = torch.Generator().manual_seed(seed)
    if encoding == "direct":
        return DirectGenome.random(architecture(name), generator=generator)
    return EmbeddingGenome.random(architecture(name), 4, generator=generator)


@SETTINGS
@given(st.sampled_from(CASES), st.integers(0, 2**31), duplications, st.booleans())
def test_a_genome_with_duplicated_neurons_equals_and_hashes_as_every_permuted_copy(case, seed, copies, quantise):
    genome = _with_duplicates(_random_genome(case, seed), copies, quantise)
    generator = torch.Generator().manual_seed(seed + 1)
    canonical = genome.canonical()
    for _ in range(3):
        permuted = permuted_copy(genome, generator)
        assert permuted == genome and genome == permuted
        assert permuted.content_hash == genome.content_hash
        for a, b in zip(permuted.canonical().layers, canonical.layers):
            assert all(torch.equal(a[n], b[n]) for n in a.names)


def _tied_direct_genome() -> DirectGenome:
    """16-8-8-3: neurons 0 and 1 of layer 0 have equal records (incoming weights and bias) but
    different outgoing weights."""
    genome = DirectGenome.random(Architecture.parse("16-8-8-3"), generator=torch.Generator().manual_seed(3))
    rows = list(range(8))
    rows[1] = 0
    genome.layers[0] = genome.layers[0].select(rows)
    return genome


def test_neurons_with_equal_incoming_records_are_ordered_by_their_outgoing_weights():
    genome = _tied_direct_genome()
    swapped = genome.clone()
    swapped.permute_layer(0, [1, 0, 2, 3, 4, 5, 6, 7])
    assert swapped == genome and swapped.content_hash == genome.content_hash


def test_equality_still_sees_outgoing_weights_of_tied_neurons():
    """Exchanging the outgoing weights of two tied neurons is a permutation (equal); exchanging a
    tied neuron's outgoing weights with an untied one's, or changing one weight, is not."""
    genome = _tied_direct_genome()

    def exchanged_columns(a: int, b: int) -> DirectGenome:
        other = genome.clone()
        weight = other.layers[1]["weight"].clone()
        weight[:, [a, b]] = weight[:, [b, a]]
        other.layers[1] = other.layers[1].replace(weight=weight)
        return other

    assert exchanged_columns(0, 1) == genome
    assert exchanged_columns(0, 2) != genome
    assert exchanged_columns(0, 2).content_hash != genome.content_hash
    changed = genome.clone()
    weight = changed.layers[1]["weight"].clone()
    weight[3, 1] += 0.25
    changed.layers[1] = changed.layers[1].replace(weight=weight)
    assert changed != genome and changed.content_hash != genome.content_hash


def _two_regular(cycles: list[int]) -> DirectGenome:
    """4-12-12-3 with every weight and bias 1 or 0, the weights between the two hidden layers
    forming disjoint cycles of the given lengths (each cycle alternates between the layers):
    every hidden neuron has the same number of links everywhere, so colour refinement cannot
    tell any two apart."""
    weight = torch.zeros(12, 12)
    start = 0
    for half in cycles:
        for i in range(half):
            weight[start + i, start + i] = 1.0
            weight[start + i, start + (i + 1) % half] = 1.0
        start += half
    layers = [NeuronSet(weight=torch.ones(12, 4), bias=torch.zeros(12)),
              NeuronSet(weight=weight, bias=torch.zeros(12)),
              NeuronSet(weight=torch.ones(3, 12), bias=torch.zeros(3))]
    return DirectGenome(Architecture.parse("4-12-12-3"), layers)


def test_symmetric_networks_that_refinement_cannot_split_are_still_identified():
    """Refinement leaves one class per layer; the search must find the same canonical form
    whichever neuron it tries first (in ``[6, 3, 3]`` neurons of the long cycle and of the short
    ones are not interchangeable)."""
    genomes = [_two_regular(cycles) for cycles in ([12], [6, 6], [6, 3, 3])]
    assert len({genome.content_hash for genome in genomes}) == 3
    assert genomes[0] != genomes[1] and genomes[1] != genomes[2]
    generator = torch.Generator().manual_seed(0)
    for genome in genomes:
        for _ in range(2):
            permuted = permuted_copy(genome, generator)
            assert permuted == genome and permuted.content_hash == genome.content_hash


def test_signed_zeros_compare_and_hash_alike():
    genome = DirectGenome.random(Architecture.parse("6-4-3"), generator=torch.Generator().manual_seed(0))
    positive, negative = genome.clone(), genome.clone()
    for copy_, zero in ((positive, 0.0), (negative, -0.0)):
        weight = copy_.layers[1]["weight"].clone()
        weight[0, 0] = zero
        copy_.layers[1] = copy_.layers[1].replace(weight=weight)
    assert positive == negative and positive.content_hash == negative.content_hash


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-1.0, -0.0, 0.0, 0.5, 2.0]), min_size=3, max_size=3), min_size=1, max_size=12))
def test_row_ranks_and_lexsort_follow_the_lexicographic_order(rows):
    matrix = torch.tensor(rows, dtype=torch.float64)
    order = lexsort_rows(matrix)
    assert [tuple(r) for r in matrix[order].tolist()] == sorted(tuple(r) for r in rows)
    distinct = sorted(set(tuple(r) for r in rows))  # -0.0 == 0.0 in tuples too
    assert row_ranks(matrix).tolist() == [distinct.index(tuple(r)) for r in rows]
