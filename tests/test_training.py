"""Tests of neuroevo.training: config, schedules, metrics, train_genome (selection, reproducibility)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.decoding import decode
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.evaluation import evaluate_genome, evaluate_module
from neuroevo.training import (
    TrainConfig,
    make_optimizer,
    make_scheduler,
    parameter_summary,
    train_genome,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n: int, *, shape=(1, 4, 4), n_classes: int = 3, seed: int = 0, noise: float = 0.7) -> Dataset:
    """Class prototypes plus Gaussian noise: learnable in a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(n_classes, *shape, generator=torch.Generator().manual_seed(99))
    labels = torch.arange(n) % n_classes
    images = prototypes[labels] + noise * torch.randn(n, *shape, generator=g)
    return Dataset(images=images, labels=labels, name="blobs", split="train", n_classes=n_classes)


DENSE = Architecture.parse("16-12-3", (1, 4, 4))
FAST = TrainConfig(steps=30, batch_size=32, validate_every=10, max_lr=0.05)


def tensors_equal(a, b) -> bool:
    return all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names) for x, y in zip(a.layers, b.layers)
    )


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "bad",
    [dict(steps=0), dict(batch_size=-1), dict(optimizer="rmsprop"), dict(max_lr=0.0), dict(momentum=1.0),
     dict(validate_every=True)],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_paper_recipe_is_the_default():
    config = TrainConfig()
    assert (config.optimizer, config.max_lr, config.batch_size, config.steps) == ("adam", 0.01, 1000, 2000)


# --------------------------------------------------------------- schedules
def _lrs(config: TrainConfig) -> list[float]:
    optimizer = make_optimizer([nn.Parameter(torch.zeros(1))], config)
    scheduler = make_scheduler(optimizer, config)
    lrs = []
    for _ in range(config.steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_one_cycle_schedule_peaks_at_max_lr_and_anneals():
    lrs = _lrs(TrainConfig(steps=100, max_lr=0.01))
    peak = max(range(100), key=lrs.__getitem__)
    assert math.isclose(lrs[peak], 0.01, rel_tol=1e-6)
    assert 20 <= peak <= 40  # warm-up over 30% of the steps
    assert lrs[0] < 0.001 and lrs[-1] < 1e-4


def test_sgd_schedule_is_linear_to_zero():
    lrs = _lrs(TrainConfig(steps=10, optimizer="sgd", max_lr=0.1))
    assert lrs == pytest.approx([0.1 * (1 - i / 10) for i in range(10)])


def test_sgd_optimizer_uses_momentum():
    optimizer = make_optimizer([nn.Parameter(torch.zeros(1))], TrainConfig(optimizer="sgd", momentum=0.8))
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["momentum"] == 0.8


# ----------------------------------------------------------------- metrics
class FixedLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 3)

    def forward(self, x):
        return self.linear(x.flatten(1))


@settings(max_examples=15, deadline=None)
@given(batch_size=st.integers(1, 70))
def test_evaluate_module_matches_a_single_pass_for_any_chunking(batch_size):
    data = blobs(53)
    module = FixedLinear()
    with torch.no_grad():
        logits = module(data.images)
    metrics = evaluate_module(module, data, batch_size=batch_size)
    assert metrics.n_samples == 53
    assert metrics.accuracy == pytest.approx(float((logits.argmax(1) == data.labels).float().mean()))
    assert metrics.cross_entropy == pytest.approx(float(F.cross_entropy(logits, data.labels)), rel=1e-5)


def test_evaluate_module_restores_training_mode():
    module = FixedLinear().train()
    evaluate_module(module, blobs(5))
    assert module.training


def test_evaluate_genome_rejects_mismatched_data():
    genome = DirectGenome.random(Architecture.parse("25-4-3", (1, 5, 5)))
    with pytest.raises(ValueError, match="25 inputs"):
        evaluate_genome(genome, blobs(10))
    with pytest.raises(ValueError, match="3 output neurons.*4 classes"):
        evaluate_genome(DirectGenome.random(DENSE), blobs(10, n_classes=4))


def test_parameter_summary_counts_with_and_without_biases():
    summary = parameter_summary(EmbeddingGenome.random(Architecture.parse("784-400-10"), 64))
    assert summary["total_without_biases"] == 76_416  # the paper's count for FC 784-400-10, d=64
    assert summary["total"] == 76_416 + 410


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("encoding", ["embedding", "direct"])
def test_training_learns_and_selects_the_best_holdout_step(encoding):
    train, holdout = blobs(120, seed=1), blobs(60, seed=2)
    g = torch.Generator().manual_seed(0)
    genome = EmbeddingGenome.random(DENSE, 8, generator=g) if encoding == "embedding" else DirectGenome.random(DENSE, generator=g)
    before = genome.clone()
    start = evaluate_genome(genome, holdout)
    result = train_genome(genome, train, holdout, config=FAST, progress=False)
    assert tensors_equal(genome, before)  # the argument is not modified
    assert result.holdout.accuracy > max(0.8, start.accuracy)
    assert [entry["step"] for entry in result.history] == [10, 20, 30]
    best = max(result.history, key=lambda e: (e["holdout_accuracy"], -e["holdout_cross_entropy"]))
    assert result.best_step == best["step"]
    assert evaluate_genome(result.genome, holdout) == result.holdout  # the returned genome is the selected one


def test_without_holdout_the_final_step_is_kept():
    result = train_genome(DirectGenome.random(DENSE), blobs(64), None, config=FAST, progress=False)
    assert result.best_step == FAST.steps and result.holdout is None


def test_seeded_runs_are_reproducible_and_the_seed_matters():
    genome = EmbeddingGenome.random(DENSE, 8, generator=torch.Generator().manual_seed(3))
    train, holdout = blobs(100, seed=1), blobs(30, seed=2)
    config = TrainConfig(steps=12, batch_size=16, validate_every=4)
    runs = [train_genome(genome, train, holdout, config=c, progress=False).genome
            for c in (config, config, TrainConfig(**{**config.as_dict(), "seed": 1}))]
    assert tensors_equal(runs[0], runs[1]) and runs[0].input_encoding == runs[1].input_encoding
    assert not tensors_equal(runs[0], runs[2])


def test_input_encoding_is_learned_only_when_asked():
    genome = EmbeddingGenome.random(DENSE, 8, generator=torch.Generator().manual_seed(0))
    fixed = train_genome(genome, blobs(64), None, config=TrainConfig(**{**FAST.as_dict(), "train_input_encoding": False}),
                         progress=False).genome
    learned = train_genome(genome, blobs(64), None, config=FAST, progress=False).genome
    assert fixed.input_encoding is genome.input_encoding
    assert learned.input_encoding != genome.input_encoding


def test_sgd_training_lowers_the_loss():
    config = TrainConfig(steps=40, batch_size=32, validate_every=20, optimizer="sgd", max_lr=0.05)
    result = train_genome(DirectGenome.random(DENSE), blobs(96), blobs(30, seed=5), config=config, progress=False)
    first = evaluate_genome(DirectGenome.random(DENSE), blobs(30, seed=5)).cross_entropy
    assert result.holdout.cross_entropy < first


@pytest.mark.parametrize("junction", ["position", "free", "gap"])
def test_conv_embedding_genomes_train(junction):
    arch = Architecture.parse("1x4x4-3c-5-3", junction=junction)
    genome = EmbeddingGenome.random(arch, 6, generator=torch.Generator().manual_seed(0))
    result = train_genome(genome, blobs(90), blobs(30, seed=3), config=FAST, progress=False)
    assert result.holdout.accuracy > 0.6


def test_standard_conv_direct_genome_trains():
    arch = Architecture.parse("1x4x4-3c-5-3", conv_style="standard")
    result = train_genome(DirectGenome.random(arch), blobs(90), blobs(30, seed=3), config=FAST, progress=False)
    assert result.holdout.accuracy > 0.6


def test_mismatched_data_fails_before_training():
    genome = DirectGenome.random(Architecture.parse("9-4-3", (1, 3, 3)))
    with pytest.raises(ValueError, match="9 inputs"):
        train_genome(genome, blobs(20), None, config=FAST, progress=False)
    conv = DirectGenome.random(Architecture.parse("1x5x5-2c-3", pool=1))
    with pytest.raises(ValueError, match=r"\(1, 5, 5\)"):
        train_genome(conv, blobs(20), None, config=FAST, progress=False)


def test_a_data_set_smaller_than_a_batch_is_used_whole():
    result = train_genome(DirectGenome.random(DENSE), blobs(10), None,
                          config=TrainConfig(steps=3, batch_size=64, validate_every=1), progress=False)
    assert result.steps == 3 and len(result.history) == 3


def test_training_decodes_on_the_requested_device(monkeypatch):
    """The device argument reaches the decoder (asked for "meta", a device no default would pick;
    the recording decoder then trains on the CPU so the run can finish)."""
    import neuroevo.training.loop as training_loop

    requested = []

    def recording_decode(genome, device=None, **options):
        requested.append(device)
        return decode(genome, None, **options)

    monkeypatch.setattr(training_loop, "decode", recording_decode)
    genome = DirectGenome.random(DENSE)
    result = train_genome(genome, blobs(40), None, config=FAST, device="meta", progress=False)
    assert requested == ["meta"]
    assert result.steps == FAST.steps and result.genome != genome


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_training_on_cuda_trains_there_and_returns_cpu_genomes(monkeypatch):
    import neuroevo.training.loop as training_loop

    devices = []

    def recording_decode(genome, device=None, **options):
        module = decode(genome, device, **options)
        devices.append(next(module.parameters()).device.type)
        return module

    monkeypatch.setattr(training_loop, "decode", recording_decode)
    genome = DirectGenome.random(DENSE)
    result = train_genome(genome, blobs(40), blobs(30, seed=3), config=FAST, device="cuda", progress=False)
    assert devices == ["cuda"]
    assert all(t.device.type == "cpu" for layer in result.genome.layers for _, t in layer.items())
    assert result.genome != genome and decode(result.genome)(blobs(2).images).shape == (2, 3)
