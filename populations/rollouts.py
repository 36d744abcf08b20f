"""Control tasks as fitness: a whole population's rollouts in one tensor program, as ``toolbox.map``.

:class:`RolloutEvaluation` turns a list of genomes into one :class:`~neuroevo.control.StackedPolicy`
(:func:`~neuroevo.control.genome_policy.stack_policies`) and runs every member's episodes in
lockstep (:func:`~neuroevo.control.rollout.rollout`). Registered with
:func:`register_rollout_evaluation`, ``toolbox.map(toolbox.evaluate, population)`` is that one
batched rollout, so DEAP's algorithms, the engine's strategies and the Ray map
(:mod:`populations.distributed`, which sends each worker a chunk) use it unchanged::

    toolbox = base.Toolbox()
    register_rollout_evaluation(toolbox, "double-pole")      # fitness: steps balanced
    algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.3, ngen=20)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from deap import base

from neuroevo.control.envs import BatchedEnv, TensorEnv, make_env
from neuroevo.control.genome_policy import stack_policies
from neuroevo.control.rollout import RolloutResult, generalisation_score, padded_population, rollout
from neuroevo.genomes import Genome
from neuroevo.validation import check_int
from populations.toolbox import BatchedMap, FitnessValues

__all__ = ["FITNESS_KINDS", "RolloutEvaluation", "RolloutReport", "register_rollout_evaluation"]

#: What a member's fitness is: its mean episode return, its mean episode length in steps, or the
#: task's own score (``double-pole-nv``: the damping fitness); ``"auto"``: the score where the task
#: has one, else the return.
FITNESS_KINDS = ("auto", "return", "steps", "score")


@dataclass(frozen=True)
class RolloutReport:
    """One genome's rollout figures.

    Attributes:
        episode_return: mean episode return.
        steps: mean episode length (steps).
        score: the task's own score (mean over episodes), or ``None``.
        generalisation: ``double-pole-nv``: starts of 625 balanced for 1,000 steps; else ``None``.
    """

    episode_return: float
    steps: float
    score: float | None
    generalisation: int | None


class RolloutEvaluation:
    """Fitness of genomes as controllers of one task: ``(value,)`` per genome.

    Every genome is evaluated from the same start states (``episodes`` of them, drawn once from
    ``seed``), whatever its position in a batch, so fitness is a deterministic function of the
    genome, comparable across generations and unchanged when a population is split into chunks
    (:mod:`populations.distributed`). Gymnasium tasks draw their starts from their own seeding.

    Args:
        task: a name for :func:`~neuroevo.control.envs.make_env` (``"cartpole"``, ``"double-pole"``,
            ``"double-pole-nv"``, ``"gymnasium:<id>"``) or an environment.
        episodes: episodes per genome (fitness is their mean).
        seed: seeds the start states.
        fitness: one of :data:`FITNESS_KINDS`.
        max_steps: the episode cap (default: the task's).
        device: where the rollouts run (CPU when ``None``).
        compile: compile the fused step (:func:`~neuroevo.control.rollout.rollout`); batches are
            padded to :func:`~neuroevo.control.rollout.padded_population`
            genomes (the extra rows repeat the last genome; their results are dropped) so that a run compiles a few times only.
        env_options: further options of the task (e.g. ``start_angle``).

    Raises:
        ValueError: an unknown task or fitness kind, a non-positive ``episodes``, or the score of
            a task that has none.
    """

    def __init__(
        self,
        task: str | BatchedEnv,
        *,
        episodes: int = 1,
        seed: int = 0,
        fitness: str = "auto",
        max_steps: int | None = None,
        device: torch.device | str | None = None,
        compile: bool = False,
        **env_options: Any,
    ) -> None:
        if fitness not in FITNESS_KINDS:
            raise ValueError(f"unknown fitness {fitness!r}; choose one of {', '.join(FITNESS_KINDS)}")
        options = {"device": device or "cpu", **env_options}
        self.env = make_env(task, **options) if isinstance(task, str) else task
        self.task = task if isinstance(task, str) else self.env.name
        self.episodes = check_int("episodes", episodes)
        self.seed, self.max_steps, self.compile = seed, max_steps, compile
        has_score = isinstance(self.env, TensorEnv) and self.task == "double-pole-nv"
        if fitness == "score" and not has_score:
            raise ValueError(f"task {self.task!r} has no score of its own; choose return or steps")
        self.fitness = ("score" if has_score else "return") if fitness == "auto" else fitness
        # The same start states for every genome, wherever it stands in a batch or a chunk of one.
        self.starts = (self.env.initial_state(self.episodes, torch.Generator().manual_seed(seed))
                       if isinstance(self.env, TensorEnv) else None)

    def run(self, genomes: Sequence[Genome]) -> RolloutResult:
        """The rollout of ``genomes`` (one batched program; genomes are not modified).

        Raises:
            ValueError: genomes that do not fit the task or each other, a non-finite genome, or
                an environment that became non-finite (the message names the member and step).
        """
        genomes = list(genomes)
        count = len(genomes)
        if self.compile:  # a few population sizes, so that the compiled step is reused, not recompiled
            genomes += genomes[-1:] * (padded_population(count) - count)
        policy = stack_policies(genomes, device=self.env.device)
        result = rollout(policy, self.env, episodes=self.episodes, seed=self.seed, max_steps=self.max_steps,
                         starts=self.starts, compile=self.compile)
        return RolloutResult(result.returns[:count], result.steps[:count],
                             None if result.scores is None else result.scores[:count])

    def batch(self, genomes: Sequence[Genome]) -> list[FitnessValues]:
        """The fitness tuples of ``genomes``."""
        if not genomes:
            return []
        result = self.run(genomes)
        values = {"return": result.mean_return, "steps": result.mean_steps, "score": result.mean_score}[self.fitness]
        return [(float(value),) for value in values.cpu()]

    def __call__(self, genome: Genome) -> FitnessValues:
        return self.batch([genome])[0]

    def report(self, genomes: Sequence[Genome]) -> list[RolloutReport]:
        """Per genome: mean return, steps, the task's score, and (``double-pole-nv``) the
        625-start generalisation score."""
        result = self.run(genomes)
        generalisation = None
        if self.task == "double-pole-nv":
            generalisation = generalisation_score(stack_policies(list(genomes), device=self.env.device),
                                                  compile=self.compile).tolist()
        scores = None if result.scores is None else result.mean_score.tolist()
        return [RolloutReport(float(r), float(s), None if scores is None else scores[i],
                              None if generalisation is None else int(generalisation[i]))
                for i, (r, s) in enumerate(zip(result.mean_return.tolist(), result.mean_steps.tolist()))]

    def __repr__(self) -> str:
        return (f"RolloutEvaluation(task={self.task!r}, episodes={self.episodes}, seed={self.seed}, "
                f"fitness={self.fitness!r})")


def register_rollout_evaluation(toolbox: base.Toolbox, task: str | BatchedEnv, **options: Any) -> BatchedMap:
    """Register ``toolbox.evaluate`` (a :class:`RolloutEvaluation` of ``task`` with ``options``) and
    ``toolbox.map`` (batching it into one rollout). Returns the map."""
    evaluation = RolloutEvaluation(task, **options)
    batched_map = BatchedMap(evaluation)
    toolbox.register("evaluate", evaluation)
    toolbox.register("map", batched_map)
    return batched_map
