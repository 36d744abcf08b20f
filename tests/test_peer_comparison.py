"""benchmarks/peer_comparison.py runs to its end on tiny workloads, without EvoTorch, and renders
its RESULTS section in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import load_benchmark

TINY = ["--fc-population", "3", "--fc-samples", "40", "--conv-population", "2", "--conv-samples", "12",
        "--d", "4", "--repeats", "1", "--probe-size", "64", "--peer-batch", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("peer_comparison")


def test_runs_without_evotorch(bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    real_find_spec = bench.importlib.util.find_spec
    monkeypatch.setattr(bench.importlib.util, "find_spec",
                        lambda name, *a: None if name == "evotorch" else real_find_spec(name, *a))
    output = tmp_path / "peer.json"
    result = bench.main([*TINY, "--output", str(output)])
    assert json.loads(output.read_text())["workloads"].keys() == {"fc", "conv"}
    for name, workload in result["workloads"].items():
        assert "evotorch" not in workload["arms"] and "not installed" in workload["skipped"]
        assert workload["agree"], workload["max_abs_difference_from_batched_embedding"]
        # The peers do the direct genomes' arithmetic, less the evaluator's fused first conv layer
        # (pointwise weight times kernel: no separate 1x1 product on the single input channel).
        fused_away = 2 * 12 * 2 * 20 * 28 * 28 if name == "conv" else 0
        assert workload["flops"]["loop"] - fused_away == workload["flops"]["batched_direct"] > 0
        for arm in workload["arms"]:
            assert set(workload["per_repeat"][arm]) == {"wall", "user", "system", "minor_faults"}
    assert result["commit"] is not None and "code" in result
    rows = bench.goal_rows(result)  # the goals without an EvoTorch arm
    assert [r["goal"] for r in rows if "evotorch" in r["goal"]] == [] and len(rows) == 8
    assert all(r["met"] == (r["value"] >= r["target"]) for r in rows)
    text = bench.render([result])
    assert text.startswith(bench.SECTION) and "**Goals**" in text and "Where batched_direct spends" in text
    assert "EvoTorch is not installed" in capsys.readouterr().out


def test_plain_module_matches_the_genome(bench) -> None:
    """The loop's nn.Sequential (conv as pointwise then depthwise Conv2d) computes the genome's function."""
    from neuroevo.architecture import Architecture
    from neuroevo.decoding import decode
    from neuroevo.genomes import DirectGenome

    for spec in ("1x8x8-3c-4c-5-3", "64-7-3"):
        genome = DirectGenome.random(Architecture.parse(spec), generator=torch.Generator().manual_seed(0))
        images = torch.randn(5, 1, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(bench.plain_module(genome)(images), decode(genome)(images))


def test_dense_flops(bench) -> None:
    from neuroevo.architecture import Architecture

    assert bench.dense_flops(Architecture.parse("784-400-10"), 3) == 2 * 3 * (784 * 400 + 400 * 10)
    conv = (20 * 1 + 20 * 9) * 28 * 28 + (40 * 20 + 40 * 9) * 14 * 14 + 40 * 49 * 100 + 100 * 10
    assert bench.dense_flops(Architecture.parse("1x28x28-20c-40c-100-10"), 1) == 2 * conv


def test_scale_point_reports_memory(bench, capsys) -> None:
    point = bench.main([*TINY, "--scale-one", "2", "--scale-budget", str(2**24)])
    assert point["population"] == 2 and point["budget_bytes"] == 2**24
    assert point["peak_resident_bytes"] > 0 and point["resident_before_bytes"] > 0
    assert point["peak_above_start_bytes"] == point["peak_resident_bytes"] - point["resident_before_bytes"]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == point


def test_render_into_replaces_only_its_section(bench, tmp_path: Path) -> None:
    page = tmp_path / "RESULTS.md"
    page.write_text(f"# Results\n\nkept\n\n{bench.SECTION}\n\nold figures\n")
    bench.render_into(page, f"{bench.SECTION}\n\nnew figures\n")
    assert page.read_text() == f"# Results\n\nkept\n\n{bench.SECTION}\n\nnew figures\n"
    page.write_text(f"# Results\n\n{bench.SECTION}\n\nold\n\n## Later section\n\nkept too\n")
    bench.render_into(page, f"{bench.SECTION}\n\nnew\n")
    assert page.read_text() == f"# Results\n\n{bench.SECTION}\n\nnew\n\n## Later section\n\nkept too\n"
    fresh = tmp_path / "other.md"
    fresh.write_text("# Other\n")
    bench.render_into(fresh, f"{bench.SECTION}\n\nx\n")
    assert fresh.read_text() == f"# Other\n\n{bench.SECTION}\n\nx\n"


def test_the_probe_grows_until_its_throughput_plateaus(bench) -> None:
    """Sizes double while the rate improves by PLATEAU or more; the best size seen is chosen."""
    rates = {64: 10e9, 128: 40e9, 256: 90e9, 512: 92e9, 1024: 200e9}  # 512 improves < 5% on 256
    tried = []

    def rate_of(n: int) -> float:
        tried.append(n)
        return rates[n]

    assert bench.size_probe(rate_of, 64, 1024) == (512, [{"size": n, "gflops_per_second": rates[n] / 1e9}
                                                         for n in (64, 128, 256, 512)])
    assert tried == [64, 128, 256, 512]
    assert bench.size_probe(rate_of, 64, 128)[0] == 128  # the cap stops it first
    with pytest.raises(ValueError, match="above its cap"):
        bench.size_probe(rate_of, 256, 128)
    # On this CPU, with a tiny cap: a real sizing visits doubling sizes up to the cap or the plateau.
    size, steps = bench.size_probe(lambda n: bench.gemm_rate(n, torch.device("cpu"), min_seconds=0.02)[0], 16, 128)
    assert [s["size"] for s in steps] == [16, 32, 64, 128][:len(steps)] and size in (s["size"] for s in steps)
    assert all(s["gflops_per_second"] > 0 for s in steps)


def test_the_share_of_peak_of_the_evaluators_own_gemm_bound_work_is_at_most_one(bench) -> None:
    """A run whose probe is sized to this CPU reports at most 100% of its peak for every arm, the
    evaluator's FLOP-heavy direct products included (a launch-bound fixed probe read above 100%)."""
    args = [*TINY, "--workloads", "fc", "--fc-population", "8", "--fc-samples", "512", "--d", "64",
            "--probe-start", "64", "--probe-cap", "512", "--probe-seconds", "0.05", "--repeats", "3"]
    args.remove("--probe-size"), args.remove("64")
    result = bench.main(args)
    assert [s["size"] for s in result["probe_sizing"]][0] == 64 and result["probe_dtype"] == "float32"
    assert result["probe_size"] in [s["size"] for s in result["probe_sizing"]]
    fc = result["workloads"]["fc"]
    assert fc["peak_gflops_per_second"] >= max(s["gflops_per_second"] for s in result["probe_sizing"])
    for arm, share in fc["share_of_peak"].items():
        assert 0 < share <= 1, (arm, share)
    assert "share of the device's measured peak" in bench.render([result])
