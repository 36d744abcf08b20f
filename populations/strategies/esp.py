"""Neuron-level evolution in the manner of ESP (Gomez & Miikkulainen) and SANE (Moriarty &
Miikkulainen): subpopulations of neuron records, one per neuron slot, that cooperate to form networks.

Every hidden neuron slot and every output slot (output neuron ``c`` is output ``c``) keeps a
subpopulation of ``S`` neuron records. Each generation assembles networks by drawing one record per
slot, so that every record joins exactly ``trials`` networks (one random permutation per slot and
trial block), scores the networks (``toolbox.map(toolbox.evaluate, ...)``) and credits each record
with the mean fitness of the networks it joined. Then, slot by slot, the better half of the records
survives and the worse half is replaced by offspring of the top quarter:

* ``crossover``: the interpolation of two top-quarter records of the slot
  (:func:`operators.cx_interpolate`), then mutation (``toolbox.mutate``);
* ``mutation-only``: a mutated copy of one top-quarter record;
* ``none``: an unchanged copy (selection and re-assembly only).

Only embedding genomes fit: a neuron record there is self-contained (its embedding generates its
incoming and outgoing weights in whatever network it joins), whereas a direct record's outgoing
weights live in the next layer's records.

The subpopulations are stored as ``S`` "column" individuals: column ``j`` holds record ``j`` of
every slot, so the engine's state, checkpoints and bit-identical resume apply unchanged.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from deap import base

import operators
from neuroevo.genomes import EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet
from neuroevo.validation import check_int
from operators.alignment import aligned_copy
from operators.randomness import python_rng, torch_generator
from populations.checkpoint import GAState
from populations.engine import Strategy
from populations.individuals import EmbeddingIndividual, Individual, individual_from_genome
from populations.variation import check_toolbox

__all__ = ["ESP", "NEURON_VARIATIONS", "neuron_subpopulations"]

#: How a slot's worse half is replaced (see the module docstring).
NEURON_VARIATIONS = ("crossover", "mutation-only", "none")


def check_members(members: Sequence[Genome], what: str) -> None:
    """Raises ``ValueError`` unless ``members`` are embedding genomes of equal widths and one input
    encoding (their slots are matched by position)."""
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
    check_members(members, "neuron_subpopulations")
    reference = members[0]
    hidden = list(reference.architecture.hidden_layers)
    columns = [individual_from_genome(reference)]
    for genome in members[1:]:
        columns.append(individual_from_genome(aligned_copy(reference, genome, method="embedding", layers=hidden)))
    return columns


def stacked_fields(columns: Sequence[Genome]) -> list[dict[str, torch.Tensor]]:
    """Per layer, every field stacked over the columns: ``[S, n, ...]``."""
    return [
        {name: torch.stack([column.layers[index][name] for column in columns])
         for name in columns[0].layers[index].names}
        for index in range(len(columns[0].layers))
    ]


def gather_network(template: Genome, stacked: list[dict[str, torch.Tensor]],
                   choice: Sequence[torch.Tensor]) -> EmbeddingIndividual:
    """A network whose slot ``i`` of layer ``l`` holds record ``choice[l][i]`` of that slot."""
    layers = []
    for fields, index in zip(stacked, choice):
        slots = torch.arange(len(index))
        layers.append(NeuronSet(**{name: t[index, slots].clone() for name, t in fields.items()}))
    return EmbeddingIndividual(template.architecture, template.input_encoding, layers)


def slot_credit(values: torch.Tensor, blocks: Sequence[Sequence[torch.Tensor]], size: int,
                widths: Sequence[int]) -> list[torch.Tensor]:
    """Each record's mean fitness over the networks it joined: per layer ``[size, n]``.

    Args:
        values: ``[trials * size]`` fitness of the networks, block by block.
        blocks: per trial block, per layer, ``[size, n]``: network ``s`` of the block used record
            ``blocks[b][l][s, i]`` in slot ``i``.
        size: records per slot.
        widths: slots per layer.
    """
    credit = []
    for layer, n in enumerate(widths):
        total = torch.zeros(size, n, dtype=torch.float64)
        count = torch.zeros(size, n, dtype=torch.float64)
        for b, block in enumerate(blocks):
            total.scatter_add_(0, block[layer], values[b * size:(b + 1) * size, None].expand(size, n))
            count.scatter_add_(0, block[layer], torch.ones(size, n, dtype=torch.float64))
        credit.append(total / count)
    return credit


class ESP(Strategy):
    """Neuron-level evolution over slot subpopulations (see the module docstring).

    Each generation scores ``len(columns) * trials`` assembled networks, so ``ngen`` generations
    cost ``ngen * len(columns) * trials`` evaluations. Logbook: ``max`` and ``avg`` fitness of the
    networks. The hall of fame collects assembled networks (the run's result).

    Args:
        variation: one of :data:`NEURON_VARIATIONS`.
        trials: networks each record joins per generation.
        alpha: interpolation weight of the second parent record (crossover).
    """

    name = "neuron-level"

    def __init__(self, *, variation: str = "crossover", trials: int = 4, alpha: float = 0.5) -> None:
        if variation not in NEURON_VARIATIONS:
            raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(NEURON_VARIATIONS)}")
        self.variation, self.trials, self.alpha = variation, check_int("trials", trials), alpha

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        check_members(population, "neuron-level evolution")
        if self.variation == "crossover" and len(population) < 8:
            raise ValueError(
                f"neuron-level crossover pairs two records of each slot's top quarter, so it needs at least 8 "
                f"records per slot; got {len(population)}"
            )
        if len(population) < 2:
            raise ValueError(f"neuron-level evolution needs at least 2 records per slot, got {len(population)}")
        check_toolbox(toolbox, ("evaluate", "map", *(("mutate",) if self.variation != "none" else ())),
                      f"neuron-level evolution with {self.variation!r}")

    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        columns = state.population
        size = len(columns)
        stacked = stacked_fields(columns)
        widths = [len(layer) for layer in columns[0].layers]
        generator = torch_generator(None)
        blocks = [[torch.argsort(torch.rand(size, n, generator=generator), dim=0) for n in widths]
                  for _ in range(self.trials)]
        networks = [gather_network(columns[0], stacked, [perm[s] for perm in block])
                    for block in blocks for s in range(size)]
        scores = toolbox.map(toolbox.evaluate, networks)
        for network, fitness in zip(networks, scores):
            network.fitness.values = fitness
        if state.halloffame is not None:
            state.halloffame.update(networks)
        values = torch.tensor([f[0] for f in scores], dtype=torch.float64)
        # Stable ranking: ties keep the record's current position.
        ranks = [torch.sort(-c, dim=0, stable=True).indices for c in slot_credit(values, blocks, size, widths)]
        state.population[:] = self._next_columns(columns[0], stacked, ranks, toolbox)
        return {"nevals": len(networks), "max": float(values.max()), "avg": float(values.mean())}

    def _next_columns(self, template: Genome, stacked: list[dict[str, torch.Tensor]], ranks: list[torch.Tensor],
                      toolbox: base.Toolbox) -> list[Individual]:
        size = ranks[0].shape[0]
        keep, elite = max(1, size // 2), max(1, size // 4)
        rng = python_rng(None)

        def elite_pick() -> list[torch.Tensor]:
            return [r[torch.tensor([rng.randrange(elite) for _ in range(r.shape[1])]), torch.arange(r.shape[1])]
                    for r in ranks]

        columns: list[Individual] = [gather_network(template, stacked, [r[j] for r in ranks]) for j in range(keep)]
        for _ in range(size - keep):
            child = gather_network(template, stacked, elite_pick())
            if self.variation == "crossover":
                operators.cx_interpolate(child, gather_network(template, stacked, elite_pick()), alpha=self.alpha)
            if self.variation != "none":
                toolbox.mutate(child)
            columns.append(child)
        return columns
