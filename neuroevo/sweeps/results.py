"""Sweep results: per-variant curves over coefficients, their summaries, CSV / JSON / PNG output."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroevo.files import atomic_write
from neuroevo.plotting import pyplot, save_figure
from neuroevo.sweeps.statistics import area_under_curve, loss_barrier, mean_confidence_interval, retention


@dataclass
class VariantCurve:
    """Accuracy and cross-entropy of one operator variant over coefficients and repeats.

    Attributes:
        variant: the operator variant's name (e.g. ``"embedding"``, ``"direct aligned+REPAIR"``).
        coefficients: ``[C]`` transplant coefficients or interpolation alphas.
        accuracy: ``[R, C]`` child accuracy in [0, 1], one row per repeat.
        cross_entropy: ``[R, C]`` child mean cross-entropy (nats).
        target_accuracy: accuracy of the parent that receives neurons (retention's denominator).
        measured_on: ``{"commit", "dirty", "code"}`` of the code that measured the curve
            (see :func:`neuroevo.provenance.provenance`); curves of one file may come from different
            runs when only some variants were re-run.
    """

    variant: str
    coefficients: np.ndarray
    accuracy: np.ndarray
    cross_entropy: np.ndarray
    target_accuracy: float
    measured_on: dict[str, object] = field(default_factory=dict)

    def retention(self) -> np.ndarray:
        """``[R, C]`` child accuracy / target parent accuracy."""
        return retention(self.accuracy, self.target_accuracy)

    def retention_auc(self) -> float:
        """Mean retention over the coefficient range (area under the mean retention curve);
        NaN for a curve of a single coefficient, which has no area."""
        if len(self.coefficients) < 2:
            return float("nan")
        return area_under_curve(self.coefficients, self.retention().mean(axis=0))

    def retention_at(self, coefficient: float) -> float:
        """Mean retention at the coefficient nearest to ``coefficient``."""
        column = int(np.argmin(np.abs(self.coefficients - coefficient)))
        return float(self.retention()[:, column].mean())

    def loss_barrier(self) -> float:
        """Barrier of the mean cross-entropy curve (meaningful for whole-network interpolation)."""
        return loss_barrier(self.coefficients, self.cross_entropy.mean(axis=0))

    def rows(self, confidence: float = 0.95) -> list[dict[str, float | str]]:
        """One summary row per coefficient: means and CI half-widths over repeats."""
        acc, acc_ci = mean_confidence_interval(self.accuracy, confidence)
        ce, ce_ci = mean_confidence_interval(self.cross_entropy, confidence)
        ret, ret_ci = mean_confidence_interval(self.retention(), confidence)
        return [
            {
                "variant": self.variant,
                "coefficient": float(c),
                "accuracy": float(acc[i]),
                "accuracy_ci95": float(acc_ci[i]),
                "cross_entropy": float(ce[i]),
                "cross_entropy_ci95": float(ce_ci[i]),
                "retention": float(ret[i]),
                "retention_ci95": float(ret_ci[i]),
                "repeats": int(self.accuracy.shape[0]),
            }
            for i, c in enumerate(self.coefficients)
        ]


@dataclass
class SweepResult:
    """All variants of one sweep plus where its numbers come from.

    Attributes:
        kind: one of :data:`~neuroevo.sweeps.run.KINDS`.
        layer: the crossed layer, or ``None`` for every layer.
        dataset: data set name and split that every accuracy was measured on.
        parent_accuracy: accuracy of each parent (``{"A": ..., "B": ...}`` and the fits').
        curves: one :class:`VariantCurve` per operator variant.
        setup: free-form description (architecture, seeds, repeats, commands).
        provenance: :func:`neuroevo.provenance.provenance` of the run that wrote the file (its
            ``commit`` and ``dirty`` are also written at the top level of the JSON).
    """

    kind: str
    layer: int | None
    dataset: str
    parent_accuracy: dict[str, float]
    curves: list[VariantCurve] = field(default_factory=list)
    setup: dict[str, object] = field(default_factory=dict)
    provenance: dict[str, object] = field(default_factory=dict)

    def summary(self) -> list[dict[str, float | str]]:
        """Per variant: retention at 0.5 and 1.0, retention AUC, midpoint accuracy, loss barrier."""
        rows = []
        for curve in self.curves:
            row: dict[str, float | str] = {
                "variant": curve.variant,
                "target_accuracy": curve.target_accuracy,
                "retention_at_0.5": curve.retention_at(0.5),
                "retention_at_1.0": curve.retention_at(1.0),
                "retention_auc": curve.retention_auc(),
            }
            if self.kind.startswith("interpolate"):
                row["midpoint_accuracy"] = float(
                    curve.accuracy[:, int(np.argmin(np.abs(curve.coefficients - 0.5)))].mean()
                )
                if curve.coefficients[0] == 0 and curve.coefficients[-1] == 1:
                    row["loss_barrier"] = curve.loss_barrier()
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ output
    def to_json(self) -> str:
        return json.dumps(
            {
                "commit": self.provenance.get("commit"),
                "dirty": self.provenance.get("dirty"),
                "provenance": self.provenance,
                "kind": self.kind,
                "layer": self.layer,
                "dataset": self.dataset,
                "parent_accuracy": self.parent_accuracy,
                "setup": self.setup,
                "summary": self.summary(),
                "curves": [
                    {
                        "variant": c.variant,
                        "coefficients": c.coefficients.tolist(),
                        "accuracy": c.accuracy.tolist(),
                        "cross_entropy": c.cross_entropy.tolist(),
                        "target_accuracy": c.target_accuracy,
                        "measured_on": c.measured_on,
                        "rows": c.rows(),
                    }
                    for c in self.curves
                ],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> "SweepResult":
        """The result :meth:`to_json` wrote (summaries and rows are recomputed, not read)."""
        record = json.loads(text)
        curves = [
            VariantCurve(
                variant=c["variant"],
                coefficients=np.asarray(c["coefficients"], dtype=np.float64),
                accuracy=np.asarray(c["accuracy"], dtype=np.float64),
                cross_entropy=np.asarray(c["cross_entropy"], dtype=np.float64),
                target_accuracy=float(c["target_accuracy"]),
                measured_on=dict(c.get("measured_on") or {}),
            )
            for c in record["curves"]
        ]
        return cls(record["kind"], record["layer"], record["dataset"], record["parent_accuracy"], curves,
                   record.get("setup", {}), record.get("provenance", {}))

    def to_csv(self) -> str:
        rows = [row for curve in self.curves for row in curve.rows()]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()

    def write(self, folder: str | Path, stem: str) -> dict[str, Path]:
        """Write ``<stem>.json``, ``<stem>.csv`` and ``<stem>.png`` into ``folder`` (atomically)."""
        folder = Path(folder)
        paths = {"json": folder / f"{stem}.json", "csv": folder / f"{stem}.csv", "png": folder / f"{stem}.png"}
        atomic_write(paths["json"], lambda tmp: tmp.write_text(self.to_json()))
        atomic_write(paths["csv"], lambda tmp: tmp.write_text(self.to_csv()))
        self.plot(paths["png"])
        return paths

    def plot(self, path: str | Path, confidence: float = 0.95) -> Path:
        """Mean accuracy per variant with a shaded confidence band (the paper's Fig. 3 / 4 style), as a
        PNG written atomically to ``path``. Returns the path."""
        plt = pyplot()
        figure, axis = plt.subplots(figsize=(6.4, 4.2), dpi=120)
        colours = plt.get_cmap("tab10")
        for index, curve in enumerate(self.curves):
            mean, half = mean_confidence_interval(curve.accuracy * 100, confidence)
            colour = colours(index % 10)
            axis.plot(curve.coefficients, mean, color=colour, label=curve.variant, linewidth=1.6)
            axis.fill_between(curve.coefficients, mean - half, mean + half, color=colour, alpha=0.2, linewidth=0)
        label = {"transplant": "transplant coefficient",
                 "transplant-all-hidden": "transplant coefficient (every hidden layer)",
                 "interpolate": "interpolation alpha",
                 "interpolate-all": "interpolation alpha (all layers)"}.get(self.kind, "coefficient")
        axis.set_xlabel(label)
        axis.set_ylabel(f"test accuracy (%), mean and {int(confidence * 100)}% CI")
        where = "all layers" if self.layer is None else f"layer {self.layer}"
        axis.set_title(f"{self.kind}, {where}: {self.dataset}", fontsize=10)
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower left")
        figure.tight_layout()
        return save_figure(figure, path)
