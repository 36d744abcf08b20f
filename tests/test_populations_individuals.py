import copy
import pickle
import random

import pytest
import torch
from deap import tools
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo import DirectGenome, EmbeddingGenome, save_genome
from neuroevo.training import TrainConfig
from populations import (
    DirectIndividual,
    EmbeddingIndividual,
    Fitness,
    individual_from_genome,
    population_from_files,
    population_from_parents,
    random_population,
    similar,
    train_parents,
)
from populations.individuals import class_name, individual_class
from tests.conftest import small_conv, small_dense
from tests.test_populations_loop import synthetic_data


def _storages(genome):
    return {t.untyped_storage().data_ptr() for layer in genome.layers for _, t in layer.items()}


@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_individual_is_a_genome_with_its_own_fitness(encoding, generator):
    a, b = random_population(small_dense(), 2, encoding=encoding, d=4, generator=generator)
    assert isinstance(a, EmbeddingGenome if encoding == "embedding" else DirectGenome)
    assert not a.fitness.valid and a.fitness.weights == (1.0,)
    a.fitness.values = (0.5,)
    assert not b.fitness.valid  # one Fitness object per instance, as deap.creator makes them


def test_clone_copies_each_packed_tensor_once_and_shares_the_encoding(generator):
    individual = random_population(small_conv(), 1, d=4, generator=generator)[0]
    individual.fitness.values = (0.25,)
    clone = copy.deepcopy(individual)
    assert clone == individual and clone.fitness.values == (0.25,)
    assert clone.input_encoding is individual.input_encoding
    assert not _storages(clone) & _storages(individual)
    del clone.fitness.values
    assert individual.fitness.valid


def test_sharing_sets_copy_has_its_own_fitness(generator):
    individual = random_population(small_dense(), 1, d=4, generator=generator)[0]
    individual.fitness.values = (0.25,)
    copied = individual.sharing_sets()
    assert type(copied) is type(individual) and copied.fitness.values == (0.25,)
    del copied.fitness.values
    assert individual.fitness.valid


@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_pickle_round_trip_keeps_genome_fitness_and_class(encoding, generator):
    individual = random_population(small_conv(), 1, encoding=encoding, d=4, generator=generator)[0]
    individual.fitness.values = (0.75,)
    loaded = pickle.loads(pickle.dumps(individual))
    assert type(loaded) is type(individual) and loaded.fitness.values == (0.75,)
    assert all(torch.equal(x[n], y[n]) for x, y in zip(loaded.layers, individual.layers) for n in x.names)


def test_individual_tensors_are_kept_on_the_cpu(generator):
    genome = EmbeddingGenome.random(small_dense(), 4, generator=generator)
    on_meta = genome.to("meta")
    individual = EmbeddingIndividual(on_meta.architecture, on_meta.input_encoding, genome.layers)
    assert all(t.device.type == "cpu" for layer in individual.layers for _, t in layer.items())


@pytest.mark.parametrize("bad", [0.5, [0.5], (0.5, 0.1)])
def test_fitness_rejects_values_that_are_not_a_tuple_of_the_right_length(bad, generator):
    individual = random_population(small_dense(), 1, d=4, generator=generator)[0]
    with pytest.raises(ValueError, match="tuple|objective"):
        individual.fitness.values = bad
    assert not individual.fitness.valid


def test_subclass_with_another_fitness_is_registered_by_name():
    class LossFitness(Fitness):
        weights = (-1.0,)

    class LossIndividual(DirectIndividual):
        fitness_class = LossFitness

    genome = DirectGenome.random(small_dense())
    individual = individual_from_genome(genome, LossIndividual)
    assert individual.fitness.weights == (-1.0,)
    assert individual_class(class_name(LossIndividual)) is LossIndividual
    with pytest.raises(ValueError, match="unknown individual class"):
        individual_class("nowhere.Nothing")
    with pytest.raises(ValueError, match="direct genome"):
        individual_from_genome(genome, EmbeddingIndividual)


def test_individual_from_genome_copies(generator):
    genome = EmbeddingGenome.random(small_dense(), 4, generator=generator)
    individual = individual_from_genome(genome)
    assert type(individual) is EmbeddingIndividual and individual == genome
    assert not _storages(individual) & _storages(genome)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_similar_ignores_hidden_neuron_order_so_the_hall_of_fame_keeps_one_copy(seed):
    generator = torch.Generator().manual_seed(seed)
    individual = random_population(small_dense(), 1, d=4, generator=generator)[0]
    individual.fitness.values = (0.5,)
    permuted = copy.deepcopy(individual)
    permuted.permute_layer(0, torch.randperm(len(permuted.layers[0]), generator=generator))
    other = random_population(small_dense(), 1, input_encoding=individual.input_encoding, generator=generator)[0]
    other.fitness.values = (0.5,)
    assert similar(individual, permuted) and not similar(individual, other)
    hall = tools.HallOfFame(5, similar=similar)
    hall.update([individual, permuted, other])
    assert len(hall) == 2


def test_random_population_shares_one_input_encoding(generator):
    population = random_population(small_dense(), 5, d=4, generator=generator)
    assert len({id(ind.input_encoding) for ind in population}) == 1
    assert len({ind.content_hash for ind in population}) == 5
    with pytest.raises(ValueError, match="encoding"):
        random_population(small_dense(), 2, encoding="sparse")
    with pytest.raises(ValueError, match="population size"):
        random_population(small_dense(), 0)


def test_population_from_parents_cycles_parents_and_adds_noise(generator):
    parents = [EmbeddingGenome.random(small_dense(), 4, generator=generator)]
    parents.append(EmbeddingGenome.random(small_dense(), input_encoding=parents[0].input_encoding, generator=generator))
    population = population_from_parents(parents, 6, sigma=0.1, rng=random.Random(0))
    assert population[0] == parents[0] and population[1] == parents[1]
    for i, individual in enumerate(population[2:], start=2):
        parent = parents[i % 2]
        assert individual != parent
        difference = individual.layers[0]["embeddings"] - parent.layers[0]["embeddings"]
        assert 0.05 < float(difference.std()) < 0.2
        assert torch.equal(individual.input_encoding.inputs, parent.input_encoding.inputs)
    again = population_from_parents(parents, 6, sigma=0.1, rng=random.Random(0))
    assert all(torch.equal(a.layers[0]["embeddings"], b.layers[0]["embeddings"]) for a, b in zip(population, again))
    noisy_parents = population_from_parents(parents, 2, sigma=0.1, keep_parents=False, rng=random.Random(0))
    assert noisy_parents[0] != parents[0]
    with pytest.raises(ValueError, match="at least one parent"):
        population_from_parents([], 3)


def test_population_from_files_reads_a_folder_in_name_order_sharing_one_encoding(tmp_path, generator):
    first = EmbeddingGenome.random(small_dense(), 4, generator=generator)
    genomes = [first] + [
        EmbeddingGenome.random(small_dense(), input_encoding=first.input_encoding, generator=generator)
        for _ in range(2)
    ]
    for i, genome in enumerate(genomes):
        save_genome(genome, tmp_path / f"g{i}.safetensors")
    population = population_from_files(tmp_path)
    assert population == genomes
    assert len({id(ind.input_encoding) for ind in population}) == 1

    save_genome(EmbeddingGenome.random(small_dense(), 4, generator=generator), tmp_path / "g9.safetensors")
    with pytest.raises(ValueError, match="g9.safetensors.*input encoding"):
        population_from_files(tmp_path)
    save_genome(DirectGenome.random(small_dense()), tmp_path / "direct.safetensors")
    with pytest.raises(ValueError, match="direct.safetensors holds a genome of encoding 'direct'"):
        population_from_files([tmp_path / "g0.safetensors", tmp_path / "direct.safetensors"])
    with pytest.raises(ValueError, match="not a folder"):
        population_from_files(tmp_path / "g0.safetensors")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no genome files"):
        population_from_files(tmp_path / "empty")


@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_trained_parents_differ_and_embedding_parents_share_one_input_encoding(encoding):
    data = synthetic_data()
    config = TrainConfig(steps=3, batch_size=16, validate_every=3)
    parents = train_parents(small_dense(), 3, data, None, encoding=encoding, d=4, config=config)
    assert len({parent.content_hash for parent in parents}) == 3
    if encoding == "embedding":
        assert parents[1].input_encoding is parents[2].input_encoding
        assert parents[1].input_encoding == parents[0].input_encoding
    again = train_parents(small_dense(), 3, data, None, encoding=encoding, d=4, config=config)
    assert again == parents
