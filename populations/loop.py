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
from dataclasses import dataclass
from typing import Any, Callable

from deap import algorithms, base, tools
from tqdm.auto import tqdm

from neuroevo.validation import check_int
from populations.checkpoint import GAState, load_checkpoint, save_checkpoint
from populations.individuals import Individual
from populations.rng import restore_rng_state

__all__ = ["GAState", "Schedule", "after_generation", "drive_generations", "evaluate_invalid", "evolve", "resume",
           "run_generations"]


def evaluate_invalid(individuals: list[Individual], toolbox: base.Toolbox) -> int:
    """Evaluate the individuals whose fitness is invalid with ``toolbox.map(toolbox.evaluate, ...)``.

    Returns:
        The number of evaluations.
    """
    invalid = [individual for individual in individuals if not individual.fitness.valid]
    for individual, fitness in zip(invalid, toolbox.map(toolbox.evaluate, invalid)):
        individual.fitness.values = fitness
    return len(invalid)


@dataclass(frozen=True)
class Schedule:
    """How a run proceeds: ``varAnd`` probabilities, length, logging and checkpoints.

    Attributes:
        cxpb, mutpb: crossover and mutation probabilities of ``varAnd``.
        ngen: number of generations after the initial one.
        stats: statistics recorded in the logbook each generation.
        checkpoint: file written after generation 0, every ``checkpoint_every`` generations and
            after the last (``None``: no checkpoints).
        checkpoint_every: generations between checkpoints.
        extra: JSON-ready data stored in every checkpoint (e.g. the run's settings).
        progress: show a tqdm progress bar over generations.
        on_generation: called with the state after every generation (after its checkpoint).

    Raises:
        ValueError: ``ngen`` negative or ``checkpoint_every`` not positive.
    """

    cxpb: float
    mutpb: float
    ngen: int
    stats: tools.Statistics | None = None
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 1
    extra: dict[str, Any] | None = None
    progress: bool = False
    on_generation: Callable[[GAState], None] | None = None

    def __post_init__(self) -> None:
        check_int("ngen", self.ngen, minimum=0)
        check_int("checkpoint_every", self.checkpoint_every)

    def record(self, state: GAState, nevals: int) -> None:
        """Append generation ``state.generation`` to the logbook."""
        record = self.stats.compile(state.population) if self.stats else {}
        state.logbook.record(gen=state.generation, nevals=nevals, **record)

    def after_generation(self, state: GAState) -> None:
        """Checkpoint (when due) and call ``on_generation``."""
        after_generation(state, self.ngen, checkpoint=self.checkpoint, checkpoint_every=self.checkpoint_every,
                         extra=self.extra, on_generation=self.on_generation)


def after_generation(
    state: GAState,
    ngen: int,
    *,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> None:
    """What every generational loop does after a generation: write the checkpoint when it is due
    (every ``checkpoint_every`` generations and after generation ``ngen``), then ``on_generation``."""
    if checkpoint is not None and (state.generation % checkpoint_every == 0 or state.generation == ngen):
        save_checkpoint(checkpoint, state, extra=extra)
    if on_generation is not None:
        on_generation(state)


def drive_generations(
    state: GAState,
    generation: Callable[[GAState], None],
    ngen: int,
    *,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """The generational driver every loop shares (eaSimple, memetic, neuron-level): from
    ``state.generation + 1`` to ``ngen``, advance the generation number, run ``generation(state)``
    (which updates ``state`` in place), then :func:`after_generation`. A run resumed from a
    checkpoint goes through the same calls as an uninterrupted one. Returns ``state``."""
    while state.generation < ngen:
        state.generation += 1
        generation(state)
        after_generation(state, ngen, checkpoint=checkpoint, checkpoint_every=checkpoint_every, extra=extra,
                         on_generation=on_generation)
    return state


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
        halloffame: updated with every evaluated generation.
        cxpb, mutpb, ngen, stats, checkpoint, checkpoint_every, extra, progress, on_generation:
            see :class:`Schedule`.

    Returns:
        The final :class:`GAState` (``generation == ngen``).
    """
    schedule = Schedule(cxpb, mutpb, ngen, stats, checkpoint, checkpoint_every, extra, progress, on_generation)
    state = GAState(population, 0, tools.Logbook(), halloffame)
    state.logbook.header = ["gen", "nevals", *(stats.fields if stats else [])]
    nevals = evaluate_invalid(population, toolbox)
    if halloffame is not None:
        halloffame.update(population)
    schedule.record(state, nevals)
    schedule.after_generation(state)
    return run_generations(state, toolbox, schedule)


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
    to the same file (with ``extra``, by default the checkpoint's own extra data). Other arguments
    as in :func:`evolve`.

    The global random number generators are restored to their state when the checkpoint was
    written, so with the same toolbox and settings the run ends as an uninterrupted one would.

    Raises:
        populations.checkpoint.CheckpointError: an unreadable checkpoint.
    """
    saved = load_checkpoint(checkpoint)
    schedule = Schedule(cxpb, mutpb, ngen, stats, checkpoint, checkpoint_every,
                        saved.extra if extra is None else extra, progress, on_generation)
    restore_rng_state(saved.rng_state)
    return run_generations(saved.state, toolbox, schedule)


def run_generations(state: GAState, toolbox: base.Toolbox, schedule: Schedule) -> GAState:
    """The generational loop of :func:`evolve` from ``state.generation + 1`` to ``schedule.ngen``
    (``state`` is updated in place and returned)."""
    bar = tqdm(total=schedule.ngen, initial=state.generation, desc="evolve", unit="gen", disable=not schedule.progress)

    def generation(state: GAState) -> None:
        offspring = toolbox.select(state.population, len(state.population))
        offspring = algorithms.varAnd(offspring, toolbox, schedule.cxpb, schedule.mutpb)
        nevals = evaluate_invalid(offspring, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(offspring)
        state.population[:] = offspring
        schedule.record(state, nevals)

    def on_generation(state: GAState) -> None:
        if schedule.on_generation is not None:
            schedule.on_generation(state)
        bar.update()
        bar.set_postfix(best=str(tools.selBest(state.population, 1)[0].fitness))

    drive_generations(state, generation, schedule.ngen, checkpoint=schedule.checkpoint,
                      checkpoint_every=schedule.checkpoint_every, extra=schedule.extra, on_generation=on_generation)
    bar.close()
    return state
