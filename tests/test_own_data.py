"""A user's own data: Dataset.from_arrays, as_dataset, and every public function that takes data
accepting a Dataset or a pair (x, y) of arrays, flat feature vectors included, end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neuroevo import DirectGenome, EmbeddingGenome
from neuroevo.architecture import Architecture
from neuroevo.data import NORMALISATION, Dataset, as_dataset, load_dataset, read_idx_split
from neuroevo.data.builtin_sets import builtin_folder
from neuroevo.evaluation import evaluate_genome, evaluate_population
from neuroevo.sweeps import SweepParents, run_sweep
from neuroevo.training import TrainConfig, train_genome

pytestmark = pytest.mark.usefixtures("one_thread")

FLAT = Architecture.parse("64-32-10")


def flat_blobs(n: int, seed: int, n_features: int = 64, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Class prototypes plus noise as float64 ``[n, F]`` in a range far from standardised
    (values around 8 +- 4, like scikit-learn's load_digits), labels int64 ``[n]``."""
    prototypes = np.random.default_rng(99).uniform(0, 16, size=(n_classes, n_features))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    return prototypes[labels] + rng.normal(0, 4, size=(n, n_features)), labels


# ------------------------------------------------------------ from_arrays
def test_flat_features_are_standardised_per_feature_and_the_test_part_with_the_training_statistics():
    x, y = flat_blobs(300, seed=1)
    x[:, 5] = 3.0  # a constant feature: centred, not divided by zero
    train = Dataset.from_arrays(x, y)
    assert train.input_shape == (64,) and train.n_classes == 10 and train.images.dtype == torch.float32
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == y.tolist()
    assert len(train.mean) == len(train.std) == 64 and train.std[5] == 1.0
    torch.testing.assert_close(train.images.mean(0), torch.zeros(64), atol=1e-5, rtol=0)
    expected_std = torch.ones(64)
    expected_std[5] = 0.0
    torch.testing.assert_close(train.images.std(0, unbiased=False), expected_std, atol=1e-4, rtol=0)
    x_test, y_test = flat_blobs(50, seed=2)
    test = Dataset.from_arrays(x_test, y_test, mean=train.mean, std=train.std, split="test")
    manual = (x_test - np.array(train.mean)) / np.array(train.std)
    np.testing.assert_allclose(test.images.numpy(), manual, rtol=1e-5, atol=1e-5)
    assert test.split == "test" and test.mean == train.mean


def test_uint8_images_from_arrays_match_the_file_loader_exactly():
    images, labels = read_idx_split(builtin_folder("mnist-small"), "test")
    mean, std = NORMALISATION["mnist"]
    mine = Dataset.from_arrays(images[:500], labels[:500], mean=mean, std=std, n_classes=10)
    loaded = load_dataset("mnist-small", "test")
    assert mine.input_shape == (1, 28, 28)
    assert torch.equal(mine.images, loaded.images[:500]) and torch.equal(mine.labels, loaded.labels[:500])


def test_images_get_per_channel_statistics_and_raw_values_are_kept_without_standardisation():
    scale = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64).view(1, 3, 1, 1)
    x = torch.rand(40, 3, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * scale
    y = torch.arange(40, dtype=torch.int32) % 4
    data = Dataset.from_arrays(x, y)
    assert data.images.dtype == torch.float32 and data.labels.dtype == torch.int64 and data.n_classes == 4
    assert data.mean == pytest.approx(x.float().mean(dim=(0, 2, 3)).tolist(), rel=1e-5)
    assert data.std == pytest.approx(x.float().std(dim=(0, 2, 3), unbiased=False).tolist(), rel=1e-4)
    torch.testing.assert_close(data.images.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    raw = Dataset.from_arrays(x, y, standardise=False)
    assert torch.equal(raw.images, x.float()) and (raw.mean, raw.std) == ((0.0,), (1.0,))


def test_one_channel_images_integer_valued_float_labels_and_a_given_class_count():
    x = np.random.default_rng(0).random((12, 4, 4))
    data = Dataset.from_arrays(x, np.arange(12, dtype=np.float32) % 3, n_classes=5)
    assert data.input_shape == (1, 4, 4) and data.n_classes == 5 and data.labels.tolist() == [0, 1, 2] * 4


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(2, 20), st.integers(1, 6)),
                  elements=st.floats(-1e3, 1e3, width=32, allow_nan=False, allow_subnormal=False)))
def test_standardised_features_are_centred_with_unit_or_zero_spread_and_the_input_is_untouched(x):
    before = x.copy()
    labels = np.arange(len(x)) % 2
    data = Dataset.from_arrays(x, labels)
    np.testing.assert_array_equal(x, before)
    spread = data.images.double().std(0, unbiased=False).numpy()
    assert np.all(np.abs(data.images.double().mean(0).numpy()) < 1e-3)
    constant = np.ptp(x, axis=0) == 0
    np.testing.assert_allclose(spread[constant], 0.0, atol=1e-6)
    # float32 rounding of values that differ by little leaves a relative error around 1e-7 / spread
    relative = np.ptp(x, axis=0) / np.maximum(np.abs(x).max(axis=0), 1e-30)
    clear = ~constant & (relative > 1e-3)
    np.testing.assert_allclose(spread[clear], 1.0, rtol=1e-3)


X, Y = flat_blobs(8, seed=0)


@pytest.mark.parametrize(
    "x, y, kwargs, error, message",
    [
        (X[:7], Y, {}, ValueError, "one per image or feature vector: 7 samples"),
        (np.where(np.arange(64) == 3, np.nan, X), Y, {}, ValueError, "NaN or infinite values in 8 of 8"),
        (np.where(np.arange(8)[:, None] == 6, np.inf, X), Y, {}, ValueError, "first: sample 6"),
        (X, Y + 0.5, {}, ValueError, "integer class indices; label 0 is"),
        (X, np.where(np.arange(8) == 4, -2, Y), {}, ValueError, "label 4 is -2"),
        (X, np.full(8, 9), {"n_classes": 9}, ValueError, "out of range for 9 classes"),
        (X, np.where(np.arange(8) == 2, np.nan, Y), {}, ValueError, "label 2 is nan"),
        (X, Y[:, None], {}, ValueError, "labels of shape (8, 1)"),
        (X[:, :, None, None, None], Y, {}, ValueError, "got shape (8, 64, 1, 1, 1)"),
        (X[:0], Y[:0], {}, ValueError, "hold no values"),
        (X, Y.astype(bool), {}, TypeError, "integer class indices"),
        (X.astype(str), Y, {}, TypeError, "numeric"),
        (X, Y, {"mean": [0.0] * 64}, ValueError, "both mean and std"),
        (X, Y, {"mean": [0.0] * 64, "std": [1.0] * 64, "standardise": False}, ValueError, "standardise=False"),
        (X, Y, {"mean": [0.0], "std": [1.0]}, ValueError, "one value per feature (64)"),
        (X, Y, {"mean": [0.0] * 64, "std": [0.0] * 64}, ValueError, "positive and finite"),
    ],
)
def test_bad_arrays_get_a_clear_error_and_are_left_untouched(x, y, kwargs, error, message):
    x_before, y_before = np.array(x, copy=True), np.array(y, copy=True)
    with pytest.raises(error) as info:
        Dataset.from_arrays(x, y, **kwargs)
    assert message in str(info.value)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)


# -------------------------------------------------------------- as_dataset
def test_as_dataset_passes_a_dataset_through_and_takes_a_pair_as_it_is():
    data = Dataset.from_arrays(*flat_blobs(20, seed=3))
    assert as_dataset(data) is data
    x, y = torch.randn(20, 6), torch.arange(20) % 4
    pair = as_dataset((x, y))
    assert pair.images.data_ptr() == x.data_ptr() and pair.labels.data_ptr() == y.data_ptr()  # no copy
    assert (pair.name, pair.split, pair.n_classes, pair.input_shape) == ("arrays", "pair", 4, (6,))
    assert as_dataset([x, y], n_classes=7).n_classes == 7
    with pytest.raises(TypeError, match="Dataset or a pair"):
        as_dataset(x)
    with pytest.raises(TypeError, match="Dataset or a pair"):
        as_dataset((x, y, y))


# --------------------------------------------------------------- end to end
def test_flat_feature_data_trains_evaluates_and_scores_a_population_end_to_end():
    x, y = flat_blobs(600, seed=4)
    x_test, y_test = flat_blobs(200, seed=5)
    train = Dataset.from_arrays(x[:500], y[:500])
    holdout = Dataset.from_arrays(x[500:], y[500:], mean=train.mean, std=train.std, split="holdout")
    test = Dataset.from_arrays(x_test, y_test, mean=train.mean, std=train.std, split="test")
    config = TrainConfig(steps=60, batch_size=100, validate_every=20, max_lr=0.02)
    genome = EmbeddingGenome.random(FLAT, 8, init="fan-in", generator=torch.Generator().manual_seed(0))
    result = train_genome(genome, train, holdout, config=config, progress=False)
    assert result.genome.architecture.input_shape == (64,)
    scored = evaluate_genome(result.genome, test)
    assert scored.n_samples == 200 and scored.accuracy > 0.9  # chance is 0.1
    assert evaluate_genome(result.genome, (test.images, test.labels)) == scored
    others = [DirectGenome.random(FLAT, generator=torch.Generator().manual_seed(s)) for s in range(2)]
    scores = evaluate_population([result.genome], test)
    assert scores.accuracy[0].item() == pytest.approx(scored.accuracy)
    direct_scores = evaluate_population(others, (test.images.numpy(), test.labels.numpy()))
    assert [round(a, 6) for a in direct_scores.accuracy.tolist()] == [
        round(evaluate_genome(g, test).accuracy, 6) for g in others]


def test_train_genome_takes_a_pair_of_arrays():
    # The old train_genome crashed on a pair: AttributeError 'tuple' object has no attribute 'input_shape'.
    x, y = flat_blobs(200, seed=6)
    x = (x - x.mean(0)) / x.std(0)
    config = TrainConfig(steps=20, batch_size=50, validate_every=10, max_lr=0.02)
    genome = DirectGenome.random(FLAT, generator=torch.Generator().manual_seed(1))
    from_pair = train_genome(genome, (x[:150], y[:150]), (x[150:], y[150:]), config=config, progress=False)
    as_data = Dataset.from_arrays(x, y, standardise=False)
    from_data = train_genome(genome, as_data.subset(torch.arange(150), "train"),
                             as_data.subset(torch.arange(150, 200), "holdout"), config=config, progress=False)
    assert from_pair.best_step == from_data.best_step and from_pair.holdout == from_data.holdout
    with pytest.raises(ValueError, match="out of range for 10 classes"):
        train_genome(genome, (x, np.full(200, 12)), None, config=config, progress=False)


def test_run_sweep_takes_a_pair_of_arrays():
    x, y = flat_blobs(60, seed=7)
    gen = torch.Generator().manual_seed(2)
    parents = SweepParents(direct=(DirectGenome.random(FLAT, generator=gen), DirectGenome.random(FLAT, generator=gen)))
    kwargs = dict(layer=0, coefficients=[0.0, 1.0], repeats=1, variants=["direct"], progress=False)
    from_pair = run_sweep("transplant", parents, (x.astype(np.float32), y), **kwargs)
    from_data = run_sweep("transplant", parents, Dataset.from_arrays(x, y, standardise=False), **kwargs)
    np.testing.assert_array_equal(from_pair.curves[0].accuracy, from_data.curves[0].accuracy)
    assert "arrays" in from_pair.dataset


def test_scikit_learn_digits_train_from_its_arrays():
    datasets = pytest.importorskip("sklearn.datasets")  # the optional extra "sklearn" (in "all")
    x, y = datasets.load_digits(return_X_y=True)  # float64 [1797, 64] in 0..16, int labels
    train = Dataset.from_arrays(x[:1400], y[:1400], name="digits")
    test = Dataset.from_arrays(x[1400:], y[1400:], mean=train.mean, std=train.std, name="digits", split="test")
    genome = EmbeddingGenome.random(FLAT, 16, init="fan-in", generator=torch.Generator().manual_seed(0))
    config = TrainConfig(steps=150, batch_size=100, validate_every=50, max_lr=0.02)
    trained = train_genome(genome, train, None, config=config, progress=False).genome
    assert evaluate_genome(trained, test).accuracy > 0.85


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_arrays_on_the_gpu_stay_there_and_score_as_on_the_cpu():
    x, y = flat_blobs(100, seed=8)
    cpu = Dataset.from_arrays(x, y)
    gpu = Dataset.from_arrays(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda())
    assert gpu.device.type == "cuda" and gpu.labels.device.type == "cuda"
    torch.testing.assert_close(gpu.images.cpu(), cpu.images)
    genome = DirectGenome.random(FLAT, generator=torch.Generator().manual_seed(3))
    expected = evaluate_genome(genome, cpu).accuracy
    assert evaluate_genome(genome, (gpu.images, gpu.labels), device="cuda").accuracy == pytest.approx(expected)
    assert evaluate_population([genome], gpu).accuracy[0].item() == pytest.approx(expected)
