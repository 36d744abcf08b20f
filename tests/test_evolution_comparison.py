"""Reporting the evolution comparison, and the example script's caching and RESULTS section."""

import argparse
import importlib.util
import json
import sys

import pytest
import torch
from scipy import stats

from neuroevo.data import Dataset
from populations.comparison import RECORD_FIELDS, check_equal_budget, separation, summarise, summary_table
from populations import CurvePoint, EvolutionResult
from tests.conftest import REPO


def record(variation="crossover", seed=0, test=0.9, evaluations=72, steps=2000, encoding="embedding", **extra):
    return {"dataset": "mnist", "design": "d", "encoding": encoding, "variation": variation, "operator": "op",
            "seed": seed, "evaluations": evaluations, "gradient_steps": steps, "test_accuracy": test,
            "holdout_accuracy": test, **extra}


def test_summary_uses_the_student_t_interval():
    values = [0.90, 0.92, 0.91, 0.95]
    (summary,) = summarise([record(seed=i, test=v) for i, v in enumerate(values)])
    mean, half = summary.test
    expected = stats.t.ppf(0.975, 3) * stats.sem(values)
    assert mean == pytest.approx(sum(values) / 4)
    assert half == pytest.approx(expected)
    assert summary.n == 4 and summary.evaluations == (72,)
    assert "91.00 ± " not in summary_table([summary])  # the mean is 92.00
    assert f"{100 * mean:.2f} ± {100 * half:.2f}" in summary_table([summary])


def test_separation_reads_disjoint_intervals():
    runs = ([record("crossover", s, 0.95 + 0.001 * s) for s in range(5)]
            + [record("none", s, 0.90 + 0.001 * s) for s in range(5)]
            + [record("mutation-only", s, 0.95 - 0.02 * (s % 2)) for s in range(5)])
    summaries = summarise(runs)
    verdict = separation(summaries, summaries[0])
    assert verdict["embedding / none / op"] == "above"
    assert verdict["embedding / mutation-only / op"] == "overlap"
    assert separation(summaries, summaries[1])["embedding / crossover / op"] == "below"


def test_unequal_budgets_are_caught():
    check_equal_budget([record("crossover"), record("none"), record("none", encoding="adam", evaluations=73)])
    with pytest.raises(ValueError, match="unequal evaluations"):
        check_equal_budget([record("crossover"), record("none", evaluations=80)])
    with pytest.raises(ValueError, match="unequal gradient_steps"):
        check_equal_budget([record("crossover"), record("none", steps=1999)])


def test_a_record_without_a_field_is_rejected():
    broken = record()
    del broken["gradient_steps"]
    with pytest.raises(ValueError, match="lacks gradient_steps"):
        summarise([broken])


# ------------------------------------------------------------------ the example script


@pytest.fixture
def example(monkeypatch):
    spec = importlib.util.spec_from_file_location("evolution_comparison", REPO / "examples" / "evolution_comparison.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["evolution_comparison"] = module
    spec.loader.exec_module(module)
    return module


def fake_splits(_source):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(40, 1, 1, 16, generator=generator)
    data = Dataset(images, images.flatten(1)[:, :4].argmax(dim=1), "synthetic", "train", 4)
    return data, data, data


def test_runs_are_cached_and_rerun_only_when_stale(example, monkeypatch, tmp_path):
    from neuroevo.genomes import EmbeddingGenome
    from neuroevo import Architecture

    calls = []
    genome = EmbeddingGenome.random(Architecture.parse("16-6-4", input_shape=(1, 1, 16)), 4,
                                    generator=torch.Generator().manual_seed(0))

    def fake_run(train, holdout, settings, seed):
        calls.append(seed)
        return EvolutionResult(genome, None, 10, 20, [CurvePoint(0, 10, 0.5, 0.4, {"intermediate_avg": float("nan"),
                                                                                  "diversity": 0.1})])

    arm = example.Arm("shared-ancestor", "embedding", "none", "copy", fake_run)
    monkeypatch.setattr(example, "arms", lambda: [arm])
    monkeypatch.setattr(example, "load_splits", fake_splits)
    args = argparse.Namespace(output=str(tmp_path / "out.json"), mnist="x", fashion=None, seeds=2, secondary_seeds=0,
                              secondary_datasets=[], designs=None, keep_stale=False)
    monkeypatch.setattr(example, "changed_since", lambda commit: [] if commit == "current" else ["operators/x.py"])
    monkeypatch.setattr(example, "provenance", lambda: {"commit": "current", "dirty": False})
    document = example.run_all(args)
    assert calls == [0, 1]
    assert [set(RECORD_FIELDS) <= set(r) for r in document["runs"]] == [True, True]
    assert all(r["evaluations"] == 10 and r["gradient_steps"] == 20 for r in document["runs"])
    example.run_all(args)
    assert calls == [0, 1]  # nothing rerun: both records are current
    saved = json.loads((tmp_path / "out.json").read_text())
    saved["runs"][0]["commit"] = "old"
    (tmp_path / "out.json").write_text(json.dumps(saved))
    example.run_all(args)
    assert calls == [0, 1, 0]  # the stale record, and only it, is measured again
    assert sorted(r["seed"] for r in json.loads((tmp_path / "out.json").read_text())["runs"]) == [0, 1]


def test_a_missing_data_set_stops_the_run_before_its_first_arm_and_says_how_to_get_it(example, monkeypatch, tmp_path):
    calls = []
    arm = example.Arm("shared-ancestor", "embedding", "none", "copy", lambda *a: calls.append(a))
    monkeypatch.setattr(example, "arms", lambda: [arm])
    monkeypatch.setattr(example, "provenance", lambda: {"commit": "current", "dirty": False})
    args = argparse.Namespace(output=str(tmp_path / "out.json"), mnist="mnist-small",
                              fashion=str(tmp_path / "no-fashion-here"), seeds=1, secondary_seeds=0,
                              secondary_datasets=[], designs=None, keep_stale=False)
    with pytest.raises(SystemExit, match="cannot load fashion-mnist.*apt-get install dataset-fashion-mnist"):
        example.run_all(args)
    assert calls == []  # the MNIST arm, listed first, never ran


def test_the_results_section_is_written_at_the_end_and_replaced_on_rerun(example, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Other section\n\ntext\n")
    curve = [{"evaluations": 8 * (g + 1), "best": 0.5 + 0.01 * g, "mean": 0.4, "intermediate_avg": None,
              "diversity": 0.1} for g in range(3)]
    runs = [record(v, s, 0.9 + 0.01 * s, curve=curve) for v in ("crossover", "none") for s in range(3)]
    document = {"commit": "abc", "settings": {}, "runs": runs}
    example.write_report(document, tmp_path, results)
    first = results.read_text()
    assert first.startswith("# Results\n\n## Other section\n\ntext\n")
    assert first.rstrip().endswith(example.END)
    assert first.count(example.SECTION_HEADING) == 1
    assert (tmp_path / "evolution_mnist_d_best.png").exists()
    example.write_report(document, tmp_path, results)
    assert results.read_text() == first
    results.write_text(first + "\nNotes written by hand after the generated block.\n")
    example.write_report(document, tmp_path, results)
    assert results.read_text() == first + "\nNotes written by hand after the generated block.\n"
    document["runs"][0]["evaluations"] = 99
    with pytest.raises(ValueError, match="unequal evaluations"):
        example.write_report(document, tmp_path, results)


def test_the_section_marks_runs_whose_code_changed_as_stale(example, monkeypatch, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n")
    curve = [{"evaluations": 8, "best": 0.5, "mean": 0.4, "intermediate_avg": None, "diversity": 0.1}]
    document = {"commit": "abc", "settings": {}, "runs": [record("none", s, 0.9, curve=curve) for s in range(2)]}
    monkeypatch.setattr(example, "changed_since", lambda commit: ["populations/engine.py"])
    assert "† Stale" in example.write_report(document, tmp_path, results) and "in 1 file(s)" in results.read_text()
    monkeypatch.setattr(example, "changed_since", lambda commit: [])
    assert "† Stale" not in example.write_report(document, tmp_path, results)
