"""Gradient-free evolution of controllers: CoSyNE's record permutation, the control recipe's counting."""

import pytest
import torch
from deap import base

from neuroevo import Architecture
from operators.registry import crossover, mutation
from populations import CoSyNE, evolve, random_population, resume
from populations.control import ControlSettings, run_control
from populations.rng import seed_everything
from populations.rollouts import RolloutEvaluation, register_rollout_evaluation
from populations.strategies import permute_records

ARCH = Architecture.parse("4-6-2", activation="tanh")


def networks(n=8, seed=0):
    seed_everything(seed)
    return random_population(ARCH, n, d=4, init="fan-in")


def test_permuting_a_slot_moves_its_records_around_the_marked_networks_only():
    group = networks(4)
    before = [[layer["embeddings"].clone() for layer in g.layers] for g in group]
    order = torch.tensor([2, 0, 3])
    marks = [[order if slot == 1 else torch.tensor([], dtype=torch.long) for slot in range(6)],
             [torch.tensor([], dtype=torch.long)] * 2]
    changed = permute_records(group, marks)
    assert changed == {0, 2, 3}
    # the record of marked[k] moves to marked[k + 1], the last one's to marked[0]
    for source, target in ((2, 0), (0, 3), (3, 2)):
        assert torch.equal(group[target].layers[0]["embeddings"][1], before[source][0][1])
    assert torch.equal(group[1].layers[0]["embeddings"], before[1][0])  # unmarked network untouched
    others = [s for s in range(6) if s != 1]
    for k in range(4):
        assert torch.equal(group[k].layers[0]["embeddings"][others], before[k][0][others])
        assert torch.equal(group[k].layers[1]["embeddings"], before[k][1])
    group[0].layers[0]["embeddings"][1] += 1.0  # no storage shared between networks
    assert torch.equal(group[3].layers[0]["embeddings"][1], before[0][0][1])


def cartpole_toolbox():
    toolbox = base.Toolbox()
    register_rollout_evaluation(toolbox, "cartpole", max_steps=60, seed=3)
    toolbox.register("mate", crossover("interpolate-aligned"))
    toolbox.register("mutate", mutation("gaussian", sigma=0.3, indpb=0.3))
    return toolbox


def test_cosyne_on_cartpole_improves_and_resumes_bit_identically(tmp_path):
    full = evolve(CoSyNE(), networks(12), cartpole_toolbox(), ngen=4)
    assert full.curve[-1].best >= full.curve[0].best
    assert all(point.evaluations > 0 for point in full.curve)
    path = tmp_path / "cosyne.safetensors"
    evolve(CoSyNE(), networks(12), cartpole_toolbox(), ngen=2, checkpoint=path)
    seed_everything(99)
    resumed = resume(path, CoSyNE(), cartpole_toolbox(), ngen=4)
    assert list(resumed.logbook) == list(full.logbook)
    assert [i.fitness.values for i in resumed.population] == [i.fitness.values for i in full.population]


def test_cosyne_refuses_direct_genomes_and_small_populations():
    toolbox = cartpole_toolbox()
    with pytest.raises(ValueError, match="embedding genomes"):
        evolve(CoSyNE(), random_population(ARCH, 8, encoding="direct"), toolbox, ngen=1)
    with pytest.raises(ValueError, match="at least 8 networks"):
        evolve(CoSyNE(), networks(6), toolbox, ngen=1)


def test_rollout_fitness_is_the_mean_return_and_deterministic():
    group = networks(5)
    evaluation = RolloutEvaluation("cartpole", episodes=3, seed=1, max_steps=50)
    values = evaluation.batch(group)
    assert values == evaluation.batch(group)
    result = evaluation.run(group)
    assert [v for (v,) in values] == pytest.approx(result.mean_return.tolist())
    assert all(1 <= v <= 50 for (v,) in values)


@pytest.mark.parametrize("algorithm", ["ga", "esp", "cosyne"])
def test_the_control_recipe_counts_evaluations_to_solve_exactly(algorithm):
    settings = ControlSettings(task="cartpole", algorithm=algorithm, population=8, trials=1, cap=400,
                               threshold=40.0, max_steps=40)
    record, result = run_control(settings, seed=0)
    assert record["evaluations"] <= settings.cap + 64
    if record["solved"]:
        assert 1 <= record["evaluations_to_solve"] <= record["evaluations"]
        assert result.curve[-1].best >= 40.0
    else:
        assert record["evaluations_to_solve"] is None and result.curve[-1].best < 40.0
    assert set(record) >= {"task", "algorithm", "encoding", "variation", "operator", "seed", "evaluations_to_solve",
                           "solved", "generalisation", "wall_s"}


def test_fitness_does_not_depend_on_where_a_genome_stands_in_the_batch():
    group = networks(6)
    evaluation = RolloutEvaluation("cartpole", episodes=2, seed=4, max_steps=100)
    whole = evaluation.batch(group)
    assert evaluation.batch(group[3:]) + evaluation.batch(group[:3]) == whole[3:] + whole[:3]


def test_classification_refuses_a_recurrent_genome_instead_of_dropping_its_recurrent_weights():
    from neuroevo.data import Dataset
    from neuroevo.evaluation import evaluate_genome, evaluate_population

    genome = random_population(Architecture.parse("4-3r-2", activation="tanh"), 1, d=4)[0]
    data = Dataset(torch.randn(6, 4), torch.tensor([0, 1, 0, 1, 0, 1]), "toy", "train", 2)
    with pytest.raises(ValueError, match="is recurrent"):
        evaluate_population([genome], data)
    with pytest.raises(ValueError, match="is recurrent"):
        evaluate_genome(genome, data)


def test_a_non_markov_champion_is_solve_checked_once_however_many_generations_it_leads(monkeypatch):
    import populations.control as control

    checked = []
    real = control.solve_check

    def counting(policy, **options):
        checked.append(policy.weights[0].clone())
        return real(policy, steps=200)

    monkeypatch.setattr(control, "solve_check", counting)
    settings = ControlSettings(task="double-pole-nv", algorithm="ga", variation="mutation-only", population=8,
                               cap=64, max_steps=50, mutpb=0.2)
    record, result = run_control(settings, seed=0)
    generations = len(result.curve)
    distinct = {tuple(w.flatten().tolist()) for w in checked}
    assert len(checked) == len(distinct) < generations  # rare mutation keeps the champion for generations


def test_a_run_that_can_no_longer_evaluate_anything_stops():
    settings = ControlSettings(task="cartpole", algorithm="ga", variation="none", population=8, cap=200,
                               threshold=1e9, max_steps=20)
    record, result = run_control(settings, seed=0)
    assert record["evaluations"] == 8 and not record["solved"]
    assert len(result.curve) <= 2, f"{len(result.curve)} generations without a single evaluation"
