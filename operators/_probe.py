"""A direct genome's forward pass one layer at a time, for operators that use a probe batch.

Built from the same functional blocks as :class:`neuroevo.decoding.DirectNetwork`; the tests
check that the last pre-activation equals the decoded network's output.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import (
    activation_function,
    finish_conv_layer,
    junction_inputs,
    prepare_input,
    separable_conv,
)
from neuroevo.neurons import NeuronSet


def pre_activation(architecture: Architecture, layer: NeuronSet, index: int, h: Tensor) -> Tensor:
    """Pre-activations of direct-genome layer ``index`` given its input ``h``.

    Args:
        layer: the layer's neuron records (``weight``, ``bias``, maybe ``kernels``).
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


def layer_output(architecture: Architecture, index: int, pre: Tensor) -> Tensor:
    """What hidden layer ``index`` passes on: activation, and for conv layers pooling (and the
    junction's flatten or average after the last conv layer)."""
    arch = architecture
    if not arch.is_conv(index):
        return activation_function(arch.activation)(pre)
    h = finish_conv_layer(pre, arch)
    return junction_inputs(h, arch) if index == arch.n_conv - 1 else h


@torch.no_grad()
def pre_activations(architecture: Architecture, layers: Sequence[NeuronSet], probe: Tensor) -> list[Tensor]:
    """Pre-activations of every layer on ``probe [B, *input_shape]`` or ``[B, n_inputs]`` (the last
    is the logits)."""
    h, result = prepare_input(probe, architecture), []
    for index, layer in enumerate(layers):
        pre = pre_activation(architecture, layer, index, h)
        result.append(pre)
        if index < len(layers) - 1:
            h = layer_output(architecture, index, pre)
    return result


def unit_samples(x: Tensor) -> Tensor:
    """Per-unit samples ``[samples, n]`` of a layer signal: ``[B, n]`` as is; ``[B, n, H, W]`` with
    every position of every image a sample of its channel (``[B * H * W, n]``)."""
    if x.dim() == 2:
        return x
    return x.transpose(0, 1).reshape(x.shape[1], -1).T


def unit_statistics(pre: Tensor) -> tuple[Tensor, Tensor]:
    """Per-unit mean and (population) standard deviation, each ``[n]``, of a layer signal."""
    samples = unit_samples(pre)
    return samples.mean(dim=0), samples.std(dim=0, unbiased=False)
