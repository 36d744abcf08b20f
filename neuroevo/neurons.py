"""Packed sets of neuron records.

A layer is an unordered set of neuron records stored *packed*: one tensor per field, all sharing
the leading (neuron) dimension. Row ``i`` of every field together is neuron ``i``'s record.

Embedding genomes use the fields ``embeddings [n, d]``, ``bias [n]``, ``kernels [n, k, k]`` (conv
layers) and ``features [n, P, d]`` (free junction embeddings of the last conv layer). Direct genomes
use ``weight [n, fan_in]`` (or ``[n, c_in, k, k]`` for standard conv), ``bias [n]`` and
``kernels [n, k, k]`` (separable conv). Everything that moves, selects or mixes neurons works on
this one class, whatever the encoding.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import torch
from torch import Tensor


class NeuronSet:
    """An unordered set of neuron records of one kind, stored as packed tensors.

    Args:
        **fields: named tensors whose first dimension is the number of neurons ``n``.

    Raises:
        ValueError: no fields, or fields that disagree on ``n``.
    """

    __slots__ = ("_fields",)

    def __init__(self, **fields: Tensor) -> None:
        if not fields:
            raise ValueError("a neuron set needs at least one field")
        sizes = {name: t.shape[0] if t.dim() else None for name, t in fields.items()}
        if None in sizes.values() or len(set(sizes.values())) != 1:
            raise ValueError(f"neuron record fields disagree on the number of neurons: {sizes}")
        # Fields are kept sorted by name so that the same record layout always has one field order.
        self._fields: dict[str, Tensor] = dict(sorted(fields.items()))

    # -------------------------------------------------------------- accessors
    def __len__(self) -> int:
        return next(iter(self._fields.values())).shape[0]

    def __getitem__(self, name: str) -> Tensor:
        return self._fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def get(self, name: str) -> Tensor | None:
        return self._fields.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._fields)

    def items(self) -> Iterator[tuple[str, Tensor]]:
        return iter(self._fields.items())

    def as_dict(self) -> dict[str, Tensor]:
        """The fields (the tensors themselves, not copies)."""
        return dict(self._fields)

    @property
    def record_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-neuron shape of each field (the shape without the leading neuron dimension)."""
        return {name: tuple(t.shape[1:]) for name, t in self._fields.items()}

    # ------------------------------------------------------------ construction
    def select(self, index: Tensor | Sequence[int]) -> "NeuronSet":
        """A new set holding the neurons at ``index`` (copies; repeats allowed)."""
        index = torch.as_tensor(index, dtype=torch.long)
        return NeuronSet(**{name: t.index_select(0, index) for name, t in self._fields.items()})

    def replace(self, **fields: Tensor) -> "NeuronSet":
        """A new set with some fields swapped for other tensors (the rest shared, not copied)."""
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise ValueError(f"unknown neuron record fields {sorted(unknown)}")
        return NeuronSet(**{**self._fields, **fields})

    def clone(self) -> "NeuronSet":
        """A deep copy: no storage shared with this set."""
        return NeuronSet(**{name: t.detach().clone() for name, t in self._fields.items()})

    def to(self, device: torch.device | str) -> "NeuronSet":
        return NeuronSet(**{name: t.to(device) for name, t in self._fields.items()})

    @staticmethod
    def concat(sets: Iterable["NeuronSet"]) -> "NeuronSet":
        """Union of several sets of the same record layout (a new set, copied)."""
        sets = list(sets)
        if not sets:
            raise ValueError("nothing to concatenate")
        check_compatible_records(sets[0], *sets[1:])
        return NeuronSet(**{name: torch.cat([s[name] for s in sets]) for name in sets[0].names})

    def record_matrix(self) -> Tensor:
        """Every record flattened into one row: ``[n, sum of record sizes]`` (float64)."""
        return torch.cat(
            [t.detach().reshape(len(self), -1).double() for t in self._fields.values()], dim=1
        )

    def record_ranks(self) -> Tensor:
        """``row_ranks(self.record_matrix())`` (``[n]``), without building the matrix when the
        records' first entries already tell every neuron apart."""
        if len(self) == 0:
            return torch.zeros(0, dtype=torch.long)
        first = next(iter(self._fields.values())).detach().reshape(len(self), -1)[:, 0]
        return _ranks(first, self.record_matrix)

    def is_finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in self._fields.values())

    # Pickling (every protocol, 0 and 1 included) and copy.deepcopy go through the field dict.
    def __getstate__(self) -> dict[str, Tensor]:
        return self._fields

    def __setstate__(self, state: dict[str, Tensor]) -> None:
        self._fields = dict(state)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={list(t.shape)}" for n, t in self._fields.items())
        return f"NeuronSet(n={len(self)}, {shapes})"

    # The neuron order carries no meaning: equality is set equality of records.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NeuronSet):
            return NotImplemented
        if self.names != other.names or self.record_shapes != other.record_shapes:
            return False
        if len(self) != len(other):
            return False
        return torch.equal(sorted_rows(self.record_matrix()), sorted_rows(other.record_matrix()))

    __hash__ = None  # type: ignore[assignment]


def sorted_rows(matrix: Tensor) -> Tensor:
    """Rows of ``matrix [n, m]`` sorted lexicographically (a canonical order for a set)."""
    return matrix.index_select(0, lexsort_rows(matrix))


def lexsort_rows(matrix: Tensor) -> Tensor:
    """Permutation ``[n]`` that sorts the rows of ``matrix [n, m]`` lexicographically.

    Equal rows (``-0.0`` equals ``0.0``) keep their relative order. No loop over columns: one sort
    of the first column settles the order whenever its values are distinct (the usual case for
    real-valued records); otherwise the rows are ranked in one call (:func:`row_ranks`).
    """
    return torch.sort(row_ranks(matrix), stable=True).indices


def row_ranks(matrix: Tensor) -> Tensor:
    """Dense lexicographic rank ``[n]`` (int64, from 0) of each row of ``matrix [n, m]``: equal
    rows share a rank, and ``rank[i] < rank[j]`` exactly when row ``i`` sorts before row ``j``."""
    if matrix.shape[1] == 0:
        return torch.zeros(matrix.shape[0], dtype=torch.long, device=matrix.device)
    return _ranks(matrix[:, 0], lambda: matrix)


def _ranks(first: Tensor, matrix: Callable[[], Tensor]) -> Tensor:
    """Dense ranks of the rows of ``matrix()`` (``[n, m]``), whose first column is ``first [n]``:
    from one sort of ``first`` when its values are distinct, else from all columns at once."""
    n = first.shape[0]
    order = torch.sort(first, stable=True).indices
    ordered = first.index_select(0, order)
    if not bool((ordered[1:] == ordered[:-1]).any()):
        ranks = torch.empty_like(order)
        ranks[order] = torch.arange(n, device=first.device)
        return ranks
    return torch.unique(matrix(), dim=0, return_inverse=True)[1].reshape(n)


def check_compatible_records(first: NeuronSet, *others: NeuronSet) -> None:
    """Raise ``ValueError`` unless all sets have the same fields and per-neuron shapes."""
    for other in others:
        if first.names != other.names:
            raise ValueError(
                f"neuron records of different kinds: fields {list(first.names)} vs {list(other.names)}"
            )
        if first.record_shapes != other.record_shapes:
            mismatched = {
                n: (first.record_shapes[n], other.record_shapes[n])
                for n in first.names
                if first.record_shapes[n] != other.record_shapes[n]
            }
            raise ValueError(f"neuron records of different shapes: {mismatched}")
