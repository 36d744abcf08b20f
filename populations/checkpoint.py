"""Checkpoints of a GA run: one safetensors file that cannot execute code on load.

What a checkpoint holds: the population (genomes and fitness values), the generation, the hall of
fame, the logbook, the state of Python's, NumPy's and torch's global random number generators, and
any JSON-ready extra data (e.g. the run's settings). Tensors (neuron records, each distinct input
encoding once, torch's RNG state) are safetensors tensors; everything else is one JSON document in
the file's metadata. Genome tensors are named as in genome files (:func:`neuroevo.files.genome_tensors`),
under ``population.<i>.`` or ``halloffame.<i>.``.

Writes are atomic (:func:`neuroevo.files.atomic_write`: a temporary file, then a rename), so a run
killed while writing leaves the previous checkpoint intact, and the next write removes the
temporary file the killed one left. The file carries a checksum of its metadata and tensors
(:func:`neuroevo.files.checksum`): a checkpoint changed after it was written is refused. Version 1
checkpoints (no checksum) still load, unverified; any other version raises :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from deap import tools
from torch import Tensor

from neuroevo.encoding import InputEncoding
from neuroevo.files import (
    GenomeFileError,
    genome_from_tensors,
    genome_tensors,
    read_tensor_file,
    verify_checksum,
    write_tensor_file,
)
from neuroevo.genomes import EmbeddingGenome, Genome
from populations.individuals import Individual, class_name, individual_class, individual_from_genome, similar
from populations.logbook import logbook_from_dict, logbook_to_dict
from populations.rng import RngState, capture_rng_state

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "Checkpoint", "CheckpointError", "GAState",
           "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "neuroevo-ga-checkpoint"
CHECKPOINT_VERSION = "2"


class CheckpointError(GenomeFileError):
    """A checkpoint that is missing, corrupt, foreign, of another format version or inconsistent."""


@dataclass
class GAState:
    """Where a generational GA run stands.

    Attributes:
        population: the individuals of the last completed generation.
        generation: the last completed generation (0: the initial population has been evaluated).
        logbook: one entry per completed generation.
        halloffame: the best individuals seen so far, or ``None``.
    """

    population: list[Individual]
    generation: int
    logbook: tools.Logbook = field(default_factory=tools.Logbook)
    halloffame: tools.HallOfFame | None = None


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        state: the run's state.
        rng_state: the global generators' state when the checkpoint was written (restore it with
            :func:`populations.rng.restore_rng_state` to continue the run exactly).
        extra: the JSON-ready data given to :func:`save_checkpoint`.
    """

    state: GAState
    rng_state: RngState
    extra: dict[str, Any]


class _EncodingTable:
    """Distinct input encodings, each stored once as ``encodings.<k>.``."""

    def __init__(self) -> None:
        self.indices: dict[str, int] = {}
        self.tensors: dict[str, Tensor] = {}

    def index(self, encoding: InputEncoding) -> int:
        if encoding.identity not in self.indices:
            k = self.indices[encoding.identity] = len(self.indices)
            self.tensors[f"encodings.{k}.inputs"] = encoding.inputs
            if encoding.positions is not None:
                self.tensors[f"encodings.{k}.positions"] = encoding.positions
        return self.indices[encoding.identity]


def _individual_records(
    prefix: str, individuals: Sequence[Individual], encodings: _EncodingTable, tensors: dict[str, Tensor]
) -> list[dict[str, Any]]:
    """JSON records of ``individuals``; their tensors go into ``tensors`` under ``prefix.<i>.``."""
    records = []
    for i, individual in enumerate(individuals):
        genome_data, metadata = genome_tensors(individual, with_input_encoding=False)
        tensors.update({f"{prefix}.{i}.{name}": t for name, t in genome_data.items()})
        fitness = individual.fitness
        records.append({
            "class": class_name(type(individual)),
            "genome": metadata,
            "encoding": encodings.index(individual.input_encoding) if isinstance(individual, EmbeddingGenome) else None,
            "weights": list(fitness.weights),
            "fitness": list(fitness.values) if fitness.valid else None,
        })
    return records


def save_checkpoint(
    path: str | os.PathLike,
    state: GAState,
    *,
    extra: dict[str, Any] | None = None,
    rng_state: RngState | None = None,
) -> Path:
    """Write ``state`` to ``path`` atomically. Returns the path.

    Args:
        path: the checkpoint file (conventionally ``.safetensors``); replaced if it exists.
        state: population, generation, logbook and hall of fame (not modified).
        extra: JSON-ready data stored alongside (e.g. the run's settings).
        rng_state: the generators' state to store; the current one when ``None``.

    Raises:
        ValueError: ``extra`` is not JSON-serialisable, or an individual is not an
            :class:`~populations.individuals.Individual` (nothing is written then).
    """
    for individual in [*state.population, *(state.halloffame or [])]:
        if not isinstance(individual, Individual):
            raise ValueError(
                f"checkpoints hold populations.individuals.Individual objects, got {type(individual).__name__}"
            )
    rng_state = capture_rng_state() if rng_state is None else rng_state
    encodings = _EncodingTable()
    tensors: dict[str, Tensor] = {}
    document = {
        "generation": state.generation,
        "population": _individual_records("population", state.population, encodings, tensors),
        "halloffame": None if state.halloffame is None else {
            "maxsize": state.halloffame.maxsize,
            "items": _individual_records("halloffame", state.halloffame.items, encodings, tensors),
        },
        "logbook": logbook_to_dict(state.logbook),
        "rng": {"python": rng_state.python, "numpy": rng_state.numpy},
        "extra": extra or {},
    }
    tensors.update(encodings.tensors)
    tensors["rng.torch"] = rng_state.torch
    try:
        text = json.dumps(document)
    except TypeError as error:
        raise ValueError(f"checkpoint data is not JSON-serialisable: {error}") from None
    metadata = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "state": text}
    return write_tensor_file(path, tensors, metadata)


def _individuals(
    prefix: str, records: list[dict[str, Any]], tensors: dict[str, Tensor], encodings: list[InputEncoding], path: Path
) -> list[Individual]:
    result = []
    for i, record in enumerate(records):
        where = f"{path}: {prefix}[{i}]"
        cls = individual_class(record["class"])
        if tuple(record["weights"]) != tuple(cls.fitness_class.weights):
            raise CheckpointError(
                f"{where}: stored fitness weights {tuple(record['weights'])} differ from "
                f"{cls.__name__}'s {cls.fitness_class.weights}"
            )
        own = f"{prefix}.{i}."
        genome_data = {name[len(own):]: t for name, t in tensors.items() if name.startswith(own)}
        encoding = None if record["encoding"] is None else encodings[record["encoding"]]
        genome: Genome = genome_from_tensors(genome_data, record["genome"], input_encoding=encoding, source=where)
        individual = individual_from_genome(genome, cls)
        if record["fitness"] is not None:
            individual.fitness.values = tuple(record["fitness"])
        result.append(individual)
    return result


def _halloffame(
    data: dict[str, Any], items: list[Individual], similar_fn: Callable[[Any, Any], bool]
) -> tools.HallOfFame:
    halloffame = tools.HallOfFame(data["maxsize"], similar=similar_fn)
    # Inserting from the worst to the best rebuilds the same order, ties included.
    for individual in reversed(items):
        halloffame.insert(individual)
    return halloffame


def load_checkpoint(path: str | os.PathLike, *, similar: Callable[[Any, Any], bool] = similar) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Individuals are rebuilt as the classes that were saved (which must be defined, i.e. their
    module imported; nothing is imported or executed from the file). Embedding individuals that
    shared an input encoding share one object again.

    Args:
        path: the checkpoint file.
        similar: the hall of fame's similarity function (functions are not stored).

    Raises:
        CheckpointError: missing, corrupt, foreign or inconsistent file, one changed after it was
            written (checksum mismatch), another format version, or an individual class that is
            not defined in this process.
    """
    path = Path(path)
    try:
        tensors, metadata = read_tensor_file(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
        document = json.loads(metadata["state"])
        n_encodings = len({k.split(".")[1] for k in tensors if k.startswith("encodings.")})
        encodings = [
            InputEncoding(tensors[f"encodings.{k}.inputs"], tensors.get(f"encodings.{k}.positions"))
            for k in range(n_encodings)
        ]
        population = _individuals("population", document["population"], tensors, encodings, path)
        halloffame = None
        if document["halloffame"] is not None:
            items = _individuals("halloffame", document["halloffame"]["items"], tensors, encodings, path)
            halloffame = _halloffame(document["halloffame"], items, similar)
        state = GAState(population, int(document["generation"]), logbook_from_dict(document["logbook"]), halloffame)
        rng_state = RngState(document["rng"]["python"], document["rng"]["numpy"], tensors["rng.torch"])
        verify_checksum(path, tensors, metadata)
        return Checkpoint(state, rng_state, document["extra"])
    except CheckpointError:
        raise
    except GenomeFileError as error:
        raise CheckpointError(str(error)) from None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a valid checkpoint: {error}") from None
