"""Populations: DEAP individuals, batched evaluation as ``toolbox.map``, the evolution engine and
its strategies, checkpoints.

* :mod:`~populations.individuals`: :class:`EmbeddingIndividual`, :class:`DirectIndividual`
  (genomes with a DEAP fitness), :func:`similar` for ``tools.HallOfFame``.
* :mod:`~populations.initialisation`: initial populations from parents plus noise, random
  genomes, or genome files.
* :mod:`~populations.toolbox`: :func:`register_batched_evaluation` (``toolbox.map`` evaluates a
  whole list in one batched pass).
* :mod:`~populations.engine`: :func:`evolve` / :func:`resume`, the one generational loop, for any
  :class:`Strategy`; its :class:`EvolutionResult` carries a typed learning curve.
* :mod:`~populations.strategies`: :class:`EaSimple`, :class:`Memetic`, :class:`ESP`, :class:`SANE`, :class:`CoSyNE`.
* :mod:`~populations.rollouts`, :mod:`~populations.control`: control tasks as fitness (batched
  rollouts as ``toolbox.map``) and one gradient-free run on a control task (:func:`run_control`;
  not imported here: they need the control environments).
* :mod:`~populations.learning`, :mod:`~populations.variation`: the learning step and the
  variation arms of memetic evolution.
* :mod:`~populations.memetic`, :mod:`~populations.neuron_evolution`, :mod:`~populations.specialists`:
  recipes that build and run a whole design from one set of settings.
* :mod:`~populations.checkpoint`, :mod:`~populations.rng`: checkpoints and the generators they hold.
* :mod:`~populations.logbook`, :mod:`~populations.plots`, :mod:`~populations.comparison`: logbook
  CSV, plots, and reporting a comparison of arms.
* :mod:`~populations.distributed`: evaluation on Ray workers (needs the ``distributed`` extra;
  not imported here).
"""

from populations.checkpoint import Checkpoint, CheckpointError, GAState, load_checkpoint, save_checkpoint
from populations.engine import CurvePoint, EvolutionResult, Strategy, evaluate_invalid, evolve, learning_curve, resume
from populations.individuals import (
    DirectIndividual,
    EmbeddingIndividual,
    Fitness,
    FitnessMax,
    Individual,
    individual_from_genome,
    similar,
)
from populations.initialisation import population_from_files, population_from_parents, random_population, train_parents
from populations.learning import LamarckianTraining
from populations.lockstep import run_in_lockstep
from populations.logbook import write_logbook_csv
from populations.memetic import MemeticSettings, run_memetic
from populations.neuron_evolution import run_neuron_level
from populations.rng import capture_rng_state, restore_rng_state, seed_everything
from populations.specialists import class_shards, specialist_population
from populations.strategies import ESP, SANE, CoSyNE, EaSimple, Memetic, neuron_subpopulations, sane_population
from populations.toolbox import BatchedEvaluation, BatchedMap, register_batched_evaluation

__all__ = [
    "BatchedEvaluation",
    "BatchedMap",
    "Checkpoint",
    "CheckpointError",
    "CoSyNE",
    "CurvePoint",
    "DirectIndividual",
    "ESP",
    "EaSimple",
    "EmbeddingIndividual",
    "EvolutionResult",
    "Fitness",
    "FitnessMax",
    "GAState",
    "Individual",
    "LamarckianTraining",
    "Memetic",
    "MemeticSettings",
    "SANE",
    "Strategy",
    "capture_rng_state",
    "class_shards",
    "evaluate_invalid",
    "evolve",
    "individual_from_genome",
    "learning_curve",
    "load_checkpoint",
    "neuron_subpopulations",
    "population_from_files",
    "population_from_parents",
    "random_population",
    "register_batched_evaluation",
    "restore_rng_state",
    "run_in_lockstep",
    "sane_population",
    "resume",
    "run_memetic",
    "run_neuron_level",
    "save_checkpoint",
    "seed_everything",
    "similar",
    "specialist_population",
    "train_parents",
    "write_logbook_csv",
]
