"""Evaluation: score genomes on a data set, a whole population in one batched pass.

* :func:`evaluate_population`: the batched evaluator (buckets by shape, stacked operands, shared
  input projection, dense or factored layers, chunked to a memory budget, any device).
* :func:`evaluate_genome` / :func:`evaluate_module`: the reference path (one decoded genome or
  module, run over the data in chunks), returning :class:`Metrics`.
* :class:`PopulationScores`: per-genome ``accuracy`` / ``cross_entropy`` tensors and DEAP
  fitness tuples (:meth:`PopulationScores.fitness`).

Modules: :mod:`~neuroevo.evaluation.stacking` (buckets, stacked operands),
:mod:`~neuroevo.evaluation.forward` (the batched forward), :mod:`~neuroevo.evaluation.budget`
(chunking to a memory budget), :mod:`~neuroevo.evaluation.metrics` (scores),
:mod:`~neuroevo.evaluation.single` (one model at a time),
:mod:`~neuroevo.evaluation.batched` (the two entry points).
"""

from neuroevo.evaluation.batched import DEFAULT_MEMORY_BUDGET, evaluate_population
from neuroevo.evaluation.metrics import METRICS, OBJECTIVES, PopulationScores
from neuroevo.evaluation.single import (
    Metrics,
    check_genome_fits_data,
    data_tensors,
    evaluate_genome,
    evaluate_module,
)
from neuroevo.evaluation.stacking import GenomeStack, bucket_genomes, stack_genomes

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "METRICS",
    "OBJECTIVES",
    "GenomeStack",
    "PopulationScores",
    "bucket_genomes",
    "Metrics",
    "check_genome_fits_data",
    "data_tensors",
    "evaluate_genome",
    "evaluate_module",
    "evaluate_population",
    "stack_genomes",
]
