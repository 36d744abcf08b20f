import pytest
import torch

from neuroevo import Architecture, DirectGenome, EmbeddingGenome, NeuronSet, decode, direct_equivalent
from neuroevo.decoding import dense_from_embeddings, factored_is_cheaper, generate_weight, junction_embeddings
from tests.conftest import small_conv, small_dense


@pytest.mark.parametrize("sigma", ["identity", "tanh", "sinh"])
def test_dense_layer_matches_materialised_weights(sigma):
    gen = torch.Generator().manual_seed(0)
    h, z_prev, z_next, bias = (torch.randn(s, generator=gen) for s in ((5, 30), (30, 4), (20, 4), (20,)))
    expected = h @ generate_weight(z_prev, z_next, sigma) + bias
    torch.testing.assert_close(dense_from_embeddings(h, z_prev, z_next, bias, sigma), expected)


def test_factored_form_is_chosen_only_when_cheaper():
    assert factored_is_cheaper(batch=1000, m=784, d=64, n=400)
    assert not factored_is_cheaper(batch=1000, m=16, d=64, n=16)


def test_generated_weights_follow_the_formula():
    genome = EmbeddingGenome.random(small_dense().with_options(sigma="tanh"), 4)
    net = decode(genome)
    x = torch.randn(3, 16)
    w0 = torch.tanh(genome.input_encoding.inputs @ genome.layers[0]["embeddings"].T)
    h = torch.relu(x @ w0 + genome.layers[0]["bias"])
    w1 = torch.tanh(genome.layers[0]["embeddings"] @ genome.layers[1]["embeddings"].T)
    h = torch.relu(h @ w1 + genome.layers[1]["bias"])
    w2 = torch.tanh(genome.layers[1]["embeddings"] @ genome.layers[2]["embeddings"].T)
    torch.testing.assert_close(net(x), h @ w2 + genome.layers[2]["bias"])


def _reference_position_network(genome: EmbeddingGenome, x: torch.Tensor) -> torch.Tensor:
    """The paper's formulas written out for 1x8x8-Cc-Cc-n-classes, position junction, pool 1, ReLU,
    sigma = identity, without the package's decoding functions: pointwise weights ``Z_prev Z^T``
    then each neuron's depthwise kernel; junction weights ``W[(i, p), j] = sum_d z_i[d] e_p[d] z_j[d]``
    with inputs flattened channel major."""
    arch, encoding = genome.architecture, genome.input_encoding
    h, z_prev = x, encoding.inputs
    for index in range(arch.n_conv):
        z, kernels, bias = (genome.layers[index][n] for n in ("embeddings", "kernels", "bias"))
        mixed = torch.einsum("bihw,io->bohw", h, z_prev @ z.T)
        k = kernels.shape[-1]
        h = torch.relu(torch.nn.functional.conv2d(mixed, kernels[:, None], bias, padding=k // 2, groups=len(z)))
        z_prev = z
    dense = genome.layers[arch.n_conv]
    weight = torch.einsum("id,pd,jd->ipj", z_prev, encoding.positions, dense["embeddings"])
    h = torch.relu(h.flatten(1) @ weight.flatten(0, 1) + dense["bias"])
    z_prev = dense["embeddings"]
    for layer in genome.layers[arch.n_conv + 1:]:
        h = h @ (z_prev @ layer["embeddings"].T) + layer["bias"]
        z_prev = layer["embeddings"]
    return h


def test_position_junction_generates_weights_from_the_neurons_own_embedding():
    arch = small_conv("position").with_options(pool=1)
    genome = EmbeddingGenome.random(arch, 5, generator=torch.Generator().manual_seed(0))
    conv_z = genome.layers[arch.n_conv - 1]["embeddings"]
    positions = genome.input_encoding.positions
    features = junction_embeddings(conv_z, arch, positions, None)
    # Feature (i, p), channel major, has the embedding z_i * e_p: neuron i's own embedding only.
    assert features.shape == (len(conv_z) * len(positions), 5)
    for i in range(len(conv_z)):
        for p in range(len(positions)):
            torch.testing.assert_close(features[i * len(positions) + p], conv_z[i] * positions[p])
    # The decoded network uses exactly those weights.
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(decode(genome)(x), _reference_position_network(genome, x), rtol=1e-4, atol=1e-5)
    # Moving neuron 0 elsewhere moves its block of outgoing weights with it, unchanged.
    moved = genome.clone()
    moved.permute_layer(arch.n_conv - 1, torch.tensor([3, 4, 5, 0, 1, 2]))
    moved_features = junction_embeddings(moved.layers[arch.n_conv - 1]["embeddings"], arch, positions, None)
    blocks, moved_blocks = features.unflatten(0, (6, -1)), moved_features.unflatten(0, (6, -1))
    torch.testing.assert_close(moved_blocks[3], blocks[0])
    torch.testing.assert_close(decode(moved)(x), decode(genome)(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_training_updates_genome_parameters_and_exports_them(encoding):
    arch = small_conv("free")
    genome = EmbeddingGenome.random(arch, 4) if encoding == "embedding" else DirectGenome.random(arch)
    net = decode(genome)
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(torch.randn(8, 1, 8, 8)), torch.randint(0, 3, (8,)))
    loss.backward()
    optimiser.step()
    exported = net.to_genome()
    assert exported != genome
    assert type(exported) is type(genome) and exported.widths == genome.widths
    torch.testing.assert_close(decode(exported)(torch.ones(2, 1, 8, 8)), net(torch.ones(2, 1, 8, 8)))


def test_input_encoding_is_frozen_unless_requested():
    genome = EmbeddingGenome.random(small_dense(), 4)
    frozen = decode(genome)
    assert not frozen.input_embeddings.requires_grad
    assert frozen.to_genome().input_encoding is genome.input_encoding
    trainable = decode(genome, train_input_encoding=True)
    assert trainable.input_embeddings.requires_grad
    with torch.no_grad():
        trainable.input_embeddings.add_(0.1)
    assert trainable.to_genome().input_encoding != genome.input_encoding


def test_decoding_does_not_alias_the_genome():
    genome = EmbeddingGenome.random(small_dense(), 4)
    snapshot = genome.clone()
    net = decode(genome)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert genome == snapshot


def test_printed_module_names_the_architecture():
    assert "784-400-10" in repr(decode(EmbeddingGenome.random(Architecture.parse("784-400-10"), 8)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_cpu_and_cuda_agree(encoding):
    arch = small_conv("position")
    genome = EmbeddingGenome.random(arch, 4) if encoding == "embedding" else DirectGenome.random(arch)
    x = torch.randn(6, 1, 8, 8)
    torch.testing.assert_close(decode(genome, "cuda")(x.cuda()).cpu(), decode(genome)(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("junction", ["position", "free", "gap"])
def test_outputs_do_not_depend_on_batch_composition(junction):
    """No batch norm: a sample's logits are the same whatever else is in its batch."""
    genome = EmbeddingGenome.random(small_conv(junction), 4, generator=torch.Generator().manual_seed(3))
    net = decode(genome)
    x = torch.randn(16, 1, 8, 8)
    together = net(x)
    alone = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
    shuffled = net(torch.cat([x[8:], x[:8]]))
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.cat([shuffled[8:], shuffled[:8]]), together, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "arch",
    [small_dense(), Architecture.parse("16-12-8-3", sigma="tanh"), small_conv("position"), small_conv("free"),
     small_conv("gap"), small_conv("position", conv_style="standard")],
    ids=["dense", "dense-tanh", "conv-position", "conv-free", "conv-gap", "conv-style-standard"],
)
def test_direct_equivalent_computes_the_same_function_and_shares_no_storage(arch):
    genome = EmbeddingGenome.random(arch, 5, generator=torch.Generator().manual_seed(0))
    before = genome.clone()
    direct = direct_equivalent(genome)
    x = torch.randn(7, *arch.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(decode(direct)(x), decode(genome)(x), atol=1e-5, rtol=1e-4)
    assert isinstance(direct, DirectGenome) and direct.widths == genome.widths
    genome_storage = {t.untyped_storage().data_ptr() for layer in genome.layers for _, t in layer.items()}
    assert not genome_storage & {t.untyped_storage().data_ptr() for layer in direct.layers for _, t in layer.items()}
    assert genome == before


def test_direct_equivalent_needs_an_embedding_genome():
    with pytest.raises(ValueError, match="embedding genome"):
        direct_equivalent(DirectGenome.random(small_dense()))


def test_direct_equivalent_keeps_the_genome_dtype():
    genome = EmbeddingGenome.random(small_dense(), 5, generator=torch.Generator().manual_seed(0))
    genome.layers = [NeuronSet(**{name: t.double() for name, t in layer.items()}) for layer in genome.layers]
    direct = direct_equivalent(genome)
    assert all(layer["weight"].dtype == torch.float64 for layer in direct.layers)
