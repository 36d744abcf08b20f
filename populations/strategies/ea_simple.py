"""DEAP's ``eaSimple`` as a strategy of the engine."""

from __future__ import annotations

from typing import Any, Sequence

from deap import algorithms, base, tools

from populations.checkpoint import GAState
from populations.engine import Strategy, evaluate_invalid
from populations.individuals import Individual
from populations.variation import check_toolbox

__all__ = ["EaSimple", "fitness_record"]


def fitness_record(individuals: Sequence[Individual], stats: tools.Statistics | None = None) -> dict[str, Any]:
    """``max`` and ``avg`` of the individuals' first fitness value, then ``stats`` compiled on them."""
    values = [individual.fitness.values[0] for individual in individuals]
    record: dict[str, Any] = {"max": max(values), "avg": sum(values) / len(values)}
    if stats is not None:
        record.update(stats.compile(individuals))
    return record


class EaSimple(Strategy):
    """The generational GA of ``deap.algorithms.eaSimple``: the same calls in the same order
    (select, ``varAnd``, ``toolbox.map(toolbox.evaluate, ...)``, hall of fame, statistics), drawing
    the same random numbers, so a seeded run returns the population ``eaSimple`` returns.

    Args:
        cxpb: probability that a pair of offspring is mated (``toolbox.mate``).
        mutpb: probability that an offspring is mutated (``toolbox.mutate``).
        stats: statistics recorded each generation, besides ``max`` and ``avg`` fitness.
    """

    name = "eaSimple"

    def __init__(self, *, cxpb: float, mutpb: float, stats: tools.Statistics | None = None) -> None:
        self.cxpb, self.mutpb, self.stats = cxpb, mutpb, stats
        extra = tuple(name for name in (stats.fields if stats else ()) if name not in ("max", "avg"))
        self.logbook_fields = ("max", "avg", *extra)

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        super().check(population, toolbox)
        needed = ["evaluate", "map", "select", "clone"]
        needed += ["mate"] if self.cxpb > 0 else []
        needed += ["mutate"] if self.mutpb > 0 else []
        check_toolbox(toolbox, needed, "eaSimple")

    def start(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        nevals = evaluate_invalid(state.population, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(state.population)
        return {"nevals": nevals, **fitness_record(state.population, self.stats)}

    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        offspring = toolbox.select(state.population, len(state.population))
        offspring = algorithms.varAnd(offspring, toolbox, self.cxpb, self.mutpb)
        nevals = evaluate_invalid(offspring, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(offspring)
        state.population[:] = offspring
        return {"nevals": nevals, **fitness_record(state.population, self.stats)}
