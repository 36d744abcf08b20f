"""Tests of ``neuroevo train`` and ``neuroevo fit`` on a tiny IDX folder (and, marked slow, real MNIST)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuroevo.cli import main
from neuroevo.files import load_genome, load_input_encoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome


pytestmark = pytest.mark.usefixtures("one_thread")


def train(folder: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(folder), "--arch", "36-10-3", "--d", "6", "--steps", "30",
                 "--batch-size", "32", "--max-lr", "0.05", "--validate-every", "10", "--holdout", "30",
                 "--no-progress", "-o", str(out), *extra])


# ------------------------------------------------------------------- train
def test_train_writes_genome_encoding_and_metrics(idx_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(idx_folder, out) == 0
    genome = load_genome(out / "genome.safetensors")
    assert isinstance(genome, EmbeddingGenome) and genome.d == 6
    assert load_input_encoding(out / "input_encoding.safetensors") == genome.input_encoding
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["train"] == {"name": "idx:blobs", "split": "train-minus-holdout", "n_samples": 120}
    assert metrics["data"]["holdout"]["n_samples"] == 30 and metrics["data"]["test"]["n_samples"] == 60
    assert metrics["steps"] == 30 and metrics["best_step"] in (0, 10, 20, 30)
    assert metrics["test"]["accuracy"] > 0.8 and metrics["test"]["cross_entropy"] > 0
    assert metrics["parameters"]["total"] == genome.n_parameters
    assert metrics["input_encoding"]["trained"] is True
    assert metrics["wall_time_s"] > 0 and len(metrics["history"]) == 3
    assert "test accuracy" in capsys.readouterr().out


def test_train_direct_with_sgd_and_a_fixed_shared_encoding(idx_folder, tmp_path):
    assert train(idx_folder, tmp_path / "direct", "--encoding", "direct", "--optimizer", "sgd") == 0
    assert isinstance(load_genome(tmp_path / "direct" / "genome.safetensors"), DirectGenome)
    assert not (tmp_path / "direct" / "input_encoding.safetensors").exists()
    metrics = json.loads((tmp_path / "direct" / "metrics.json").read_text())
    assert metrics["config"]["optimizer"] == "sgd" and metrics["parameters"]["total"] == 36 * 10 + 10 * 3 + 13

    assert train(idx_folder, tmp_path / "a") == 0
    shared = tmp_path / "a" / "input_encoding.safetensors"
    assert train(idx_folder, tmp_path / "b", "--input-encoding", str(shared), "--seed", "5") == 0
    b = load_genome(tmp_path / "b" / "genome.safetensors")
    assert b.input_encoding == load_input_encoding(shared)  # held fixed


def test_seeded_cli_runs_are_reproducible(idx_folder, tmp_path):
    for name in ("x", "y"):
        assert train(idx_folder, tmp_path / name, "--seed", "3") == 0
    x, y = (load_genome(tmp_path / n / "genome.safetensors") for n in ("x", "y"))
    assert x.content_hash == y.content_hash


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "no-such-dataset"], "unknown data set"),
        (["--arch", "784-10-3"], "784 inputs"),
        (["--arch", "36-10-5"], "5 output neurons"),
    ],
)
def test_train_bad_input_fails_before_training(idx_folder, tmp_path, capsys, args, message):
    out = tmp_path / "run"
    argv = ["train", "--data", str(idx_folder), "--arch", "36-10-3", "--steps", "5", "--no-progress", "-o", str(out)]
    for flag, value in zip(args[::2], args[1::2]):
        argv[argv.index(flag) + 1] = value
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_train_on_a_folder_without_the_needed_files(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("no data here")
    assert main(["train", "--data", str(empty), "--arch", "36-3", "-o", str(tmp_path / "run")]) == 2
    assert "no IDX" in capsys.readouterr().err


# --------------------------------------------------------------------- fit
def test_fit_reports_weight_error_and_accuracy_next_to_the_reference(idx_folder, tmp_path, capsys):
    assert train(idx_folder, tmp_path / "ref", "--encoding", "direct") == 0
    reference = tmp_path / "ref" / "genome.safetensors"
    assert main(["fit", str(reference), "--d", "4", "--data", str(idx_folder), "-o", str(tmp_path / "fit")]) == 0
    metrics = json.loads((tmp_path / "fit" / "metrics.json").read_text())
    assert metrics["method"] == "als" and metrics["d"] == 4 and len(metrics["per_layer_mse"]) == 2
    assert metrics["objective"] == pytest.approx(sum(metrics["per_layer_mse"]))
    assert 0 <= metrics["test"]["accuracy"] <= 1 and 0 <= metrics["reference_test"]["accuracy"] <= 1
    assert "reference" in capsys.readouterr().out
    fitted = load_genome(tmp_path / "fit" / "genome.safetensors")
    assert isinstance(fitted, EmbeddingGenome) and fitted.d == 4

    # A second fit on the first one's input encoding shares the basis.
    shared = tmp_path / "fit" / "input_encoding.safetensors"
    assert main(["fit", str(reference), "--input-encoding", str(shared), "--method", "als+adam", "--steps", "20",
                 "-o", str(tmp_path / "fit2")]) == 0
    second = load_genome(tmp_path / "fit2" / "genome.safetensors")
    assert second.input_encoding == fitted.input_encoding
    assert json.loads((tmp_path / "fit2" / "metrics.json").read_text())["input_encoding"]["trained"] is False


def test_fit_bad_input_fails_before_fitting(idx_folder, tmp_path, capsys):
    assert train(idx_folder, tmp_path / "emb") == 0
    embedding = tmp_path / "emb" / "genome.safetensors"
    assert main(["fit", str(embedding), "-o", str(tmp_path / "f1")]) == 2
    assert "must be a direct genome" in capsys.readouterr().err

    assert main(["init", "--arch", "784-20-3", "--encoding", "direct", "-o", str(tmp_path / "big.safetensors")]) == 0
    assert main(["fit", str(tmp_path / "big.safetensors"), "--input-encoding", str(tmp_path / "emb" / "input_encoding.safetensors"),
                 "-o", str(tmp_path / "f2")]) == 2
    assert "784 input neurons" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "big.safetensors"), "--data", str(idx_folder), "-o", str(tmp_path / "f3")]) == 2
    assert "784 inputs" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("f1", "f2", "f3"))


# ------------------------------------------------------------- real data
@pytest.mark.slow
def test_train_reaches_90_percent_on_the_builtin_mnist(tmp_path):
    assert main(["train", "--data", "mnist-small", "--arch", "784-400-10", "--d", "64", "--steps", "300",
                 "--holdout", "500", "--no-progress", "-o", str(tmp_path / "mnist")]) == 0
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    assert metrics["data"]["test"]["n_samples"] == 10_000 and metrics["data"]["holdout"]["n_samples"] == 500
    assert metrics["steps"] == 300 and metrics["test"]["accuracy"] > 0.90
    genome = load_genome(tmp_path / "mnist" / "genome.safetensors")
    assert isinstance(genome, EmbeddingGenome) and genome.widths == (400, 10) and genome.d == 64
