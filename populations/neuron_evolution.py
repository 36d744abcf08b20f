"""Neuron-level evolution in the manner of ESP (Gomez & Miikkulainen) and SANE (Moriarty &
Miikkulainen): populations of neuron records, one per neuron slot, that cooperate to form networks.

Every hidden neuron slot and every output slot (output neuron ``c`` is class ``c``) keeps a
subpopulation of ``S`` neuron records. Each generation assembles networks by drawing one record per
slot, so that every record joins exactly ``trials`` networks (one random permutation per slot and
trial block), scores the networks (``toolbox.map(toolbox.evaluate, ...)``: batched evaluation) and
credits each record with the mean fitness of the networks it joined. Then, slot by slot, the better
half of the records survives and the worse half is replaced by offspring of the top quarter:

* ``crossover``: the interpolation of two top-quarter records of the slot
  (:func:`operators.cx_interpolate`, ``alpha=0.5``), then Gaussian mutation;
* ``mutation-only``: a mutated copy of one top-quarter record;
* ``none``: an unchanged copy (selection and re-assembly only).

Only embedding genomes fit: a neuron record there is self-contained (its embedding generates its
incoming and outgoing weights in whatever network it joins), whereas a direct record's outgoing
weights live in the next layer's records.

The subpopulations are stored as ``S`` "column" individuals: column ``j`` holds record ``j`` of
every slot. So the state is a :class:`~populations.checkpoint.GAState` (columns, generation,
logbook, hall of fame of assembled networks) and checkpoints are the project's ordinary ones;
:func:`resume_neurons` continues a run bit-identically, like :func:`populations.loop.resume`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from deap import base, tools

import operators
from neuroevo.data import Dataset
from neuroevo.genomes import EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet
from operators.alignment import aligned_copy
from operators.randomness import python_rng, torch_generator
from populations.checkpoint import GAState, load_checkpoint
from populations.individuals import EmbeddingIndividual, Individual, individual_from_genome, similar
from populations.initialisation import population_from_parents
from populations.loop import drive_generations, evolve
from populations.memetic import EvolutionRun, LamarckianTraining, MemeticSettings, ancestor, genome_rms
from populations.rng import restore_rng_state, seed_everything
from populations.toolbox import register_batched_evaluation

__all__ = ["NEURON_VARIATIONS", "evolve_neurons", "neuron_subpopulations", "resume_neurons", "run_neuron_level"]

#: How a slot's worse half is replaced (see the module docstring).
NEURON_VARIATIONS = ("crossover", "mutation-only", "none")


def _check_members(members: Sequence[Genome], what: str) -> None:
    if not members:
        raise ValueError(f"{what} needs at least one genome")
    for genome in members:
        if not isinstance(genome, EmbeddingGenome):
            raise ValueError(
                f"neuron-level evolution needs embedding genomes (self-contained neuron records); got a "
                f"{getattr(genome, 'encoding', type(genome).__name__)} genome"
            )
    first = members[0]
    for genome in members[1:]:
        if genome.widths != first.widths or genome.input_encoding.identity != first.input_encoding.identity:
            raise ValueError(
                f"{what}: every genome needs the same widths and input encoding (slots are matched), got "
                f"widths {first.widths} and {genome.widths}"
            )


def neuron_subpopulations(members: Sequence[Genome]) -> list[EmbeddingIndividual]:
    """The columns of a neuron-level population made from whole networks: column ``j`` is member
    ``j`` with its hidden neurons matched to member 0's by embedding similarity
    (:func:`operators.alignment.aligned_copy`), so that slot ``i`` collects the members' matched
    ``i``-th neurons. Members are not modified.

    Raises:
        ValueError: no members, a direct genome, or members of different widths or input encodings.
    """
    _check_members(members, "neuron_subpopulations")
    reference = members[0]
    hidden = list(reference.architecture.hidden_layers)
    columns = [individual_from_genome(reference)]
    for genome in members[1:]:
        columns.append(individual_from_genome(aligned_copy(reference, genome, method="embedding", layers=hidden)))
    return columns


def _stacked(columns: Sequence[Genome]) -> list[dict[str, torch.Tensor]]:
    """Per layer, every field stacked over the columns: ``[S, n, ...]``."""
    return [
        {name: torch.stack([column.layers[index][name] for column in columns])
         for name in columns[0].layers[index].names}
        for index in range(len(columns[0].layers))
    ]


def _gather(
    template: Genome, stacked: list[dict[str, torch.Tensor]], choice: list[torch.Tensor]
) -> EmbeddingIndividual:
    """A network whose slot ``i`` of layer ``l`` holds record ``choice[l][i]`` of that slot."""
    layers = []
    for fields, index in zip(stacked, choice):
        slots = torch.arange(len(index))
        layers.append(NeuronSet(**{name: t[index, slots].clone() for name, t in fields.items()}))
    return EmbeddingIndividual(template.architecture, template.input_encoding, layers)


@dataclass(frozen=True)
class _Settings:
    variation: str
    trials: int
    alpha: float
    mutate: Callable[[Genome], Any] | None


def _check_settings(columns: Sequence[Genome], settings: _Settings, ngen: int, toolbox: base.Toolbox) -> None:
    _check_members(columns, "neuron-level evolution")
    if settings.variation not in NEURON_VARIATIONS:
        raise ValueError(f"unknown variation {settings.variation!r}; choose one of {', '.join(NEURON_VARIATIONS)}")
    if settings.variation == "crossover" and len(columns) < 8:
        raise ValueError(
            f"neuron-level crossover pairs two records of each slot's top quarter, so it needs at least 8 "
            f"records per slot; got {len(columns)}"
        )
    if len(columns) < 2:
        raise ValueError(f"neuron-level evolution needs at least 2 records per slot, got {len(columns)}")
    if settings.variation != "none" and settings.mutate is None:
        raise ValueError(f"variation {settings.variation!r} needs a mutation (toolbox.mutate)")
    for name, value in (("trials", settings.trials), ("ngen", ngen)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "trials" else 0):
            kind = "positive" if name == "trials" else "non-negative"
            raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    missing = [name for name in ("evaluate", "map") if not hasattr(toolbox, name)]
    if missing:
        raise ValueError(f"the toolbox lacks {', '.join(missing)}, needed by neuron-level evolution")


def _generation(state: GAState, toolbox: base.Toolbox, settings: _Settings) -> None:
    """Assemble and score networks, credit records, replace each slot's worse half; one logbook entry."""
    columns = state.population
    size = len(columns)
    stacked = _stacked(columns)
    widths = [len(layer) for layer in columns[0].layers]
    generator = torch_generator(None)
    # One permutation per slot and trial block: every record joins exactly `trials` networks.
    blocks = [[torch.argsort(torch.rand(size, n, generator=generator), dim=0) for n in widths]
              for _ in range(settings.trials)]
    networks = [_gather(columns[0], stacked, [perm[s] for perm in block]) for block in blocks for s in range(size)]
    scores = toolbox.map(toolbox.evaluate, networks)
    for network, fitness in zip(networks, scores):
        network.fitness.values = fitness
    if state.halloffame is not None:
        state.halloffame.update(networks)
    values = torch.tensor([f[0] for f in scores], dtype=torch.float64)
    credit = []
    for layer, n in enumerate(widths):
        total, count = torch.zeros(size, n, dtype=torch.float64), torch.zeros(size, n, dtype=torch.float64)
        for b, block in enumerate(blocks):
            joined = block[layer]  # [size, n]: network s used record joined[s, i] in slot i
            total.scatter_add_(0, joined, values[b * size:(b + 1) * size, None].expand(size, n))
            count.scatter_add_(0, joined, torch.ones(size, n, dtype=torch.float64))
        credit.append(total / count)
    # Stable ranking: ties keep the record's current position.
    ranks = [torch.sort(-c, dim=0, stable=True).indices for c in credit]
    keep, elite = max(1, size // 2), max(1, size // 4)
    rng = python_rng(None)
    new_columns: list[Individual] = [_gather(columns[0], stacked, [r[j] for r in ranks]) for j in range(keep)]
    for _ in range(size - keep):
        first = [r[torch.tensor([rng.randrange(elite) for _ in range(r.shape[1])]), torch.arange(r.shape[1])]
                 for r in ranks]
        child = _gather(columns[0], stacked, first)
        if settings.variation == "crossover":
            second = [r[torch.tensor([rng.randrange(elite) for _ in range(r.shape[1])]), torch.arange(r.shape[1])]
                      for r in ranks]
            operators.cx_interpolate(child, _gather(columns[0], stacked, second), alpha=settings.alpha)
        if settings.variation != "none":
            settings.mutate(child)
        new_columns.append(child)
    state.population[:] = new_columns
    state.logbook.record(gen=state.generation, nevals=len(networks), max=float(values.max()),
                         avg=float(values.mean()))


def evolve_neurons(
    columns: list[Individual],
    toolbox: base.Toolbox,
    *,
    variation: str = "crossover",
    ngen: int,
    trials: int = 4,
    alpha: float = 0.5,
    halloffame: tools.HallOfFame | None = None,
    checkpoint: str | os.PathLike | None = None,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Run ``ngen`` generations of neuron-level evolution from ``columns``
    (:func:`neuron_subpopulations`).

    Each generation scores ``len(columns) * trials`` assembled networks (``toolbox.evaluate`` through
    ``toolbox.map``), so a run costs ``ngen * len(columns) * trials`` evaluations; the logbook
    records ``gen`` (1 .. ngen), ``nevals``, and the networks' ``max`` and ``avg`` fitness. Randomness
    comes from Python's :mod:`random` (checkpointed with the run).

    Args:
        columns: the subpopulations as column genomes (the list is updated in place).
        toolbox: ``evaluate`` and ``map``, and ``mutate`` unless ``variation="none"``.
        variation: one of :data:`NEURON_VARIATIONS`.
        ngen: number of generations.
        trials: networks each record joins per generation.
        alpha: interpolation weight of the second parent record (crossover).
        halloffame: the best assembled networks (the run's result).
        checkpoint: file written after every generation (``None``: none).
        extra: JSON-ready data stored in every checkpoint.
        on_generation: called with the state after every generation.

    Returns:
        The final :class:`~populations.checkpoint.GAState` (its population: the columns).

    Raises:
        ValueError: direct genomes, columns of different widths or encodings, too few records per
            slot for the variation, an unknown variation, a missing mutation, or a non-positive
            ``trials`` (before any work).
    """
    settings = _Settings(variation, trials, alpha, getattr(toolbox, "mutate", None))
    _check_settings(columns, settings, ngen, toolbox)
    state = GAState(columns, 0, tools.Logbook(), halloffame)
    return _run(state, toolbox, settings, ngen, checkpoint, extra, on_generation)


def resume_neurons(
    checkpoint: str | os.PathLike,
    toolbox: base.Toolbox,
    *,
    variation: str = "crossover",
    ngen: int,
    trials: int = 4,
    alpha: float = 0.5,
    extra: dict[str, Any] | None = None,
    on_generation: Callable[[GAState], None] | None = None,
) -> GAState:
    """Continue :func:`evolve_neurons` from its checkpoint up to generation ``ngen`` (the global
    generators are restored), writing further checkpoints to the same file. With the same toolbox
    and settings the run ends bit-identical to an uninterrupted one.

    Raises:
        populations.checkpoint.CheckpointError: an unreadable checkpoint.
        ValueError: as :func:`evolve_neurons`.
    """
    settings = _Settings(variation, trials, alpha, getattr(toolbox, "mutate", None))
    saved = load_checkpoint(checkpoint)
    _check_settings(saved.state.population, settings, ngen, toolbox)
    restore_rng_state(saved.rng_state)
    return _run(saved.state, toolbox, settings, ngen, checkpoint, saved.extra if extra is None else extra,
                on_generation)


def _run(
    state: GAState,
    toolbox: base.Toolbox,
    settings: _Settings,
    ngen: int,
    checkpoint: str | os.PathLike | None,
    extra: dict[str, Any] | None,
    on_generation: Callable[[GAState], None] | None,
) -> GAState:
    return drive_generations(state, lambda s: _generation(s, toolbox, settings), ngen, checkpoint=checkpoint,
                             extra=extra, on_generation=on_generation)


def _curve(logbook: tools.Logbook) -> list[dict[str, float]]:
    curve, done, best = [], 0, float("-inf")
    for entry in logbook:
        done += entry["nevals"]
        best = max(best, entry["max"])
        curve.append({"evaluations": done, "best": best, "mean": entry["avg"], "intermediate_avg": float("nan"),
                      "diversity": float("nan")})
    return curve


def run_neuron_level(
    train: Dataset,
    holdout: Dataset,
    settings: MemeticSettings = MemeticSettings(),
    *,
    variation: str = "crossover",
    generations: int = 10,
    trials: int = 4,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
) -> EvolutionRun:
    """One arm of the neuron-level design, without gradient steps during evolution.

    ``settings.population`` members descend from one ancestor (:func:`populations.memetic.ancestor`)
    and each learns ``settings.steps`` steps on its own minibatches; their matched neurons form the
    slots' subpopulations (:func:`neuron_subpopulations`), evolved for ``generations`` generations
    with ``trials`` networks per record (fitness: accuracy on ``holdout``). ``variation="whole-network"``
    is the baseline at the same number of evaluations: DEAP's ``eaSimple`` with Gaussian mutation of
    whole networks (population ``population * trials``, ``generations - 1`` generations after the
    initial one, every offspring mutated), from the same members.

    Raises:
        ValueError: an unknown variation, or settings that :func:`evolve_neurons` rejects (before
            any training).
    """
    if variation not in (*NEURON_VARIATIONS, "whole-network"):
        choices = ", ".join((*NEURON_VARIATIONS, "whole-network"))
        raise ValueError(f"unknown variation {variation!r}; choose one of {choices}")
    if variation == "crossover" and settings.population < 8:
        raise ValueError(f"neuron-level crossover needs at least 8 records per slot, got a population of "
                         f"{settings.population}")
    seed_everything(seed)
    root, steps = ancestor(train, settings, seed=seed)
    learner = LamarckianTraining(train, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr)
    members = [individual_from_genome(root) for _ in range(settings.population)]
    for member in members:
        learner(member)
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)
    toolbox.register("mutate", operators.mut_gaussian, sigma=settings.mutation_sigma * genome_rms(root),
                     indpb=settings.mutation_indpb)
    halloffame = tools.HallOfFame(1, similar=similar)
    if variation == "whole-network":
        toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
        toolbox.register("mate", operators.cx_interpolate)
        population = population_from_parents(members, settings.population * trials, sigma=0.0)
        stats = tools.Statistics(lambda individual: individual.fitness.values[0])
        stats.register("max", max)
        stats.register("avg", lambda values: sum(values) / len(values))
        state = evolve(population, toolbox, cxpb=0.0, mutpb=1.0, ngen=generations - 1, stats=stats,
                       halloffame=halloffame, checkpoint=checkpoint)
    else:
        state = evolve_neurons(neuron_subpopulations(members), toolbox, variation=variation, ngen=generations,
                               trials=trials, alpha=settings.alpha, halloffame=halloffame, checkpoint=checkpoint)
    return EvolutionRun(halloffame[0], state, sum(e["nevals"] for e in state.logbook),
                        steps + learner.gradient_steps, _curve(state.logbook))
