"""Ray evaluation. Skipped where Ray is not installed (``pip install -e '.[distributed]'``)."""

import random

import pytest
from deap import algorithms, base, tools

import operators
from populations import random_population, register_batched_evaluation
from populations.distributed import _chunks
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
    ray = pytest.importorskip("ray")
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
