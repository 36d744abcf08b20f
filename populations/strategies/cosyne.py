"""CoSyNE-style evolution of whole networks whose neuron records are permuted across the population.

Cooperative Synapse NeuroEvolution (Gomez, Schmidhuber & Miikkulainen, JMLR 2008) keeps a population
of networks as a matrix: each row a network, each column the subpopulation of one weight. Every
generation it scores the rows, replaces the worst rows by offspring of the top quarter, then
*permutes* each column among a random subset of rows, so a weight is tried in other networks. Its
unit here is the neuron record instead of the weight: column ``(l, i)`` is slot ``i`` of layer ``l``
across the networks, and a record moved to another network regenerates its weights there, which
embedding records do by construction (a direct record's outgoing weights would stay behind).

Per generation (``P`` networks, ``q = P // 4``):

1. the networks are ranked by fitness; the top quarter are parents;
2. the worst ``2 * (q // 2)`` networks are replaced by offspring of pairs of parents drawn uniformly:
   ``crossover`` mates them (``toolbox.mate``) then mutates (``toolbox.mutate``),
   ``mutation-only`` mutates copies, ``none`` copies;
3. in every slot, each network is marked with probability ``1 - (rank fitness) ** (1 / P)`` (the
   paper's rule: the best are rarely disturbed, the new offspring always) and the marked records
   of that slot are permuted among the marked networks;
4. every changed network is scored (``toolbox.map(toolbox.evaluate, ...)``).
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import torch
from deap import base

from populations.checkpoint import GAState
from populations.engine import Strategy, evaluate_invalid
from populations.individuals import Individual
from populations.strategies.ea_simple import fitness_record
from populations.strategies.esp import check_members
from populations.variation import check_toolbox

__all__ = ["COSYNE_VARIATIONS", "CoSyNE", "permute_records"]

#: How the replaced networks are made.
COSYNE_VARIATIONS = ("crossover", "mutation-only", "none")


def permute_records(networks: Sequence[Individual], marked: Sequence[Sequence[torch.Tensor]]) -> set[int]:
    """Permute the records of every slot among the networks marked for it, in place.

    Args:
        networks: genomes of equal widths.
        marked: per layer, per slot, a 1-D tensor of the network indices marked for that slot, in
            the order they receive each other's records (the record of ``marked[k]`` moves to
            ``marked[k + 1]``, the last one's to ``marked[0]``).

    Returns:
        The indices of the networks whose records changed.
    """
    changed: set[int] = set()
    for index, slots in enumerate(marked):
        layers = [network.layers[index] for network in networks]
        names = layers[0].names
        stacked = {name: torch.stack([layer[name] for layer in layers]) for name in names}
        for slot, order in enumerate(slots):
            if len(order) < 2:
                continue
            for name in names:
                stacked[name][order.roll(-1), slot] = stacked[name][order, slot].clone()
            changed.update(int(k) for k in order)
        for k in changed:
            networks[k].layers[index] = layers[k].replace(**{name: stacked[name][k].clone() for name in names})
    return changed


class CoSyNE(Strategy):
    """Record-level CoSyNE (see the module docstring). Only embedding genomes of equal widths fit.

    Args:
        variation: one of :data:`COSYNE_VARIATIONS`.
        permute: permute records across networks (``False``: a plain generational GA with the same
            replacement, the ablation of the permutation).
    """

    name = "cosyne"

    def __init__(self, *, variation: str = "crossover", permute: bool = True) -> None:
        if variation not in COSYNE_VARIATIONS:
            raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(COSYNE_VARIATIONS)}")
        self.variation, self.permute = variation, permute

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        check_members(population, "CoSyNE")
        if len(population) < 8:
            raise ValueError(f"CoSyNE breeds the top quarter into the bottom, so it needs at least 8 networks; "
                             f"got {len(population)}")
        needed = {"crossover": ("mate", "mutate"), "mutation-only": ("mutate",), "none": ()}[self.variation]
        check_toolbox(toolbox, ("evaluate", "map", "clone", *needed), f"CoSyNE with {self.variation!r}")

    def start(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        nevals = evaluate_invalid(state.population, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(state.population)
        return {"nevals": nevals, **fitness_record(state.population)}

    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        ranked = sorted(state.population, key=lambda individual: individual.fitness.values[0], reverse=True)
        size = len(ranked)
        parents = ranked[: size // 4]
        n_offspring = 2 * (len(parents) // 2)
        offspring = []
        for _ in range(n_offspring // 2):
            first, second = (toolbox.clone(random.choice(parents)) for _ in range(2))
            if self.variation == "crossover":
                toolbox.mate(first, second)
            for child in (first, second):
                if self.variation != "none":
                    toolbox.mutate(child)
                del child.fitness.values
            offspring += [first, second]
        networks = ranked[: size - n_offspring] + offspring
        if self.permute:
            for k in permute_records(networks, self._marks(networks)):
                if networks[k].fitness.valid:
                    del networks[k].fitness.values
        nevals = evaluate_invalid(networks, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(networks)
        state.population[:] = networks
        return {"nevals": nevals, **fitness_record(networks)}

    @staticmethod
    def _marks(networks: Sequence[Individual]) -> list[list[torch.Tensor]]:
        """Per layer and slot, the marked networks in a random order (the paper's marking rule on
        the fitness rank normalised to [0, 1]; unscored offspring are always marked)."""
        size = len(networks)
        scored = [n.fitness.values[0] if n.fitness.valid else None for n in networks]
        values = sorted(v for v in scored if v is not None)
        low, high = (values[0], values[-1]) if values else (0.0, 0.0)
        span = high - low or 1.0
        keep = torch.tensor([0.0 if v is None else ((v - low) / span) ** (1.0 / size) for v in scored])
        marks = []
        for layer in networks[0].layers:
            slots = []
            for _ in range(len(layer)):
                chosen = [k for k in range(size) if random.random() >= float(keep[k])]
                random.shuffle(chosen)
                slots.append(torch.tensor(chosen, dtype=torch.long))
            marks.append(slots)
        return marks
