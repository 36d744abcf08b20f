"""The batched evaluator's CPU fast paths against the reference path and torch's own ops.

* separable conv layers in the genome-major layout (fused first layer on the image patches,
  shifted-window depthwise taps, pooling by strided maxima), for every junction, kernel size, pool,
  input channel count and activation, mixed populations and chunk boundaries;
* conv buckets planned as tiles of whole buckets (genomes batched together);
* the cheap search that lets populations without repeated first-layer records skip the exact one.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo.architecture import Architecture
from neuroevo.evaluation import evaluate_genome, evaluate_population, stack_genomes
from neuroevo.evaluation import stacking
from neuroevo.evaluation.budget import BucketCost, plan_evaluation
from neuroevo.decoding.functional import depthwise_conv, finish_conv_layer, max_pool
from neuroevo.evaluation.forward import _fuse_first_layer
from neuroevo.genomes import DirectGenome, EmbeddingGenome

N_SAMPLES = 37  # not a multiple of any chunk size used below


def data(input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N_SAMPLES, *input_shape, generator=g), torch.randint(0, n_classes, (N_SAMPLES,), generator=g)


def assert_matches_reference(population, images_labels, **options) -> None:
    scores = evaluate_population(population, images_labels, mixed_encodings=True, **options)
    expected = [evaluate_genome(genome, images_labels) for genome in population]
    accuracy = torch.tensor([m.accuracy for m in expected], dtype=torch.float64)
    cross_entropy = torch.tensor([m.cross_entropy for m in expected], dtype=torch.float64)
    # A near-tie may flip one sample's argmax between two float summation orders.
    torch.testing.assert_close(scores.accuracy, accuracy, atol=1 / N_SAMPLES + 1e-9, rtol=0)
    torch.testing.assert_close(scores.cross_entropy, cross_entropy, atol=1e-5, rtol=1e-5)


def separable_population(spec: str, seed: int, **options) -> list:
    """Embedding genomes on one input encoding and direct genomes of ``spec``, some of other widths."""
    g = torch.Generator().manual_seed(seed)
    arch = Architecture.parse(spec, **options)
    first = EmbeddingGenome.random(arch, 6, generator=g)
    population = [first, DirectGenome.random(arch, generator=g),
                  EmbeddingGenome.random(arch, input_encoding=first.input_encoding, generator=g),
                  DirectGenome.random(arch, generator=g)]
    narrow = Architecture.parse(spec.replace("4c", "3c"), **options)
    population.append(DirectGenome(arch, DirectGenome.random(narrow, generator=g).layers))
    return population


@pytest.mark.parametrize("channels", [1, 3, 5])  # fused first layer (1, 3) or pointwise product (5)
@pytest.mark.parametrize("junction", ["position", "free", "gap"])
def test_separable_conv_matches_reference(channels: int, junction: str) -> None:
    spec = f"{channels}x9x7-4c-5c-6-3"  # odd sizes: pooling drops the last row and column
    population = separable_population(spec, seed=channels, junction=junction)
    assert_matches_reference(population, data((channels, 9, 7), 3))


@pytest.mark.parametrize("options", [
    {"kernel_size": 5, "pool": 1},
    {"kernel_size": 1, "pool": 3},
    {"activation": "tanh", "sigma": "tanh"},
    {"activation": "gelu"},
])
def test_separable_conv_options_match_reference(options: dict) -> None:
    population = separable_population("2x9x9-4c-5c-6-3", seed=7, **options)
    assert_matches_reference(population, data((2, 9, 9), 3))


@pytest.mark.parametrize("batch_size", [1, 5, 16, None])
def test_chunk_and_tile_boundaries(batch_size: int | None) -> None:
    """Chunks that do not divide the data, and budgets that split the population into several
    tiles and passes, give the reference scores (conv and dense buckets mixed)."""
    conv = separable_population("1x8x8-4c-5c-6-3", seed=3)
    g = torch.Generator().manual_seed(4)
    dense = Architecture.parse("1x8x8-7-3")
    population = conv + [DirectGenome.random(dense, generator=g), EmbeddingGenome.random(dense, 4, generator=g)]
    images_labels = data((1, 8, 8), 3)
    for budget in (2**16, 2**20, 2**28):
        assert_matches_reference(population, images_labels, batch_size=batch_size, memory_budget=budget)


def test_conv_buckets_are_tiled_whole() -> None:
    """A conv bucket (batch_genomes) is one tile of all its genomes; a dense bucket of the same cost
    gets one-genome tiles, with longer chunks."""
    common = dict(operand_bytes=1000, activation_bytes=100_000, result_bytes=120, label="x")
    conv = plan_evaluation([BucketCost(16, batch_genomes=True, **common)], n_samples=2000, shared_bytes=4000,
                           memory_budget=2**30, batch_size=256, tile_bytes=2**22, large_tile_bytes=2**25)
    assert [[(t.start, t.stop) for t in p] for p in conv.passes] == [[(0, 16)]]
    assert conv.samples_per_chunk == 2**25 // (16 * 100_000)
    dense = plan_evaluation([BucketCost(16, **common)], n_samples=2000, shared_bytes=4000,
                            memory_budget=2**30, batch_size=256, tile_bytes=2**22, large_tile_bytes=2**25)
    assert all(t.stop - t.start == 1 for p in dense.passes for t in p)
    assert dense.samples_per_chunk == 2**22 // 100_000
    light = dict(common, activation_bytes=10_000)
    small, large = (plan_evaluation([BucketCost(16, large_tiles=flag, **light)], n_samples=2000, shared_bytes=4000,
                                    memory_budget=2**30, batch_size=256, tile_bytes=2**22, large_tile_bytes=2**25)
                    for flag in (False, True))
    assert small.samples_per_chunk == large.samples_per_chunk == 256  # large tiles keep the chunk, hold more genomes
    assert {t.stop - t.start for p in small.passes for t in p} == {1}
    assert max(t.stop - t.start for p in large.passes for t in p) == 2**25 // (256 * 10_000)


def test_fused_first_layer_rule() -> None:
    assert _fuse_first_layer(1, 3) and _fuse_first_layer(3, 3)
    assert _fuse_first_layer(1, 7) and not _fuse_first_layer(5, 3) and not _fuse_first_layer(8, 7)


@settings(max_examples=40, deadline=None)
@given(k=st.sampled_from([1, 3, 5]), height=st.integers(1, 9), width=st.integers(1, 9),
       g=st.integers(1, 3), c=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_depthwise_equals_grouped_conv(k: int, height: int, width: int, g: int, c: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    s = 2
    mixed = torch.randn(g, c, s, height, width, generator=gen)
    taps, bias = torch.randn(g, c, k, k, generator=gen), torch.randn(g, c, generator=gen)
    out = depthwise_conv(mixed, taps.unsqueeze(2), bias.unsqueeze(2))
    images = mixed.permute(2, 0, 1, 3, 4).reshape(s, g * c, height, width)
    expected = F.conv2d(images, taps.reshape(g * c, 1, k, k), bias.reshape(-1), padding=k // 2, groups=g * c)
    torch.testing.assert_close(out, expected.reshape(s, g, c, height, width).permute(1, 2, 0, 3, 4))
    # The module layout [s, g * c, H, W] (torch's grouped convolution) gives the same maps.
    torch.testing.assert_close(depthwise_conv(images, taps.reshape(g * c, k, k), bias.reshape(-1)), expected)


@settings(max_examples=40, deadline=None)
@given(pool=st.integers(1, 3), height=st.integers(3, 8), width=st.integers(3, 8), seed=st.integers(0, 2**16))
def test_max_pool_equals_torch(pool: int, height: int, width: int, seed: int) -> None:
    h = torch.randn(2, 3, 2, height, width, generator=torch.Generator().manual_seed(seed))
    h[0, 0, 0, 0, 0] = float("nan")  # propagates like F.max_pool2d
    expected = F.max_pool2d(h.reshape(12, height, width), pool).reshape(2, 3, 2, height // pool, width // pool)
    torch.testing.assert_close(max_pool(h, pool), expected, equal_nan=True, rtol=0, atol=0)
    recorded = max_pool(h.clone().requires_grad_(), pool)  # under autograd: F.max_pool2d
    torch.testing.assert_close(recorded.detach(), expected, equal_nan=True, rtol=0, atol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("pool", [1, 2, 3])
def test_finish_conv_layer_is_exact_in_every_order(activation: str, pool: int) -> None:
    """Pooling before a monotone activation, a deferred bias and in-place work give exactly the
    values of activation then ``F.max_pool2d``, with or without autograd; the argument is kept
    unless ``in_place``."""
    arch = Architecture.parse("2x7x7-3c-4", activation=activation, pool=pool)
    gen = torch.Generator().manual_seed(pool)
    h, bias = torch.randn(2, 3, 4, 7, 7, generator=gen), torch.randn(2, 3, 1, 1, 1, generator=gen)
    act = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}[activation]
    expected = F.max_pool2d(act(h + bias).reshape(24, 7, 7), pool).reshape(2, 3, 4, 7 // pool, 7 // pool)
    kept = h.clone()
    torch.testing.assert_close(finish_conv_layer(h, arch, bias=bias), expected, rtol=0, atol=0)
    assert torch.equal(h, kept)
    with_grad = finish_conv_layer((h + bias).requires_grad_(), arch)
    torch.testing.assert_close(with_grad.detach(), expected, rtol=0, atol=0)
    torch.testing.assert_close(finish_conv_layer(h.clone(), arch, bias=bias, in_place=True), expected, rtol=0, atol=0)


def test_unrepeated_records_skip_the_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random genomes share no first-layer record: the cheap bound decides without the full sort."""
    g = torch.Generator().manual_seed(5)
    arch = Architecture.parse("20-9-3")
    population = [DirectGenome.random(arch, generator=g) for _ in range(6)]

    def exact_search(stack):
        raise AssertionError("the exact search ran")

    monkeypatch.setattr(stacking, "_distinct_first_layer", exact_search)
    stack = stack_genomes(population, "cpu", n_samples=10)
    tiles = stacking.share_first_layer_rows(stack, [(0, 3), (3, 6)])
    assert all(tile.first_rows is None for tile in tiles)


@settings(max_examples=30, deadline=None)
@given(copies=st.lists(st.integers(0, 3), min_size=2, max_size=6), seed=st.integers(0, 2**16))
def test_distinct_lower_bound(copies: list[int], seed: int) -> None:
    """The bound never exceeds the exact number of distinct records, and repeated records (children
    sharing parents' neurons) are still shared, whatever the bound."""
    g = torch.Generator().manual_seed(seed)
    arch = Architecture.parse("6-8-3")
    parents = [DirectGenome.random(arch, generator=g) for _ in range(4)]
    population = [parents[i].clone() for i in copies]
    stack = stack_genomes(population, "cpu", n_samples=10)
    rows, _, _ = stacking._distinct_first_layer(stack)
    assert stacking._distinct_lower_bound(stack) <= rows.shape[0]
    tiles = stacking.share_first_layer_rows(stack, [(0, len(population))])
    assert (tiles[0].first_rows is not None) == (rows.shape[0] <= stacking.MAX_SHARED_FRACTION * len(population) * 8)
