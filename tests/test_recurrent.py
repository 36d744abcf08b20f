"""Recurrent hidden layers: spec, records of both encodings, decoding, permutation invariance, files."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo.architecture import Architecture
from neuroevo.decoding import RecurrentNetwork, decode, direct_equivalent
from neuroevo.files import load_genome, save_genome
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome

SPECS = ("3-6r-2", "3-5r-4-6r-2", "1x6x6-3c-5r-2")
D = 8


def make(encoding: str, spec: str, seed: int) -> Genome:
    arch = Architecture.parse(spec, activation="tanh")
    generator = torch.Generator().manual_seed(seed)
    if encoding == "embedding":
        return EmbeddingGenome.random(arch, D, generator=generator)
    return DirectGenome.random(arch, generator=generator)


def sequences(arch: Architecture, batch: int = 4, steps: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, steps, *arch.input_shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ architecture
@pytest.mark.parametrize(
    "spec, canonical, flags, layers",
    [
        ("3-10r-1", "3-10r-1", (True,), (0,)),
        ("3-10rx2-5-1", "3-10r-10r-5-1", (True, True, False), (0, 1)),
        ("3-10-5R-1", "3-10-5r-1", (False, True), (1,)),
        ("1x8x8-4c-6r-3", "1x8x8-4c-6r-3", (True,), (1,)),
    ],
)
def test_spec_marks_recurrent_layers_and_round_trips(spec, canonical, flags, layers):
    arch = Architecture.parse(spec)
    assert (arch.spec, arch.recurrent, arch.recurrent_layers) == (canonical, flags, layers)
    assert [arch.is_recurrent(i) for i in range(arch.n_layers)] == [i in layers for i in range(arch.n_layers)]
    assert Architecture.parse(arch.spec) == arch
    assert Architecture.from_json(arch.to_json()) == arch
    assert json.loads(arch.to_json())["recurrent"] == list(flags)


def test_feed_forward_architectures_keep_their_json_and_normalise_false_flags():
    arch = Architecture.parse("3-10-1")
    assert "recurrent" not in json.loads(arch.to_json())
    assert Architecture((3,), dense_widths=(10,), n_classes=1, recurrent=(False,)) == arch
    assert not arch.is_recurrent(0) and arch.recurrent_layers == ()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1x8x8-4cr-3", "conv layer '4cr' cannot be recurrent"),
        ("1x8x8-4rc-3", "conv layer '4rc' cannot be recurrent"),
        ("3-10-1r", "output layer '1r' cannot be recurrent"),
        ("3r-10-1", "input '3r' cannot be recurrent"),
        ("3-10x2r-1", "10rx2"),
    ],
)
def test_misplaced_recurrence_marks_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        Architecture.parse(spec)


def test_recurrent_flags_must_cover_the_dense_hidden_layers():
    with pytest.raises(ValueError, match="one flag per dense hidden layer"):
        Architecture((3,), dense_widths=(10, 5), n_classes=1, recurrent=(True,))
    with pytest.raises(ValueError, match="do not pass recurrent="):
        Architecture.parse("3-10r-1", recurrent=(True,))


# ---------------------------------------------------------------------- records
def test_record_fields_of_a_recurrent_layer():
    embedding, direct = make("embedding", "3-5r-4-6r-2", 0), make("direct", "3-5r-4-6r-2", 0)
    assert embedding.layers[0].record_shapes["recurrent"] == (D,)
    assert direct.layers[2].record_shapes["recurrent"] == (6,)
    assert "recurrent" not in embedding.layers[1] and "recurrent" not in direct.layers[1]
    assert embedding.parameter_counts()["recurrent"] == (5 + 6) * D
    assert direct.parameter_counts()["recurrent"] == 5 * 5 + 6 * 6
    bad = direct.layers[0].replace(recurrent=torch.zeros(5, 4))
    with pytest.raises(ValueError, match="'recurrent' has per-neuron shape"):
        DirectGenome(direct.architecture, [bad, *direct.layers[1:]])


@pytest.mark.parametrize("init", ["normal", "fan-in"])
def test_generated_recurrent_weights_have_variance_one_over_n(init):
    arch = Architecture.parse("20-200r-2")
    genome = EmbeddingGenome.random(arch, 64, init=init, generator=torch.Generator().manual_seed(0))
    layer = genome.layers[0]
    recurrent = layer["recurrent"] @ layer["embeddings"].T
    assert recurrent.square().mean().item() == pytest.approx(1 / 200, rel=0.15)
    direct = DirectGenome.random(arch, generator=torch.Generator().manual_seed(0))
    assert direct.layers[0]["recurrent"].abs().max().item() <= 200**-0.5


# --------------------------------------------------------------------- decoding
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_sequence_forward_is_the_step_loop_and_exports_back(encoding, spec):
    genome = make(encoding, spec, 1)
    net = decode(genome)
    assert isinstance(net, RecurrentNetwork)
    x = sequences(genome.architecture)
    y = net(x)
    assert y.shape == (4, 5, genome.architecture.n_classes)
    state = net.initial_state(4)
    assert [s.shape for s in state] == [(4, genome.widths[i]) for i in genome.architecture.recurrent_layers]
    for t in range(5):
        out, state = net.step(x[:, t], state)
        torch.testing.assert_close(out, y[:, t])
    assert not torch.allclose(y[:, 1], net.step(x[:, 1], net.initial_state(4))[0])  # the state matters
    assert net.to_genome() == genome


@pytest.mark.parametrize("spec", SPECS)
def test_direct_equivalent_materialises_the_recurrent_weights(spec):
    genome = make("embedding", spec, 2)
    direct = direct_equivalent(genome)
    x = sequences(genome.architecture)
    torch.testing.assert_close(decode(direct)(x), decode(genome)(x), atol=1e-5, rtol=1e-4)
    index = genome.architecture.recurrent_layers[0]
    layer = genome.layers[index]
    torch.testing.assert_close(direct.layers[index]["recurrent"], (layer["recurrent"] @ layer["embeddings"].T).T)


def test_feed_forward_networks_step_without_state():
    genome = make("embedding", "3-6-2", 0)
    net = decode(genome)
    x = torch.randn(4, 3)
    assert net.initial_state(4) == ()
    out, state = net.step(x, ())
    assert state == () and torch.equal(out, net(x))


def test_recurrent_modules_refuse_single_steps_and_foreign_states():
    net = decode(make("direct", "3-5r-4-6r-2", 0))
    with pytest.raises(ValueError, match="sequences"):
        net(torch.randn(4, 3))
    with pytest.raises(ValueError, match="2 tensors"):
        net.step(torch.randn(4, 3), net.initial_state(4)[:1])
    with pytest.raises(ValueError, match="state of recurrent layer 2"):
        net.step(torch.randn(4, 3), (torch.zeros(4, 5), torch.zeros(4, 5)))


# ------------------------------------------------------- permutation invariance
@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["embedding", "direct"]), st.sampled_from(SPECS), st.integers(0, 10_000))
def test_permuting_a_recurrent_layer_changes_neither_function_nor_identity(encoding, spec, seed):
    genome = make(encoding, spec, seed)
    x = sequences(genome.architecture, seed=seed)
    expected = decode(genome)(x)
    generator = torch.Generator().manual_seed(seed)
    permuted = genome.clone()
    for index in genome.architecture.hidden_layers:
        permuted.permute_layer(index, torch.randperm(genome.widths[index], generator=generator))
    torch.testing.assert_close(decode(permuted)(x), expected, atol=1e-5, rtol=1e-4)
    assert permuted == genome
    assert permuted.content_hash == genome.content_hash
    index = genome.architecture.recurrent_layers[0]
    perturbed = permuted.clone()
    perturbed.layers[index] = perturbed.layers[index].replace(recurrent=perturbed.layers[index]["recurrent"] * 1.5)
    assert perturbed != genome and perturbed.content_hash != genome.content_hash


def test_direct_canonical_form_with_tied_records_tells_recurrent_weights_apart():
    """Two neurons with equal incoming weights and biases, told apart only by their recurrent
    weights: the canonical form (refinement) still ignores the stored order."""
    genome = make("direct", "3-4r-2", 0)
    layer = genome.layers[0]
    weight, bias = layer["weight"].clone(), layer["bias"].clone()
    weight[1], bias[1] = weight[0], bias[0]
    genome.layers[0] = layer.replace(weight=weight, bias=bias)
    swapped = genome.clone()
    swapped.permute_layer(0, [1, 0, 2, 3])
    assert not torch.equal(swapped.layers[0]["recurrent"], genome.layers[0]["recurrent"])
    assert swapped == genome and swapped.content_hash == genome.content_hash
    twisted = genome.clone()
    recurrent = twisted.layers[0]["recurrent"].clone()
    recurrent[0, 1] += 1.0
    twisted.layers[0] = twisted.layers[0].replace(recurrent=recurrent)
    assert twisted != genome and twisted.content_hash != genome.content_hash


# ------------------------------------------------------------------------ files
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_recurrent_genomes_round_trip_through_files(encoding, tmp_path):
    genome = make(encoding, "3-5r-4-6r-2", 3)
    loaded = load_genome(save_genome(genome, tmp_path / "g.safetensors"))
    assert loaded.architecture == genome.architecture and loaded.architecture.recurrent == (True, False, True)
    assert all(torch.equal(a[n], b[n]) for a, b in zip(loaded.layers, genome.layers) for n in a.names)
    assert loaded.content_hash == genome.content_hash
    x = sequences(genome.architecture)
    torch.testing.assert_close(decode(loaded)(x), decode(genome)(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_recurrent_networks_run_on_cuda(encoding):
    genome = make(encoding, "3-5r-4-6r-2", 4)
    x = sequences(genome.architecture)
    net = decode(genome, "cuda")
    assert all(s.is_cuda for s in net.initial_state(4))
    torch.testing.assert_close(net(x.cuda()).cpu(), decode(genome)(x), atol=1e-4, rtol=1e-3)
