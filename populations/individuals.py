"""DEAP individuals: genomes that carry a fitness.

DEAP usually makes individual classes at run time with ``creator.create("Individual", base,
fitness=FitnessMax)``. Classes made that way live in ``deap.creator`` only in the process that
made them, so pickling them to worker processes or checkpoints is fragile. The classes here are
ordinary module-level classes that do what ``creator`` does, explicitly: each instance gets a fresh
``fitness = type(self).fitness_class()`` in ``__init__``.

An individual *is* a genome (:class:`EmbeddingIndividual` subclasses
:class:`~neuroevo.genomes.EmbeddingGenome`), so operators and the evaluator take it as is. Its
tensors stay on the CPU (evaluation moves copies to the device); ``copy.deepcopy`` (DEAP's
``toolbox.clone``) copies each packed field tensor once and shares the immutable input encoding.

To minimise a loss, or to optimise several objectives, subclass with another fitness::

    class LossFitness(Fitness):
        weights = (-1.0,)

    class LossIndividual(EmbeddingIndividual):
        fitness_class = LossFitness

Every individual class (subclasses included) is registered by name when it is defined, so a
checkpoint can name it and be loaded without importing anything (:func:`individual_class`).
"""

from __future__ import annotations

from typing import ClassVar, Sequence

from deap import base

from neuroevo.architecture import Architecture
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet

__all__ = [
    "DirectIndividual",
    "EmbeddingIndividual",
    "Fitness",
    "FitnessMax",
    "Individual",
    "individual_class",
    "individual_from_genome",
    "similar",
]


class Fitness(base.Fitness):
    """DEAP's :class:`deap.base.Fitness` that rejects values of the wrong form with a clear error.

    DEAP's own class fails deep inside with ``TypeError: 'float' object is not iterable`` when an
    evaluate function returns ``accuracy`` instead of ``(accuracy,)``; this one names the problem.
    Subclasses set ``weights`` (one per objective; positive maximises).
    """

    def setValues(self, values: tuple[float, ...]) -> None:  # noqa: N802 (DEAP's name)
        if not isinstance(values, tuple):
            raise ValueError(
                f"fitness values must be a tuple of {len(self.weights)} number(s), got "
                f"{type(values).__name__} {values!r}: an evaluate function must return a tuple, "
                "e.g. `return (accuracy,)`"
            )
        if len(values) != len(self.weights):
            raise ValueError(
                f"fitness values {values!r} have {len(values)} objective(s); this fitness has weights "
                f"{self.weights} ({len(self.weights)} objective(s))"
            )
        super().setValues(values)

    values = property(base.Fitness.getValues, setValues, base.Fitness.delValues)


class FitnessMax(Fitness):
    """One objective to maximise (accuracy)."""

    weights = (1.0,)


_REGISTRY: dict[str, type["Individual"]] = {}


def class_name(cls: type) -> str:
    """``module.QualifiedName`` of a class: how checkpoints name individual classes."""
    return f"{cls.__module__}.{cls.__qualname__}"


class Individual:
    """Mixin that gives a genome class DEAP's ``fitness`` attribute.

    Subclasses list it before the genome class; ``fitness_class`` picks the fitness type.
    """

    fitness_class: ClassVar[type[Fitness]] = FitnessMax
    fitness: Fitness

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[class_name(cls)] = cls

    def _init_fitness(self) -> None:
        self.fitness = type(self).fitness_class()


class EmbeddingIndividual(Individual, EmbeddingGenome):
    """An :class:`~neuroevo.genomes.EmbeddingGenome` with a DEAP fitness (maximised by default).

    Same arguments as the genome; layer tensors are moved to the CPU.
    """

    def __init__(
        self, architecture: Architecture, input_encoding: InputEncoding, layers: Sequence[NeuronSet]
    ) -> None:
        super().__init__(architecture, input_encoding, [layer.to("cpu") for layer in layers])
        self._init_fitness()


class DirectIndividual(Individual, DirectGenome):
    """A :class:`~neuroevo.genomes.DirectGenome` with a DEAP fitness (maximised by default).

    Same arguments as the genome; layer tensors are moved to the CPU.
    """

    def __init__(self, architecture: Architecture, layers: Sequence[NeuronSet]) -> None:
        super().__init__(architecture, [layer.to("cpu") for layer in layers])
        self._init_fitness()


def individual_class(name: str) -> type[Individual]:
    """The individual class registered under ``name`` (see :func:`class_name`).

    Raises:
        ValueError: no such class has been defined in this process.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown individual class {name!r}: import the module that defines it before loading "
            f"(known: {', '.join(sorted(_REGISTRY))})"
        ) from None


def individual_from_genome(
    genome: Genome, individual_type: type[Individual] | None = None
) -> EmbeddingIndividual | DirectIndividual:
    """A new individual holding a copy of ``genome``'s layers, with an empty (invalid) fitness.

    Args:
        genome: any embedding or direct genome (not modified; its tensors are copied to the CPU).
        individual_type: the class to build; by default :class:`EmbeddingIndividual` or
            :class:`DirectIndividual`, matching the genome's encoding.

    Raises:
        ValueError: ``individual_type`` is of another encoding than ``genome``.
    """
    if individual_type is None:
        individual_type = EmbeddingIndividual if isinstance(genome, EmbeddingGenome) else DirectIndividual
    if getattr(individual_type, "encoding", None) != genome.encoding:
        raise ValueError(
            f"cannot make a {individual_type.__name__} from an {genome.encoding} genome"
        )
    layers = [layer.to("cpu").clone() for layer in genome.layers]
    if isinstance(genome, EmbeddingGenome):
        return individual_type(genome.architecture, genome.input_encoding, layers)
    return individual_type(genome.architecture, layers)


def similar(a: Genome, b: Genome) -> bool:
    """Whether two genomes are the same network up to the order of hidden neurons.

    For ``deap.tools.HallOfFame(maxsize, similar=similar)``: a copy of an individual already in
    the hall of fame is not added again. Fitness is ignored.
    """
    return a == b
