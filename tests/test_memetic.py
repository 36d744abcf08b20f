"""Memetic (Lamarckian) evolution: the learning step, the loop's budget, resume, and bad input."""

import dataclasses

import pytest
import torch
from deap import base, tools

import operators
from neuroevo.data import Dataset
from neuroevo.genomes import EmbeddingGenome
from populations import LamarckianTraining, Memetic, evolve, random_population, register_batched_evaluation, resume
from populations.memetic import MemeticSettings, fresh_members, run_memetic
from populations.variation import VARIATIONS
from populations.rng import seed_everything
from populations.specialists import class_shards, specialist_population

SPEC = "16-8-4"


def synthetic(n: int = 96, seed: int = 0) -> Dataset:
    """A learnable problem: the label is the argmax of the first four inputs."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, 1, 16, generator=generator)
    labels = images.flatten(1)[:, :4].argmax(dim=1)
    return Dataset(images, labels, "synthetic", "train", 4)


def tiny_settings(**changes) -> MemeticSettings:
    base_settings = MemeticSettings(architecture=SPEC, d=4, population=4, generations=2, steps=3, batch_size=16,
                                    ancestor_steps=4, probe_size=32)
    return dataclasses.replace(base_settings, **changes)


def toolbox_for(learner: LamarckianTraining) -> base.Toolbox:
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, synthetic(48, seed=1))
    toolbox.register("select", tools.selTournament, tournsize=2)
    toolbox.register("mate", operators.cx_interpolate_aligned, alpha=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.05, indpb=0.5)
    toolbox.register("learn", learner)
    return toolbox


def population(n: int = 4):
    from neuroevo import Architecture

    arch = Architecture.parse(SPEC, input_shape=(1, 1, 16))
    return random_population(arch, n, d=4, generator=torch.Generator().manual_seed(3))


def evolve_memetic(individuals, toolbox, learner, *, ngen, checkpoint=None, **options):
    return evolve(Memetic(learner, **options), individuals, toolbox, ngen=ngen, checkpoint=checkpoint)


def resume_memetic(path, toolbox, learner, *, ngen, **options):
    return resume(path, Memetic(learner, **options), toolbox, ngen=ngen)


# ------------------------------------------------------------------ the learning step


def test_learning_step_counts_its_steps_and_writes_the_weights_back():
    individual = population(1)[0]
    before = individual.clone()
    learner = LamarckianTraining(synthetic(), steps=5, batch_size=16)
    assert learner(individual) == (individual,)
    assert learner.gradient_steps == 5
    assert not torch.equal(individual.layers[0]["embeddings"], before.layers[0]["embeddings"])
    assert individual.input_encoding is before.input_encoding  # the shared basis stays frozen


def test_learning_step_is_reproducible_under_a_seed_and_differs_between_calls():
    a, b = population(1)[0], population(1)[0]
    learner = LamarckianTraining(synthetic(), steps=4, batch_size=16)
    seed_everything(7)
    learner(a)
    seed_everything(7)
    learner(b)
    assert torch.equal(a.layers[0]["embeddings"], b.layers[0]["embeddings"])
    learner(b)  # a second call draws a new batch order and moves on
    assert not torch.equal(a.layers[0]["embeddings"], b.layers[0]["embeddings"])


@pytest.mark.parametrize("data", [None, synthetic().subset(torch.tensor([], dtype=torch.long), "empty")])
def test_learning_steps_without_training_data_are_rejected(data):
    with pytest.raises(ValueError, match="needs training data"):
        LamarckianTraining(data, steps=3)


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_non_positive_steps_are_rejected(steps):
    with pytest.raises(ValueError, match="steps"):
        LamarckianTraining(synthetic(), steps=steps)


# ------------------------------------------------------------------ the loop


@pytest.mark.parametrize("order", ["learn-then-vary", "vary-then-learn"])
def test_every_variation_spends_the_same_counted_budget(order):
    ngen, steps, size = 2, 3, 4
    budgets = set()
    for variation in VARIATIONS:
        seed_everything(0)
        learner = LamarckianTraining(synthetic(), steps=steps, batch_size=16)
        state = evolve_memetic(population(size), toolbox_for(learner), learner, variation=variation, ngen=ngen,
                               order=order, probe=synthetic(8).images)
        evaluations = sum(entry["nevals"] for entry in state.logbook)
        budgets.add((evaluations, learner.gradient_steps, state.logbook[-1]["gradient_steps"]))
    assert budgets == {(size * (ngen + 1), size * (ngen + 1) * steps, size * (ngen + 1) * steps)}


def test_the_intermediate_stage_is_measured_after_generation_zero():
    learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
    state = evolve_memetic(population(), toolbox_for(learner), learner, variation="crossover", ngen=2,
                           probe=synthetic(8).images)
    values = state.logbook.select("intermediate_avg")
    assert values[0] != values[0]  # NaN at generation 0: nothing was varied yet
    assert all(0.0 <= v <= 1.0 for v in values[1:])
    assert all(0.0 <= d <= 1.0 for d in state.logbook.select("diversity"))


def test_resume_is_bit_identical(tmp_path):
    def run(ngen, checkpoint=None):
        seed_everything(11)
        learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
        state = evolve_memetic(population(), toolbox_for(learner), learner, variation="crossover", ngen=ngen,
                               checkpoint=checkpoint, lr_schedule=lambda g: 0.01 / (g + 1))
        return state, learner

    full, full_learner = run(3)
    path = tmp_path / "run.safetensors"
    run(1, path)
    seed_everything(999)  # whatever happened since, the checkpoint's generators are restored
    learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
    resumed = resume_memetic(path, toolbox_for(learner), learner, variation="crossover", ngen=3,
                             lr_schedule=lambda g: 0.01 / (g + 1))
    assert resumed.generation == 3
    assert learner.gradient_steps == full_learner.gradient_steps
    for a, b in zip(full.population, resumed.population):
        for la, lb in zip(a.layers, b.layers):
            for name, tensor in la.items():
                assert torch.equal(tensor, lb[name])
        assert a.fitness.values == b.fitness.values
    assert full.logbook.select("max") == resumed.logbook.select("max")


@pytest.mark.parametrize("size", [1, 3])
def test_crossover_on_a_population_too_small_or_odd_fails_before_any_work(size):
    learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
    with pytest.raises(ValueError, match="even population of at least 2"):
        evolve_memetic(population(size), toolbox_for(learner), learner, variation="crossover", ngen=1)
    assert learner.gradient_steps == 0


def test_a_toolbox_without_the_variation_function_is_rejected():
    learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
    toolbox = toolbox_for(learner)
    toolbox.unregister("mutate")
    with pytest.raises(ValueError, match="lacks mutate"):
        evolve_memetic(population(), toolbox, learner, variation="mutation-only", ngen=1)
    assert learner.gradient_steps == 0


def test_unknown_variation_and_order_are_rejected():
    learner = LamarckianTraining(synthetic(), steps=2, batch_size=16)
    with pytest.raises(ValueError, match="unknown variation"):
        evolve_memetic(population(), toolbox_for(learner), learner, variation="soup", ngen=1)
    with pytest.raises(ValueError, match="unknown order"):
        evolve_memetic(population(), toolbox_for(learner), learner, variation="none", ngen=1, order="sideways")


# ------------------------------------------------------------------ the recipe's arms


@pytest.mark.parametrize("variation", [*VARIATIONS, "adam"])
def test_run_memetic_arms_spend_the_same_gradient_steps(variation):
    settings = tiny_settings()
    run = run_memetic(synthetic(), synthetic(48, seed=1), settings, variation=variation, seed=0)
    assert run.gradient_steps == settings.gradient_steps
    if variation != "adam":
        assert run.evaluations == settings.evaluations
        assert [c.evaluations for c in run.curve] == [settings.population * (g + 1)
                                                        for g in range(settings.generations + 1)]


def test_run_memetic_direct_repair_arm_runs_with_the_same_budget():
    settings = tiny_settings()
    run = run_memetic(synthetic(), synthetic(48, seed=1), settings, crossover="interpolate-aligned-repair",
                      encoding="direct", seed=0)
    assert (run.evaluations, run.gradient_steps) == (settings.evaluations, settings.gradient_steps)


@pytest.mark.parametrize("changes, message", [
    ({"crossover": "interpolate-aligned-repair"}, "does not fit embedding"),
    ({"crossover": "interpolate-aligned", "encoding": "direct"}, "does not fit direct"),
    ({"crossover": "blend"}, "unknown crossover"),
    ({"variation": "soup"}, "unknown variation"),
])
def test_contradictory_recipe_settings_fail_before_any_work(changes, message, monkeypatch):
    calls = []
    monkeypatch.setattr("populations.memetic.train_genome", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match=message):
        run_memetic(synthetic(), synthetic(48, seed=1), tiny_settings(), **changes)
    assert calls == []


def test_an_odd_population_with_crossover_fails_before_any_work(monkeypatch):
    calls = []
    monkeypatch.setattr("populations.memetic.train_genome", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match="even population"):
        run_memetic(synthetic(), synthetic(48, seed=1), tiny_settings(population=3))
    assert calls == []


def test_fresh_members_share_the_input_encoding_only():
    root = EmbeddingGenome.random(population(1)[0].architecture, 4, generator=torch.Generator().manual_seed(0))
    members, steps = fresh_members(root, tiny_settings(), seed=0)
    assert steps == 0 and len(members) == 4
    assert all(m.input_encoding is root.input_encoding for m in members)
    assert not torch.equal(members[0].layers[0]["embeddings"], members[1].layers[0]["embeddings"])


def test_specialists_are_trained_on_their_shard_and_counted():
    data = synthetic()
    shards = class_shards(data, ((0, 1), (2, 3)))
    assert set(shards[0].labels.tolist()) <= {0, 1} and set(shards[1].labels.tolist()) <= {2, 3}
    assert len(shards[0]) + len(shards[1]) == len(data)
    root = population(1)[0]
    members, steps = specialist_population(root, data, tiny_settings(), specialist_steps=3, groups=((0, 1), (2, 3)))
    assert steps == 4 * 3 and len(members) == 4


@pytest.mark.parametrize("groups, message", [((), "at least one"), (((0, 1), (1, 2)), "overlap"),
                                             (((0, 9),), "outside"), (((),), "empty")])
def test_bad_class_groups_are_rejected(groups, message):
    with pytest.raises(ValueError, match=message):
        class_shards(synthetic(), groups)


def test_run_memetic_continues_an_interrupted_run_bit_identically(tmp_path):
    settings = tiny_settings(generations=3)
    full = run_memetic(synthetic(), synthetic(48, seed=1), settings, seed=4)
    path = tmp_path / "recipe.safetensors"

    def stop(state):
        if state.generation == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_memetic(synthetic(), synthetic(48, seed=1), settings, seed=4, checkpoint=path, on_generation=stop)
    resumed = run_memetic(synthetic(), synthetic(48, seed=1), settings, seed=4, checkpoint=path)
    assert repr(resumed.curve) == repr(full.curve)  # repr: NaN entries compare equal
    assert (resumed.evaluations, resumed.gradient_steps) == (full.evaluations, full.gradient_steps)
    for a, b in zip(full.best.layers, resumed.best.layers):
        for name, tensor in a.items():
            assert torch.equal(tensor, b[name])
    with pytest.raises(ValueError, match="written by another run"):
        run_memetic(synthetic(), synthetic(48, seed=1), settings, seed=5, checkpoint=path)
