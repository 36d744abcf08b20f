"""Stateless building blocks shared by the decoded modules and the batched population evaluator.

Shapes use ``B`` for samples, ``m``/``n`` for neurons of consecutive layers, ``d`` for the embedding
width. Functions accept optional leading *population* dimensions on the genome tensors where noted.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroevo.architecture import Architecture

_SIGMAS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda t: t,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
}
_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
}


def sigma_function(name: str) -> Callable[[Tensor], Tensor]:
    """The weight-generation nonlinearity ``sigma`` by name (``identity``, ``tanh``, ``sinh``)."""
    return _SIGMAS[name]


def activation_function(name: str) -> Callable[[Tensor], Tensor]:
    """The hidden-layer activation by name (``relu``, ``tanh``, ``gelu``)."""
    return _ACTIVATIONS[name]


def prepare_input(x: Tensor, architecture: Architecture) -> Tensor:
    """Reshape a batch of samples for the first layer.

    Args:
        x: ``[B, *input_shape]`` or ``[B, n_inputs]``.

    Returns:
        ``[B, C, H, W]`` for a conv network, ``[B, n_inputs]`` for a dense one.
    """
    if architecture.n_conv:
        return x.reshape(x.shape[0], *architecture.input_shape)
    return x.reshape(x.shape[0], -1)


def generate_weight(z_prev: Tensor, z_next: Tensor, sigma: str = "identity") -> Tensor:
    """``W = sigma(Z_prev Z_next^T)``.

    Args:
        z_prev: ``[..., m, d]`` embeddings of the sending layer.
        z_next: ``[..., n, d]`` embeddings of the receiving layer.

    Returns:
        ``[..., m, n]``: ``W[i, j]`` is the weight from neuron ``i`` to neuron ``j``.
    """
    return sigma_function(sigma)(z_prev @ z_next.transpose(-1, -2))


def factored_is_cheaper(batch: int, m: int, d: int, n: int) -> bool:
    """Whether ``(x Z_prev) Z_next^T`` costs fewer multiply-adds than materialising ``W [m, n]``.

    Factored: ``B m d + B d n``. Materialised: ``m d n`` (generate W) ``+ B m n`` (apply it).
    """
    return batch * d * (m + n) < m * n * (d + batch)


def dense_from_embeddings(
    h: Tensor, z_prev: Tensor, z_next: Tensor, bias: Tensor, sigma: str = "identity"
) -> Tensor:
    """Apply a generated dense layer: ``h @ sigma(Z_prev Z_next^T) + b``.

    With ``sigma="identity"`` and when it is cheaper (:func:`factored_is_cheaper`) the weight matrix
    is never built: ``(h @ Z_prev) @ Z_next^T + b``.

    Args:
        h: ``[B, m]`` inputs.
        z_prev: ``[m, d]``; z_next: ``[n, d]``; bias: ``[n]``.

    Returns:
        ``[B, n]`` pre-activations.
    """
    m, d = z_prev.shape
    n = z_next.shape[0]
    if sigma == "identity" and factored_is_cheaper(h.shape[0], m, d, n):
        return torch.addmm(bias, h @ z_prev, z_next.T)
    return torch.addmm(bias, h, generate_weight(z_prev, z_next, sigma))


def separable_conv(h: Tensor, pointwise: Tensor, kernels: Tensor, bias: Tensor) -> Tensor:
    """Reverse-order depthwise separable ("blueprint separable") convolution.

    A 1x1 pointwise convolution mixes channels, then every output neuron applies its own
    ``k x k`` depthwise kernel ("same" padding), then its bias.

    Args:
        h: ``[B, c_in, H, W]``.
        pointwise: ``[c_out, c_in]`` (for embedding genomes: ``sigma(Z_prev Z^T)^T``).
        kernels: ``[c_out, k, k]``; bias: ``[c_out]``.

    Returns:
        ``[B, c_out, H, W]``.
    """
    mixed = torch.einsum("oi,bihw->bohw", pointwise, h)
    k = kernels.shape[-1]
    return F.conv2d(mixed, kernels.unsqueeze(1), bias, padding=k // 2, groups=kernels.shape[0])


def finish_conv_layer(h: Tensor, architecture: Architecture) -> Tensor:
    """Activation then max pooling (``architecture.pool``) after a conv layer."""
    h = activation_function(architecture.activation)(h)
    return F.max_pool2d(h, architecture.pool) if architecture.pool > 1 else h


def junction_inputs(h: Tensor, architecture: Architecture) -> Tensor:
    """The last conv layer's output as dense-layer inputs.

    Args:
        h: ``[B, c, h, w]``.

    Returns:
        ``[B, c]`` (``"gap"``: mean over positions) or ``[B, c * P]`` (flatten, channel major).
    """
    return h.mean(dim=(2, 3)) if architecture.junction == "gap" else h.flatten(1)


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
        ``[c * P, d]`` (channel major, matching :func:`junction_inputs`) or ``[c, d]`` for ``"gap"``.
    """
    if architecture.junction == "gap":
        return conv_embeddings
    if architecture.junction == "free":
        return features.flatten(0, 1)
    return (conv_embeddings.unsqueeze(1) * positions.unsqueeze(0)).flatten(0, 1)


def direct_pre_activation(architecture: Architecture, layer: Mapping[str, Tensor], index: int, h: Tensor) -> Tensor:
    """Pre-activations of direct-genome layer ``index`` given its input ``h``.

    Args:
        layer: the layer's neuron records or parameters (``weight``, ``bias``, maybe ``kernels``).
        h: ``[B, c_prev, H, W]`` (conv layer) or ``[B, fan_in]`` (dense layer).

    Returns:
        ``[B, n, H, W]`` (conv, before activation and pooling) or ``[B, n]``.
    """
    arch = architecture
    if not arch.is_conv(index):
        return F.linear(h, layer["weight"], layer["bias"])
    if arch.conv_style == "standard":
        return F.conv2d(h, layer["weight"], layer["bias"], padding=arch.kernel_size // 2)
    return separable_conv(h, layer["weight"], layer["kernels"], layer["bias"])


def hidden_layer_output(architecture: Architecture, index: int, pre: Tensor) -> Tensor:
    """What hidden layer ``index`` passes on: activation, and for conv layers pooling (and the
    junction's flatten or average after the last conv layer)."""
    arch = architecture
    if not arch.is_conv(index):
        return activation_function(arch.activation)(pre)
    h = finish_conv_layer(pre, arch)
    return junction_inputs(h, arch) if index == arch.n_conv - 1 else h
