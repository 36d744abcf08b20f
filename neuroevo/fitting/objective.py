"""The fit-to-reference objective (the paper's eq. 4) over the embedding factors of a genome.

A reference network's layer ``l`` has a weight matrix ``W_l [m_l, n_l]`` (row = sending neuron:
the transpose of a :class:`~neuroevo.genomes.DirectGenome` record's ``weight``; for a separable
conv layer, its pointwise weights). An embedding genome generates it as
``sigma(L_l Z_l^T)``, where ``Z_l`` are layer ``l``'s embeddings and the *left factor* ``L_l`` is
the input encoding (``l = 0``), the conv-to-dense junction's feature embeddings (first dense layer
after conv layers) or ``Z_{l-1}``. The objective is

    sum_l ||W_l - sigma(L_l Z_l^T)||_F^2 / (m_l n_l)

i.e. the sum over layers of the mean squared weight error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.embedding_maths import generate_weight, junction_embeddings
from neuroevo.genomes import DirectGenome


@dataclass
class EmbeddingFactors:
    """The trainable embeddings of a genome being fitted (all ``[*, d]``, one dtype and device).

    Attributes:
        inputs: ``[n_inputs, d]`` input-encoding rows.
        layers: ``Z_l [n_l, d]`` of every genome layer, in depth order.
        features: ``[c, P, d]`` free junction embeddings of the last conv layer (``"free"``
            junction), else ``None``.
        positions: ``[P, d]`` shared position embeddings (``"position"`` junction), else ``None``.
    """

    inputs: Tensor
    layers: list[Tensor]
    features: Tensor | None = None
    positions: Tensor | None = None

    def tensors(self, *, include_encoding: bool = True) -> list[Tensor]:
        """The factor tensors (``None`` s left out); without the input encoding's inputs and
        positions unless ``include_encoding``."""
        encoding = (self.inputs, self.positions) if include_encoding else ()
        return [t for t in (*encoding, *self.layers, self.features) if t is not None]

    def to(self, dtype: torch.dtype, device: torch.device | str | None = None) -> "EmbeddingFactors":
        """A detached copy in ``dtype`` on ``device`` (the current device when ``None``)."""

        def convert(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.detach().to(device, dtype).clone()

        return replace(
            self,
            inputs=convert(self.inputs),
            layers=[convert(z) for z in self.layers],
            features=convert(self.features),
            positions=convert(self.positions),
        )


def reference_weights(reference: DirectGenome) -> list[Tensor]:
    """``W_l [m_l, n_l]`` of every layer of a reference with dense or separable conv layers.

    Raises:
        ValueError: a standard (full k x k) conv layer, which no embedding genome generates.
    """
    if reference.architecture.n_conv and reference.architecture.conv_style != "separable":
        raise ValueError(
            "the reference has standard k x k conv layers; only separable conv references "
            "(train them with --encoding direct-separable) can be fitted by an embedding genome"
        )
    return [layer["weight"].detach().T for layer in reference.layers]


def left_factor(factors: EmbeddingFactors, architecture: Architecture, layer: int) -> Tensor:
    """``L_l``: the embeddings of the neurons (or junction features) that feed layer ``layer``."""
    if layer == 0:
        return factors.inputs
    if layer == architecture.n_conv:
        return junction_embeddings(factors.layers[layer - 1], architecture, factors.positions, factors.features)
    return factors.layers[layer - 1]


def layer_mse(
    factors: EmbeddingFactors, targets: list[Tensor], architecture: Architecture
) -> list[Tensor]:
    """Per-layer mean squared error ``||W_l - sigma(L_l Z_l^T)||_F^2 / (m_l n_l)`` (scalars, differentiable)."""
    return [
        (target - generate_weight(left_factor(factors, architecture, index), z, architecture.sigma))
        .square()
        .mean()
        for index, (target, z) in enumerate(zip(targets, factors.layers))
    ]


def objective(factors: EmbeddingFactors, targets: list[Tensor], architecture: Architecture) -> Tensor:
    """The paper's eq. 4: the sum of :func:`layer_mse` over layers."""
    return torch.stack(layer_mse(factors, targets, architecture)).sum()
