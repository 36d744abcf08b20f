"""Ray evaluation. Skipped where Ray is not installed (``pip install -e '.[distributed]'``)."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from deap import algorithms, base, tools

import operators
from neuroevo.architecture import Architecture
from populations import random_population, register_batched_evaluation
from populations.distributed import _chunks, register_ray_map
from populations.rollouts import RolloutEvaluation
from populations.toolbox import BatchedMap
from tests.conftest import small_dense
from tests.test_populations_loop import synthetic_data


@pytest.mark.parametrize("n, workers", [(0, 3), (2, 3), (7, 3), (9, 3), (5, 1)])
def test_chunks_are_contiguous_near_equal_and_cover_the_list(n, workers):
    items = list(range(n))
    chunks = _chunks(items, workers)
    assert [x for chunk in chunks for x in chunk] == items
    assert len(chunks) == min(n, workers) and all(chunks)
    assert max(map(len, chunks), default=0) - min(map(len, chunks), default=0) <= 1


def test_ray_workers_evaluate_like_the_local_batched_map(generator):
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[distributed]'")
    from populations.distributed import register_ray_evaluation

    population = random_population(small_dense(), 7, d=4, generator=generator)
    local = base.Toolbox()
    register_batched_evaluation(local, synthetic_data())
    expected = local.map(local.evaluate, population)

    toolbox = base.Toolbox()
    ray_map = register_ray_evaluation(
        toolbox, synthetic_data(), n_workers=2, threads_per_worker=1,
        init_options={"num_cpus": 2, "include_dashboard": False, "log_to_driver": False},
    )
    try:
        assert toolbox.map(toolbox.evaluate, population) == expected
        threads = ray.get([w.__ray_call__.remote(lambda self: __import__("torch").get_num_threads())
                           for w in ray_map.evaluate_batch.workers])
        assert threads == [1, 1]
        toolbox.register("mate", operators.cx_transplant, layer=0, coefficient=0.5)
        toolbox.register("mutate", operators.mut_gaussian, sigma=0.1, indpb=0.2)
        toolbox.register("select", tools.selTournament, tournsize=3)
        random.seed(0)
        population, logbook = algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.3, ngen=2, verbose=False)
        assert all(individual.fitness.valid for individual in population) and len(logbook) == 3
    finally:
        ray_map.evaluate_batch.shutdown()
        ray.shutdown()


# ---------------------------------------------------------------- any PopulationEvaluation, rollouts

RAY_OPTIONS = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


@pytest.fixture
def ray_module():
    """Ray, shut down after the test; the test is skipped where Ray is not installed."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[distributed]'")
    yield ray
    ray.shutdown()


def _policies(n: int) -> list:
    """``n`` random 6-8-1 tanh policies for the double pole."""
    return random_population(Architecture.parse("6-8-1", activation="tanh"), n, d=4,
                             generator=torch.Generator().manual_seed(7))


def _rollouts() -> RolloutEvaluation:
    """Double-pole rollouts: a fixed start, so a member's fitness does not depend on its place in
    the list (cartpole's start states are drawn by list position, so a chunk's would differ)."""
    return RolloutEvaluation("double-pole", episodes=2, seed=3, max_steps=300)


class _DiesOnce:
    """A ``PopulationEvaluation`` whose first ``batch`` call, in whichever worker gets there first,
    kills that worker's process; every later call (the retry included) evaluates normally. The
    marker file makes "first" hold across processes and restarts."""

    def __init__(self, evaluation: RolloutEvaluation, marker: Path) -> None:
        self.evaluation, self.marker = evaluation, marker

    def batch(self, individuals: list) -> list[tuple[float, ...]]:
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return self.evaluation.batch(individuals)
        os._exit(1)  # the worker process dies mid-generation, without cleanup

    def __call__(self, individual) -> tuple[float, ...]:
        return self.batch([individual])[0]


def test_rollouts_through_the_ray_map_equal_the_in_process_batch(ray_module):
    population = _policies(7)
    expected = _rollouts().batch(population)
    toolbox, evaluation = base.Toolbox(), _rollouts()
    ray_map = register_ray_map(toolbox, evaluation, n_workers=2, init_options=RAY_OPTIONS)
    assert isinstance(ray_map, BatchedMap) and toolbox.evaluate.func is evaluation is ray_map.evaluation
    assert toolbox.map(toolbox.evaluate, population) == expected
    ray_map.evaluate_batch.shutdown()


def test_a_worker_killed_mid_generation_costs_a_retry_not_the_run(ray_module, tmp_path):
    population = _policies(6)
    undisturbed = _rollouts().batch(population)

    toolbox = base.Toolbox()
    ray_map = register_ray_map(toolbox, _DiesOnce(_rollouts(), tmp_path / "died"), n_workers=2,
                               init_options=RAY_OPTIONS)
    assert toolbox.map(toolbox.evaluate, population) == undisturbed
    assert (tmp_path / "died").exists()  # a worker did die
    assert toolbox.map(toolbox.evaluate, population) == undisturbed  # and the restarted one keeps working
    ray_map.evaluate_batch.shutdown()


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_cluster(ray_module):
    """A Ray head started apart from this process (``ray start --head --block``) on 127.0.0.1;
    yields its address and stops it (the ``ray start`` process ends the processes it started)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit
    port = _free_loopback_port()
    log = temp_dir / "ray-start.log"
    with log.open("w") as out:
        head = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
             "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={temp_dir}"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,  # its own process group, to end if it does not stop by itself
        )
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not come up:\n{log.read_text()}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        ray_module.shutdown()
        head.terminate()
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_rollouts_on_a_separately_started_local_cluster(ray_module, local_cluster):
    population = _policies(5)
    expected = _rollouts().batch(population)
    toolbox = base.Toolbox()
    ray_map = register_ray_map(toolbox, _rollouts(), address=local_cluster,
                               init_options={"log_to_driver": False})
    # joined that cluster, started none (Ray itself resolves 127.0.0.1 to the node's own address)
    assert ray_module.get_runtime_context().gcs_address.endswith(local_cluster.removeprefix("127.0.0.1"))
    assert len(ray_map.evaluate_batch.workers) == 2  # default: the cluster's 2 CPUs, one thread each
    assert toolbox.map(toolbox.evaluate, population) == expected
    ray_map.evaluate_batch.shutdown()
