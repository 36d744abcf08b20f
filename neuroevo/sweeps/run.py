"""Crossover destructiveness sweeps: children over coefficients x repeats, evaluated in one batch."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from neuroevo.data import Dataset, as_dataset
from neuroevo.encoding import check_same_encoding
from neuroevo.evaluation import evaluate_population
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.provenance import provenance
from neuroevo.sweeps.results import SweepResult, VariantCurve
from neuroevo.sweeps.variants import Variant, resolve_variants
from neuroevo.validation import check_int
from operators import cx_transplant

KINDS = ("transplant", "transplant-all-hidden", "interpolate", "interpolate-all")
DEFAULT_COEFFICIENTS = tuple(np.linspace(0.0, 1.0, 21).round(4))


@dataclass
class SweepParents:
    """The two parents of a sweep, in either or both encodings.

    Attributes:
        direct: ``(A, B)`` direct genomes (trained networks), or ``None``.
        embedding: ``(A, B)`` embedding genomes on one shared input encoding (e.g. fits of the
            direct parents, B fitted with A's input encoding held fixed), or ``None``.

    ``A`` is the target (the child keeps A and receives from B); retention is measured against A.
    """

    direct: tuple[DirectGenome, DirectGenome] | None = None
    embedding: tuple[EmbeddingGenome, EmbeddingGenome] | None = None

    def pair(self, encoding: str) -> tuple[Genome, Genome]:
        pair = self.direct if encoding == "direct" else self.embedding
        if pair is None:
            raise ValueError(f"the {encoding} variants need {encoding} parents, none were given")
        return pair

    def validate(self) -> None:
        """Raise ``ValueError`` unless each pair is crossable (same architecture, shared basis) and
        every parent is a consistent genome with finite records: the one check of each parent a
        sweep makes before it builds children from them."""
        if self.direct is None and self.embedding is None:
            raise ValueError("a sweep needs at least one pair of parents")
        for encoding, pair in (("direct", self.direct), ("embedding", self.embedding)):
            if pair is None:
                continue
            a, b = pair
            expected = DirectGenome if encoding == "direct" else EmbeddingGenome
            if not (isinstance(a, expected) and isinstance(b, expected)):
                raise ValueError(f"{encoding} parents must both be {expected.__name__}s")
            for name, genome in zip("AB", pair):
                try:
                    genome.validate()
                except ValueError as error:
                    raise ValueError(f"{encoding} parent {name}: {error}") from None
            if a.architecture != b.architecture or a.widths != b.widths:
                raise ValueError(
                    f"{encoding} parents have different architectures: {a.architecture} {a.widths} "
                    f"vs {b.architecture} {b.widths}"
                )
            if encoding == "embedding":
                check_same_encoding(a.input_encoding, b.input_encoding, "the embedding parents")
        if self.direct and self.embedding:
            da, ea = self.direct[0].architecture, self.embedding[0].architecture
            if da.n_layers != ea.n_layers or da.input_shape != ea.input_shape:
                raise ValueError(f"direct parents ({da.spec}) and embedding parents ({ea.spec}) differ in depth or input")


def _shuffled(genome: Genome, rng: random.Random) -> Genome:
    """``genome`` with every hidden layer's neurons in a fresh random order (same function)."""
    result = genome.sharing_sets()
    generator = torch.Generator().manual_seed(rng.getrandbits(63))
    for index in genome.architecture.hidden_layers:
        result.permute_layer(index, torch.randperm(result.widths[index], generator=generator))
    return result


def _check_layer(kind: str, parents: SweepParents, layer: int | None) -> int | None:
    arch = (parents.direct or parents.embedding)[0].architecture
    if kind in ("interpolate-all", "transplant-all-hidden"):
        if layer is not None:
            raise ValueError(f"a {kind} sweep crosses every layer at once; do not pass a layer")
        return None
    if layer is None:
        raise ValueError(f"a {kind} sweep needs the layer to cross")
    if not -arch.n_layers <= layer < arch.n_layers:
        raise ValueError(f"layer {layer} does not exist: {arch.spec} has layers 0..{arch.n_layers - 1}")
    layer %= arch.n_layers
    if kind == "transplant" and arch.is_output(layer):
        raise ValueError(f"layer {layer} is the output layer; transplant sweeps cross a hidden layer")
    return layer


def run_sweep(
    kind: str,
    parents: SweepParents,
    data: Dataset,
    *,
    layer: int | None = None,
    coefficients: Sequence[float] = DEFAULT_COEFFICIENTS,
    repeats: int = 10,
    variants: list[str] | None = None,
    probe: Tensor | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    memory_budget: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Cross parent A with parent B at every coefficient, ``repeats`` times, for each variant.

    Each repeat draws a fresh random neuron order for the donor B (which changes what index-wise
    operators pair up) and, for transplant, a fresh random choice of moved neurons. Aligned
    variants align B to A once per sweep (matching does not depend on B's order; see
    :func:`_children` for how children are then built). All children of a variant
    (``repeats x coefficients``) are evaluated in one batched pass (:func:`evaluate_population`).

    Args:
        kind: ``"transplant"`` (one hidden layer, coefficient = fraction of neurons moved),
            ``"transplant-all-hidden"`` (the same fraction of every hidden layer at once),
            ``"interpolate"`` (one layer, coefficient = alpha) or ``"interpolate-all"`` (every layer).
        parents: the parents in one or both encodings.
        data: evaluation data (say which split in reports: it is recorded in the result).
        layer: the crossed layer (not for the ``...-all...`` kinds).
        coefficients: ``[C]`` values in ``[0, 1]``.
        repeats: random repeats per coefficient (deterministic variants, i.e. aligned or
            interpolation without random order effects, are still run ``repeats`` times for
            transplant, once for interpolation).
        variants: names from :data:`~neuroevo.sweeps.variants.VARIANTS` (default: all that apply
            to ``kind`` and have parents).
        probe: ``[B, *input_shape]`` inputs for variants that use data (activation matching,
            REPAIR); take them from the training split, never from ``data``.
        seed: seed of the repeats' randomness (the same for every variant, so they see the same
            neuron choices).
        device, memory_budget: passed to :func:`evaluate_population`.
        progress: show a progress bar over variants.

    Returns:
        A :class:`SweepResult` with one curve per variant.

    Raises:
        ValueError: before any evaluation, for parents of different architectures or encodings,
            no shared input encoding, a layer that does not exist, an unknown variant, a
            coefficient outside [0, 1], or a data-using variant without a probe.
    """
    data = as_dataset(data)
    if kind not in KINDS:
        raise ValueError(f"unknown sweep kind {kind!r}; choose one of {', '.join(KINDS)}")
    parents.validate()
    layer = _check_layer(kind, parents, layer)
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if coefficients.ndim != 1 or len(coefficients) < 2 or coefficients.min() < 0 or coefficients.max() > 1:
        raise ValueError("coefficients must be at least two values in [0, 1]")
    check_int("repeats", repeats)
    available = [e for e in ("direct", "embedding") if getattr(parents, e) is not None]
    chosen = resolve_variants(variants, "transplant" if kind.startswith("transplant") else "interpolate")
    if variants is None:
        chosen = [v for v in chosen if v.encoding in available]
    for variant in chosen:
        parents.pair(variant.encoding)
        if variant.needs_probe and probe is None:
            raise ValueError(f"variant {variant.name!r} uses data: pass a probe batch from the training split")

    budget = {} if memory_budget is None else {"memory_budget": memory_budget}
    targets = {e: parents.pair(e) for e in available}
    parent_list = [g for e in available for g in targets[e]]
    parent_scores = evaluate_population(parent_list, data, device=device, **budget)
    parent_accuracy = {
        f"{e} {name}": float(parent_scores.accuracy[2 * i + j])
        for i, e in enumerate(available)
        for j, name in enumerate("AB")
    }

    result = SweepResult(
        kind=kind,
        layer=layer,
        dataset=f"{data.name} ({data.split}, {len(data)} samples)",
        parent_accuracy=parent_accuracy,
        setup={"repeats": repeats, "seed": seed, "architecture": parent_list[0].architecture.spec,
               "parent_hashes": {f"{e} {name}": g.content_hash for e in available
                                 for name, g in zip("AB", targets[e])}},
        provenance=provenance(dataset=data.name, split=f"{data.split} ({len(data)} samples)", data=[data]),
    )
    measured_on = {key: result.provenance[key] for key in ("commit", "dirty", "code")}
    for variant in tqdm(chosen, desc=f"{kind} sweep", disable=not progress):
        target, donor = targets[variant.encoding]
        children = _children(kind, variant, target, donor, layer, coefficients, repeats, probe, seed)
        scores = evaluate_population(children, data, device=device, **budget)
        shape = (len(children) // len(coefficients), len(coefficients))
        result.curves.append(
            VariantCurve(
                variant=variant.name,
                coefficients=coefficients,
                accuracy=scores.accuracy.cpu().double().numpy().reshape(shape),
                cross_entropy=scores.cross_entropy.cpu().double().numpy().reshape(shape),
                target_accuracy=parent_accuracy[f"{variant.encoding} A"],
                measured_on=measured_on,
            )
        )
    return result


def _children(
    kind: str,
    variant: Variant,
    target: Genome,
    donor: Genome,
    layer: int | None,
    coefficients: np.ndarray,
    repeats: int,
    probe: Tensor | None,
    seed: int,
) -> list[Genome]:
    """The ``[repeats * C]`` children of one variant, repeat-major.

    B is aligned to A once (:meth:`Variant.prepare_donor`). A direct aligned variant crossing one
    layer (``kind="transplant"``) then builds each child with the index-wise
    :func:`~operators.cx_transplant` on A and that aligned B, which is exactly the variant's own
    operator :func:`~operators.cx_transplant_aligned` on A and B (it aligns B to A, then swaps
    neuron ``i`` with neuron ``i``) without repeating the probe forward and the matching for
    every child. Embedding-aligned variants keep their operator: index-wise embedding transplant
    draws the two parents' neurons independently, so it is not the aligned one. Crossing every
    hidden layer aligns each layer to the child crossed so far, so it too keeps the operator.
    """
    aligned_donor = variant.prepare_donor(target, donor, layer, probe)
    deterministic = kind.startswith("interpolate") and variant.align is not None
    pre_aligned = kind == "transplant" and variant.align is not None and variant.encoding == "direct"
    crossed = target.architecture.hidden_layers if kind == "transplant-all-hidden" else (layer,)
    children = []
    for repeat in range(1 if deterministic else repeats):
        rng = random.Random(f"{seed}-{repeat}")
        repeat_donor = aligned_donor if variant.align is not None else _shuffled(donor, rng)
        for coefficient in coefficients:
            child = target.sharing_sets()
            if pre_aligned:
                cx_transplant(child, repeat_donor.sharing_sets(), layer, float(coefficient),
                              move_outgoing=variant.move_outgoing, repair=variant.repair,
                              probe=probe if variant.repair else None, rng=rng)
            elif kind.startswith("transplant"):
                for index in crossed:
                    variant.transplant(child, repeat_donor.sharing_sets(), index, float(coefficient), probe, rng)
            else:
                variant.interpolate(child, repeat_donor.sharing_sets(), layer, float(coefficient), probe)
            children.append(child)
    return children
