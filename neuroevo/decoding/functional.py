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
_IN_PLACE_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu_, "tanh": torch.tanh_}

#: Activations that never decrease, so that max pooling commutes with them (and with adding a bias).
MONOTONE_ACTIVATIONS = ("relu", "tanh")


def activation_function(name: str, *, in_place: bool = False) -> Callable[[Tensor], Tensor]:
    """The hidden-layer activation by name.

    Args:
        name: ``"relu"``, ``"tanh"`` or ``"gelu"``.
        in_place: the version that overwrites its argument, where torch has one (``relu``,
            ``tanh``); the out-of-place one otherwise.

    Returns:
        A function of a tensor (any shape) to a tensor of the same shape.
    """
    if in_place and name in _IN_PLACE_ACTIVATIONS:
        return _IN_PLACE_ACTIVATIONS[name]
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
    ``k x k`` depthwise kernel ("same" padding), then its bias (:func:`depthwise_conv`).

    Args:
        h: ``[B, c_in, H, W]``.
        pointwise: ``[c_out, c_in]`` (for embedding genomes: ``sigma(Z_prev Z^T)^T``).
        kernels: ``[c_out, k, k]``; bias: ``[c_out]``.

    Returns:
        ``[B, c_out, H, W]``.
    """
    return depthwise_conv(torch.einsum("oi,bihw->bohw", pointwise, h), kernels, bias)


def depthwise_conv(h: Tensor, kernels: Tensor, bias: Tensor) -> Tensor:
    """Each map's own ``k x k`` kernel ("same" zero padding, a cross-correlation as in
    ``F.conv2d``), plus its bias.

    Args:
        h: ``[*L, H, W]`` maps: ``[B, c, H, W]`` in a module, ``[g, c, s, H, W]`` (genome major)
            in the batched forward.
        kernels: ``[*K, k, k]``, ``k`` odd, where ``K`` broadcasts against ``L``: map ``h[l]``
            gets kernel ``kernels[l]``. ``[c, k, k]`` for ``[B, c, H, W]``, ``[g, c, 1, k, k]`` for
            ``[g, c, s, H, W]``.
        bias: ``[*K]``.

    Returns:
        ``[*L, H, W]``.
    """
    if h.dim() == 4 and kernels.dim() == 3 and kernels.shape[0] == h.shape[1]:
        # One kernel per channel, shared by the batch: torch's grouped convolution (and autograd).
        return F.conv2d(h, kernels.unsqueeze(1), bias, padding=kernels.shape[-1] // 2, groups=kernels.shape[0])
    # Other layouts: the centre tap over the whole map, then every other tap over the rectangle its
    # shifted window covers (see docs/design_notes.md).
    k = kernels.shape[-1]
    height, width = h.shape[-2:]
    pad = k // 2
    taps = kernels[..., None, None, :, :]  # [*K, 1, 1, k, k]: each tap broadcasts over its map
    out = torch.addcmul(bias[..., None, None], h, taps[..., pad, pad])
    for dy in range(k):
        for dx in range(k):
            if (dy, dx) == (pad, pad):
                continue
            oy, ox = dy - pad, dx - pad  # output (y, x) reads input (y + oy, x + ox)
            rows_out = slice(max(0, -oy), height - max(0, oy))
            cols_out = slice(max(0, -ox), width - max(0, ox))
            rows_in = slice(max(0, oy), height + min(0, oy))
            cols_in = slice(max(0, ox), width + min(0, ox))
            if rows_out.start >= rows_out.stop or cols_out.start >= cols_out.stop:
                continue
            out[..., rows_out, cols_out].addcmul_(h[..., rows_in, cols_in], taps[..., dy, dx])
    return out


def max_pool(h: Tensor, pool: int) -> Tensor:
    """Max pooling of the last two axes, as ``F.max_pool2d(h, pool)``: ``pool x pool`` windows at
    stride ``pool``, remainders dropped, NaN propagated.

    Args:
        h: ``[*L, H, W]``.
        pool: the window's side (1: ``h`` itself).

    Returns:
        ``[*L, H // pool, W // pool]``.

    Computed as element-wise maxima of strided views (exact; faster on the CPU, see
    docs/design_notes.md), except while autograd records ``h``: then with ``F.max_pool2d``, which
    sends a tie's gradient to one element (as ``torch.nn.MaxPool2d``) where ``torch.maximum`` would
    split it.
    """
    if pool == 1:
        return h
    if _records_gradient(h):
        if h.dim() == 4:
            return F.max_pool2d(h, pool)
        return F.max_pool2d(h.flatten(0, -3), pool).unflatten(0, h.shape[:-2])
    height, width = h.shape[-2] // pool, h.shape[-1] // pool
    h = h[..., : height * pool, : width * pool]
    rows = h[..., 0::pool, :]
    for offset in range(1, pool):
        rows = torch.maximum(rows, h[..., offset::pool, :])
    out = rows[..., 0::pool]
    for offset in range(1, pool):
        out = torch.maximum(out, rows[..., offset::pool])
    return out


def finish_conv_layer(
    h: Tensor, architecture: Architecture, *, bias: Tensor | None = None, in_place: bool = False
) -> Tensor:
    """Activation then max pooling (``architecture.pool``) of a conv layer's pre-activations,
    adding their bias first when it was left out.

    Args:
        h: ``[*L, H, W]`` pre-activations (``[B, c, H, W]`` in a module, ``[g, c, s, H, W]`` or
            ``[s, g * c, H, W]`` in the batched forward), without the bias when ``bias`` is given.
        architecture: gives the activation and the pool.
        bias: ``None``, or the bias, broadcasting against ``h`` (e.g. ``[g, c, 1, 1, 1]``).
        in_place: ``h`` may be overwritten (the caller no longer needs it).

    Returns:
        ``[*L, H // pool, W // pool]``: ``max_pool(activation(h + bias))``.

    With a non-decreasing activation (:data:`MONOTONE_ACTIVATIONS`) and no gradient recorded, the
    pooling comes first: ``max(f(x + b)) = f(max(x) + b)`` exactly (rounding is monotone too), so
    the bias and the activation touch a ``pool^2``-th of the values. Under autograd the order is as
    written, so that gradients go where ``torch.nn.MaxPool2d`` sends them.
    """
    name, pool = architecture.activation, architecture.pool
    recording = _records_gradient(h) or (bias is not None and _records_gradient(bias))
    in_place = in_place and not recording
    if name in MONOTONE_ACTIVATIONS and not recording:
        h = max_pool(h, pool)
        fresh = in_place or pool > 1  # the pooled maps are a new tensor
        if bias is not None:
            h = h.add_(bias) if fresh else h + bias
        return activation_function(name, in_place=fresh)(h)
    if bias is not None:
        h = h + bias
    return max_pool(activation_function(name, in_place=in_place)(h), pool)


def _records_gradient(t: Tensor) -> bool:
    return torch.is_grad_enabled() and t.requires_grad


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
        h = finish_conv_layer(separable_conv(h, pointwise, layer["kernels"], layer["bias"]), arch, in_place=True)
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
