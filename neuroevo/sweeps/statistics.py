"""Summary statistics of crossover sweeps: confidence intervals, retention, AUC, loss barrier."""

from __future__ import annotations

import numpy as np

from neuroevo.statistics import mean_confidence_interval

__all__ = ["area_under_curve", "loss_barrier", "mean_confidence_interval", "retention"]


def retention(child_accuracy: np.ndarray, target_accuracy: float) -> np.ndarray:
    """Child accuracy as a fraction of the target parent's accuracy (1.0 = nothing lost)."""
    if target_accuracy <= 0:
        raise ValueError(f"target accuracy must be positive, got {target_accuracy}")
    return np.asarray(child_accuracy, dtype=np.float64) / target_accuracy


def area_under_curve(coefficients: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under ``values`` over ``coefficients``, divided by the coefficient range.

    For a retention curve over coefficients 0..1 this is the mean retention: 1.0 means the
    crossover never lost accuracy.
    """
    x = np.asarray(coefficients, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError("need matching 1-d coefficient and value arrays of length >= 2")
    width = x[-1] - x[0]
    if width <= 0:
        raise ValueError("coefficients must increase")
    return float(np.trapezoid(y, x) / width)


def loss_barrier(alphas: np.ndarray, losses: np.ndarray) -> float:
    """``max_alpha [L(alpha) - ((1 - alpha) L(0) + alpha L(1))]`` on a grid from 0 to 1.

    Args:
        alphas: ``[A]`` increasing, first 0 and last 1.
        losses: ``[A]`` loss of the interpolated network at each alpha.
    """
    a = np.asarray(alphas, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if a.shape != loss.shape or a.ndim != 1 or len(a) < 2 or a[0] != 0 or a[-1] != 1:
        raise ValueError("alphas must run from 0 to 1 and match the losses")
    linear = (1 - a) * loss[0] + a * loss[-1]
    return float(np.max(loss - linear))
