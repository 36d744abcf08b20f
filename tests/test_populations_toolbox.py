import random

import pytest
from deap import algorithms, base, tools

import operators
from neuroevo.evaluation import evaluate_genome
from populations import toolbox as toolbox_module
from populations import (
    EmbeddingIndividual,
    Fitness,
    random_population,
    register_batched_evaluation,
)
from tests.conftest import small_dense
from tests.test_populations_loop import synthetic_data


def _toolbox(**options):
    toolbox = base.Toolbox()
    batched_map = register_batched_evaluation(toolbox, synthetic_data(), **options)
    toolbox.register("mate", operators.cx_transplant, layer=0, coefficient=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.1, indpb=0.2)
    toolbox.register("select", tools.selTournament, tournsize=3)
    return toolbox, batched_map


def test_the_whole_list_is_evaluated_in_one_batch_with_the_same_results(generator):
    toolbox, batched_map = _toolbox()
    calls = []
    batch = batched_map.evaluate_batch
    batched_map.evaluate_batch = lambda individuals: calls.append(len(individuals)) or batch(individuals)
    population = random_population(small_dense(), 6, d=4, generator=generator)
    fitnesses = toolbox.map(toolbox.evaluate, population)
    assert calls == [6]
    assert all(isinstance(f, tuple) and len(f) == 1 for f in fitnesses)
    data = synthetic_data()
    for individual, fitness in zip(population, fitnesses):
        assert fitness == toolbox.evaluate(individual)  # called directly: one at a time
        assert fitness[0] == pytest.approx(evaluate_genome(individual, data).accuracy)
    assert len({f for f in fitnesses}) > 1


def test_other_functions_are_mapped_like_the_builtin_map(generator):
    toolbox, batched_map = _toolbox()
    population = random_population(small_dense(), 3, d=4, generator=generator)
    assert toolbox.map(len, [[1], [1, 2]]) == [1, 2]
    assert toolbox.map(pow, [2, 3], [2, 2]) == [4, 9]
    clones = toolbox.map(toolbox.clone, population)
    assert clones == population and all(a is not b for a, b in zip(clones, population))
    batched_map.evaluate_batch = lambda individuals: pytest.fail("a bound evaluate is not the registered one")
    toolbox.register("evaluate_on_other_data", batched_map.evaluation.__call__)
    assert len(toolbox.map(toolbox.evaluate_on_other_data, population)) == 3


def test_ea_simple_runs_unchanged_with_the_batched_map(generator):
    toolbox, _ = _toolbox()
    random.seed(0)
    population = random_population(small_dense(), 8, d=4, generator=generator)
    population, logbook = algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.3, ngen=3, verbose=False)
    assert all(individual.fitness.valid for individual in population)
    assert len(logbook) == 4


def test_several_metrics_make_a_multi_objective_fitness(generator):
    class AccuracyAndLoss(Fitness):
        weights = (1.0, 1.0)

    class Individual(EmbeddingIndividual):
        fitness_class = AccuracyAndLoss

    toolbox, _ = _toolbox(objectives=("accuracy", "negative_cross_entropy"))
    first = Individual.random(small_dense(), 4, generator=generator)
    population = [first, Individual.random(small_dense(), input_encoding=first.input_encoding, generator=generator)]
    for individual, fitness in zip(population, toolbox.map(toolbox.evaluate, population)):
        individual.fitness.values = fitness
        metrics = evaluate_genome(individual, synthetic_data())
        assert fitness == pytest.approx((metrics.accuracy, -metrics.cross_entropy), rel=1e-4)


def test_an_evaluate_function_that_returns_a_number_is_a_clear_error(generator):
    toolbox, batched_map = _toolbox()
    population = random_population(small_dense(), 4, d=4, generator=generator)
    toolbox.register("evaluate", lambda individual: 0.5)
    with pytest.raises(ValueError, match="evaluate function must return a tuple"):
        algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.2, ngen=1, verbose=False)
    batched_map.evaluate_batch = lambda individuals: [0.5 for _ in individuals]
    with pytest.raises(ValueError, match="one fitness tuple per individual"):
        batched_map(batched_map.evaluation, population)


def test_genomes_on_several_input_encodings_are_a_clear_error(generator):
    toolbox, _ = _toolbox()
    population = random_population(small_dense(), 2, d=4, generator=generator)
    population += random_population(small_dense(), 2, d=4, generator=generator)
    assert population[0].input_encoding != population[2].input_encoding
    with pytest.raises(ValueError, match="2 different input encodings"):
        toolbox.map(toolbox.evaluate, population)
    assert not any(ind.fitness.valid for ind in population)


def test_genomes_on_different_devices_are_a_clear_error(generator):
    toolbox, _ = _toolbox()
    individual = random_population(small_dense(), 1, d=4, generator=generator)[0]
    with pytest.raises(ValueError, match="different devices"):
        toolbox.map(toolbox.evaluate, [individual, individual.to("meta")])


def test_unknown_objectives_are_a_clear_error():
    with pytest.raises(ValueError, match="unknown fitness objectives"):
        _toolbox(objectives=("cross_entropy",))


def test_a_memory_budget_too_small_for_one_genome_is_a_clear_error(generator):
    toolbox, _ = _toolbox(memory_budget=16)
    population = random_population(small_dense(), 2, d=4, generator=generator)
    with pytest.raises(ValueError, match="memory"):
        toolbox.map(toolbox.evaluate, population)


def test_an_empty_list_needs_no_evaluation(monkeypatch):
    toolbox, _ = _toolbox()
    monkeypatch.setattr(toolbox_module, "evaluate_population", lambda *a, **k: pytest.fail("evaluated nothing"))
    assert toolbox.map(toolbox.evaluate, []) == []
