"""Memetic (Lamarckian) evolution as a strategy: every child learns before it is scored."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import torch
from deap import base

from neuroevo.decoding import decode
from neuroevo.genomes import Genome
from populations.checkpoint import GAState
from populations.engine import Strategy, evaluate_invalid
from populations.individuals import Individual
from populations.learning import LamarckianTraining
from populations.variation import (
    apply_variation,
    check_toolbox,
    check_variation,
    needed_functions,
    select_children,
)

__all__ = ["ORDERS", "Memetic", "prediction_disagreement"]

#: Where the learning step sits in a generation.
ORDERS = ("learn-then-vary", "vary-then-learn")


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


class Memetic(Strategy):
    """Memetic evolution. Generation 0 is the initial population after one learning step each;
    every later generation selects parents (:func:`~populations.variation.select_children`), then,
    by ``order``:

    * ``"learn-then-vary"``: every selected parent learns (``toolbox.learn``), then the learned
      parents are varied and the varied children are scored: a crossover child is a mixture of
      two freshly trained members (a "model soup");
    * ``"vary-then-learn"``: the parents are varied first, then every child learns and is scored.

    Cost, whatever the variation: ``len(population)`` fitness evaluations and
    ``len(population) * learner.steps`` gradient steps per generation. Logbook fields:
    ``gradient_steps`` (cumulative, counted by ``learner``), ``max`` and ``avg`` fitness,
    ``intermediate_avg`` (mean fitness between the two stages, a diagnostic of how destructive the
    variation is, not counted in ``nevals`` nor seen by selection; NaN when not measured and in
    generation 0) and ``diversity`` (:func:`prediction_disagreement` on ``probe``; NaN without one).

    Args:
        learner: the learning step (also registered as ``toolbox.learn``); counts gradient steps.
        variation: one of :data:`populations.variation.VARIATIONS`.
        order: one of :data:`ORDERS`.
        cxpb: probability that a pair is mated (crossover).
        probe: ``[B, *input_shape]`` inputs for the diversity measure.
        measure_children: score the intermediate stage.
        lr_schedule: generation -> the learner's learning rate in that generation (``None``: leave it).
    """

    name = "memetic"
    logbook_fields = ("gradient_steps", "max", "avg", "intermediate_avg", "diversity")

    def __init__(
        self,
        learner: LamarckianTraining,
        *,
        variation: str,
        order: str = "learn-then-vary",
        cxpb: float = 1.0,
        probe: torch.Tensor | None = None,
        measure_children: bool = True,
        lr_schedule: Callable[[int], float] | None = None,
    ) -> None:
        self.learner, self.variation, self.order, self.cxpb = learner, variation, order, cxpb
        self.probe, self.measure_children, self.lr_schedule = probe, measure_children, lr_schedule

    def check(self, population: Sequence[Individual], toolbox: base.Toolbox) -> None:
        super().check(population, toolbox)
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; choose one of {', '.join(ORDERS)}")
        check_variation(self.variation, len(population))
        check_toolbox(toolbox, ("evaluate", "map", "learn", *needed_functions(self.variation)),
                      f"memetic evolution with {self.variation!r}")

    def start(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        return self._step(state, toolbox, [toolbox.clone(individual) for individual in state.population], vary=False)

    def generation(self, state: GAState, toolbox: base.Toolbox) -> dict[str, Any]:
        return self._step(state, toolbox, select_children(state.population, toolbox, self.variation), vary=True)

    def restore(self, state: GAState) -> None:
        self.learner.gradient_steps = int(state.logbook[-1]["gradient_steps"])

    def _step(self, state: GAState, toolbox: base.Toolbox, children: list[Individual], *, vary: bool) -> dict[str, Any]:
        if self.lr_schedule is not None:
            self.learner.lr = self.lr_schedule(state.generation)
        learn_first = self.order == "learn-then-vary"
        if vary and not learn_first:
            apply_variation(children, toolbox, self.variation, cxpb=self.cxpb)
        intermediate = float("nan")
        if self.measure_children and vary:
            for child in children:
                del child.fitness.values
            scores = toolbox.map(toolbox.evaluate, children)
            intermediate = sum(f[0] for f in scores) / len(scores)
        for child in children:
            toolbox.learn(child)
            del child.fitness.values
        if vary and learn_first:
            apply_variation(children, toolbox, self.variation, cxpb=self.cxpb)
        nevals = evaluate_invalid(children, toolbox)
        if state.halloffame is not None:
            state.halloffame.update(children)
        state.population[:] = children
        values = [child.fitness.values[0] for child in children]
        return {
            "nevals": nevals, "gradient_steps": self.learner.gradient_steps, "max": max(values),
            "avg": sum(values) / len(values), "intermediate_avg": intermediate,
            "diversity": float("nan") if self.probe is None else prediction_disagreement(children, self.probe),
        }
