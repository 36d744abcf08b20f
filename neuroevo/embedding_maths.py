"""The pure maths of neuron embeddings: generated weights and the junction's input embeddings.

Tensor functions of embeddings and an :class:`~neuroevo.architecture.Architecture` only, below both
:mod:`neuroevo.genomes` (which uses them to initialise genomes) and :mod:`neuroevo.decoding`
(which uses them to build networks), so neither has to reach into the other.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from neuroevo.architecture import Architecture

_SIGMAS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda t: t,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
}


def sigma_function(name: str) -> Callable[[Tensor], Tensor]:
    """The weight-generation nonlinearity ``sigma`` by name (``identity``, ``tanh``, ``sinh``)."""
    return _SIGMAS[name]


def generate_weight(z_prev: Tensor, z_next: Tensor, sigma: str = "identity") -> Tensor:
    """``W = sigma(Z_prev Z_next^T)``.

    Args:
        z_prev: ``[..., m, d]`` embeddings of the sending layer.
        z_next: ``[..., n, d]`` embeddings of the receiving layer.

    Returns:
        ``[..., m, n]``: ``W[i, j]`` is the weight from neuron ``i`` to neuron ``j``.
    """
    return sigma_function(sigma)(z_prev @ z_next.transpose(-1, -2))


def junction_embeddings(
    conv_embeddings: Tensor, architecture: Architecture, positions: Tensor | None, features: Tensor | None
) -> Tensor:
    """Embeddings of the dense-layer inputs at the conv-to-dense junction.

    * ``"position"``: feature ``(i, p)`` has embedding ``z_i * e_p`` (elementwise), so its outgoing
      weights ``W[(i, p), j] = sigma((z_i * e_p) . z_j)`` come from the neuron's own embedding and
      the shared position embeddings ``e_p``: a moved conv neuron carries its outgoing weights.
    * ``"free"``: feature ``(i, p)`` has the free embedding ``features[i, p]`` (the paper's code).
    * ``"gap"``: the input is the position average, with embedding ``z_i``.

    Args:
        conv_embeddings: ``[c, d]`` embeddings of the last conv layer.
        positions: ``[P, d]`` shared position embeddings (``"position"`` only).
        features: ``[c, P, d]`` free feature embeddings (``"free"`` only).

    Returns:
        ``[c * P, d]`` (channel major, matching the junction's flatten) or ``[c, d]`` for ``"gap"``.
    """
    if architecture.junction == "gap":
        return conv_embeddings
    if architecture.junction == "free":
        return features.flatten(0, 1)
    return (conv_embeddings.unsqueeze(1) * positions.unsqueeze(0)).flatten(0, 1)
