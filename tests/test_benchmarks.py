"""Smoke runs of the benchmark scripts on tiny inputs: they run to the end and write figures that
agree with each other and with counts worked out by hand (no assertion on how fast anything is)."""

import json
import math
import statistics

import pytest

from tests.conftest import load_benchmark

pytestmark = pytest.mark.usefixtures("one_thread")


def _check_timings(seconds: dict[str, list[float]], median: dict[str, float], repeats: int) -> None:
    """Every run timed ``repeats`` times, each time finite and positive, medians the medians."""
    for name, times in seconds.items():
        assert len(times) == repeats and all(math.isfinite(t) and t > 0 for t in times), name
        assert median[name] == statistics.median(times), name


@pytest.mark.parametrize("population", [[], ["--offspring-of", "2"]], ids=["random", "offspring"])
def test_batched_evaluation_benchmark_writes_agreeing_figures(idx_folder, tmp_path, population):
    output = tmp_path / "batched.json"
    load_benchmark("batched_evaluation").main(
        ["--data", str(idx_folder), "--arch", "36-10-3", "--d", "4", "--population", "3", "--repeats", "3",
         "--probe-size", "32", "--output", str(output), *population]
    )
    figures = json.loads(output.read_text())
    assert figures["max_abs_difference"]["accuracy"] <= 1 / 60  # 60 test images
    _check_timings(figures["wall_seconds"], figures["median_wall_seconds"], 3)
    median = figures["median_wall_seconds"]
    assert figures["speedup"] == median["loop"] / median["batched"]
    low, high = figures["speedup_range"]
    assert low <= figures["speedup"] <= high
    # FLOPs of 3 genomes 36-10-3 (d=4) on N=60 images, 2 per multiply-add, by hand:
    # batched: input projection once 2 N 36 d, per genome 2 N (d 10 + 10 3) and W2 generation 2 10 3 d
    assert figures["flops_performed"] == 2 * 60 * 36 * 4 + 3 * (2 * 60 * (4 * 10 + 10 * 3) + 2 * 10 * 3 * 4)
    # loop (one chunk of 60): layer 1 factored 2 N d (36 + 10); layer 2 materialised 2 (10 d 3 + N 10 3)
    assert figures["flops_loop"] == 3 * (2 * 60 * 4 * (36 + 10) + 2 * (10 * 4 * 3 + 60 * 10 * 3))
    assert figures["flops_dense_equivalent"] == 3 * 2 * 60 * (36 * 10 + 10 * 3)


def test_genome_equality_benchmark_writes_agreeing_figures(tmp_path):
    output = tmp_path / "equality.json"
    result = load_benchmark("genome_equality").main(
        ["--arch", "12-6-5-3", "--repeats", "3", "--output", str(output)])
    figures = json.loads(output.read_text())
    assert figures == json.loads(json.dumps(result))
    assert figures["dataset"] == "synthetic random genomes" and figures["split"] == "n/a"
    assert "genome_equality.py --arch 12-6-5-3 --repeats 3" in figures["command"]
    assert {"commit", "dirty", "measured_at"} <= set(figures)
    assert figures["architecture"] == "12-6-5-3" and figures["threads"] == 1
    assert {kind: pair["answer"] for kind, pair in figures["pairs"].items()} == {"equal": True, "unequal": False}
    for pair in figures["pairs"].values():
        _check_timings(pair["seconds"], pair["median_seconds"], 3)
        median = pair["median_seconds"]
        assert pair["ratio_reference_old_over_current"] == median["reference_old"] / median["current"]
        assert pair["ratio_reference_old_over_similar"] == median["reference_old"] / median["similar"]


def test_genome_equality_reference_is_the_old_order_dependent_equality():
    """The benchmark's reference point reproduces the old defect (ties kept in stored order), so
    it is the old code and not the new one under another name."""
    from neuroevo import Architecture, DirectGenome

    benchmark = load_benchmark("genome_equality")
    genome = DirectGenome.random(Architecture.parse("16-8-8-3"))
    rows = list(range(8))
    rows[1] = 0  # neurons 0 and 1 of layer 0: equal records, different outgoing weights
    genome.layers[0] = genome.layers[0].select(rows)
    swapped = genome.clone()
    swapped.permute_layer(0, [1, 0, 2, 3, 4, 5, 6, 7])
    assert swapped == genome and not benchmark.reference_old_equal(swapped, genome)


def test_sweep_speed_interleaves_the_arms_and_records_a_portable_command(idx_folder, tmp_path, monkeypatch):
    """Both arms run ``--rounds`` times, alternating which goes first; the figures are the rounds'
    medians; the record names the parents, the output and the data without absolute paths."""
    import sys

    import torch

    from neuroevo.architecture import Architecture
    from neuroevo.files import save_genome
    from neuroevo.genomes import DirectGenome, EmbeddingGenome

    arch, generator = Architecture.parse("1x6x6-5-4-3"), torch.Generator().manual_seed(0)
    parents = tmp_path / "pair0"
    fit_a = EmbeddingGenome.random(arch, 4, generator=generator)
    for name, genome in (("A", DirectGenome.random(arch, generator=generator)),
                         ("B", DirectGenome.random(arch, generator=generator)), ("fit-A", fit_a),
                         ("fit-B", EmbeddingGenome.random(arch, 4, input_encoding=fit_a.input_encoding,
                                                          generator=generator))):
        save_genome(genome, parents / f"{name}.safetensors")
    bench = load_benchmark("sweep_speed")
    calls = []
    real = bench.run_sweep
    monkeypatch.setattr(bench, "run_sweep", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    output = tmp_path / "speed.json"
    argv = ["--parents", str(parents), "--data", str(idx_folder), "--points", "3", "--repeats", "2",
            "--rounds", "3", "--output", str(output)]
    monkeypatch.setattr(sys, "argv", [str(bench.__file__), *argv])
    bench.main(argv)
    record = json.loads(output.read_text())
    rounds = record["rounds"]
    assert len(rounds) == 3 and calls == ["transplant"] * 6
    assert [list(r)[0] for r in rounds] == ["batched_s", "sequential_s", "batched_s"]  # who went first
    assert record["batched_s"] == statistics.median(r["batched_s"] for r in rounds)
    assert record["sequential_full_s"] == statistics.median(r["sequential_full_s"] for r in rounds)
    assert record["ratio"] == record["sequential_full_s"] / record["batched_s"]
    assert record["children"] == 5 * 3 * 2 and record["max_accuracy_difference"] < 1e-6
    assert record["command"].startswith("python benchmarks/sweep_speed.py --parents '<tmp>/pair0' --data '<tmp>/blobs'")
    assert "`<tmp>/pair0`" in record["description"] and str(tmp_path) not in json.dumps(record)
    assert [d["split"] for d in record["data_sets"]] == ["test", "train"]
    assert set(record["load_average_1min"]) == {"before", "after", "cpus"}


def test_lockstep_benchmark_times_both_modes_and_renders(tmp_path):
    bench = load_benchmark("lockstep_runs")
    output, results = tmp_path / "lockstep.json", tmp_path / "RESULTS.md"
    results.write_text("# Results\n")
    bench.main(["--task", "cartpole", "--algorithm", "cosyne", "--runs", "2", "--cap", "60", "--repeats", "1",
                "--output", str(output), "--render-into", str(results)])
    content = json.loads(output.read_text())
    assert set(content["median_s"]) == {"lockstep", "one at a time"} and content["speedup"] > 0
    assert content["provenance"]["commit"] and content["evaluations"] >= 2 * 40
    assert "| all runs in lockstep |" in results.read_text() and "Stale" not in results.read_text()
    content["provenance"]["code"] = {"neuroevo/__init__.py": "0" * 16}  # measured by other code
    assert "† **Stale**: measured at commit" in bench.render(content)


def test_a_stale_record_is_marked_with_the_command_that_measures_it_again():
    staleness = load_benchmark("staleness")
    from neuroevo.provenance import code_fingerprint
    assert staleness.stale_lines({"commit": "abc", "code": code_fingerprint()}, "python x.py") == []
    changed = {"commit": "0123456789abcdef", "code": {"neuroevo/__init__.py": "0" * 16}}
    note, blank = staleness.stale_lines(changed, "python benchmarks/x.py --flag")
    assert note.startswith("† **Stale**: measured at commit 0123456789;") and blank == ""
    assert "neuroevo/__init__.py" in note and note.endswith("Re-run with `python benchmarks/x.py --flag`.")
