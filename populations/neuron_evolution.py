"""The neuron-level design as a recipe: ESP-style evolution of slot subpopulations, without gradient
steps during evolution, against whole-network mutation at the same number of evaluations."""

from __future__ import annotations

import os

from deap import base, tools

from neuroevo.data import Dataset
from operators.registry import crossover, mutation
from populations.engine import EvolutionResult, evolve
from populations.individuals import individual_from_genome, similar
from populations.initialisation import population_from_parents
from populations.learning import LamarckianTraining
from populations.memetic import MemeticSettings, ancestor, genome_rms
from populations.rng import seed_everything
from populations.strategies import ESP, NEURON_VARIATIONS, EaSimple, neuron_subpopulations
from populations.toolbox import register_batched_evaluation

__all__ = ["run_neuron_level"]


def run_neuron_level(
    train: Dataset,
    holdout: Dataset,
    settings: MemeticSettings = MemeticSettings(),
    *,
    variation: str = "crossover",
    generations: int = 10,
    trials: int = 4,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
) -> EvolutionResult:
    """One arm of the neuron-level design.

    ``settings.population`` members descend from one ancestor (:func:`populations.memetic.ancestor`)
    and each learns ``settings.steps`` steps on its own minibatches; their matched neurons form the
    slots' subpopulations (:func:`~populations.strategies.neuron_subpopulations`), evolved by
    :class:`~populations.strategies.ESP` for ``generations`` generations with ``trials`` networks per
    record (fitness: accuracy on ``holdout``). ``variation="whole-network"`` is the baseline at the
    same number of evaluations: :class:`~populations.strategies.EaSimple` with Gaussian mutation of
    whole networks (population ``population * trials``, ``generations - 1`` generations after the
    initial one, every offspring mutated), from the same members.

    Raises:
        ValueError: an unknown variation, or settings the strategy rejects (before any training).
    """
    choices = (*NEURON_VARIATIONS, "whole-network")
    if variation not in choices:
        raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(choices)}")
    strategy = EaSimple(cxpb=0.0, mutpb=1.0) if variation == "whole-network" else ESP(
        variation=variation, trials=trials, alpha=settings.alpha)
    if variation == "crossover" and settings.population < 8:
        raise ValueError(f"neuron-level crossover needs at least 8 records per slot, got a population of "
                         f"{settings.population}")
    seed_everything(seed)
    root, steps = ancestor(train, settings, seed=seed)
    learner = LamarckianTraining(train, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr)
    members = [individual_from_genome(root) for _ in range(settings.population)]
    for member in members:
        learner(member)
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)
    toolbox.register("mutate", mutation("gaussian", sigma=settings.mutation_sigma * genome_rms(root),
                                        indpb=settings.mutation_indpb))
    halloffame = tools.HallOfFame(1, similar=similar)
    if variation == "whole-network":
        toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
        toolbox.register("mate", crossover("interpolate"))
        population = population_from_parents(members, settings.population * trials, sigma=0.0)
        result = evolve(strategy, population, toolbox, ngen=generations - 1, halloffame=halloffame,
                        checkpoint=checkpoint)
    else:
        result = evolve(strategy, neuron_subpopulations(members), toolbox, ngen=generations, halloffame=halloffame,
                        checkpoint=checkpoint)
    result.gradient_steps = steps + learner.gradient_steps
    return result
