"""Compatibility checks shared by every operator.

Every check runs before an operator touches anything, so a ``ValueError`` leaves both parents
exactly as they were.
"""

from __future__ import annotations

import math
import operator
from typing import Iterable

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import prepare_input
from neuroevo.encoding import check_same_encoding
from neuroevo.genomes import EmbeddingGenome, Genome, check_genome


def check_fraction(name: str, value: float) -> float:
    """Return ``value`` as a float; raise ``ValueError`` unless it lies in ``[0, 1]``."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def layer_index(genome: Genome, layer: int) -> int:
    """The non-negative index of genome layer ``layer`` (negative counts from the end).

    Raises:
        ValueError: ``layer`` is out of range.
    """
    try:
        if isinstance(layer, bool):
            raise TypeError
        layer = operator.index(layer)
    except TypeError:
        raise ValueError(f"layer must be an integer index, got {layer!r}") from None
    return genome.architecture.layer_index(layer)


def check_hidden_layer(genome: Genome, index: int, operation: str) -> None:
    """Raise ``ValueError`` if ``index`` is the output layer (keyed by class, not a free set)."""
    if genome.architecture.is_output(index):
        raise ValueError(
            f"{operation} needs a hidden layer; layer {index} is the output layer, whose neurons "
            "are keyed by class"
        )


def _layer_kinds(architecture: Architecture) -> str:
    def kind(i: int) -> str:
        if architecture.is_output(i):
            return "output"
        if architecture.is_conv(i):
            return "conv"
        return "recurrent" if architecture.is_recurrent(i) else "dense"

    return "-".join(kind(i) for i in range(architecture.n_layers))


def _structure(genome: Genome) -> list[tuple[str, object]]:
    """What two genomes must share to exchange neurons (not the widths: those may evolve)."""
    arch = genome.architecture
    parts: list[tuple[str, object]] = [
        ("input shapes", arch.input_shape),
        ("layer kinds", _layer_kinds(arch)),
        ("class keys of the output layer (numbers of classes)", arch.n_classes),
        ("activations", arch.activation),
    ]
    if arch.n_conv:
        parts += [("kernel sizes", arch.kernel_size), ("pooling", arch.pool), ("junctions", arch.junction)]
    if genome.encoding == "embedding":
        parts.append(("weight functions sigma", arch.sigma))
    elif arch.n_conv:
        parts.append(("conv styles", arch.conv_style))
    return parts


def _widths(genome: Genome) -> str:
    return "-".join(str(w) for w in genome.widths)


def check_compatible(a: Genome, b: Genome) -> None:
    """Raise ``ValueError`` naming the first mismatch that makes ``a`` and ``b`` impossible to cross.

    Checked: both are genomes of one encoding; same input shape, layer kinds (conv, dense,
    recurrent, output), classes,
    activation and conv settings; embedding genomes: same embedding width and the same input
    encoding; direct genomes: identical layer widths (their records are weight rows whose
    lengths depend on the widths).
    """
    for genome in (a, b):
        if not isinstance(genome, Genome):
            raise TypeError(f"expected a neuroevo genome, got {type(genome).__name__}")
    if a.encoding != b.encoding:
        raise ValueError(f"cannot cross genomes of different encodings ({a.encoding} vs {b.encoding})")
    for (label, mine), (_, theirs) in zip(_structure(a), _structure(b)):
        if mine != theirs:
            raise ValueError(f"incompatible genomes: different {label} ({mine} vs {theirs})")
    if isinstance(a, EmbeddingGenome):
        if a.d != b.d:
            raise ValueError(f"incompatible genomes: different embedding widths (d={a.d} vs d={b.d})")
        check_same_encoding(a.input_encoding, b.input_encoding, "the two genomes")
    elif a.widths != b.widths:
        raise ValueError(
            f"direct genomes with different layer shapes (widths {_widths(a)} vs {_widths(b)}): "
            "their weight rows do not correspond"
        )


def check_parents(ind1: Genome, ind2: Genome) -> None:
    """Raise unless ``ind1`` and ``ind2`` are valid (:func:`check_genome`, named ``ind1`` and
    ``ind2``) and compatible (:func:`check_compatible`)."""
    check_genome(ind1, "ind1")
    check_genome(ind2, "ind2")
    check_compatible(ind1, ind2)


def repair_probe(genome: Genome, repair: bool, probe: Tensor | None) -> Tensor | None:
    """The probe a crossover uses: checked for REPAIR (:func:`check_probe`) when ``repair``, else
    ``probe`` as given (a matching method that needs it checks it itself).

    Raises:
        ValueError: ``repair`` without a direct genome or a valid probe.
    """
    if not repair:
        return probe
    check_encoding(genome, "direct", "REPAIR")
    return check_probe(genome, probe, "REPAIR")


def check_equal_widths(a: Genome, b: Genome, layers: Iterable[int], operation: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have as many neurons in each of ``layers``."""
    for index in layers:
        if len(a.layers[index]) != len(b.layers[index]):
            raise ValueError(
                f"{operation} pairs neurons one to one, but layer {index} has "
                f"{len(a.layers[index])} neurons in one parent and {len(b.layers[index])} in the other"
            )


def check_encoding(genome: Genome, encoding: str, operation: str) -> None:
    """Raise ``ValueError`` unless ``genome`` is of ``encoding`` ("embedding" or "direct")."""
    if genome.encoding != encoding:
        raise ValueError(f"{operation} needs {encoding} genomes, got a genome of encoding {genome.encoding!r}")


def check_probe(genome: Genome, probe: Tensor | None, purpose: str) -> Tensor:
    """The probe batch as float32 first-layer input (``[B, C, H, W]`` or ``[B, n_inputs]``, see
    :func:`~neuroevo.decoding.functional.prepare_input`) on the genome's device.

    Args:
        probe: ``[B, *input_shape]`` or ``[B, n_inputs]`` inputs, ``B >= 2`` (a dense network,
            like its decoded module, also takes any sample shape with ``n_inputs`` values, such
            as ``[B, 1, 28, 28]`` for ``784-...``).
        purpose: what needs the batch, for the error message.

    Raises:
        ValueError: no probe, a non-tensor, fewer than two samples, the wrong sample shape or
            NaN/Inf.
    """
    arch = genome.architecture
    if probe is None:
        raise ValueError(f"{purpose} needs a probe batch of inputs (probe=...)")
    if not isinstance(probe, Tensor):
        raise ValueError(f"probe must be a torch.Tensor, got {type(probe).__name__}")
    sample_shape = tuple(probe.shape[1:])
    flat_ok = probe.dim() >= 2 and math.prod(sample_shape) == arch.n_inputs_flat
    if not flat_ok or (arch.n_conv and sample_shape not in (arch.input_shape, (arch.n_inputs_flat,))):
        wanted = "x".join(map(str, arch.input_shape)) if arch.n_conv else f"{arch.n_inputs_flat} values"
        raise ValueError(f"probe samples must be {wanted} (a [B, ...] batch), got shape {list(probe.shape)}")
    if probe.shape[0] < 2:
        raise ValueError(f"{purpose} needs at least 2 probe samples, got {probe.shape[0]}")
    if not bool(torch.isfinite(probe).all()):
        raise ValueError("probe contains NaN or Inf")
    device = genome.layers[0]["bias"].device
    return prepare_input(probe.detach().to(device=device, dtype=torch.float32), arch)
