"""SANE over neuron records (pool, blueprints, credit, resume) and runs in lockstep."""

from __future__ import annotations

import random

import pytest
import torch
from deap import base

from neuroevo import Architecture
from operators.registry import mutation
from populations import SANE, evolve, random_population, resume, run_in_lockstep, sane_population
from populations.control import ControlSettings, run_control, run_controls
from populations.rng import seed_everything
from populations.rollouts import register_rollout_evaluation
from populations.strategies.sane import blueprint_pointers, neuron_credit

ARCH = Architecture.parse("4-6-2", activation="tanh")


def members(n=8, seed=0):
    seed_everything(seed)
    return random_population(ARCH, n, d=4, init="fan-in")


def toolbox(variation="crossover"):
    box = base.Toolbox()
    register_rollout_evaluation(box, "cartpole", max_steps=60, seed=3)
    if variation != "none":
        box.register("mutate", mutation("gaussian", sigma=0.3, indpb=0.3))
    return box


# ------------------------------------------------------------------ SANE
def test_the_pool_holds_every_members_hidden_records_and_blueprints_point_into_it():
    group = members(8)
    population = sane_population(group)
    pool, blueprints = population[0], population[1:]
    assert len(pool.layers[0]) == 8 * 6 and len(blueprints) == 8
    pointers = blueprint_pointers(pool, blueprints)
    assert [p[0].tolist() for p in pointers] == [list(range(6 * k, 6 * k + 6)) for k in range(8)]
    blueprints[0].layers[0]["embeddings"][0] += 1.0  # copies: the pool and the members are untouched
    assert torch.equal(pool.layers[0]["embeddings"][0], group[0].layers[0]["embeddings"][0])
    with pytest.raises(ValueError, match="not in the pool"):
        blueprint_pointers(pool, blueprints)


def test_neuron_credit_averages_the_best_networks_a_neuron_joined():
    pointers = [torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([1, 1]), torch.tensor([0, 2])]
    credit = neuron_credit([10.0, 4.0, 7.0, 1.0], pointers, size=4, best=2)
    assert credit[:3].tolist() == [(10 + 1) / 2, (10 + 7) / 2, (4 + 1) / 2]
    assert credit[3] == -float("inf")  # no blueprint uses neuron 3
    assert neuron_credit([10.0, 4.0, 7.0, 1.0], pointers, size=4, best=5)[1] == pytest.approx(7.0)


@pytest.mark.parametrize("variation", ["crossover", "mutation-only", "none"])
def test_sane_keeps_blueprints_built_from_the_pool_and_resumes_bit_identically(tmp_path, variation):
    full = evolve(SANE(variation=variation), sane_population(members(12)), toolbox(variation), ngen=4)
    pool, blueprints = full.population[0], full.population[1:]
    assert len(blueprints) == 12 and len(pool.layers[0]) == 72
    blueprint_pointers(pool, blueprints)  # every blueprint is made of pool neurons
    assert all(b.fitness.valid for b in blueprints) and not pool.fitness.valid
    assert full.curve[-1].best >= full.curve[0].best
    if variation == "none":  # selection only: every pool neuron is one of the initial ones
        initial = sane_population(members(12))[0].layers[0].record_matrix()
        assert all(any(torch.equal(row, old) for old in initial) for row in pool.layers[0].record_matrix())
    path = tmp_path / "sane.safetensors"
    evolve(SANE(variation=variation), sane_population(members(12)), toolbox(variation), ngen=2, checkpoint=path)
    seed_everything(99)
    resumed = resume(path, SANE(variation=variation), toolbox(variation), ngen=4)
    assert list(resumed.logbook) == list(full.logbook)
    assert resumed.population[0].layers[0] == full.population[0].layers[0]


def test_sane_breeds_new_neurons_into_the_bottom_half_only():
    population = sane_population(members(8))
    box = toolbox()
    start = evolve(SANE(), population, box, ngen=0)
    before = start.population[0].layers[0].record_matrix()
    after = evolve(SANE(), start.population, box, ngen=1).population[0].layers[0].record_matrix()
    changed = sum(not torch.equal(a, b) for a, b in zip(after, before))
    assert 0 < changed <= len(before) // 2


def test_sane_refuses_what_it_cannot_run():
    box = toolbox()
    with pytest.raises(ValueError, match="at least 8 blueprints"):
        evolve(SANE(), sane_population(members(6)), box, ngen=1)
    with pytest.raises(ValueError, match="pool"):
        evolve(SANE(), members(10), box, ngen=1)  # no pool first
    with pytest.raises(ValueError, match="embedding genomes"):
        sane_population(random_population(ARCH, 8, encoding="direct"))
    with pytest.raises(ValueError, match="unknown variation"):
        SANE(variation="sometimes")
    with pytest.raises(ValueError, match="pointer_mutation"):
        SANE(pointer_mutation=1.5)


def test_the_control_recipe_runs_sane_and_counts_evaluations():
    settings = ControlSettings(task="cartpole", algorithm="sane", population=8, cap=300, threshold=40.0,
                               max_steps=40)
    record, result = run_control(settings, seed=0)
    assert record["algorithm"] == "sane" and record["evaluations"] <= settings.cap + 8
    assert record["solved"] == (result.curve[-1].best >= 40.0)


# ------------------------------------------------------------------ lockstep
def test_jobs_in_lockstep_return_what_they_return_alone():
    """Each job draws from the global generators between its requests; interleaved with the others
    it still draws its own sequence, and its requests are answered in one shared call per round."""
    calls = []

    def evaluate(items):
        calls.append(len(items))
        return [(float(x) * 2,) for x in items]

    def job(seed):
        def run(batch):
            random.seed(seed)
            torch.manual_seed(seed)
            total = []
            for round_ in range(seed + 1):  # jobs end at different rounds
                draws = [random.random() + float(torch.rand(())) for _ in range(3)]
                total += [value for (value,) in batch(draws)]
            return total
        return run

    alone = [job(seed)(evaluate) for seed in range(3)]
    calls.clear()
    together = run_in_lockstep([job(seed) for seed in range(3)], evaluate)
    assert together == alone
    assert calls == [9, 6, 3]  # one call per round for every job still running


def test_a_failing_job_raises_in_the_caller():
    def bad(batch):
        batch([1])
        raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        run_in_lockstep([bad, lambda batch: batch([2])], lambda items: [(1.0,)] * len(items))
    with pytest.raises(ValueError, match="fitness tuples"):
        run_in_lockstep([lambda batch: batch([1, 2])], lambda items: [(1.0,)])


@pytest.mark.parametrize("algorithm", ["cosyne", "sane"])
def test_control_runs_in_lockstep_equal_runs_alone(algorithm):
    settings = ControlSettings(task="double-pole", algorithm=algorithm, population=8, cap=200, max_steps=150)
    alone = [run_control(settings, seed=seed)[0] for seed in (0, 1, 2)]
    together = run_controls(settings, [0, 1, 2])
    drop = ("wall_s", "lockstep")
    assert [{k: v for k, v in r.items() if k not in drop} for r in together] == \
           [{k: v for k, v in r.items() if k not in drop} for r in alone]
    assert all(r["lockstep"] == 3 for r in together)
