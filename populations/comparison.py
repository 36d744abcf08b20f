"""Reporting an evolution comparison: run records, their summary with Student-t confidence
intervals, which arms are separated, and learning-curve plots.

A record is one run of one arm: ``{"dataset", "design", "encoding", "variation", "operator", "seed",
"evaluations", "gradient_steps", "test_accuracy", "holdout_accuracy"}`` (accuracies of the final
best individual, chosen by fitness), optionally with a ``"curve"``: one entry per generation with
``evaluations`` (cumulative), ``best`` (best fitness so far), ``mean`` (population mean fitness),
``intermediate_avg`` and ``diversity``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from populations.plots import mean_confidence_interval, plot_mean_ci

__all__ = [
    "ARM_FIELDS",
    "RECORD_FIELDS",
    "ArmSummary",
    "arm_label",
    "check_equal_budget",
    "plot_curves",
    "separation",
    "summarise",
    "summary_table",
]

#: The fields that identify an arm within a data set and design.
ARM_FIELDS = ("encoding", "variation", "operator")

#: The fields every record has.
RECORD_FIELDS = ("dataset", "design", *ARM_FIELDS, "seed", "evaluations", "gradient_steps", "test_accuracy",
                 "holdout_accuracy")


def arm_label(record: dict[str, Any]) -> str:
    """``"encoding / variation / operator"``."""
    return " / ".join(str(record[field]) for field in ARM_FIELDS)


@dataclass(frozen=True)
class ArmSummary:
    """One arm over its seeds (accuracies as fractions).

    Attributes:
        dataset, design, encoding, variation, operator: the arm.
        n: number of seeds.
        evaluations, gradient_steps: the budget (a tuple of the distinct values over seeds).
        test, holdout: ``(mean, half-width of the 95% Student-t interval)``.
    """

    dataset: str
    design: str
    encoding: str
    variation: str
    operator: str
    n: int
    evaluations: tuple[int, ...]
    gradient_steps: tuple[int, ...]
    test: tuple[float, float]
    holdout: tuple[float, float]

    @property
    def label(self) -> str:
        return f"{self.encoding} / {self.variation} / {self.operator}"

    @property
    def test_interval(self) -> tuple[float, float]:
        mean, half = self.test
        return mean - half, mean + half


def _check_record(record: dict[str, Any]) -> None:
    missing = [field for field in RECORD_FIELDS if field not in record]
    if missing:
        raise ValueError(f"run record lacks {', '.join(missing)}: {record!r}")


def _mean_ci(values: Sequence[float]) -> tuple[float, float]:
    mean, half = mean_confidence_interval(np.asarray(values, dtype=float)[:, None])
    return float(mean[0]), float(half[0])


def summarise(records: Iterable[dict[str, Any]]) -> list[ArmSummary]:
    """One :class:`ArmSummary` per (data set, design, arm), in the order arms first appear.

    Raises:
        ValueError: a record without one of :data:`RECORD_FIELDS`.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        _check_record(record)
        key = (record["dataset"], record["design"], *(record[f] for f in ARM_FIELDS))
        groups.setdefault(key, []).append(record)
    result = []
    for key, runs in groups.items():
        result.append(ArmSummary(
            *key, n=len(runs),
            evaluations=tuple(sorted({int(r["evaluations"]) for r in runs})),
            gradient_steps=tuple(sorted({int(r["gradient_steps"]) for r in runs})),
            test=_mean_ci([r["test_accuracy"] for r in runs]),
            holdout=_mean_ci([r["holdout_accuracy"] for r in runs]),
        ))
    return result


def check_equal_budget(records: Iterable[dict[str, Any]], *, exclude_encodings: Sequence[str] = ("adam",)) -> None:
    """Check that every evolutionary arm of one data set and design spent the same number of
    fitness evaluations and gradient steps in every run (plain training, ``exclude_encodings``,
    is checked for gradient steps only).

    Raises:
        ValueError: the budgets differ (the message names the arms and their budgets).
    """
    budgets: dict[tuple[str, str], dict[str, set]] = {}
    for record in records:
        _check_record(record)
        entry = budgets.setdefault((record["dataset"], record["design"]),
                                   {"evaluations": set(), "gradient_steps": set()})
        entry["gradient_steps"].add((arm_label(record), int(record["gradient_steps"])))
        if record["encoding"] not in exclude_encodings:
            entry["evaluations"].add((arm_label(record), int(record["evaluations"])))
    for (dataset, design), entry in budgets.items():
        for what, pairs in entry.items():
            if len({value for _, value in pairs}) > 1:
                raise ValueError(f"{dataset} / {design}: unequal {what} across arms: {sorted(pairs)}")


def separation(summaries: Sequence[ArmSummary], arm: ArmSummary) -> dict[str, str]:
    """How ``arm``'s test-accuracy interval stands against every other arm of its data set and
    design: ``"above"`` (intervals disjoint, ``arm`` higher), ``"below"``, or ``"overlap"``."""
    low, high = arm.test_interval
    result = {}
    for other in summaries:
        if (other.dataset, other.design) != (arm.dataset, arm.design) or other is arm:
            continue
        other_low, other_high = other.test_interval
        result[other.label] = "above" if low > other_high else "below" if high < other_low else "overlap"
    return result


def _percent(value: tuple[float, float]) -> str:
    mean, half = value
    return f"{100 * mean:.2f} ± {100 * half:.2f}"


def summary_table(summaries: Sequence[ArmSummary]) -> str:
    """A markdown table: arm, seeds, budget, test and holdout accuracy (mean ± 95% CI, in %)."""
    lines = ["| arm (encoding / variation / operator) | seeds | evaluations | gradient steps | test accuracy % | "
             "holdout accuracy % |", "|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.label} | {s.n} | {'/'.join(map(str, s.evaluations))} | "
                     f"{'/'.join(map(str, s.gradient_steps))} | {_percent(s.test)} | {_percent(s.holdout)} |")
    return "\n".join(lines)


def plot_curves(
    records: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    *,
    field: str = "best",
    title: str = "",
    ylabel: str | None = None,
) -> Path | None:
    """Mean and 95% CI over seeds of one curve field against evaluations, one line per arm (arms
    whose runs have no curve, or whose curves' evaluation counts differ from the first arm's, get
    their own x values and are drawn only if all their seeds agree). Returns the path, or ``None``
    when no record has a curve.
    """
    arms: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("curve"):
            arms.setdefault(arm_label(record), []).append(record)
    if not arms:
        return None
    curves: dict[str, np.ndarray] = {}
    x = None
    for label, runs in arms.items():
        xs = [tuple(entry["evaluations"] for entry in r["curve"]) for r in runs]
        if len(set(xs)) != 1 or (x is not None and xs[0] != x):
            continue
        x = xs[0]
        values = np.array([[entry[field] for entry in r["curve"]] for r in runs], dtype=float)
        if np.isnan(values).all():
            continue
        curves[label] = 100 * values
    if not curves:
        return None
    return plot_mean_ci(curves, path, x=list(x), xlabel="fitness evaluations",
                        ylabel=ylabel or f"{field} holdout accuracy %", title=title)


def mean_curve_value(records: Sequence[dict[str, Any]], field: str, generation: int) -> float:
    """Mean over runs of ``curve[generation][field]`` (NaN entries and runs without one skipped;
    NaN when there are none)."""
    values = [r["curve"][generation][field] for r in records
              if r.get("curve") and len(r["curve"]) > abs(generation)]
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")
