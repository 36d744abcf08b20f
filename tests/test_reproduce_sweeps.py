"""Smoke tests of benchmarks/reproduce_sweeps.py's functions on tiny synthetic parents (no data files)."""

import json

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
    assert "### The issue's aims, measured" in first  # generated from the result files, never typed
    aims = first.split("### The issue's aims, measured")[1]
    retention = result.summary()[1]["retention_at_1.0"]
    assert f"| embedding transplant keeps >= 98% at coefficient 1.0 (first hidden layer) | {100 * retention:.1f}%" in aims

    reproduce.update_results(results_path, reproduce.BEGIN + "\nreplaced\n" + reproduce.END)
    second = results_path.read_text()
    assert "replaced" in second and "| embedding |" not in second
    assert second.count(reproduce.HEADING) == 1 and "keep me" in second


def test_a_result_on_another_grid_is_run_again(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce, "changes_since", lambda measured_on: [])
    parents, data = _setup()
    result = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                       variants=["embedding"], progress=False)
    result.write(tmp_path, "part-transplant-layer0")
    path = tmp_path / "part-transplant-layer0.json"
    plan = dict(force=False, requested=(), keep_stale=False)
    assert reproduce.variants_to_run(path, reproduce.Sweep("transplant", 0, 3, 2), **plan) == ()
    assert reproduce.variants_to_run(path, reproduce.Sweep("transplant", 0, 21, 2), **plan) is None
    assert reproduce.variants_to_run(path, reproduce.Sweep("transplant", 0, 3, 10), **plan) is None
    assert reproduce.variants_to_run(tmp_path / "missing.json", reproduce.Sweep("transplant", 0, 3, 2), **plan) is None
    assert reproduce.variants_to_run(path, reproduce.Sweep("transplant", 0, 3, 2), **plan | {"force": True}) is None


def test_result_files_record_their_commit_and_a_stale_result_is_rerun_or_marked(tmp_path):
    parents, data = _setup()
    result = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                       variants=["direct", "embedding"], progress=False)
    result.setup["wall_time_s"] = 1.0
    figures = tmp_path / "figures"
    result.write(figures, "fc2-mnist-transplant-layer0")
    record = json.loads((figures / "fc2-mnist-transplant-layer0.json").read_text())
    assert "commit" in record and "dirty" in record and record["provenance"]["dataset"] == "synthetic"
    assert all(c["measured_on"]["commit"] == record["commit"] for c in record["curves"])
    sweep = reproduce.Sweep("transplant", 0, 3, 2)
    path = figures / "fc2-mnist-transplant-layer0.json"
    assert reproduce.variants_to_run(path, sweep, force=False, requested=(), keep_stale=False) == ()
    # The embedding curve was measured by code that differs now: it is re-run by default, kept (and marked)
    # with keep_stale.
    record["curves"][1]["measured_on"] = {"commit": "0" * 40, "dirty": False,
                                          "code": {"neuroevo/sweeps/run.py": "0" * 16}}
    path.write_text(json.dumps(record))
    assert reproduce.variants_to_run(path, sweep, force=False, requested=(), keep_stale=False) == ("embedding",)
    assert reproduce.variants_to_run(path, sweep, force=False, requested=(), keep_stale=True) == ()
    assert reproduce.variants_to_run(path, sweep, force=False, requested=("direct",), keep_stale=True) == ("direct",)
    results_path = tmp_path / "RESULTS.md"
    block = reproduce.render(figures, results_path)
    assert f"| embedding {reproduce.STALE_MARK} |" in block and "| direct |" in block
    assert "Stale: measured at commit 0000000000" in block


def test_a_partial_rerun_replaces_only_its_variants_and_refuses_changed_parents():
    parents, data = _setup()
    first = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                      variants=["direct", "embedding", "embedding-aligned"], progress=False)
    again = run_sweep("transplant", parents, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2, seed=5,
                      variants=["embedding"], progress=False)
    merged = reproduce.merged(first, again)
    assert [c.variant for c in merged.curves] == ["direct", "embedding", "embedding-aligned"]
    assert merged.curves[1] is again.curves[0] and merged.curves[0] is first.curves[0]
    assert merged.setup["reruns"][0]["variants"] == ["embedding"]
    other, _ = _setup(seed=3)
    changed = run_sweep("transplant", other, data, layer=0, coefficients=[0.0, 0.5, 1.0], repeats=2,
                        variants=["embedding"], progress=False)
    with pytest.raises(ValueError, match="parents are not provably"):
        reproduce.merged(first, changed)
    first.setup.pop("parent_hashes")  # a result from before parent hashes were recorded
    with pytest.raises(ValueError, match="--force"):
        reproduce.merged(first, again)


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


def test_fits_are_a_function_of_their_seed_not_of_the_global_random_state(tmp_path):
    """Issue 19: conv fits drew the start of their free junction from the global generator, so a re-run
    fitted different genomes (conv-mnist's embedding transplant retention at 1.0: 0.828 against 0.381)."""
    recipe = reproduce.Recipe("unused", 0, "2c-3c-5-3", steps=2, batch_size=16, validate_every=2, d=4)
    data = synthetic_dataset(recipe.architecture(), 32)
    first = reproduce.prepare_pair(recipe, 0, tmp_path / "one", data, data)
    torch.manual_seed(12345)  # another global state
    again = reproduce.prepare_pair(recipe, 0, tmp_path / "two", data, data)
    assert again.direct == first.direct and again.embedding == first.embedding
    other = reproduce.fit_pair(*first.direct, recipe.d, tmp_path / "one", seed=1)
    assert other[0] != first.embedding[0] and other[0].input_encoding == other[1].input_encoding
    assert (tmp_path / "one" / "fit1-A.safetensors").exists()
