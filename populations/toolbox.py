"""Batched population evaluation as a drop-in ``toolbox.map``.

DEAP's algorithms evaluate with ``toolbox.map(toolbox.evaluate, invalid_individuals)``.
:func:`register_batched_evaluation` registers ``toolbox.evaluate`` as a :class:`BatchedEvaluation`
and ``toolbox.map`` as a :class:`BatchedMap` that recognises it and evaluates the whole list in
one batched pass (:func:`neuroevo.evaluation.evaluate_population`); every other function is
mapped one item at a time, like the builtin ``map``. So ``eaSimple``, ``eaMuPlusLambda`` and
:func:`populations.evolve` use batched evaluation unchanged::

    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)   # fitness = (accuracy,)
    toolbox.register("mate", operators.cx_transplant, layer=0, coefficient=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.01, indpb=0.1)
    toolbox.register("select", tools.selTournament, tournsize=3)
    algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.2, ngen=10)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Protocol, Sequence

import torch
from deap import base

from neuroevo.data import Dataset
from neuroevo.evaluation import OBJECTIVES, evaluate_population
from neuroevo.genomes import Genome

__all__ = ["BatchedEvaluation", "BatchedMap", "PopulationEvaluation", "register_batched_evaluation"]

FitnessValues = tuple[float, ...]


class PopulationEvaluation(Protocol):
    """A fitness function that can score a whole list at once (:class:`BatchedEvaluation` on a data
    set, :class:`populations.rollouts.RolloutEvaluation` on a control task)."""

    def batch(self, individuals: Sequence[Any]) -> list[FitnessValues]:
        """One fitness tuple per individual, in order."""

    def __call__(self, individual: Any) -> FitnessValues:
        """The fitness tuple of one individual."""


class BatchedEvaluation:
    """Fitness of genomes on a data set, e.g. ``(accuracy,)``.

    Called on one individual (``toolbox.evaluate(ind)``) it evaluates that individual alone and
    returns its fitness tuple; :meth:`batch` evaluates a list in one batched pass.

    Args:
        dataset: the samples the fitness is measured on (e.g. a holdout part of the training set).
        objectives: the fitness objectives, all to be maximised: ``"accuracy"`` and/or
            ``"negative_cross_entropy"`` (see ``PopulationScores.fitness``).
        device: where the evaluation runs (``None``: the evaluator's default).
        memory_budget: the evaluator's memory budget in bytes (``None``: its default).

    Raises:
        ValueError: no or unknown objectives.
    """

    def __init__(
        self,
        dataset: Dataset,
        objectives: Sequence[str] = ("accuracy",),
        *,
        device: torch.device | str | None = None,
        memory_budget: int | None = None,
    ) -> None:
        unknown = [o for o in objectives if o not in OBJECTIVES]
        if unknown or not objectives:
            raise ValueError(
                f"unknown fitness objectives {unknown or '(none given)'}; choose from {', '.join(OBJECTIVES)}"
            )
        self.dataset = dataset
        self.objectives = tuple(objectives)
        self.metrics = tuple(dict.fromkeys(o.removeprefix("negative_") for o in self.objectives))
        self.device = device
        self.memory_budget = memory_budget

    def batch(self, genomes: Sequence[Genome]) -> list[FitnessValues]:
        """The fitness tuples of ``genomes`` (one batched pass; CPU genomes are not modified)."""
        if not genomes:
            return []
        options: dict[str, Any] = {"device": self.device}
        if self.memory_budget is not None:
            options["memory_budget"] = self.memory_budget
        scores = evaluate_population(list(genomes), self.dataset, metrics=self.metrics, **options)
        return scores.fitness(*self.objectives)

    def __call__(self, genome: Genome) -> FitnessValues:
        return self.batch([genome])[0]

    def __repr__(self) -> str:
        return f"BatchedEvaluation(objectives={self.objectives}, data={self.dataset.name}/{self.dataset.split})"


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function under argument-free ``functools.partial`` layers (how ``Toolbox.register`` wraps)."""
    while isinstance(func, functools.partial) and not func.args and not func.keywords:
        func = func.func
    return func


class BatchedMap:
    """``toolbox.map`` that batches calls of one evaluation and maps everything else.

    Args:
        evaluation: the function registered as ``toolbox.evaluate``.
        evaluate_batch: evaluates a list of individuals to a list of fitness tuples
            (``evaluation.batch`` by default; :mod:`populations.distributed` passes one that
            spreads the list over workers).
    """

    def __init__(
        self,
        evaluation: PopulationEvaluation,
        evaluate_batch: Callable[[list[Any]], list[FitnessValues]] | None = None,
    ) -> None:
        self.evaluation = evaluation
        self.evaluate_batch = evaluation.batch if evaluate_batch is None else evaluate_batch

    def __call__(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
        """``list(map(func, *iterables))``, computed in one batch when ``func`` is the evaluation.

        Raises:
            ValueError: the batch evaluator returned something other than one tuple per individual.
        """
        if len(iterables) == 1 and _unwrap(func) is self.evaluation:
            individuals = list(iterables[0])
            results = list(self.evaluate_batch(individuals))
            if len(results) != len(individuals) or not all(isinstance(r, tuple) for r in results):
                raise ValueError(
                    f"batched evaluation must return one fitness tuple per individual; got "
                    f"{len(results)} results for {len(individuals)} individuals: {results[:3]!r}..."
                )
            return results
        return list(map(func, *iterables))


def register_batched_evaluation(
    toolbox: base.Toolbox,
    dataset: Dataset,
    *,
    objectives: Sequence[str] = ("accuracy",),
    device: torch.device | str | None = None,
    memory_budget: int | None = None,
) -> BatchedMap:
    """Register ``toolbox.evaluate`` (a :class:`BatchedEvaluation`) and ``toolbox.map`` (a
    :class:`BatchedMap` batching it). Returns the map.

    Every objective is maximised, so the individuals' fitness has one weight ``1.0`` per objective
    (:class:`~populations.individuals.FitnessMax` for the default ``("accuracy",)``).
    """
    evaluation = BatchedEvaluation(dataset, objectives, device=device, memory_budget=memory_budget)
    batched_map = BatchedMap(evaluation)
    toolbox.register("evaluate", evaluation)
    toolbox.register("map", batched_map)
    return batched_map
