"""Confidence intervals of means over repeats: the one implementation the sweeps, the GA plots
and the evolution comparisons share."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mean_confidence_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean over repeats and the half-width of its confidence interval (t distribution).

    Args:
        values: ``[R, ...]`` one row per repeat.
        confidence: two-sided level, e.g. 0.95.

    Returns:
        ``(mean [...], half_width [...])``; the interval is ``mean +- half_width``. With a single
        repeat the half-width is 0 (no spread can be estimated) and is reported as such.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ValueError("need at least one repeat")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = values.mean(axis=0)
    repeats = values.shape[0]
    if repeats == 1:
        return mean, np.zeros_like(mean)
    sem = values.std(axis=0, ddof=1) / np.sqrt(repeats)
    return mean, sem * stats.t.ppf(0.5 + confidence / 2, df=repeats - 1)
