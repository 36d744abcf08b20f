"""Chunking a population evaluation to a memory budget.

The evaluator runs in *passes*: the stacked operands of every genome of a pass stay on the device
while the data streams through in chunks of ``s`` samples; within a chunk the genomes are processed
in *tiles* (a slice of one stack). The bytes on the device at any time are estimated as::

    sum over the pass's genomes of (operand bytes + s * result bytes)
    + s * shared bytes + s * (activation bytes of the largest tile)

where ``shared bytes`` is what every genome reads per sample (the chunk itself and its input
projections) and ``result bytes`` the logits (and their copies) of one genome and sample, alive
until the chunk is scored. The plan picks the largest chunk (at most ``batch_size``; on the CPU
at most what keeps one genome's activations cache sized, or for a conv bucket the whole bucket's)
for which every bucket's single genome fits, then the largest tiles that fit (on the CPU, that stay
cache sized), then packs tiles into passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from neuroevo.evaluation.stacking import MAX_SHARED_FRACTION, GenomeStack

FLOAT_BYTES = 4
# Floats per class, sample and genome alive while a chunk is scored: the tiles' logits, the
# bucket's concatenated logits, and the metrics' temporaries.
_RESULT_COPIES = 3


@dataclass(frozen=True)
class BucketCost:
    """Device memory of one bucket's genomes.

    Attributes:
        n_genomes: genomes in the bucket.
        operand_bytes: stacked operands per genome.
        activation_bytes: peak live activations per genome and sample inside a tile.
        result_bytes: logits (and copies) per genome and sample, alive until the chunk is scored.
        label: what to call the genomes in an error message (e.g. the architecture).
        large_tiles: on the CPU, tiles of ``large_tile_bytes`` (a first layer that reads the
            pixels with dense weights: a compute-bound product, faster the larger it is).
        batch_genomes: on the CPU, tiles of ``large_tile_bytes`` and chunks short enough that a
            tile holds the whole bucket (conv networks: their per-genome work is small products
            and element-wise passes, whose per-call cost only a tile of many genomes amortises).
    """

    n_genomes: int
    operand_bytes: int
    activation_bytes: int
    result_bytes: int
    label: str
    large_tiles: bool = False
    batch_genomes: bool = False


@dataclass(frozen=True)
class Tile:
    """Genomes ``start:stop`` of bucket ``bucket`` (positions inside the bucket)."""

    bucket: int
    start: int
    stop: int


@dataclass(frozen=True)
class EvaluationPlan:
    """How a population evaluation is chunked: samples per chunk, and passes of tiles."""

    samples_per_chunk: int
    passes: tuple[tuple[Tile, ...], ...]


def activation_bytes(stack: GenomeStack) -> int:
    """Estimated peak live activation bytes per genome and sample of :func:`stack_logits`.

    Dense layers: input and output (plus ``d`` for the factored intermediate; the first layer also
    reserves the distinct activations of shared rows, at most half its width). Conv layers: input,
    pointwise and depthwise outputs at full resolution (separable layers: and the pooling's
    half-resolution maximum).
    """
    arch = stack.architecture
    peak = 0
    if arch.n_conv:
        c_in, height, width = arch.input_shape
        outputs = 3 if arch.conv_style == "separable" else 2
        for c_out in stack.widths[: arch.n_conv]:
            peak = max(peak, (c_in + outputs * c_out) * height * width)
            c_in, height, width = c_out, height // arch.pool, width // arch.pool
    for index, layer in enumerate(stack.dense):
        n = layer.bias.shape[1]
        shared_rows = math.ceil(MAX_SHARED_FRACTION * n) if index == 0 and not arch.n_conv else 0
        if layer.factored:
            m = 0 if layer.z_prev is None else layer.z_prev.shape[1]  # None: reads the shared projection
            peak = max(peak, m + layer.z_next.shape[-1] + n + shared_rows)
        else:
            reads_pixels = index == 0 and not arch.n_conv  # counted in the shared bytes
            peak = max(peak, (0 if reads_pixels else layer.matrix.shape[-1]) + n + shared_rows)
    return peak * FLOAT_BYTES


def result_bytes(stack: GenomeStack) -> int:
    """Bytes per genome and sample of the logits and their copies while a chunk is scored."""
    return _RESULT_COPIES * stack.architecture.n_classes * FLOAT_BYTES


def plan_evaluation(
    buckets: Sequence[BucketCost],
    *,
    n_samples: int,
    shared_bytes: int,
    memory_budget: int,
    batch_size: int | None = None,
    tile_bytes: int | None = None,
    large_tile_bytes: int | None = None,
) -> EvaluationPlan:
    """Chunk an evaluation so that the estimated device memory stays within ``memory_budget``.

    Args:
        buckets: memory costs of each bucket.
        n_samples: samples in the data set.
        shared_bytes: bytes per sample read by every genome (input chunk, projections).
        memory_budget: bytes allowed on the device.
        batch_size: most samples per chunk (``None``: as many as fit).
        tile_bytes: on the CPU, the target activation bytes of one tile (cache-sized work; it
            also caps the chunk so that one genome's tile fits); ``None``: chunks and tiles as
            large as the budget allows.
        large_tile_bytes: the same target for buckets with ``large_tiles`` or ``batch_genomes``
            (default ``tile_bytes``).

    Returns:
        The :class:`EvaluationPlan`.

    Raises:
        ValueError: the budget cannot hold one genome and one sample (the message names the bytes
            needed).
    """

    def needed(cost: BucketCost) -> int:
        return cost.operand_bytes + shared_bytes + cost.activation_bytes + cost.result_bytes

    largest = max(buckets, key=needed)
    if needed(largest) > memory_budget:
        raise ValueError(
            f"memory_budget of {memory_budget} bytes is too small for one {largest.label} genome: "
            f"it needs at least {needed(largest)} bytes ({largest.operand_bytes} for its operands and "
            f"{needed(largest) - largest.operand_bytes} for one sample)"
        )
    samples = min(n_samples, batch_size or n_samples)
    def target(cost: BucketCost) -> int | None:
        return (large_tile_bytes or tile_bytes) if cost.large_tiles or cost.batch_genomes else tile_bytes

    if tile_bytes is not None:  # a tile of one genome (or of a whole batch_genomes bucket) stays cache sized
        for cost in buckets:
            together = cost.n_genomes if cost.batch_genomes else 1
            samples = min(samples, max(1, target(cost) // (together * cost.activation_bytes)))
    for cost in buckets:
        per_sample = shared_bytes + cost.activation_bytes + cost.result_bytes
        samples = min(samples, (memory_budget - cost.operand_bytes) // per_sample)
    tile_sizes = []
    for cost in buckets:
        per_genome = cost.operand_bytes + samples * (cost.activation_bytes + cost.result_bytes)
        fit = (memory_budget - samples * shared_bytes) // per_genome
        size = min(cost.n_genomes, fit)
        if tile_bytes is not None:
            size = min(size, max(1, target(cost) // (samples * cost.activation_bytes)))
        tile_sizes.append(size)
    passes: list[tuple[Tile, ...]] = []
    current: list[Tile] = []
    operands = working = 0
    for index, (cost, size) in enumerate(zip(buckets, tile_sizes)):
        for start in range(0, cost.n_genomes, size):
            tile = Tile(index, start, min(start + size, cost.n_genomes))
            count = tile.stop - tile.start
            tile_operands = count * (cost.operand_bytes + samples * cost.result_bytes)
            tile_working = samples * count * cost.activation_bytes
            total = operands + tile_operands + samples * shared_bytes + max(working, tile_working)
            if current and total > memory_budget:
                passes.append(tuple(current))
                current, operands, working = [], 0, 0
            current.append(tile)
            operands += tile_operands
            working = max(working, tile_working)
    passes.append(tuple(current))
    return EvaluationPlan(samples, tuple(passes))
