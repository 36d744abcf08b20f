"""Initial populations: from trained parents plus noise, from random genomes, from genome files."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Sequence

import dataclasses

import torch

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.encoding import InputEncoding
from neuroevo.files import load_genome
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.training import TrainConfig, train_genome
from neuroevo.validation import check_int
from operators import mut_gaussian
from populations.individuals import DirectIndividual, EmbeddingIndividual, Individual, individual_from_genome

__all__ = ["population_from_files", "population_from_parents", "random_population", "train_parents"]

ENCODINGS = ("embedding", "direct")


def _check_size(n: int) -> None:
    check_int("population size", n)


def train_parents(
    architecture: Architecture,
    n: int,
    train: Dataset,
    holdout: Dataset | None,
    *,
    encoding: str = "embedding",
    d: int = 64,
    init: str = "normal",
    config: TrainConfig = TrainConfig(),
    seed: int = 0,
    device: torch.device | str | None = None,
) -> list[Genome]:
    """``n`` parents trained by gradient descent from different random initialisations.

    Parent ``i`` starts from a random genome drawn with seed ``seed + i`` and is trained with
    ``config`` (its batch-order seed also ``config.seed + seed + i``). Embedding parents share one
    input encoding, as crossover needs: the first learns it (``train_input_encoding=True``), the
    others are trained on it, frozen.

    Args:
        architecture: the layer stack.
        n: number of parents.
        train, holdout: training data and the holdout for model selection (``None``: keep the
            last step); see :func:`neuroevo.training.train_genome`.
        encoding: ``"embedding"`` or ``"direct"``.
        d: embedding width.
        init: embedding parents' initialisation (``"normal"`` or ``"fan-in"``, see
            ``EmbeddingGenome.random``).
        config: the training recipe (``train_input_encoding`` is set as described above).
        seed: first seed.
        device: where training runs.

    Returns:
        ``n`` genomes (CPU).
    """
    _check_size(n)
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    parents: list[Genome] = []
    for i in range(n):
        generator = torch.Generator().manual_seed(seed + i)
        run = dataclasses.replace(config, seed=config.seed + seed + i, train_input_encoding=not parents)
        if encoding == "direct":
            start: Genome = DirectGenome.random(architecture, generator=generator)
        else:
            shared = parents[0].input_encoding if parents else None
            start = EmbeddingGenome.random(architecture, d, input_encoding=shared, init=init, generator=generator)
        parents.append(train_genome(start, train, holdout, config=run, device=device, progress=False).genome)
    return parents


def population_from_parents(
    parents: Sequence[Genome],
    n: int,
    *,
    sigma: float = 0.01,
    keep_parents: bool = True,
    rng: random.Random | None = None,
) -> list[Individual]:
    """``n`` individuals made from ``parents`` in turn (parent ``i % len(parents)``), each a copy
    with Gaussian noise ``N(0, sigma^2)`` added to every gene of its neuron records
    (:func:`operators.mut_gaussian` with ``indpb=1``; the input encoding is never changed).

    Args:
        parents: genomes (e.g. briefly trained networks); not modified.
        n: population size.
        sigma: standard deviation of the noise.
        keep_parents: the first ``len(parents)`` individuals are exact copies, without noise.
        rng: source of randomness; Python's :mod:`random` when ``None``.

    Returns:
        ``n`` new individuals with invalid fitness.

    Raises:
        ValueError: no parents, ``n < 1`` or ``sigma < 0``.
    """
    if not parents:
        raise ValueError("population_from_parents needs at least one parent genome")
    _check_size(n)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    population = []
    for i in range(n):
        individual = individual_from_genome(parents[i % len(parents)])
        if not (keep_parents and i < len(parents)):
            mut_gaussian(individual, sigma=sigma, indpb=1.0, rng=rng)
        population.append(individual)
    return population


def random_population(
    architecture: Architecture,
    n: int,
    *,
    encoding: str = "embedding",
    d: int = 64,
    input_encoding: InputEncoding | None = None,
    init: str = "normal",
    generator: torch.Generator | None = None,
) -> list[Individual]:
    """``n`` randomly initialised individuals (see ``EmbeddingGenome.random`` / ``DirectGenome.random``).

    Embedding individuals all share one input encoding: ``input_encoding``, or a random one made
    once for the whole population (neurons of genomes on different encodings cannot be exchanged).

    Args:
        architecture: the layer stack.
        n: population size.
        encoding: ``"embedding"`` or ``"direct"``.
        d: embedding width (ignored when ``input_encoding`` is given).
        input_encoding: the shared basis of embedding individuals.
        init: embedding individuals' initialisation (``"normal"`` or ``"fan-in"``, see
            ``EmbeddingGenome.random``).
        generator: source of randomness; torch's global generator when ``None``.

    Raises:
        ValueError: ``n < 1``, an unknown encoding or init, or an input encoding that does not fit.
    """
    _check_size(n)
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if encoding == "direct":
        return [DirectIndividual.random(architecture, generator=generator) for _ in range(n)]
    first = EmbeddingIndividual.random(architecture, d, input_encoding=input_encoding, init=init, generator=generator)
    return [first] + [
        EmbeddingIndividual.random(architecture, input_encoding=first.input_encoding, init=init, generator=generator)
        for _ in range(n - 1)
    ]


def population_from_files(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    pattern: str = "*.safetensors",
    input_encoding: InputEncoding | None = None,
) -> list[Individual]:
    """Individuals read from genome files (:func:`neuroevo.files.save_genome`).

    Args:
        paths: a folder (every file matching ``pattern``, in name order) or a list of files.
        pattern: file name pattern inside a folder.
        input_encoding: the shared basis embedding genomes must be built on; by default the
            first embedding genome's. Every embedding individual references this one object.

    Raises:
        ValueError: no files, or genomes of mixed encodings or input encodings (the message names
            the file).
        neuroevo.files.GenomeFileError: an unreadable file.
    """
    if isinstance(paths, (str, os.PathLike)):
        folder = Path(paths)
        if not folder.is_dir():
            raise ValueError(f"{folder}: not a folder of genome files")
        files = sorted(folder.glob(pattern))
        if not files:
            raise ValueError(f"{folder}: no genome files matching {pattern!r}")
    else:
        files = [Path(p) for p in paths]
        if not files:
            raise ValueError("no genome files given")
    population = []
    for path in files:
        genome = load_genome(path, input_encoding=input_encoding)
        if population and genome.encoding != population[0].encoding:
            raise ValueError(
                f"{path} holds a genome of encoding {genome.encoding!r}, {files[0]} one of "
                f"{population[0].encoding!r}: a population has one encoding"
            )
        if isinstance(genome, EmbeddingGenome):
            input_encoding = genome.input_encoding
        population.append(individual_from_genome(genome))
    return population
