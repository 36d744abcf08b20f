"""Alternating least squares (ALS) for the fit-to-reference objective with ``sigma = identity``.

With every other factor held fixed, eq. 4 is an ordinary linear least-squares problem in one
factor, solved in closed form (``torch.linalg.lstsq``): layer ``l``'s embeddings ``Z_l`` appear as
the right factor of ``W_l ~ L_l Z_l^T`` and as (part of) the left factor of ``W_{l+1}``, so each
row ``z_j`` minimises

    ||W_l[:, j] - L_l z_j||^2 / (m_l n_l) + ||W_{l+1}[j, :] - Z_{l+1} z_j||^2 / (m_{l+1} n_{l+1})

(one stacked solve for all rows). Free junction features, position embeddings and a free input
encoding are solved the same way. A sweep solves every free factor once, in depth order; each
solve can only lower the objective, so ALS descends monotonically to a (block-coordinate)
stationary point.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.fitting.objective import EmbeddingFactors, left_factor, objective

Part = tuple[Tensor, Tensor, float]  # (A [r, d], B [r, n], weight): rows x_j minimise w ||B[:, j] - A x_j||^2


def solve_rows(parts: list[Part], start: Tensor | None = None) -> Tensor:
    """Rows ``x_j`` minimising ``sum_k w_k ||B_k[:, j] - A_k x_j||^2``.

    Where the minimiser is not unique (rank-deficient ``A``), the one closest to ``start`` is
    returned (the minimum-norm one without ``start``). Keeping the current value along the null
    space is what stops ALS from collapsing onto a low-rank subspace (e.g. a conv net's input
    encoding has only one row per image channel).

    Args:
        parts: ``(A_k [r_k, d], B_k [r_k, n], w_k)``, all ``A_k`` with ``d`` columns and all ``B_k``
            with ``n`` columns.
        start: ``[n, d]`` current rows, or ``None``.

    Returns:
        ``[n, d]``: row ``j`` is ``x_j``.
    """
    a = torch.cat([A * w**0.5 for A, _, w in parts])
    b = torch.cat([B * w**0.5 for _, B, w in parts])
    if start is None:
        return torch.linalg.lstsq(a, b, driver="gelsd").solution.T
    return start + torch.linalg.lstsq(a, b - a @ start.T, driver="gelsd").solution.T


def balanced_factors(target: Tensor, left_start: Tensor, right_start: Tensor) -> tuple[Tensor, Tensor]:
    """The best rank-``d`` factorisation ``target ~ L R^T`` (truncated SVD, singular values split
    evenly between the factors).

    Args:
        target: ``[m, n]``.
        left_start, right_start: ``[m, d]``, ``[n, d]``: their columns beyond the rank
            ``min(m, n)`` are kept, so that neither factor is rank-deficient.

    Returns:
        ``L [m, d]``, ``R [n, d]``.
    """
    u, s, vh = torch.linalg.svd(target, full_matrices=False)
    k = min(left_start.shape[1], s.numel())
    root = s[:k].sqrt()
    left, right = left_start.clone(), right_start.clone()
    left[:, :k] = u[:, :k] * root
    right[:, :k] = vh[:k].T * root
    return left, right


class AlternatingLeastSquares:
    """ALS on eq. 4 for one architecture and one set of target weights (``sigma = identity``).

    Args:
        targets: ``W_l [m_l, n_l]`` per genome layer (any float dtype; solved in float64).
        architecture: the embedding genome's architecture (its junction decides the factors).
        start: initial factors (e.g. a random genome's): :meth:`initialise` replaces them by a
            greedy fit, keeping their components that the data leaves undetermined.
        fix_inputs: keep ``start.inputs`` (a shared input encoding) fixed.
        fix_positions: keep ``start.positions`` fixed.
    """

    def __init__(
        self,
        targets: list[Tensor],
        architecture: Architecture,
        start: EmbeddingFactors,
        *,
        fix_inputs: bool,
        fix_positions: bool,
    ) -> None:
        self.targets = [t.detach().double() for t in targets]
        self.architecture = architecture
        self.factors = start.to(torch.float64)
        self.fix_inputs = fix_inputs
        self.fix_positions = fix_positions
        self.weights = [1.0 / t.numel() for t in self.targets]

    @property
    def d(self) -> int:
        return self.factors.inputs.shape[1]

    def objective(self) -> float:
        return float(objective(self.factors, self.targets, self.architecture))

    # -------------------------------------------------------------- solves
    def _right_part(self, layer: int) -> Part:
        """``Z_layer`` as the right factor of ``W_layer ~ L Z^T``."""
        return left_factor(self.factors, self.architecture, layer), self.targets[layer], self.weights[layer]

    def _layer_parts(self, layer: int) -> list[Part]:
        parts = [self._right_part(layer)]
        successor = layer + 1
        if successor == len(self.targets):
            return parts
        arch, f = self.architecture, self.factors
        target, weight, right = self.targets[successor], self.weights[successor], f.layers[successor]
        if successor != arch.n_conv or arch.junction == "gap":
            parts.append((right, target.T, weight))
        elif arch.junction == "position":
            # W[(i, p), j] = (z_i * e_p) . r_j = z_i . (e_p * r_j): rows (p, j) of A are e_p * r_j.
            n_positions, n = f.positions.shape[0], right.shape[0]
            a = (f.positions[:, None, :] * right[None]).reshape(n_positions * n, self.d)
            parts.append((a, target.reshape(-1, n_positions * n).T, weight))
        return parts  # "free": the junction features, not Z_layer, feed the next layer

    def solve_layer(self, layer: int) -> None:
        self.factors.layers[layer] = solve_rows(self._layer_parts(layer), self.factors.layers[layer])

    def solve_inputs(self) -> None:
        f = self.factors
        f.inputs = solve_rows([(f.layers[0], self.targets[0].T, self.weights[0])], f.inputs)

    def solve_features(self) -> None:
        junction = self.architecture.n_conv
        f = self.factors
        part = (f.layers[junction], self.targets[junction].T, self.weights[junction])
        f.features = solve_rows([part], f.features.flatten(0, 1)).reshape(f.features.shape)

    def solve_positions(self) -> None:
        # W[(i, p), j] = e_p . (z_i * r_j): rows (i, j) of A are z_i * r_j.
        junction = self.architecture.n_conv
        conv, right = self.factors.layers[junction - 1], self.factors.layers[junction]
        c, n, n_positions = conv.shape[0], right.shape[0], self.factors.positions.shape[0]
        a = (conv[:, None, :] * right[None]).reshape(c * n, self.d)
        b = self.targets[junction].reshape(c, n_positions, n).permute(0, 2, 1).reshape(c * n, n_positions)
        self.factors.positions = solve_rows([(a, b, self.weights[junction])], self.factors.positions)

    def _solve_junction(self) -> None:
        if self.architecture.junction == "free":
            self.solve_features()
        elif self.architecture.junction == "position" and not self.fix_positions:
            self.solve_positions()

    # --------------------------------------------------------------- driver
    def initialise(self) -> None:
        """Greedy start, layer by layer: a truncated SVD where both factors are free (the first
        layer without a fixed input encoding; the free junction), else a least-squares solve of
        ``Z_l`` against its own layer only."""
        arch, f = self.architecture, self.factors
        for layer in range(len(self.targets)):
            if layer == 0 and not self.fix_inputs:
                f.inputs, f.layers[0] = balanced_factors(self.targets[0], f.inputs, f.layers[0])
            elif layer == arch.n_conv and layer > 0 and arch.junction == "free":
                features = f.features.flatten(0, 1)
                features, f.layers[layer] = balanced_factors(self.targets[layer], features, f.layers[layer])
                f.features = features.reshape(f.features.shape)
            else:
                f.layers[layer] = solve_rows([self._right_part(layer)], f.layers[layer])

    def sweep(self) -> None:
        """Solve every free factor once, in depth order."""
        if not self.fix_inputs:
            self.solve_inputs()
        for layer in range(len(self.targets)):
            if layer == self.architecture.n_conv and layer > 0:
                self._solve_junction()
            self.solve_layer(layer)

    def run(self, max_sweeps: int = 100, tolerance: float = 1e-6) -> list[float]:
        """Initialise, then sweep until the objective improves by less than ``tolerance``
        (relative) or after ``max_sweeps`` sweeps.

        Returns:
            The objective after the initialisation and after each sweep.
        """
        self.initialise()
        history = [self.objective()]
        for _ in range(max_sweeps):
            self.sweep()
            history.append(self.objective())
            if history[-2] - history[-1] <= tolerance * history[-2]:
                break
        return history
