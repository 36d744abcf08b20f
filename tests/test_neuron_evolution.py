"""Neuron-level (ESP-style) evolution: slots, credit, budget, bit-identical resume, bad input."""

import pytest
import torch
from deap import base, tools

import operators
from neuroevo import Architecture
from neuroevo.data import Dataset
from neuroevo.evaluation import evaluate_genome
from populations import ESP, evolve, neuron_subpopulations, random_population, register_batched_evaluation, resume, similar
from populations.rng import seed_everything

ARCH = Architecture.parse("16-6-4", input_shape=(1, 1, 16))


def synthetic(n: int = 64) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(n, 1, 1, 16, generator=generator)
    return Dataset(images, images.flatten(1)[:, :4].argmax(dim=1), "synthetic", "train", 4)


def members(n: int = 8, encoding: str = "embedding"):
    return random_population(ARCH, n, encoding=encoding, d=4, generator=torch.Generator().manual_seed(5))


def toolbox() -> base.Toolbox:
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, synthetic())
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.05, indpb=0.3)
    return toolbox


def evolve_neurons(columns, toolbox, *, ngen, halloffame=None, checkpoint=None, **options):
    return evolve(ESP(**options), columns, toolbox, ngen=ngen, halloffame=halloffame, checkpoint=checkpoint)


def resume_neurons(path, toolbox, *, ngen, **options):
    return resume(path, ESP(**options), toolbox, ngen=ngen)


def test_columns_are_the_members_with_matched_neurons():
    group = members()
    columns = neuron_subpopulations(group)
    assert len(columns) == len(group)
    for member, column in zip(group, columns):
        assert column == member  # the same network up to neuron order
        assert evaluate_genome(column, synthetic()).accuracy == evaluate_genome(member, synthetic()).accuracy


@pytest.mark.parametrize("variation", ["crossover", "mutation-only", "none"])
def test_each_generation_scores_records_times_trials_networks(variation):
    seed_everything(0)
    halloffame = tools.HallOfFame(1, similar=similar)
    state = evolve_neurons(neuron_subpopulations(members()), toolbox(), variation=variation, ngen=3, trials=2,
                           halloffame=halloffame)
    assert state.logbook.select("nevals") == [16, 16, 16]
    assert len(state.population) == 8
    assert halloffame[0].fitness.values[0] == max(state.logbook.select("max"))


def test_none_keeps_only_records_that_existed():
    """Without variation a slot's records after a generation are a selection of its records before."""
    seed_everything(1)
    columns = neuron_subpopulations(members())
    before = [{tuple(column.layers[0]["embeddings"][i].tolist()) for column in columns} for i in range(6)]
    state = evolve_neurons(list(columns), toolbox(), variation="none", ngen=1, trials=2)
    for i in range(6):
        after = {tuple(column.layers[0]["embeddings"][i].tolist()) for column in state.population}
        assert after <= before[i]


def test_the_best_credited_record_of_a_slot_survives():
    seed_everything(2)
    columns = neuron_subpopulations(members())
    slot_records = {tuple(c.layers[1]["embeddings"][0].tolist()) for c in columns}
    state = evolve_neurons(list(columns), toolbox(), variation="mutation-only", ngen=1, trials=3)
    survivors = [tuple(c.layers[1]["embeddings"][0].tolist()) for c in state.population[:4]]
    assert all(record in slot_records for record in survivors)  # the kept half is unmutated


def test_resume_is_bit_identical(tmp_path):
    def run(ngen, checkpoint=None):
        seed_everything(3)
        halloffame = tools.HallOfFame(2, similar=similar)
        state = evolve_neurons(neuron_subpopulations(members()), toolbox(), variation="crossover", ngen=ngen,
                               trials=2, halloffame=halloffame, checkpoint=checkpoint)
        return state

    full = run(4)
    path = tmp_path / "neurons.safetensors"
    run(2, path)
    seed_everything(12345)
    resumed = resume_neurons(path, toolbox(), variation="crossover", ngen=4, trials=2)
    assert resumed.generation == 4
    for a, b in zip(full.population, resumed.population):
        for la, lb in zip(a.layers, b.layers):
            for name, tensor in la.items():
                assert torch.equal(tensor, lb[name])  # same records in the same order
    assert full.logbook.select("max") == resumed.logbook.select("max")
    assert full.logbook.select("avg") == resumed.logbook.select("avg")
    assert [h.fitness.values for h in full.halloffame] == [h.fitness.values for h in resumed.halloffame]


def test_direct_genomes_are_rejected():
    with pytest.raises(ValueError, match="embedding genomes"):
        neuron_subpopulations(members(8, encoding="direct"))
    with pytest.raises(ValueError, match="embedding genomes"):
        evolve_neurons(members(8, encoding="direct"), toolbox(), ngen=1)


def test_crossover_needs_eight_records_per_slot_and_fails_before_any_work():
    box = toolbox()
    calls = []
    box.register("evaluate", lambda ind: calls.append(1) or (0.0,))
    with pytest.raises(ValueError, match="at least 8 records"):
        evolve_neurons(neuron_subpopulations(members(6)), box, variation="crossover", ngen=1)
    assert calls == []


@pytest.mark.parametrize("kwargs, message", [({"trials": 0}, "trials"), ({"variation": "blend"}, "unknown variation"),
                                             ({"ngen": -1}, "ngen")])
def test_bad_settings_are_rejected(kwargs, message):
    settings = {"ngen": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        evolve_neurons(neuron_subpopulations(members()), toolbox(), **settings)


def test_members_of_different_widths_are_rejected():
    group = members(2)
    operators.mut_add_neuron(group[1], layer=0)
    with pytest.raises(ValueError, match="same widths"):
        neuron_subpopulations(group)
