"""benchmarks/reproduce_tables.py writes prose whose every measured number comes from a run's metrics."""

import json

import pytest

from tests.conftest import load_benchmark

tables = load_benchmark("reproduce_tables")


def _fake_run(repo, run, accuracy, *, best_step=600, history=None, code=None):
    folder = repo / run.folder
    folder.mkdir(parents=True)
    metrics = {"commit": "c" * 40, "dirty": False, "test": {"accuracy": accuracy, "cross_entropy": 0.5},
               "holdout": {"accuracy": accuracy + 0.01}, "best_step": best_step, "steps": 2000,
               "history": history or [], "provenance": {"commit": "c" * 40, "code": code or {}},
               "parameters": {"total": 10, "total_without_biases": 8}, "config": {"batch_size": 1000},
               "data": {"train": {"n_samples": 4500}}, "wall_time_s": 1.0}
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "REPO", tmp_path)
    return tmp_path


def test_findings_derive_every_gap_and_the_fan_in_change_from_the_runs(repo):
    runs = {run.name: run for run in tables.table1_runs("mnist", tables.MNIST) + tables.init_runs()}
    history = [{"step": 100, "train_cross_entropy": 41.25}, {"step": 200, "train_cross_entropy": 3e-7,
                                                               "holdout_cross_entropy": 6.5}]
    _fake_run(repo, runs["mnist-fc1-direct"], 0.9400, best_step=700)
    _fake_run(repo, runs["mnist-fc1-embedding"], 0.9100)
    _fake_run(repo, runs["mnist-fc4-embedding"], 0.8800, best_step=200, history=history)
    _fake_run(repo, runs["mnist-fc1-embedding-fanin"], 0.9250)
    text = tables.findings_markdown()
    assert "MNIST 5k 784-400-10 3.00 points" in text          # 94.00 - 91.00, from the metrics
    assert "0.62 points for 784-400-10" in text               # the paper's 98.05 - 97.43
    assert "95.00% at step 700 of 2000" in text
    assert "41.2 over the first 100 steps" in text and "6.50" in text and "3e-07 over the last" in text
    assert "{" not in text  # every placeholder formatted
    assert "784-400-10 91.00% -> 92.50%" in text
    assert "side experiment" not in text and "91.16" not in text


def test_a_run_measured_by_changed_code_is_marked_stale_and_rerun(repo, monkeypatch):
    run = tables.table1_runs("mnist", tables.MNIST)[0]
    _fake_run(repo, run, 0.94, code={"neuroevo/provenance.py": "0" * 16})
    assert run.stale() == ["neuroevo/provenance.py"]
    assert tables.STALE_MARK in tables._section([run], tables.TRAIN_HEADER)[2]
    executed = []
    monkeypatch.setattr(tables, "neuroevo_main", lambda argv: executed.append(argv) or 0)
    tables.execute([run], force=False, keep_stale=True, dry_run=False)
    assert executed == []
    tables.execute([run], force=False, keep_stale=False, dry_run=False)
    assert executed == [list(run.argv)]
