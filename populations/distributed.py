"""Distributed population evaluation on Ray, as ``toolbox.map``.

Each Ray worker is an actor that holds the fitness data set once and evaluates a chunk of the
population with the batched evaluator; the chunks of one ``toolbox.map`` call run in parallel and
the fitness tuples come back in population order. Works with a local Ray (``ray.init()`` started
here, or already running) and with a cluster (``address="ray://head:10001"`` or ``"auto"``; the
nodes need neuroevo installed)::

    batched_map = register_ray_evaluation(toolbox, holdout, n_workers=4, threads_per_worker=2)
    evolve(population, toolbox, cxpb=0.5, mutpb=0.2, ngen=10)
    batched_map.evaluate_batch.shutdown()

Needs the ``distributed`` extra (``pip install 'neuroevo[distributed]'``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from deap import base

from neuroevo.data import Dataset
from neuroevo.validation import check_int
from populations.individuals import Individual
from populations.toolbox import BatchedEvaluation, BatchedMap, FitnessValues

__all__ = ["RayEvaluator", "register_ray_evaluation"]


class _EvaluationWorker:
    """A Ray actor: evaluates chunks of a population with its own copy of the evaluation."""

    def __init__(self, evaluation: BatchedEvaluation, threads: int) -> None:
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

    Args:
        evaluation: what to compute (data set, metrics, device, memory budget); sent to every
            worker once.
        n_workers: number of actors (default: the cluster's CPUs divided by ``threads_per_worker``).
        threads_per_worker: torch threads per actor, also the CPUs Ray reserves for it.
        address: the Ray cluster to connect to when Ray is not yet initialised (``None``: start a
            local one).
        init_options: further ``ray.init`` arguments (e.g. ``num_cpus``, ``include_dashboard``).

    Raises:
        ImportError: Ray is not installed.
        ValueError: invalid worker counts.
    """

    def __init__(
        self,
        evaluation: BatchedEvaluation,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        address: str | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as error:
            raise ImportError("distributed evaluation needs Ray: pip install 'neuroevo[distributed]'") from error
        for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
            if value is not None:
                check_int(name, value)
        if not ray.is_initialized():
            ray.init(address=address, **(init_options or {}))
        if n_workers is None:
            n_workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads_per_worker)
        actor = ray.remote(num_cpus=threads_per_worker)(_EvaluationWorker)
        evaluation_ref = ray.put(evaluation)
        self._ray = ray
        self.workers = [actor.remote(evaluation_ref, threads_per_worker) for _ in range(n_workers)]

    def __call__(self, individuals: list[Individual]) -> list[FitnessValues]:
        """Fitness tuples of ``individuals``, in order (each worker evaluates one chunk)."""
        chunks = _chunks(individuals, len(self.workers))
        futures = [worker.evaluate.remote(chunk) for worker, chunk in zip(self.workers, chunks)]
        return [fitness for chunk_result in self._ray.get(futures) for fitness in chunk_result]

    def shutdown(self) -> None:
        """Stop the actors (Ray itself keeps running; ``ray.shutdown()`` stops it)."""
        for worker in self.workers:
            self._ray.kill(worker)
        self.workers = []


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
    each batch over Ray workers (see :class:`RayEvaluator`). Returns the map; its
    ``evaluate_batch`` is the :class:`RayEvaluator`."""
    evaluation = BatchedEvaluation(dataset, objectives, device=device, memory_budget=memory_budget)
    evaluator = RayEvaluator(evaluation, n_workers=n_workers, threads_per_worker=threads_per_worker,
                             address=address, init_options=init_options)
    batched_map = BatchedMap(evaluation, evaluator)
    toolbox.register("evaluate", evaluation)
    toolbox.register("map", batched_map)
    return batched_map
