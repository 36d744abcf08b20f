"""Bucket genomes by shape and stack their packed tensors into batched operands.

Genomes of one *bucket* (same encoding class, architecture, layer widths and input encoding) are
evaluated together: their records are stacked along a leading population axis ``g`` and turned
into the operands the batched forward (:mod:`neuroevo.evaluation.forward`) multiplies with. The
forward keeps activations as ``[g, features, samples]``, so a dense layer is stored by its rows
(receiving neurons), like a direct genome's records and ``torch.nn.Linear.weight``.

Each dense layer of an embedding genome is stored in whichever form costs fewer FLOPs over the
whole data set (weights are generated once per stack and reused for every data chunk):

* dense: ``matrix [g, n, m] = sigma(Z_next Z_prev^T)``, applied as ``matrix @ h + bias``;
* factored (``sigma="identity"`` only): ``z_prev [g, m, d]`` and ``z_next [g, n, d]``, applied as
  ``z_next @ (z_prev^T @ h) + bias``.

The first layer of a dense network reads the pixels, which every genome shares. There the
factored form uses the *shared input projection* ``x @ Z_in`` (computed once per data chunk for
every genome built on that input encoding), so only ``z_next`` is stacked.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Hashable, Sequence

import torch
from torch import Tensor
from torch.func import vmap

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import factored_is_cheaper, generate_weight, junction_embeddings
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome


@dataclass(frozen=True)
class DenseOperands:
    """One dense layer of ``g`` stacked genomes (see the module docstring for the two forms).

    Attributes:
        bias: ``[g, n]``.
        matrix: dense form, ``[g, n, m]``: row ``j`` holds the incoming weights of neuron ``j``.
        z_prev: factored form, ``[g, m, d]``; ``None`` when the layer reads the shared projection.
        z_next: factored form, ``[g, n, d]``.
    """

    bias: Tensor
    matrix: Tensor | None = None
    z_prev: Tensor | None = None
    z_next: Tensor | None = None

    @property
    def factored(self) -> bool:
        return self.matrix is None


@dataclass(frozen=True)
class ConvOperands:
    """One conv layer of ``g`` stacked genomes.

    Attributes:
        weight: separable: pointwise ``[g, c_out, c_in]``; standard: ``[g, c_out, c_in, k, k]``.
        bias: ``[g, c_out]``.
        kernels: separable only, depthwise ``[g, c_out, k, k]``; ``None`` for standard convs.
    """

    weight: Tensor
    bias: Tensor
    kernels: Tensor | None = None


@dataclass(frozen=True)
class SharedRows:
    """The distinct first-layer records of a stack of dense genomes.

    Children of crossover share their parents' neurons, and a first-layer neuron computes the same
    activations in every genome it appears in (all genomes read the same input), so the first layer
    is computed once per distinct record and gathered.

    Attributes:
        rows: ``[U, k]`` distinct incoming rows (pixels, or the shared projection's ``d``).
        bias: ``[U]`` their biases.
        index: ``[g * n]`` the distinct record of each neuron of the stack (genome major).
        across_tiles: the distinct records serve several tiles of one stack, so their activations
            are computed once per data chunk and reused by every tile (see
            :class:`~neuroevo.evaluation.forward.SharedInputs`).
    """

    rows: Tensor
    bias: Tensor
    index: Tensor
    across_tiles: bool = False


#: Share first-layer records only when they number at most this fraction of the stack's neurons
#: (the gather then costs little, and the distinct activations at most half a layer of memory,
#: which :func:`~neuroevo.evaluation.budget.activation_bytes` reserves).
MAX_SHARED_FRACTION = 0.5


@dataclass(frozen=True)
class GenomeStack:
    """The batched operands of ``g`` genomes of one bucket, on one device.

    Attributes:
        architecture: the genomes' architecture.
        widths: the genomes' (common) layer widths.
        conv: one :class:`ConvOperands` per conv layer.
        dense: one :class:`DenseOperands` per dense layer (hidden layers, then the output layer).
        input_embeddings: ``[n_inputs, d]`` when the first dense layer is factored on the shared
            input projection ``x @ Z_in``, else ``None``.
        encoding_id: identity of that input encoding (the key of the shared projection).
        generation_flops: FLOPs spent generating weights while stacking.
        first_rows: the distinct records of the first dense layer, when the genomes share enough
            of them (:func:`share_first_layer_rows`); ``None``: every neuron is computed.
    """

    architecture: Architecture
    widths: tuple[int, ...]
    conv: tuple[ConvOperands, ...]
    dense: tuple[DenseOperands, ...]
    input_embeddings: Tensor | None = None
    encoding_id: str | None = None
    generation_flops: int = 0
    first_rows: SharedRows | None = None

    @property
    def n_genomes(self) -> int:
        return self.dense[-1].bias.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes held by the stacked operands (the shared input embeddings included), plus, for a
        dense network, room for :class:`SharedRows` (at most :data:`MAX_SHARED_FRACTION` of the first
        layer's records, and one int64 index per first-layer neuron)."""
        tensors = [t for layer in self.conv + self.dense for t in _tensors(layer)]
        if self.input_embeddings is not None:
            tensors.append(self.input_embeddings)
        total = sum(t.numel() * t.element_size() for t in tensors)
        if not self.architecture.n_conv:
            first = self.dense[0]
            records = first.z_next if first.factored else first.matrix
            total += int(MAX_SHARED_FRACTION * (records.numel() + first.bias.numel())) * records.element_size()
            total += first.bias.numel() * 8
        return total

    def select(self, start: int, stop: int) -> "GenomeStack":
        """The stack of genomes ``start:stop`` (views, no copies; shared first-layer rows are dropped)."""

        def cut(layer):
            return replace(layer, **{f.name: _slice(getattr(layer, f.name), start, stop) for f in fields(layer)})

        return replace(
            self, conv=tuple(cut(layer) for layer in self.conv), dense=tuple(cut(layer) for layer in self.dense),
            first_rows=None,
        )


def share_first_layer_rows(stack: GenomeStack, bounds: Sequence[tuple[int, int]]) -> list[GenomeStack]:
    """The tiles ``stack.select(start, stop)`` for each ``(start, stop)`` of ``bounds``, with
    :class:`SharedRows` for the first dense layer where its records repeat (exact equality of
    incoming row and bias).

    The distinct records of the whole stack are found once. When they number at most
    :data:`MAX_SHARED_FRACTION` of the *smallest tile's* neurons, every tile shares them (their
    activations are computed once per data chunk, which then costs no more memory than one tile's
    reservation); otherwise each tile whose own records are at most that fraction distinct shares
    them within itself. Populations without repeats (at most that fraction of the whole stack's
    neurons repeat) are recognised by a search over a few columns of the records
    (:func:`_distinct_lower_bound`) and skip the exact one. Conv networks are returned unshared.

    The search briefly holds a copy of the records (and the sort's buffers) beyond the memory
    budget's estimate, before any activation of the pass exists.
    """
    tiles = [stack.select(start, stop) for start, stop in bounds]
    if stack.architecture.n_conv:
        return tiles
    n = stack.dense[0].bias.shape[1]
    if _distinct_lower_bound(stack) > MAX_SHARED_FRACTION * stack.n_genomes * n:
        return tiles
    rows, bias, index = _distinct_first_layer(stack)
    if rows.shape[0] > MAX_SHARED_FRACTION * stack.n_genomes * n:
        return tiles
    if rows.shape[0] <= MAX_SHARED_FRACTION * min(stop - start for start, stop in bounds) * n:
        return [replace(tile, first_rows=SharedRows(rows, bias, index[start * n:stop * n], across_tiles=True))
                for tile, (start, stop) in zip(tiles, bounds)]
    shared_tiles = []
    for tile, (start, stop) in zip(tiles, bounds):
        # The tile's distinct records are those its slice of the stack's index uses.
        used, local = torch.unique(index[start * n:stop * n], return_inverse=True)
        if used.numel() <= MAX_SHARED_FRACTION * tile.n_genomes * n:
            tile = replace(tile, first_rows=SharedRows(rows[used], bias[used], local))
        shared_tiles.append(tile)
    return shared_tiles


def _distinct_lower_bound(stack: GenomeStack) -> int:
    """At least how many distinct first-layer records ``stack`` has: the number of distinct values
    of their first incoming weight, since equal records agree there too (one sort of one column
    instead of whole rows; docs/design_notes.md)."""
    layer = stack.dense[0]
    g, n = layer.bias.shape
    first_weights = (layer.z_next if layer.factored else layer.matrix).reshape(g * n, -1)[:, 0]
    return torch.unique(first_weights).numel()


def _distinct_first_layer(stack: GenomeStack) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct first-layer records of ``stack``: rows ``[U, k]``, biases ``[U]``, and the
    record of each neuron ``[g * n]`` (genome major)."""
    layer = stack.dense[0]
    g, n = layer.bias.shape
    rows = (layer.z_next if layer.factored else layer.matrix).reshape(g * n, -1)
    records = torch.cat([rows, layer.bias.reshape(g * n, 1)], dim=1)
    distinct, index = torch.unique(records, dim=0, return_inverse=True)
    return distinct[:, :-1].contiguous(), distinct[:, -1].contiguous(), index


def _tensors(layer: DenseOperands | ConvOperands) -> list[Tensor]:
    return [t for t in (getattr(layer, f.name) for f in fields(layer)) if t is not None]


def _slice(t: Tensor | None, start: int, stop: int) -> Tensor | None:
    return None if t is None else t[start:stop]


# ------------------------------------------------------------------ buckets
def bucket_key(genome: Genome) -> Hashable:
    """Genomes with equal keys can be stacked: same encoding class, architecture, widths and
    (embedding genomes) input encoding."""
    encoding = genome.input_encoding.identity if isinstance(genome, EmbeddingGenome) else None
    return (type(genome).encoding, genome.architecture, genome.widths, encoding)


def bucket_genomes(genomes: Sequence[Genome]) -> list[list[int]]:
    """Positions of the genomes of each bucket, buckets in order of first appearance."""
    buckets: dict[Hashable, list[int]] = {}
    for position, genome in enumerate(genomes):
        buckets.setdefault(bucket_key(genome), []).append(position)
    return list(buckets.values())


def genome_device(genome: Genome) -> torch.device:
    """The device of a genome's layer tensors (``ValueError`` if they are split over several)."""
    devices = {t.device for layer in genome.layers for _, t in layer.items()}
    if len(devices) != 1:
        raise ValueError(f"genome {genome!r} has tensors on several devices: {sorted(map(str, devices))}")
    return devices.pop()


def check_stackable(genomes: Sequence[Genome]) -> None:
    """Raise ``ValueError`` unless ``genomes`` form one bucket on one device.

    The message names the first difference: kind of genome, architecture, widths, input encoding
    or device.
    """
    if not genomes:
        raise ValueError("no genomes to stack")
    first = genomes[0]
    for genome in genomes[1:]:
        if type(genome).encoding != type(first).encoding:
            raise ValueError(
                f"cannot stack {type(first).encoding} and {type(genome).encoding} genomes in one bucket"
            )
        if genome.architecture != first.architecture:
            raise ValueError(
                f"cannot stack genomes of different architectures ({first.architecture} vs "
                f"{genome.architecture}) in one bucket"
            )
        if genome.widths != first.widths:
            raise ValueError(
                f"cannot stack genomes of different widths ({first.widths} vs {genome.widths}) in one "
                "bucket; evaluate_population buckets them by shape"
            )
        if isinstance(first, EmbeddingGenome) and genome.input_encoding != first.input_encoding:
            raise ValueError(
                f"cannot stack genomes built on different input encodings ({first.input_encoding.short_id} "
                f"vs {genome.input_encoding.short_id}) in one bucket: a stacked bucket shares one input "
                "projection; evaluate_population groups genomes by input encoding"
            )
    check_one_device(genomes)


def check_one_device(genomes: Sequence[Genome]) -> None:
    """Raise ``ValueError`` unless every genome's tensors are on one device."""
    devices = {str(genome_device(genome)) for genome in genomes}
    if len(devices) > 1:
        raise ValueError(f"genomes on different devices ({', '.join(sorted(devices))}); move them to one device")


# ------------------------------------------------------------------ stacking
def shared_projection_is_cheaper(n_samples: int, n_sharing: int, m: int, d: int, n: int) -> bool:
    """Whether a dense network's first layer costs fewer multiply-adds in factored form.

    Factored: ``N d n`` per genome plus its share of the projection ``x @ Z_in`` (``N m d``,
    computed once for the ``n_sharing`` genomes on that input encoding). Dense: ``N m n`` per
    genome plus ``m d n`` to generate ``W``.
    """
    factored = n_samples * d * n * n_sharing + n_samples * m * d
    dense = n_sharing * m * n * (n_samples + d)
    return factored < dense


def stack_genomes(
    genomes: Sequence[Genome],
    device: torch.device | str | None = None,
    *,
    n_samples: int,
    n_sharing: int = 1,
) -> GenomeStack:
    """Stack one bucket of genomes into batched float32 operands on ``device``.

    Records are stacked where the genomes live, moved to ``device`` once, and weights are
    generated there.

    Args:
        genomes: genomes of one bucket (:func:`bucket_key`), on one device; not modified.
        device: where the operands go (the genomes' device when ``None``; ``"meta"`` gives the
            shapes without computing anything).
        n_samples: number of samples the stack will be applied to (chooses dense or factored).
        n_sharing: number of genomes sharing this input encoding's projection in the evaluation.

    Returns:
        A :class:`GenomeStack` of ``len(genomes)`` genomes.

    Raises:
        ValueError: the genomes are not one bucket on one device (:func:`check_stackable`).
    """
    check_stackable(genomes)
    device = torch.device(device) if device is not None else genome_device(genomes[0])
    records = [
        {name: torch.stack([g.layers[index][name] for g in genomes]).to(device, torch.float32) for name in layer.names}
        for index, layer in enumerate(genomes[0].layers)
    ]
    first = genomes[0]
    if isinstance(first, EmbeddingGenome):
        return _embedding_stack(first, records, device, n_samples, n_sharing)
    if isinstance(first, DirectGenome):
        return _direct_stack(first, records)
    raise TypeError(f"cannot evaluate {type(first).__name__}: not a neuroevo genome")


def _embedding_stack(
    genome: EmbeddingGenome, records: list[dict[str, Tensor]], device: torch.device, n_samples: int, n_sharing: int
) -> GenomeStack:
    arch, sigma = genome.architecture, genome.architecture.sigma
    encoding = genome.input_encoding
    g = records[0]["bias"].shape[0]
    generation_flops = 0
    z_prev = encoding.inputs.to(device)  # [m, d], shared: broadcasts over the population axis
    conv = []
    for index in range(arch.n_conv):
        layer = records[index]
        z = layer["embeddings"]
        conv.append(ConvOperands(generate_weight(z, z_prev, sigma), layer["bias"], layer["kernels"]))
        generation_flops += 2 * g * z.shape[1] * z_prev.shape[-2] * encoding.d
        z_prev = z
    if arch.n_conv:
        positions = None if encoding.positions is None else encoding.positions.to(device)
        features = records[arch.n_conv - 1].get("features")
        z_prev = vmap(junction_embeddings, in_dims=(0, None, None, None if features is None else 0))(
            z_prev, arch, positions, features
        )
    dense = []
    input_embeddings = None
    for index in range(arch.n_conv, arch.n_layers):
        layer = records[index]
        z = layer["embeddings"]
        m, d, n = z_prev.shape[-2], encoding.d, z.shape[1]
        shared_input = index == 0
        if shared_input:
            factored = sigma == "identity" and shared_projection_is_cheaper(n_samples, n_sharing, m, d, n)
        else:
            factored = sigma == "identity" and factored_is_cheaper(n_samples, m, d, n)
        if factored and shared_input:
            input_embeddings = z_prev
            dense.append(DenseOperands(layer["bias"], z_next=z))
        elif factored:
            dense.append(DenseOperands(layer["bias"], z_prev=z_prev, z_next=z))
        else:
            dense.append(DenseOperands(layer["bias"], matrix=generate_weight(z, z_prev, sigma)))
            generation_flops += 2 * g * m * n * d
        z_prev = z
    return GenomeStack(
        arch,
        genome.widths,
        tuple(conv),
        tuple(dense),
        input_embeddings,
        encoding.identity if input_embeddings is not None else None,
        generation_flops,
    )


def _direct_stack(genome: DirectGenome, records: list[dict[str, Tensor]]) -> GenomeStack:
    arch = genome.architecture
    conv = tuple(
        ConvOperands(layer["weight"], layer["bias"], layer.get("kernels")) for layer in records[: arch.n_conv]
    )
    dense = tuple(DenseOperands(layer["bias"], matrix=layer["weight"]) for layer in records[arch.n_conv :])
    return GenomeStack(arch, genome.widths, conv, dense)
