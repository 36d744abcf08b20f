"""The operator skeleton: exchange and mix neuron records, whatever the encoding.

Everything here returns new tensors: results share no storage with their inputs.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.neurons import NeuronSet


def exchange_records(
    a: NeuronSet, index_a: Sequence[int], b: NeuronSet, index_b: Sequence[int]
) -> tuple[NeuronSet, NeuronSet]:
    """Swap the records ``a[index_a]`` and ``b[index_b]`` between two sets.

    With as many indices on both sides, record ``index_a[i]`` of ``a`` and record ``index_b[i]``
    of ``b`` trade places (positions are kept: the direct genome's and the output layer's
    neuron-``i``-for-neuron-``i`` swap). Otherwise each set drops its chosen records and appends
    the other's (hidden layers of embedding genomes, where positions mean nothing).

    Returns:
        The new sets ``(a', b')`` (copies).
    """
    n_a = len(a)
    both = NeuronSet.concat([a, b])  # rows [0, n_a) are a's, rows [n_a, n_a + n_b) are b's
    rows_a = list(range(n_a))
    rows_b = list(range(n_a, n_a + len(b)))
    if len(index_a) == len(index_b):
        for i, j in zip(index_a, index_b):
            rows_a[i], rows_b[j] = n_a + j, i
    else:
        chosen_a, chosen_b = set(index_a), set(index_b)
        rows_a = [r for r in rows_a if r not in chosen_a] + [n_a + j for j in index_b]
        rows_b = [n_a + j for j in range(len(b)) if j not in chosen_b] + list(index_a)
    return both.select(rows_a), both.select(rows_b)


def interpolate_pairs(
    a: NeuronSet, rows_a: Tensor, b: NeuronSet, rows_b: Tensor, alpha: float
) -> tuple[NeuronSet, NeuronSet]:
    """Interpolate matched pairs of records: ``a``'s neuron ``rows_a[j]`` with ``b``'s ``rows_b[j]``.

    Field by field, ``a' = a`` with ``a'[rows_a] = (1 - alpha) * a[rows_a] + alpha * b[rows_b]``,
    and ``b' = b`` with ``b'[rows_b] = alpha * a[rows_a] + (1 - alpha) * b[rows_b]``. Neurons of
    either set outside the pairs are kept as they are, so each result has its own set's width.
    Exact at the ends: ``alpha = 0`` keeps both sets' values, ``alpha = 1`` swaps the pairs.

    Args:
        a, b: sets of one record layout.
        rows_a, rows_b: ``[m]`` distinct indices into ``a`` and ``b``.
        alpha: interpolation weight of the other set.

    Returns:
        The new sets ``(a', b')`` (copies).
    """
    mixed_a, mixed_b = {}, {}
    for name in a.names:
        tensor_a, tensor_b = a[name], b[name]
        index_a, index_b = rows_a.to(tensor_a.device), rows_b.to(tensor_b.device)
        start, end = tensor_a[index_a], tensor_b[index_b]
        mixed_a[name], mixed_b[name] = tensor_a.clone(), tensor_b.clone()
        mixed_a[name][index_a] = torch.lerp(start, end, alpha)
        mixed_b[name][index_b] = torch.lerp(start, end, 1.0 - alpha)
    return NeuronSet(**mixed_a), NeuronSet(**mixed_b)


def outgoing_weights(architecture: Architecture, index: int, weight: Tensor) -> Tensor:
    """A view of layer ``index``'s incoming weights grouped by *sending* neuron.

    Row ``i`` of the result holds every weight leaving neuron ``i`` of layer ``index - 1``
    (its outgoing weights), so writing into the view writes into ``weight``. The column layout
    is the one :func:`neuroevo.genomes.permute_incoming_columns` permutes.

    Args:
        weight: a direct genome's ``weight`` field of layer ``index``: ``[n, fan_in]`` or
            ``[n, c_prev, k, k]`` (standard conv).

    Returns:
        ``[n_prev, n]`` (dense, separable conv, ``"gap"`` junction), ``[n_prev, n, P]``
        (flattening junction) or ``[n_prev, n, k, k]`` (standard conv).
    """
    arch = architecture
    if index == arch.n_conv and arch.n_conv and arch.junction != "gap":
        return weight.unflatten(1, (-1, arch.n_positions)).transpose(0, 1)
    return weight.transpose(0, 1)


def exchange_outgoing(
    architecture: Architecture, index: int, weight_a: Tensor, weight_b: Tensor, senders: Sequence[int]
) -> tuple[Tensor, Tensor]:
    """Swap the outgoing weights of neurons ``senders`` of layer ``index - 1`` between two direct
    genomes, given both genomes' ``weight`` fields of layer ``index`` (new tensors)."""
    new_a, new_b = weight_a.clone(), weight_b.clone()
    rows = torch.as_tensor(list(senders), dtype=torch.long)
    outgoing_weights(architecture, index, new_a)[rows] = outgoing_weights(architecture, index, weight_b)[rows]
    outgoing_weights(architecture, index, new_b)[rows] = outgoing_weights(architecture, index, weight_a)[rows]
    return new_a, new_b


def exchange_recurrent_outgoing(
    recurrent_a: Tensor, recurrent_b: Tensor, senders: Sequence[int]
) -> tuple[Tensor, Tensor]:
    """Swap the recurrent weights from neurons ``senders`` to the layer's *other* neurons between
    two direct genomes' recurrent layers (new tensors).

    Args:
        recurrent_a, recurrent_b: both layers' ``recurrent`` fields ``[n, n]`` (row ``j``: neuron
            ``j``'s recurrent incoming weights, column ``i``: neuron ``i``'s outgoing ones), after
            the senders' records were exchanged (:func:`exchange_records`, which moved the
            weights among the senders with them).
        senders: the moved neurons (positions).

    Returns:
        ``(a', b')``: entry ``[j, i]`` with ``i`` a sender and ``j`` not swapped, the rest kept.
    """
    stays = torch.ones(recurrent_a.shape[0], dtype=torch.bool, device=recurrent_a.device)
    stays[list(senders)] = False
    mask = stays.unsqueeze(1) & ~stays.unsqueeze(0)
    return torch.where(mask, recurrent_b, recurrent_a), torch.where(mask, recurrent_a, recurrent_b)
