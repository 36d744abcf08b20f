"""The recommended recipe, memetic (Lamarckian) evolution from one ancestor, and its comparison arms.

:func:`run_memetic` builds everything from one :class:`MemeticSettings`: the common ancestor
(which learns the input encoding the population then shares), the learning step
(:class:`~populations.learning.LamarckianTraining`), the toolbox (batched evaluation on the
holdout, tournament selection, the named crossover of :mod:`operators.registry`, Gaussian
mutation) and the :class:`~populations.strategies.Memetic` strategy, run on the engine
(:func:`populations.engine.evolve`). Every arm spends the same evaluations and gradient steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from deap import base, tools

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.evaluation import check_genome_fits_data
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.training import TrainConfig, train_genome
from operators.registry import mutation, operator_spec
from populations.checkpoint import GAState, load_checkpoint
from populations.engine import CurvePoint, EvolutionResult, evolve, resume
from populations.individuals import individual_from_genome, similar
from populations.learning import LamarckianTraining
from populations.rng import seed_everything
from populations.strategies import Memetic
from populations.toolbox import register_batched_evaluation
from populations.variation import check_variation

__all__ = ["MemeticSettings", "ancestor", "fresh_members", "genome_rms", "run_memetic"]

Device = torch.device | str | None


@dataclass(frozen=True)
class MemeticSettings:
    """One memetic run; the defaults are the recommended recipe (MNIST-sized inputs).

    Attributes:
        architecture: the network spec (e.g. ``"784-100-10"``).
        d: embedding width.
        population: members (even, for crossover's pairs).
        generations: generations after generation 0.
        steps: ``K``, Adam steps per child per generation.
        batch_size: samples per step.
        lr: Adam's learning rate of the learning step in generation 0.
        lr_final: the learning rate in the last generation (cosine decay from ``lr`` across the
            generations, constant within one learning step).
        ancestor_steps: steps of the one ancestor every member descends from (Adam one-cycle,
            peak ``ancestor_lr``; it learns the input encoding that the population then shares).
        ancestor_lr: the ancestor's peak learning rate.
        order: where the learning step sits in a generation (:data:`populations.strategies.ORDERS`).
        tournament: tournament size of selection.
        alpha: interpolation weight of the other parent (interpolation crossover).
        coefficient: fraction of neurons swapped (transplant crossover).
        mutation_sigma: Gaussian mutation, as a fraction of the ancestor's root-mean-square gene.
        mutation_indpb: probability of mutating each gene.
        probe_size: training images used by REPAIR and by the diversity measure.
    """

    architecture: str = "784-100-10"
    d: int = 64
    population: int = 8
    generations: int = 8
    steps: int = 25
    batch_size: int = 64
    lr: float = 0.005
    lr_final: float = 0.001
    ancestor_steps: int = 200
    ancestor_lr: float = 0.005
    order: str = "learn-then-vary"
    tournament: int = 2
    alpha: float = 0.5
    coefficient: float = 0.5
    mutation_sigma: float = 0.05
    mutation_indpb: float = 0.2
    probe_size: int = 500

    @property
    def gradient_steps(self) -> int:
        """The budget of gradient steps every arm spends (ancestor included)."""
        return self.ancestor_steps + self.population * (self.generations + 1) * self.steps

    def lr_at(self, generation: int) -> float:
        """The learning step's learning rate in ``generation`` (cosine from ``lr`` to ``lr_final``)."""
        fraction = generation / self.generations if self.generations else 1.0
        return self.lr_final + 0.5 * (self.lr - self.lr_final) * (1.0 + math.cos(math.pi * fraction))

    @property
    def evaluations(self) -> int:
        """The fitness evaluations every evolutionary arm spends."""
        return self.population * (self.generations + 1)


def ancestor(
    train: Dataset,
    settings: MemeticSettings,
    *,
    encoding: str = "embedding",
    seed: int = 0,
    device: Device = None,
) -> tuple[Genome, int]:
    """The common ancestor: a random genome trained ``settings.ancestor_steps`` steps (Adam one-cycle,
    the input encoding learned) on ``device``. Returns ``(genome, gradient steps taken)``.

    Raises:
        ValueError: an unknown encoding.
    """
    if encoding not in ("embedding", "direct"):
        raise ValueError(f"unknown encoding {encoding!r}; choose embedding or direct")
    arch = Architecture.parse(settings.architecture, input_shape=train.input_shape)
    generator = torch.Generator().manual_seed(seed)
    if encoding == "direct":
        start: Genome = DirectGenome.random(arch, generator=generator)
    else:
        start = EmbeddingGenome.random(arch, settings.d, init="fan-in", generator=generator)
    config = TrainConfig(steps=settings.ancestor_steps, batch_size=settings.batch_size, max_lr=settings.ancestor_lr,
                         validate_every=settings.ancestor_steps, seed=seed)
    result = train_genome(start, train, None, config=config, device=device, progress=False)
    return result.genome, result.steps


def genome_rms(genome: Genome) -> float:
    """Root-mean-square of every gene of ``genome``'s neuron records (the input encoding excluded)."""
    values = torch.cat([t.reshape(-1) for layer in genome.layers for _, t in layer.items()])
    return float(values.square().mean().sqrt())


def fresh_members(root: Genome, settings: MemeticSettings, seed: int) -> tuple[list[Genome], int]:
    """An initial population that shares only ``root``'s input encoding: ``settings.population``
    random genomes (fan-in initialisation, seeds ``seed * 1000 + i``) on it, no common ancestry.
    Returns ``(members, 0)`` (no gradient steps spent).

    Raises:
        ValueError: ``root`` is not an embedding genome.
    """
    if not isinstance(root, EmbeddingGenome):
        raise ValueError("fresh members share an input encoding, so they need an embedding root genome")
    members = [
        EmbeddingGenome.random(root.architecture, input_encoding=root.input_encoding, init="fan-in",
                               generator=torch.Generator().manual_seed(seed * 1000 + i))
        for i in range(settings.population)
    ]
    return members, 0


def _check_crossover(crossover: str, encoding: str) -> None:
    spec = operator_spec("crossover", crossover)
    spec.check_encoding(encoding)
    if encoding == "direct" and not spec.needs_probe:
        raise ValueError(f"crossover {crossover!r} does not fit direct genomes in this recipe (it crosses direct "
                         "genomes with REPAIR: interpolate-aligned-repair)")


def run_memetic(
    train: Dataset,
    holdout: Dataset,
    settings: MemeticSettings = MemeticSettings(),
    *,
    variation: str = "crossover",
    crossover: str = "interpolate-aligned",
    encoding: str = "embedding",
    seed: int = 0,
    initial: Callable[[Genome, MemeticSettings, int], tuple[list[Genome], int]] | None = None,
    checkpoint: str | Path | None = None,
    on_generation: Callable[[GAState], None] | None = None,
    device: Device = None,
    memory_budget: int | None = None,
) -> EvolutionResult:
    """One arm of memetic evolution from a common ancestor; the defaults are the recommended recipe
    (embedding genomes, aligned interpolation crossover at ``alpha=0.5``).

    Every member descends from one ancestor (:func:`ancestor`), unless ``initial`` builds the
    initial population from it. Fitness is accuracy on ``holdout``; every child learns
    ``settings.steps`` steps on ``train`` per generation.

    Args:
        train: training data (the learning steps); holdout: fitness data.
        settings: sizes, budget and operator settings.
        variation: one of :data:`populations.variation.VARIATIONS`, or ``"adam"``: plain Adam
            training of the ancestor alone for the same total gradient steps (one-cycle schedule,
            validated on ``holdout`` every ``settings.steps`` steps, the best step kept).
        crossover: a crossover of :data:`operators.registry.CROSSOVERS` (crossover only; direct
            genomes take ``interpolate-aligned-repair``).
        encoding: ``"embedding"`` or ``"direct"``.
        seed: seeds everything (the ancestor, the generators).
        initial: ``(ancestor, settings, seed) -> (genomes, gradient steps spent)``; default: the
            ancestor copied ``settings.population`` times.
        checkpoint: checkpoint file, written after every generation; when it exists, the run
            continues from it (bit-identical to an uninterrupted run).
        on_generation: called after every generation.
        device: where training and evaluation run (``None``: the CPU).
        memory_budget: bytes the batched evaluation may use on ``device`` (``None``: its default).

    Returns:
        An :class:`~populations.engine.EvolutionResult` with counted evaluations and gradient steps.

    Raises:
        ValueError: contradictory settings (before any work): an unknown variation or crossover,
            a crossover that does not fit the encoding, a population too small or odd for
            crossover, data that do not fit the architecture, or a checkpoint written by a run
            with other settings.
    """
    if variation != "adam":
        check_variation(variation, settings.population)
    if variation == "crossover":
        _check_crossover(crossover, encoding)
    arch = Architecture.parse(settings.architecture, input_shape=train.input_shape)
    for data in (train, holdout):
        check_genome_fits_data(arch, data)
    seed_everything(seed)
    root, steps = ancestor(train, settings, encoding=encoding, seed=seed, device=device)
    if variation == "adam":
        return _plain_adam(root, steps, train, holdout, settings, seed, device)
    learner = LamarckianTraining(train, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
                                 device=device)
    probe = train.images[: settings.probe_size]
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout, device=device, memory_budget=memory_budget)
    toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
    toolbox.register("learn", learner)
    if variation == "crossover":
        toolbox.register("mate", operator_spec("crossover", crossover).bind_from(
            {"alpha": settings.alpha, "coefficient": settings.coefficient, "layer": 0, "probe": probe}))
    toolbox.register("mutate", mutation("gaussian", sigma=settings.mutation_sigma * genome_rms(root),
                                        indpb=settings.mutation_indpb))
    strategy = Memetic(learner, variation=variation, order=settings.order, probe=probe[:200],
                       lr_schedule=settings.lr_at)
    extra = {"settings": dataclasses.asdict(settings), "variation": variation, "crossover": crossover,
             "encoding": encoding, "seed": seed}
    run = {"ngen": settings.generations, "on_generation": on_generation}
    if checkpoint is not None and Path(checkpoint).exists():
        stored = load_checkpoint(checkpoint).extra
        if stored != extra:
            raise ValueError(f"{checkpoint} was written by another run ({stored}); this run is {extra}")
        return resume(checkpoint, strategy, toolbox, **run)
    genomes, more = initial(root, settings, seed) if initial else ([root] * settings.population, 0)
    learner.gradient_steps = steps + more
    population = [individual_from_genome(genome) for genome in genomes]
    return evolve(strategy, population, toolbox, halloffame=tools.HallOfFame(1, similar=similar),
                  checkpoint=checkpoint, extra=extra, **run)


def _plain_adam(root: Genome, steps: int, train: Dataset, holdout: Dataset, settings: MemeticSettings, seed: int,
                device: Device) -> EvolutionResult:
    total = settings.gradient_steps - steps
    config = TrainConfig(steps=total, batch_size=settings.batch_size, max_lr=settings.ancestor_lr,
                         validate_every=settings.steps, seed=seed + 1)
    result = train_genome(root, train, holdout, config=config, device=device, progress=False)
    curve, best = [], float("-inf")
    for i, entry in enumerate(result.history, start=2):  # evaluation 1 is the starting point
        best = max(best, entry["holdout_accuracy"])
        curve.append(CurvePoint(i - 2, i, best, entry["holdout_accuracy"],
                                {"intermediate_avg": float("nan"), "diversity": float("nan")}))
    return EvolutionResult(result.genome, None, len(result.history) + 1, steps + result.steps, curve)
