"""The input encoding: the shared basis that makes neurons of different genomes compatible."""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor


class InputEncoding:
    """Embeddings of a network's inputs, shared by every genome trained on one data set.

    One row per input neuron: per pixel for a dense first layer, per image channel for a conv
    first layer. Conv architectures with the ``"position"`` junction also share one embedding per
    spatial position of the last conv layer's output.

    The object is immutable by contract (never write into its tensors): genomes reference it
    rather than copy it, ``copy.deepcopy`` returns the same object, and its identity is a content
    hash, so two encodings with equal content are the same basis.

    Args:
        inputs: ``[n_inputs, d]`` input-neuron embeddings.
        positions: ``[P, d]`` position embeddings for the conv-to-dense junction, or ``None``.
    """

    __slots__ = ("_inputs", "_positions", "_identity")

    def __init__(self, inputs: Tensor, positions: Tensor | None = None) -> None:
        if inputs.dim() != 2 or inputs.shape[0] == 0 or inputs.shape[1] == 0:
            raise ValueError(f"input encoding must be [n_inputs, d], got shape {list(inputs.shape)}")
        if positions is not None and (positions.dim() != 2 or positions.shape[1] != inputs.shape[1]):
            raise ValueError(
                f"position embeddings must be [P, {inputs.shape[1]}], got {list(positions.shape)}"
            )
        for name, t in (("inputs", inputs), ("positions", positions)):
            if t is not None and not bool(torch.isfinite(t).all()):
                raise ValueError(f"input encoding {name} contain NaN or Inf")
        self._inputs = inputs.detach().to("cpu", torch.float32).contiguous().clone()
        self._positions = (
            None if positions is None else positions.detach().to("cpu", torch.float32).contiguous().clone()
        )
        self._identity: str | None = None

    @classmethod
    def random(
        cls, n_inputs: int, d: int, n_positions: int = 0, *, generator: torch.Generator | None = None
    ) -> "InputEncoding":
        """A fresh encoding: inputs ``z ~ N(0, 1/d)``; positions ``e ~ N(0, 1)``.

        Positions are unit-variance so that a junction feature ``z_i * e_p`` has the same
        ``N(0, 1/d)`` scale as any other embedding.
        """
        inputs = torch.randn(n_inputs, d, generator=generator) / d**0.5
        positions = torch.randn(n_positions, d, generator=generator) if n_positions else None
        return cls(inputs, positions)

    @property
    def inputs(self) -> Tensor:
        """``[n_inputs, d]`` (do not modify in place)."""
        return self._inputs

    @property
    def positions(self) -> Tensor | None:
        """``[P, d]`` or ``None`` (do not modify in place)."""
        return self._positions

    @property
    def d(self) -> int:
        return self._inputs.shape[1]

    @property
    def n_inputs(self) -> int:
        return self._inputs.shape[0]

    @property
    def n_positions(self) -> int:
        return 0 if self._positions is None else self._positions.shape[0]

    @property
    def n_parameters(self) -> int:
        return self._inputs.numel() + (0 if self._positions is None else self._positions.numel())

    @property
    def identity(self) -> str:
        """SHA-256 of shapes and contents (hex): equal for equal encodings, stable across runs."""
        if self._identity is None:
            digest = hashlib.sha256()
            for t in (self._inputs, self._positions):
                if t is None:
                    digest.update(b"none")
                else:
                    digest.update(str(list(t.shape)).encode())
                    digest.update(t.numpy().tobytes())
            self._identity = digest.hexdigest()
        return self._identity

    @property
    def short_id(self) -> str:
        return self.identity[:12]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InputEncoding):
            return NotImplemented
        return self is other or self.identity == other.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def __deepcopy__(self, memo: dict) -> "InputEncoding":
        return self  # immutable shared basis

    def __copy__(self) -> "InputEncoding":
        return self

    def __getstate__(self) -> tuple[Tensor, Tensor | None]:
        return self._inputs, self._positions

    def __setstate__(self, state: tuple[Tensor, Tensor | None]) -> None:
        self._inputs, self._positions = state
        self._identity = None

    def __repr__(self) -> str:
        pos = f", positions={self.n_positions}" if self._positions is not None else ""
        return f"InputEncoding(n_inputs={self.n_inputs}, d={self.d}{pos}, id={self.short_id})"


def check_same_encoding(a: InputEncoding, b: InputEncoding, what: str = "genomes") -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` are the same shared basis."""
    if a != b:
        raise ValueError(
            f"{what} are built on different input encodings ({a.short_id} vs {b.short_id}); "
            "neurons of one are meaningless in the other. Fit both on one shared encoding "
            "(e.g. `neuroevo fit --input-encoding`)."
        )
