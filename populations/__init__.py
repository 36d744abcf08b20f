"""Populations: DEAP individuals, batched evaluation as ``toolbox.map``, GA loops, checkpoints.

* :mod:`~populations.individuals`: :class:`EmbeddingIndividual`, :class:`DirectIndividual`
  (genomes with a DEAP fitness), :func:`similar` for ``tools.HallOfFame``.
* :mod:`~populations.initialisation`: initial populations from parents plus noise, random
  genomes, or genome files.
* :mod:`~populations.toolbox`: :func:`register_batched_evaluation` (``toolbox.map`` evaluates a
  whole list in one batched pass).
* :mod:`~populations.loop`: :func:`evolve` / :func:`resume`, ``eaSimple`` with checkpoints.
* :mod:`~populations.checkpoint`: :func:`save_checkpoint` / :func:`load_checkpoint`.
* :mod:`~populations.rng`: seeding, capturing and restoring the global generators.
* :mod:`~populations.logbook`, :mod:`~populations.plots`: logbook CSV and PNG plots.
* :mod:`~populations.distributed`: evaluation on Ray workers (needs the ``distributed`` extra;
  not imported here).
"""

from populations.checkpoint import Checkpoint, CheckpointError, GAState, load_checkpoint, save_checkpoint
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
from populations.logbook import write_logbook_csv
from populations.loop import Schedule, evolve, resume, run_generations
from populations.rng import capture_rng_state, restore_rng_state, seed_everything
from populations.toolbox import BatchedEvaluation, BatchedMap, register_batched_evaluation

__all__ = [
    "BatchedEvaluation",
    "BatchedMap",
    "Checkpoint",
    "CheckpointError",
    "DirectIndividual",
    "EmbeddingIndividual",
    "Fitness",
    "FitnessMax",
    "GAState",
    "Individual",
    "Schedule",
    "capture_rng_state",
    "evolve",
    "individual_from_genome",
    "load_checkpoint",
    "population_from_files",
    "population_from_parents",
    "random_population",
    "register_batched_evaluation",
    "restore_rng_state",
    "resume",
    "run_generations",
    "save_checkpoint",
    "seed_everything",
    "similar",
    "train_parents",
    "write_logbook_csv",
]

# Issue 11: memetic (Lamarckian) evolution, neuron-level evolution, specialists, comparison reporting.
from populations.memetic import (  # noqa: E402
    EvolutionRun,
    LamarckianTraining,
    MemeticSettings,
    evolve_memetic,
    resume_memetic,
    run_memetic,
)
from populations.neuron_evolution import evolve_neurons, neuron_subpopulations, resume_neurons, run_neuron_level  # noqa: E402
from populations.specialists import class_shards, specialist_population  # noqa: E402

__all__ += [
    "EvolutionRun",
    "LamarckianTraining",
    "MemeticSettings",
    "class_shards",
    "evolve_memetic",
    "evolve_neurons",
    "neuron_subpopulations",
    "resume_memetic",
    "resume_neurons",
    "run_memetic",
    "run_neuron_level",
    "specialist_population",
]
