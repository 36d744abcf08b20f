"""What a dense hidden layer passes on, and how far two genomes disagree on it.

With ``sigma = identity`` the next layer reads hidden layer ``l`` only through its *summary*
``F_l(x) = h_l(x) Z_l`` (``[B, d]``: the activations weighted by the layer's embeddings), because
``h_l W = h_l Z_l Z_{l+1}^T = F_l Z_{l+1}^T``. A transplant into layer ``l`` of genome A therefore
keeps A's function exactly when the moved neurons leave ``F_l`` unchanged, and a neuron of layer
``l + 1`` taken from B computes in A what it computed in B when ``F_l^A = F_l^B``. The relative
mismatch ``|F_l^B - F_l^A| / |F_l^A|`` over a batch of inputs is thus a data-based measure of how
crossable two embedding genomes are at each depth (0: interchangeable).
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuroevo.decoding.functional import embedding_layer_outputs
from neuroevo.encoding import check_same_encoding
from neuroevo.genomes import EmbeddingGenome

__all__ = ["SUMMARY_IMAGES", "has_layer_summaries", "layer_summaries", "summary_mismatch"]

#: Images the sweeps' reports measure the layer-summary mismatch on (the first of the scored split).
SUMMARY_IMAGES = 2000


def has_layer_summaries(genome: object) -> bool:
    """Whether :func:`layer_summaries` applies: a dense embedding genome with ``sigma = identity``."""
    return (isinstance(genome, EmbeddingGenome) and not genome.architecture.n_conv
            and genome.architecture.sigma == "identity")


def _check_dense(genome: EmbeddingGenome) -> None:
    if has_layer_summaries(genome):
        return
    if not isinstance(genome, EmbeddingGenome):
        raise ValueError(f"layer summaries need an embedding genome, got {type(genome).__name__}")
    arch = genome.architecture
    if arch.n_conv:
        raise ValueError(f"layer summaries are defined for dense networks; {arch.spec} has conv layers")
    if arch.sigma != "identity":
        raise ValueError(f"layer summaries need sigma = identity (W = Z_prev Z_next^T), not {arch.sigma!r}")


@torch.no_grad()
def layer_summaries(genome: EmbeddingGenome, images: Tensor) -> list[Tensor]:
    """The summary ``F_l = h_l Z_l`` of every hidden layer on a batch of inputs.

    Args:
        genome: a dense embedding genome with ``sigma = identity``.
        images: ``[B, *input_shape]`` or ``[B, n_inputs]`` float inputs.

    Returns:
        One ``[B, d]`` tensor per hidden layer, in depth order.

    Raises:
        ValueError: not an embedding genome, conv layers, or ``sigma != identity``.
    """
    _check_dense(genome)
    first = genome.layers[0]["embeddings"]
    outputs = embedding_layer_outputs(genome.architecture, genome.layers, genome.input_encoding.inputs.to(first),
                                      None, images.to(first))
    return [h @ z for index, h, z in outputs if index in genome.architecture.hidden_layers]


def summary_mismatch(target: EmbeddingGenome, donor: EmbeddingGenome, images: Tensor) -> list[float]:
    """Relative disagreement ``|F_l^donor - F_l^target| / |F_l^target|`` (Frobenius, over the batch)
    of the two genomes' layer summaries, one value per hidden layer.

    Args:
        target, donor: dense embedding genomes of the same depth on one input encoding.
        images: ``[B, *input_shape]`` inputs (take them from a split the report names).

    Raises:
        ValueError: as :func:`layer_summaries`; different input encodings or depths.
    """
    _check_dense(target)
    _check_dense(donor)
    check_same_encoding(target.input_encoding, donor.input_encoding, "the two genomes")
    if target.architecture.n_layers != donor.architecture.n_layers:
        raise ValueError(
            f"the genomes differ in depth: {target.architecture.n_layers} vs {donor.architecture.n_layers} layers"
        )
    pairs = zip(layer_summaries(target, images), layer_summaries(donor, images))
    return [float((f_donor - f_target).norm() / f_target.norm().clamp_min(1e-12)) for f_target, f_donor in pairs]
