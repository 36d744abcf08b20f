"""Stateless building blocks shared by the decoded modules and the batched population evaluator.

The weight generation itself (``sigma``, ``W = sigma(Z_prev Z_next^T)``, the junction's input
embeddings) lives one level down, in :mod:`neuroevo.embedding_maths`, and is re-exported here.

Shapes use ``B`` for samples, ``m``/``n`` for neurons of consecutive layers, ``d`` for the embedding
width. Functions accept optional leading *population* dimensions on the genome tensors where noted.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.embedding_maths import generate_weight, junction_embeddings

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
}


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


def embedding_layer_outputs(
    architecture: Architecture,
    layers: Sequence[Mapping[str, Tensor]],
    input_embeddings: Tensor,
    position_embeddings: Tensor | None,
    x: Tensor,
) -> Iterator[tuple[int, Tensor, Tensor]]:
    """The forward pass of an embedding genome, one layer at a time.

    Args:
        layers: each layer's neuron records (``embeddings``, ``bias``, maybe ``kernels``/``features``).
        input_embeddings: ``[n_inputs, d]`` (dense) or ``[C, d]`` (conv) input encoding.
        position_embeddings: ``[P, d]`` shared position embeddings (``"position"`` junction) or ``None``.
        x: ``[B, *input_shape]`` or ``[B, n_inputs]`` inputs.

    Yields:
        ``(index, h, z)`` per layer in depth order: ``h`` what the layer passes on (``[B, n, H, W]``
        after activation and pooling for conv layers, ``[B, n]`` after the activation for dense hidden
        layers, the ``[B, n_classes]`` logits for the output layer) and ``z`` its ``[n, d]`` embeddings.
    """
    arch = architecture
    activate = activation_function(arch.activation)
    h = prepare_input(x, arch)
    z_prev = input_embeddings
    for index in range(arch.n_conv):
        layer = layers[index]
        pointwise = generate_weight(z_prev, layer["embeddings"], arch.sigma).T
        h = finish_conv_layer(separable_conv(h, pointwise, layer["kernels"], layer["bias"]), arch)
        z_prev = layer["embeddings"]
        yield index, h, z_prev
    if arch.n_conv:
        last = layers[arch.n_conv - 1]
        features = last["features"] if "features" in last else None
        z_prev = junction_embeddings(z_prev, arch, position_embeddings, features)
        h = junction_inputs(h, arch)
    for index in range(arch.n_conv, arch.n_layers):
        layer = layers[index]
        h = dense_from_embeddings(h, z_prev, layer["embeddings"], layer["bias"], arch.sigma)
        if index < arch.n_layers - 1:
            h = activate(h)
        z_prev = layer["embeddings"]
        yield index, h, z_prev
