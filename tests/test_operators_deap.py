"""The operators inside DEAP's own algorithm, unchanged: ``deap.algorithms.eaSimple``."""

from __future__ import annotations

import random

import pytest
import torch
from deap import algorithms, base, creator, tools

import operators
from neuroevo import Architecture, InputEncoding, decode
from tests.test_operators_support import identical  # also registers the DEAP individual types

ARCH = Architecture.parse("784-16-10")
D = 8


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(64, 1, 28, 28, generator=generator), torch.randint(0, 10, (64,), generator=generator)


def _toolbox(encoding: str, mate, mutate) -> base.Toolbox:
    images, labels = _data()
    basis = InputEncoding.random(ARCH.n_input_neurons, D, generator=torch.Generator().manual_seed(1))

    def individual():
        generator = torch.Generator().manual_seed(random.getrandbits(63))
        if encoding == "embedding":
            return creator.EmbeddingIndividual.random(ARCH, input_encoding=basis, generator=generator)
        return creator.DirectIndividual.random(ARCH, generator=generator)

    @torch.no_grad()
    def evaluate(genome):
        return (float((decode(genome)(images).argmax(dim=1) == labels).float().mean()),)

    toolbox = base.Toolbox()
    toolbox.register("population", tools.initRepeat, list, individual)
    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", *mate[:1], **mate[1])
    toolbox.register("mutate", *mutate[:1], **mutate[1])
    toolbox.register("select", tools.selTournament, tournsize=3)
    return toolbox


def _mutate_structure(individual):
    """Gaussian noise, then grow or shrink a layer (a composite a user might register)."""
    operators.mut_gaussian(individual, sigma=0.05, indpb=0.2)
    mutation = random.choice([operators.mut_add_neuron, operators.mut_remove_neuron])
    return mutation(individual)


SETUPS = {
    "embedding-transplant": (
        "embedding",
        (operators.cx_transplant, {"layer": 0, "coefficient": 0.5}),
        (_mutate_structure, {}),
    ),
    "embedding-aligned-interpolation": (
        "embedding",
        (operators.cx_interpolate_aligned, {"alpha": 0.3, "layer": 0}),
        (operators.mut_gaussian, {"sigma": 0.05, "indpb": 0.2}),
    ),
    "direct-aligned-transplant": (
        "direct",
        (operators.cx_transplant_aligned, {"layer": 0, "coefficient": 0.5, "move_outgoing": True}),
        (operators.mut_gaussian, {"sigma": 0.05, "indpb": 0.2}),
    ),
}


def _run(setup: str, seed: int):
    encoding, mate, mutate = SETUPS[setup]
    random.seed(seed)
    toolbox = _toolbox(encoding, mate, mutate)
    population = toolbox.population(n=8)
    initial = [ind.clone() for ind in population]
    final, logbook = algorithms.eaSimple(population, toolbox, cxpb=0.7, mutpb=0.5, ngen=3, verbose=False)
    return initial, final, logbook


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_easimple_runs_and_changes_the_population(setup):
    initial, final, logbook = _run(setup, 0)
    assert len(final) == 8 and len(logbook) == 4
    for individual in final:
        individual.validate()
        assert individual.fitness.valid
    initial_hashes = {ind.content_hash for ind in initial}
    assert any(ind.content_hash not in initial_hashes for ind in final)
    if setup == "embedding-transplant":  # structural mutation let the widths evolve
        assert len({ind.widths for ind in final}) > 1


def test_a_seeded_easimple_run_is_reproducible():
    _, first, _ = _run("embedding-transplant", 5)
    _, second, _ = _run("embedding-transplant", 5)
    assert all(identical(a, b) for a, b in zip(first, second))
    assert [a.fitness.values for a in first] == [b.fitness.values for b in second]
