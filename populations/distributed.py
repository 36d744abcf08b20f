"""Distributed population evaluation on Ray, as ``toolbox.map``.

Any :class:`~populations.toolbox.PopulationEvaluation` (anything with ``batch(individuals) ->
fitness tuples``: a :class:`~populations.toolbox.BatchedEvaluation` on a data set, a
:class:`~populations.rollouts.RolloutEvaluation` on a control task) can be spread over Ray actors.
Each actor holds its own copy of the evaluation (sent once) and evaluates one contiguous chunk of
the population with ``batch``: a data set's batched forward pass, or one batched rollout of the
chunk's policies. The chunks of one ``toolbox.map`` call run in parallel and the fitness tuples
come back in population order. Works with a local Ray (``ray.init()`` started here, or already
running) and with a cluster (``address="head:6379"``, ``"ray://head:10001"`` or ``"auto"``; the
nodes need neuroevo installed)::

    evaluation = RolloutEvaluation("double-pole")
    batched_map = register_ray_map(toolbox, evaluation, n_workers=4, threads_per_worker=2)
    algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.3, ngen=20)
    batched_map.evaluate_batch.shutdown()

:func:`register_ray_evaluation` does the same for a data set's fitness.

**A worker lost mid-generation costs a retry, not the run.** The actors are created with Ray's
fault tolerance (``max_restarts``, ``max_task_retries``): when an actor's process dies while it
evaluates a chunk (killed, out of memory, its node lost), Ray restarts the actor (its constructor
runs again on the same evaluation) and resubmits the chunk. Evaluation is deterministic given the
genomes and the chunk (a :class:`~populations.rollouts.RolloutEvaluation` draws its start states
from its own seed on every call), so the retried chunk returns exactly the fitness the lost one
would have, and the generation completes as if undisturbed. An exception raised by the evaluation
itself is not retried: it reaches the caller. A chunk that kills its worker on every attempt fails
with ``ray.exceptions.RayActorError`` once the retries are spent.

Needs the ``distributed`` extra (``pip install 'neuroevo[distributed]'``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from deap import base

from neuroevo.data import Dataset
from neuroevo.validation import check_int
from populations.individuals import Individual
from populations.toolbox import BatchedEvaluation, BatchedMap, FitnessValues, PopulationEvaluation

__all__ = ["RayEvaluator", "register_ray_evaluation", "register_ray_map"]

#: Default restarts of a dead actor, and retries of the chunk it was evaluating (``-1``: unlimited).
DEFAULT_RETRIES = 3


class _EvaluationWorker:
    """A Ray actor: evaluates chunks of a population with its own copy of the evaluation."""

    def __init__(self, evaluation: PopulationEvaluation, threads: int) -> None:
        torch.set_num_threads(threads)  # this process's share of the cores, not all of them
        self.evaluation = evaluation

    def evaluate(self, individuals: list[Individual]) -> list[FitnessValues]:
        return self.evaluation.batch(individuals)


def _chunks(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` split into ``min(n, len(items))`` contiguous, non-empty chunks of near-equal size."""
    n = min(n, len(items))
    bounds = [len(items) * i // n for i in range(n + 1)] if n else [0]
    return [list(items[start:stop]) for start, stop in zip(bounds, bounds[1:])]


class RayEvaluator:
    """Evaluates lists of individuals on Ray actors (a ``BatchedMap``'s ``evaluate_batch``).

    Each call splits the list into one contiguous chunk per actor; each actor evaluates its chunk
    with ``evaluation.batch``. An actor whose process dies is restarted and its chunk retried (see
    the module's documentation for the guarantee).

    Args:
        evaluation: what to compute (any :class:`~populations.toolbox.PopulationEvaluation`: a data
            set's fitness, a control task's rollouts); sent to every worker once.
        n_workers: number of actors (default: the cluster's CPUs divided by ``threads_per_worker``).
        threads_per_worker: torch threads per actor, also the CPUs Ray reserves for it.
        address: the Ray cluster to connect to when Ray is not yet initialised (``None``: start a
            local one).
        init_options: further ``ray.init`` arguments (e.g. ``num_cpus``, ``include_dashboard``).
        max_restarts: how often Ray restarts an actor whose process died (``-1``: without limit,
            ``0``: never).
        max_task_retries: how often Ray resubmits a chunk whose actor died while evaluating it
            (``-1``: without limit, ``0``: never; the failure then reaches the caller).

    Raises:
        ImportError: Ray is not installed.
        ValueError: invalid worker, thread or retry counts.
    """

    def __init__(
        self,
        evaluation: PopulationEvaluation,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        address: str | None = None,
        init_options: dict[str, Any] | None = None,
        max_restarts: int = DEFAULT_RETRIES,
        max_task_retries: int = DEFAULT_RETRIES,
    ) -> None:
        try:
            import ray
        except ImportError as error:
            raise ImportError("distributed evaluation needs Ray: pip install 'neuroevo[distributed]'") from error
        for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
            if value is not None:
                check_int(name, value)
        for name, value in (("max_restarts", max_restarts), ("max_task_retries", max_task_retries)):
            check_int(name, value, minimum=-1)
        if not ray.is_initialized():
            ray.init(address=address, **(init_options or {}))
        if n_workers is None:
            n_workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads_per_worker)
        actor = ray.remote(num_cpus=threads_per_worker, max_restarts=max_restarts,
                           max_task_retries=max_task_retries)(_EvaluationWorker)
        # Held for the evaluator's life: a restarted actor reruns its constructor on this object.
        self._evaluation_ref = ray.put(evaluation)
        self._ray = ray
        self.workers = [actor.remote(self._evaluation_ref, threads_per_worker) for _ in range(n_workers)]

    def __call__(self, individuals: list[Individual]) -> list[FitnessValues]:
        """Fitness tuples of ``individuals``, in order (each worker evaluates one chunk).

        Raises:
            ray.exceptions.RayTaskError: the evaluation raised (wrapping its exception).
            ray.exceptions.RayActorError: a worker died and its restarts or retries are spent.
        """
        chunks = _chunks(individuals, len(self.workers))
        futures = [worker.evaluate.remote(chunk) for worker, chunk in zip(self.workers, chunks)]
        return [fitness for chunk_result in self._ray.get(futures) for fitness in chunk_result]

    def shutdown(self) -> None:
        """Stop the actors for good (no restart; Ray itself keeps running, ``ray.shutdown()``
        stops it)."""
        for worker in self.workers:
            self._ray.kill(worker, no_restart=True)
        self.workers = []


def register_ray_map(
    toolbox: base.Toolbox,
    evaluation: PopulationEvaluation,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    address: str | None = None,
    init_options: dict[str, Any] | None = None,
    max_restarts: int = DEFAULT_RETRIES,
    max_task_retries: int = DEFAULT_RETRIES,
) -> BatchedMap:
    """Register ``toolbox.evaluate`` (``evaluation``) and ``toolbox.map`` (a ``BatchedMap`` that
    spreads each batch of it over Ray workers, see :class:`RayEvaluator`).

    Args:
        toolbox: the DEAP toolbox to register ``evaluate`` and ``map`` on.
        evaluation: any :class:`~populations.toolbox.PopulationEvaluation`, e.g. a
            :class:`~populations.rollouts.RolloutEvaluation` (each worker rolls out its chunk of
            the population in one batch).
        n_workers, threads_per_worker, address, init_options, max_restarts, max_task_retries: as
            for :class:`RayEvaluator`.

    Returns:
        The map; its ``evaluate_batch`` is the :class:`RayEvaluator` (``shutdown()`` stops it).

    Raises:
        ImportError: Ray is not installed.
        ValueError: invalid worker, thread or retry counts.
    """
    evaluator = RayEvaluator(evaluation, n_workers=n_workers, threads_per_worker=threads_per_worker,
                             address=address, init_options=init_options, max_restarts=max_restarts,
                             max_task_retries=max_task_retries)
    batched_map = BatchedMap(evaluation, evaluator)
    toolbox.register("evaluate", evaluation)
    toolbox.register("map", batched_map)
    return batched_map


def register_ray_evaluation(
    toolbox: base.Toolbox,
    dataset: Dataset,
    *,
    objectives: Sequence[str] = ("accuracy",),
    device: torch.device | str | None = None,
    memory_budget: int | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    address: str | None = None,
    init_options: dict[str, Any] | None = None,
) -> BatchedMap:
    """Like :func:`populations.toolbox.register_batched_evaluation`, but ``toolbox.map`` spreads
    each batch over Ray workers (:func:`register_ray_map` of a
    :class:`~populations.toolbox.BatchedEvaluation`, with the default retries).

    Args:
        toolbox: the DEAP toolbox to register ``evaluate`` and ``map`` on.
        dataset, objectives, device, memory_budget: as for
            :class:`~populations.toolbox.BatchedEvaluation`.
        n_workers, threads_per_worker, address, init_options: as for :class:`RayEvaluator`.

    Returns:
        The map; its ``evaluate_batch`` is the :class:`RayEvaluator`.

    Raises:
        ImportError: Ray is not installed.
        ValueError: unknown objectives, or invalid worker or thread counts.
    """
    evaluation = BatchedEvaluation(dataset, objectives, device=device, memory_budget=memory_budget)
    return register_ray_map(toolbox, evaluation, n_workers=n_workers, threads_per_worker=threads_per_worker,
                            address=address, init_options=init_options)
