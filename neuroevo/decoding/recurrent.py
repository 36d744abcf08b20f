"""Recurrent networks, one time step at a time.

A recurrent dense hidden layer ``l`` computes ``h_t = act(x_t W_l + h_{t-1} R_l + b_l)`` with
``h_{-1} = 0``: ``R_l[i, j]`` is the weight from its neuron ``i`` at step ``t - 1`` to its neuron
``j`` at step ``t``. Every other layer is the feed-forward layer it always is. The step works on
layers in direct form (``weight``, ``bias``, maybe ``kernels``, and ``recurrent`` whose row ``j``
holds neuron ``j``'s recurrent incoming weights, i.e. ``R^T``): a direct genome's records, or an
embedding genome's materialised ones (:func:`~neuroevo.decoding.equivalent.materialised_layers`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import direct_pre_activation, hidden_layer_output, prepare_input

#: The hidden state of a recurrent network: one ``[B, n_l]`` tensor per recurrent layer, in depth
#: order (``()`` for a feed-forward network).
State = tuple[Tensor, ...]


def zero_state(architecture: Architecture, widths: Sequence[int], batch: int, like: Tensor) -> State:
    """The state before the first step: zeros ``[batch, n_l]`` per recurrent layer.

    Args:
        widths: current width of every genome layer.
        like: a tensor whose device and dtype the state takes.
    """
    return tuple(like.new_zeros(batch, widths[index]) for index in architecture.recurrent_layers)


def recurrent_step(
    architecture: Architecture, layers: Sequence[Mapping[str, Tensor]], x: Tensor, state: Sequence[Tensor]
) -> tuple[Tensor, State]:
    """One time step of a network given in direct form.

    Args:
        architecture: the layer stack (conv layers as the records describe them).
        layers: each layer's direct records.
        x: ``[B, *input_shape]`` or ``[B, n_inputs]`` inputs at step ``t``.
        state: one ``[B, n_l]`` tensor per recurrent layer (step ``t - 1``'s outputs).

    Returns:
        ``(outputs [B, n_classes], state)``: the output layer's (linear) outputs and the new state.

    Raises:
        ValueError: a state that does not fit the recurrent layers (count or shape).
    """
    recurrent = architecture.recurrent_layers
    if len(state) != len(recurrent):
        raise ValueError(f"the state must hold {len(recurrent)} tensors (one per recurrent layer), got {len(state)}")
    previous = dict(zip(recurrent, state))
    h = prepare_input(x, architecture)
    new_state = []
    for index, layer in enumerate(layers):
        pre = direct_pre_activation(architecture, layer, index, h)
        if index in previous:
            h_prev = previous[index]
            if h_prev.shape != pre.shape:
                raise ValueError(
                    f"state of recurrent layer {index} has shape {list(h_prev.shape)}, expected {list(pre.shape)}"
                )
            pre = pre + h_prev @ layer["recurrent"].transpose(-1, -2)
        if index == len(layers) - 1:
            h = pre  # the output layer is linear
        else:
            h = hidden_layer_output(architecture, index, pre)
        if index in previous:
            new_state.append(h)
    return h, tuple(new_state)


def run_sequence(
    architecture: Architecture, layers: Sequence[Mapping[str, Tensor]], x: Tensor, state: Sequence[Tensor]
) -> tuple[Tensor, State]:
    """:func:`recurrent_step` over every step of ``x [B, T, *input_shape]`` (or ``[B, T, n_inputs]``).

    Returns:
        ``(outputs [B, T, n_classes], state after the last step)``.
    """
    outputs = []
    state = tuple(state)
    for t in range(x.shape[1]):
        out, state = recurrent_step(architecture, layers, x[:, t], state)
        outputs.append(out)
    return torch.stack(outputs, dim=1), state
