"""Memetic (Lamarckian) evolution: every child learns K gradient steps before it is scored.

Population-based training with crossover. Each generation selects parents, varies them
(crossover, mutation, or nothing), gives every child ``K`` Adam steps on its own stream of
minibatches and writes the trained weights back into its genome (Lamarckian inheritance), then
scores every child on the fitness data. Crossover therefore mixes neurons of members that learned
from different minibatches; the arms without crossover get exactly the same training.

Pieces, usable separately in a DEAP toolbox:

* :class:`LamarckianTraining`: the learning step (``toolbox.register("learn", learner)``); it
  counts every optimizer step it takes.
* :func:`vary`: the variation of one generation for each arm (:data:`VARIATIONS`).
* :func:`evolve_memetic` / :func:`resume_memetic`: the generational loop, with checkpoints that
  resume bit-identically (:mod:`populations.checkpoint`).
* :class:`MemeticSettings` and :func:`run_memetic`: the recommended recipe (defaults) and every
  arm of the comparison built from one set of settings.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from deap import base, tools

import operators
from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.decoding import decode
from neuroevo.evaluation import check_genome_fits_data
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.training import TrainConfig, batch_stream, make_optimizer, train_genome, train_step
from operators.randomness import torch_generator
from populations.checkpoint import GAState, load_checkpoint
from populations.individuals import Individual, individual_from_genome, similar
from populations.loop import after_generation, drive_generations, evaluate_invalid
from populations.rng import restore_rng_state, seed_everything
from populations.toolbox import register_batched_evaluation

__all__ = [
    "CROSSOVERS",
    "ORDERS",
    "VARIATIONS",
    "LamarckianTraining",
    "MemeticSettings",
    "EvolutionRun",
    "ancestor",
    "evolve_memetic",
    "fresh_members",
    "genome_rms",
    "prediction_disagreement",
    "resume_memetic",
    "run_memetic",
    "select_children",
    "apply_variation",
    "vary",
]

#: How a generation's children are made from the selected parents.
#: ``crossover``: consecutive pairs are mated (``toolbox.mate``); ``mutation-only``: every child is
#: mutated (``toolbox.mutate``); ``none``: selected copies, changed only by their own training;
#: ``independent``: no selection at all, every member continues its own lineage.
VARIATIONS = ("crossover", "mutation-only", "none", "independent")

#: Where the learning step sits in a generation (see :func:`evolve_memetic`).
ORDERS = ("learn-then-vary", "vary-then-learn")

#: Crossover operators :func:`run_memetic` can register, by name.
CROSSOVERS = ("interpolate-aligned", "transplant-aligned", "interpolate-aligned-repair")


class LamarckianTraining:
    """The learning step of memetic evolution: ``steps`` Adam steps on the individual's own
    minibatch stream, the trained weights written back into its genome.

    A DEAP toolbox function (``toolbox.register("learn", learner)``): ``learner(ind)`` modifies
    ``ind`` in place (its ``layers`` are replaced; an embedding genome's input encoding stays frozen)
    and returns ``(ind,)``; ``fitness`` is not touched (the caller invalidates it). Each call draws a
    fresh batch order from ``rng`` (Python's :mod:`random` by default), so two copies of one parent
    learn from different minibatches, and a seeded run is reproducible. The optimizer starts fresh
    at every call (its state is not part of the genome) with a constant learning rate.

    Args:
        train_data: the training samples (moved to ``device`` once).
        steps: optimizer steps per call, ``K >= 1``.
        batch_size: samples per step.
        lr: Adam's learning rate.
        device: where training runs (CPU when ``None``).

    Attributes:
        gradient_steps: optimizer steps taken over all calls (counted as they are taken).

    Raises:
        ValueError: no or empty training data, or a non-positive ``steps``, ``batch_size`` or ``lr``.
    """

    def __init__(
        self,
        train_data: Dataset | None,
        *,
        steps: int = 25,
        batch_size: int = 64,
        lr: float = 0.005,
        device: torch.device | str | None = None,
    ) -> None:
        for name, value in (("steps", steps), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Lamarckian training needs a positive integer {name}, got {value!r}")
        if train_data is None or len(train_data) == 0:
            raise ValueError(
                f"Lamarckian training of {steps} steps per child needs training data, got "
                f"{'none' if train_data is None else 'an empty data set'}"
            )
        self.config = TrainConfig(steps=steps, batch_size=batch_size, optimizer="adam", max_lr=lr)
        self.device = device
        self.train_data = train_data if device is None else train_data.to(device)
        self.gradient_steps = 0

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def lr(self) -> float:
        """Adam's learning rate of the next calls (a schedule may set it between generations)."""
        return self.config.max_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.config = dataclasses.replace(self.config, max_lr=value)

    def __call__(self, individual: Genome, *, rng: random.Random | None = None) -> tuple[Genome]:
        check_genome_fits_data(individual.architecture, self.train_data)
        module = decode(individual, self.device)
        optimizer = make_optimizer(module.parameters(), self.config)
        batches = batch_stream(self.train_data, self.config.batch_size, torch_generator(rng))
        for _ in range(self.config.steps):
            train_step(module, optimizer, *next(batches))
            self.gradient_steps += 1
        individual.layers[:] = module.neuron_sets()
        return (individual,)

    def __repr__(self) -> str:
        return (f"LamarckianTraining(steps={self.config.steps}, batch_size={self.config.batch_size}, "
                f"lr={self.config.max_lr}, data={self.train_data.name}/{self.train_data.split})")


def _check_variation(variation: str, population_size: int) -> None:
    if variation not in VARIATIONS:
        raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(VARIATIONS)}")
    if variation == "crossover" and (population_size < 2 or population_size % 2):
        raise ValueError(
            f"crossover pairs consecutive children, so it needs an even population of at least 2, "
            f"got {population_size}"
        )


def select_children(population: Sequence[Individual], toolbox: base.Toolbox, variation: str) -> list:
    """Clones of the parents of the next generation: ``toolbox.select`` of ``len(population)``
    individuals, or every member in order for ``independent`` (``population`` is not modified).

    Raises:
        ValueError: an unknown variation, or crossover on an odd or too small population.
    """
    _check_variation(variation, len(population))
    parents = population if variation == "independent" else toolbox.select(population, len(population))
    return [toolbox.clone(individual) for individual in parents]


def apply_variation(children: list[Individual], toolbox: base.Toolbox, variation: str, *, cxpb: float = 1.0) -> list:
    """Vary ``children`` in place and return them: ``crossover`` mates consecutive pairs
    (``toolbox.mate``, each pair with probability ``cxpb``), ``mutation-only`` mutates every child
    (``toolbox.mutate``), ``none`` and ``independent`` leave them as they are. Fitness is not touched.

    Raises:
        ValueError: an unknown variation, or crossover on an odd or too small list.
    """
    _check_variation(variation, len(children))
    if variation == "crossover":
        for first, second in zip(children[::2], children[1::2]):
            if random.random() < cxpb:
                toolbox.mate(first, second)
    elif variation == "mutation-only":
        for child in children:
            toolbox.mutate(child)
    return children


def vary(population: Sequence[Individual], toolbox: base.Toolbox, variation: str, *, cxpb: float = 1.0) -> list:
    """The varied children of one generation: :func:`select_children`, then :func:`apply_variation`.

    Args:
        population: the current generation (not modified).
        toolbox: with ``clone``, and ``select`` (all but ``independent``), ``mate``
            (``crossover``), ``mutate`` (``mutation-only``).
        variation: one of :data:`VARIATIONS`.
        cxpb: probability that a pair is mated (``crossover`` only).

    Returns:
        ``len(population)`` new individuals (fitness as cloned: the caller invalidates).

    Raises:
        ValueError: an unknown variation, or crossover on an odd or too small population.
    """
    return apply_variation(select_children(population, toolbox, variation), toolbox, variation, cxpb=cxpb)


@torch.no_grad()
def prediction_disagreement(population: Sequence[Genome], images: torch.Tensor) -> float:
    """Diversity in function space: the fraction of ``images`` on which two members predict
    different classes, averaged over all pairs (0: every member predicts alike).

    Args:
        population: at least one genome.
        images: ``[B, *input_shape]`` probe inputs.
    """
    predictions = [decode(genome)(images).argmax(dim=1) for genome in population]
    pairs = list(itertools.combinations(predictions, 2))
    if not pairs:
        return 0.0
    return sum(float((a != b).float().mean()) for a, b in pairs) / len(pairs)


def _fitness_stats(individuals: Sequence[Individual]) -> tuple[float, float]:
    values = [individual.fitness.values[0] for individual in individuals]
    return max(values), sum(values) / len(values)


def _generation(
    state: GAState,
    toolbox: base.Toolbox,
    learner: LamarckianTraining,
    settings: "_LoopSettings",
) -> None:
    """One generation (see :func:`evolve_memetic` for the order), one logbook entry."""
    if settings.lr_schedule is not None:
        learner.lr = settings.lr_schedule(state.generation)
    first = state.generation == 0
    children = [toolbox.clone(individual) for individual in state.population] if first else select_children(
        state.population, toolbox, settings.variation)
    learn_first = settings.order == "learn-then-vary"
    if not learn_first and not first:
        apply_variation(children, toolbox, settings.variation, cxpb=settings.cxpb)
    intermediate = float("nan")
    if settings.measure_children and not first:
        for child in children:
            del child.fitness.values
        scores = toolbox.map(toolbox.evaluate, children)
        intermediate = sum(f[0] for f in scores) / len(scores)
    for child in children:
        toolbox.learn(child)
        del child.fitness.values
    if learn_first and not first:
        apply_variation(children, toolbox, settings.variation, cxpb=settings.cxpb)
    nevals = evaluate_invalid(children, toolbox)
    if state.halloffame is not None:
        state.halloffame.update(children)
    state.population[:] = children
    best, mean = _fitness_stats(children)
    probe = settings.probe
    state.logbook.record(
        gen=state.generation, nevals=nevals, gradient_steps=learner.gradient_steps, max=best, avg=mean,
        intermediate_avg=intermediate,
        diversity=float("nan") if probe is None else prediction_disagreement(children, probe),
    )


@dataclass(frozen=True)
class _LoopSettings:
    variation: str
    order: str
    cxpb: float
    probe: torch.Tensor | None
    measure_children: bool
    lr_schedule: Callable[[int], float] | None


def _check_toolbox(toolbox: base.Toolbox, variation: str) -> None:
    needed = {"clone", "evaluate", "map", "learn"} | {
        "crossover": {"select", "mate"}, "mutation-only": {"select", "mutate"}, "none": {"select"}, "independent": set()
    }[variation]
    missing = sorted(name for name in needed if not hasattr(toolbox, name))
    if missing:
        raise ValueError(f"the toolbox lacks {', '.join(missing)}, needed by memetic evolution with {variation!r}")


def evolve_memetic(
    population: list[Individual],
    toolbox: base.Toolbox,
    learner: LamarckianTraining,
    *,
    variation: str,
    ngen: int,
    order: str = "learn-then-vary",
    cxpb: float = 1.0,
    halloffame: tools.HallOfFame | None = None,
    probe: torch.Tensor | None = None,
    measure_children: bool = True,
    lr_schedule: Callable[[int], float] | None = None,
    checkpoint: str | os.PathLike | None = None,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Memetic evolution. Generation 0 is the initial population after one learning step each;
    each of the ``ngen`` further generations selects parents (:func:`select_children`), and then,
    by ``order``:

    * ``"learn-then-vary"``: every selected parent learns (``toolbox.learn``), then the learned
      parents are varied (:func:`apply_variation`) and the varied children are scored: a
      crossover child is a mixture of two freshly trained members (a "model soup");
    * ``"vary-then-learn"``: the parents are varied first, then every child learns and is scored.

    Cost, whatever the variation: ``len(population) * (ngen + 1)`` fitness evaluations and
    ``len(population) * (ngen + 1) * learner.steps`` gradient steps. Logbook fields per generation:
    ``gen``, ``nevals``, ``gradient_steps`` (cumulative, counted by ``learner``), ``max`` and ``avg``
    fitness, ``intermediate_avg`` (mean fitness between the two stages: the learned parents before
    variation, or the varied children before learning; a diagnostic of how destructive the
    variation is, not counted in ``nevals`` and not seen by selection; NaN when not measured and at
    generation 0), ``diversity`` (:func:`prediction_disagreement` on ``probe``; NaN without one).

    Args:
        population: the initial individuals (updated in place).
        toolbox: ``clone``, ``evaluate``, ``map``, ``learn`` and what ``variation`` needs.
        learner: counts the gradient steps (register it as ``toolbox.learn``).
        variation: one of :data:`VARIATIONS`.
        ngen: generations after generation 0.
        order: one of :data:`ORDERS`.
        cxpb: probability that a pair is mated (crossover).
        halloffame: updated with every scored generation.
        probe: ``[B, *input_shape]`` inputs for the diversity measure.
        measure_children: score the intermediate stage (diagnostic).
        lr_schedule: generation -> the learner's learning rate in that generation (``None``:
            leave it as it is).
        checkpoint: file written after every generation (``None``: none).
        extra: JSON-ready data stored in every checkpoint.
        on_generation: called with the state after every generation.

    Returns:
        The final :class:`~populations.checkpoint.GAState`.

    Raises:
        ValueError: an unknown variation or order, crossover on an odd or too small population,
            a toolbox that lacks a function, or a negative ``ngen`` (before any work).
    """
    loop = _LoopSettings(variation, order, cxpb, probe, measure_children, lr_schedule)
    _check_run(population, toolbox, loop, ngen)
    state = GAState(population, 0, tools.Logbook(), halloffame)
    _generation(state, toolbox, learner, loop)
    after_generation(state, ngen, checkpoint=checkpoint, extra=extra, on_generation=on_generation)
    return _run(state, toolbox, learner, loop, ngen, checkpoint, extra, on_generation)


def resume_memetic(
    checkpoint: str | os.PathLike,
    toolbox: base.Toolbox,
    learner: LamarckianTraining,
    *,
    variation: str,
    ngen: int,
    order: str = "learn-then-vary",
    cxpb: float = 1.0,
    probe: torch.Tensor | None = None,
    measure_children: bool = True,
    lr_schedule: Callable[[int], float] | None = None,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Continue :func:`evolve_memetic` from its checkpoint up to generation ``ngen`` (the random
    generators and the learner's step count are restored), writing further checkpoints to the same
    file. With the same toolbox and settings the run ends bit-identical to an uninterrupted one.

    Raises:
        populations.checkpoint.CheckpointError: an unreadable checkpoint.
        ValueError: as :func:`evolve_memetic`.
    """
    loop = _LoopSettings(variation, order, cxpb, probe, measure_children, lr_schedule)
    saved = load_checkpoint(checkpoint)
    _check_run(saved.state.population, toolbox, loop, ngen)
    restore_rng_state(saved.rng_state)
    learner.gradient_steps = int(saved.state.logbook[-1]["gradient_steps"])
    return _run(saved.state, toolbox, learner, loop, ngen, checkpoint, saved.extra if extra is None else extra,
                on_generation)


def _check_run(population: Sequence[Individual], toolbox: base.Toolbox, loop: _LoopSettings, ngen: int) -> None:
    if isinstance(ngen, bool) or not isinstance(ngen, int) or ngen < 0:
        raise ValueError(f"ngen must be a non-negative integer, got {ngen!r}")
    if not population:
        raise ValueError("memetic evolution needs a non-empty population")
    if loop.order not in ORDERS:
        raise ValueError(f"unknown order {loop.order!r}; choose one of {', '.join(ORDERS)}")
    _check_variation(loop.variation, len(population))
    _check_toolbox(toolbox, loop.variation)


def _run(
    state: GAState,
    toolbox: base.Toolbox,
    learner: LamarckianTraining,
    loop: _LoopSettings,
    ngen: int,
    checkpoint: str | os.PathLike | None,
    extra: dict[str, Any] | None,
    on_generation: Callable[[GAState], None] | None,
) -> GAState:
    return drive_generations(state, lambda s: _generation(s, toolbox, learner, loop), ngen, checkpoint=checkpoint,
                             extra=extra, on_generation=on_generation)


# ------------------------------------------------------------------ the recipe and its arms


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
        order: where the learning step sits in a generation (:data:`ORDERS`).
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


@dataclass
class EvolutionRun:
    """What :func:`run_memetic` returns.

    Attributes:
        best: the best individual by fitness (hall of fame; for ``adam``, the best validated step).
        state: the final GA state (``None`` for ``adam``).
        evaluations: fitness evaluations spent (counted).
        gradient_steps: gradient steps spent, ancestor included (counted).
        curve: per generation (or validation), ``evaluations``, ``best`` (so far) and ``mean``
            fitness, ``intermediate_avg``, ``diversity`` (see :func:`evolve_memetic`).
    """

    best: Genome
    state: GAState | None
    evaluations: int
    gradient_steps: int
    curve: list[dict[str, float]]


def ancestor(
    train: Dataset,
    settings: MemeticSettings,
    *,
    encoding: str = "embedding",
    seed: int = 0,
    input_shape: tuple[int, ...] | None = None,
) -> tuple[Genome, int]:
    """The common ancestor: a random genome trained ``settings.ancestor_steps`` steps (Adam one-cycle,
    the input encoding learned). Returns ``(genome, gradient steps taken)``.

    Raises:
        ValueError: an unknown encoding.
    """
    if encoding not in ("embedding", "direct"):
        raise ValueError(f"unknown encoding {encoding!r}; choose embedding or direct")
    arch = Architecture.parse(settings.architecture, input_shape=input_shape or train.input_shape)
    generator = torch.Generator().manual_seed(seed)
    if encoding == "direct":
        start: Genome = DirectGenome.random(arch, generator=generator)
    else:
        start = EmbeddingGenome.random(arch, settings.d, init="fan-in", generator=generator)
    config = TrainConfig(steps=settings.ancestor_steps, batch_size=settings.batch_size, max_lr=settings.ancestor_lr,
                         validate_every=settings.ancestor_steps, seed=seed)
    result = train_genome(start, train, None, config=config, progress=False)
    return result.genome, result.steps


def genome_rms(genome: Genome) -> float:
    """Root-mean-square of every gene of ``genome``'s neuron records (the input encoding excluded)."""
    values = torch.cat([t.reshape(-1) for layer in genome.layers for _, t in layer.items()])
    return float(values.square().mean().sqrt())


def _crossover(name: str, settings: MemeticSettings, probe: torch.Tensor) -> Callable[..., Any]:
    if name == "interpolate-aligned":
        return lambda a, b: operators.cx_interpolate_aligned(a, b, alpha=settings.alpha)
    if name == "interpolate-aligned-repair":
        return lambda a, b: operators.cx_interpolate_aligned(a, b, alpha=settings.alpha, method="activation",
                                                             repair=True, probe=probe)
    if name == "transplant-aligned":
        return lambda a, b: operators.cx_transplant_aligned(a, b, layer=0, coefficient=settings.coefficient)
    raise ValueError(f"unknown crossover {name!r}; choose one of {', '.join(CROSSOVERS)}")


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
    checkpoint: str | os.PathLike | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> EvolutionRun:
    """One arm of memetic evolution from a common ancestor; the defaults are the recommended recipe
    (embedding genomes, aligned interpolation crossover at ``alpha=0.5``).

    Every member descends from one ancestor (:func:`ancestor`, which also learns the shared input
    encoding), unless ``initial`` builds the initial population from it. Fitness is accuracy on
    ``holdout``; every child learns ``settings.steps`` steps on ``train`` per generation.

    Args:
        train: training data (the learning steps); holdout: fitness data.
        settings: sizes, budget and operator settings.
        variation: one of :data:`VARIATIONS`, or ``"adam"``: plain Adam training of the ancestor
            alone for the same total gradient steps (one-cycle schedule, validated on ``holdout``
            every ``settings.steps`` steps, the best step kept).
        crossover: one of :data:`CROSSOVERS` (crossover only; ``interpolate-aligned-repair``
            needs direct genomes).
        encoding: ``"embedding"`` or ``"direct"``.
        seed: seeds everything (the ancestor, the generators).
        initial: ``(ancestor, settings, seed) -> (genomes, gradient steps spent)``; default: the
            ancestor copied ``settings.population`` times.
        checkpoint: checkpoint file of the evolutionary loop, written after every generation; when
            it exists, the run continues from it (bit-identical to an uninterrupted run).
        on_generation: called after every generation.

    Returns:
        A :class:`EvolutionRun` with counted evaluations and gradient steps.

    Raises:
        ValueError: contradictory settings (before any work): an unknown variation or crossover,
            REPAIR on embedding genomes, a population too small or odd for crossover, data
            that do not fit the architecture, or a checkpoint written by a run with other settings.
    """
    if variation != "adam":
        _check_variation(variation, settings.population)
    if variation == "crossover":
        if crossover not in CROSSOVERS:
            raise ValueError(f"unknown crossover {crossover!r}; choose one of {', '.join(CROSSOVERS)}")
        if (crossover == "interpolate-aligned-repair") != (encoding == "direct"):
            raise ValueError(f"crossover {crossover!r} does not fit {encoding} genomes (REPAIR is for direct "
                             "genomes; direct genomes are crossed here with REPAIR)")
    arch = Architecture.parse(settings.architecture, input_shape=train.input_shape)
    for data in (train, holdout):
        check_genome_fits_data(arch, data)
    seed_everything(seed)
    root, steps = ancestor(train, settings, encoding=encoding, seed=seed)
    if variation == "adam":
        return _plain_adam(root, steps, train, holdout, settings, seed)
    learner = LamarckianTraining(train, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr)
    probe = train.images[: settings.probe_size]
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)
    toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
    toolbox.register("learn", learner)
    if variation == "crossover":
        toolbox.register("mate", _crossover(crossover, settings, probe))
    toolbox.register("mutate", operators.mut_gaussian, sigma=settings.mutation_sigma * genome_rms(root),
                     indpb=settings.mutation_indpb)
    extra = {"settings": dataclasses.asdict(settings), "variation": variation, "crossover": crossover,
             "encoding": encoding, "seed": seed}
    loop = {"variation": variation, "ngen": settings.generations, "order": settings.order, "probe": probe[:200],
            "lr_schedule": settings.lr_at, "on_generation": on_generation}
    if checkpoint is not None and Path(checkpoint).exists():
        stored = load_checkpoint(checkpoint).extra
        if stored != extra:
            raise ValueError(f"{checkpoint} was written by another run ({stored}); this run is {extra}")
        state = resume_memetic(checkpoint, toolbox, learner, **loop)
    else:
        genomes, more = initial(root, settings, seed) if initial else ([root] * settings.population, 0)
        learner.gradient_steps = steps + more
        population = [individual_from_genome(genome) for genome in genomes]
        state = evolve_memetic(population, toolbox, learner, halloffame=tools.HallOfFame(1, similar=similar),
                               checkpoint=checkpoint, extra=extra, **loop)
    evaluations = sum(entry["nevals"] for entry in state.logbook)
    curve, best = [], float("-inf")
    done = 0
    for entry in state.logbook:
        done += entry["nevals"]
        best = max(best, entry["max"])
        curve.append({"evaluations": done, "best": best, "mean": entry["avg"],
                      "intermediate_avg": entry["intermediate_avg"], "diversity": entry["diversity"]})
    return EvolutionRun(state.halloffame[0], state, evaluations, learner.gradient_steps, curve)


def _plain_adam(
    root: Genome, steps: int, train: Dataset, holdout: Dataset, settings: MemeticSettings, seed: int
) -> EvolutionRun:
    total = settings.gradient_steps - steps
    config = TrainConfig(steps=total, batch_size=settings.batch_size, max_lr=settings.ancestor_lr,
                         validate_every=settings.steps, seed=seed + 1)
    result = train_genome(root, train, holdout, config=config, progress=False)
    curve, best = [], float("-inf")
    for i, entry in enumerate(result.history, start=2):  # evaluation 1 is the starting point
        best = max(best, entry["holdout_accuracy"])
        curve.append({"evaluations": i, "best": best, "mean": entry["holdout_accuracy"],
                      "intermediate_avg": float("nan"), "diversity": float("nan")})
    return EvolutionRun(result.genome, None, len(result.history) + 1, steps + result.steps, curve)


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
