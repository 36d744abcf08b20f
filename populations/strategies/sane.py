"""SANE over neuron records: one population of hidden neurons, and blueprints that assemble networks.

Symbiotic Adaptive Neuro-Evolution (Moriarty & Miikkulainen, Machine Learning 1996; Evolutionary
Computation 1997, the "hierarchical" version with blueprints) evolves two populations at once: a
pool of hidden neurons, and network blueprints, each a list of pointers into the pool. A neuron is
credited with the mean fitness of the best few networks it took part in, so neurons are selected
for how well they cooperate. Here a neuron is a neuron record: an embedding record generates its
incoming and outgoing weights in whatever network it joins. The output neurons (output ``c`` is
action ``c``) are not pooled; each blueprint carries its own.

The population the engine holds is ``[pool, *blueprints]`` (:func:`sane_population`):

* ``pool``: a genome whose hidden layer ``l`` holds all ``N_l`` pool neurons of that layer (its
  output layer is unused);
* each blueprint: the network it assembles, so its hidden records are copies of pool records. A
  blueprint's pointers are recovered by matching its records to the pool's (identical records are
  one neuron: they build the same network), so checkpoints and resume need nothing else.

Per generation (``B`` blueprints, ``N`` pool neurons per hidden layer):

1. every neuron's credit: the mean fitness of the best ``best_networks`` (5) blueprints that point
   to it; a neuron no blueprint uses ranks last;
2. neurons: each of the top quarter mates with a better-ranked neuron (the best with another of the
   top quarter) and its two offspring replace two of the bottom half: ``crossover`` interpolates
   the two records (:func:`operators.cx_interpolate`, weights ``alpha`` and ``1 - alpha``) then
   mutates them (``toolbox.mutate``), ``mutation-only`` mutates two copies of the elite neuron,
   ``none`` copies it;
3. blueprints: likewise, the top quarter breeds two children each into the bottom half:
   ``crossover`` cuts the parents' pointer lists at one point and interpolates their output
   records, then mutates; ``mutation-only`` copies the elite blueprint, then mutates. Mutation of
   a child (not in ``none``) switches each pointer to a random neuron with probability
   ``pointer_mutation`` (0.01) and each pointer to a neuron that just had offspring to one of them
   with probability ``offspring_pointer`` (0.5), and mutates the output records (``toolbox.mutate``);
4. every blueprint is rebuilt from the pool; those whose network changed (children, and blueprints
   pointing to a replaced neuron) are scored (``toolbox.map(toolbox.evaluate, ...)``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from deap import base

import operators
from neuroevo.genomes import EmbeddingGenome
from neuroevo.neurons import NeuronSet
from operators.randomness import python_rng
from populations.checkpoint import GAState
from populations.engine import Strategy, evaluate_invalid
from populations.individuals import EmbeddingIndividual, Individual, individual_from_genome
from populations.strategies.ea_simple import fitness_record
from populations.strategies.esp import NEURON_VARIATIONS, check_members
from populations.variation import check_toolbox

__all__ = ["SANE", "blueprint_pointers", "neuron_credit", "sane_population"]


def _hidden(genome: Individual) -> list[int]:
    return list(genome.architecture.hidden_layers)


def sane_population(members: Sequence[Individual]) -> list[EmbeddingIndividual]:
    """``[pool, *blueprints]`` made from whole networks: the pool holds every member's hidden
    records, layer by layer (``N_l = len(members) * width_l``), and blueprint ``k`` is a copy of
    member ``k`` (pointing to its own records). Members are not modified.

    Raises:
        ValueError: no members, a direct genome, or members of different widths or input encodings.
    """
    check_members(members, "sane_population")
    first = members[0]
    layers = [NeuronSet.concat([member.layers[index] for member in members]) if index in _hidden(first)
              else first.layers[index].clone() for index in range(len(first.layers))]
    pool = EmbeddingIndividual(first.architecture, first.input_encoding, layers)
    return [pool, *(individual_from_genome(member) for member in members)]


def blueprint_pointers(pool: Individual, blueprints: Sequence[Individual]) -> list[list[torch.Tensor]]:
    """Per blueprint, per hidden layer, the ``[width]`` pool indices of its records.

    Raises:
        ValueError: a blueprint holds a record that is not in the pool.
    """
    tables = {}
    for index in _hidden(pool):
        rows = pool.layers[index].record_matrix().numpy()
        tables[index] = {row.tobytes(): k for k, row in enumerate(rows)}
    pointers = []
    for b, blueprint in enumerate(blueprints):
        mine = []
        for index, table in tables.items():
            found = [table.get(row.tobytes()) for row in blueprint.layers[index].record_matrix().numpy()]
            if None in found:
                raise ValueError(f"blueprint {b} holds a neuron of layer {index} that is not in the pool "
                                 f"(build the population with sane_population)")
            mine.append(torch.tensor(found, dtype=torch.long))
        pointers.append(mine)
    return pointers


def neuron_credit(values: Sequence[float], pointers: Sequence[torch.Tensor], size: int, best: int) -> torch.Tensor:
    """``[size]`` float64: each pool neuron's mean fitness over the ``best`` fittest blueprints
    pointing to it (``-inf`` for a neuron no blueprint uses).

    Args:
        values: the blueprints' fitness.
        pointers: per blueprint, its pool indices in one layer.
        size: the pool's neurons in that layer.
        best: how many of a neuron's networks count.
    """
    joined: list[list[float]] = [[] for _ in range(size)]
    for value, chosen in zip(values, pointers):
        for k in set(chosen.tolist()):
            joined[k].append(float(value))
    return torch.tensor([sum(sorted(v, reverse=True)[:best]) / len(v[:best]) if v else -math.inf for v in joined],
                        dtype=torch.float64)


class SANE(Strategy):
    """Hierarchical SANE over neuron records (see the module docstring). Only embedding genomes fit.

    Each generation scores at most ``len(blueprints)`` networks. Logbook: ``max`` and ``avg``
    fitness of the blueprints. The hall of fame collects blueprint networks (the run's result).

    Args:
        variation: one of :data:`~populations.strategies.esp.NEURON_VARIATIONS`.
        alpha: interpolation weight of the second parent (crossover of neurons and of output records).
        best_networks: how many of its best networks a neuron's credit averages.
        pointer_mutation: probability that a child's pointer moves to a random neuron.
        offspring_pointer: probability that a child's pointer to a neuron that just had offspring
            moves to one of them.
    """

    name = "sane"

    def __init__(self, *, variation: str = "crossover", alpha: float = 0.5, best_networks: int = 5,
                 pointer_mutation: float = 0.01, offspring_pointer: float = 0.5) -> None:
        if variation not in NEURON_VARIATIONS:
            raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(NEURON_VARIATIONS)}")
        for label, p in (("alpha", alpha), ("pointer_mutation", pointer_mutation),
                         ("offspring_pointer", offspring_pointer)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {p}")
        if best_networks < 1:
            raise ValueError(f"best_networks must be at least 1, got {best_networks}")
        self.variation, self.alpha, self.best_networks = variation, alpha, best_networks
        self.pointer_mutation, self.offspring_pointer = pointer_mutation, offspring_pointer

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        if len(population) < 9:
            raise ValueError(f"SANE breeds the top quarter of its blueprints into the bottom half, so it needs the "
                             f"pool and at least 8 blueprints; got a population of {len(population)}")
        pool, blueprints = population[0], population[1:]
        check_members(blueprints, "SANE's blueprints")
        if not isinstance(pool, EmbeddingGenome) or pool.input_encoding.identity != blueprints[0].input_encoding.identity:
            raise ValueError("SANE's pool (the population's first genome) must be an embedding genome with the "
                             "blueprints' input encoding (build the population with sane_population)")
        for index in _hidden(pool):
            if len(pool.layers[index]) < max(8, len(blueprints[0].layers[index])):
                raise ValueError(f"the pool's layer {index} has {len(pool.layers[index])} neurons, fewer than 8 or than "
                                 f"a blueprint's {len(blueprints[0].layers[index])}: put the pool first "
                                 f"(sane_population)")
        blueprint_pointers(pool, blueprints)
        check_toolbox(toolbox, ("evaluate", "map", "clone", *(("mutate",) if self.variation != "none" else ())),
                      f"SANE with {self.variation!r}")

    def start(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        blueprints = state.population[1:]
        nevals = evaluate_invalid(blueprints, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(blueprints)
        return {"nevals": nevals, **fitness_record(blueprints)}

    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        pool, blueprints = state.population[0], state.population[1:]
        pointers = blueprint_pointers(pool, blueprints)
        values = [blueprint.fitness.values[0] for blueprint in blueprints]
        pool, offspring_of = self._breed_neurons(pool, pointers, values, toolbox)
        networks, pointers = self._breed_blueprints(pool, blueprints, pointers, offspring_of, toolbox)
        for network, chosen in zip(networks, pointers):
            rebuilt = list(network.layers)
            for k, index in enumerate(_hidden(pool)):
                rebuilt[index] = pool.layers[index].select(chosen[k])
            if network.fitness.valid and any(new != old for new, old in zip(rebuilt, network.layers)):
                del network.fitness.values
            network.layers[:] = rebuilt
        nevals = evaluate_invalid(networks, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(networks)
        state.population[:] = [pool, *networks]
        return {"nevals": nevals, **fitness_record(networks)}

    @staticmethod
    def _pairs(count: int, rng) -> list[tuple[int, int]]:
        """The top quarter's matings, as ranks: each elite rank with a better one (rank 0 with
        another elite)."""
        elite = max(1, count // 4)
        return [(r, rng.randrange(r) if r else (rng.randrange(1, elite) if elite > 1 else 0)) for r in range(elite)]

    def _breed_neurons(self, pool: Individual, pointers: list[list[torch.Tensor]], values: list[float],
                       toolbox: base.Toolbox) -> tuple[Individual, list[dict[int, list[int]]]]:
        """The next pool and, per hidden layer, each elite neuron's two offspring positions."""
        rng = python_rng(None)
        first, second = toolbox.clone(pool), toolbox.clone(pool)
        placed, offspring_of = [], []
        for k, index in enumerate(_hidden(pool)):
            size = len(pool.layers[index])
            credit = neuron_credit(values, [chosen[k] for chosen in pointers], size, self.best_networks)
            ranks = torch.sort(-credit, stable=True).indices
            pairs = self._pairs(size, rng)
            slots = ranks[size - 2 * len(pairs):]
            elite = ranks[[a for a, _ in pairs]]
            mates = ranks[[b for _, b in pairs]] if self.variation == "crossover" else elite
            one, two = slots[0::2], slots[1::2]
            records = pool.layers[index]
            a, b = first.layers[index], second.layers[index]
            first.layers[index] = a.replace(**{name: _put(a[name], one, records[name][elite]) for name in a.names})
            second.layers[index] = b.replace(**{name: _put(b[name], one, records[name][mates]) for name in b.names})
            placed.append((index, one, two))
            offspring_of.append({int(e): [int(x), int(y)] for e, x, y in zip(elite, one, two)})
        if self.variation == "crossover":
            operators.cx_interpolate(first, second, alpha=self.alpha)
        if self.variation != "none":
            toolbox.mutate(first)
            toolbox.mutate(second)
        layers = list(pool.layers)
        for index, one, two in placed:
            records, a, b = layers[index], first.layers[index], second.layers[index]
            layers[index] = records.replace(**{name: _put(_put(records[name], one, a[name][one]), two, b[name][one])
                                               for name in records.names})
        return EmbeddingIndividual(pool.architecture, pool.input_encoding, layers), offspring_of

    def _breed_blueprints(self, pool: Individual, blueprints: Sequence[Individual], pointers: list[list[torch.Tensor]],
                          offspring_of: list[dict[int, list[int]]], toolbox: base.Toolbox
                          ) -> tuple[list[Individual], list[list[torch.Tensor]]]:
        """The next blueprints (the kept ones first, in rank order) and their pointers."""
        rng = python_rng(None)
        order = sorted(range(len(blueprints)), key=lambda b: blueprints[b].fitness.values[0], reverse=True)
        pairs = self._pairs(len(blueprints), rng)
        keep = order[: len(blueprints) - 2 * len(pairs)]
        networks, chosen = [blueprints[b] for b in keep], [pointers[b] for b in keep]
        for elite_rank, mate_rank in pairs:
            a, b = order[elite_rank], order[mate_rank] if self.variation == "crossover" else order[elite_rank]
            children = [toolbox.clone(blueprints[a]), toolbox.clone(blueprints[b])]
            lists = [[p.clone() for p in pointers[a]], [p.clone() for p in pointers[b]]]
            if self.variation == "crossover":
                operators.cx_interpolate(*children, alpha=self.alpha)
                for k, (left, right) in enumerate(zip(*lists)):
                    cut = rng.randrange(1, len(left)) if len(left) > 1 else 0
                    lists[0][k] = torch.cat([left[:cut], right[cut:]])
                    lists[1][k] = torch.cat([right[:cut], left[cut:]])
            else:
                lists[1] = [p.clone() for p in lists[0]]
            for child, mine in zip(children, lists):
                if self.variation != "none":
                    toolbox.mutate(child)
                    self._mutate_pointers(mine, [len(pool.layers[index]) for index in _hidden(pool)], offspring_of, rng)
                del child.fitness.values
            networks += children
            chosen += lists
        return networks, chosen

    def _mutate_pointers(self, pointers: list[torch.Tensor], sizes: list[int], offspring_of: list[dict[int, list[int]]],
                         rng) -> None:
        for layer, (chosen, size) in enumerate(zip(pointers, sizes)):
            for i in range(len(chosen)):
                target = int(chosen[i])
                if target in offspring_of[layer] and rng.random() < self.offspring_pointer:
                    chosen[i] = rng.choice(offspring_of[layer][target])
                if rng.random() < self.pointer_mutation:
                    chosen[i] = rng.randrange(size)


def _put(tensor: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A copy of ``tensor`` with ``rows`` set to ``values``."""
    out = tensor.clone()
    out[rows] = values
    return out
