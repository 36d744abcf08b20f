"""Crossover destructiveness: the paper's transplant and interpolation sweeps, and their reports."""

from neuroevo.sweeps.results import SweepResult, VariantCurve
from neuroevo.sweeps.run import DEFAULT_COEFFICIENTS, KINDS, SweepParents, run_sweep
from neuroevo.sweeps.statistics import area_under_curve, loss_barrier, mean_confidence_interval, retention
from neuroevo.sweeps.summaries import has_layer_summaries, layer_summaries, summary_mismatch
from neuroevo.sweeps.variants import VARIANTS, Variant, resolve_variants

__all__ = [
    "DEFAULT_COEFFICIENTS",
    "KINDS",
    "SweepParents",
    "SweepResult",
    "VARIANTS",
    "Variant",
    "VariantCurve",
    "area_under_curve",
    "has_layer_summaries",
    "layer_summaries",
    "loss_barrier",
    "mean_confidence_interval",
    "resolve_variants",
    "retention",
    "run_sweep",
    "summary_mismatch",
]
