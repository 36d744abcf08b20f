"""The batched population evaluator against the decode-and-forward reference path."""

from __future__ import annotations

import random
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import operators
from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.evaluation import evaluate_genome, evaluate_population, stack_genomes
from neuroevo.evaluation.budget import BucketCost, plan_evaluation
from neuroevo.evaluation.forward import FlopCounter, SharedInputs, stack_logits
from neuroevo.evaluation.stacking import share_first_layer_rows
from neuroevo.genomes import DirectGenome, EmbeddingGenome

N_SAMPLES = 40
DENSE = "16-12-8-3"
CONV = "1x8x8-4c-6c-5-3"


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def dense_data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator(seed)
    return torch.randn(N_SAMPLES, 16, generator=g), torch.randint(0, 3, (N_SAMPLES,), generator=g)


def conv_data(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator(seed)
    return torch.randn(N_SAMPLES, 1, 8, 8, generator=g), torch.randint(0, 3, (N_SAMPLES,), generator=g)


def narrower(genome_class, spec: str, widths: str, g: torch.Generator, **options):
    """A genome of architecture ``spec`` whose layers have the widths of ``widths`` (grown/shrunk)."""
    arch = Architecture.parse(spec, **options)
    other = Architecture.parse(widths, **options)
    if genome_class is DirectGenome:
        return DirectGenome(arch, DirectGenome.random(other, generator=g).layers)
    source = EmbeddingGenome.random(other, 8, generator=g)
    return EmbeddingGenome(arch, source.input_encoding, source.layers)


def dense_population() -> list:
    g = generator()
    plain = Architecture.parse(DENSE)
    tanh = Architecture.parse(DENSE, sigma="tanh")
    shared = EmbeddingGenome.random(plain, 8, generator=g)
    population = [
        shared,
        DirectGenome.random(plain, generator=g),
        EmbeddingGenome.random(plain, input_encoding=shared.input_encoding, generator=g),
        narrower(EmbeddingGenome, DENSE, "16-9-8-3", g),
        EmbeddingGenome.random(tanh, 8, generator=g),  # another input encoding
        narrower(DirectGenome, DENSE, "16-12-5-3", g),
        EmbeddingGenome.random(plain, input_encoding=shared.input_encoding, generator=g),
        EmbeddingGenome.random(Architecture.parse("16-3"), 4, generator=g),  # no hidden layer
        DirectGenome.random(plain, generator=g),
    ]
    # Wide embeddings over many pixels: the first layer is factored on the shared projection.
    wide = Architecture.parse("16-40-3")
    first = EmbeddingGenome.random(wide, 2, generator=g)
    population += [first, EmbeddingGenome.random(wide, input_encoding=first.input_encoding, generator=g)]
    return population


def conv_population() -> list:
    g = generator(3)
    population = []
    for junction in ("position", "free", "gap"):
        for style in ("separable", "standard"):
            arch = Architecture.parse(CONV, junction=junction, conv_style=style)
            population.append(DirectGenome.random(arch, generator=g))
        arch = Architecture.parse(CONV, junction=junction, sigma="tanh" if junction == "free" else "identity")
        population.append(EmbeddingGenome.random(arch, 8, generator=g))
        population.append(narrower(EmbeddingGenome, CONV, "1x8x8-3c-6c-4-3", g, junction=junction))
    population.append(narrower(DirectGenome, CONV, "1x8x8-5c-2c-5-3", g))
    return population


def reference(population, data) -> tuple[torch.Tensor, torch.Tensor]:
    scores = [evaluate_genome(genome, data) for genome in population]
    accuracy = torch.tensor([s.accuracy for s in scores], dtype=torch.float64)
    return accuracy, torch.tensor([s.cross_entropy for s in scores], dtype=torch.float64)


def evaluate_mixed(population, data, **options):
    """:func:`evaluate_population` on fixtures that mix input encodings on purpose (grouping is tested)."""
    return evaluate_population(population, data, mixed_encodings=True, **options)


def assert_matches(scores, expected) -> None:
    accuracy, cross_entropy = expected
    # A near-tie may flip one sample's argmax between two float summation orders.
    torch.testing.assert_close(scores.accuracy, accuracy, atol=1 / N_SAMPLES + 1e-9, rtol=0)
    torch.testing.assert_close(scores.cross_entropy, cross_entropy, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make_population, make_data", [(dense_population, dense_data), (conv_population, conv_data)])
def test_batched_scores_match_the_reference_in_input_order(make_population, make_data):
    population, data = make_population(), make_data()
    expected = reference(population, data)
    assert len(set(map(id, population))) == len(population)
    assert_matches(evaluate_mixed(population, data), expected)
    order = torch.randperm(len(population), generator=generator(5)).tolist()
    shuffled = evaluate_mixed([population[i] for i in order], data)
    assert_matches(shuffled, (expected[0][order], expected[1][order]))


def test_scores_are_in_range_and_the_population_is_not_modified():
    population, data = dense_population(), dense_data()
    before = [genome.clone() for genome in population]
    scores = evaluate_mixed(population, data)
    assert all(a == b for a, b in zip(population, before))
    assert scores.accuracy.shape == scores.cross_entropy.shape == (len(population),)
    assert bool(((scores.accuracy >= 0) & (scores.accuracy <= 1)).all())
    assert bool((scores.cross_entropy > 0).all())
    counts = scores.accuracy * N_SAMPLES
    torch.testing.assert_close(counts, counts.round())


def test_ties_go_to_the_first_class_as_argmax():
    g = generator(4)
    arch = Architecture.parse(DENSE)
    dead = DirectGenome.random(arch, generator=g)
    dead.layers = [layer.replace(**{n: torch.zeros_like(t) for n, t in layer.items()}) for layer in dead.layers]
    images, labels = dense_data()
    expected = float((labels == 0).double().mean())
    batched = evaluate_mixed([dead], (images, labels))
    single = evaluate_genome(dead, (images, labels))
    for accuracy, cross_entropy in ((batched.accuracy[0], batched.cross_entropy[0]), (single.accuracy, single.cross_entropy)):
        assert float(accuracy) == expected
        assert float(cross_entropy) == pytest.approx(torch.log(torch.tensor(3.0)).item())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_size=st.integers(1, N_SAMPLES + 5), budget=st.integers(6_000, 200_000))
def test_chunking_does_not_change_the_scores(batch_size, budget):
    population, data = dense_population(), dense_data()
    whole = evaluate_mixed(population, data)
    chunked = evaluate_mixed(population, data, batch_size=batch_size, memory_budget=budget)
    torch.testing.assert_close(chunked.accuracy, whole.accuracy, atol=1 / N_SAMPLES + 1e-9, rtol=0)
    torch.testing.assert_close(chunked.cross_entropy, whole.cross_entropy, atol=1e-5, rtol=1e-5)


def test_tiny_budget_gives_the_large_budget_scores_for_conv_genomes():
    population, data = conv_population(), conv_data()
    whole = evaluate_mixed(population, data, memory_budget=2**30)
    tiny = evaluate_mixed(population, data, memory_budget=60_000)
    torch.testing.assert_close(tiny.accuracy, whole.accuracy, atol=1 / N_SAMPLES + 1e-9, rtol=0)
    torch.testing.assert_close(tiny.cross_entropy, whole.cross_entropy, atol=1e-5, rtol=1e-5)


def test_budget_too_small_for_one_genome_names_the_bytes_needed():
    population, data = dense_population(), dense_data()
    with pytest.raises(ValueError, match="too small for one") as error:
        evaluate_mixed(population, data, memory_budget=1000)
    needed = int(re.search(r"needs at least (\d+) bytes", str(error.value)).group(1))
    assert needed > 1000
    evaluate_mixed(population, data, memory_budget=needed)  # exactly enough runs
    with pytest.raises(ValueError, match=f"at least {needed} bytes"):
        evaluate_mixed(population, data, memory_budget=needed - 1)


def test_plan_keeps_every_pass_within_the_budget():
    buckets = [BucketCost(7, 1000, 40, 8, "a"), BucketCost(3, 5000, 100, 12, "b")]
    budget = 12_000
    plan = plan_evaluation(buckets, n_samples=100, shared_bytes=20, memory_budget=budget)
    s = plan.samples_per_chunk
    assert len(plan.passes) > 1 and s < 100
    covered = {b: [] for b in range(len(buckets))}
    for tiles in plan.passes:
        operands = sum(
            (t.stop - t.start) * (buckets[t.bucket].operand_bytes + s * buckets[t.bucket].result_bytes)
            for t in tiles
        )
        working = max(s * (t.stop - t.start) * buckets[t.bucket].activation_bytes for t in tiles)
        assert operands + s * 20 + working <= budget
        for t in tiles:
            covered[t.bucket] += range(t.start, t.stop)
    assert covered == {0: list(range(7)), 1: list(range(3))}


def test_input_projection_is_computed_once_per_chunk_and_encoding():
    g = generator(7)
    arch = Architecture.parse("100-50-3")
    d, n = 4, N_SAMPLES
    first = EmbeddingGenome.random(arch, d, generator=g)
    population = [first] + [
        EmbeddingGenome.random(arch, input_encoding=first.input_encoding, generator=g) for _ in range(3)
    ]
    data = (torch.randn(n, 100, generator=g), torch.randint(0, 3, (n,), generator=g))
    stack = stack_genomes(population, n_samples=n, n_sharing=4)
    assert stack.dense[0].factored and stack.input_embeddings is not None
    assert not stack.dense[1].factored  # 50 x 3 outputs: cheaper to generate W
    scores = evaluate_mixed(population, data, batch_size=8)
    projection = 2 * n * 100 * d
    first_layer = 4 * 2 * n * d * 50
    output = 4 * 2 * n * 50 * 3
    generation = 4 * 2 * 50 * 3 * d
    assert scores.flops == projection + first_layer + output + generation
    assert_matches(scores, reference(population, data))
    # A second input encoding pays for its own projection.
    other = EmbeddingGenome.random(arch, d, generator=g)
    both = evaluate_mixed(population + [other], data, batch_size=8)
    assert both.flops > scores.flops + projection


def test_layers_narrower_than_the_embeddings_are_applied_dense():
    genome = dense_population()[0]  # 16-12-8-3 with d = 8, alone on its input encoding
    stack = stack_genomes([genome], n_samples=1000, n_sharing=1)
    assert all(not layer.factored for layer in stack.dense) and stack.input_embeddings is None
    # Shared by enough genomes, the projection x @ Z_in pays off.
    assert stack_genomes([genome], n_samples=1000, n_sharing=8).dense[0].factored


def test_fitness_tuples():
    population, data = dense_population()[:4], dense_data()
    scores = evaluate_mixed(population, data)
    assert scores.fitness() == scores.fitness("accuracy") == [(a,) for a in scores.accuracy.tolist()]
    assert scores.fitness("negative_cross_entropy") == [(-c,) for c in scores.cross_entropy.tolist()]
    assert scores.fitness("accuracy", "negative_cross_entropy") == list(
        zip(scores.accuracy.tolist(), (-scores.cross_entropy).tolist())
    )
    with pytest.raises(ValueError, match="unknown objective"):
        scores.fitness("loss")
    only_accuracy = evaluate_mixed(population, data, metrics=("accuracy",))
    assert only_accuracy.cross_entropy is None and only_accuracy.metrics == ("accuracy",)
    torch.testing.assert_close(only_accuracy.accuracy, scores.accuracy)
    with pytest.raises(ValueError, match="not computed"):
        only_accuracy.fitness("negative_cross_entropy")


def test_accepts_a_dataset():
    images, labels = conv_data()
    dataset = Dataset(images, labels, name="synthetic", split="test", n_classes=3)
    population = conv_population()[:3]
    from_dataset = evaluate_mixed(population, dataset)
    from_pair = evaluate_mixed(population, (images, labels))
    torch.testing.assert_close(from_dataset.cross_entropy, from_pair.cross_entropy)
    torch.testing.assert_close(from_dataset.accuracy, from_pair.accuracy)


def test_bad_input_raises_clear_errors():
    population, (images, labels) = dense_population()[:3], dense_data()
    with pytest.raises(ValueError, match="no genomes"):
        evaluate_population([], (images, labels))
    with pytest.raises(ValueError, match="different devices"):
        evaluate_population([population[0], population[1].to("meta")], (images, labels))
    with pytest.raises(ValueError, match="do not fit architecture"):
        evaluate_population(population, (images[:, :10], labels))
    with pytest.raises(ValueError, match="classes"):
        evaluate_population(population, (images, labels + 3))
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_population(population, (images, labels), metrics=("precision",))
    with pytest.raises(ValueError, match="memory_budget"):
        evaluate_population(population, (images, labels), memory_budget=0)
    with pytest.raises(ValueError, match="one per image"):
        evaluate_population(population, (images, labels[:5]))
    mixed = population + [dense_population()[4]]  # a genome on another input encoding
    with pytest.raises(ValueError, match="2 different input encodings .* mixed_encodings=True"):
        evaluate_population(mixed, (images, labels))


def test_a_single_bucket_needs_one_input_encoding_and_one_shape():
    g = generator(9)
    arch = Architecture.parse(DENSE)
    a, b = EmbeddingGenome.random(arch, 8, generator=g), EmbeddingGenome.random(arch, 8, generator=g)
    with pytest.raises(ValueError, match="different input encodings"):
        stack_genomes([a, b], n_samples=10)
    with pytest.raises(ValueError, match="different widths"):
        stack_genomes([a, narrower(EmbeddingGenome, DENSE, "16-9-8-3", g)], n_samples=10)
    with pytest.raises(ValueError, match="cannot stack embedding and direct"):
        stack_genomes([a, DirectGenome.random(arch, generator=g)], n_samples=10)
    # evaluate_population groups them when asked to.
    data = dense_data()
    assert_matches(evaluate_mixed([a, b], data), reference([a, b], data))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    for population, data in ((dense_population(), dense_data()), (conv_population(), conv_data())):
        cpu = evaluate_mixed(population, data)
        cuda = evaluate_mixed(population, data, device="cuda")
        torch.testing.assert_close(cuda.accuracy, cpu.accuracy, atol=1 / N_SAMPLES + 1e-9, rtol=0)
        torch.testing.assert_close(cuda.cross_entropy, cpu.cross_entropy, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("encoding", ["direct", "embedding"])
def test_children_sharing_first_layer_neurons_are_scored_exactly_with_fewer_flops(encoding):
    arch = Architecture.parse(DENSE)
    g = generator(11)
    if encoding == "direct":
        a, b = DirectGenome.random(arch, generator=g), DirectGenome.random(arch, generator=g)
    else:
        a = EmbeddingGenome.random(arch, 8, generator=g)
        b = EmbeddingGenome.random(arch, input_encoding=a.input_encoding, generator=g)
    rng = random.Random(0)
    population = [a, b]
    for _ in range(6):  # children of transplants: every first-layer neuron is one of A's or B's
        child_a, child_b = operators.cx_transplant(a.clone(), b.clone(), layer=0, coefficient=0.5, rng=rng)
        population += [child_a, child_b]
    data = dense_data()
    shared = evaluate_population(population, data)
    assert_matches(shared, reference(population, data))
    # The same genomes with every first-layer record made distinct cost the full first layer.
    distinct = [genome.clone() for genome in population]
    for offset, genome in enumerate(distinct):
        first = genome.layers[0]
        genome.layers[0] = first.replace(bias=first["bias"] + 1e-3 * (offset + 1))
    full = evaluate_population(distinct, data)
    first = stack_genomes(population, n_samples=N_SAMPLES).dense[0]
    k = (first.z_next if first.factored else first.matrix).shape[-1]  # pixels, or d on the projection
    first_layer_flops = 2 * len(population) * 12 * k * N_SAMPLES
    assert full.flops - shared.flops >= first_layer_flops // 2  # 24 distinct records of 168 neurons


def test_first_layer_sharing_across_tiles_within_tiles_or_not_at_all():
    g = generator(12)
    arch = Architecture.parse(DENSE)
    population = [DirectGenome.random(arch, generator=g) for _ in range(3)]
    assert all(t.first_rows is None for t in share_first_layer_rows(stack_genomes(population, n_samples=8), [(0, 3)]))
    one = population[0]
    twins = stack_genomes([one] + [one.clone() for _ in range(3)], n_samples=8)
    across = share_first_layer_rows(twins, [(0, 2), (2, 4)])  # 12 distinct records, tiles of 24 neurons
    assert all(t.first_rows.across_tiles and t.first_rows.rows is across[0].first_rows.rows for t in across)
    index = torch.cat([t.first_rows.index for t in across]).view(4, 12)
    assert all(torch.equal(index[0], row) for row in index) and sorted(index[0].tolist()) == list(range(12))
    mixed = stack_genomes([one, one.clone(), one.clone(), population[1]], n_samples=8)
    within = share_first_layer_rows(mixed, [(0, 3), (3, 4)])  # only the first tile repeats records
    assert within[0].first_rows is not None and not within[0].first_rows.across_tiles
    assert within[1].first_rows is None


def test_tiles_sharing_distinct_records_compute_them_once_per_chunk():
    arch = Architecture.parse(DENSE)
    one = DirectGenome.random(arch, generator=generator(13))
    stack = stack_genomes([one] + [one.clone() for _ in range(7)], n_samples=N_SAMPLES)
    images = dense_data()[0]
    plain_counter, shared_counter = FlopCounter(), FlopCounter()
    plain_inputs, shared_inputs = SharedInputs(images, plain_counter), SharedInputs(images, shared_counter)
    bounds = [(0, 4), (4, 8)]
    plain = [stack_logits(stack.select(*b), plain_inputs, plain_counter) for b in bounds]
    shared = [stack_logits(tile, shared_inputs, shared_counter) for tile in share_first_layer_rows(stack, bounds)]
    for a, b in zip(plain, shared):
        torch.testing.assert_close(a, b)
    first_layer = 2 * 12 * 16 * N_SAMPLES  # one genome's first layer
    assert plain_counter.total - shared_counter.total == 7 * first_layer  # 12 distinct records, computed once
