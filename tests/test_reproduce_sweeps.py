"""Smoke tests of benchmarks/reproduce_sweeps.py's functions on tiny synthetic parents (no data files)."""

import numpy as np
import pytest
import torch

from neuroevo import DirectGenome, EmbeddingGenome, decode
from neuroevo.sweeps import SweepParents, run_sweep
from tests.conftest import load_benchmark, small_dense, synthetic_dataset

reproduce = load_benchmark("reproduce_sweeps")

VARIANTS = ["direct", "direct-outgoing", "direct-aligned-weights", "embedding", "embedding-aligned"]


def _setup(seed=0):
    arch = small_dense()
    gen = torch.Generator().manual_seed(seed)
    a = EmbeddingGenome.random(arch, 6, generator=gen)
    b = EmbeddingGenome.random(arch, 6, input_encoding=a.input_encoding, generator=gen)
    parents = SweepParents(
        direct=(DirectGenome.random(arch, generator=gen), DirectGenome.random(arch, generator=gen)),
        embedding=(a, b),
    )
    return parents, synthetic_dataset(arch, 48, seed)


def test_pooled_stacks_pairs_as_repeats():
    results = []
    for seed in (0, 1):
        parents, data = _setup(seed)
        results.append(run_sweep("interpolate-all", parents, data, coefficients=[0.0, 0.5, 1.0], repeats=2,
                                 variants=["direct", "embedding"], progress=False))
    pooled = reproduce.pooled(results)
    assert pooled.curves[0].accuracy.shape == (2, 3)
    np.testing.assert_allclose(pooled.curves[1].accuracy[1], results[1].curves[1].accuracy.mean(axis=0))
    assert pooled.curves[0].target_accuracy == pytest.approx(
        np.mean([r.curves[0].target_accuracy for r in results]))
    assert len(pooled.setup["per_pair"]) == 2


def test_render_and_update_results_touch_only_the_generated_block(tmp_path):
    parents, data = _setup()
    result = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                       variants=["direct", "embedding"], progress=False)
    result.setup["wall_time_s"] = 1.0
    figures = tmp_path / "figures"
    result.write(figures, "fc2-mnist-transplant-layer0")
    reproduce.write_summary_mismatch(figures / "fc2-mnist-summaries.json", [parents], data)
    results_path = tmp_path / "RESULTS.md"
    results_path.write_text("# Results\n\n## Someone else's section\n\nkeep me\n")

    reproduce.update_results(results_path, reproduce.render(figures, results_path))
    first = results_path.read_text()
    assert "keep me" in first and reproduce.HEADING in first
    assert "| embedding |" in first and "figures/fc2-mnist-transplant-layer0.png" in first
    assert "Layer-summary mismatch" in first and "layer 1 " in first

    reproduce.update_results(results_path, reproduce.BEGIN + "\nreplaced\n" + reproduce.END)
    second = results_path.read_text()
    assert "replaced" in second and "| embedding |" not in second
    assert second.count(reproduce.HEADING) == 1 and "keep me" in second


def test_a_result_on_another_grid_is_run_again(tmp_path):
    parents, data = _setup()
    result = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                       variants=["embedding"], progress=False)
    result.write(tmp_path, "part-transplant-layer0")
    path = tmp_path / "part-transplant-layer0.json"
    assert reproduce.has_result(path, reproduce.Sweep("transplant", 0, 3, 2))
    assert not reproduce.has_result(path, reproduce.Sweep("transplant", 0, 21, 2))
    assert not reproduce.has_result(path, reproduce.Sweep("transplant", 0, 3, 10))
    assert not reproduce.has_result(tmp_path / "missing.json", reproduce.Sweep("transplant", 0, 3, 2))


@pytest.mark.parametrize("parents", ["direct", "embedding"])
def test_prepare_pair_trains_once_and_puts_both_embedding_parents_on_one_encoding(tmp_path, monkeypatch, parents):
    recipe = reproduce.Recipe("unused", 0, "16-12-8-3", steps=3, batch_size=16, validate_every=3, d=4, parents=parents)
    data = synthetic_dataset(small_dense(), 48)
    first = reproduce.prepare_pair(recipe, 0, tmp_path, data, data)
    a, b = first.embedding
    assert a.input_encoding == b.input_encoding and a != b
    if parents == "embedding":  # the direct pair is the same two networks
        with torch.no_grad():
            for direct, embedding in zip(first.direct, first.embedding):
                torch.testing.assert_close(decode(direct)(data.images), decode(embedding)(data.images))
    monkeypatch.setattr(reproduce, "train_parent", lambda *args: pytest.fail("trained again"))
    again = reproduce.prepare_pair(recipe, 0, tmp_path, data, data)
    assert again.embedding == first.embedding
