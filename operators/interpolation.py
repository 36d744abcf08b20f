"""Interpolation crossover: children part way between the parents, neuron by neuron."""

from __future__ import annotations

import torch
from torch import Tensor

from neuroevo.genomes import Genome
from operators._records import interpolate_pairs
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
from operators.repair import repaired_children


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

    Embedding genomes mix embeddings, biases, kernels and free junction features (the input
    encoding is shared and never mixed); direct genomes mix weights, biases and kernels. Output
    neurons mix class by class. ``alpha=0`` leaves both parents as they are; ``alpha=1`` swaps
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
    return _interpolate(ind1, ind2, alpha, layer, False, None, repair, probe)


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
    ``ind2``'s function is unchanged): embedding genomes, the mixed hidden layers by embedding
    similarity; direct genomes, every hidden layer. Then as :func:`cx_interpolate`. With
    ``repair=True`` this is the REPAIR baseline of Jordan et al. (2023), the strongest data-using
    one in the literature.

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
    return _interpolate(ind1, ind2, alpha, layer, True, method, repair, probe)


def _interpolate(
    ind1: Genome,
    ind2: Genome,
    alpha: float,
    layer: int | None,
    aligned: bool,
    method: str | None,
    repair: bool,
    probe: Tensor | None,
) -> tuple[Genome, Genome]:
    # Validate and compute everything first; the individuals change only in the last two lines.
    check_genome(ind1, "ind1")
    check_genome(ind2, "ind2")
    check_compatible(ind1, ind2)
    alpha = check_fraction("alpha", alpha)
    arch = ind1.architecture
    direct = ind1.encoding == "direct"
    mixed = list(range(arch.n_layers)) if layer is None else [layer_index(ind1, layer)]
    if repair:
        check_encoding(ind1, "direct", "REPAIR")
        probe = check_probe(ind1, probe, "REPAIR")
    if aligned:
        if layer is not None:
            check_hidden_layer(ind1, mixed[0], "aligned interpolation of one layer")
        method = resolve_method(ind1, method)
        matched = None if direct else [i for i in mixed if not arch.is_output(i)]
        other, partners = aligned_pairs(ind1, ind2, method=method, layers=matched, probe=probe)
    else:
        other, partners = ind2, {}

    layers1, layers2 = list(ind1.layers), list(other.layers)
    for i in mixed:
        # ind1's neuron rows[j] is paired with other's neuron j (j < m): matched, or by position.
        m = min(len(ind1.layers[i]), len(other.layers[i]))
        rows = partners.get(i, torch.arange(m))
        layers1[i], layers2[i] = interpolate_pairs(ind1.layers[i], rows, other.layers[i], torch.arange(m), alpha)
    if repair:
        mix = {i: alpha if i in mixed else 0.0 for i in range(mixed[0], arch.n_layers - 1)}
        layers1, layers2 = repaired_children(layers1, layers2, ind1, other, probe, mix)

    ind1.layers[:] = layers1
    ind2.layers[:] = layers2
    return ind1, ind2
