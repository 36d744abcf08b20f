"""The evolution engine: any Strategy runs on evolve/resume, with one result type and curve."""

import pytest
import torch
from deap import base, tools

import operators
from neuroevo.data import Dataset
from operators.registry import CROSSOVERS, MUTATIONS, crossover, mutation, operator_spec
from populations import (
    CurvePoint,
    EvolutionResult,
    Strategy,
    evaluate_invalid,
    evolve,
    learning_curve,
    random_population,
    register_batched_evaluation,
    resume,
)
from populations.rng import seed_everything
from tests.conftest import small_dense


def synthetic_data() -> Dataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(48, 1, 4, 4, generator=generator)
    return Dataset(images, images.flatten(1)[:, :3].argmax(dim=1), "synthetic", "train", 3)


class MutateBest(Strategy):
    """A (1 + lambda)-style strategy written against the public protocol alone."""

    name = "mutate-best"
    logbook_fields = ("max", "avg", "step")

    def __init__(self) -> None:
        self.steps = 0

    def start(self, state, toolbox):
        nevals = evaluate_invalid(state.population, toolbox)
        return {"nevals": nevals, **self._record(state)}

    def generation(self, state, toolbox):
        best = tools.selBest(state.population, 1)[0]
        children = [toolbox.clone(best) for _ in state.population[1:]]
        for child in children:
            toolbox.mutate(child)
            del child.fitness.values
        nevals = evaluate_invalid(children, toolbox)
        state.population[:] = [best, *children]
        self.steps += 1
        return {"nevals": nevals, **self._record(state)}

    def restore(self, state):
        self.steps = int(state.logbook[-1]["step"])

    def _record(self, state):
        values = [i.fitness.values[0] for i in state.population]
        return {"max": max(values), "avg": sum(values) / len(values), "step": self.steps}


def toolbox() -> base.Toolbox:
    box = base.Toolbox()
    register_batched_evaluation(box, synthetic_data())
    box.register("mutate", mutation("gaussian", sigma=0.3, indpb=0.5))
    return box


def population():
    seed_everything(0)
    return random_population(small_dense(), 6, d=4)


def test_a_user_strategy_runs_on_the_engine_and_resumes_bit_identically(tmp_path):
    full = evolve(MutateBest(), population(), toolbox(), ngen=4)
    assert isinstance(full, EvolutionResult) and full.generation == 4
    assert [point.evaluations for point in full.curve] == [6, 11, 16, 21, 26]
    assert all(isinstance(point, CurvePoint) for point in full.curve)
    assert [point.best for point in full.curve] == sorted(point.best for point in full.curve)  # best so far
    assert full.curve[-1].extras == {"step": 4.0}
    assert full.evaluations == 26 and full.gradient_steps == 0

    path = tmp_path / "run.safetensors"
    evolve(MutateBest(), population(), toolbox(), ngen=2, checkpoint=path)
    seed_everything(123)
    strategy = MutateBest()
    resumed = resume(path, strategy, toolbox(), ngen=4)
    assert strategy.steps == 4  # restored from the logbook, then advanced
    assert list(resumed.logbook) == list(full.logbook)
    assert resumed.best.fitness.values == full.best.fitness.values


def test_learning_curve_reads_any_logbook():
    logbook = tools.Logbook()
    logbook.record(gen=0, nevals=4, max=0.5, avg=0.25, diversity=0.1)
    logbook.record(gen=1, nevals=4, max=0.4, avg=0.3, diversity=0.2)
    curve = learning_curve(logbook, start_evaluations=2)
    assert [(p.generation, p.evaluations, p.best, p.mean) for p in curve] == [(0, 6, 0.5, 0.25), (1, 10, 0.5, 0.3)]
    assert curve[1].to_dict() == {"evaluations": 10, "best": 0.5, "mean": 0.3, "diversity": 0.2}


def test_a_strategy_that_refuses_its_population_fails_before_any_work():
    calls = []
    box = toolbox()
    box.register("evaluate", lambda individual: calls.append(1) or (0.0,))
    with pytest.raises(ValueError, match="non-empty population"):
        evolve(MutateBest(), [], box, ngen=1)
    with pytest.raises(ValueError, match="ngen"):
        evolve(MutateBest(), population(), box, ngen=-1)
    assert calls == []


# ------------------------------------------------------------------ the operator registry


def test_every_named_operator_is_its_function_with_the_named_settings():
    mate = crossover("transplant-aligned", layer=0, coefficient=0.25)
    assert mate.func is operators.cx_transplant_aligned and mate.keywords == {"layer": 0, "coefficient": 0.25}
    repair = operator_spec("crossover", "interpolate-aligned-repair").bind(probe=torch.zeros(2, 16))
    assert repair.keywords["method"] == "activation" and repair.keywords["repair"] is True
    assert mutation("gaussian", sigma=0.1).func is operators.mut_gaussian
    assert set(CROSSOVERS) >= {"transplant", "transplant-aligned", "interpolate", "interpolate-aligned"}
    assert set(MUTATIONS) == {"gaussian", "add-neuron", "remove-neuron"}


@pytest.mark.parametrize("call, message", [
    (lambda: crossover("blend"), "unknown crossover 'blend'; choose one of transplant"),
    (lambda: mutation("gaussian", alpha=0.5), "takes mu, sigma, indpb"),
    (lambda: crossover("interpolate-aligned-repair"), "needs a probe"),
    (lambda: operator_spec("crossover", "interpolate-aligned-repair").check_encoding("embedding"),
     "does not fit embedding genomes"),
])
def test_bad_operator_requests_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bind_from_takes_only_what_the_operator_uses():
    settings = {"alpha": 0.3, "coefficient": 0.7, "layer": 0, "probe": torch.zeros(1), "method": None}
    assert crossover("interpolate").keywords == {}
    bound = operator_spec("crossover", "interpolate").bind_from(settings)
    assert bound.keywords == {"alpha": 0.3, "layer": 0}  # no coefficient, no probe (no repair)
    bound = operator_spec("crossover", "transplant-aligned").bind_from({**settings, "method": "activation"})
    assert bound.keywords["probe"] is settings["probe"] and "alpha" not in bound.keywords
