"""Neuron transplant: the paper's crossover, and its aligned variant."""

from __future__ import annotations

import random
from typing import Sequence

import torch
from torch import Tensor

from neuroevo.genomes import Genome
from neuroevo.neurons import NeuronSet
from operators._records import exchange_outgoing, exchange_records, exchange_recurrent_outgoing
from operators._validation import (
    check_fraction,
    check_hidden_layer,
    check_parents,
    layer_index,
    repair_probe,
)
from operators.alignment import aligned_pairs, resolve_method
from operators.randomness import choose_neurons, neuron_count, python_rng
from operators.repair import Mix, repaired_children


def cx_transplant(
    ind1: Genome,
    ind2: Genome,
    layer: int = 0,
    coefficient: float = 0.5,
    *,
    move_outgoing: bool = False,
    repair: bool = False,
    probe: Tensor | None = None,
    rng: random.Random | None = None,
) -> tuple[Genome, Genome]:
    """Neuron transplant: in layer ``layer``, each individual receives a fraction ``coefficient``
    of its neurons from the other, chosen at random.

    ``k1 = round(coefficient * n1)`` random neurons of ``ind1`` and ``k2 = round(coefficient * n2)``
    of ``ind2`` trade places (half rounds up; ``coefficient=1`` swaps the whole layer, 0 changes
    nothing).

    * Embedding genomes move whole neuron records (embedding, bias, kernel, free junction
      features, recurrent key), so a moved neuron regenerates its incoming *and* outgoing weights
      (recurrent ones included) in its new network. Hidden layers may differ in width: ``ind1``
      loses ``k1`` neurons and gains ``k2``.
    * Direct genomes (equal shapes) swap the records at the same ``k`` random indices: neuron ``i``
      of ``ind1`` becomes neuron ``i`` of ``ind2``'s incoming weights and bias (the paper's
      baseline); in a recurrent layer its recurrent incoming weights move too, still read by
      position (column ``p`` is whichever neuron holds position ``p`` in the child).
      ``move_outgoing=True`` also swaps those neurons' outgoing weights: the matching columns of
      the next layer and, in a recurrent layer, their recurrent weights to the neurons that stay.
    * The output layer is keyed by class: the records of ``k`` random classes are swapped, each
      staying at its class.

    Both individuals are modified in place (their ``layers`` entries are replaced by new neuron
    sets sharing no storage with the other individual); ``fitness`` is not touched.

    Args:
        ind1, ind2: compatible genomes (DEAP individuals).
        layer: genome layer index (conv, dense hidden, then output; negative counts from the end).
        coefficient: fraction of the layer's neurons exchanged, in ``[0, 1]``.
        move_outgoing: direct genomes: also swap the moved neurons' outgoing weights (ignored for
            the output layer, which has none, and for embedding genomes, whose neurons always
            carry them).
        repair: direct genomes: REPAIR (:mod:`operators.repair`) the transplanted layer and every
            later hidden layer, each unit towards the statistics of the parent its record came
            from. Needs ``probe``.
        probe: ``[B, *input_shape]`` inputs; needed only with ``repair=True``. Without it this
            operator uses no data.
        rng: source of randomness (which neurons move); Python's :mod:`random` when ``None``.

    Returns:
        A tuple of two individuals ``(ind1, ind2)``.

    Raises:
        ValueError: incompatible genomes (different input encodings, embedding widths, layer
            kinds, or direct layer shapes), a parent with NaN or Inf (or otherwise invalid; the
            message names ``ind1`` or ``ind2`` and the layer), ``coefficient`` outside ``[0, 1]``,
            ``layer`` out of range, or ``repair`` without a direct genome and a probe. Both
            individuals are then unchanged.
    """
    check_parents(ind1, ind2)
    index = layer_index(ind1, layer)
    coefficient = check_fraction("coefficient", coefficient)
    probe = repair_probe(ind1, repair, probe)
    rng = python_rng(rng)
    n1, n2 = len(ind1.layers[index]), len(ind2.layers[index])
    if ind1.encoding == "direct" or ind1.architecture.is_output(index):
        # Keyed by position (direct shapes are equal) or by class: neuron i for neuron i.
        index1 = index2 = choose_neurons(rng, n1, neuron_count(coefficient, n1))
    else:
        index1 = choose_neurons(rng, n1, neuron_count(coefficient, n1))
        index2 = choose_neurons(rng, n2, neuron_count(coefficient, n2))
    layers1, layers2 = _transplanted(ind1, ind2, index, index1, index2, move_outgoing=move_outgoing)
    if repair:
        mix = _transplant_mix(ind1, index, index1)
        layers1, layers2 = repaired_children(layers1, layers2, ind1, ind2, probe, mix)
    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2


def cx_transplant_aligned(
    ind1: Genome,
    ind2: Genome,
    layer: int = 0,
    coefficient: float = 0.5,
    *,
    method: str | None = None,
    move_outgoing: bool = False,
    repair: bool = False,
    probe: Tensor | None = None,
    rng: random.Random | None = None,
) -> tuple[Genome, Genome]:
    """Aligned neuron transplant: match the parents' neurons, then swap matched pairs.

    ``ind2``'s hidden neurons are first reordered to match ``ind1``'s (:func:`match_neurons`;
    this leaves ``ind2``'s function unchanged, and reorders a recurrent layer's recurrent columns
    with its neurons): for embedding genomes only the chosen layer, by embedding similarity (no
    data); for direct genomes every hidden layer, so that moved incoming weights, recurrent ones
    included, are read in the matching basis. Then ``k = round(coefficient * n)`` random neurons
    ``i`` trade places with their matched partners, neuron ``i`` of ``ind2``, exactly as in
    :func:`cx_transplant`. Crossing a network with a permuted copy of itself changes neither.

    Layers of different widths (embedding genomes after :func:`mut_add_neuron` or
    :func:`mut_remove_neuron`) are matched as far as they can be
    (:func:`~operators.alignment.aligned_pairs`: the ``m = min(n1, n2)`` best pairs of a
    rectangular assignment), and ``round(coefficient * m)`` random matched pairs trade places.
    Unmatched neurons never move, so each child keeps its parent's width.

    Both individuals are modified in place; ``fitness`` is not touched.

    Args:
        ind1, ind2: compatible genomes (embedding genomes' widths may differ, see above).
        layer: a hidden layer (the output layer is already matched by class).
        coefficient: fraction of the matched pairs exchanged, in ``[0, 1]``.
        method: ``"embedding"`` (embedding genomes, default), ``"weights"`` (direct, default; Git
            Re-Basin weight matching, no data) or ``"activation"`` (direct; activation correlation
            on ``probe``).
        move_outgoing: direct genomes: also swap the moved neurons' outgoing weights.
        repair: direct genomes: REPAIR the children on ``probe`` (see :func:`cx_transplant`).
        probe: ``[B, *input_shape]`` inputs; needed by ``method="activation"`` and by
            ``repair=True``, not otherwise.
        rng: source of randomness (which neurons move); Python's :mod:`random` when ``None``.

    Returns:
        A tuple of two individuals ``(ind1, ind2)``.

    Raises:
        ValueError: as :func:`cx_transplant`, plus the output layer or a method that does not
            fit the encoding. Both individuals are then unchanged.
    """
    check_parents(ind1, ind2)
    index = layer_index(ind1, layer)
    coefficient = check_fraction("coefficient", coefficient)
    probe = repair_probe(ind1, repair, probe)
    check_hidden_layer(ind1, index, "aligned transplant")
    method = resolve_method(ind1, method)
    # Direct records are read in the previous layer's order, so every hidden layer is aligned.
    matched = None if ind1.encoding == "direct" else [index]
    other, partners = aligned_pairs(ind1, ind2, method=method, layers=matched, probe=probe)
    rows = partners[index]  # ind1's neuron rows[j] is the partner of other's neuron j
    rng = python_rng(rng)
    index2 = choose_neurons(rng, len(rows), neuron_count(coefficient, len(rows)))
    index1 = rows[index2].tolist()
    layers1, layers2 = _transplanted(ind1, other, index, index1, index2, move_outgoing=move_outgoing)
    if repair:
        mix = _transplant_mix(ind1, index, index1)
        layers1, layers2 = repaired_children(layers1, layers2, ind1, other, probe, mix)
    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2


def _transplanted(
    ind1: Genome, ind2: Genome, index: int, index1: Sequence[int], index2: Sequence[int], *, move_outgoing: bool
) -> tuple[list[NeuronSet], list[NeuronSet]]:
    """The children's layer lists (new lists; the parents are not modified): records ``index1`` of
    ``ind1``'s layer ``index`` and ``index2`` of ``ind2``'s trade places (:func:`exchange_records`);
    with ``move_outgoing`` (direct genomes, hidden layers; then ``index1 == index2``) the moved
    neurons' outgoing weights trade places too, to the next layer and, in a recurrent layer, to
    the neurons of their own layer that stay."""
    arch = ind1.architecture
    layers1, layers2 = list(ind1.layers), list(ind2.layers)
    layers1[index], layers2[index] = exchange_records(layers1[index], index1, layers2[index], index2)
    if ind1.encoding != "direct" or not move_outgoing or arch.is_output(index):
        return layers1, layers2
    successor = index + 1
    weight1, weight2 = exchange_outgoing(
        arch, successor, layers1[successor]["weight"], layers2[successor]["weight"], index1
    )
    layers1[successor] = layers1[successor].replace(weight=weight1)
    layers2[successor] = layers2[successor].replace(weight=weight2)
    if arch.is_recurrent(index):
        recurrent1, recurrent2 = exchange_recurrent_outgoing(
            layers1[index]["recurrent"], layers2[index]["recurrent"], index1
        )
        layers1[index] = layers1[index].replace(recurrent=recurrent1)
        layers2[index] = layers2[index].replace(recurrent=recurrent2)
    return layers1, layers2


def _transplant_mix(ind1: Genome, index: int, moved: Sequence[int]) -> Mix:
    """REPAIR mix of ``ind1``'s child: each unit of layer ``index`` towards the parent its record
    came from (1 for the moved neurons ``moved``), every later hidden layer towards ``ind1``."""
    from_other = torch.zeros(len(ind1.layers[index]))
    from_other[list(moved)] = 1.0
    return {i: from_other if i == index else 0.0 for i in range(index, ind1.architecture.n_layers - 1)}
