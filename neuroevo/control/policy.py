"""A whole population of small (optionally recurrent) networks as stacked tensors.

Member ``p`` of a :class:`StackedPolicy` is the network given by slice ``p`` of every tensor. Layer
``l`` maps ``x [P, E, n_in]`` (``E`` episodes per member) to

* hidden layers: ``h_t = act(x_t @ W_l + h_{t-1} @ R_l + b_l)`` with ``h_{-1} = 0``, where rows of
  ``R_l`` are the source neurons at ``t - 1`` and columns the targets (no ``R_l``: feed-forward);
* the output layer: ``x_t @ W + b``, linear (raw outputs: the environment squashes or picks).

No genomes here: :mod:`neuroevo.control.genome_policy` builds these tensors from genomes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuroevo.validation import check_int

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def forward(weights: list[Tensor], biases: list[Tensor], recurrent: list[Tensor | None], activation: str,
            observations: Tensor, hidden: list[Tensor | None]) -> tuple[Tensor, list[Tensor | None]]:
    """One time step of every member (the pure function behind :meth:`StackedPolicy.__call__`).

    Args:
        weights: per layer ``[P, n_in, n_out]``.
        biases: per layer ``[P, n_out]``.
        recurrent: per layer ``[P, n_out, n_out]`` or ``None``.
        activation: ``"tanh"`` or ``"relu"`` (hidden layers).
        observations: ``[P, E, n_inputs]``.
        hidden: per layer the previous step's activations ``[P, E, n_out]`` (recurrent layers) or
            ``None``.

    Returns:
        ``(outputs [P, E, n_outputs], the new hidden list)``.
    """
    act = ACTIVATIONS[activation]
    x = observations
    new_hidden: list[Tensor | None] = []
    last = len(weights) - 1
    for layer, (w, b, r, h) in enumerate(zip(weights, biases, recurrent, hidden)):
        z = _product(x, w) + b.unsqueeze(1)
        if r is not None:
            z = z + _product(h, r)
        x = z if layer == last else act(z)
        new_hidden.append(x if r is not None else None)
    return x, new_hidden


#: Below this many episodes per member, eager matrix products are broadcast multiply-sums: one batched
#: GEMM per tiny ``[E, n_in] @ [n_in, n_out]`` product costs more than the arithmetic.
BROADCAST_BELOW_EPISODES = 8


def _product(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w`` per member: ``[P, E, n] @ [P, n, m] -> [P, E, m]`` (``torch.bmm`` for many episodes
    in eager mode; a broadcast multiply-sum for few episodes, and under ``torch.compile``, which fuses
    it into the surrounding step)."""
    if torch.compiler.is_compiling() or x.shape[1] < BROADCAST_BELOW_EPISODES:
        return (x.unsqueeze(3) * w.unsqueeze(1)).sum(2)
    return torch.bmm(x, w)


class StackedPolicy:
    """``P`` networks of one shape, stored as stacked tensors (see the module docstring).

    Args:
        weights: per layer ``[P, n_in, n_out]``; consecutive layers chain (``n_out`` of one is
            ``n_in`` of the next).
        biases: per layer ``[P, n_out]``.
        recurrent: per layer ``[P, n_out, n_out]`` or ``None`` (default: no recurrence); the output
            layer's is always ``None``.
        activation: the hidden layers' activation, ``"tanh"`` or ``"relu"``.

    Raises:
        ValueError: mismatched shapes, populations, dtypes or devices; an unknown activation; a
            member with a non-finite parameter (the message names the member).
    """

    def __init__(self, weights: list[Tensor], biases: list[Tensor], recurrent: list[Tensor | None] | None = None,
                 activation: str = "tanh"):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not weights:
            raise ValueError("a policy needs at least one layer")
        recurrent = [None] * len(weights) if recurrent is None else list(recurrent)
        if not len(weights) == len(biases) == len(recurrent):
            raise ValueError(f"one bias and one recurrent entry per layer: {len(weights)} weights, "
                             f"{len(biases)} biases, {len(recurrent)} recurrent")
        if recurrent[-1] is not None:
            raise ValueError("the output layer cannot be recurrent (its recurrent entry must be None)")
        self.weights, self.biases, self.recurrent = list(weights), list(biases), recurrent
        self.activation = activation
        self._check_shapes()
        self._check_finite()
        self.hidden: list[Tensor | None] | None = None
        self.episodes = 0

    def _check_shapes(self) -> None:
        first = self.weights[0]
        if first.dim() != 3:
            raise ValueError(f"layer 0: weights must be [P, n_in, n_out], got {tuple(first.shape)}")
        population, n_in = first.shape[0], first.shape[1]
        for layer, (w, b, r) in enumerate(zip(self.weights, self.biases, self.recurrent)):
            if w.dim() != 3 or w.shape[0] != population or w.shape[1] != n_in:
                raise ValueError(f"layer {layer}: weights must be [P={population}, n_in={n_in}, n_out], "
                                 f"got {tuple(w.shape)}")
            n_out = w.shape[2]
            if tuple(b.shape) != (population, n_out):
                raise ValueError(f"layer {layer}: biases must be [{population}, {n_out}], got {tuple(b.shape)}")
            if r is not None and tuple(r.shape) != (population, n_out, n_out):
                raise ValueError(f"layer {layer}: recurrent weights must be [{population}, {n_out}, {n_out}], "
                                 f"got {tuple(r.shape)}")
            for t in (w, b, r):
                if t is not None and (t.dtype != first.dtype or t.device != first.device):
                    raise ValueError(f"layer {layer}: every tensor must be {first.dtype} on {first.device}, "
                                     f"got {t.dtype} on {t.device}")
            n_in = n_out
        if not first.dtype.is_floating_point:
            raise ValueError(f"parameters must be floating point, got {first.dtype}")
        check_int("population", population)

    def _check_finite(self) -> None:
        finite = torch.ones(self.population, dtype=torch.bool, device=self.device)
        for t in self.tensors():
            finite &= torch.isfinite(t.reshape(self.population, -1)).all(1)
        if not bool(finite.all()):
            bad = torch.nonzero(~finite).flatten().tolist()
            raise ValueError(f"population member {bad[0]} has non-finite parameters "
                             f"({len(bad)} member(s) in all: {bad[:10]})")

    # ------------------------------------------------------------ description
    @property
    def population(self) -> int:
        """``P``, the number of networks."""
        return self.weights[0].shape[0]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, inputs first (e.g. ``(4, 16, 2)``)."""
        return (self.weights[0].shape[1], *(w.shape[2] for w in self.weights))

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    def tensors(self) -> list[Tensor]:
        """Every parameter tensor (weights, biases, recurrent weights present)."""
        return [*self.weights, *self.biases, *(r for r in self.recurrent if r is not None)]

    def __repr__(self) -> str:
        marks = "".join("r" if r is not None else "" for r in self.recurrent)
        return (f"StackedPolicy(population={self.population}, sizes={'-'.join(map(str, self.sizes))}, "
                f"activation={self.activation!r}, recurrent_layers={len(marks)}, dtype={self.dtype}, "
                f"device={self.device})")

    # ------------------------------------------------------------ use
    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> StackedPolicy:
        """A copy on ``device`` in ``dtype`` (the recurrent state is not carried over)."""
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)
        return StackedPolicy([move(w) for w in self.weights], [move(b) for b in self.biases],
                             [move(r) for r in self.recurrent], self.activation)

    def select(self, members: Tensor | list[int]) -> StackedPolicy:
        """The sub-population ``members`` (indices into ``[0, P)``), in that order."""
        index = torch.as_tensor(members, dtype=torch.int64, device=self.device)
        return StackedPolicy([w[index] for w in self.weights], [b[index] for b in self.biases],
                             [None if r is None else r[index] for r in self.recurrent], self.activation)

    def initial_hidden(self, episodes: int) -> list[Tensor | None]:
        """Zero recurrent state: per layer ``[P, episodes, n_out]`` (recurrent layers) or ``None``."""
        check_int("episodes", episodes)
        return [None if r is None else torch.zeros(self.population, episodes, w.shape[2], dtype=self.dtype,
                                                   device=self.device)
                for w, r in zip(self.weights, self.recurrent)]

    def reset(self, episodes: int) -> None:
        """Start ``episodes`` episodes per member: the recurrent state becomes zero."""
        self.hidden = self.initial_hidden(episodes)
        self.episodes = episodes

    def __call__(self, observations: Tensor) -> Tensor:
        """One step of every member on its episodes, advancing the recurrent state.

        Args:
            observations: ``[P, E, n_inputs]``; ``E`` as in the last :meth:`reset`.

        Returns:
            ``[P, E, n_outputs]`` raw outputs.
        """
        if self.hidden is None:
            raise RuntimeError("call reset(episodes) before stepping the policy")
        expected = (self.population, self.episodes, self.sizes[0])
        if tuple(observations.shape) != expected:
            raise ValueError(f"observations must be [P, E, n_inputs] = {list(expected)}, "
                             f"got {tuple(observations.shape)}")
        outputs, self.hidden = forward(self.weights, self.biases, self.recurrent, self.activation,
                                       observations.to(self.dtype), self.hidden)
        return outputs
