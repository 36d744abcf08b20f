"""A resumable generational GA: DEAP's ``eaSimple`` with checkpoints.

:func:`evolve` makes exactly the calls ``deap.algorithms.eaSimple`` makes (select, ``varAnd``,
``toolbox.map(toolbox.evaluate, ...)``, hall of fame, statistics, logbook), in the same order and
drawing the same random numbers, so with the same seed it returns the same population. In
addition it writes a checkpoint (:mod:`populations.checkpoint`) every ``checkpoint_every``
generations and after the last. :func:`resume` loads one, restores the random number generators
and continues: a run killed at any point and resumed from its latest checkpoint ends with the
same population and logbook as an uninterrupted run, with no generation lost or repeated.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from deap import algorithms, base, tools
from tqdm.auto import tqdm

from neuroevo.validation import check_int
from populations.checkpoint import GAState, load_checkpoint, save_checkpoint
from populations.individuals import Individual
from populations.rng import restore_rng_state

__all__ = ["GAState", "evaluate_invalid", "evolve", "resume", "run_generations"]


def evaluate_invalid(individuals: list[Individual], toolbox: base.Toolbox) -> int:
    """Evaluate the individuals whose fitness is invalid with ``toolbox.map(toolbox.evaluate, ...)``.

    Returns:
        The number of evaluations.
    """
    invalid = [individual for individual in individuals if not individual.fitness.valid]
    for individual, fitness in zip(invalid, toolbox.map(toolbox.evaluate, invalid)):
        individual.fitness.values = fitness
    return len(invalid)


def _record(state: GAState, nevals: int, stats: tools.Statistics | None) -> None:
    record = stats.compile(state.population) if stats else {}
    state.logbook.record(gen=state.generation, nevals=nevals, **record)


def evolve(
    population: list[Individual],
    toolbox: base.Toolbox,
    *,
    cxpb: float,
    mutpb: float,
    ngen: int,
    stats: tools.Statistics | None = None,
    halloffame: tools.HallOfFame | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Run ``ngen`` generations of ``eaSimple`` from ``population``, with checkpoints.

    Args:
        population: the initial individuals (the list is updated in place, as ``eaSimple`` does).
        toolbox: with ``select``, ``mate``, ``mutate``, ``clone``, ``evaluate`` and ``map``.
        cxpb, mutpb: crossover and mutation probabilities of ``varAnd``.
        ngen: number of generations after the initial one.
        stats: statistics recorded in the logbook each generation.
        halloffame: updated with every evaluated generation.
        checkpoint: file written after generation 0, every ``checkpoint_every`` generations and
            after the last (``None``: no checkpoints).
        checkpoint_every: generations between checkpoints.
        extra: JSON-ready data stored in every checkpoint (e.g. the run's settings).
        progress: show a tqdm progress bar over generations.
        on_generation: called with the state after every generation (after its checkpoint).

    Returns:
        The final :class:`GAState` (``generation == ngen``).
    """
    _check_schedule(ngen, checkpoint_every)
    state = GAState(population, 0, tools.Logbook(), halloffame)
    state.logbook.header = ["gen", "nevals", *(stats.fields if stats else [])]
    nevals = evaluate_invalid(population, toolbox)
    if halloffame is not None:
        halloffame.update(population)
    _record(state, nevals, stats)
    _after_generation(state, ngen, checkpoint, checkpoint_every, extra, on_generation)
    return run_generations(state, toolbox, cxpb=cxpb, mutpb=mutpb, ngen=ngen, stats=stats, checkpoint=checkpoint,
                           checkpoint_every=checkpoint_every, extra=extra, progress=progress,
                           on_generation=on_generation)


def resume(
    checkpoint: str | os.PathLike,
    toolbox: base.Toolbox,
    *,
    cxpb: float,
    mutpb: float,
    ngen: int,
    stats: tools.Statistics | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Continue a run from its checkpoint up to generation ``ngen``, writing further checkpoints
    to the same file (with ``extra``, by default the checkpoint's own extra data).

    The global random number generators are restored to their state when the checkpoint was
    written, so with the same toolbox and settings the run ends as an uninterrupted one would.

    Raises:
        populations.checkpoint.CheckpointError: an unreadable checkpoint.
    """
    _check_schedule(ngen, checkpoint_every)
    saved = load_checkpoint(checkpoint)
    restore_rng_state(saved.rng_state)
    return run_generations(saved.state, toolbox, cxpb=cxpb, mutpb=mutpb, ngen=ngen, stats=stats,
                           checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           extra=saved.extra if extra is None else extra,
                           progress=progress, on_generation=on_generation)


def run_generations(
    state: GAState,
    toolbox: base.Toolbox,
    *,
    cxpb: float,
    mutpb: float,
    ngen: int,
    stats: tools.Statistics | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """The generational loop of :func:`evolve` from ``state.generation + 1`` to ``ngen``
    (``state`` is updated in place and returned). Arguments as in :func:`evolve`."""
    _check_schedule(ngen, checkpoint_every)
    bar = tqdm(total=ngen, initial=state.generation, desc="evolve", unit="gen", disable=not progress)
    while state.generation < ngen:
        offspring = toolbox.select(state.population, len(state.population))
        offspring = algorithms.varAnd(offspring, toolbox, cxpb, mutpb)
        nevals = evaluate_invalid(offspring, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(offspring)
        state.population[:] = offspring
        state.generation += 1
        _record(state, nevals, stats)
        _after_generation(state, ngen, checkpoint, checkpoint_every, extra, on_generation)
        bar.update()
        bar.set_postfix(best=str(tools.selBest(state.population, 1)[0].fitness))
    bar.close()
    return state


def _check_schedule(ngen: int, checkpoint_every: int) -> None:
    check_int("ngen", ngen, minimum=0)
    check_int("checkpoint_every", checkpoint_every)


def _after_generation(
    state: GAState,
    ngen: int,
    checkpoint: str | os.PathLike | None,
    checkpoint_every: int,
    extra: dict[str, Any] | None,
    on_generation: Callable[[GAState], None] | None,
) -> None:
    if checkpoint is not None and (state.generation % checkpoint_every == 0 or state.generation == ngen):
        save_checkpoint(checkpoint, state, extra=extra)
    if on_generation is not None:
        on_generation(state)
