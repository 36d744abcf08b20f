"""Shared helpers of the operator tests: small genome pairs of every kind, DEAP individual types,
and exact comparisons. (No tests here.)"""

from __future__ import annotations

import copy

import torch
from deap import base, creator
from torch import Tensor

from neuroevo import Architecture, DirectGenome, EmbeddingGenome, Genome, InputEncoding, decode

D = 8  # embedding width of every test genome


def _register_deap_types() -> None:
    if not hasattr(creator, "FitnessMax"):
        creator.create("FitnessMax", base.Fitness, weights=(1.0,))
    if not hasattr(creator, "EmbeddingIndividual"):
        creator.create("EmbeddingIndividual", EmbeddingGenome, fitness=creator.FitnessMax)
    if not hasattr(creator, "DirectIndividual"):
        creator.create("DirectIndividual", DirectGenome, fitness=creator.FitnessMax)


_register_deap_types()


def architecture(name: str) -> Architecture:
    """The small architectures the tests run on."""
    if name == "dense":
        return Architecture.parse("16-8-8-3")
    junction, conv_style = name.split("-")[1:]
    return Architecture.parse("1x8x8-4c-6c-5-3", junction=junction, conv_style=conv_style)


#: (encoding, architecture name): every kind of layer record and junction.
CASES = [
    ("embedding", "dense"),
    ("embedding", "conv-position-separable"),
    ("embedding", "conv-free-separable"),
    ("embedding", "conv-gap-separable"),
    ("direct", "dense"),
    ("direct", "conv-position-separable"),
    ("direct", "conv-position-standard"),
    ("direct", "conv-gap-standard"),
]
EMBEDDING_CASES = [c for c in CASES if c[0] == "embedding"]
DIRECT_CASES = [c for c in CASES if c[0] == "direct"]


def shared_encoding(arch: Architecture, generator: torch.Generator) -> InputEncoding:
    positions = arch.n_positions if arch.uses_position_embeddings else 0
    return InputEncoding.random(arch.n_input_neurons, D, positions, generator=generator)


def make_genome(
    encoding: str, arch: Architecture, generator: torch.Generator, input_encoding: InputEncoding | None = None
) -> Genome:
    """A random DEAP individual (fitness attribute included) of the given encoding."""
    if encoding == "embedding":
        return creator.EmbeddingIndividual.random(arch, D, input_encoding=input_encoding, generator=generator)
    return creator.DirectIndividual.random(arch, generator=generator)


def make_pair(case: tuple[str, str], seed: int) -> tuple[Genome, Genome]:
    """Two independent random individuals of one case (embedding ones on one shared encoding)."""
    encoding, name = case
    arch = architecture(name)
    generator = torch.Generator().manual_seed(seed)
    basis = shared_encoding(arch, generator) if encoding == "embedding" else None
    return make_genome(encoding, arch, generator, basis), make_genome(encoding, arch, generator, basis)


def permuted_copy(genome: Genome, generator: torch.Generator) -> Genome:
    """A copy of ``genome`` with every hidden layer reordered by a random non-identity permutation
    (same function)."""
    result = copy.deepcopy(genome)
    for index in genome.architecture.hidden_layers:
        n = len(genome.layers[index])
        perm = torch.randperm(n, generator=generator)
        if torch.equal(perm, torch.arange(n)):
            perm = torch.roll(perm, 1)
        result.permute_layer(index, perm)
    return result


def inputs(arch: Architecture, n: int, generator: torch.Generator) -> Tensor:
    return torch.randn(n, *arch.input_shape, generator=generator)


@torch.no_grad()
def outputs(genome: Genome, x: Tensor) -> Tensor:
    return decode(genome)(x)


def identical(a: Genome, b: Genome) -> bool:
    """Exact equality *including* neuron order (stricter than ``==``)."""
    if a.widths != b.widths or len(a.layers) != len(b.layers):
        return False
    return all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names) for x, y in zip(a.layers, b.layers)
    )


def storages(genome: Genome) -> set[int]:
    """Addresses of the storages behind every layer tensor of ``genome``."""
    return {t.untyped_storage().data_ptr() for layer in genome.layers for _, t in layer.items()}


def rows(matrix: Tensor) -> list[tuple[float, ...]]:
    """Rows of a matrix as sorted tuples: a multiset to compare."""
    return sorted(tuple(r) for r in matrix.tolist())
