"""Neuron transplant: the paper's crossover, and its aligned variant."""

from __future__ import annotations

import random

import torch
from torch import Tensor

from neuroevo.genomes import Genome
from operators._records import exchange_outgoing, exchange_records
from operators._validation import (
    check_compatible,
    check_encoding,
    check_fraction,
    check_genome,
    check_hidden_layer,
    check_probe,
    layer_index,
)
from operators.alignment import aligned_pairs, resolve_method
from operators.randomness import choose_neurons, neuron_count, python_rng
from operators.repair import repaired_children


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
      features), so a moved neuron regenerates its incoming *and* outgoing weights in its new
      network. Hidden layers may differ in width: ``ind1`` loses ``k1`` neurons and gains ``k2``.
    * Direct genomes (equal shapes) swap the records at the same ``k`` random indices: neuron ``i``
      of ``ind1`` becomes neuron ``i`` of ``ind2``'s incoming weights and bias (the paper's
      baseline); ``move_outgoing=True`` also swaps those neurons' outgoing weights (the matching
      columns of the next layer).
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
    return _transplant(ind1, ind2, layer, coefficient, False, None, move_outgoing, repair, probe, rng)


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
    this leaves ``ind2``'s function unchanged): for embedding genomes only the chosen layer, by
    embedding similarity (no data); for direct genomes every hidden layer, so that moved incoming
    weights are read in the matching basis. Then ``k = round(coefficient * n)`` random neurons
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
    return _transplant(ind1, ind2, layer, coefficient, True, method, move_outgoing, repair, probe, rng)


def _transplant(
    ind1: Genome,
    ind2: Genome,
    layer: int,
    coefficient: float,
    aligned: bool,
    method: str | None,
    move_outgoing: bool,
    repair: bool,
    probe: Tensor | None,
    rng: random.Random | None,
) -> tuple[Genome, Genome]:
    # Validate and compute everything first; the individuals change only in the last two lines.
    check_genome(ind1, "ind1")
    check_genome(ind2, "ind2")
    check_compatible(ind1, ind2)
    index = layer_index(ind1, layer)
    coefficient = check_fraction("coefficient", coefficient)
    arch = ind1.architecture
    direct = ind1.encoding == "direct"
    if repair:
        check_encoding(ind1, "direct", "REPAIR")
        probe = check_probe(ind1, probe, "REPAIR")
    if aligned:
        check_hidden_layer(ind1, index, "aligned transplant")
        method = resolve_method(ind1, method)
        other, partners = aligned_pairs(ind1, ind2, method=method, layers=None if direct else [index], probe=probe)
    else:
        other, partners = ind2, {}
    # Keyed layers swap pairs: ind1's neuron rows[j] with other's neuron j. Direct shapes and
    # class keys are equal (checked above); aligned layers pair min(n1, n2) matched neurons.
    keyed = direct or aligned or arch.is_output(index)

    rng = python_rng(rng)
    n1, n2 = len(ind1.layers[index]), len(other.layers[index])
    if keyed:
        rows = partners.get(index, torch.arange(n1))
        index2 = choose_neurons(rng, len(rows), neuron_count(coefficient, len(rows)))
        index1 = rows[index2].tolist()
    else:
        index1 = choose_neurons(rng, n1, neuron_count(coefficient, n1))
        index2 = choose_neurons(rng, n2, neuron_count(coefficient, n2))
    layers1, layers2 = list(ind1.layers), list(other.layers)
    layers1[index], layers2[index] = exchange_records(layers1[index], index1, layers2[index], index2)
    if direct and move_outgoing and not arch.is_output(index):
        successor = index + 1
        weight1, weight2 = exchange_outgoing(
            arch, successor, layers1[successor]["weight"], layers2[successor]["weight"], index1
        )
        layers1[successor] = layers1[successor].replace(weight=weight1)
        layers2[successor] = layers2[successor].replace(weight=weight2)
    if repair:
        moved = torch.zeros(n1)
        moved[index1] = 1.0
        mix = {i: moved if i == index else 0.0 for i in range(index, arch.n_layers - 1)}
        layers1, layers2 = repaired_children(layers1, layers2, ind1, other, probe, mix)

    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2
