"""Genomes as a :class:`~neuroevo.control.policy.StackedPolicy`: a population's weights, stacked.

Each genome's weights are materialised (embedding genomes: ``W = sigma(Z_prev Z^T)`` and
``R = sigma(R_keys Z^T)``, every genome in one batched product; direct genomes: the transposes of
their records) and stacked along a leading population axis, so a whole population steps in one
batched call per layer.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from neuroevo.control.policy import StackedPolicy
from neuroevo.decoding.equivalent import materialised_layers
from neuroevo.genomes import EmbeddingGenome, Genome, check_genome

__all__ = ["stack_policies"]


def stack_policies(genomes: Sequence[Genome], device: torch.device | str | None = None) -> StackedPolicy:
    """Stack genomes of one dense architecture into one policy: member ``p`` is ``genomes[p]``.

    Member ``p`` computes what ``decode(genomes[p]).step`` computes: hidden layer ``l``
    ``h_t = act(x_t W_l + h_{t-1} R_l + b_l)`` (no ``R_l`` in a feed-forward layer), then the
    linear output layer.

    Args:
        genomes: dense genomes (no conv layers) of one encoding, one architecture (recurrent
            layers included) and the same current widths; embedding genomes also of one embedding
            width (their input encodings may differ). Not modified.
        device: where the policy's tensors live (the genomes' device when ``None``).

    Returns:
        A :class:`StackedPolicy` with ``weights[l] [P, n_{l-1}, n_l]``, ``biases[l] [P, n_l]`` and
        ``recurrent[l] [P, n_l, n_l]`` (rows: source neuron at ``t - 1``) or ``None``, sharing no
        storage with the genomes, and the architecture's activation.

    Raises:
        TypeError: an element that is not a genome.
        ValueError: no genomes, an invalid genome, conv layers, or genomes that differ in encoding,
            architecture, widths or embedding width (the message names the first such genome);
            an activation the policy does not support.
    """
    genomes = list(genomes)
    if not genomes:
        raise ValueError("stack_policies needs at least one genome")
    first = genomes[0]
    for position, genome in enumerate(genomes):
        _check_member(first, genome, position)
    arch = first.architecture
    layers = [
        {name: torch.stack([g.layers[index][name] for g in genomes]).to(device) for name in layer.names}
        for index, layer in enumerate(first.layers)
    ]
    if isinstance(first, EmbeddingGenome):
        layers = materialised_layers(arch, _input_embeddings(genomes, layers[0]["embeddings"]), None, layers)
    weights = [layer["weight"].transpose(-1, -2).contiguous() for layer in layers]
    biases = [layer["bias"].contiguous() for layer in layers]
    recurrent = [
        layer["recurrent"].transpose(-1, -2).contiguous() if "recurrent" in layer else None for layer in layers
    ]
    return StackedPolicy(weights, biases, recurrent, arch.activation)


def _check_member(first: Genome, genome: Genome, position: int) -> None:
    """Raise unless ``genome`` (``genomes[position]``) can be stacked with ``genomes[0]``."""
    check_genome(genome, f"genomes[{position}]")
    arch = genome.architecture
    if arch.n_conv:
        raise ValueError(f"stack_policies takes dense genomes; genomes[{position}] ({arch.spec}) has conv layers")
    for what, mine, theirs in (
        ("encoding", genome.encoding, first.encoding),
        ("architecture", arch, first.architecture),
        ("widths", genome.widths, first.widths),
    ):
        if mine != theirs:
            raise ValueError(f"genomes[{position}] has {what} {mine}, genomes[0] has {theirs}: one stack needs one")
    if isinstance(genome, EmbeddingGenome) and genome.d != first.d:
        raise ValueError(f"genomes[{position}] has embedding width d={genome.d}, genomes[0] has d={first.d}")


def _input_embeddings(genomes: list[EmbeddingGenome], like: Tensor) -> Tensor:
    """The input encodings' rows on ``like``'s device and dtype: ``[n_inputs, d]`` when every genome
    shares one basis (broadcast over the population), else stacked ``[P, n_inputs, d]``."""
    identities = {g.input_encoding.identity for g in genomes}
    if len(identities) == 1:
        return genomes[0].input_encoding.inputs.to(like.device, like.dtype)
    return torch.stack([g.input_encoding.inputs for g in genomes]).to(like.device, like.dtype)
