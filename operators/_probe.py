"""A direct genome's forward pass one layer at a time, for operators that use a probe batch.

Uses the same per-layer functions as :class:`neuroevo.decoding.DirectNetwork`
(:func:`~neuroevo.decoding.functional.direct_pre_activation`,
:func:`~neuroevo.decoding.functional.hidden_layer_output`), keeping every pre-activation.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import direct_pre_activation, hidden_layer_output, prepare_input
from neuroevo.neurons import NeuronSet


@torch.no_grad()
def pre_activations(architecture: Architecture, layers: Sequence[NeuronSet], probe: Tensor) -> list[Tensor]:
    """Pre-activations of every layer on ``probe [B, *input_shape]`` or ``[B, n_inputs]`` (the last
    is the logits); a recurrent network is run one step from the zero state (the probe as the
    first step of a sequence), where its recurrent weights contribute nothing."""
    h, result = prepare_input(probe, architecture), []
    for index, layer in enumerate(layers):
        pre = direct_pre_activation(architecture, layer, index, h)
        result.append(pre)
        if index < len(layers) - 1:
            h = hidden_layer_output(architecture, index, pre)
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
