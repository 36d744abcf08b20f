"""An embedding genome's generated weights as a direct genome computing the same function."""

from __future__ import annotations

from neuroevo.embedding_maths import generate_weight, junction_embeddings
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.neurons import NeuronSet

__all__ = ["direct_equivalent"]


def direct_equivalent(genome: EmbeddingGenome) -> DirectGenome:
    """The direct genome whose weights are ``genome``'s generated ones (same outputs, to float
    rounding), e.g. to apply direct-encoding operators (weight matching, REPAIR) to an embedding
    network, or to compare both encodings' operators on one network.

    Every layer's records become ``weight = sigma(Z_prev Z^T)^T`` rows (``[n, fan_in]``; at the
    conv-to-dense junction ``Z_prev`` are the junction embeddings), with the biases and depthwise
    kernels copied (conv layers become separable direct conv layers, as embedding conv layers
    are). The hidden neuron order is kept, so neuron ``i`` of the result is neuron ``i`` of
    ``genome``. The result lives on the genome's device, in its dtype.

    Args:
        genome: an embedding genome (not modified).

    Returns:
        A :class:`DirectGenome` of the same architecture, sharing no storage with ``genome``.

    Raises:
        ValueError: ``genome`` is not an embedding genome.
    """
    if not isinstance(genome, EmbeddingGenome):
        raise ValueError(f"direct_equivalent needs an embedding genome, got {type(genome).__name__}")
    arch = genome.architecture
    first = genome.layers[0]["embeddings"]
    z_prev = genome.input_encoding.inputs.to(first.device, first.dtype)
    positions = genome.input_encoding.positions
    layers = []
    for index, layer in enumerate(genome.layers):
        if arch.n_conv and index == arch.n_conv:
            last = genome.layers[index - 1]
            features = last["features"] if "features" in last else None
            positions = None if positions is None else positions.to(first.device, first.dtype)
            z_prev = junction_embeddings(z_prev, arch, positions, features)
        records = {"weight": generate_weight(z_prev, layer["embeddings"], arch.sigma).T.contiguous(),
                   "bias": layer["bias"].clone()}
        if "kernels" in layer:
            records["kernels"] = layer["kernels"].clone()
        layers.append(NeuronSet(**records))
        z_prev = layer["embeddings"]
    # Embedding conv layers are always separable (a pointwise weight and a depthwise kernel).
    return DirectGenome(arch.with_options(conv_style="separable") if arch.n_conv else arch, layers)
