"""How a generation's children are made from the selected parents (memetic evolution's arms)."""

from __future__ import annotations

import random
from typing import Sequence

from deap import base

from populations.individuals import Individual

__all__ = ["VARIATIONS", "apply_variation", "check_toolbox", "check_variation", "needed_functions", "select_children",
           "vary"]

#: ``crossover``: consecutive pairs are mated (``toolbox.mate``); ``mutation-only``: every child is
#: mutated (``toolbox.mutate``); ``none``: selected copies, changed only by their own learning;
#: ``independent``: no selection at all, every member continues its own lineage.
VARIATIONS = ("crossover", "mutation-only", "none", "independent")

#: The toolbox functions each variation uses, besides ``clone``.
_NEEDS = {"crossover": ("select", "mate"), "mutation-only": ("select", "mutate"), "none": ("select",),
          "independent": ()}


def check_variation(variation: str, population_size: int) -> None:
    """Raises ``ValueError`` for an unknown variation, or crossover on an odd or too small population."""
    if variation not in VARIATIONS:
        raise ValueError(f"unknown variation {variation!r}; choose one of {', '.join(VARIATIONS)}")
    if variation == "crossover" and (population_size < 2 or population_size % 2):
        raise ValueError(
            f"crossover pairs consecutive children, so it needs an even population of at least 2, "
            f"got {population_size}"
        )


def check_toolbox(toolbox: base.Toolbox, needed: Sequence[str], what: str) -> None:
    """Raises ``ValueError`` naming the functions of ``needed`` that ``toolbox`` lacks (for ``what``)."""
    missing = sorted(name for name in needed if not hasattr(toolbox, name))
    if missing:
        raise ValueError(f"the toolbox lacks {', '.join(missing)}, needed by {what}")


def select_children(population: Sequence[Individual], toolbox: base.Toolbox, variation: str) -> list:
    """Clones of the parents of the next generation: ``toolbox.select`` of ``len(population)``
    individuals, or every member in order for ``independent`` (``population`` is not modified).

    Raises:
        ValueError: an unknown variation, or crossover on an odd or too small population.
    """
    check_variation(variation, len(population))
    parents = population if variation == "independent" else toolbox.select(population, len(population))
    return [toolbox.clone(individual) for individual in parents]


def apply_variation(children: list[Individual], toolbox: base.Toolbox, variation: str, *, cxpb: float = 1.0) -> list:
    """Vary ``children`` in place and return them: ``crossover`` mates consecutive pairs
    (``toolbox.mate``, each pair with probability ``cxpb``), ``mutation-only`` mutates every child
    (``toolbox.mutate``), ``none`` and ``independent`` leave them as they are. Fitness is not touched.

    Raises:
        ValueError: an unknown variation, or crossover on an odd or too small list.
    """
    check_variation(variation, len(children))
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


def needed_functions(variation: str) -> tuple[str, ...]:
    """The toolbox functions ``variation`` uses (``clone`` included)."""
    return ("clone", *_NEEDS[variation])
