"""The evolution engine: one generational loop that every algorithm runs on.

An algorithm is a :class:`Strategy`: what generation 0 and every later generation do to the
population, how its settings are checked, which logbook fields it records and what it restores
from a checkpoint. :func:`evolve` and :func:`resume` do everything else, once for all strategies:
the generation counter, the logbook, checkpoints (every ``checkpoint_every`` generations and after
the last), the progress bar, the callback, and the result with its learning curve::

    from populations import evolve
    from populations.strategies import EaSimple

    result = evolve(EaSimple(cxpb=0.5, mutpb=0.2), population, toolbox, ngen=10, checkpoint="run.safetensors")
    result.best, result.curve[-1].best

A run killed at any point and resumed from its latest checkpoint ends with the same population,
logbook and hall of fame as an uninterrupted run: the checkpoint holds the global random number
generators, and a strategy keeps any other state in the logbook or the population.
"""

from __future__ import annotations

import abc
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from deap import base, tools
from tqdm.auto import tqdm

from neuroevo.genomes import Genome
from neuroevo.validation import check_int
from populations.checkpoint import GAState, load_checkpoint, save_checkpoint
from populations.individuals import Individual
from populations.rng import restore_rng_state

__all__ = ["CurvePoint", "EvolutionResult", "Strategy", "evaluate_invalid", "evolve", "learning_curve", "resume"]

#: Logbook fields every strategy records, besides its own.
BASE_FIELDS = ("gen", "nevals")


class Strategy(abc.ABC):
    """What an evolutionary algorithm does, for the engine to drive.

    A subclass implements :meth:`generation` (and usually :meth:`start` and :meth:`check`). Each
    returns the logbook record of its generation: ``nevals`` (fitness evaluations spent), ``max``
    and ``avg`` (the fitness of what it scored), plus the fields named in :attr:`logbook_fields`.
    Strategies draw their randomness from the global generators (Python's :mod:`random`, NumPy,
    torch), which checkpoints store.

    Attributes:
        name: a short label (logs, progress bars).
        logbook_fields: the record's fields beyond ``gen`` and ``nevals``, in order.
    """

    name: str = "strategy"
    logbook_fields: tuple[str, ...] = ("max", "avg")

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        """Refuse settings, a population or a toolbox the strategy cannot run on, before any work.

        Raises:
            ValueError: naming the problem.
        """
        if not population:
            raise ValueError(f"{self.name} needs a non-empty population")

    def start(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any] | None:
        """Generation 0: score (or prepare) the initial population. Returns its logbook record, or
        ``None`` when generation 0 does nothing worth recording (then it is neither logged nor
        checkpointed)."""
        return None

    @abc.abstractmethod
    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        """Generation ``state.generation``: update ``state.population`` (and ``state.halloffame``)
        in place and return the generation's logbook record."""

    def restore(self, state: GAState) -> None:
        """Restore what the strategy carries between generations from a checkpointed ``state``
        (e.g. a step counter kept in the logbook). Called by :func:`resume` before it continues."""


def evaluate_invalid(individuals: Sequence[Individual], toolbox: base.Toolbox) -> int:
    """Evaluate the individuals whose fitness is invalid with ``toolbox.map(toolbox.evaluate, ...)``.

    Returns:
        The number of evaluations.
    """
    invalid = [individual for individual in individuals if not individual.fitness.valid]
    for individual, fitness in zip(invalid, toolbox.map(toolbox.evaluate, invalid)):
        individual.fitness.values = fitness
    return len(invalid)


@dataclass(frozen=True)
class CurvePoint:
    """One generation of a learning curve.

    Attributes:
        generation: the generation (0: the initial one).
        evaluations: fitness evaluations spent up to and including this generation.
        best: the best fitness seen so far.
        mean: the mean fitness of what this generation scored.
        extras: the strategy's other numeric logbook fields (e.g. ``gradient_steps``, ``diversity``).
    """

    generation: int
    evaluations: int
    best: float
    mean: float
    extras: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float]:
        """``{"evaluations", "best", "mean", **extras}``: the form stored in result files."""
        return {"evaluations": self.evaluations, "best": self.best, "mean": self.mean, **self.extras}


def learning_curve(logbook: tools.Logbook, *, start_evaluations: int = 0) -> list[CurvePoint]:
    """The learning curve of a logbook whose records hold ``gen``, ``nevals``, ``max`` and ``avg``.

    Args:
        logbook: one record per generation.
        start_evaluations: evaluations spent before the first record.
    """
    curve, done, best = [], start_evaluations, -math.inf
    for entry in logbook:
        done += int(entry["nevals"])
        best = max(best, float(entry["max"]))
        extras = {k: float(v) for k, v in entry.items() if k not in (*BASE_FIELDS, "max", "avg")}
        curve.append(CurvePoint(int(entry["gen"]), done, best, float(entry["avg"]), extras))
    return curve


@dataclass
class EvolutionResult:
    """What a run returns.

    Attributes:
        best: the best individual by fitness (the hall of fame's first, else the population's best;
            ``None`` when nothing was scored).
        state: the final state (``None`` for a baseline that is not evolution, e.g. plain training).
        evaluations: fitness evaluations spent (counted).
        gradient_steps: gradient steps spent (counted; 0 for gradient-free strategies).
        curve: one :class:`CurvePoint` per generation.
    """

    best: Genome | None
    state: GAState | None
    evaluations: int
    gradient_steps: int
    curve: list[CurvePoint]

    @property
    def population(self) -> list[Individual]:
        return self._state.population

    @property
    def generation(self) -> int:
        return self._state.generation

    @property
    def logbook(self) -> tools.Logbook:
        return self._state.logbook

    @property
    def halloffame(self) -> tools.HallOfFame | None:
        return self._state.halloffame

    @property
    def _state(self) -> GAState:
        if self.state is None:
            raise AttributeError("this result has no evolutionary state (a baseline run)")
        return self.state


@dataclass(frozen=True)
class _Schedule:
    ngen: int
    checkpoint: str | os.PathLike | None
    checkpoint_every: int
    extra: dict[str, Any] | None
    progress: bool
    on_generation: Callable[[GAState], None] | None
    stop: Callable[[GAState], bool] | None

    def __post_init__(self) -> None:
        check_int("ngen", self.ngen, minimum=0)
        check_int("checkpoint_every", self.checkpoint_every)


def evolve(
    strategy: Strategy,
    population: list[Individual],
    toolbox: base.Toolbox,
    *,
    ngen: int,
    halloffame: tools.HallOfFame | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
    stop: Callable[[GAState], bool] | None = None,
) -> EvolutionResult:
    """Run generation 0 and ``ngen`` further generations of ``strategy`` from ``population``.

    Args:
        strategy: the algorithm.
        population: the initial individuals (the list is updated in place).
        toolbox: what the strategy needs (``evaluate`` and ``map`` at least).
        ngen: generations after generation 0.
        halloffame: updated by the strategy with everything it scores.
        checkpoint: file written after generation 0, every ``checkpoint_every`` generations and
            after the last (``None``: no checkpoints).
        checkpoint_every: generations between checkpoints.
        extra: JSON-ready data stored in every checkpoint (e.g. the run's settings).
        progress: show a progress bar over generations.
        on_generation: called with the state after every generation (after its checkpoint).
        stop: called after every generation, before its checkpoint; the run ends early when it
            returns true (e.g. a task solved), and that generation is checkpointed.

    Returns:
        An :class:`EvolutionResult` (``result.generation == ngen`` unless ``stop`` ended it).

    Raises:
        ValueError: a negative ``ngen``, a non-positive ``checkpoint_every``, or anything
            ``strategy.check`` refuses (before any work).
    """
    schedule = _Schedule(ngen, checkpoint, checkpoint_every, extra, progress, on_generation, stop)
    strategy.check(population, toolbox)
    state = GAState(population, 0, tools.Logbook(), halloffame)
    state.logbook.header = [*BASE_FIELDS, *strategy.logbook_fields]
    record = strategy.start(state, toolbox)
    if record is not None:
        state.logbook.record(gen=0, **record)
        if _after_generation(state, schedule):
            return _result(state)
    return _run(strategy, state, toolbox, schedule)


def resume(
    checkpoint: str | os.PathLike,
    strategy: Strategy,
    toolbox: base.Toolbox,
    *,
    ngen: int,
    checkpoint_every: int = 1,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
    stop: Callable[[GAState], bool] | None = None,
) -> EvolutionResult:
    """Continue a run from its checkpoint up to generation ``ngen``, writing further checkpoints to
    the same file (with ``extra``, by default the checkpoint's own). The global random number
    generators are restored, so with the same strategy and toolbox the run ends as an
    uninterrupted one would. Other arguments as in :func:`evolve`.

    Raises:
        populations.checkpoint.CheckpointError: an unreadable checkpoint.
        ValueError: as :func:`evolve`.
    """
    saved = load_checkpoint(checkpoint)
    schedule = _Schedule(ngen, checkpoint, checkpoint_every, saved.extra if extra is None else extra, progress,
                         on_generation, stop)
    strategy.check(saved.state.population, toolbox)
    restore_rng_state(saved.rng_state)
    strategy.restore(saved.state)
    return _run(strategy, saved.state, toolbox, schedule)


def _after_generation(state: GAState, schedule: _Schedule) -> bool:
    """Checkpoint when due, call back; returns whether the run stops here."""
    stopping = schedule.stop is not None and bool(schedule.stop(state))
    if schedule.checkpoint is not None and (state.generation % schedule.checkpoint_every == 0
                                            or state.generation == schedule.ngen or stopping):
        save_checkpoint(schedule.checkpoint, state, extra=schedule.extra)
    if schedule.on_generation is not None:
        schedule.on_generation(state)
    return stopping


def _run(strategy: Strategy, state: GAState, toolbox: base.Toolbox, schedule: _Schedule) -> EvolutionResult:
    bar = tqdm(total=schedule.ngen, initial=state.generation, desc=strategy.name, unit="gen",
               disable=not schedule.progress)
    while state.generation < schedule.ngen:
        state.generation += 1
        state.logbook.record(gen=state.generation, **strategy.generation(state, toolbox))
        stopping = _after_generation(state, schedule)
        bar.update()
        bar.set_postfix(best=f"{state.logbook[-1]['max']:.4g}")
        if stopping:
            break
    bar.close()
    return _result(state)


def _result(state: GAState) -> EvolutionResult:
    scored = [individual for individual in state.population if individual.fitness.valid]
    best = state.halloffame[0] if state.halloffame else tools.selBest(scored, 1)[0] if scored else None
    last = state.logbook[-1] if state.logbook else {}
    return EvolutionResult(best, state, sum(int(entry["nevals"]) for entry in state.logbook),
                           int(last.get("gradient_steps", 0)), learning_curve(state.logbook))
