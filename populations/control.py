"""Gradient-free evolution of controllers: one run of one arm on a control task, counted in episodes.

:func:`run_control` builds the population, the toolbox (batched rollouts as fitness,
:mod:`populations.rollouts`; the named crossover and Gaussian mutation of :mod:`operators.registry`)
and the strategy of the chosen algorithm, runs it on the engine until the task is solved or the
evaluation cap is spent, and returns a record of the protocol of Gomez, Schmidhuber & Miikkulainen
(JMLR 2008): evaluations (episodes) to solve.

* ``ga``: :class:`~populations.strategies.EaSimple` on whole networks (tournament selection);
* ``esp``: :class:`~populations.strategies.ESP`, slot subpopulations of neuron records;
* ``sane``: :class:`~populations.strategies.SANE`, a neuron pool and network blueprints;
* ``cosyne``: :class:`~populations.strategies.CoSyNE`, records permuted across networks.

Solved: ``double-pole`` (Markov) when an evaluated network balances ``max_steps`` (100,000) steps,
counted at that very evaluation; ``double-pole-nv`` when the best network of a generation passes the
100,000-step check and balances at least 200 of the 625 generalisation starts, counted at the end of
that generation; any other task when a network's fitness reaches ``threshold``, counted at that
evaluation.

A run ends when solved, when its cap of evaluations is spent, or, for a GA without variation
(``none``), after generation 0: selection alone only re-ranks clones of networks already evaluated,
so its record spends the initial population's evaluations and no more.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from deap import base, tools

from neuroevo.architecture import Architecture
from neuroevo.control.genome_policy import stack_policies
from neuroevo.control.rollout import solve_check
from neuroevo.genomes import Genome
from operators.registry import operator_spec, mutation
from populations.checkpoint import GAState, load_checkpoint
from populations.engine import EvolutionResult, Strategy, evolve, resume
from populations.individuals import similar
from populations.initialisation import random_population
from populations.lockstep import FitnessBatch, run_in_lockstep
from populations.rng import seed_everything
from populations.rollouts import RolloutEvaluation
from populations.strategies import ESP, SANE, CoSyNE, EaSimple, neuron_subpopulations, sane_population
from populations.toolbox import BatchedMap, FitnessValues

__all__ = ["ALGORITHMS", "ControlSettings", "DEFAULT_ARCHITECTURES", "run_control", "run_controls"]

ALGORITHMS = ("ga", "esp", "sane", "cosyne")
#: A small network per task: tanh hidden neurons, recurrent where the task hides the velocities.
DEFAULT_ARCHITECTURES = {"double-pole": "6-5-1", "double-pole-nv": "3-5r-1", "cartpole": "4-8-2"}


@dataclass(frozen=True)
class ControlSettings:
    """One control run.

    Attributes:
        task: ``"double-pole"``, ``"double-pole-nv"``, ``"cartpole"`` or ``"gymnasium:<id>"``.
        architecture: the network spec (default: :data:`DEFAULT_ARCHITECTURES`).
        algorithm: one of :data:`ALGORITHMS`.
        variation: ``"crossover"``, ``"mutation-only"`` or ``"none"``.
        crossover: a crossover of :data:`operators.registry.CROSSOVERS` (ga and cosyne).
        encoding: ``"embedding"`` or ``"direct"`` (esp, sane and cosyne need embedding genomes).
        d: embedding width (at least the number of inputs, so that a neuron's incoming weights
            ``E z`` can point anywhere: with ``d`` below it they share a ``d``-dimensional subspace).
        population: networks (ga, cosyne), blueprints (sane: its pool holds their hidden records,
            ``population`` times the hidden width) or records per slot (esp).
        trials: esp: networks each record joins per generation.
        cap: the evaluation (episode) budget.
        mutation_sigma: Gaussian mutation std; mutation_indpb: probability per gene.
        cxpb, mutpb: ga: varAnd probabilities; tournament: ga's tournament size.
        alpha, coefficient: interpolation weight and transplant fraction of the crossover.
        episodes: episodes per evaluation (their mean is the fitness).
        threshold: the fitness that solves a task other than the double poles (e.g. 475 for
            CartPole-v1); ``None`` for the double poles.
        max_steps: the episode cap of the evolution episodes (default: the task's).
    """

    task: str = "double-pole"
    architecture: str | None = None
    algorithm: str = "cosyne"
    variation: str = "crossover"
    crossover: str = "interpolate-aligned"
    encoding: str = "embedding"
    d: int = 8
    population: int = 40
    trials: int = 4
    cap: int = 100_000
    mutation_sigma: float = 0.3
    mutation_indpb: float = 0.3
    cxpb: float = 0.5
    mutpb: float = 0.5
    tournament: int = 3
    alpha: float = 0.5
    coefficient: float = 0.5
    episodes: int = 1
    threshold: float | None = None
    max_steps: int | None = None

    def spec(self) -> str:
        """The architecture spec used."""
        if self.architecture:
            return self.architecture
        if self.task not in DEFAULT_ARCHITECTURES:
            raise ValueError(f"task {self.task!r} has no default architecture; give one")
        return DEFAULT_ARCHITECTURES[self.task]


class _SolveMonitor:
    """The rollout evaluation, counting every evaluation and noting the first that solves."""

    def __init__(self, inner: FitnessBatch, solves: Callable[[float], bool] | None) -> None:
        self.inner, self.solves = inner, solves
        self.count, self.solved_at = 0, None

    def batch(self, genomes: Sequence[Genome]) -> list[FitnessValues]:
        values = self.inner(genomes)
        for (value,) in values:
            self.count += 1
            if self.solved_at is None and self.solves is not None and self.solves(value):
                self.solved_at = self.count
        return values

    def __call__(self, genome: Genome) -> FitnessValues:
        return self.batch([genome])[0]


def _strategy(settings: ControlSettings) -> Strategy:
    if settings.algorithm == "ga":
        crossing = settings.variation == "crossover"
        return EaSimple(cxpb=settings.cxpb if crossing else 0.0,
                        mutpb=0.0 if settings.variation == "none" else settings.mutpb)
    if settings.algorithm == "esp":
        return ESP(variation=settings.variation, trials=settings.trials, alpha=settings.alpha)
    if settings.algorithm == "sane":
        return SANE(variation=settings.variation, alpha=settings.alpha)
    if settings.algorithm == "cosyne":
        return CoSyNE(variation=settings.variation)
    raise ValueError(f"unknown algorithm {settings.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def run_control(
    settings: ControlSettings = ControlSettings(),
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = False,
    on_generation: Callable[[GAState], None] | None = None,
    compile: bool = False,
    evaluate: FitnessBatch | None = None,
) -> tuple[dict[str, Any], EvolutionResult]:
    """One run of one arm, until solved or ``settings.cap`` evaluations.

    Args:
        settings: the arm and its budget.
        seed: seeds the initial population and every operator.
        device: where the rollouts run.
        checkpoint: written after every generation; when it exists, the run continues from it
            (its settings must be these).
        progress: show a progress bar.
        on_generation: called after every generation.
        compile: compile the rollouts (``torch.compile``; worth it for long runs: each new
            population size costs a compilation of a few seconds on a CPU).
        evaluate: the batched fitness to use instead of the run's own rollouts; it must compute
            the same fitness (:func:`run_controls` passes its share of a rollout that serves
            several runs).

    Returns:
        ``(record, result)``: the record (task, algorithm, encoding, variation, operator, seed,
        evaluations_to_solve or ``None``, solved, generalisation for ``double-pole-nv``, wall_s,
        evaluations spent) and the engine's result (its ``best``: the best network found).

    Raises:
        ValueError: contradictory settings, before any work.
    """
    start = time.perf_counter()
    strategy = _strategy(settings)
    if settings.variation not in ("crossover", "mutation-only", "none"):
        raise ValueError(f"unknown variation {settings.variation!r}; choose crossover, mutation-only or none")
    crossover = operator_spec("crossover", settings.crossover)
    crossover.check_encoding(settings.encoding)
    arch = Architecture.parse(settings.spec(), activation="tanh")
    markov_like = settings.task != "double-pole-nv"
    evaluation = RolloutEvaluation(settings.task, episodes=settings.episodes, device=device,
                                   max_steps=settings.max_steps, compile=compile)
    steps_cap = evaluation.max_steps or evaluation.env.max_steps
    target = settings.threshold if settings.task not in ("double-pole", "double-pole-nv") else float(steps_cap)
    monitor = _SolveMonitor(evaluate or evaluation.batch,
                            (lambda v: v >= target) if markov_like and target is not None else None)
    seed_everything(seed)
    toolbox = base.Toolbox()
    toolbox.register("evaluate", monitor)
    toolbox.register("map", BatchedMap(monitor))
    toolbox.register("mutate", mutation("gaussian", sigma=settings.mutation_sigma, indpb=settings.mutation_indpb))
    if settings.variation == "crossover":
        toolbox.register("mate", crossover.bind_from({"alpha": settings.alpha, "coefficient": settings.coefficient,
                                                       "layer": 0}))
    toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
    members = random_population(arch, settings.population, encoding=settings.encoding, d=settings.d,
                                init="fan-in" if settings.encoding == "embedding" else "normal")
    population = {"esp": neuron_subpopulations, "sane": sane_population}.get(settings.algorithm, list)(members)
    solved_generalisation: list[int] = []

    checked: set[str] = set()  # champions that failed the check: a generation that keeps one skips it

    def solved_nv(state: GAState) -> bool:
        best = state.halloffame[0]
        if best.content_hash in checked:
            return False
        checked.add(best.content_hash)
        check = solve_check(stack_policies([best], device=device), compile=compile)
        if bool(check.solved[0]):
            solved_generalisation.append(int(check.generalisation[0]))
            monitor.solved_at = monitor.count
        return bool(check.solved[0])

    # selection alone re-ranks clones of evaluated networks: after generation 0 nothing new can be evaluated
    exhausted_after_start = settings.algorithm == "ga" and settings.variation == "none"

    def stop(state: GAState) -> bool:
        solved = monitor.solved_at is not None or (not markov_like and solved_nv(state))
        return solved or monitor.count >= settings.cap or exhausted_after_start

    extra = {"settings": asdict(settings), "seed": seed}
    run = {"ngen": settings.cap, "extra": extra, "progress": progress, "on_generation": on_generation, "stop": stop}
    if checkpoint is not None and Path(checkpoint).exists():
        saved = load_checkpoint(checkpoint)
        if saved.extra != extra:
            raise ValueError(f"{checkpoint} was written by another run ({saved.extra}); this run is {extra}")
        monitor.count = sum(int(entry["nevals"]) for entry in saved.state.logbook)
        result = resume(checkpoint, strategy, toolbox, **run)
    else:
        result = evolve(strategy, population, toolbox, halloffame=tools.HallOfFame(1, similar=similar),
                        checkpoint=checkpoint, **run)
    solved = monitor.solved_at is not None and monitor.solved_at <= settings.cap
    record = {
        "task": settings.task, "algorithm": settings.algorithm, "encoding": settings.encoding,
        "variation": settings.variation, "operator": settings.crossover if settings.variation == "crossover" else "-",
        "architecture": settings.spec(), "seed": seed, "evaluations_to_solve": monitor.solved_at if solved else None,
        "solved": solved, "generalisation": solved_generalisation[0] if solved_generalisation else None,
        "evaluations": monitor.count, "wall_s": round(time.perf_counter() - start, 2),
    }
    return record, result


def run_controls(settings: ControlSettings, seeds: Sequence[int], *, device: torch.device | str | None = None,
                 compile: bool = False, progress: bool = False) -> list[dict[str, Any]]:
    """Independent runs of one arm, one per seed, stepped in lockstep: every generation's networks
    of all runs still going are rolled out as one batch (:func:`populations.lockstep.run_in_lockstep`).

    Each record is the one :func:`run_control` returns for its seed alone (fitness does not depend
    on a genome's batch), except ``wall_s``: the time from the group's start to the run's end. The
    records add ``lockstep``, the number of runs in the group.

    Raises:
        ValueError: contradictory settings or no seeds, before any work.
    """
    if not seeds:
        raise ValueError("run_controls needs at least one seed")
    _strategy(settings)  # contradictory settings fail here, before the group starts
    shared = RolloutEvaluation(settings.task, episodes=settings.episodes, device=device,
                               max_steps=settings.max_steps, compile=compile)

    def job(seed: int) -> Callable[[FitnessBatch], dict[str, Any]]:
        def one(batch: FitnessBatch) -> dict[str, Any]:
            return run_control(settings, seed=seed, device=device, compile=compile, evaluate=batch)[0]
        return one

    records = run_in_lockstep([job(seed) for seed in seeds], shared.batch, progress=progress,
                              description=f"{settings.algorithm} {settings.variation} runs")
    return [{**record, "lockstep": len(seeds)} for record in records]
