"""What every genome shares: an architecture, an ordered list of unordered neuron sets."""

from __future__ import annotations

import copy
import hashlib
from typing import ClassVar, Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.neurons import NeuronSet


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

        Raises:
            ValueError: the output layer, ``index`` out of range, or not a permutation.
        """
        self.architecture.check_layer(index)
        index = index % self.n_layers
        if self.architecture.is_output(index):
            raise ValueError("the output layer is keyed by class; its neurons cannot be permuted")
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        n = len(self.layers[index])
        if permutation.shape != (n,) or not torch.equal(
            permutation.sort().values, torch.arange(n, device=permutation.device)
        ):
            raise ValueError(f"not a permutation of {n} neurons: {permutation.tolist()[:10]}...")
        self.layers[index] = self.layers[index].select(permutation)
        self._permute_references(index, permutation)

    def _permute_references(self, index: int, permutation: Tensor) -> None:
        """Hook for encodings whose records refer to layer ``index``'s neurons by position (the
        next layer's incoming weights, a recurrent layer's own recurrent weights), called after
        the layer's rows were reordered."""

    def canonical(self) -> "Genome":
        """A copy with every hidden layer's neurons in the canonical order
        (:meth:`canonical_orders`).

        Two genomes that differ only by the order of hidden neurons have identical canonical
        forms.
        """
        return self._copy_with_layers([layer.clone() for layer in self._canonical_layers()])

    def canonical_orders(self) -> list[Tensor]:
        """The canonical order of every hidden layer: ``orders[l]`` is a permutation ``[n_l]`` such
        that :meth:`permute_layer` ``(l, orders[l])`` for every hidden layer ``l`` gives the
        canonical form.

        The canonical form depends on the genome only up to the order of its hidden neurons. Here
        (records that carry everything about a neuron) each layer's records are sorted
        lexicographically (:meth:`~neuroevo.neurons.NeuronSet.record_ranks`); neurons whose
        records are equal are interchangeable, so their relative order does not matter.
        Encodings whose records refer to other layers' neurons by position override this.
        """
        return [
            torch.sort(self.layers[index].record_ranks(), stable=True).indices
            for index in self.architecture.hidden_layers
        ]

    def _canonical_layers(self) -> list[NeuronSet]:
        """The layers of :meth:`canonical`, without copying the genome (sets that need no reordering
        are this genome's own)."""
        return self._reordered_layers(self.canonical_orders())

    def _reordered_layers(self, orders: Sequence[Tensor]) -> list[NeuronSet]:
        """The layers after :meth:`permute_layer` ``(l, orders[l])`` of every hidden layer ``l``
        (this genome unchanged)."""
        work = copy.copy(self)
        work.layers = list(self.layers)
        for index, order in zip(self.architecture.hidden_layers, orders):
            work.permute_layer(index, order)
        return work.layers

    # ---------------------------------------------------------------- identity
    def _identity_parts(self) -> list[bytes]:
        return [self.encoding.encode(), self.architecture.to_json().encode()]

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical form: independent of hidden-neuron order (and of the
        sign of zeros, which ``==`` ignores too)."""
        digest = hashlib.sha256()
        for part in self._identity_parts():
            digest.update(part)
        for layer in self._canonical_layers():
            for name, tensor in layer.items():
                values = tensor.detach().cpu().contiguous()
                values = values.masked_fill(values == 0, 0)  # -0.0 == 0.0: one byte pattern
                digest.update(name.encode())
                digest.update(str(list(tensor.shape)).encode())
                digest.update(values.numpy().tobytes())
        return digest.hexdigest()

    def __eq__(self, other: object) -> bool:
        """Whether both are the same network up to the order of hidden neurons (architecture,
        encoding, input encoding and every record equal; a DEAP fitness is ignored)."""
        if not isinstance(other, Genome):
            return NotImplemented
        if self.encoding != other.encoding or self.widths != other.widths:
            return False
        if self._identity_parts() != other._identity_parts():
            return False
        # Reorder this genome straight into the other's order (one copy, not two canonical forms):
        # the other's neuron j matches this genome's neuron relative[j].
        relative = [
            mine.index_select(0, torch.sort(theirs).indices.to(mine.device))
            for mine, theirs in zip(self.canonical_orders(), other.canonical_orders())
        ]
        return all(
            a.names == b.names and all(torch.equal(a[n], b[n]) for n in a.names)
            for a, b in zip(self._reordered_layers(relative), other.layers)
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


def check_genome(genome: object, name: str) -> None:
    """Raise unless ``genome`` is a consistent genome with finite records (:meth:`Genome.validate`).

    Catches what was written into a genome's tensors in place after construction, such as NaN or
    Inf, before it is spread into children, stacked into a policy or handed to a solver.

    Args:
        genome: the argument to check.
        name: the argument's name (``"ind2"``, ``"genomes[3]"``, ...), which starts the message:
            ``"ind2: layer 1 contains NaN or Inf"``.

    Raises:
        TypeError: not a genome.
        ValueError: :meth:`Genome.validate`'s message (which layer, what is wrong), after ``name``.
    """
    if not isinstance(genome, Genome):
        raise TypeError(f"{name}: expected a neuroevo genome, got {type(genome).__name__}")
    try:
        genome.validate()
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
