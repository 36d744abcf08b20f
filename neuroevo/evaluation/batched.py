"""Score a whole population on a data set in one batched pass, and the single-genome reference.

Typical use (DEAP)::

    scores = evaluate_population(population, test_set)           # a Dataset or (images, labels)
    for individual, fitness in zip(population, scores.fitness("accuracy")):
        individual.fitness.values = fitness
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import torch
from torch import Tensor

from neuroevo.data import as_dataset
from neuroevo.evaluation.budget import (
    FLOAT_BYTES,
    BucketCost,
    EvaluationPlan,
    activation_bytes,
    plan_evaluation,
    result_bytes,
)
from neuroevo.evaluation.forward import FlopCounter, SharedInputs, stack_logits
from neuroevo.evaluation.metrics import METRICS, PopulationScores, ScoreAccumulator, check_metrics
from neuroevo.evaluation.single import check_fits_images, data_tensors
from neuroevo.evaluation.stacking import (
    GenomeStack,
    bucket_genomes,
    check_one_device,
    share_first_layer_rows,
    stack_genomes,
)
from neuroevo.genomes import EmbeddingGenome, Genome
from neuroevo.validation import check_int

DEFAULT_MEMORY_BUDGET = 512 * 2**20
# CPU work sizes (how they were chosen: docs/design_notes.md). Chunks of samples and tiles of
# activations that stay cache resident:
CPU_SAMPLES_PER_CHUNK = 256
CPU_TILE_BYTES = 4 * 2**20
# Compute-bound buckets (a dense first layer on the pixels; conv networks, tiled as whole buckets):
CPU_LARGE_TILE_BYTES = 64 * 2**20


def evaluate_population(
    genomes: Sequence[Genome],
    data: Any,
    *,
    metrics: Sequence[str] = METRICS,
    device: torch.device | str | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    batch_size: int | None = None,
    mixed_encodings: bool = False,
) -> PopulationScores:
    """Score every genome on ``data`` with batched products, chunked to a memory budget.

    Genomes are bucketed by shape (encoding class, architecture, widths, input encoding); each
    bucket's records are stacked and moved to ``device`` once per pass; the data streams through
    in chunks, and for every chunk the input projection ``x @ Z_in`` is computed once per input
    encoding. Each dense layer is applied in dense or factored form, whichever costs fewer FLOPs.
    First-layer neurons that several genomes share (children of crossover and their parents) are
    computed once per data chunk (or once per tile of genomes, when few repeat).

    Args:
        genomes: embedding and/or direct genomes (any mix of architectures and widths), all on
            one device and, unless ``mixed_encodings``, the embedding genomes on one input
            encoding; not modified.
        data: a :class:`~neuroevo.data.Dataset` or a pair ``(images, labels)``: images
            ``[N, *input_shape]`` (or ``[N, n_inputs]``), labels int64 ``[N]``.
        metrics: any of ``"accuracy"`` and ``"cross_entropy"``.
        device: where to compute (default: the device of the images).
        memory_budget: bytes the evaluation may use on ``device`` (estimated; see
            :mod:`neuroevo.evaluation.budget`).
        batch_size: most samples per chunk (default: as many as fit; a cache-sized chunk on the
            CPU).
        mixed_encodings: accept embedding genomes on different input encodings (each group then
            pays for its own input projection). Off by default: in a population, a second input
            encoding is almost always a mistake (say, genomes fitted separately), and their
            neurons cannot be crossed.

    Returns:
        :class:`PopulationScores` in the order of ``genomes``.

    Raises:
        ValueError: no genomes; genomes on different devices; embedding genomes on different
            input encodings (unless ``mixed_encodings``); data that does not match an
            architecture (input size, labels outside the classes); unknown metrics; a budget too
            small for one genome (the message names the bytes needed).
    """
    data = as_dataset(data)
    metrics = check_metrics(metrics)
    images, labels = _check_data(genomes, data)
    check_int("memory_budget", memory_budget)
    if batch_size is not None:
        check_int("batch_size", batch_size)
    device = torch.device(device) if device is not None else images.device
    n_samples = len(labels)
    buckets = bucket_genomes(genomes)
    sharing = Counter(g.input_encoding.identity for g in genomes if isinstance(g, EmbeddingGenome))
    if len(sharing) > 1 and not mixed_encodings:
        raise ValueError(
            f"the embedding genomes are built on {len(sharing)} different input encodings (genomes per "
            f"encoding: {sorted(sharing.values(), reverse=True)}); a population shares one, so its neurons "
            "can be crossed. Pass mixed_encodings=True to evaluate the groups anyway."
        )

    def build(positions: list[int], on: torch.device | str) -> GenomeStack:
        members = [genomes[p] for p in positions]
        first = members[0]
        n_sharing = sharing[first.input_encoding.identity] if isinstance(first, EmbeddingGenome) else 1
        return stack_genomes(members, on, n_samples=n_samples, n_sharing=n_sharing)

    plan = _plan([build(bucket[:1], "meta") for bucket in buckets], [len(b) for b in buckets], images,
                 device, memory_budget, batch_size)
    counter = FlopCounter()
    accumulator = ScoreAccumulator(len(genomes), metrics, device)
    with torch.no_grad():
        for tiles in plan.passes:
            work = []  # (population positions, the tiles of one stack)
            for index in sorted({tile.bucket for tile in tiles}):
                parts = [tile for tile in tiles if tile.bucket == index]
                start, stop = parts[0].start, parts[-1].stop
                stack = build(buckets[index][start:stop], device)
                counter.total += stack.generation_flops
                positions = torch.tensor(buckets[index][start:stop], device=device)
                bounds = [(t.start - start, t.stop - start) for t in parts]
                work.append((positions, share_first_layer_rows(stack, bounds)))
            for first in range(0, n_samples, plan.samples_per_chunk):
                chunk = slice(first, first + plan.samples_per_chunk)
                inputs = SharedInputs(images[chunk].to(device), counter)
                chunk_labels = labels[chunk].to(device)
                for positions, stacks in work:
                    logits = torch.cat([stack_logits(stack, inputs, counter) for stack in stacks])
                    accumulator.add(positions, logits, chunk_labels)
    return accumulator.scores(n_samples, counter.total)


def _plan(
    shapes: list[GenomeStack],
    sizes: list[int],
    images: Tensor,
    device: torch.device,
    memory_budget: int,
    batch_size: int | None,
) -> EvaluationPlan:
    """The chunking of an evaluation, from one-genome (meta) stacks of every bucket."""
    costs = [
        BucketCost(size, shape.nbytes, activation_bytes(shape), result_bytes(shape), str(shape.architecture),
                   large_tiles=not shape.dense[0].factored, batch_genomes=bool(shape.architecture.n_conv))
        for shape, size in zip(shapes, sizes)
    ]
    projections = {shape.encoding_id: shape.input_embeddings.shape[1] for shape in shapes if shape.encoding_id}
    patches = {shape.architecture.kernel_size for shape in shapes if shape.architecture.n_conv}
    shared_floats = images[0].numel() * (1 + sum(k * k for k in patches)) + sum(projections.values())
    on_cpu = device.type == "cpu"
    return plan_evaluation(
        costs,
        n_samples=len(images),
        shared_bytes=shared_floats * FLOAT_BYTES,
        memory_budget=memory_budget,
        batch_size=batch_size or (CPU_SAMPLES_PER_CHUNK if on_cpu else None),
        tile_bytes=CPU_TILE_BYTES if on_cpu else None,
        large_tile_bytes=CPU_LARGE_TILE_BYTES if on_cpu else None,
    )


def _check_data(genomes: Sequence[Genome], data: Any) -> tuple[Tensor, Tensor]:
    """``(images, labels)`` from a data set or a pair, checked against every genome (which must be
    valid genomes on one device)."""
    if not genomes:
        raise ValueError("no genomes to evaluate")
    for genome in genomes:
        if not isinstance(genome, Genome):
            raise ValueError(f"cannot evaluate {type(genome).__name__}: not a neuroevo genome")
    check_one_device(genomes)
    images, labels = data_tensors(data)
    for genome in genomes:
        check_fits_images(genome.architecture, images, labels)
        genome.validate()
    return images, labels
