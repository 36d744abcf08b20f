"""Interpolation crossover: children part way between the parents, neuron by neuron."""

from __future__ import annotations

import torch
from torch import Tensor

from neuroevo.genomes import Genome
from neuroevo.neurons import NeuronSet
from operators._records import interpolate_pairs
from operators._validation import check_fraction, check_hidden_layer, check_parents, layer_index, repair_probe
from operators.alignment import aligned_pairs, resolve_method
from operators.repair import Mix, repaired_children


def cx_interpolate(
    ind1: Genome,
    ind2: Genome,
    alpha: float = 0.5,
    layer: int | None = None,
    *,
    repair: bool = False,
    probe: Tensor | None = None,
) -> tuple[Genome, Genome]:
    """Interpolation: ``ind1`` becomes ``(1 - alpha) * A + alpha * B`` and ``ind2`` becomes
    ``alpha * A + (1 - alpha) * B``, neuron ``i`` with neuron ``i``, where ``A``, ``B`` are the
    parents as they were.

    Embedding genomes mix embeddings, biases, kernels, free junction features and recurrent keys
    (the input encoding is shared and never mixed); direct genomes mix weights, biases, kernels
    and recurrent weights (all read by position, so a recurrent layer's matrix mixes entry by
    entry). Output neurons mix class by class. ``alpha=0`` leaves both parents as they are; ``alpha=1`` swaps
    them.

    Layers of different widths (embedding genomes after :func:`mut_add_neuron` or
    :func:`mut_remove_neuron`): neurons ``i < min(n1, n2)`` are mixed pairwise as above; the wider
    parent's remaining neurons stay in its child as they are, so each child keeps its parent's
    widths. (Direct genomes always have equal widths.)

    Both individuals are modified in place (their ``layers`` entries are replaced by new neuron
    sets); ``fitness`` is not touched. Deterministic: no randomness.

    Args:
        ind1, ind2: compatible genomes (widths may differ, see above).
        alpha: interpolation weight of the other parent, in ``[0, 1]``.
        layer: the one genome layer to mix, or ``None`` for every layer.
        repair: direct genomes: REPAIR (:mod:`operators.repair`) every hidden layer from the first
            mixed one on, towards the same mixture of the parents' unit statistics. Needs ``probe``.
        probe: ``[B, *input_shape]`` inputs; needed only with ``repair=True``. Without it this
            operator uses no data.

    Returns:
        A tuple of two individuals ``(ind1, ind2)``.

    Raises:
        ValueError: incompatible genomes, a parent with NaN or Inf (or otherwise invalid; the
            message names ``ind1`` or ``ind2`` and the layer), ``alpha`` outside ``[0, 1]``,
            ``layer`` out of range, or ``repair`` without a direct genome and a probe. Both
            individuals are then unchanged.
    """
    check_parents(ind1, ind2)
    alpha = check_fraction("alpha", alpha)
    mixed = _mixed_layers(ind1, layer)
    probe = repair_probe(ind1, repair, probe)
    layers1, layers2 = _interpolated(ind1, ind2, mixed, alpha, partners={})
    if repair:
        mix = _interpolation_mix(ind1, mixed, alpha)
        layers1, layers2 = repaired_children(layers1, layers2, ind1, ind2, probe, mix)
    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2


def cx_interpolate_aligned(
    ind1: Genome,
    ind2: Genome,
    alpha: float = 0.5,
    layer: int | None = None,
    *,
    method: str | None = None,
    repair: bool = False,
    probe: Tensor | None = None,
) -> tuple[Genome, Genome]:
    """Aligned interpolation: match the parents' neurons, then interpolate matched pairs.

    ``ind2``'s hidden neurons are first reordered to match ``ind1``'s (:func:`match_neurons`;
    ``ind2``'s function is unchanged; a recurrent layer's recurrent columns are reordered with its
    neurons): embedding genomes, the mixed hidden layers by embedding similarity; direct genomes,
    every hidden layer. Then as :func:`cx_interpolate`. With ``repair=True`` this is the REPAIR
    baseline of Jordan et al. (2023).

    Layers of different widths (embedding genomes after structural mutation) are matched as far
    as they can be (:func:`~operators.alignment.aligned_pairs`: the ``min(n1, n2)`` best pairs of a
    rectangular assignment); matched pairs are mixed, and each parent's unmatched neurons stay in
    its child as they are, so each child keeps its parent's widths.

    Both individuals are modified in place; ``fitness`` is not touched. Deterministic.

    Args:
        ind1, ind2: compatible genomes (embedding genomes' widths may differ, see above).
        alpha: interpolation weight of the other parent, in ``[0, 1]``.
        layer: the one hidden layer to mix, or ``None`` for every layer (the output layer then
            mixes class by class).
        method: ``"embedding"`` (embedding genomes, default), ``"weights"`` (direct, default; no
            data) or ``"activation"`` (direct; needs ``probe``).
        repair: direct genomes: REPAIR the children on ``probe`` (see :func:`cx_interpolate`).
        probe: ``[B, *input_shape]`` inputs; needed by ``method="activation"`` and by
            ``repair=True``, not otherwise.

    Returns:
        A tuple of two individuals ``(ind1, ind2)``.

    Raises:
        ValueError: as :func:`cx_interpolate`, plus the output layer given as ``layer`` or a method
            that does not fit the encoding. Both individuals are then unchanged.
    """
    check_parents(ind1, ind2)
    alpha = check_fraction("alpha", alpha)
    mixed = _mixed_layers(ind1, layer)
    probe = repair_probe(ind1, repair, probe)
    if layer is not None:
        check_hidden_layer(ind1, mixed[0], "aligned interpolation of one layer")
    method = resolve_method(ind1, method)
    # Direct records are read in the previous layer's order, so every hidden layer is aligned.
    arch = ind1.architecture
    matched = None if ind1.encoding == "direct" else [i for i in mixed if not arch.is_output(i)]
    other, partners = aligned_pairs(ind1, ind2, method=method, layers=matched, probe=probe)
    layers1, layers2 = _interpolated(ind1, other, mixed, alpha, partners=partners)
    if repair:
        mix = _interpolation_mix(ind1, mixed, alpha)
        layers1, layers2 = repaired_children(layers1, layers2, ind1, other, probe, mix)
    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2


def _mixed_layers(genome: Genome, layer: int | None) -> list[int]:
    """The layers an interpolation mixes: ``[layer]`` (validated), or every layer when ``None``."""
    return list(range(genome.architecture.n_layers)) if layer is None else [layer_index(genome, layer)]


def _interpolated(
    ind1: Genome, ind2: Genome, mixed: list[int], alpha: float, *, partners: dict[int, Tensor]
) -> tuple[list[NeuronSet], list[NeuronSet]]:
    """The children's layer lists (new lists; the parents are not modified): in each layer of
    ``mixed``, ``ind1``'s neuron ``partners[l][j]`` (``j`` by default) is mixed with ``ind2``'s
    neuron ``j`` for ``j < min(n1, n2)`` (:func:`interpolate_pairs`)."""
    layers1, layers2 = list(ind1.layers), list(ind2.layers)
    for i in mixed:
        m = min(len(ind1.layers[i]), len(ind2.layers[i]))
        rows = partners.get(i, torch.arange(m))
        layers1[i], layers2[i] = interpolate_pairs(ind1.layers[i], rows, ind2.layers[i], torch.arange(m), alpha)
    return layers1, layers2


def _interpolation_mix(ind1: Genome, mixed: list[int], alpha: float) -> Mix:
    """REPAIR mix of ``ind1``'s child: ``alpha`` in the mixed layers, 0 in later hidden layers."""
    return {i: alpha if i in mixed else 0.0 for i in range(mixed[0], ind1.architecture.n_layers - 1)}
