"""What every genome shares: an architecture, an ordered list of unordered neuron sets."""

from __future__ import annotations

import copy
import hashlib
from typing import ClassVar, Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.neurons import NeuronSet, lexsort_rows


class Genome:
    """Base class of :class:`EmbeddingGenome` and :class:`DirectGenome`.

    ``layers[l]`` is the neuron set of genome layer ``l`` (conv layers, dense hidden layers, then
    the output layer). Depth order matters; the order of neurons inside a hidden layer does not:
    equality, hashing and the decoded network's function are invariant to it. The output layer is
    keyed by class (row ``c`` is class ``c``).

    Genomes are mutable (DEAP operators change them in place) and plain Python objects, so DEAP
    can subclass them into individuals, ``copy.deepcopy`` them and pickle them.
    """

    encoding: ClassVar[str] = ""

    def __init__(self, architecture: Architecture, layers: Sequence[NeuronSet]) -> None:
        self.architecture = architecture
        self.layers: list[NeuronSet] = list(layers)

    # ------------------------------------------------------------------ shape
    @property
    def widths(self) -> tuple[int, ...]:
        """Current number of neurons of every layer."""
        return tuple(len(layer) for layer in self.layers)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistency (shapes, kinds, NaN/Inf)."""
        arch = self.architecture
        if len(self.layers) != arch.n_layers:
            raise ValueError(f"architecture {arch.spec} has {arch.n_layers} layers, genome has {len(self.layers)}")
        if len(self.layers[-1]) != arch.n_classes:
            raise ValueError(
                f"output layer has {len(self.layers[-1])} neurons but there are {arch.n_classes} classes"
            )
        for index, layer in enumerate(self.layers):
            if len(layer) == 0:
                raise ValueError(f"layer {index} has no neurons")
            if not layer.is_finite():
                raise ValueError(f"layer {index} contains NaN or Inf")
            self._validate_layer(index, layer)

    def _validate_layer(self, index: int, layer: NeuronSet) -> None:
        raise NotImplementedError

    def expected_fields(self, index: int) -> dict[str, tuple[int, ...]]:
        """Per-neuron shape of each record field that layer ``index`` must have."""
        raise NotImplementedError

    def _check_fields(self, index: int, layer: NeuronSet) -> None:
        expected = self.expected_fields(index)
        kind = "conv" if self.architecture.is_conv(index) else "dense"
        extra = set(layer.names) - set(expected)
        if "kernels" in extra and kind == "dense":
            raise ValueError(f"layer {index} is a dense layer but its neurons carry kernels")
        if extra or set(expected) - set(layer.names):
            raise ValueError(
                f"layer {index} ({kind}) must have record fields {sorted(expected)}, has {sorted(layer.names)}"
            )
        for name, shape in expected.items():
            if layer.record_shapes[name] != shape:
                raise ValueError(
                    f"layer {index} ({kind}): field {name!r} has per-neuron shape "
                    f"{list(layer.record_shapes[name])}, expected {list(shape)} "
                    "(layer sizes or embedding widths do not chain)"
                )

    # ------------------------------------------------------------ permutation
    def permute_layer(self, index: int, permutation: Tensor | Sequence[int]) -> None:
        """Reorder the neurons of hidden layer ``index`` in place, keeping the function unchanged.

        Args:
            index: a hidden layer (the output layer is keyed by class and cannot be permuted).
            permutation: ``[n]`` new order: new neuron ``i`` is old neuron ``permutation[i]``.
        """
        self.architecture.check_layer(index)
        index = index % self.n_layers
        if self.architecture.is_output(index):
            raise ValueError("the output layer is keyed by class; its neurons cannot be permuted")
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        n = len(self.layers[index])
        if permutation.shape != (n,) or not torch.equal(permutation.sort().values, torch.arange(n)):
            raise ValueError(f"not a permutation of {n} neurons: {permutation.tolist()[:10]}...")
        self.layers[index] = self.layers[index].select(permutation)
        self._permute_successor_inputs(index, permutation)

    def _permute_successor_inputs(self, index: int, permutation: Tensor) -> None:
        """Hook for encodings whose next layer refers to this layer's neurons by position."""

    def canonical(self) -> "Genome":
        """A copy with every hidden layer's neurons in a canonical (sorted) order.

        Two genomes that differ only by the order of hidden neurons have identical canonical
        forms. Layers are sorted in depth order so that a direct genome's column permutations are
        applied before the next layer is sorted.
        """
        result = copy.deepcopy(self)
        for index in self.architecture.hidden_layers:
            result.permute_layer(index, lexsort_rows(result.layers[index].record_matrix()))
        return result

    # ---------------------------------------------------------------- identity
    def _identity_parts(self) -> list[bytes]:
        return [self.encoding.encode(), self.architecture.to_json().encode()]

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical form: independent of hidden-neuron order."""
        digest = hashlib.sha256()
        for part in self._identity_parts():
            digest.update(part)
        for layer in self.canonical().layers:
            for name, tensor in layer.items():
                digest.update(name.encode())
                digest.update(str(list(tensor.shape)).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        if self.encoding != other.encoding or self._identity_parts() != other._identity_parts():
            return False
        if self.widths != other.widths:
            return False
        mine, theirs = self.canonical(), other.canonical()
        return all(
            a.names == b.names and all(torch.equal(a[n], b[n]) for n in a.names)
            for a, b in zip(mine.layers, theirs.layers)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    # ------------------------------------------------------------------ copies
    def clone(self) -> "Genome":
        """A deep copy sharing no layer storage (the immutable input encoding is shared)."""
        return copy.deepcopy(self)

    def sharing_sets(self) -> "Genome":
        """A copy (every attribute copied, a DEAP fitness included) with a layer list of its own that
        holds *this* genome's neuron sets.

        Cheap, and safe for code that replaces layer entries (``permute_layer``, the operators)
        and never writes into a set's tensors. Use :meth:`clone` for a copy that shares nothing.
        """
        return self._copy_with_layers(list(self.layers))

    def to(self, device: torch.device | str) -> "Genome":
        """A copy whose layer tensors live on ``device`` (every other attribute deep-copied, a DEAP
        fitness included; tensors already on ``device`` are shared, as ``Tensor.to`` does)."""
        return self._copy_with_layers([layer.to(device) for layer in self.layers])

    def _copy_with_layers(self, layers: list[NeuronSet]) -> "Genome":
        """A deep copy of every attribute but ``layers``, which becomes the given list."""
        return copy.deepcopy(self, {id(self.layers): layers})

    # -------------------------------------------------------------- counting
    def parameter_counts(self) -> dict[str, int]:
        """Number of scalars per kind of parameter (keys depend on the encoding)."""
        raise NotImplementedError

    @property
    def n_parameters(self) -> int:
        """Total number of scalars, biases included."""
        return sum(self.parameter_counts().values())

    def __repr__(self) -> str:
        widths = "-".join(str(w) for w in self.widths)
        return f"{type(self).__name__}({self.architecture}, widths={widths})"
