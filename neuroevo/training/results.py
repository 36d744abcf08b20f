"""The JSON record of a run: what was trained or fitted, on which data, and how well it did."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neuroevo.data import Dataset
from neuroevo.files import atomic_write
from neuroevo.genomes import Genome
from neuroevo.provenance import provenance


def parameter_summary(genome: Genome) -> dict[str, Any]:
    """Parameter counts of ``genome``, with and without biases.

    Returns:
        ``{"by_kind": genome.parameter_counts(), "total": all scalars,
        "total_without_biases": all but the biases}`` (the paper counts an FC embedding network
        without biases and a conv one with them; both totals are given so either can be compared).
    """
    counts = genome.parameter_counts()
    total = sum(counts.values())
    return {"by_kind": counts, "total": total, "total_without_biases": total - counts["biases"]}


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    """``{"name", "split", "n_samples"}`` of a data set."""
    return {"name": dataset.name, "split": dataset.split, "n_samples": len(dataset)}


def write_metrics(path: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write ``metrics`` as indented JSON to ``path`` (atomically), with the run's
    :func:`~neuroevo.provenance.provenance` (commit, command, code fingerprint) under
    ``"provenance"`` and its commit also at the top level. Returns the path."""
    record = provenance()
    metrics = {"commit": record["commit"], "dirty": record["dirty"], **metrics, "provenance": record}
    text = json.dumps(metrics, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))
