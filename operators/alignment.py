"""Neuron matching: which neuron of one parent's layer corresponds to which of the other's.

Crossing two networks neuron ``i`` with neuron ``i`` mixes unrelated neurons when the parents
order their hidden neurons differently (the permutation problem). Matching solves an optimal
assignment (:func:`scipy.optimize.linear_sum_assignment`) between the two layers and reorders the
second parent to follow the first, which leaves its function unchanged. Layers of different
widths (embedding genomes after structural mutation) get a rectangular assignment: the
``min(n_a, n_b)`` best pairs, the wider layer's other neurons unmatched (:func:`aligned_pairs`).
Three similarities:

* ``"embedding"`` (embedding genomes, no data): negative squared distance between whole neuron
  records (embedding, bias, kernel, free junction features, recurrent key). Records live in the
  shared basis of the input encoding, so each layer is matched on its own.
* ``"activation"`` (direct genomes, needs a probe batch): correlation of the two layers'
  post-activation outputs on the probe (Li et al. 2015; Uriot & Izzo 2020, "Safe crossover of
  neural networks through neuron alignment"); conv channels pool every position of every image.
  Ties, such as ReLU units that are zero on the whole probe, are broken by a small multiple
  (:data:`PRE_ACTIVATION_TIE_BREAK`) of the correlation of the pre-activations. Recurrent
  networks are probed one step from the zero state (the probe as the first step of a sequence).
* ``"weights"`` (direct genomes, no data): weight matching (Ainsworth et al. 2022, "Git
  Re-Basin"): maximise ``sum_l <W_l^A, P_l W_l^B P_{l-1}^T> + <R_l^A, P_l R_l^B P_l^T>`` (``R_l``
  a recurrent layer's recurrent weights) over all hidden layers jointly by coordinate descent,
  one layer's assignment at a time given the others, using each neuron's incoming record and
  its outgoing weights in the next layer (and, in a recurrent layer, its recurrent incoming and
  outgoing weights read in the current assignment: the objective linearised there); run from the
  identity and from a depth-order matching of incoming records alone (recurrent weights left
  out; this recovers an exact permuted copy), keeping the start that reaches the higher total
  similarity.
"""

from __future__ import annotations

from typing import Sequence

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from neuroevo.decoding.functional import activation_function
from neuroevo.genomes import Genome, without_recurrent
from neuroevo.neurons import NeuronSet
from operators._probe import pre_activations, unit_samples
from operators._records import outgoing_weights
from operators._validation import (
    check_compatible,
    check_equal_widths,
    check_genome,
    check_hidden_layer,
    check_probe,
    layer_index,
)

METHODS = ("embedding", "activation", "weights")
#: Weight of the pre-activation correlation added to the post-activation one (a tie-breaker).
PRE_ACTIVATION_TIE_BREAK = 1e-3


def resolve_method(genome: Genome, method: str | None) -> str:
    """The matching method to use: ``method``, or by default ``"embedding"`` for embedding genomes
    and ``"weights"`` for direct genomes (neither needs data).

    Raises:
        ValueError: an unknown method or one that does not apply to the genome's encoding.
    """
    if method is None:
        return "embedding" if genome.encoding == "embedding" else "weights"
    if method not in METHODS:
        raise ValueError(f"unknown matching method {method!r}; choose one of {', '.join(METHODS)}")
    if (method == "embedding") != (genome.encoding == "embedding"):
        allowed = "'embedding'" if genome.encoding == "embedding" else "'activation' or 'weights'"
        raise ValueError(f"{genome.encoding} genomes are matched with method={allowed}, not {method!r}")
    return method


def match_neurons(
    reference: Genome,
    other: Genome,
    *,
    method: str | None = None,
    layers: Sequence[int] | None = None,
    probe: Tensor | None = None,
    max_iter: int = 100,
) -> dict[int, Tensor]:
    """Permutations of ``other``'s hidden layers that match its neurons to ``reference``'s.

    Neither genome is modified. ``other.permute_layer(l, perms[l])`` for every returned layer
    aligns ``other`` with ``reference`` without changing ``other``'s function. Deterministic (no
    randomness); ``"weights"`` visits the layers in depth order until a pass changes nothing.
    For layers of different widths (embedding genomes after structural mutation), use
    :func:`aligned_pairs`, which pairs as many neurons as can be paired.

    Args:
        reference: the genome to match against.
        other: a compatible genome with as many neurons in each matched layer.
        method: ``"embedding"`` (embedding genomes; the default for them), ``"weights"`` (direct;
            the default for them) or ``"activation"`` (direct; needs ``probe``). See the module
            docstring.
        layers: hidden layers to match (default: all). ``"weights"`` always optimises all hidden
            layers jointly and returns the requested ones.
        probe: ``[B, *input_shape]`` inputs, ``B >= 2`` (``"activation"`` only; ignored otherwise).
        max_iter: ``"weights"`` only: most passes of coordinate descent over the layers.

    Returns:
        ``{layer: permutation [n_layer]}``: new neuron ``i`` of ``other`` is old neuron
        ``permutation[i]``, the one matched with ``reference``'s neuron ``i``.

    Raises:
        ValueError: incompatible genomes, NaN or Inf in either, a method that does not fit the
            encoding, an output or out-of-range layer, different widths, or a missing or malformed
            probe.
    """
    method, indices = _checked(reference, other, method, layers)
    check_equal_widths(reference, other, indices, "neuron matching")
    return {i: columns for i, (_, columns) in _pairs(reference, other, method, indices, probe, max_iter).items()}


def aligned_pairs(
    reference: Genome,
    other: Genome,
    *,
    method: str | None = None,
    layers: Sequence[int] | None = None,
    probe: Tensor | None = None,
) -> tuple[Genome, dict[int, Tensor]]:
    """Align ``other`` with ``reference``, pairing as many neurons of each layer as can be paired.

    Each matched hidden layer ``l`` gets ``m = min(n_reference, n_other)`` pairs: the optimal
    assignment between the two layers (a rectangular one when the widths differ, which only
    embedding genomes can have). ``other`` is not modified; neither is its function in the copy.

    Args:
        reference, other, method, layers, probe: as :func:`match_neurons`, except that embedding
            layers may differ in width.

    Returns:
        ``(copy, rows)``: ``copy`` is ``other`` with each matched layer reordered so that its
        neuron ``j < m`` is the partner of ``reference``'s neuron ``rows[l][j]``, its unmatched
        neurons (when ``other``'s layer is the wider) following in their old order; ``rows[l]`` is
        an increasing ``[m]`` index (``arange(n)`` for equal widths, where ``copy`` is
        :func:`aligned_copy`). Layers that were not matched keep ``other``'s own neuron sets.

    Raises:
        ValueError: as :func:`match_neurons`, widths aside.
    """
    method, indices = _checked(reference, other, method, layers)
    pairs = _pairs(reference, other, method, indices, probe, 100)
    orders = {}
    for index, (_, columns) in pairs.items():
        unmatched = torch.ones(len(other.layers[index]), dtype=torch.bool)
        unmatched[columns] = False
        orders[index] = torch.cat([columns, unmatched.nonzero().flatten()])
    return _permuted(other, orders), {index: rows for index, (rows, _) in pairs.items()}


def aligned_copy(
    reference: Genome,
    other: Genome,
    *,
    method: str | None = None,
    layers: Sequence[int] | None = None,
    probe: Tensor | None = None,
) -> Genome:
    """A copy of ``other`` with the hidden layers matched by :func:`match_neurons` reordered to
    follow ``reference`` (same function as ``other``; ``other`` is not modified).

    The arguments are those of :func:`match_neurons`; embedding layers of different widths are
    reordered as :func:`aligned_pairs` describes. The copy's layers that were not reordered are
    ``other``'s own :class:`NeuronSet` objects (never written into by any operator).
    """
    return aligned_pairs(reference, other, method=method, layers=layers, probe=probe)[0]


def _checked(
    reference: Genome, other: Genome, method: str | None, layers: Sequence[int] | None
) -> tuple[str, list[int]]:
    """Validate a matching request; return the method and the hidden layers to match."""
    check_genome(reference, "reference")
    check_genome(other, "other")
    check_compatible(reference, other)
    method = resolve_method(reference, method)
    if layers is None:
        return method, list(reference.architecture.hidden_layers)
    indices = [layer_index(reference, layer) for layer in layers]
    for index in indices:
        check_hidden_layer(reference, index, "neuron matching")
    return method, indices


def _pairs(
    reference: Genome, other: Genome, method: str, indices: list[int], probe: Tensor | None, max_iter: int
) -> dict[int, tuple[Tensor, Tensor]]:
    """``{layer: (rows, columns)}``: ``reference``'s neuron ``rows[j]`` is matched with ``other``'s
    neuron ``columns[j]`` (see :func:`_assign`). Direct genomes have equal widths (checked by
    :func:`check_compatible`), so their pairs are permutations."""
    if method == "embedding":
        return {i: _assign(_embedding_similarity(reference.layers[i], other.layers[i])) for i in indices}
    if method == "activation":
        probe = check_probe(reference, probe, "activation matching")
        return _match_by_activation(reference, other, indices, probe)
    perms = _match_by_weights(reference, other, max_iter)
    return {i: (torch.arange(len(perms[i])), perms[i]) for i in indices}


def _permuted(genome: Genome, perms: dict[int, Tensor]) -> Genome:
    """A copy of ``genome`` (fitness and all) with ``perms`` applied, without copying the layers
    (``permute_layer`` replaces layer entries and never writes into a set)."""
    result = genome.sharing_sets()
    for index, perm in perms.items():
        result.permute_layer(index, perm)
    return result


def _assign(similarity: Tensor) -> tuple[Tensor, Tensor]:
    """The optimal assignment of ``similarity [n_a, n_b]``: ``(rows, columns)``, each ``[m]`` with
    ``m = min(n_a, n_b)`` and ``rows`` increasing, maximising ``sum_j similarity[rows[j], columns[j]]``.
    Square: ``rows = arange(n)`` and ``columns`` is a permutation."""
    rows, columns = linear_sum_assignment(similarity.detach().cpu().numpy(), maximize=True)
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(columns, dtype=torch.long)


def _embedding_similarity(a: NeuronSet, b: NeuronSet) -> Tensor:
    """``-|record_a_i - record_b_j|^2``, ``[n, n]`` float64."""
    return -torch.cdist(a.record_matrix(), b.record_matrix()).square()


def _correlation(x: Tensor, y: Tensor) -> Tensor:
    """Pearson correlation ``[n, n]`` between the units of two layer signals; a constant unit
    correlates 0 with everything."""
    columns = []
    for signal in (x, y):
        samples = unit_samples(signal).double()
        centred = samples - samples.mean(dim=0)
        columns.append(centred / centred.norm(dim=0).clamp_min(1e-12))
    return columns[0].T @ columns[1]


def _match_by_activation(
    reference: Genome, other: Genome, indices: list[int], probe: Tensor
) -> dict[int, tuple[Tensor, Tensor]]:
    arch = reference.architecture
    activation = activation_function(arch.activation)
    ref_pre = pre_activations(arch, reference.layers, probe)
    other_pre = pre_activations(arch, other.layers, probe)
    # A layer's outputs do not depend on the order of earlier layers, so layers match separately.
    return {
        i: _assign(
            _correlation(activation(ref_pre[i]), activation(other_pre[i]))
            + PRE_ACTIVATION_TIE_BREAK * _correlation(ref_pre[i], other_pre[i])
        )
        for i in indices
    }


def _weight_similarity(reference: Genome, other: Genome, index: int) -> Tensor:
    """``<incoming record_a_i, record_b_j> + <outgoing_a_i, outgoing_b_j>``, ``[n, n]`` float64.

    In a recurrent layer the incoming record holds the recurrent incoming weights, and the
    recurrent outgoing ones (columns of the ``recurrent`` field) count too, both read in
    ``other``'s current order."""
    arch = reference.architecture
    layer_a, layer_b = reference.layers[index], other.layers[index]
    similarity = layer_a.record_matrix() @ layer_b.record_matrix().T
    n = len(layer_a)
    out_a, out_b = (
        outgoing_weights(arch, index + 1, g.layers[index + 1]["weight"]).reshape(n, -1).double()
        for g in (reference, other)
    )
    similarity = similarity + out_a @ out_b.T
    if "recurrent" in layer_a:
        similarity = similarity + layer_a["recurrent"].double().T @ layer_b["recurrent"].double()
    return similarity


def _match_by_weights(reference: Genome, other: Genome, max_iter: int) -> dict[int, Tensor]:
    """Coordinate descent from two starts, the identity and a depth-order matching of incoming
    records alone (which recovers an exact permuted copy); the start reaching the higher total
    similarity wins (ties: the identity)."""
    best_score, best = None, None
    for incoming_start in (False, True):
        total, work = _weight_descent(reference, other, max_iter, incoming_start=incoming_start)
        score = sum(float(_weight_similarity(reference, work, i).diagonal().sum())
                    for i in reference.architecture.hidden_layers)
        if best_score is None or score > best_score + 1e-9 * (1.0 + abs(best_score)):
            best_score, best = score, total
    return best


def _weight_descent(
    reference: Genome, other: Genome, max_iter: int, *, incoming_start: bool
) -> tuple[dict[int, Tensor], Genome]:
    """Weight-matching coordinate descent: the permutations found and ``other`` permuted by them."""
    hidden = reference.architecture.hidden_layers
    total = {i: torch.arange(len(other.layers[i])) for i in hidden}
    work = _permuted(other, {})
    if incoming_start:
        for index in hidden:
            incoming_a, incoming_b = (without_recurrent(g.layers[index]).record_matrix() for g in (reference, work))
            _, perm = _assign(incoming_a @ incoming_b.T)
            work.permute_layer(index, perm)
            total[index] = total[index][perm]
    for _ in range(max_iter):
        improved = False
        for index in hidden:
            similarity = _weight_similarity(reference, work, index)
            _, perm = _assign(similarity)
            current = similarity.diagonal().sum()
            gain = similarity[torch.arange(len(perm)), perm].sum() - current
            if gain > 1e-9 * (1.0 + current.abs()):
                work.permute_layer(index, perm)
                total[index] = total[index][perm]
                improved = True
        if not improved:
            break
    return total, work
