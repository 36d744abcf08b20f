"""Fitness over generations as PNG plots: one run's logbook, or the mean and 95% CI of many runs.

Needs matplotlib (the ``plots`` extra); it is imported only when a plot is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from deap import tools

from neuroevo.plotting import pyplot, save_figure
from neuroevo.statistics import mean_confidence_interval

__all__ = ["mean_confidence_interval", "plot_logbook", "plot_mean_ci"]


def plot_logbook(
    logbook: tools.Logbook,
    path: str | os.PathLike,
    *,
    fields: Sequence[str] = ("max", "avg", "min"),
    title: str = "fitness over generations",
) -> Path:
    """Plot logbook ``fields`` against ``gen`` as a PNG (atomic). Returns the path.

    Fields are looked up in the logbook itself, else in its ``fitness`` chapter (DEAP's
    ``MultiStatistics`` layout); fields that are found nowhere are skipped.

    Raises:
        ValueError: none of ``fields`` is in the logbook.
    """
    source = next(
        (book for book in (logbook, logbook.chapters.get("fitness")) if book and any(f in book[0] for f in fields)),
        None,
    )
    if source is None:
        raise ValueError(f"the logbook has none of the fields {list(fields)}")
    present = [f for f in fields if f in source[0]]
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    generations = logbook.select("gen")
    for name in present:
        axes.plot(generations, [np.ravel(v)[0] for v in source.select(name)], label=name, marker=".")
    axes.set(xlabel="generation", ylabel="fitness", title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    return save_figure(figure, path)


def plot_mean_ci(
    curves: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    x: Sequence[float] | None = None,
    xlabel: str = "generation",
    ylabel: str = "best fitness",
    title: str = "",
    confidence: float = 0.95,
) -> Path:
    """One line per arm: the mean over runs, with a shaded confidence band. Returns the path.

    Args:
        curves: arm name -> ``[runs, T]`` values.
        path: the PNG file (written atomically).
        x: the ``T`` x values (default ``0 .. T-1``).
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, values in curves.items():
        mean, half = mean_confidence_interval(values, confidence)
        xs = np.arange(len(mean)) if x is None else np.asarray(x)
        axes.plot(xs, mean, label=f"{name} (n={np.shape(values)[0]})")
        axes.fill_between(xs, mean - half, mean + half, alpha=0.2)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(figure, path)
