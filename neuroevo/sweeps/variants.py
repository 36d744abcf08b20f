"""The crossover variants a sweep compares, each a recipe over the :mod:`operators` functions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from torch import Tensor

from neuroevo.genomes import Genome
from operators.alignment import aligned_copy
from operators.registry import crossover


@dataclass(frozen=True)
class Variant:
    """One way of crossing two parents.

    Attributes:
        name: the label in tables and plots.
        encoding: ``"direct"`` or ``"embedding"``: which pair of parents it crosses.
        align: matching method applied before crossing (``None``: index-wise, the paper's operators;
            ``"activation"``, ``"weights"`` or ``"embedding"``, see :func:`operators.match_neurons`).
        move_outgoing: direct transplant also moves the neurons' outgoing weights.
        repair: REPAIR the child on the probe batch (direct genomes).
    """

    name: str
    encoding: str
    align: str | None = None
    move_outgoing: bool = False
    repair: bool = False

    @property
    def needs_probe(self) -> bool:
        """Whether the variant uses data (a probe batch) to build children."""
        return self.align == "activation" or self.repair

    def prepare_donor(self, target: Genome, donor: Genome, layer: int | None, probe: Tensor | None) -> Genome:
        """The donor parent as the operator should see it: aligned to ``target`` if the variant aligns.

        Alignment does not depend on the donor's initial neuron order, so it is done once per sweep.
        """
        if self.align is None:
            return donor
        layers = None if self.encoding == "direct" or layer is None else [layer]
        return aligned_copy(target, donor, method=self.align, layers=layers, probe=probe)

    def transplant(self, child: Genome, donor: Genome, layer: int, coefficient: float, probe: Tensor | None,
                   rng: random.Random) -> Genome:
        """``child`` (a copy of the target) after receiving ``coefficient`` of ``layer`` from ``donor``.

        Index-wise variants are the ``"transplant"`` crossover of :mod:`operators.registry`; aligned
        variants are ``"transplant-aligned"`` (matched neurons trade places), the operators a user
        registers, so a sweep measures exactly what users get.
        """
        options = dict(layer=layer, coefficient=coefficient, move_outgoing=self.move_outgoing, repair=self.repair,
                       probe=probe if self.needs_probe else None, rng=rng)
        if self.align is None:
            crossover("transplant", **options)(child, donor)
        else:
            crossover("transplant-aligned", method=self.align, **options)(child, donor)
        return child

    def interpolate(self, child: Genome, donor: Genome, layer: int | None, alpha: float, probe: Tensor | None) -> Genome:
        """``child`` (a copy of the target) moved ``alpha`` of the way to ``donor`` in ``layer`` (or all)."""
        crossover("interpolate", alpha=alpha, layer=layer, repair=self.repair,
                  probe=probe if self.repair else None)(child, donor)
        return child


#: Every variant the sweeps know, by command-line name.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("direct", "direct"),
        Variant("direct-outgoing", "direct", move_outgoing=True),
        Variant("direct-aligned-activation", "direct", align="activation"),
        Variant("direct-aligned-weights", "direct", align="weights"),
        Variant("direct-aligned-repair", "direct", align="activation", repair=True),
        Variant("embedding", "embedding"),
        Variant("embedding-aligned", "embedding", align="embedding"),
    )
}

#: Variants that only make sense for transplant (interpolation has no outgoing option).
TRANSPLANT_ONLY = ("direct-outgoing",)


def resolve_variants(names: list[str] | None, kind: str) -> list[Variant]:
    """The named variants (all that apply to ``kind`` when ``names`` is ``None``).

    Raises:
        ValueError: an unknown name, or a transplant-only variant in an interpolation sweep.
    """
    if names is None:
        names = [n for n in VARIANTS if kind == "transplant" or n not in TRANSPLANT_ONLY]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if kind != "transplant":
        misplaced = [n for n in names if n in TRANSPLANT_ONLY]
        if misplaced:
            raise ValueError(f"variants {misplaced} apply to transplant sweeps only")
    return [VARIANTS[n] for n in names]
