import copy
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo import Architecture, DirectGenome, EmbeddingGenome, InputEncoding, NeuronSet, decode
from tests.conftest import small_conv, small_dense

ARCHS = {
    "dense": small_dense,
    "conv-position": lambda: small_conv("position"),
    "conv-free": lambda: small_conv("free"),
    "conv-gap": lambda: small_conv("gap"),
}


def _inputs(arch: Architecture, n: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, *arch.input_shape, generator=torch.Generator().manual_seed(seed))


def test_paper_parameter_counts():
    arch = Architecture.parse("784-400-10")
    genome = EmbeddingGenome.random(arch, 64)
    counts = genome.parameter_counts()
    assert counts["input_encoding"] + counts["embeddings"] == (784 + 400 + 10) * 64 == 76_416
    assert counts["biases"] == 410
    assert DirectGenome.random(arch).n_parameters == 318_010


def test_init_scale_is_one_over_d():
    genome = EmbeddingGenome.random(Architecture.parse("784-400-10"), 64, generator=torch.Generator().manual_seed(0))
    var = genome.layers[0]["embeddings"].var().item()
    assert var == pytest.approx(1 / 64, rel=0.1)


@settings(max_examples=25, deadline=None)
@given(arch_name=st.sampled_from(sorted(ARCHS)), layer_choice=st.integers(0, 10), seed=st.integers(0, 2**31))
def test_hidden_permutation_leaves_embedding_network_unchanged(arch_name, layer_choice, seed):
    arch = ARCHS[arch_name]()
    gen = torch.Generator().manual_seed(seed)
    genome = EmbeddingGenome.random(arch, 6, generator=gen)
    layer = layer_choice % len(arch.hidden_layers)
    x = _inputs(arch)
    before = decode(genome)(x)
    permuted = genome.clone()
    permuted.permute_layer(layer, torch.randperm(genome.widths[layer], generator=gen))
    torch.testing.assert_close(decode(permuted)(x), before, rtol=1e-5, atol=1e-5)
    assert permuted == genome and permuted.content_hash == genome.content_hash


@settings(max_examples=20, deadline=None)
@given(
    arch_name=st.sampled_from(sorted(ARCHS)),
    conv_style=st.sampled_from(["separable", "standard"]),
    layer_choice=st.integers(0, 10),
    seed=st.integers(0, 2**31),
)
def test_direct_genome_needs_consistent_row_and_column_permutation(arch_name, conv_style, layer_choice, seed):
    # tanh: a random ReLU net can be dead everywhere, which would hide a wrong permutation.
    arch = ARCHS[arch_name]().with_options(conv_style=conv_style, activation="tanh")
    gen = torch.Generator().manual_seed(seed)
    genome = DirectGenome.random(arch, generator=gen)
    layer = layer_choice % len(arch.hidden_layers)
    x = _inputs(arch)
    before = decode(genome)(x)
    perm = torch.randperm(genome.widths[layer], generator=gen)
    if torch.equal(perm, torch.arange(len(perm))):
        perm = perm.roll(1)

    consistent = genome.clone()
    consistent.permute_layer(layer, perm)
    torch.testing.assert_close(decode(consistent)(x), before, rtol=1e-5, atol=1e-5)
    assert consistent == genome

    rows_only = genome.clone()
    rows_only.layers[layer] = rows_only.layers[layer].select(perm)
    assert not torch.allclose(decode(rows_only)(x), before, atol=1e-6)
    assert rows_only != genome


def test_output_layer_cannot_be_permuted():
    genome = EmbeddingGenome.random(small_dense(), 4)
    with pytest.raises(ValueError, match="keyed by class"):
        genome.permute_layer(-1, torch.tensor([2, 1, 0]))


def test_equality_sees_a_changed_value():
    genome = EmbeddingGenome.random(small_dense(), 4)
    other = genome.clone()
    other.layers[1] = other.layers[1].replace(bias=other.layers[1]["bias"] + 1e-3)
    assert other != genome and other.content_hash != genome.content_hash


def test_deepcopy_and_pickle_share_no_layer_storage():
    genome = EmbeddingGenome.random(small_conv("free"), 4)
    for copied in (copy.deepcopy(genome), pickle.loads(pickle.dumps(genome))):
        assert copied == genome
        for a, b in zip(copied.layers, genome.layers):
            for name in a.names:
                assert a[name].untyped_storage().data_ptr() != b[name].untyped_storage().data_ptr()
    assert copy.deepcopy(genome).input_encoding is genome.input_encoding  # shared immutable basis


@pytest.mark.parametrize("make", [
    lambda: EmbeddingGenome.random(small_conv("free"), 4, generator=torch.Generator().manual_seed(0)),
    lambda: DirectGenome.random(small_conv("position", "standard"), generator=torch.Generator().manual_seed(0)),
    lambda: DirectGenome.random(small_dense(), generator=torch.Generator().manual_seed(0)),
], ids=["embedding-conv", "direct-conv", "direct-dense"])
def test_genomes_round_trip_through_every_pickle_protocol(make):
    genome = make()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        loaded = pickle.loads(pickle.dumps(genome, protocol=protocol))
        assert type(loaded) is type(genome) and loaded == genome, protocol
        for a, b in zip(loaded.layers, genome.layers):  # the same neurons in the same order
            assert a.names == b.names and all(torch.equal(a[n], b[n]) for n in a.names)


def test_neuron_sets_pickle_with_protocol_0():
    records = NeuronSet(embeddings=torch.randn(3, 2), bias=torch.zeros(3))
    loaded = pickle.loads(pickle.dumps(records, protocol=0))
    assert loaded == records and loaded.names == records.names


def test_to_gives_the_copy_a_fitness_of_its_own():
    from tests.test_operators_support import architecture, make_genome

    individual = make_genome("direct", architecture("dense"), torch.Generator().manual_seed(0))
    individual.fitness.values = (0.5,)
    moved = individual.to("cpu")
    assert moved == individual and moved.fitness is not individual.fitness
    moved.fitness.values = (0.9,)
    assert individual.fitness.values == (0.5,)
    del individual.fitness.values
    assert moved.fitness.valid and moved.fitness.values == (0.9,)


def test_sharing_sets_copy_reorders_without_touching_the_original():
    genome = EmbeddingGenome.random(small_dense(), 4, generator=torch.Generator().manual_seed(0))
    before = genome.clone()
    copied = genome.sharing_sets()
    assert copied.layers is not genome.layers
    assert all(a is b for a, b in zip(copied.layers, genome.layers))  # no tensor copied
    copied.permute_layer(0, torch.arange(genome.widths[0]).flip(0))
    assert copied == genome and copied.layers[0] is not genome.layers[0]
    assert all(torch.equal(a[n], b[n]) for a, b in zip(genome.layers, before.layers) for n in a.names)


def _layers(genome):
    return [ns.clone() for ns in genome.layers]


def test_mismatched_embedding_width_is_rejected():
    arch = small_dense()
    genome = EmbeddingGenome.random(arch, 4)
    other = InputEncoding.random(arch.n_input_neurons, 5)
    with pytest.raises(ValueError, match="embedding width"):
        EmbeddingGenome(arch, other, genome.layers)


def test_foreign_input_encoding_shape_is_rejected():
    arch = small_dense()
    genome = EmbeddingGenome.random(arch, 4)
    with pytest.raises(ValueError, match="input encoding has 20 rows"):
        EmbeddingGenome(arch, InputEncoding.random(20, 4), genome.layers)


def test_layers_that_do_not_chain_are_rejected():
    arch = small_dense()
    layers = _layers(DirectGenome.random(arch))
    layers[1] = NeuronSet(weight=torch.zeros(8, 11), bias=torch.zeros(8))
    with pytest.raises(ValueError, match="do not chain"):
        DirectGenome(arch, layers)


def test_kernel_on_a_dense_layer_is_rejected():
    arch = small_dense()
    layers = _layers(EmbeddingGenome.random(arch, 4))
    layers[0] = NeuronSet(**layers[0].as_dict(), kernels=torch.zeros(12, 3, 3))
    with pytest.raises(ValueError, match="dense layer but its neurons carry kernels"):
        EmbeddingGenome(arch, InputEncoding.random(16, 4), layers)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf_are_rejected(bad):
    genome = EmbeddingGenome.random(small_dense(), 4)
    layers = _layers(genome)
    emb = layers[0]["embeddings"].clone()
    emb[0, 0] = bad
    layers[0] = layers[0].replace(embeddings=emb)
    with pytest.raises(ValueError, match="NaN or Inf"):
        EmbeddingGenome(genome.architecture, genome.input_encoding, layers)


def test_output_width_must_match_classes():
    arch = small_dense()
    layers = _layers(EmbeddingGenome.random(arch, 4))
    layers[-1] = layers[-1].select([0, 1])
    with pytest.raises(ValueError, match="3 classes"):
        EmbeddingGenome(arch, InputEncoding.random(16, 4), layers)


def test_failed_construction_leaves_arguments_untouched():
    genome = EmbeddingGenome.random(small_dense(), 4)
    layers = genome.layers
    snapshot = [ns.clone() for ns in layers]
    with pytest.raises(ValueError):
        EmbeddingGenome(genome.architecture, InputEncoding.random(16, 5), layers)
    assert all(a.names == b.names and all(torch.equal(a[n], b[n]) for n in a.names) for a, b in zip(layers, snapshot))


def test_embedding_genome_widths_may_differ_from_architecture():
    arch = small_dense()
    genome = EmbeddingGenome.random(arch, 4)
    layers = _layers(genome)
    layers[0] = NeuronSet.concat([layers[0], layers[0].select([0, 1])])
    grown = EmbeddingGenome(arch, genome.input_encoding, layers)
    assert grown.widths == (14, 8, 3)
    assert decode(grown)(torch.randn(2, 16)).shape == (2, 3)


@pytest.mark.parametrize("spec, shape", [("784-400x2-10", None), ("20c-40c-100-10", (1, 28, 28))])
def test_fan_in_init_gives_generated_weights_he_variance(spec, shape):
    from neuroevo.decoding import generate_weight, junction_embeddings

    arch = Architecture.parse(spec, shape)
    genome = EmbeddingGenome.random(arch, 32, init="fan-in", generator=torch.Generator().manual_seed(0))
    z_prev = genome.input_encoding.inputs
    for index, layer in enumerate(genome.layers):
        if index == arch.n_conv and arch.n_conv:
            z_prev = junction_embeddings(z_prev, arch, genome.input_encoding.positions, None)
        gain = 1.0 if arch.is_output(index) else 2.0
        variance = generate_weight(z_prev, layer["embeddings"]).var().item()
        assert variance == pytest.approx(gain / z_prev.shape[0], rel=1e-3)
        z_prev = layer["embeddings"]


def test_unknown_init_is_rejected():
    with pytest.raises(ValueError, match="unknown init"):
        EmbeddingGenome.random(small_dense(), 4, init="xavier")
