import json
import random

import numpy as np
import pytest
import torch
from deap import tools
from safetensors import safe_open
from safetensors.torch import save_file

import neuroevo.files
from neuroevo import DirectGenome, save_genome
from populations import (
    CheckpointError,
    DirectIndividual,
    GAState,
    load_checkpoint,
    random_population,
    restore_rng_state,
    save_checkpoint,
    similar,
)
from populations import individuals as individuals_module
from tests.conftest import small_conv, small_dense


def _exactly_equal(a, b):
    return type(a) is type(b) and a.architecture == b.architecture and all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names) for x, y in zip(a.layers, b.layers)
    )


def _state(generator, encoding="embedding", n=5):
    population = random_population(small_conv(), n, encoding=encoding, d=4, generator=generator)
    for i, individual in enumerate(population[:-1]):
        individual.fitness.values = (round(0.1 * (i % 3), 1),)  # ties, and one invalid fitness
    halloffame = tools.HallOfFame(3, similar=similar)
    halloffame.update(population[:-1])
    logbook = tools.Logbook()
    logbook.header = ["gen", "nevals", "fitness"]
    logbook.record(gen=0, nevals=5, fitness={"max": np.float64(0.2), "avg": np.array([0.1])})
    logbook.record(gen=1, nevals=3, fitness={"max": 0.3, "avg": 0.15})
    return GAState(population, 1, logbook, halloffame)


@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_round_trip_restores_everything_exactly(tmp_path, generator, encoding):
    state = _state(generator, encoding)
    random.seed(3)
    np.random.seed(4)
    torch.manual_seed(5)
    path = save_checkpoint(tmp_path / "run.safetensors", state, extra={"config": {"cxpb": 0.5}})
    expected_draws = (random.random(), np.random.rand(), torch.rand(2))

    loaded = load_checkpoint(path)
    assert loaded.state.generation == 1 and loaded.extra == {"config": {"cxpb": 0.5}}
    for mine, theirs in zip(loaded.state.population, state.population):
        assert _exactly_equal(mine, theirs)
        assert mine.fitness.valid == theirs.fitness.valid and mine.fitness.values == theirs.fitness.values
    assert [ind.fitness.values for ind in loaded.state.halloffame] == [ind.fitness.values for ind in state.halloffame]
    assert all(_exactly_equal(a, b) for a, b in zip(loaded.state.halloffame, state.halloffame))
    assert loaded.state.halloffame.maxsize == 3
    assert list(loaded.state.logbook) == list(state.logbook)
    assert loaded.state.logbook.header == state.logbook.header
    assert loaded.state.logbook.chapters["fitness"].select("max") == [0.2, 0.3]

    restore_rng_state(loaded.rng_state)
    draws = (random.random(), np.random.rand(), torch.rand(2))
    assert draws[:2] == expected_draws[:2] and torch.equal(draws[2], expected_draws[2])


def test_a_shared_input_encoding_is_stored_once_and_shared_again(tmp_path, generator):
    path = save_checkpoint(tmp_path / "run.safetensors", _state(generator, n=6))
    with safe_open(str(path), framework="pt") as handle:
        assert sorted(k for k in handle.keys() if k.startswith("encodings.")) == [
            "encodings.0.inputs", "encodings.0.positions"]
    loaded = load_checkpoint(path).state
    assert len({id(ind.input_encoding) for ind in [*loaded.population, *loaded.halloffame]}) == 1


def _rewrite(path, **changes):
    with safe_open(str(path), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = {**handle.metadata(), **changes}
    save_file(tensors, str(path), metadata=metadata)


def test_another_format_version_is_a_clear_error(tmp_path, generator):
    path = save_checkpoint(tmp_path / "run.safetensors", _state(generator))
    _rewrite(path, format_version="0")
    with pytest.raises(CheckpointError, match="format version '0' is not supported"):
        load_checkpoint(path)


def test_foreign_truncated_and_inconsistent_files_are_clear_errors(tmp_path, generator):
    state = _state(generator)
    genome_file = save_genome(state.population[0], tmp_path / "genome.safetensors")
    with pytest.raises(CheckpointError, match="expected a 'neuroevo-ga-checkpoint' file"):
        load_checkpoint(genome_file)
    path = save_checkpoint(tmp_path / "run.safetensors", state)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        document = json.loads(handle.metadata()["state"])
    del document["population"][0]["genome"]["architecture"]
    _rewrite(path, state=json.dumps(document))
    with pytest.raises(CheckpointError, match=r"population\[0\]: invalid genome metadata"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(tmp_path, generator, monkeypatch):
    state = _state(generator)
    path = save_checkpoint(tmp_path / "run.safetensors", state)
    before = path.read_bytes()

    def crash_half_way(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(neuroevo.files, "save_file", crash_half_way)
    state.generation = 2
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, state)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.safetensors"]
    assert load_checkpoint(path).state.generation == 1


def test_unknown_individual_class_and_changed_fitness_weights_are_clear_errors(tmp_path, generator, monkeypatch):
    class Minimiser(DirectIndividual):
        pass

    population = [Minimiser.random(small_dense(), generator=generator)]
    path = save_checkpoint(tmp_path / "run.safetensors", GAState(population, 0))
    assert type(load_checkpoint(path).state.population[0]) is Minimiser

    class LossFitness(individuals_module.Fitness):
        weights = (-1.0,)

    monkeypatch.setattr(Minimiser, "fitness_class", LossFitness)
    with pytest.raises(CheckpointError, match=r"fitness weights \(1.0,\) differ"):
        load_checkpoint(path)
    monkeypatch.delitem(individuals_module._REGISTRY, individuals_module.class_name(Minimiser))
    with pytest.raises(CheckpointError, match="unknown individual class"):
        load_checkpoint(path)


def test_bad_state_is_rejected_before_anything_is_written(tmp_path, generator):
    state = _state(generator)
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "run.safetensors", state, extra={"generator": generator})
    with pytest.raises(ValueError, match="Individual objects"):
        save_checkpoint(tmp_path / "run.safetensors", GAState([DirectGenome.random(small_dense())], 0))
    assert not list(tmp_path.iterdir())
