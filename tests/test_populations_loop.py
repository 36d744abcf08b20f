"""The resumable GA loop. Run as ``python -m tests.test_populations_loop CHECKPOINT MARKER K``, this
module is also the child process of the kill test: it evolves with a checkpoint every generation,
and in generation K + 1 (after the checkpoint of generation K) it touches MARKER and hangs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from deap import algorithms, base, tools

import operators
from neuroevo.data import Dataset
from populations import EaSimple, load_checkpoint, random_population, register_batched_evaluation, similar
from populations import evolve as evolve_strategy
from populations import resume as resume_strategy
from populations.rng import seed_everything
from tests.conftest import REPO, small_dense

SETTINGS = {"cxpb": 0.6, "mutpb": 0.4}
NGEN = 6


def synthetic_data() -> Dataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(48, 1, 4, 4, generator=generator)
    labels = images.flatten(1)[:, :3].argmax(dim=1)
    return Dataset(images, labels, "synthetic", "train", 3)


def make_toolbox() -> base.Toolbox:
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, synthetic_data())
    toolbox.register("mate", operators.cx_transplant, layer=0, coefficient=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.2, indpb=0.3)
    toolbox.register("select", tools.selTournament, tournsize=3)
    return toolbox


def make_stats() -> tools.Statistics:
    stats = tools.Statistics(lambda individual: individual.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    return stats


def evolve(population, toolbox, *, cxpb, mutpb, stats=None, **run):
    return evolve_strategy(EaSimple(cxpb=cxpb, mutpb=mutpb, stats=stats), population, toolbox, **run)


def resume(path, toolbox, *, cxpb, mutpb, stats=None, **run):
    return resume_strategy(path, EaSimple(cxpb=cxpb, mutpb=mutpb, stats=stats), toolbox, **run)


def initial_population(seed: int = 0):
    seed_everything(seed)
    return random_population(small_dense(), 8, d=4)


def _exactly_equal(a, b):
    return a.fitness.values == b.fitness.values and all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names) for x, y in zip(a.layers, b.layers)
    )


def test_evolve_makes_the_same_population_as_ea_simple():
    toolbox = make_toolbox()
    population = initial_population()
    expected, expected_log = algorithms.eaSimple(
        population, toolbox, ngen=4, stats=make_stats(), verbose=False, **SETTINGS
    )
    state = evolve(initial_population(), toolbox, ngen=4, stats=make_stats(), **SETTINGS)
    assert state.generation == 4
    assert all(_exactly_equal(a, b) for a, b in zip(state.population, expected))
    assert list(state.logbook) == list(expected_log)
    assert len({ind.content_hash for ind in expected}) > 1  # the run did something


def test_checkpoints_follow_the_schedule_and_a_finished_run_resumes_to_itself(tmp_path):
    path = tmp_path / "run.safetensors"
    written = []
    state = evolve(initial_population(), make_toolbox(), ngen=5, checkpoint=path, checkpoint_every=2,
                   on_generation=lambda s: written.append(load_checkpoint(path).state.generation), **SETTINGS)
    assert written == [0, 0, 2, 2, 4, 5]
    again = resume(path, make_toolbox(), ngen=5, **SETTINGS)
    assert again.generation == 5 and all(_exactly_equal(a, b) for a, b in zip(again.population, state.population))
    with pytest.raises(ValueError, match="checkpoint_every"):
        evolve(initial_population(), make_toolbox(), ngen=2, checkpoint_every=0, **SETTINGS)
    with pytest.raises(ValueError, match="ngen"):
        resume(path, make_toolbox(), ngen=-1, **SETTINGS)


def test_a_killed_run_resumes_bit_identically(tmp_path):
    path, marker, k = tmp_path / "run.safetensors", tmp_path / "hanging", 3
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.test_populations_loop", str(path), str(marker), str(k)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the child never reached generation k + 1"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert load_checkpoint(path).state.generation == k

    resumed = resume(path, make_toolbox(), ngen=NGEN, stats=make_stats(), **SETTINGS)
    reference = evolve(initial_population(), make_toolbox(), ngen=NGEN, stats=make_stats(),
                       halloffame=tools.HallOfFame(3, similar=similar), **SETTINGS)
    assert resumed.generation == NGEN
    assert all(_exactly_equal(a, b) for a, b in zip(resumed.population, reference.population))
    assert [entry["gen"] for entry in resumed.logbook] == list(range(NGEN + 1))
    assert list(resumed.logbook) == list(reference.logbook)
    assert all(_exactly_equal(a, b) for a, b in zip(resumed.halloffame, reference.halloffame))


def _child(path: str, marker: str, k: int) -> None:
    toolbox = make_toolbox()
    batched_map = toolbox.map
    generation = [0]

    def hang_in_generation_after_k(func, individuals):
        if generation[0] == k:
            Path(marker).touch()
            time.sleep(600)
        return batched_map(func, individuals)

    toolbox.register("map", hang_in_generation_after_k)
    evolve(initial_population(), toolbox, ngen=NGEN, stats=make_stats(),
           halloffame=tools.HallOfFame(3, similar=similar), checkpoint=path,
           on_generation=lambda state: generation.__setitem__(0, state.generation), **SETTINGS)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
