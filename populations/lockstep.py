"""Independent runs in lockstep: several evolution runs that share one batched evaluation.

Small controllers are cheap to step, so a rollout of 40 networks costs little more than its Python
overhead per time step; 50 runs of 40 networks stepped as one batch of 2,000 cost a few times one
run, not fifty. :func:`run_in_lockstep` runs each job (a whole run: its strategy, engine, checks)
until it asks for fitness, collects the requests of every job still running, evaluates them as one
batch, hands each job its share and lets them go on::

    evaluation = RolloutEvaluation("double-pole", compile=True)
    records = run_in_lockstep([functools.partial(run_one, seed=s) for s in range(50)], evaluation.batch)

Each job receives the shared ``batch`` function as its only argument and must draw all its fitness
from it. Jobs run one at a time (threads handed a baton, never two at once), and each job's global
random generators (Python's, NumPy's, torch's) are put aside while the others run, so a job draws
exactly the numbers it would draw alone: as long as a genome's fitness does not depend on the other
genomes of its batch (:class:`~populations.rollouts.RolloutEvaluation` gives every genome the same
starts wherever it stands), every job returns what it would return run by itself.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence, TypeVar

from tqdm.auto import tqdm

from neuroevo.genomes import Genome
from populations.rng import capture_rng_state, restore_rng_state
from populations.toolbox import FitnessValues

__all__ = ["FitnessBatch", "run_in_lockstep"]

Result = TypeVar("Result")
#: A batched evaluation: the fitness tuples of a list of genomes.
FitnessBatch = Callable[[Sequence[Genome]], list[FitnessValues]]


class _Baton:
    """One job's thread and its hand-overs: the job runs only between :meth:`resume` and the next
    request (or its end)."""

    def __init__(self, index: int, job: Callable[[FitnessBatch], Result], handed_back: threading.Semaphore):
        self.index, self.job, self.handed_back = index, job, handed_back
        self.go = threading.Semaphore(0)
        self.request: list[Genome] | None = None
        self.answer: list[FitnessValues] | None = None
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.rng = None
        self.thread = threading.Thread(target=self._run, name=f"lockstep-job-{index}", daemon=True)

    def resume(self) -> None:
        """Let the job run until its next request or its end (returns when it has handed back)."""
        self.go.release()
        self.handed_back.acquire()

    def _batch(self, genomes: Sequence[Genome]) -> list[FitnessValues]:
        self.request = list(genomes)
        if not self.request:
            return []
        self.rng = capture_rng_state()
        self.handed_back.release()
        self.go.acquire()
        restore_rng_state(self.rng)
        answer, self.answer, self.request = self.answer, None, None
        return answer

    def _run(self) -> None:
        self.go.acquire()
        try:
            self.result = self.job(self._batch)
        except BaseException as error:  # handed to the caller's thread, which raises it
            self.error = error
        finally:
            self.finished = True
            self.handed_back.release()


def run_in_lockstep(jobs: Sequence[Callable[[FitnessBatch], Result]], evaluate: FitnessBatch, *,
                    progress: bool = False, description: str = "runs") -> list[Result]:
    """Run ``jobs`` to completion, their fitness requests evaluated together.

    Args:
        jobs: callables ``job(batch) -> result``; ``batch(genomes)`` returns the fitness tuples of
            ``genomes`` and is the job's only source of fitness.
        evaluate: the batched evaluation serving every request: called with the concatenated
            genomes of all jobs waiting, once per round.
        progress: show a progress bar of finished jobs.
        description: the progress bar's label.

    Returns:
        The jobs' results, in the order of ``jobs``.

    Raises:
        Whatever a job raised (the first, in job order); the other jobs are abandoned then.
        ValueError: ``evaluate`` returned a wrong number of fitness tuples.
    """
    handed_back = threading.Semaphore(0)
    batons = [_Baton(index, job, handed_back) for index, job in enumerate(jobs)]
    outer_rng = capture_rng_state()
    for baton in batons:
        baton.thread.start()
    bar = tqdm(total=len(batons), desc=description, disable=not progress, leave=False)
    try:
        running = batons
        while running:
            for baton in running:
                baton.resume()
            failed = [baton for baton in running if baton.error is not None]
            if failed:
                raise failed[0].error
            bar.update(sum(baton.finished for baton in running))
            running = [baton for baton in running if not baton.finished]
            if not running:
                break
            genomes = [genome for baton in running for genome in baton.request]
            values = evaluate(genomes)
            if len(values) != len(genomes):
                raise ValueError(f"the evaluation returned {len(values)} fitness tuples for {len(genomes)} genomes")
            start = 0
            for baton in running:
                baton.answer = values[start:start + len(baton.request)]
                start += len(baton.request)
            bar.set_postfix(batch=len(genomes))
    finally:
        bar.close()
        restore_rng_state(outer_rng)
    return [baton.result for baton in batons]
