"""An embedding genome's generated weights as a direct genome computing the same function."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.embedding_maths import generate_weight, junction_embeddings
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.neurons import NeuronSet

__all__ = ["direct_equivalent", "materialised_layers"]


def materialised_layers(
    architecture: Architecture,
    input_embeddings: Tensor,
    position_embeddings: Tensor | None,
    layers: Sequence[Mapping[str, Tensor]],
) -> list[dict[str, Tensor]]:
    """An embedding genome's layers as direct-genome records: its weights generated.

    Layer ``l`` becomes ``weight = sigma(Z_prev Z^T)^T`` (``[..., n, fan_in]``; at the
    conv-to-dense junction ``Z_prev`` are the junction embeddings), a recurrent layer also
    ``recurrent = sigma(R Z^T)^T`` (``[..., n, n]``: row ``j`` holds neuron ``j``'s recurrent
    incoming weights), and ``bias`` and ``kernels`` as they are (the same tensors, not copies).
    Differentiable, so a decoded module can apply it to its parameters.

    Args:
        architecture: the genome's layer stack (conv layers are separable).
        input_embeddings: ``[..., n_input_neurons, d]``, the input encoding's rows.
        position_embeddings: ``[P, d]`` (``"position"`` junction) or ``None``.
        layers: each layer's records (``embeddings``, ``bias``, maybe ``kernels``, ``features``,
            ``recurrent``), optionally with leading population dimensions on every tensor (dense
            architectures only).

    Returns:
        One dict of direct records per layer.
    """
    arch = architecture
    z_prev = input_embeddings
    result = []
    for index, layer in enumerate(layers):
        z = layer["embeddings"]
        if arch.n_conv and index == arch.n_conv:
            last = layers[index - 1]
            features = last["features"] if "features" in last else None
            z_prev = junction_embeddings(z_prev, arch, position_embeddings, features)
        records = {"weight": generate_weight(z_prev, z, arch.sigma).transpose(-1, -2), "bias": layer["bias"]}
        if "kernels" in layer:
            records["kernels"] = layer["kernels"]
        if "recurrent" in layer:
            records["recurrent"] = generate_weight(layer["recurrent"], z, arch.sigma).transpose(-1, -2)
        result.append(records)
        z_prev = z
    return result


def direct_equivalent(genome: EmbeddingGenome) -> DirectGenome:
    """The direct genome whose weights are ``genome``'s generated ones (same outputs, to float
    rounding), e.g. to apply direct-encoding operators (weight matching, REPAIR) to an embedding
    network, or to compare both encodings' operators on one network.

    Every layer's records are :func:`materialised_layers`: ``weight [n, fan_in]`` rows, a
    recurrent layer's ``recurrent [n, n]`` rows (``W_rec[i, j] = sigma(r_i . z_j)`` stored as
    neuron ``j``'s ``recurrent[i]``), biases and depthwise kernels copied (conv layers become
    separable direct conv layers, as embedding conv layers are). The hidden neuron order is kept,
    so neuron ``i`` of the result is neuron ``i`` of ``genome``. The result lives on the genome's
    device, in its dtype.

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
    inputs = genome.input_encoding.inputs.to(first.device, first.dtype)
    positions = genome.input_encoding.positions
    positions = None if positions is None else positions.to(first.device, first.dtype)
    layers = [
        NeuronSet(**{name: t.clone(memory_format=torch.contiguous_format) for name, t in records.items()})
        for records in materialised_layers(arch, inputs, positions, genome.layers)
    ]
    # Embedding conv layers are always separable (a pointwise weight and a depthwise kernel).
    return DirectGenome(arch.with_options(conv_style="separable") if arch.n_conv else arch, layers)
